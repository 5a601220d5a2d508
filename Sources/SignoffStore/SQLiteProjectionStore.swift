internal import Foundation
internal import GRDB
public import SignoffCore
public import SignoffLedger
internal import SignoffCrypto
public import SignoffService
internal import Synchronization

/// The projection in the ledger's SQLite file (table `projection`: one JSON document per key), changed in the same
/// transaction as the ledger's appends.
public final class SQLiteProjectionStore: ProjectionStore {
    let ledger: SQLiteLedgerStore
    /// Set once this process has seen the projection in the current format (``SignoffState/projectionFormat``).
    private let formatIsCurrent = Mutex(false)

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
    static func requestEntries(_ db: Database) throws -> [(String, Int64)] {
        let entries = try Row.fetchCursor(db, sql: "SELECT sequence, kind, entry FROM ledger_entry ORDER BY sequence")
        var rows: [(String, Int64)] = []
        while let row = try entries.next() {
            let kind: String = row[1]
            guard Event.requestKinds.contains(kind), let bytes = Data.fromDatabaseValue(row[2]), let entry = try? LedgerEntry(decoding: [UInt8](bytes)),
                let request = (try? Event.decode(kind: entry.kind, payload: entry.payload))??.request
            else { continue }
            rows.append((request, row[0]))
        }
        return rows
    }

    /// The request pages' index and the projection's own metadata, against the ledger: `request_entry` holds exactly
    /// the entries of each request's life (a row deleted by hand would hide an entry from its request page and
    /// timeline), and `projection_meta` exactly its two rows with their values.
    static func verifyIndexes(_ db: Database, directoryVersion: Int64) throws -> LedgerVerificationFailure? {
        let meta = try Row.fetchAll(db, sql: "SELECT key, value FROM projection_meta ORDER BY key").map {
            "\(String.fromDatabaseValue($0[0]) ?? "?")=\(String.fromDatabaseValue($0[1]) ?? "?")"
        }
        let expectedMeta = (directoryVersion >= 0 ? ["directory-version=\(directoryVersion)"] : [])
            + ["format=\(SignoffState.projectionFormat)", "request-entry-index=1"]
        guard meta == expectedMeta else {
            return LedgerVerificationFailure(
                .projectionMismatch, "projection_meta holds \(meta.joined(separator: ", ").prefix(200)), not \(expectedMeta.joined(separator: ", ")): it was altered")
        }
        struct Indexed: Hashable { let request: String; let sequence: Int64 }
        var expected = Set(try requestEntries(db).map { Indexed(request: $0.0, sequence: $0.1) })
        for row in try Row.fetchAll(db, sql: "SELECT request, sequence FROM request_entry ORDER BY sequence, request") {
            guard let request = String.fromDatabaseValue(row[0]), let sequence = Int64.fromDatabaseValue(row[1]),
                expected.remove(Indexed(request: request, sequence: sequence)) != nil
            else {
                return LedgerVerificationFailure(
                    .projectionMismatch, "request_entry holds a row (\(row[0] as DatabaseValue), \(row[1] as DatabaseValue)) that is not an entry of that request's life")
            }
        }
        if let missing = expected.min(by: { $0.sequence < $1.sequence }) {
            return LedgerVerificationFailure(
                .projectionMismatch,
                "request_entry lacks entry \(missing.sequence) of \(missing.request): its request page and timeline would not show it")
        }
        return nil
    }

    public func state() async throws -> SignoffState {
        try await ledger.pool.read { db in
            // A projection of an earlier format is not read: the ledger is replayed (until a write rebuilds it).
            try self.hasCurrentFormat(db) ? Self.state(fromDocuments: Self.documents(DocumentRead(directory: true, requests: .all), db)) : Self.replay(db)
        }
    }

    public func read(requests: ReadSet.Requests, directoryUnlessVersion known: Int64?) async throws -> ProjectionRead {
        try await ledger.pool.read { db in
            let marker = try SQLiteTransaction.headMarker(db)
            guard try self.hasCurrentFormat(db) else {
                // A projection of an earlier format is not read: the ledger's replay stands in (until a write rebuilds it),
                // and no cache keeps it (version -2 is no stored version).
                let all = try Self.replay(db).documents()
                return ProjectionRead(
                    marker: marker, directoryVersion: -2, directory: Self.select(DocumentRead(directory: true, requests: .none), from: all),
                    requests: Self.select(DocumentRead(directory: false, requests: requests), from: all))
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
            guard try self.hasCurrentFormat(db) else { return try Self.replay(db) }
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

    /// Those of `all` (every document) that `read` names.
    static func select(_ read: DocumentRead, from all: [String: String]) -> [String: String] {
        all.filter { key, _ in
            guard key.hasPrefix("request/") else { return read.directory }
            switch read.requests {
            case .none: return false
            case .all: return true
            case .some(let ids): return ids.contains(String(key.dropFirst("request/".count)))
            }
        }
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
            let state: SignoffState
            var uses: [SHA256Digest: Int64] = [:]
            var directoryVersion: Int64 = -1
            do { state = try Self.replay(db, statementUses: &uses, directoryVersion: &directoryVersion) } catch let failure as LedgerVerificationFailure {
                return failure
            }
            guard try self.hasCurrentFormat(db) else {
                return LedgerVerificationFailure(
                    .projectionMismatch,
                    "the projection is not of format \(SignoffState.projectionFormat) (projection_meta); Signoff rebuilds it from the ledger at the next write, e.g. `signoff serve`")
            }
            let expected = state.documents()
            var stored: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, document FROM projection ORDER BY key") {
                let key = String.fromDatabaseValue(row[0]) ?? "\(row[0] as DatabaseValue)"
                guard let document = String.fromDatabaseValue(row[1]) else {
                    return LedgerVerificationFailure(.projectionMismatch, "projection document \(key) is not text")
                }
                stored[key] = document
            }
            for key in Set(expected.keys).union(stored.keys).sorted() where expected[key] != stored[key] {
                let what = stored[key] == nil ? "is missing" : expected[key] == nil ? "should not exist" : "differs from the ledger's replay"
                return LedgerVerificationFailure(.projectionMismatch, "projection document \(key) \(what)")
            }
            if let failure = try Self.verifyUsedStatements(uses, db) { return failure }
            return try Self.verifyIndexes(db, directoryVersion: directoryVersion)
        }
    }

    /// `used_statement` against the ledger: every row is a statement an entry used, kept exactly until that entry's
    /// time plus the replay window; every statement still within its window at the newest entry is there (a row
    /// deleted by hand would let the statement be used again).
    static func verifyUsedStatements(_ uses: [SHA256Digest: Int64], _ db: Database) throws -> LedgerVerificationFailure? {
        let window = DecisionStatement.replayWindowMilliseconds
        var present = Set<SHA256Digest>()
        for row in try Row.fetchAll(db, sql: "SELECT digest, until_ms FROM used_statement ORDER BY digest") {
            guard let data = Data.fromDatabaseValue(row[0]), let digest = try? SHA256Digest(bytes: [UInt8](data)), let until = Int64.fromDatabaseValue(row[1]),
                let time = uses[digest], until == time + window
            else {
                return LedgerVerificationFailure(
                    .projectionMismatch, "used_statement holds a row (\(row[0] as DatabaseValue), \(row[1] as DatabaseValue)) that no ledger entry's statement explains")
            }
            present.insert(digest)
        }
        let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1")) ?? 0
        if let missing = uses.filter({ $0.value + window >= newest && !present.contains($0.key) }).min(by: { $0.value < $1.value }) {
            return LedgerVerificationFailure(
                .projectionMismatch, "used_statement lacks \(missing.key), used at \(Timestamps.rfc3339(missing.value)): the statement could be used again")
        }
        return nil
    }

    // MARK: Projection format

    /// Whether the stored projection is of the current format.
    private func hasCurrentFormat(_ db: Database) throws -> Bool {
        if formatIsCurrent.withLock({ $0 }) { return true }
        let stored = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM projection_meta WHERE key = 'format'"))
        if stored == SignoffState.projectionFormat {
            formatIsCurrent.withLock { $0 = true }
            return true
        }
        return false
    }

    /// Inside a write transaction: a projection of another format (an earlier Signoff's, or none yet) is rebuilt from
    /// the ledger, the source of truth, before anything else is written.
    func upgradeIfNeeded(_ db: Database) throws {
        guard try !hasCurrentFormat(db) else { return }
        var uses: [SHA256Digest: Int64] = [:]
        var directoryVersion: Int64 = -1
        let state = try Self.replay(db, statementUses: &uses, directoryVersion: &directoryVersion)
        try db.execute(sql: "DELETE FROM projection")
        try db.execute(sql: "DELETE FROM projection_meta WHERE key = 'directory-version'")
        if directoryVersion >= 0 {
            try db.execute(sql: "INSERT INTO projection_meta (key, value) VALUES ('directory-version', ?)", arguments: [String(directoryVersion)])
        }
        // The statements that could still be fresh, remembered until they no longer could (``DecisionStatement/replayWindowMilliseconds``).
        try db.execute(sql: "DELETE FROM used_statement")
        let newest = try Int64.fetchOne(db, sql: "SELECT time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1") ?? 0
        for (digest, time) in uses where time + DecisionStatement.replayWindowMilliseconds >= newest {
            try db.execute(
                sql: "INSERT INTO used_statement (digest, until_ms) VALUES (?, ?)", arguments: [Data(digest.bytes), time + DecisionStatement.replayWindowMilliseconds])
        }
        for (key, document) in state.documents().sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "INSERT INTO projection (key, document) VALUES (?, ?)", arguments: [key, document])
        }
        try db.execute(
            sql: "INSERT INTO projection_meta (key, value) VALUES ('format', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [SignoffState.projectionFormat])
        // The request pages' index is built with the projection (a new database's first write included).
        try Self.indexRequestEntriesIfNeeded(db)
        db.afterNextTransaction { _ in self.formatIsCurrent.withLock { $0 = true } }
    }

    /// The state the whole ledger folds to, read in order; a failure names the entry.
    private static func replay(_ db: Database) throws -> SignoffState {
        var uses: [SHA256Digest: Int64] = [:]
        var directoryVersion: Int64 = -1
        return try replay(db, statementUses: &uses, directoryVersion: &directoryVersion)
    }

    /// The replay, when each signed statement was used (the time of the entry that used it), and the directory's version
    /// (the newest entry whose event changed a directory document).
    private static func replay(_ db: Database, statementUses uses: inout [SHA256Digest: Int64], directoryVersion: inout Int64) throws -> SignoffState {
        var state = SignoffState()
        let entries = try Row.fetchCursor(db, sql: "SELECT sequence, entry FROM ledger_entry ORDER BY sequence")
        while let row = try entries.next() {
            guard let stored = Int64.fromDatabaseValue(row[0]), let bytes = Data.fromDatabaseValue(row[1]) else {
                throw LedgerVerificationFailure(.entryMalformed, "a ledger_entry row holds a value of the wrong type")
            }
            let sequence = UInt64(bitPattern: stored)
            let entry: LedgerEntry
            do { entry = try LedgerEntry(decoding: [UInt8](bytes)) } catch {
                throw LedgerVerificationFailure(.entryMalformed, sequence: sequence, "entry \(sequence) cannot be decoded")
            }
            let event: Event?
            do { event = try Event.decode(kind: entry.kind, payload: entry.payload) } catch {
                throw LedgerVerificationFailure(.projectionMismatch, sequence: sequence, "entry \(sequence) (\(entry.kind)) holds an event that cannot be read")
            }
            guard let event else { continue }
            state.apply(event, actor: entry.actor, at: entry.timeMilliseconds)
            for digest in event.statementDigests { uses[digest] = entry.timeMilliseconds }
            if SignoffState.changesDirectory(event) { directoryVersion = Int64(sequence) }
            // The header names the request's project and environment (what an export's filter reads of an entry it does
            // not disclose); a round-1 entry (version 1) has no header to check.
            let scope = state.entryScope(of: event)
            if entry.version == LedgerEntry.formatVersion, (entry.project, entry.environment) != (scope.project, scope.environment) {
                throw LedgerVerificationFailure(
                    .projectionMismatch, sequence: sequence,
                    "entry \(sequence): its header names project \(entry.project.debugDescription) environment \(entry.environment.debugDescription), its event \(scope.project.debugDescription) \(scope.environment.debugDescription)")
            }
        }
        return state
    }
}
