/// Everything Signoff keeps, behind the protocols its callers need: the ledger, the projection beside it, and the
/// login challenges and tokens. One value per backend (SQLite today, PostgreSQL next); callers see only this.
public struct SignoffStorage: Sendable {
    public let ledger: any LedgerStore
    public let projection: any ProjectionStore
    public let auth: any AuthStore
    public let webhooks: any WebhookStore
    public let evidence: any EvidenceStore

    public init(ledger: any LedgerStore, projection: any ProjectionStore, auth: any AuthStore, webhooks: any WebhookStore, evidence: any EvidenceStore) {
        self.evidence = evidence
        self.ledger = ledger
        self.projection = projection
        self.auth = auth
        self.webhooks = webhooks
    }
}
