internal import NIOCore
internal import PostgresNIO
public import SignoffService
public import SignoffLedger

/// The PostgreSQL database's tables as raw rows, for `signoff migrate` (``StorageMigration``).
public struct PostgresTableCopy: TableCopying {
    let database: PGDatabase

    /// The tables of the database `url` names, created (the migrations) if they are not there yet.
    public static func open(url: PostgresURL) async throws -> PostgresTableCopy {
        let database = try await PGDatabase.connect(url, threads: 2)
        do { try await PostgresStorage.migrate(database) } catch {
            await database.close()
            throw error
        }
        return PostgresTableCopy(database: database)
    }

    public func close() async { await database.close() }

    public func holdsNoLedger() async throws -> Bool {
        try await database.run { session in try session.scalar(Int64.self, "SELECT COUNT(*) FROM ledger_meta") == 0 }
    }

    public func rows(of table: CopiedTable, after: [SQLValue]?, limit: Int) async throws -> [[SQLValue]] {
        try await database.run { session in
            var sql = "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)"
            var binds: [PGBind] = []
            if let after, !table.key.isEmpty {
                sql += " WHERE (\(table.key.joined(separator: ", "))) > (\(table.key.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))"
                binds = after.map(Self.bind)
            }
            if !table.key.isEmpty { sql += " ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(limit)" }
            return try session.query(sql, binds).rows.map { row in
                try row.map { cell -> SQLValue in
                    guard cell.bytes != nil else { return .null }
                    switch cell.dataType {
                    case .int2: return .int(Int64(try cell.decode(Int16.self)))
                    case .int4: return .int(Int64(try cell.decode(Int32.self)))
                    case .int8: return .int(try cell.decode(Int64.self))
                    case .bytea: return .bytes(Array(buffer: try cell.decode(ByteBuffer.self)))
                    default: return .text(try cell.decode(String.self))
                    }
                }
            }
        }
    }

    public func insert(_ rows: [[SQLValue]], into table: CopiedTable) async throws {
        try await database.transaction { session in
            try PostgresLedgerStore.insert(into: "\(table.name) (\(table.columns.joined(separator: ", ")))", rows: rows.map { $0.map(Self.bind) }, session)
        }
    }

    static func bind(_ value: SQLValue) -> PGBind {
        switch value {
        case .int(let value): .int(value)
        case .text(let value): .text(value)
        case .bytes(let value): .bytes(value)
        case .null: .null
        }
    }
}
