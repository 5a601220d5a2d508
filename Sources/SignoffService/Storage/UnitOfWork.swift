public import SignoffCore
public import SignoffCrypto
public import SignoffLedger

/// One unit of work: everything a command changes — its ledger entries, the projection documents they touch, the
/// signed statements it uses, its webhook messages, the tokens it issues or ends, an evidence document — commits in one
/// transaction, or none of it does. The SQLite backend runs `body` once under the database's single writer lock; the
/// PostgreSQL backend under its writers' advisory lock, and **again** if the transaction met a serialization failure
/// or a deadlock: `body` must therefore depend only on what it reads through the transaction (the engine is pure, so
/// deciding again on what was read again is safe) and do nothing outside it. It is escaping because a backend may run it
/// on a thread of its own (PostgreSQL's), but it is never called after `write` returns.
///
/// A new kind of server state (idempotency keys, OpenID state, SCIM tokens, notification de-duplication) joins the
/// unit of work by adding its reads and writes here, with their rows in the same database, so that it commits with the
/// ledger entry that justifies it.
public protocol UnitOfWork: Sendable {
    /// Runs `body` in one write transaction. With `proposed`, a time the caller read from the store's clock before the
    /// transaction (``SignoffService`` decides a round's commands ahead, while the round before it commits), the
    /// transaction's time is that one when it is not earlier than the newest entry's — entry times still never
    /// decrease — and otherwise as without it. A backend whose clock is not the caller's (PostgreSQL's instances
    /// share the database server's) ignores it and says so in ``takesProposedTimes``.
    func write<Result: Sendable>(at proposed: Int64?, _ body: @escaping @Sendable (any StorageTransaction) throws -> Result) async throws -> Result
    /// Whether `write(at:_:)` uses a proposed time: only then may commands be decided ahead of their transaction.
    var takesProposedTimes: Bool { get }
}

extension UnitOfWork {
    /// Runs `body` in one write transaction, at the store's clock read inside it.
    public func write<Result: Sendable>(_ body: @escaping @Sendable (any StorageTransaction) throws -> Result) async throws -> Result {
        try await write(at: nil, body)
    }
}

/// Which projection documents to read: the directory (every document that is not a request), and some or all requests.
public struct DocumentRead: Hashable, Sendable {
    public var directory: Bool
    public var requests: ReadSet.Requests

    public init(directory: Bool, requests: ReadSet.Requests) {
        self.directory = directory
        self.requests = requests
    }
}

extension DocumentRead {
    /// Those of `all` (every document, by key) that this read names: what a backend answers when it replays the ledger
    /// instead of reading a projection of an earlier format.
    public func select(from all: [String: String]) -> [String: String] {
        all.filter { key, _ in
            guard key.hasPrefix("request/") else { return directory }
            switch requests {
            case .none: return false
            case .all: return true
            case .some(let ids): return ids.contains(String(key.dropFirst("request/".count)))
            }
        }
    }
}

/// The reads and writes of one write transaction. Every method acts inside it; nothing is visible to others until it
/// commits.
public protocol StorageTransaction {
    /// The time of this transaction's entries: the store's clock read inside the transaction (after the writer lock
    /// is held) or the time proposed to ``UnitOfWork/write(at:_:)``, never earlier than the newest entry's time — entry
    /// times never decrease.
    var now: Int64 { get }
    /// Marks the head of the ledger: equal markers, equal ledgers and projections; a marker's first 8 bytes are the
    /// ledger's size, big-endian, so that markers compare (bytewise) as their ledgers grow. Caches of what was read are
    /// valid only while it holds, and a cache never goes back to an older marker.
    func headMarker() throws -> [UInt8]

    // MARK: Projection

    /// The projection documents `read` names, by key.
    func documents(_ read: DocumentRead) throws -> [String: String]
    /// One projection document, if it exists.
    func document(_ key: String) throws -> String?
    /// Writes projection documents (nil: delete).
    func writeDocuments(_ documents: [String: String?]) throws
    /// The directory's version: the sequence number of the newest entry whose event changed a directory document (a
    /// principal, group, workflow, project, freeze, delegation, webhook or the administrators' quorum — not the request
    /// counter, which every write reads afresh: ``SignoffState/changesDirectory(_:)``), -1 before any. Caches of the
    /// directory are valid while it holds, however many requests move meanwhile.
    func directoryVersion() throws -> Int64
    /// Records that the entry `sequence` (of this unit) changed the directory.
    func setDirectoryVersion(_ sequence: UInt64) throws
    /// Indexes ledger entries under the requests they are about (the request pages' index).
    func indexRequestEntries(_ rows: [(request: String, sequence: UInt64)]) throws

    // MARK: Signed statements (replay protection)

    /// Those of `digests` recorded as used and not yet forgotten.
    func usedStatements(among digests: Set<SHA256Digest>) throws -> Set<SHA256Digest>
    /// Records statements as used until `until` (the time after which they could no longer be fresh); a digest
    /// recorded before makes the transaction fail (a unique constraint), and rows past their time are forgotten.
    func recordStatements(_ digests: Set<SHA256Digest>, until: Int64) throws

    // MARK: Ledger

    /// Appends `drafts` in order at ``now``; call at most once per transaction.
    func append(_ drafts: [EntryDraft]) throws -> [LedgerEntry]

    // MARK: Webhooks, tokens, evidence

    func enqueue(_ messages: [OutboxMessage]) throws
    func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest) throws
    /// Revokes a token by its id; true if it was active.
    func revokeToken(id: String) throws -> Bool
    /// Revokes every active token of `principal` (only those obtained with the key `keyFingerprint`, when given).
    func revokeTokens(principal: String, keyFingerprint: String?) throws -> Int
    /// Stores an evidence document unless its project already has one with its digest; true if it was new.
    func putEvidence(_ document: EvidenceDocument) throws -> Bool

    // MARK: Idempotency keys

    /// The unexpired record of `key` for `principal` (at ``now``), if any.
    func idempotencyRecord(principal: String, key: String) throws -> IdempotencyRecord?
    /// Records a call's key and answer with its entries, forgetting records past their lifetime first; a record of the
    /// key that is still alive makes the transaction fail (check with ``idempotencyRecord(principal:key:)`` first).
    func insertIdempotencyRecord(_ record: IdempotencyRecord) throws

    // MARK: Connected directories

    /// One resource a directory provisioned, if it is kept.
    func directoryResource(directory: String, kind: DirectoryResource.Kind, id: String) throws -> DirectoryResource?
    /// Writes or deletes one resource.
    func writeDirectoryResource(_ write: DirectoryResourceWrite) throws
}

/// Where a test injects a failure inside the unit of work (``SignoffService/failureInjection``): after each step, the
/// transaction must roll back and leave nothing of the command.
public enum UnitOfWorkStep: String, Sendable, CaseIterable {
    /// The command's entries are appended.
    case appended
    /// Tokens the command ends or issues are changed.
    case tokensChanged
    /// Everything is written; the transaction is about to commit.
    case beforeCommit
}
