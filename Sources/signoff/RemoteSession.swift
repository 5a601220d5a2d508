import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffCore
import SignoffCrypto

/// The CLI's remote mode: every verb becomes a call to the API, authenticated with the token `signoff login` kept.
/// Decisions are still signed here; only the envelope travels.
struct RemoteSession {
    let client: RemoteClient
    let token: String
    let user: String

    init(server: URL, tokenFile: String) throws {
        guard let data = FileManager.default.contents(atPath: tokenFile),
            let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let token = record["token"] as? String,
            let user = record["user"] as? String
        else { throw CLIError.badInput("not logged in: run `signoff login --server \(server.absoluteString) --as USER --key YOUR.key` first") }
        client = RemoteClient(server: server)
        self.token = token
        self.user = user
    }

    /// Calls the API and returns its JSON object; a failure becomes ``failure(status:object:)``.
    func call(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String: Any] {
        let (status, object) = try await client.call(method, path, token: token, body: body)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, object: object) }
        return object
    }

    /// The CLI error for an API failure: a refusal becomes exit 2 with its rule, bad input 64, an expired login a
    /// clear instruction to log in again.
    static func failure(status: Int, object: [String: Any]) -> CLIError {
        let detail = object["detail"] as? String ?? "HTTP \(status)"
        if let rule = object["rule"] as? String { return CLIError(message: "refused (\(rule)): \(detail)", exitCode: ExitStatus.refused) }
        switch status {
        case 401: return CLIError.failure("\(detail) (run `signoff login` again)")
        case 403: return CLIError(message: "refused: \(detail)", exitCode: ExitStatus.refused)
        case 400, 404, 413, 422: return CLIError.badInput(detail)
        default: return CLIError.failure("the server failed (HTTP \(status)): \(detail)")
        }
    }

    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let object = try await call("GET", path)
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: object))
    }

    static func json(_ envelope: DSSEEnvelope?) -> Any? {
        envelope.flatMap { try? JSONSerialization.jsonObject(with: Data($0.jsonBytes())) }
    }

    static func path(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }

    func send(_ command: Command, as actor: String) async throws -> Recorded {
        guard actor == user else {
            throw CLIError.badInput("you are logged in to the server as \(user), not \(actor); run `signoff login --as \(actor)`")
        }
        let p = Self.path
        var (method, route, body): (String, String, [String: Any]) = ("POST", "", [:])
        switch command {
        case .bootstrapAdministrator:
            throw CLIError.badInput("the first administrator is created with `signoff init` on the server's database")
        case .addUser(let name, let administrator, let key):
            route = "/v1/users"
            body = ["name": name, "administrator": administrator]
            if let key { body["verifier_key"] = key.description }
        case .addServiceAccount(let name, let key):
            route = "/v1/service-accounts"
            body = ["name": name]
            if let key { body["verifier_key"] = key.description }
        case .enrollKey(let principal, let key, let approval):
            route = "/v1/users/\(p(principal))/keys"
            body = ["verifier_key": key.description]
            body["approval"] = Self.json(approval)
        case .revokeKey(let principal, let fingerprint):
            (method, route) = ("DELETE", "/v1/users/\(p(principal))/keys/\(p(fingerprint))")
        case .createGroup(let name):
            (route, body) = ("/v1/groups", ["name": name])
        case .addMember(let group, let member, let approval):
            (route, body) = ("/v1/groups/\(p(group))/members", ["member": member])
            body["approval"] = Self.json(approval)
        case .applyWorkflow(let source, let file):
            (route, body) = ("/v1/workflows", ["source": source, "file": file])
        case .createProject(let spec, let approval):
            route = "/v1/projects"
            body = ["key": spec.key, "regulated": spec.regulated, "environments": spec.environments, "requesters": spec.requesters, "deployers": spec.deployers]
            body["approval"] = Self.json(approval)
        case .fileRequest(let project, let environment, let bundle, let digest, let description):
            route = "/v1/requests"
            body = ["project": project, "environment": environment, "bundle": bundle, "digest": digest.description, "description": description]
        case .attachEvidence(let id, let kind, let status, let digest):
            (route, body) = ("/v1/requests/\(p(id))/evidence", ["kind": kind, "status": status, "digest": digest.description])
        case .decide(let id, let stage, let decision, let comment, let envelope):
            (route, body) = ("/v1/requests/\(p(id))/decisions", ["stage": stage, "decision": decision.rawValue, "comment": comment])
            body["envelope"] = Self.json(envelope)
        case .revise(let id, let bundle, let digest):
            (route, body) = ("/v1/requests/\(p(id))/revisions", ["digest": digest.description])
            body["bundle"] = bundle
        case .withdraw(let id, let reason):
            (route, body) = ("/v1/requests/\(p(id))/withdraw", ["reason": reason])
        case .recordDeployment(let id, let outcome, let note):
            (route, body) = ("/v1/requests/\(p(id))/deployments", ["outcome": outcome.rawValue, "note": note])
        case .recordRetrospective(let id, let comment):
            (route, body) = ("/v1/requests/\(p(id))/retrospective", ["comment": comment])
        }
        let object = try await call(method, route, body: method == "DELETE" ? nil : body)
        let entries = (object["entries"] as? [[String: Any]] ?? []).map {
            (sequence: ($0["sequence"] as? NSNumber)?.uint64Value ?? 0, kind: $0["kind"] as? String ?? "")
        }
        return Recorded(entries: entries, request: object["request"] as? String)
    }

    func request(_ id: String) async throws -> DeploymentRequest {
        try await get("/v1/requests/\(Self.path(id))", as: DeploymentRequest.self)
    }

    func explain(_ id: String) async throws -> Explanation {
        try await get("/v1/requests/\(Self.path(id))/explain", as: Explanation.self)
    }
}

extension RemoteSession {
    /// GET returning raw bytes (checkpoint, ledger key, export archive).
    func bytes(_ path: String) async throws -> [UInt8] {
        let (status, data) = try await client.send("GET", path, token: token)
        guard (200..<300).contains(status) else {
            throw Self.failure(status: status, object: (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
        }
        return [UInt8](data)
    }
}

/// Unpacks a ustar archive into a new folder, refusing any path that would leave it.
enum Untar {
    static func extract(_ archive: [UInt8], into directory: URL) throws -> Int {
        var offset = 0
        var count = 0
        while offset + 512 <= archive.count {
            let header = Array(archive[offset..<offset + 512])
            if header.allSatisfy({ $0 == 0 }) { return count }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 8), size >= 0, offset + 512 + size <= archive.count else {
                throw CLIError.failure("the export archive is malformed or incomplete; export again (nothing was verified)")
            }
            guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                throw CLIError.failure("the export archive holds an unsafe path \(name); refusing it")
            }
            let target = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(archive[(offset + 512)..<(offset + 512 + size)]).write(to: target)
            count += 1
            offset += 512 + size + (512 - size % 512) % 512
        }
        throw CLIError.failure("the export archive is truncated; export again (nothing was verified)")
    }
}
