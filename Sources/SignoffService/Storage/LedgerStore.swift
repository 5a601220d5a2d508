public import SignoffAudit
public import SignoffCrypto
public import SignoffLedger
public import struct Foundation.URL

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
/// the embedded implementation; a PostgreSQL one conforms to the same protocol so that no caller changes. When to
/// sign a checkpoint and which ones to keep is ``CheckpointPolicy``'s to decide; a store only persists it.
public protocol LedgerStore: Sendable {
    /// The ledger's origin (checkpoint origin line and ledger key name).
    var origin: String { get }
    /// The ledger's public key.
    var verifierKey: NoteVerifierKey { get }
    /// Whether this store holds the ledger's private key and so signs checkpoints.
    var signsCheckpoints: Bool { get }
    /// A secret for `purpose` derived from the ledger's private key (``Ed25519/SigningKey/derivedSecret(purpose:)``),
    /// when this store holds it: webhook signing secrets, which are therefore never stored.
    func derivedSecret(purpose: String) -> [UInt8]?
    /// The current time by the store's clock, in milliseconds since the Unix epoch.
    var now: Int64 { get }

    /// Appends `drafts` in one durable transaction, in order, and signs a checkpoint in the same transaction when
    /// the policy says one is due and the store holds the ledger key.
    func append(_ drafts: [EntryDraft]) async throws -> [LedgerEntry]
    /// Signs a checkpoint of the current tree now, if it is not already checkpointed, and brings the kept set of
    /// milestones up to date. Returns the newest checkpoint.
    @discardableResult
    func signCheckpoint() async throws -> SignedCheckpoint?

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

    /// Exports the entries matching `filter` up to the newest signed checkpoint into `directory` (new or empty), each
    /// with its inclusion proof, through ``AuditExportBuilder``. Streams: memory does not grow with the ledger. With
    /// `documents`, the stored evidence documents of the exported evidence too (`documents/<hex>`).
    func exportAudit(filter: AuditExportFilter, documents: Bool, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)?) async throws -> AuditReport
}
