import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffCrypto

/// Where a remote session's token lives: `--token-file`, `SIGNOFF_TOKEN_FILE`, or `~/.config/signoff/token`.
struct TokenFileOptions: ParsableArguments {
    @Option(help: "Where the login token is kept (default: $SIGNOFF_TOKEN_FILE or ~/.config/signoff/token).")
    var tokenFile: String?

    var path: String {
        if let tokenFile { return tokenFile }
        if let env = ProcessInfo.processInfo.environment["SIGNOFF_TOKEN_FILE"], !env.isEmpty { return env }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config/signoff/token").path
    }
}

/// A small JSON-over-HTTP client for the API.
struct RemoteClient {
    let server: URL

    /// Sends a request; the status and the raw body.
    func send(_ method: String, _ path: String, token: String? = nil, body: [String: Any]? = nil) async throws -> (status: Int, data: Data) {
        guard let url = URL(string: path, relativeTo: server) else { throw CLIError.badInput("bad server URL \(server)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw CLIError.failure("cannot reach \(server.absoluteString): \(error.localizedDescription); is `signoff serve` running there?")
        }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// Sends a request; the status and the JSON object of the body (empty when it is not one).
    func call(_ method: String, _ path: String, token: String? = nil, body: [String: Any]? = nil) async throws -> (status: Int, object: [String: Any]) {
        let (status, data) = try await send(method, path, token: token, body: body)
        return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }
}

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in to a Signoff server: sign its challenge with your key (which never leaves this machine) and keep the token (mode 0600).")

    @Option(help: "The server, e.g. http://127.0.0.1:8080.") var server: String
    @OptionGroup var actor: ActorOptions
    @OptionGroup var signing: SigningOptions
    @OptionGroup var tokenFile: TokenFileOptions
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        try await reportingErrors {
            guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https" else {
                throw CLIError.badInput("--server must be an http:// or https:// URL")
            }
            let user = try actor.name
            guard signing.key != nil, let key = try signing.signingKey() else { throw CLIError.badInput("login needs your key: --key YOUR.key") }
            let client = RemoteClient(server: url)
            let challenge = try await client.call("POST", "/v1/auth/challenge", body: ["user": user])
            guard challenge.status == 200, let message = challenge.object["message"] as? String, let nonce = challenge.object["challenge"] as? String else {
                throw CLIError.failure("the server refused the challenge (\(challenge.status)): \(challenge.object["detail"] ?? "")")
            }
            let signature = Base64.encode(key.signature(for: Array(message.utf8)))
            let issued = try await client.call("POST", "/v1/auth/token", body: ["user": user, "challenge": nonce, "signature": signature])
            guard issued.status == 200, let token = issued.object["token"] as? String else {
                throw CLIError(message: "login refused (\(issued.status)): \(issued.object["detail"] ?? "")", exitCode: ExitStatus.refused)
            }
            let path = tokenFile.path
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try? FileManager.default.removeItem(atPath: path)
            let record: [String: Any] = ["server": server, "user": user, "token": token, "expires_at": issued.object["expires_at"] ?? ""]
            try KeyFiles.createExclusive(path: path, bytes: [UInt8](try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])), mode: 0o600)
            if json {
                print(JSONOutput.object(["user": .string(user), "token_id": .string(issued.object["token_id"] as? String ?? ""), "token_file": .string(path)]))
            } else {
                print("Logged in to \(server) as \(user) (token \(issued.object["token_id"] as? String ?? ""), expires \(issued.object["expires_at"] as? String ?? "")); token kept in \(path)")
            }
        }
    }
}
