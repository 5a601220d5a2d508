public import SignoffLedger

/// Everything Signoff keeps, behind the protocols its callers need: the unit of work that every command's changes go
/// through, and the query sides of the ledger, the projection, the login challenges and tokens, the webhook outbox and
/// the evidence documents. One value per backend (SQLite today, PostgreSQL next); callers see only this. The ledger's
/// private key is not storage: `signer` holds it, when this process may sign (a reader's storage has none).
public struct SignoffStorage: Sendable {
    public let unitOfWork: any UnitOfWork
    public let ledger: any LedgerStore
    public let projection: any ProjectionStore
    public let auth: any AuthStore
    public let webhooks: any WebhookStore
    public let evidence: any EvidenceStore
    /// Leases on the work done once and the newest full verification, shared by the instances on the database.
    public let coordination: any CoordinationStore
    public let signer: (any Signer)?
    /// When checkpoints are signed and which are kept.
    public let checkpointPolicy: CheckpointPolicy
    /// Ends what the backend holds open (PostgreSQL's connections and threads); nothing for SQLite. Call once, when
    /// nothing uses the storage any more.
    public let close: @Sendable () async -> Void
    /// Other processes' commits, when the backend is shared by several (``ChangeFeed``); nil for SQLite.
    public let changeFeed: (any ChangeFeed)?

    public init(
        unitOfWork: any UnitOfWork, ledger: any LedgerStore, projection: any ProjectionStore, auth: any AuthStore, webhooks: any WebhookStore,
        evidence: any EvidenceStore, coordination: any CoordinationStore, signer: (any Signer)?, checkpointPolicy: CheckpointPolicy, close: @escaping @Sendable () async -> Void = {},
        changeFeed: (any ChangeFeed)? = nil
    ) {
        self.close = close
        self.changeFeed = changeFeed
        self.unitOfWork = unitOfWork
        self.evidence = evidence
        self.coordination = coordination
        self.ledger = ledger
        self.projection = projection
        self.auth = auth
        self.webhooks = webhooks
        self.signer = signer
        self.checkpointPolicy = checkpointPolicy
    }
}
