public import SignoffCrypto
public import SignoffLedger
internal import SignoffAudit
internal import Synchronization

/// The one holder of the ledger's private key: it signs checkpoints and export manifests and derives the webhook
/// secrets; nothing else sees the key. Storage never holds it: a backend stores what the ``LogPublisher`` signed.
public protocol Signer: Sendable {
    /// The ledger's public key (its name is the ledger's origin).
    var verifierKey: NoteVerifierKey { get }
    /// Makes the key ready now (a sealed key file is opened, its passphrase checked), so that a command fails before it
    /// writes anything rather than after.
    func open() throws
    /// Signs a checkpoint note of this ledger.
    func sign(_ checkpoint: Checkpoint) throws -> SignedCheckpoint
    /// An export's `MANIFEST.json`: the manifest's bytes in a DSSE envelope signed with the ledger key.
    func signManifest(_ manifest: [UInt8]) throws -> [UInt8]
    /// A secret for `purpose` derived from the ledger key (``Ed25519/SigningKey/derivedSecret(purpose:)``): webhook
    /// signing secrets, which are therefore never stored.
    func derivedSecret(purpose: String) throws -> [UInt8]
}

/// A ``Signer`` over a key in this process. With `unseal`, the key is opened (a sealed key file's Argon2id) only the
/// first time something is signed, so that commands that only read never open it.
public final class LocalSigner: Signer {
    public let verifierKey: NoteVerifierKey
    private let unseal: @Sendable () throws -> Ed25519.SigningKey
    private let key = Mutex<Ed25519.SigningKey?>(nil)

    /// A signer holding `key` for the ledger named `origin`.
    public convenience init(origin: String, key: Ed25519.SigningKey) throws {
        try self.init(verifierKey: NoteVerifierKey(name: origin, publicKey: key.publicKey)) { key }
    }

    /// A signer that opens its key when first needed; the key must be `verifierKey`'s, or signing refuses.
    public init(verifierKey: NoteVerifierKey, unseal: @escaping @Sendable () throws -> Ed25519.SigningKey) {
        self.verifierKey = verifierKey
        self.unseal = unseal
    }

    public func open() throws { _ = try signingKey() }

    private func signingKey() throws -> Ed25519.SigningKey {
        if let key = key.withLock({ $0 }) { return key }
        let opened = try unseal()
        guard opened.publicKey == verifierKey.publicKey else {
            throw LedgerError(
                .invalidRequest,
                "the ledger key file does not belong to the ledger \(verifierKey.name): give the key file `signoff init` made for this database (--ledger-key-file)")
        }
        key.withLock { $0 = opened }
        return opened
    }

    public func sign(_ checkpoint: Checkpoint) throws -> SignedCheckpoint {
        guard checkpoint.origin == verifierKey.name else {
            throw LedgerError(.invalidRequest, "a checkpoint of \(checkpoint.origin) is not this ledger's (\(verifierKey.name))")
        }
        return try SignedCheckpoint(signing: checkpoint, with: try signingKey())
    }

    public func signManifest(_ manifest: [UInt8]) throws -> [UInt8] {
        AuditExportBuilder.signedManifest(manifest, with: try signingKey())
    }

    public func derivedSecret(purpose: String) throws -> [UInt8] { try signingKey().derivedSecret(purpose: purpose) }
}
