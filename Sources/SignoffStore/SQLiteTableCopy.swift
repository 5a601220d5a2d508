internal import Foundation
internal import GRDB
public import SignoffService
public import SignoffLedger

/// The SQLite file's tables as raw rows, for `signoff migrate` (``StorageMigration``).
public struct SQLiteTableCopy: TableCopying {
    let pool: DatabasePool

    /// The tables of the file at `path`; with `creating`, a new file (refused if it exists) with the tables and no ledger.
    public static func open(path: String, creating: Bool) throws -> SQLiteTableCopy {
        let exists = FileManager.default.fileExists(atPath: path)
        if creating {
            guard !exists else { throw LedgerError(.storage, "\(path) already exists; a copy goes into a new file (nothing was changed)") }
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw LedgerError(.storage, "cannot create \(path); check the folder exists and is writable")
            }
        } else {
            guard exists else { throw LedgerError(.storage, "no ledger database at \(path)") }
        }
        return SQLiteTableCopy(pool: try SQLiteLedgerStore.openPool(path: path, configuration: .init()))
    }

    public func holdsNoLedger() async throws -> Bool {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger_meta") == 0 }
    }

    public func rows(of table: CopiedTable, after: [SQLValue]?, limit: Int) async throws -> [[SQLValue]] {
        try await pool.read { db in
            var sql = "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)"
            var arguments: [(any DatabaseValueConvertible)?] = []
            if let after, !table.key.isEmpty {
                sql += " WHERE (\(table.key.joined(separator: ", "))) > (\(table.key.map { _ in "?" }.joined(separator: ", ")))"
                arguments = after.map(Self.databaseValue)
            }
            if !table.key.isEmpty { sql += " ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(limit)" }
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                (0..<row.count).map { index -> SQLValue in
                    switch (row[index] as DatabaseValue).storage {
                    case .null: .null
                    case .int64(let value): .int(value)
                    case .double(let value): .int(Int64(value))
                    case .string(let value): .text(value)
                    case .blob(let data): .bytes([UInt8](data))
                    }
                }
            }
        }
    }

    public func insert(_ rows: [[SQLValue]], into table: CopiedTable) async throws {
        try await pool.write { db in
            let statement = try db.makeStatement(
                sql: "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES (\(table.columns.map { _ in "?" }.joined(separator: ", ")))")
            for row in rows { try statement.execute(arguments: StatementArguments(row.map(Self.databaseValue))) }
        }
    }

    static func databaseValue(_ value: SQLValue) -> (any DatabaseValueConvertible)? {
        switch value {
        case .int(let value): value
        case .text(let value): value
        case .bytes(let value): Data(value)
        case .null: nil
        }
    }
}
