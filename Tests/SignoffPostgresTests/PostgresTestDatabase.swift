import Foundation
import PostgresNIO
@testable import SignoffPostgres
import SignoffTestSupport

/// A database of its own on the test cluster (`scripts/with-postgres.sh`, which `make test` runs the suite beside):
/// made empty for one test, dropped after it. Without the cluster the PostgreSQL tests fail, naming what to run —
/// they never skip.
struct PostgresTestDatabase: Sendable {
    let url: PostgresURL
    private let admin: PostgresURL

    static var server: PostgresURL {
        get throws {
            guard let text = ProcessInfo.processInfo.environment["SIGNOFF_TEST_POSTGRES"], !text.isEmpty else {
                throw TestDatabaseError(
                    "SIGNOFF_TEST_POSTGRES is not set: the PostgreSQL tests need the test cluster; run them with `make test`, or `bash scripts/with-postgres.sh swift test`")
            }
            return try PostgresURL(parsing: text)
        }
    }

    /// A new, empty database.
    static func make() async throws -> PostgresTestDatabase {
        let admin = try server
        let name = "signoff_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let database = try await PGDatabase.connect(admin, threads: 1)
        defer { Task { await database.close() } }
        try await database.run { session in try session.execute("CREATE DATABASE \(name)") }
        return PostgresTestDatabase(url: admin.with(database: String(name)), admin: admin)
    }

    /// Drops the database (and ends its connections).
    func drop() async {
        guard let database = try? await PGDatabase.connect(admin, threads: 1) else { return }
        _ = try? await database.run { session in try session.execute("DROP DATABASE IF EXISTS \(url.database) WITH (FORCE)") }
        await database.close()
    }

    /// Runs SQL on the database behind the storage's back, as someone with access to it would.
    func execute(_ sql: String) async throws {
        let database = try await PGDatabase.connect(url, threads: 1)
        do { try await database.run { session in try session.execute(sql) } } catch {
            await database.close()
            throw error
        }
        await database.close()
    }

    /// The first column of each row of `sql`, as text.
    func texts(_ sql: String) async throws -> [String] {
        let database = try await PGDatabase.connect(url, threads: 1)
        defer { Task { await database.close() } }
        return try await database.run { session in try session.query(sql).rows.map { try $0.decode(String.self) } }
    }
}

struct TestDatabaseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
