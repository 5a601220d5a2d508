import ArgumentParser
import Foundation
import SignoffCrypto
import SignoffLedger
import SignoffPostgres
import SignoffService
import SignoffStore

/// The ledger database and its key: `--db` (or `SIGNOFF_DB`), the sealed ledger key beside it, and its passphrase.
struct LedgerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The ledger database: a SQLite file's path, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full] (default: $SIGNOFF_DB).")
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

    /// The PostgreSQL database `--db` names, or nil when it names a SQLite file.
    var postgresURL: PostgresURL? {
        get throws {
            let text = try databasePath
            guard PostgresURL.isPostgres(text) else { return nil }
            do { return try PostgresURL(parsing: text) } catch let error as LedgerError { throw CLIError.badInput("--db: \(error.message)") }
        }
    }

    /// Where the sealed ledger key is: `--ledger-key-file`, else beside a SQLite file (`DB.ledger-key`). A PostgreSQL
    /// database has no "beside": the file must be named.
    var ledgerKeyPath: String {
        get throws {
            if let ledgerKey { return ledgerKey }
            if try postgresURL != nil {
                throw CLIError.badInput("with a PostgreSQL --db, name the ledger key file: --ledger-key-file PATH (its verifier key is PATH.pub; `audit verify` takes --ledger-verifier-key PATH.pub)")
            }
            return try databasePath + ".ledger-key"
        }
    }

    /// What names the database in messages: the SQLite path, or the PostgreSQL address without its password.
    var databaseName: String {
        get throws { try postgresURL?.redacted ?? databasePath }
    }

    var passphrase: PassphraseSource {
        PassphraseSource(file: ledgerPassphraseFile, environmentVariable: "SIGNOFF_LEDGER_PASSPHRASE", fileOptionName: "--ledger-passphrase-file")
    }

    /// Opens the storage with the ledger's signing key, so that checkpoints can be signed.
    func openForWriting() async throws -> SignoffStorage {
        let keyPath = try ledgerKeyPath
        let passphrase = passphrase
        // The ledger key is unsealed (64 MiB of Argon2id) only when something is first signed: a command that only reads,
        // or appends without a checkpoint falling due, never opens it.
        let unseal: @Sendable () throws -> Ed25519.SigningKey = {
            let secret = try passphrase.read(purpose: "ledger key \(keyPath)", confirm: false)
            return try KeyFiles.openSealedKey(path: keyPath, passphrase: secret).signingKey
        }
        if let url = try postgresURL { return try await PostgresStorage.open(url: url, unsealingLedgerKey: unseal) }
        return try SQLiteStorage.open(path: try databasePath, unsealingLedgerKey: unseal)
    }

    /// Opens the storage to read, append and verify; no key needed, no checkpoint signed.
    func openForReading() async throws -> SignoffStorage {
        if let url = try postgresURL { return try await PostgresStorage.open(url: url) }
        return try SQLiteStorage.open(path: try databasePath)
    }

    /// Creates a new database for a ledger named `origin` (on PostgreSQL: its tables, in a database that exists).
    func create(origin: String, signingKey: Ed25519.SigningKey) async throws -> SignoffStorage {
        if let url = try postgresURL { return try await PostgresStorage.create(url: url, origin: origin, signingKey: signingKey) }
        return try SQLiteStorage.create(path: try databasePath, origin: origin, signingKey: signingKey)
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
