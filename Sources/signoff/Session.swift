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

/// `--server URL` (or `SIGNOFF_SERVER`): talk to a Signoff server with the token `signoff login` kept.
struct RemoteOptions: ParsableArguments {
    @Option(help: "Use a Signoff server instead of a local database (default: $SIGNOFF_SERVER); log in first with `signoff login`.")
    var server: String?

    @OptionGroup var tokenFile: TokenFileOptions

    /// The remote session when `--server` is given, else nil. With `--as`, the login must be that user's.
    func session(actor: ActorOptions) throws -> RemoteSession? {
        guard let url = try url else { return nil }
        let session = try RemoteSession(server: url, tokenFile: tokenFile.path)
        if let name = try? actor.name, name != session.user {
            throw CLIError.badInput("you are logged in to the server as \(session.user), not \(name); run `signoff login --as \(name)`")
        }
        return session
    }

    var url: URL? {
        get throws {
            guard let text = server ?? ProcessInfo.processInfo.environment["SIGNOFF_SERVER"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else {
                throw CLIError.badInput("--server must be an http:// or https:// URL")
            }
            return url
        }
    }
}

/// What a command appended: the ledger entries, and the request it concerns (for request create).
struct Recorded {
    var entries: [(sequence: UInt64, kind: String)]
    var request: String?
}

/// A session: a local SQLite file, or a server. The same verbs, the same output.
///
/// Locally, the ledger key signs checkpoints when its passphrase is configured (`--ledger-passphrase-file` or
/// `SIGNOFF_LEDGER_PASSPHRASE`); users without it append and leave checkpointing to the ledger's operator.
struct Session {
    enum Backend {
        case local(store: SQLiteLedgerStore, database: SignoffDatabase, signsCheckpoints: Bool)
        case remote(RemoteSession)
    }

    let backend: Backend

    static func open(_ ledger: LedgerOptions, remote: RemoteOptions? = nil) throws -> Session {
        if let remote, let url = try remote.url {
            return Session(backend: .remote(try RemoteSession(server: url, tokenFile: remote.tokenFile.path)))
        }
        let canSign = ledger.ledgerPassphraseFile != nil || ProcessInfo.processInfo.environment["SIGNOFF_LEDGER_PASSPHRASE"] != nil
        let store = canSign ? try ledger.openForWriting() : try ledger.openForReading()
        return Session(backend: .local(store: store, database: SignoffDatabase(ledger: store), signsCheckpoints: canSign))
    }

    /// The local database, for the commands that only work on one (init, export, serve).
    var local: (store: SQLiteLedgerStore, database: SignoffDatabase, signsCheckpoints: Bool) {
        get throws {
            guard case .local(let store, let database, let signs) = backend else {
                throw CLIError.badInput("this command works on a local database (--db), not through --server")
            }
            return (store, database, signs)
        }
    }

    /// Milliseconds since the epoch, for the time inside signed statements.
    var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Runs a command; a refusal exits with code 2 and says which rule failed.
    @discardableResult
    func run(_ command: Command, as actor: String) async throws -> Recorded {
        switch backend {
        case .remote(let remote):
            return try await remote.send(command, as: actor)
        case .local(_, let database, _):
            switch try await database.execute(command, as: actor) {
            case .success(let entries):
                try await finish()
                var id: String?
                if let first = entries.first, case .requestFiled(let filed)? = try? Event.decode(kind: first.kind, payload: first.payload) { id = filed.id }
                return Recorded(entries: entries.map { ($0.sequence, $0.kind) }, request: id)
            case .failure(let refusal):
                throw CLIError(message: "refused (\(refusal.rule)): \(refusal.message)", exitCode: ExitStatus.refused)
            }
        }
    }

    /// Signs a checkpoint over what this command appended, when the ledger key is available.
    func finish() async throws {
        guard case .local(let store, _, let signsCheckpoints) = backend else { return }
        if signsCheckpoints {
            try await store.signCheckpoint()
        } else if let checkpoint = try await store.latestCheckpoint(), checkpoint.checkpoint.size < (try await store.size()) {
            printNotice("entries after \(checkpoint.checkpoint.size) await a signed checkpoint; the ledger's operator runs `signoff checkpoint --sign`")
        }
    }

    func request(_ id: String) async throws -> DeploymentRequest {
        switch backend {
        case .remote(let remote): return try await remote.request(id)
        case .local(_, let database, _):
            guard let request = try await database.state().requests[id] else {
                throw CLIError.badInput("no request \(id); `signoff list` shows the requests")
            }
            return request
        }
    }
}

func printNotice(_ message: String) {
    var stderr = StandardError()
    print("signoff: note: \(message)", to: &stderr)
}

/// Entries a command appended, for people or machines.
func report(_ recorded: Recorded, json: Bool, text: String) {
    if json {
        print(JSONOutput.object([
            "entries": .array(recorded.entries.map { .object(["sequence": .int(Int($0.sequence)), "kind": .string($0.kind)]) }),
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
