public import SignoffCrypto
internal import SignoffLedger
public import SignoffService

/// Signoff's storage in one SQLite file: the ledger, the projection and the auth tables, as ``SignoffStorage``.
/// The only place that knows the backend is SQLite; everything else sees the protocols.
public enum SQLiteStorage {
    /// Creates a new database at `path` for a ledger named `origin` signed by `signingKey`. Refuses an existing file.
    public static func create(
        path: String, origin: String, signingKey: Ed25519.SigningKey, configuration: SQLiteLedgerStore.Configuration = .init()
    ) throws -> SignoffStorage {
        let ledgerKey: NoteVerifierKey
        do { ledgerKey = try NoteVerifierKey(name: origin, publicKey: signingKey.publicKey) } catch {
            throw LedgerError(.invalidRequest, "origin: \(error.message)")
        }
        let signer = LocalSigner(verifierKey: ledgerKey) { signingKey }
        return storage(try SQLiteLedgerStore.create(path: path, ledgerKey: ledgerKey, configuration: configuration), signer: signer)
    }

    /// Opens an existing database. Without `signingKey` it appends and reads but does not sign checkpoints.
    public static func open(
        path: String, signingKey: Ed25519.SigningKey? = nil, configuration: SQLiteLedgerStore.Configuration = .init()
    ) throws -> SignoffStorage {
        let ledger = try SQLiteLedgerStore.open(path: path, configuration: configuration)
        guard let signingKey else { return storage(ledger, signer: nil) }
        guard signingKey.publicKey == ledger.verifierKey.publicKey else {
            throw LedgerError(.invalidRequest, "the ledger key file does not belong to the ledger in \(path)")
        }
        return storage(ledger, signer: LocalSigner(verifierKey: ledger.verifierKey) { signingKey })
    }

    /// Opens an existing database whose ledger key is opened only when something is first signed (`unseal`).
    public static func open(
        path: String, unsealingLedgerKey unseal: @escaping @Sendable () throws -> Ed25519.SigningKey, configuration: SQLiteLedgerStore.Configuration = .init()
    ) throws -> SignoffStorage {
        let ledger = try SQLiteLedgerStore.open(path: path, configuration: configuration)
        return storage(ledger, signer: LocalSigner(verifierKey: ledger.verifierKey, unseal: unseal))
    }

    /// The storage over an opened ledger store.
    public static func storage(_ ledger: SQLiteLedgerStore, signer: (any Signer)?) -> SignoffStorage {
        let projection = SQLiteProjectionStore(ledger: ledger)
        return SignoffStorage(
            unitOfWork: SQLiteUnitOfWork(ledger: ledger, projection: projection), ledger: ledger, projection: projection,
            auth: SQLiteAuthStore(ledger: ledger), webhooks: SQLiteWebhookStore(ledger: ledger), evidence: SQLiteEvidenceStore(ledger: ledger),
            coordination: SQLiteCoordinationStore(ledger: ledger),
            signer: signer, checkpointPolicy: ledger.configuration.checkpointPolicy)
    }
}
