public import SignoffCrypto
public import SignoffLedger

/// An event to append: the store assigns its sequence number and time.
public struct EntryDraft: Hashable, Sendable {
    public let kind: String
    public let actor: String
    public let payload: [UInt8]

    public init(kind: String, actor: String, payload: [UInt8]) {
        self.kind = kind
        self.actor = actor
        self.payload = payload
    }
}

/// When the ledger signs a checkpoint: once `everyEntries` entries wait uncovered, or once the oldest of them is
/// `everySeconds` old, whichever comes first. Which checkpoints it keeps: one at every multiple of `milestoneEvery`
/// entries and the newest; a checkpoint that is neither is removed when a newer one is signed, so that the set of
/// stored checkpoints follows from the ledger's size and the removal of any of them is detected.
public struct CheckpointPolicy: Hashable, Sendable {
    public var everyEntries: UInt64
    public var everySeconds: Int64
    public var milestoneEvery: UInt64

    public init(everyEntries: UInt64 = 1000, everySeconds: Int64 = 10, milestoneEvery: UInt64 = LedgerVerifier.defaultMilestoneInterval) {
        precondition(
            everyEntries >= 1 && everySeconds >= 0 && milestoneEvery >= 1,
            "a checkpoint policy needs everyEntries ≥ 1, everySeconds ≥ 0 and milestoneEvery ≥ 1")
        self.everyEntries = everyEntries
        self.everySeconds = everySeconds
        self.milestoneEvery = milestoneEvery
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
}

/// Persistence of the ledger. SQLite is the embedded default; a PostgreSQL implementation conforms to the same
/// protocol so callers do not change.
public protocol LedgerStore: Sendable {
    /// The ledger's origin (checkpoint origin line and ledger key name).
    var origin: String { get }
    /// The ledger's public key.
    var verifierKey: NoteVerifierKey { get }

    /// Appends `drafts` in one durable transaction, in order, and signs a checkpoint in the same transaction
    /// when `policy` says one is due and a signing key is available.
    func append(_ drafts: [EntryDraft]) async throws -> [LedgerEntry]
    /// Signs a checkpoint of the current tree now, if it is not already checkpointed. Returns the newest checkpoint.
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
}
