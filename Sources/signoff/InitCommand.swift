import ArgumentParser
import Foundation
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new ledger database and its ledger key (sealed under a passphrase).",
        discussion: """
            Writes DB, DB.ledger-key (the sealed private key that signs checkpoints, mode 0600) and \
            DB.ledger-key.pub (the verifier key auditors use). With a PostgreSQL --db (postgres://…, a database that \
            exists and is empty), creates Signoff's tables there and writes the key files --ledger-key-file names. \
            The first entry records the ledger's origin and key, the second the first administrator, and a first \
            checkpoint is signed.
            """
    )

    @OptionGroup var ledger: LedgerOptions

    @Option(help: "The ledger's origin: the first line of every checkpoint and the ledger key's name, e.g. signoff.example.com/prod.")
    var origin: String

    @Option(help: "The first administrator's user name.")
    var admin: String

    @Option(name: .customLong("admin-key"), help: "The first administrator's public key file (USER.key.pub).")
    var adminKey: String

    @Option(name: .customLong("admin-quorum"), help: "How many distinct administrators must sign a change to what a regulated project relies on (1 to 5; default 1).")
    var adminQuorum = 1

    @Flag(help: "Allow an empty ledger key passphrase.")
    var insecureNoPassphrase = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let path = try ledger.databaseName
            let isPostgres = try ledger.postgresURL != nil
            let keyPath = try ledger.ledgerKeyPath
            try NoteVerifierKey.validate(name: origin)
            guard (1...5).contains(adminQuorum) else { throw CLIError.badInput("--admin-quorum is 1 to 5, not \(adminQuorum)") }
            let adminVerifierKey = try KeyFiles.readVerifierKey(path: adminKey)
            for existing in (isPostgres ? [] : [path]) + [keyPath, keyPath + ".pub"] where FileManager.default.fileExists(atPath: existing) {
                throw CLIError.badInput("\(existing) already exists; choose another --db (nothing was changed)")
            }
            let secret = try ledger.passphrase.read(purpose: "new ledger key", confirm: true)
            let key = Ed25519.SigningKey()
            let sealed = try SealedKeyFile.seal(key, name: origin, passphrase: secret, allowEmptyPassphrase: insecureNoPassphrase)
            let verifierKey = try NoteVerifierKey(name: origin, publicKey: key.publicKey)
            try KeyFiles.writeVerifierKey(verifierKey, path: keyPath + ".pub")
            try KeyFiles.createExclusive(path: keyPath, bytes: sealed, mode: 0o600)
            let storage: SignoffStorage
            do { storage = try await ledger.create(origin: origin, signingKey: key) } catch {
                // The key files were made just now, for this ledger: without it they are nothing's.
                try? FileManager.default.removeItem(atPath: keyPath)
                try? FileManager.default.removeItem(atPath: keyPath + ".pub")
                throw error
            }
            let service = SignoffService(storage: storage)
            // The ledger's first entry names its origin and key; the second is the first administrator.
            if case .failure(let refusal) = try await service.execute(.initializeLedger(origin: origin, ledgerKey: verifierKey), as: "system") {
                throw CLIError.badInput("--origin: \(refusal.message)")
            }
            if case .failure(let refusal) = try await service.execute(.bootstrapAdministrator(name: admin, key: adminVerifierKey), as: "system") {
                throw CLIError.badInput("--admin: \(refusal.message)")
            }
            // A quorum above 1 counts once as many administrators hold keys that may sign (add them before relying on it).
            if adminQuorum != 1, case .failure(let refusal) = try await service.execute(.setAdminQuorum(adminQuorum), as: admin) {
                throw CLIError.badInput("--admin-quorum: \(refusal.message)")
            }
            let checkpoint = try await service.signCheckpoint()
            if json {
                struct Initialized: Encodable {
                    let db, origin, ledger_key_file, ledger_verifier_key, checkpoint: String
                }
                printJSON(Initialized(
                    db: path, origin: origin, ledger_key_file: keyPath, ledger_verifier_key: verifierKey.description,
                    checkpoint: checkpoint?.serialized ?? ""))
            } else {
                print("Initialised ledger \"\(origin)\" in \(path), administrator \(admin)")
                print("  ledger key (sealed, mode 0600): \(keyPath)")
                print("  verifier key:                   \(keyPath).pub")
                print("  \(verifierKey)")
            }
        }
    }
}
