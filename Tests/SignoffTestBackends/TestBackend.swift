public import Foundation
import Synchronization
import GRDB
import PostgresNIO
@testable public import SignoffPostgres
public import SignoffCrypto
public import SignoffLedger
public import SignoffService
import SignoffStore
import SignoffTestSupport

/// The storage backends the engine and server suites run on (issue 26): each test that takes a ``TestBackend``
/// argument runs once on an SQLite file and once on a PostgreSQL database of its own on the test cluster
/// (`scripts/with-postgres.sh`, which `make test` runs the suite beside). Without the cluster the PostgreSQL cases fail,
/// naming what to run; they never skip.
public enum TestBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }

    /// A new, empty storage on this backend.
    public func make(
        origin: String = "signoff.test/ledger", signingKey: Ed25519.SigningKey = Ed25519.SigningKey(), checkpointPolicy: CheckpointPolicy,
        clock: (@Sendable () -> Int64)? = nil
    ) async throws -> TestStorage {
        switch self {
        case .sqlite:
            let directory = try TestSupport.temporaryDirectory("signoff-backend")
            let path = directory.appendingPathComponent("s.sqlite").path
            var configuration = SQLiteLedgerStore.Configuration()
            configuration.checkpointPolicy = checkpointPolicy
            if let clock { configuration.clock = clock }
            let made = configuration
            let storage = try SQLiteStorage.create(path: path, origin: origin, signingKey: signingKey, configuration: configuration)
            return TestStorage(
                backend: self, storage: storage, directory: directory,
                another: { try SQLiteStorage.open(path: path, signingKey: signingKey, configuration: made) },
                execute: { sql in try await DatabaseQueue(path: path).write { db in try db.execute(sql: sql) } },
                count: { sql in try await DatabaseQueue(path: path).read { db in try Int.fetchOne(db, sql: sql) ?? 0 } },
                remove: { try? FileManager.default.removeItem(at: directory) })
        case .postgres:
            let directory = try TestSupport.temporaryDirectory("signoff-backend")
            let database = try await PostgresTestDatabase.make()
            var configuration = PostgresLedgerStore.Configuration()
            configuration.checkpointPolicy = checkpointPolicy
            configuration.clock = clock
            configuration.connections = 4
            let made = configuration
            let storage = try await PostgresStorage.create(url: database.url, origin: origin, signingKey: signingKey, configuration: configuration)
            let opened = OpenedStorages(storage)
            return TestStorage(
                backend: self, storage: storage, directory: directory,
                another: {
                    let another = try await PostgresStorage.open(url: database.url, signingKey: signingKey, configuration: made)
                    opened.add(another)
                    return another
                },
                execute: { sql in try await database.execute(sql) },
                count: { sql in try await database.integer(sql) },
                remove: {
                    for storage in opened.all { await storage.close() }
                    await database.drop()
                    try? FileManager.default.removeItem(at: directory)
                })
        }
    }
}

/// One storage under test, and what a test does behind its back.
public struct TestStorage: Sendable {
    public let backend: TestBackend
    public let storage: SignoffStorage
    /// A directory of the test's own (the SQLite file lives there; tests put other files beside it).
    public let directory: URL
    /// The same database opened again: another instance, with its own connections and caches, as a second
    /// `signoff serve` (or a CLI command beside the server) would.
    public let another: @Sendable () async throws -> SignoffStorage
    /// Runs SQL on the database behind the storage's back, as someone with access to it would.
    public let execute: @Sendable (String) async throws -> Void
    /// The integer the first column of the first row of `sql` holds.
    public let count: @Sendable (String) async throws -> Int
    /// Removes what the backend made (a file, a database), closing the storages it opened.
    public let remove: @Sendable () async -> Void

    /// Removes what the backend made without waiting (for `defer`, which cannot wait).
    public func removeSoon() {
        let remove = self.remove
        Task { await remove() }
    }
}

final class OpenedStorages: Sendable {
    private let storages: Mutex<[SignoffStorage]>
    init(_ first: SignoffStorage) { storages = Mutex([first]) }
    func add(_ storage: SignoffStorage) { storages.withLock { $0.append(storage) } }
    var all: [SignoffStorage] { storages.withLock { $0 } }
}

/// A database of its own on the test cluster: made empty for one test, dropped after it.
public struct PostgresTestDatabase: Sendable {
    public let url: PostgresURL
    private let admin: PostgresURL

    public static var server: PostgresURL {
        get throws {
            guard let text = ProcessInfo.processInfo.environment["SIGNOFF_TEST_POSTGRES"], !text.isEmpty else {
                throw TestSupportError(
                    "SIGNOFF_TEST_POSTGRES is not set: the PostgreSQL tests need the test cluster; run them with `make test`, or `bash scripts/with-postgres.sh swift test`")
            }
            return try PostgresURL(parsing: text)
        }
    }

    /// A new, empty database.
    public static func make() async throws -> PostgresTestDatabase {
        let admin = try server
        let name = "signoff_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let database = try await PGDatabase.connect(admin, threads: 1)
        do { try await database.run { session in try session.execute("CREATE DATABASE \(name)") } } catch {
            await database.close()
            throw error
        }
        await database.close()
        return PostgresTestDatabase(url: admin.with(database: String(name)), admin: admin)
    }

    /// Drops the database (and ends its connections).
    public func drop() async {
        guard let database = try? await PGDatabase.connect(admin, threads: 1) else { return }
        _ = try? await database.run { session in try session.execute("DROP DATABASE IF EXISTS \(url.database) WITH (FORCE)") }
        await database.close()
    }

    /// Runs SQL on the database behind the storage's back, as someone with access to it would.
    public func execute(_ sql: String) async throws {
        let database = try await PGDatabase.connect(url, threads: 1)
        do { try await database.run { session in try session.execute(sql) } } catch {
            await database.close()
            throw error
        }
        await database.close()
    }

    /// The first column of the first row of `sql`, an integer (0 when there is no row).
    public func integer(_ sql: String) async throws -> Int {
        let database = try await PGDatabase.connect(url, threads: 1)
        do {
            let value = try await database.run { session in try session.query(sql).rows.first.map { try $0.decode(Int64.self) } }
            await database.close()
            return Int(value ?? 0)
        } catch {
            await database.close()
            throw error
        }
    }

    /// The first column of each row of `sql`, as text.
    public func texts(_ sql: String) async throws -> [String] {
        let database = try await PGDatabase.connect(url, threads: 1)
        do {
            let texts = try await database.run { session in try session.query(sql).rows.map { try $0.decode(String.self) } }
            await database.close()
            return texts
        } catch {
            await database.close()
            throw error
        }
    }
}
