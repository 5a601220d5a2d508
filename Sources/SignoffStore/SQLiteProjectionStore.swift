internal import Foundation
internal import GRDB
public import SignoffCore
public import SignoffLedger
internal import SignoffCrypto
public import SignoffService

/// The projection in the ledger's SQLite file (table `projection`: one JSON document per key), changed in the same
/// transaction as the ledger's appends.
public final class SQLiteProjectionStore: ProjectionStore {
    let ledger: SQLiteLedgerStore
    init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    public func prepare() async throws {
        try await ledger.pool.write { db in
            try self.upgradeIfNeeded(db)
            try Self.indexRequestEntriesIfNeeded(db)
        }
    }

    public func entries(ofRequest id: String) async throws -> [UInt64] {
        try await ledger.pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT sequence FROM request_entry WHERE request = ? ORDER BY sequence", arguments: [id]).map { UInt64($0) }
        }
    }

    /// Fills `request_entry` for the entries appended before it existed (once: `projection_meta` remembers).
    private static func indexRequestEntriesIfNeeded(_ db: Database) throws {
        guard try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM projection_meta WHERE key = 'request-entry-index'")) == nil else { return }
        for (request, sequence) in try requestEntries(db) {
            try db.execute(sql: "INSERT INTO request_entry (request, sequence) VALUES (?, ?) ON CONFLICT DO NOTHING", arguments: [request, sequence])
        }
        try db.execute(sql: "INSERT INTO projection_meta (key, value) VALUES ('request-entry-index', '1') ON CONFLICT (key) DO NOTHING")
    }

    /// Every entry of a request's life, as (request, sequence): what `request_entry` must hold, read from the ledger.
    static func requestEntries(_ db: Database) throws -> [(request: String, sequence: Int64)] {
        let entries = try Row.fetchCursor(db, sql: "SELECT sequence, kind, entry FROM ledger_entry ORDER BY sequence")
        var rows: [(request: String, sequence: Int64)] = []
        while let row = try entries.next() {
            guard let request = ProjectionVerification.request(kind: String.fromDatabaseValue(row[1]), entry: Data.fromDatabaseValue(row[2]).map { [UInt8]($0) }),
                let sequence = Int64.fromDatabaseValue(row[0])
            else { continue }
            rows.append((request, sequence))
        }
        return rows
    }

    /// The request pages' index and the projection's own metadata, against the ledger (``ProjectionVerification/indexes``).
    static func verifyIndexes(_ db: Database, directoryVersion: Int64) throws -> LedgerVerificationFailure? {
        let meta = try Row.fetchAll(db, sql: "SELECT key, value FROM projection_meta ORDER BY key").map {
            "\(String.fromDatabaseValue($0[0]) ?? "?")=\(String.fromDatabaseValue($0[1]) ?? "?")"
        }
        let index = try Row.fetchAll(db, sql: "SELECT request, sequence FROM request_entry ORDER BY sequence, request").map {
            ProjectionVerification.IndexRow(
                request: String.fromDatabaseValue($0[0]), sequence: Int64.fromDatabaseValue($0[1]), shown: "(\($0[0] as DatabaseValue), \($0[1] as DatabaseValue))")
        }
        return ProjectionVerification.indexes(meta: meta, directoryVersion: directoryVersion, index: index, requestEntries: try requestEntries(db))
    }

    public func headMarker() async throws -> [UInt8] {
        try await ledger.pool.read { db in try SQLiteTransaction.headMarker(db) }
    }

    public func state() async throws -> SignoffState {
        try await ledger.pool.read { db in
            // A projection of an earlier format is not read: the ledger is replayed (until a write rebuilds it).
            try self.hasCurrentFormat(db) ? Self.state(fromDocuments: Self.documents(DocumentRead(directory: true, requests: .all), db)) : Self.replay(db).state
        }
    }

    public func read(requests: ReadSet.Requests, directoryUnlessVersion known: Int64?) async throws -> ProjectionRead {
        try await ledger.pool.read { db in
            let marker = try SQLiteTransaction.headMarker(db)
            guard try self.hasCurrentFormat(db) else {
                // A projection of an earlier format is not read: the ledger's replay stands in (until a write rebuilds it),
                // and no cache keeps it (version -2 is no stored version).
                let all = try Self.replay(db).state.documents()
                return ProjectionRead(
                    marker: marker, directoryVersion: -2, directory: DocumentRead(directory: true, requests: .none).select(from: all),
                    requests: DocumentRead(directory: false, requests: requests).select(from: all))
            }
            let version = try Self.directoryVersion(db)
            return ProjectionRead(
                marker: marker, directoryVersion: version,
                directory: known == version ? nil : try Self.documents(DocumentRead(directory: true, requests: .none), db),
                requests: try Self.documents(DocumentRead(directory: false, requests: requests), db))
        }
    }

    /// `projection_meta`'s `directory-version`: -1 when absent (no entry changed the directory yet).
    static func directoryVersion(_ db: Database) throws -> Int64 {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM projection_meta WHERE key = 'directory-version'")).flatMap { Int64($0) } ?? -1
    }

    public func state(focusedOn request: String) async throws -> SignoffState {
        try await ledger.pool.read { db in
            guard try self.hasCurrentFormat(db) else { return try Self.replay(db).state }
            return try Self.state(fromDocuments: Self.documents(DocumentRead(directory: true, requests: .some([request])), db))
        }
    }

    /// The documents `read` names, each range a search of the primary key (one WHERE with ORs made SQLite scan every row).
    static func documents(_ read: DocumentRead, _ db: Database) throws -> [String: String] {
        var documents: [String: String] = [:]
        func add(_ statement: Statement, _ arguments: StatementArguments = []) throws {
            let rows = try Row.fetchCursor(statement, arguments: arguments)
            while let row = try rows.next() { documents[row[0]] = row[1] }
        }
        if read.directory {
            try add(db.cachedStatement(sql: "SELECT key, document FROM projection WHERE key < 'request/' UNION ALL SELECT key, document FROM projection WHERE key >= 'request0'"))
        }
        switch read.requests {
        case .none: break
        case .all: try add(db.cachedStatement(sql: "SELECT key, document FROM projection WHERE key >= 'request/' AND key < 'request0'"))
        case .some(let ids):
            let statement = try db.cachedStatement(sql: "SELECT key, document FROM projection WHERE key = ?")
            for id in ids.sorted() { try add(statement, ["request/" + id]) }
        }
        return documents
    }

    /// The state the projection's documents describe.
    private static func state(fromDocuments documents: [String: String]) throws -> SignoffState {
        do {
            return try SignoffState(documents: documents)
        } catch {
            throw LedgerError(.storage, "the stored projection cannot be read (\(error)); run `signoff audit verify --db`")
        }
    }

    public func verifyProjection() async throws -> LedgerVerificationFailure? {
        try await ledger.pool.read { db in
            let replay: ProjectionVerification.Replay
            do { replay = try Self.replay(db) } catch let failure as LedgerVerificationFailure { return failure }
            guard try self.hasCurrentFormat(db) else {
                return LedgerVerificationFailure(
                    .projectionMismatch,
                    "the projection is not of format \(SignoffState.projectionFormat) (projection_meta); Signoff rebuilds it from the ledger at the next write, e.g. `signoff serve`")
            }
            var stored: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, document FROM projection ORDER BY key") {
                let key = String.fromDatabaseValue(row[0]) ?? "\(row[0] as DatabaseValue)"
                guard let document = String.fromDatabaseValue(row[1]) else {
                    return LedgerVerificationFailure(.projectionMismatch, "projection document \(key) is not text")
                }
                stored[key] = document
            }
            if let failure = ProjectionVerification.documents(expected: replay.state.documents(), stored: stored) { return failure }
            let used = try Row.fetchAll(db, sql: "SELECT digest, until_ms FROM used_statement ORDER BY digest").map {
                ProjectionVerification.UsedStatementRow(
                    digest: Data.fromDatabaseValue($0[0]).map { [UInt8]($0) }, until: Int64.fromDatabaseValue($0[1]),
                    shown: "(\($0[0] as DatabaseValue), \($0[1] as DatabaseValue))")
            }
            let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1")) ?? 0
            if let failure = ProjectionVerification.usedStatements(used, uses: replay.statementUses, newestTime: newest) { return failure }
            return try Self.verifyIndexes(db, directoryVersion: replay.directoryVersion)
        }
    }

    // MARK: Projection format

    /// Whether the stored projection is of the current format; throws for a later version's (``ProjectionFormat``). Read
    /// at every transaction, not remembered: another process — a later Signoff among them — may write the file meanwhile.
    private func hasCurrentFormat(_ db: Database) throws -> Bool {
        try ProjectionFormat(stored: String.fetchOne(db.cachedStatement(sql: "SELECT value FROM projection_meta WHERE key = 'format'"))).isCurrent()
    }

    /// Inside a write transaction: a projection of another format (an earlier Signoff's, or none yet) is rebuilt from
    /// the ledger, the source of truth, before anything else is written.
    func upgradeIfNeeded(_ db: Database) throws {
        guard try !hasCurrentFormat(db) else { return }
        let replay = try Self.replay(db)
        let state = replay.state
        try db.execute(sql: "DELETE FROM projection")
        try db.execute(sql: "DELETE FROM projection_meta WHERE key = 'directory-version'")
        if replay.directoryVersion >= 0 {
            try db.execute(sql: "INSERT INTO projection_meta (key, value) VALUES ('directory-version', ?)", arguments: [String(replay.directoryVersion)])
        }
        // The statements that could still be fresh, remembered until they no longer could (``DecisionStatement/replayWindowMilliseconds``).
        try db.execute(sql: "DELETE FROM used_statement")
        let newest = try Int64.fetchOne(db, sql: "SELECT time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1") ?? 0
        for (digest, until) in replay.usedStatementsToKeep(newestTime: newest) {
            try db.execute(sql: "INSERT INTO used_statement (digest, until_ms) VALUES (?, ?)", arguments: [Data(digest.bytes), until])
        }
        for (key, document) in state.documents().sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "INSERT INTO projection (key, document) VALUES (?, ?)", arguments: [key, document])
        }
        try db.execute(
            sql: "INSERT INTO projection_meta (key, value) VALUES ('format', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [SignoffState.projectionFormat])
        // The request pages' index is built with the projection (a new database's first write included).
        try Self.indexRequestEntriesIfNeeded(db)
    }

    /// The whole ledger replayed in order (``ProjectionVerification/Replay``); a failure names the entry.
    private static func replay(_ db: Database) throws -> ProjectionVerification.Replay {
        var replay = ProjectionVerification.Replay()
        let entries = try Row.fetchCursor(db, sql: "SELECT sequence, entry FROM ledger_entry ORDER BY sequence")
        while let row = try entries.next() {
            try replay.apply(sequence: Int64.fromDatabaseValue(row[0]), entry: Data.fromDatabaseValue(row[1]).map { [UInt8]($0) })
        }
        return replay
    }
}
