import ArgumentParser
import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffStore

/// The acting user in local mode: `--as USER` or `SIGNOFF_USER`.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: "Act as this user or service account (default: $SIGNOFF_USER).")
    var actor: String?

    var name: String {
        get throws {
            if let actor, !actor.isEmpty { return actor }
            if let env = ProcessInfo.processInfo.environment["SIGNOFF_USER"], !env.isEmpty { return env }
            throw CLIError.badInput("who is acting? pass --as USER or set SIGNOFF_USER")
        }
    }
}

/// The acting user's sealed private key, to sign decisions and administrative changes.
struct SigningOptions: ParsableArguments {
    @Option(help: "Your sealed private key file; the signature is made here and the key never leaves this machine.")
    var key: String?

    @OptionGroup var passphrase: PassphraseOptions

    func signingKey() throws -> Ed25519.SigningKey? {
        guard let key else { return nil }
        let secret = try passphrase.passphrase(purpose: "your key \(key)", confirm: false)
        return try KeyFiles.openSealedKey(path: key, passphrase: secret).signingKey
    }
}

/// A local session on a SQLite file. The ledger key signs checkpoints when its passphrase is configured
/// (`--ledger-passphrase-file` or `SIGNOFF_LEDGER_PASSPHRASE`); users without it append and leave checkpointing to
/// the ledger's operator.
struct Session {
    let store: SQLiteLedgerStore
    let database: SignoffDatabase
    let signsCheckpoints: Bool

    static func open(_ ledger: LedgerOptions) throws -> Session {
        let canSign = ledger.ledgerPassphraseFile != nil || ProcessInfo.processInfo.environment["SIGNOFF_LEDGER_PASSPHRASE"] != nil
        let store = canSign ? try ledger.openForWriting() : try ledger.openForReading()
        return Session(store: store, database: SignoffDatabase(ledger: store), signsCheckpoints: canSign)
    }

    /// Runs a command; a refusal exits with code 2 and says which rule failed.
    @discardableResult
    func run(_ command: Command, as actor: String) async throws -> [LedgerEntry] {
        switch try await database.execute(command, as: actor) {
        case .success(let entries):
            try await finish()
            return entries
        case .failure(let refusal):
            throw CLIError(message: "refused (\(refusal.rule)): \(refusal.message)", exitCode: ExitStatus.refused)
        }
    }

    /// Signs a checkpoint over what this command appended, when the ledger key is available.
    func finish() async throws {
        if signsCheckpoints {
            try await store.signCheckpoint()
        } else if let checkpoint = try await store.latestCheckpoint(), checkpoint.checkpoint.size < (try await store.size()) {
            printNotice("entries after \(checkpoint.checkpoint.size) await a signed checkpoint; the ledger's operator runs `signoff checkpoint --sign`")
        }
    }

    func state() async throws -> SignoffState { try await database.state() }

    func request(_ id: String) async throws -> DeploymentRequest {
        guard let request = try await state().requests[id] else {
            throw CLIError.badInput("no request \(id); `signoff list` shows the requests")
        }
        return request
    }
}

func printNotice(_ message: String) {
    var stderr = StandardError()
    print("signoff: note: \(message)", to: &stderr)
}

/// Entries a command appended, for people or machines.
func report(_ entries: [LedgerEntry], json: Bool, text: String) {
    if json {
        print(JSONOutput.object([
            "entries": .array(entries.map { .object(["sequence": .int(Int($0.sequence)), "kind": .string($0.kind)]) }),
            "message": .string(text),
        ]))
    } else {
        print(text)
    }
}

/// `sha256:HEX` from `--digest`, or the SHA-256 of `--file`, streamed.
func bundleDigest(digest: String?, file: String?) throws -> SHA256Digest {
    switch (digest, file) {
    case (let text?, nil):
        do { return try SHA256Digest(parsing: text) } catch let error as CryptoError { throw CLIError.badInput("--digest: \(error.message)") }
    case (nil, let path?):
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIError.badInput("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256Hasher()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update([UInt8](chunk)) }
        return hasher.finalize()
    default:
        throw CLIError.badInput("give exactly one of --digest sha256:HEX or --file PATH")
    }
}

func formatTime(_ milliseconds: Int64) -> String { Timestamps.rfc3339(milliseconds) }
