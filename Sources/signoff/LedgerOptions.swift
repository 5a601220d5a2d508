import ArgumentParser
import Foundation
import SignoffCrypto
import SignoffLedger
import SignoffService
import SignoffStore

/// The ledger database and its key: `--db` (or `SIGNOFF_DB`), the sealed ledger key beside it, and its passphrase.
struct LedgerOptions: ParsableArguments {
    @Option(name: .long, help: "The SQLite ledger database (default: $SIGNOFF_DB).")
    var db: String?

    @Option(
        name: [.customLong("ledger-key-file"), .customLong("ledger-key")],
        help: "The ledger's sealed private key file, which signs checkpoints (default: DB.ledger-key). --ledger-key is its former name.")
    var ledgerKey: String?

    @Option(name: .long, help: "Read the ledger key's passphrase from this file. Otherwise SIGNOFF_LEDGER_PASSPHRASE, otherwise a prompt.")
    var ledgerPassphraseFile: String?

    var databasePath: String {
        get throws {
            if let db { return db }
            if let env = ProcessInfo.processInfo.environment["SIGNOFF_DB"], !env.isEmpty { return env }
            throw CLIError.badInput("no database: pass --db PATH or set SIGNOFF_DB")
        }
    }

    var ledgerKeyPath: String {
        get throws { try ledgerKey ?? (databasePath + ".ledger-key") }
    }

    var passphrase: PassphraseSource {
        PassphraseSource(file: ledgerPassphraseFile, environmentVariable: "SIGNOFF_LEDGER_PASSPHRASE", fileOptionName: "--ledger-passphrase-file")
    }

    /// Opens the storage with the ledger's signing key, so that checkpoints can be signed.
    func openForWriting() throws -> SignoffStorage {
        let path = try databasePath
        let keyPath = try ledgerKeyPath
        let passphrase = passphrase
        // The ledger key is unsealed (64 MiB of Argon2id) only when something is first signed: a command that only reads,
        // or appends without a checkpoint falling due, never opens it.
        return try SQLiteStorage.open(path: path) {
            let secret = try passphrase.read(purpose: "ledger key \(keyPath)", confirm: false)
            return try KeyFiles.openSealedKey(path: keyPath, passphrase: secret).signingKey
        }
    }

    /// Opens the storage to read, append and verify; no key needed, no checkpoint signed.
    func openForReading() throws -> SignoffStorage {
        try SQLiteStorage.open(path: try databasePath)
    }

    /// Creates a new database for a ledger named `origin`.
    func create(origin: String, signingKey: Ed25519.SigningKey) throws -> SignoffStorage {
        try SQLiteStorage.create(path: try databasePath, origin: origin, signingKey: signingKey)
    }
}

extension LedgerError {
    var cliError: CLIError {
        switch code {
        case .invalidRequest, .invalidEntry, .malformedNote, .malformedCheckpoint: .badInput(message)
        case .invalidProof, .noValidSignature, .inconsistent: .verificationFailed(message)
        default: .failure(message)
        }
    }
}
