internal import Foundation
internal import GRDB
public import SignoffCore
public import SignoffLedger
public import SignoffService
internal import Synchronization

/// The projection in the ledger's SQLite file (table `projection`: one JSON document per key), changed in the same
/// transaction as the ledger's appends.
public final class SQLiteProjectionStore: ProjectionStore {
    let ledger: SQLiteLedgerStore
    /// Recent states, newest last, each with the chain hash of the newest entry it includes. Readers whose snapshot
    /// is a commit or two behind the writer still find theirs, instead of decoding the whole projection again.
    private let cache = Mutex<[(chain: [UInt8], state: SignoffState)]>([])
    private static let cachedStates = 8
    /// Set once this process has seen the projection in the current format (``SignoffState/projectionFormat``).
    private let formatIsCurrent = Mutex(false)

    init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    public func commit<Result: Sendable>(
        now: Int64, _ body: @Sendable (inout SignoffState) throws -> ProjectionChange<Result>
    ) async throws -> (entries: [LedgerEntry], result: Result) {
        try await ledger.pool.write { db in
            try self.upgradeIfNeeded(db)
            var state = try self.loadState(db)
            let change = try body(&state)
            let entries = try self.ledger.append(change.drafts, in: db, now: now)
            for (draft, entry) in zip(change.drafts, entries) {
                if let request = draft.request {
                    try db.execute(sql: "INSERT INTO request_entry (request, sequence) VALUES (?, ?) ON CONFLICT DO NOTHING", arguments: [request, Int64(entry.sequence)])
                }
            }
            try Self.writeDocuments(change.touchedDocuments, of: state, in: db)
            try SQLiteWebhookStore.insert(change.outbox, in: db)
            if let last = entries.last {
                let committed = (chain: try Self.chainHash(db, sequence: last.sequence), state: state)
                db.afterNextTransaction { _ in
                    self.cache.withLock {
                        $0.append(committed)
                        if $0.count > Self.cachedStates { $0.removeFirst($0.count - Self.cachedStates) }
                    }
                } onRollback: { _ in self.cache.withLock { $0.removeAll() } }
            } else if !change.touchedDocuments.isEmpty {
                db.afterNextTransaction { _ in self.cache.withLock { $0.removeAll() } }
            }
            return (entries, change.result)
        }
    }

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
        guard try String.fetchOne(db, sql: "SELECT value FROM projection_meta WHERE key = 'request-entry-index'") == nil else { return }
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
    static func verifyIndexes(_ db: Database) throws -> LedgerVerificationFailure? {
        let meta = try Row.fetchAll(db, sql: "SELECT key, value FROM projection_meta ORDER BY key").map {
            "\(String.fromDatabaseValue($0[0]) ?? "?")=\(String.fromDatabaseValue($0[1]) ?? "?")"
        }
        let expectedMeta = ["format=\(SignoffState.projectionFormat)", "request-entry-index=1"]
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
            try self.hasCurrentFormat(db) ? self.loadState(db) : Self.replay(db)
        }
    }

    public func recentState() async throws -> SignoffState {
        if let cached = cache.withLock({ $0.last?.state }) { return cached }
        return try await state()
    }

    public func state(focusedOn request: String) async throws -> SignoffState {
        try await ledger.pool.read { db in
            guard try self.hasCurrentFormat(db) else { return try Self.replay(db) }
            let rows = try Row.fetchAll(
                db,
                // Four key ranges, each a search of the primary key (one WHERE with ORs made SQLite scan every row).
                sql: """
                    SELECT key, document FROM projection WHERE key < 'request/'
                    UNION ALL SELECT key, document FROM projection WHERE key >= 'request0' AND key < 'statement/'
                    UNION ALL SELECT key, document FROM projection WHERE key >= 'statement0'
                    UNION ALL SELECT key, document FROM projection WHERE key = ?
                    """, arguments: ["request/" + request])
            return try Self.state(fromProjection: rows)
        }
    }

    /// The state the projection rows (`key`, `document`) describe.
    private static func state(fromProjection rows: [Row]) throws -> SignoffState {
        let documents = Dictionary(uniqueKeysWithValues: rows.map { ($0[0] as String, $0[1] as String) })
        do {
            return try SignoffState(documents: documents)
        } catch {
            throw LedgerError(.storage, "the stored projection cannot be read (\(error)); run `signoff audit verify --db`")
        }
    }

    /// Writes the projection documents `keys` of `state` (deleting those it no longer has), in the caller's transaction.
    private static func writeDocuments(_ keys: Set<String>, of state: SignoffState, in db: Database) throws {
        for key in keys.sorted() {
            if let document = state.document(for: key) {
                try db.execute(
                    sql: "INSERT INTO projection (key, document) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET document = excluded.document",
                    arguments: [key, document])
            } else {
                try db.execute(sql: "DELETE FROM projection WHERE key = ?", arguments: [key])
            }
        }
    }

    private static func chainHash(_ db: Database, sequence: UInt64) throws -> [UInt8] {
        [UInt8](try Data.fetchOne(db, sql: "SELECT chain_hash FROM ledger_entry WHERE sequence = ?", arguments: [Int64(sequence)]) ?? Data())
    }

    /// The projection as stored, reusing the cached state when no other process has appended since.
    private func loadState(_ db: Database) throws -> SignoffState {
        let head = try Data.fetchOne(db, sql: "SELECT chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1").map { [UInt8]($0) } ?? []
        if let cached = cache.withLock({ $0.last { $0.chain == head } }) { return cached.state }
        return try Self.state(fromProjection: Row.fetchAll(db, sql: "SELECT key, document FROM projection"))
    }

    public func verifyProjection() async throws -> LedgerVerificationFailure? {
        try await ledger.pool.read { db in
            let state: SignoffState
            do { state = try Self.replay(db) } catch let failure as LedgerVerificationFailure { return failure }
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
            return try Self.verifyIndexes(db)
        }
    }

    // MARK: Projection format

    /// Whether the stored projection is of the current format.
    private func hasCurrentFormat(_ db: Database) throws -> Bool {
        if formatIsCurrent.withLock({ $0 }) { return true }
        let stored = try String.fetchOne(db, sql: "SELECT value FROM projection_meta WHERE key = 'format'")
        if stored == SignoffState.projectionFormat {
            formatIsCurrent.withLock { $0 = true }
            return true
        }
        return false
    }

    /// Inside a write transaction: a projection of another format (an earlier Signoff's, or none yet) is rebuilt from
    /// the ledger, the source of truth, before anything else is written.
    private func upgradeIfNeeded(_ db: Database) throws {
        guard try !hasCurrentFormat(db) else { return }
        let state = try Self.replay(db)
        try db.execute(sql: "DELETE FROM projection")
        for (key, document) in state.documents().sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "INSERT INTO projection (key, document) VALUES (?, ?)", arguments: [key, document])
        }
        try db.execute(
            sql: "INSERT INTO projection_meta (key, value) VALUES ('format', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [SignoffState.projectionFormat])
        // The request pages' index is built with the projection (a new database's first write included).
        try Self.indexRequestEntriesIfNeeded(db)
        cache.withLock { $0.removeAll() }
        db.afterNextTransaction { _ in self.formatIsCurrent.withLock { $0 = true } }
    }

    /// The state the whole ledger folds to, read in order; a failure names the entry.
    private static func replay(_ db: Database) throws -> SignoffState {
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
