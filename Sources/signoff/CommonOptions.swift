import ArgumentParser
import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffAPI

/// The acting user in local mode: `--as USER` or `SIGNOFF_USER`.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: "Act as this user or service account (default: $SIGNOFF_USER).")
    var actor: String?

    var name: String {
        get throws {
            if let actor, !actor.isEmpty { return actor }
            let environment = ProcessInfo.processInfo.environment
            if let env = environment["SIGNOFF_USER"], !env.isEmpty { return env }
            // Automation with a service token acts as the token's account, which only the server knows.
            if environment["SIGNOFF_TOKEN"]?.isEmpty == false, environment["SIGNOFF_SERVER"]?.isEmpty == false || CommandLine.arguments.contains("--server") {
                return Self.tokenHolder
            }
            throw CLIError.badInput("who is acting? pass --as USER or set SIGNOFF_USER")
        }
    }

    /// The acting name that stands for "whoever SIGNOFF_TOKEN belongs to" (only a remote client accepts it).
    static let tokenHolder = ""
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

    /// The remote client when `--server` is given, else nil. With `--as`, the login must be that user's. Automation
    /// gives its service token in `SIGNOFF_TOKEN` instead of logging in (never on the command line, where `ps` shows it).
    func client(actor: ActorOptions) async throws -> RemoteClient? {
        guard let url = try url else { return nil }
        let client: RemoteClient
        if let bearer = ProcessInfo.processInfo.environment["SIGNOFF_TOKEN"], !bearer.isEmpty {
            client = try await RemoteClient(server: url, bearer: bearer)
        } else {
            client = try RemoteClient(server: url, tokenFile: try tokenFile.path(server: url, user: try? actor.name))
        }
        if let name = try? actor.name, name != client.user, name != ActorOptions.tokenHolder {
            throw client.notActingAs(name)
        }
        return client
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

func printNotice(_ message: String) {
    var stderr = StandardError()
    print("signoff: note: \(message)", to: &stderr)
}

/// Entries a command appended, for people or machines.
func report(_ recorded: RecordedResponse, json: Bool, text: String) {
    if json {
        struct Reported: Encodable {
            let entries: [RecordedResponse.Entry]
            let request: String?
            let message: String
            let warnings: [String]?
        }
        printJSON(Reported(entries: recorded.entries, request: recorded.request, message: text, warnings: recorded.warnings))
    } else {
        print(text)
    }
    // What the change leaves nobody to act on: on standard error, with --json too.
    for warning in recorded.warnings ?? [] { printNotice("warning: this leaves \(warning) (--strict refuses such a change)") }
}

/// One JSON document on standard output, in the wire vocabulary (`schema/vocabulary.md`).
func printJSON(_ value: some Encodable) {
    print(String(decoding: try! WireCoding.encode(value), as: UTF8.self))
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

