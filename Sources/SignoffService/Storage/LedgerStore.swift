internal import SignoffAudit
public import SignoffCrypto
public import SignoffLedger


/// An event to append: the store assigns its sequence number and time.
public struct EntryDraft: Hashable, Sendable {
    public let kind: String
    /// The project and environment of the request the event is about (empty for administrative events): they go
    /// into the entry's header, which an audit export shows of the entries outside its filter.
    public let project: String
    public let environment: String
    public let actor: String
    public let payload: [UInt8]
    /// The request the event is about, if any: indexed beside the ledger (``ProjectionStore/entries(ofRequest:)``).
    public var request: String? = nil

    public init(kind: String, project: String = "", environment: String = "", actor: String, payload: [UInt8]) {
        self.kind = kind
        self.project = project
        self.environment = environment
        self.actor = actor
        self.payload = payload
    }
}

/// What a full verification found.
public struct VerificationReport: Sendable {
    public let entries: UInt64
    public let storedNodes: UInt64
    public let checkpoints: Int
    public let rootHash: SHA256Digest
    /// The first failure, or nil when everything verified.
    public let failure: LedgerVerificationFailure?

    public var isValid: Bool { failure == nil }

    public init(entries: UInt64, storedNodes: UInt64, checkpoints: Int, rootHash: SHA256Digest, failure: LedgerVerificationFailure?) {
        self.entries = entries
        self.storedNodes = storedNodes
        self.checkpoints = checkpoints
        self.rootHash = rootHash
        self.failure = failure
    }
}

/// Persistence of the ledger: appends, reads, proofs, checkpoints and full verification. SQLite (`SignoffStore`) is
/// the embedded implementation; a PostgreSQL one conforms to the same protocol so that no caller changes. A store
/// never holds the ledger's private key: the ``LogPublisher`` signs checkpoints (``CheckpointPolicy`` says when and
/// which to keep) with the ``Signer``, and the store persists them.
public protocol LedgerStore: Sendable {
    /// The ledger's origin (checkpoint origin line and ledger key name).
    var origin: String { get }
    /// The ledger's public key.
    var verifierKey: NoteVerifierKey { get }
    /// The current time by the store's clock, in milliseconds since the Unix epoch.
    var now: Int64 { get }

    /// Appends `drafts` in one durable transaction, in order (a unit of work holding only entries).
    func append(_ drafts: [EntryDraft]) async throws -> [LedgerEntry]
    /// Appends the drafts `drafting` gives, in one durable transaction: called inside it, once it holds the writers'
    /// lock (and again, giving the same drafts, if the transaction is retried), so that a group commit takes the
    /// drafts that arrived while it waited (``GroupCommit``).
    func append(drafting: @escaping @Sendable () -> [EntryDraft]) async throws -> [LedgerEntry]

    func size() async throws -> UInt64
    func entry(at sequence: UInt64) async throws -> LedgerEntry
    func rootHash(size: UInt64) async throws -> SHA256Digest
    func inclusionProof(index: UInt64, size: UInt64) async throws -> [SHA256Digest]
    func consistencyProof(from oldSize: UInt64, to newSize: UInt64) async throws -> [SHA256Digest]
    func latestCheckpoint() async throws -> SignedCheckpoint?

    /// Re-reads everything and recomputes every hash, streaming. `trustedKey` is the ledger key from a source
    /// the attacker does not control (a key file), not the one stored in the database.
    func verifyAll(trustedKey: NoteVerifierKey, allowUncoveredTail: Bool, progress: (@Sendable (UInt64, UInt64) -> Void)?) async throws
        -> VerificationReport

    /// Up to `limit` entries from sequence `start` on, in order (a page: callers stream the ledger page by page).
    func entries(from start: UInt64, limit: Int) async throws -> [LedgerEntry]

    // MARK: Checkpoints (signed by the ``LogPublisher``; stored here)

    /// The tree sizes of the stored checkpoints (the newest and the milestones kept), ascending.
    func checkpointSizes() async throws -> [UInt64]
    /// Stores signed checkpoints of this ledger in one transaction: a milestone (a size divisible by `milestoneEvery`)
    /// when absent; any other only when it is larger than the newest stored (otherwise another publisher was first, and
    /// it is dropped). Then deletes every stored checkpoint that is neither the newest nor a milestone. Each must verify
    /// under the ledger key and hold the stored tree's root at its size, or nothing is stored.
    func storeCheckpoints(_ checkpoints: [SignedCheckpoint], milestoneEvery: UInt64) async throws
    /// Adds witnesses' cosignature lines (C2SP tlog-cosignature, verified by the caller) to the stored checkpoint of
    /// tree size `size`: its text and the ledger's signature stay as they are, and a line already there is kept once.
    /// False when no checkpoint of that size is stored (a newer one replaced it meanwhile).
    func addCosignatures(_ lines: [SignedNote.Signature], size: UInt64) async throws -> Bool
    /// The hashes of `count` consecutive complete subtrees at tree level `level` (of `2^level` leaves each), from
    /// subtree `index` on: level 0 is the leaf hashes. For C2SP tlog-tiles, whose level-L tile holds level `8L`'s.
    func subtreeHashes(level: Int, from index: UInt64, count: Int) async throws -> [SHA256Digest]
}

/// A ledger store whose appends run synchronously on a writer thread of its own (SQLite: GRDB's writer queue, one per
/// database). ``LedgerWriter`` runs its group-commit rounds on that thread, one after another, and answers each round's
/// callers from there as it commits: no hop to the writer's thread and back, and no task, per round.
public protocol SynchronousLedgerAppends: LedgerStore {
    /// Calls `body` on the writer's thread, after the writes queued there before it, with `append`: each call appends its
    /// drafts in one durable transaction, in order, and returns their entries (nothing of a call that throws is kept).
    /// `append` is valid only during `body`; `body` must not wait for the store's other writes (they wait behind it).
    func onWriterThread(_ body: @escaping @Sendable (_ append: ([EntryDraft]) throws -> [LedgerEntry]) -> Void)
}

extension LedgerStore {
    /// Draws the drafts first: for a store whose writers never wait for another instance.
    public func append(drafting: @escaping @Sendable () -> [EntryDraft]) async throws -> [LedgerEntry] { try await append(drafting()) }
}
