internal import Foundation
internal import GRDB
public import SignoffCore
public import SignoffCrypto
public import SignoffLedger
internal import Synchronization

/// The engine on SQLite: every command's events are appended to the ledger and folded into the projection in
/// the same transaction. Concurrent commands are group-committed: each is evaluated against the state left by
/// the ones before it in the batch.
public final class SignoffDatabase: Sendable {
    public let ledger: SQLiteLedgerStore
    private let batcher: CommandBatcher
    /// Recent states, newest last, each with the chain hash of the newest entry it includes. Readers whose snapshot
    /// is a commit or two behind the writer still find theirs, instead of decoding the whole projection again.
    private let cache = Mutex<[(chain: [UInt8], state: SignoffState)]>([])
    private static let cachedStates = 8

    public init(ledger: SQLiteLedgerStore) {
        self.ledger = ledger
        self.batcher = CommandBatcher()
    }

    /// The outcome of one command: its ledger entries, or the engine's refusal.
    public typealias Outcome = Result<[LedgerEntry], Refusal>

    /// Runs `command` as `actor` now; returns once its events are durable (or it was refused).
    public func execute(_ command: Command, as actor: String) async throws -> Outcome {
        // Signature arithmetic happens here, concurrently, not inside the single writer. A slightly older state is
        // good enough: the engine checks again, inside the writer, whatever this did not verify.
        let recent: SignoffState
        if let cached = cache.withLock({ $0.last?.state }) { recent = cached } else { recent = try await state() }
        let verified = Engine.preverify(command, state: recent, actor: actor)
        return try await batcher.submit(command, actor: actor, verified: verified, database: self)
    }

    /// The current state (users, projects, requests, …).
    public func state() async throws -> SignoffState {
        try await ledger.pool.read { db in try self.loadState(db) }
    }

    /// The current state as far as one request is concerned: everything but the other requests and the used
    /// statement digests, which are most of a large projection. What `gate`, `status` and `explain` need, read in
    /// time that does not grow with the number of requests.
    public func state(focusedOn request: String) async throws -> SignoffState {
        try await ledger.pool.read { db in
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

    /// The current time by the store's clock.
    public var now: Int64 { ledger.now }

    fileprivate func executeBatch(_ items: [(command: Command, actor: String, verified: Set<VerifiedSignature>)]) async throws -> [Outcome] {
        let now = ledger.now
        return try await ledger.pool.write { db in
            var state = try self.loadState(db)
            var outcomes: [Result<[Event], Refusal>] = []
            var drafts: [EntryDraft] = []
            var touched = Set<String>()
            for item in items {
                let result = Engine.execute(item.command, on: state, actor: item.actor, now: now, verified: item.verified)
                if case .success(let events) = result {
                    for event in events {
                        state.apply(event, actor: item.actor, at: now)
                        drafts.append(EntryDraft(kind: event.kind, actor: item.actor, payload: event.payload))
                        touched.formUnion(SignoffState.documentKeys(touchedBy: event))
                    }
                }
                outcomes.append(result)
            }
            let entries = try self.ledger.append(drafts, in: db, now: now)
            try Self.writeDocuments(touched, of: state, in: db)
            if let last = entries.last {
                let committed = (chain: try self.chainHash(db, sequence: last.sequence), state: state)
                db.afterNextTransaction { _ in
                    self.cache.withLock {
                        $0.append(committed)
                        if $0.count > Self.cachedStates { $0.removeFirst($0.count - Self.cachedStates) }
                    }
                } onRollback: { _ in self.cache.withLock { $0.removeAll() } }
            }
            // Hand each command the entries of its own events.
            var cursor = 0
            return outcomes.map { outcome in
                outcome.map { events in
                    defer { cursor += events.count }
                    return Array(entries[cursor..<cursor + events.count])
                }
            }
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

    private func chainHash(_ db: Database, sequence: UInt64) throws -> [UInt8] {
        [UInt8](try Data.fetchOne(db, sql: "SELECT chain_hash FROM ledger_entry WHERE sequence = ?", arguments: [Int64(sequence)]) ?? Data())
    }

    /// The projection as stored, reusing the cached state when no other process has appended since.
    private func loadState(_ db: Database) throws -> SignoffState {
        let head = try Data.fetchOne(db, sql: "SELECT chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1").map { [UInt8]($0) } ?? []
        if let cached = cache.withLock({ $0.last { $0.chain == head } }) { return cached.state }
        return try Self.state(fromProjection: Row.fetchAll(db, sql: "SELECT key, document FROM projection"))
    }

    // MARK: Verification

    /// Replays the whole ledger from empty and compares the result with the stored projection, document by document.
    public func verifyProjection() async throws -> LedgerVerificationFailure? {
        try await ledger.pool.read { db in
            var state = SignoffState()
            let entries = try Row.fetchCursor(db, sql: "SELECT sequence, kind, actor, time_ms, entry FROM ledger_entry ORDER BY sequence")
            while let row = try entries.next() {
                guard let stored = Int64.fromDatabaseValue(row[0]), let bytes = Data.fromDatabaseValue(row[4]) else {
                    return LedgerVerificationFailure(.entryMalformed, "a ledger_entry row holds a value of the wrong type")
                }
                let sequence = UInt64(bitPattern: stored)
                let entry: LedgerEntry
                do { entry = try LedgerEntry(decoding: [UInt8](bytes)) } catch {
                    return LedgerVerificationFailure(.entryMalformed, sequence: sequence, "entry \(sequence) cannot be decoded")
                }
                let event: Event?
                do { event = try Event.decode(kind: entry.kind, payload: entry.payload) } catch {
                    return LedgerVerificationFailure(.projectionMismatch, sequence: sequence, "entry \(sequence) (\(entry.kind)) holds an event that cannot be read")
                }
                if let event { state.apply(event, actor: entry.actor, at: entry.timeMilliseconds) }
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
            return nil
        }
    }
}

/// Gathers concurrent commands into one transaction per round (group commit).
actor CommandBatcher {
    private var pending: [(command: Command, actor: String, verified: Set<VerifiedSignature>, continuation: CheckedContinuation<SignoffDatabase.Outcome, any Error>)] = []
    private var flushing = false
    private weak var database: SignoffDatabase?

    func submit(_ command: Command, actor: String, verified: Set<VerifiedSignature>, database: SignoffDatabase) async throws -> SignoffDatabase.Outcome {
        self.database = database
        return try await withCheckedThrowingContinuation { continuation in
            pending.append((command, actor, verified, continuation))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(1024))
            pending.removeFirst(batch.count)
            guard let database else {
                for item in batch { item.continuation.resume(throwing: LedgerError(.storage, "the database was closed")) }
                continue
            }
            do {
                let outcomes = try await database.executeBatch(batch.map { ($0.command, $0.actor, $0.verified) })
                for (item, outcome) in zip(batch, outcomes) { item.continuation.resume(returning: outcome) }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}

extension SignoffDatabase {
    /// Appends events that ``Engine`` has already produced, command by command, on an in-memory copy of this
    /// database's state (`state` is that copy after the events), and updates the projection as ``execute(_:as:)``
    /// does; every event was folded at time `now`, which becomes the entries' time. It authorizes nothing itself, so it
    /// is for tools that build large ledgers (the benchmark), not the API.
    @_spi(Bench) public func appendDecided(_ events: [(event: Event, actor: String)], state: SignoffState, at now: Int64) async throws {
        try await ledger.pool.write { db in
            _ = try self.ledger.append(events.map { EntryDraft(kind: $0.event.kind, actor: $0.actor, payload: $0.event.payload) }, in: db, now: now)
            var touched = Set<String>()
            for (event, _) in events { touched.formUnion(SignoffState.documentKeys(touchedBy: event)) }
            try Self.writeDocuments(touched, of: state, in: db)
        }
        cache.withLock { $0.removeAll() }
    }
}
