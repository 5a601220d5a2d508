import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffAPI
import SignoffCore
import SignoffCrypto

/// Where a remote session's token lives: `--token-file`, `SIGNOFF_TOKEN_FILE`, or — one file per server and user —
/// `tokens/SERVER/USER` in Signoff's folder of the user's configuration (`$XDG_CONFIG_HOME/signoff`, else
/// `$HOME/.config/signoff`, as the XDG convention says; `$HOME` as the environment has it, never the password database's).
struct TokenFileOptions: ParsableArguments {
    @Option(
        help:
            "Where the login token is kept (default: $SIGNOFF_TOKEN_FILE, else one file per server and user under $XDG_CONFIG_HOME/signoff/tokens or ~/.config/signoff/tokens).")
    var tokenFile: String?

    /// The explicit file, if one was named.
    var explicit: String? {
        if let tokenFile { return tokenFile }
        if let env = ProcessInfo.processInfo.environment["SIGNOFF_TOKEN_FILE"], !env.isEmpty { return env }
        return nil
    }

    /// Signoff's configuration folder.
    static var configuration: String {
        let environment = ProcessInfo.processInfo.environment
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/signoff" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.config/signoff" }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config/signoff").path
    }

    /// The folder of one server's logins: its origin as a file name (`https_signoff.example.com_443`).
    static func folder(for server: URL) -> String {
        let origin = TokenFile.origin(of: server)
        let name = String(origin.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
        return configuration + "/tokens/" + name
    }

    /// Where `login` keeps the token of `user` on `server`.
    func path(server: URL, user: String) throws -> String { try path(server: server, user: Optional(user)) }

    /// The token file to use for `server`: the explicit one, else `user`'s login there, else the only login there (or,
    /// from before logins were kept per server and user, the single `token` file).
    func path(server: URL, user: String?) throws -> String {
        if let explicit { return explicit }
        let folder = Self.folder(for: server)
        if let user, !user.isEmpty {
            guard Engine.isValidName(user) else { throw CLIError.badInput("--as \(user.prefix(80)) is not a user name") }
            return folder + "/" + user
        }
        let logins = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        switch logins.count {
        case 1: return folder + "/" + logins[0]
        case 0: return Self.configuration + "/token"
        default:
            throw CLIError.badInput("several people are logged in to \(TokenFile.origin(of: server)) here (\(logins.joined(separator: ", "))): say who with --as")
        }
    }
}

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in to a Signoff server: sign its challenge with your key (which never leaves this machine) and keep the token (mode 0600).")

    @Option(help: "The server, e.g. http://127.0.0.1:8080 (default: $SIGNOFF_SERVER).") var server: String?
    @OptionGroup var actor: ActorOptions
    @OptionGroup var signing: SigningOptions
    @OptionGroup var tokenFile: TokenFileOptions
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        try await reportingErrors {
            guard let server = server ?? ProcessInfo.processInfo.environment["SIGNOFF_SERVER"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                throw CLIError.badInput("which server? pass --server URL or set SIGNOFF_SERVER")
            }
            guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https" else {
                throw CLIError.badInput("--server must be an http:// or https:// URL")
            }
            let user = try actor.name
            guard signing.key != nil, let key = try signing.signingKey() else { throw CLIError.badInput("login needs your key: --key YOUR.key") }
            let transport = HTTPTransport(server: url)
            let asked = try await transport.send("POST", "/v1/auth/challenge", body: ChallengeRequest(user: user))
            guard asked.status == 200, let challenge = try? WireCoding.decode(ChallengeResponse.self, from: asked.data) else {
                throw HTTPTransport.failure(status: asked.status, data: asked.data)
            }
            let signature = Base64.encode(key.signature(for: Array(challenge.message.utf8)))
            let answer = try await transport.send("POST", "/v1/auth/token", body: TokenRequest(user: user, challenge: challenge.challenge, signature: signature))
            guard answer.status == 200, let issued = try? WireCoding.decode(TokenResponse.self, from: answer.data) else {
                let problem = try? WireCoding.decode(HTTPTransport.Problem.self, from: answer.data)
                // The server says no more than that (it does not tell who exists, or what kind of account a name is);
                // the likely causes, said here, are the CLI's own knowledge.
                let hint =
                    answer.status == 401
                    ? " (is --key a current key of \(user)? A service account does not log in: an administrator gives it a token with `signoff token create --service-account \(user)`)"
                    : ""
                throw CLIError(message: "login refused (\(answer.status)): \(problem?.detail ?? "")" + hint, exitCode: ExitStatus.refused)
            }
            let path = try tokenFile.path(server: url, user: user)
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try? FileManager.default.removeItem(atPath: path)
            let record = TokenFile(server: TokenFile.origin(of: url), user: user, token: issued.token, expires_at: issued.expires_at)
            try KeyFiles.createExclusive(path: path, bytes: [UInt8](try WireCoding.encode(record)), mode: 0o600)
            if json {
                struct LoggedIn: Encodable { let user, token_id, token_file, expires_at: String }
                printJSON(LoggedIn(user: user, token_id: issued.token_id, token_file: path, expires_at: issued.expires_at))
            } else {
                print("Logged in to \(server) as \(user) (token \(issued.token_id), expires \(issued.expires_at)); token kept in \(path)")
            }
        }
    }
}
