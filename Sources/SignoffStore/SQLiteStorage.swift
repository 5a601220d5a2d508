public import SignoffCrypto
public import SignoffService

/// Signoff's storage in one SQLite file: the ledger, the projection and the auth tables, as ``SignoffStorage``.
/// The only place that knows the backend is SQLite; everything else sees the protocols.
public enum SQLiteStorage {
    /// Creates a new database at `path` for a ledger named `origin` signed by `signingKey`. Refuses an existing file.
    public static func create(
        path: String, origin: String, signingKey: Ed25519.SigningKey, configuration: SQLiteLedgerStore.Configuration = .init()
    ) throws -> SignoffStorage {
        storage(try SQLiteLedgerStore.create(path: path, origin: origin, signingKey: signingKey, configuration: configuration))
    }

    /// Opens an existing database. Without `signingKey` it appends and reads but does not sign checkpoints.
    public static func open(
        path: String, signingKey: Ed25519.SigningKey? = nil, configuration: SQLiteLedgerStore.Configuration = .init()
    ) throws -> SignoffStorage {
        storage(try SQLiteLedgerStore.open(path: path, signingKey: signingKey, configuration: configuration))
    }

    /// The storage over an opened ledger store.
    public static func storage(_ ledger: SQLiteLedgerStore) -> SignoffStorage {
        SignoffStorage(
            ledger: ledger, projection: SQLiteProjectionStore(ledger: ledger), auth: SQLiteAuthStore(ledger: ledger),
            webhooks: SQLiteWebhookStore(ledger: ledger), evidence: SQLiteEvidenceStore(ledger: ledger))
    }
}
