import Foundation
import Hummingbird
import Logging
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffStore

/// The HTTP API (`schema/openapi.yaml`). Handlers translate JSON to engine commands; authorization is the engine's,
/// from the token's principal, never from anything the client claims.
struct API: Sendable {
    let database: SignoffDatabase
    let auth: AuthStore
    let configuration: ServerConfiguration

    var ledger: SQLiteLedgerStore { database.ledger }

    // MARK: Bodies

    struct ChallengeRequest: Decodable { let user: String }
    struct ChallengeResponse: ResponseEncodable {
        let challenge: String
        let message: String
        let expires_at: String
    }
    struct TokenRequest: Decodable {
        let user: String
        let challenge: String
        let signature: String
    }
    struct TokenResponse: ResponseEncodable {
        let token: String
        let token_id: String
        let expires_at: String
    }
    struct ServiceTokenRequest: Decodable {
        let service_account: String
        let scopes: [String]
        let ttl_hours: Int?
    }
    struct FileRequest: Decodable {
        let project: String
        let environment: String
        let bundle: String
        let digest: String
        let description: String?
    }
    struct EvidenceRequest: Decodable {
        let kind: String
        let status: String
        let digest: String
    }
    struct DecisionRequest: Decodable {
        let stage: String
        let decision: DecisionKind
        let comment: String?
        let envelope: DSSEEnvelope?
    }
    struct RevisionRequest: Decodable {
        let digest: String
        let bundle: String?
    }
    struct WithdrawRequest: Decodable { let reason: String? }
    struct DeploymentRequestBody: Decodable {
        let outcome: Deployment.Outcome
        let note: String?
    }
    struct RetrospectiveRequest: Decodable { let comment: String }
    struct UserRequest: Decodable {
        let name: String
        let administrator: Bool?
        let verifier_key: String?
    }
    struct KeyRequest: Decodable {
        let verifier_key: String
        let approval: DSSEEnvelope?
    }
    struct GroupRequest: Decodable { let name: String }
    struct MemberRequest: Decodable {
        let member: String
        let approval: DSSEEnvelope?
    }
    struct WorkflowRequest: Decodable {
        let file: String?
        let source: String
    }
    struct ProjectRequest: Decodable {
        let key: String
        let regulated: Bool?
        let environments: [String: String]
        let requesters: [String]
        let deployers: [String: [String]]?
        let approval: DSSEEnvelope?
    }
    struct Recorded: ResponseEncodable {
        struct Entry: Codable { let sequence: UInt64; let kind: String }
        let entries: [Entry]
        let request: String?
    }
    struct GateResponse: ResponseEncodable {
        struct Reason: Codable { let rule: String; let message: String }
        let allowed: Bool
        let request: String
        let environment: String
        let digest: String
        let reasons: [Reason]
    }
    struct RequestSummary: Codable {
        let request: String
        let project: String
        let environment: String
        let stage: String
        let status: String
        let bundle: String
        let digest: String
    }
    struct RequestList: ResponseEncodable { let requests: [RequestSummary] }

    /// The exact message a user signs to log in: domain-separated from every other signature Signoff uses.
    static func loginMessage(origin: String, user: String, challenge: String) -> [UInt8] {
        Array("signoff-login-v1\n\(origin)\n\(user)\n\(challenge)\n".utf8)
    }

    // MARK: Helpers

    func principal(_ context: SignoffRequestContext) throws -> String {
        guard let token = context.token else { throw Problem.unauthorized("this operation needs a bearer token") }
        return token.principal
    }

    /// Service tokens may only do what their scopes say: `ACTION:PROJECT` (or `ACTION:*`).
    func requireScope(_ action: String, project: String, _ context: SignoffRequestContext) throws {
        guard let token = context.token, token.kind == .service else { return }
        guard token.scopes.contains("\(action):\(project)") || token.scopes.contains("\(action):*") else {
            throw Problem.forbidden("this service token may not \(action) for project \(project) (its scopes: \(token.scopes.joined(separator: ", ")))", rule: "token.scope")
        }
    }

    func digest(_ text: String, field: String) throws -> SHA256Digest {
        do { return try SHA256Digest(parsing: text) } catch { throw Problem.badRequest("\(field): \(error.message)") }
    }

    func verifierKey(_ text: String, field: String) throws -> NoteVerifierKey {
        do { return try NoteVerifierKey(parsing: text) } catch { throw Problem.badRequest("\(field): \(error.message)") }
    }

    func run(_ command: Command, _ context: SignoffRequestContext, request id: String? = nil) async throws -> Recorded {
        switch try await database.execute(command, as: try principal(context)) {
        case .success(let entries):
            var id = id
            if id == nil, let first = entries.first, case .requestFiled(let filed)? = try? Event.decode(kind: first.kind, payload: first.payload) {
                id = filed.id
            }
            return Recorded(entries: entries.map { .init(sequence: $0.sequence, kind: $0.kind) }, request: id)
        case .failure(let refusal):
            throw Problem.refused(refusal)
        }
    }

    /// The request, if the caller may read its project; 404 otherwise (so that ids do not leak across projects).
    func readable(_ id: String, _ context: SignoffRequestContext, action: String = "read") async throws -> (DeploymentRequest, SignoffState) {
        let state = try await database.state()
        let caller = try principal(context)
        guard let request = state.requests[id], Access.mayRead(project: request.project, principal: caller, state: state) else {
            throw Problem.notFound("no request \(id) that you may read")
        }
        try requireScope(action, project: request.project, context)
        return (request, state)
    }

    func requestID(_ context: SignoffRequestContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw Problem.badRequest("missing request id") }
        return id
    }

    // MARK: Routes

    func addRoutes(to router: Router<SignoffRequestContext>) {
        router.get("/healthz") { _, _ in ["status": "ok"] }
        router.get("/readyz") { _, _ -> [String: String] in
            _ = try await ledger.size()
            return ["status": "ready"]
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPISpec.yaml)))
        }
        router.post("/v1/auth/challenge") { request, context -> ChallengeResponse in
            let body = try await request.decode(as: ChallengeRequest.self, context: context)
            guard Engine.isValidName(body.user) else { throw Problem.badRequest("user must be a user name (1–63 lowercase letters, digits, '.', '_' or '-')") }
            let (nonce, expires) = try await auth.createChallenge(for: body.user)
            let challenge = Base64.encode(nonce)
            let message = String(decoding: Self.loginMessage(origin: ledger.origin, user: body.user, challenge: challenge), as: UTF8.self)
            return ChallengeResponse(challenge: challenge, message: message, expires_at: Timestamps.rfc3339(expires))
        }
        router.post("/v1/auth/token") { request, context -> TokenResponse in
            let body = try await request.decode(as: TokenRequest.self, context: context)
            guard let nonce = Base64.decodeStandard(body.challenge), let signature = Base64.decodeLenient(body.signature) else {
                throw Problem.badRequest("challenge and signature must be base64")
            }
            let failed = Problem.unauthorized("the challenge is unknown, used or expired, or the signature is not by a valid key of \(body.user)")
            guard try await auth.consumeChallenge(nonce, for: body.user) else { throw failed }
            let state = try await database.state()
            let now = database.now
            guard let person = state.principals[body.user], person.kind == .user else { throw failed }
            let message = Self.loginMessage(origin: ledger.origin, user: body.user, challenge: body.challenge)
            guard person.keys.contains(where: { $0.isValid(at: now) && ($0.publicKey?.isValidSignature(signature, for: message) ?? false) }) else { throw failed }
            let issued = try await auth.issueToken(for: body.user, kind: .session, scopes: [], lifetimeMilliseconds: configuration.sessionLifetimeMilliseconds)
            context.logger.info("login", metadata: ["user": .string(body.user), "token_id": .string(issued.record.id)])
            return TokenResponse(token: issued.token, token_id: issued.record.id, expires_at: Timestamps.rfc3339(issued.record.expiresAt))
        }

        let v1 = router.group("/v1").add(middleware: BearerAuthentication(auth: auth))
        v1.post("/auth/revoke") { _, context -> Response in
            if let id = context.token?.id { try await auth.revoke(tokenID: id) }
            return Response(status: .noContent)
        }
        v1.post("/service-tokens") { request, context -> TokenResponse in
            let body = try await request.decode(as: ServiceTokenRequest.self, context: context)
            let state = try await database.state()
            guard state.principals[try principal(context)]?.isAdministrator == true, context.token?.kind == .session else {
                throw Problem.forbidden("only an administrator, logged in, may create service tokens", rule: "admin.required")
            }
            guard state.principals[body.service_account]?.kind == .serviceAccount else {
                throw Problem.notFound("no service account \(body.service_account)")
            }
            let actions = ["read", "request", "evidence", "deploy", "gate"]
            for scope in body.scopes {
                let parts = scope.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, actions.contains(parts[0]), parts[1] == "*" || state.projects[parts[1]] != nil else {
                    throw Problem.badRequest("scope \(scope) must be ACTION:PROJECT with ACTION one of \(actions.joined(separator: ", ")) and a known project (or *)")
                }
            }
            guard !body.scopes.isEmpty else { throw Problem.badRequest("a service token needs at least one scope") }
            let hours = min(max(body.ttl_hours ?? 24, 1), 24 * 90)
            let issued = try await auth.issueToken(
                for: body.service_account, kind: .service, scopes: body.scopes.sorted(), lifetimeMilliseconds: Int64(hours) * 3_600_000)
            return TokenResponse(token: issued.token, token_id: issued.record.id, expires_at: Timestamps.rfc3339(issued.record.expiresAt))
        }

        // Administration: the engine checks that the caller is an administrator.
        v1.post("/users") { request, context -> Recorded in
            let body = try await request.decode(as: UserRequest.self, context: context)
            let key = try body.verifier_key.map { try verifierKey($0, field: "verifier_key") }
            return try await run(.addUser(name: body.name, administrator: body.administrator ?? false, key: key), context)
        }
        v1.post("/users/{name}/keys") { request, context -> Recorded in
            let body = try await request.decode(as: KeyRequest.self, context: context)
            let name = context.parameters.get("name") ?? ""
            return try await run(.enrollKey(principal: name, key: try verifierKey(body.verifier_key, field: "verifier_key"), approval: body.approval), context)
        }
        v1.delete("/users/{name}/keys/{fingerprint}") { _, context -> Recorded in
            try await run(.revokeKey(principal: context.parameters.get("name") ?? "", fingerprint: context.parameters.get("fingerprint") ?? ""), context)
        }
        v1.post("/service-accounts") { request, context -> Recorded in
            let body = try await request.decode(as: UserRequest.self, context: context)
            let key = try body.verifier_key.map { try verifierKey($0, field: "verifier_key") }
            return try await run(.addServiceAccount(name: body.name, key: key), context)
        }
        v1.post("/groups") { request, context -> Recorded in
            try await run(.createGroup(name: try await request.decode(as: GroupRequest.self, context: context).name), context)
        }
        v1.post("/groups/{name}/members") { request, context -> Recorded in
            let body = try await request.decode(as: MemberRequest.self, context: context)
            return try await run(.addMember(group: context.parameters.get("name") ?? "", member: body.member, approval: body.approval), context)
        }
        v1.post("/workflows") { request, context -> Recorded in
            let body = try await request.decode(as: WorkflowRequest.self, context: context)
            return try await run(.applyWorkflow(source: body.source, file: body.file ?? "workflow.yaml"), context)
        }
        v1.post("/projects") { request, context -> Recorded in
            let b = try await request.decode(as: ProjectRequest.self, context: context)
            let spec = ProjectSpec(key: b.key, regulated: b.regulated ?? false, environments: b.environments, requesters: b.requesters, deployers: b.deployers ?? [:])
            return try await run(.createProject(spec, approval: b.approval), context)
        }

        // Requests.
        v1.get("/requests") { request, context -> RequestList in
            let state = try await database.state()
            let caller = try principal(context)
            let project = request.uri.queryParameters.get("project")
            let wanted = request.uri.queryParameters.get("state")
            let rows = state.requests.values.filter { r in
                Access.mayRead(project: r.project, principal: caller, state: state)
                    && (context.token?.kind != .service || (try? requireScope("read", project: r.project, context)) != nil)
                    && (project == nil || r.project == project) && (wanted == nil || r.status.rawValue == wanted || (r.status == .active && r.stage == wanted))
            }.sorted { (Int($0.id.dropFirst(4)) ?? 0) < (Int($1.id.dropFirst(4)) ?? 0) }
            return RequestList(requests: rows.map {
                RequestSummary(request: $0.id, project: $0.project, environment: $0.environment, stage: $0.stage, status: $0.status.rawValue,
                    bundle: $0.bundle, digest: $0.digest.description)
            })
        }
        v1.post("/requests") { request, context -> EditedResponse<Recorded> in
            let b = try await request.decode(as: FileRequest.self, context: context)
            try requireScope("request", project: b.project, context)
            let recorded = try await run(
                .fileRequest(project: b.project, environment: b.environment, bundle: b.bundle, digest: try digest(b.digest, field: "digest"), description: b.description ?? ""),
                context)
            return EditedResponse(status: .created, response: recorded)
        }
        v1.get("/requests/{id}") { _, context -> Response in
            let (request, _) = try await readable(try requestID(context), context)
            return try jsonResponse(request)
        }
        v1.get("/requests/{id}/explain") { _, context -> Response in
            let (request, state) = try await readable(try requestID(context), context)
            return try jsonResponse(Engine.explain(request.id, state: state, now: database.now))
        }
        v1.get("/requests/{id}/gate") { httpRequest, context -> GateResponse in
            let (request, state) = try await readable(try requestID(context), context, action: "gate")
            guard let environment = httpRequest.uri.queryParameters.get("environment"), let text = httpRequest.uri.queryParameters.get("digest") else {
                throw Problem.badRequest("gate needs ?environment=ENV&digest=sha256:HEX")
            }
            let d = try digest(text, field: "digest")
            let reasons = Engine.deployRefusals(request, environment: environment, digest: d, state: state, actor: nil, now: database.now)
            return GateResponse(allowed: reasons.isEmpty, request: request.id, environment: environment, digest: d.description,
                reasons: reasons.map { .init(rule: $0.rule, message: $0.message) })
        }
        v1.post("/requests/{id}/evidence") { httpRequest, context -> Recorded in
            let id = try requestID(context)
            let (request, _) = try await readable(id, context, action: "evidence")
            let b = try await httpRequest.decode(as: EvidenceRequest.self, context: context)
            return try await run(.attachEvidence(request: request.id, kind: b.kind, status: b.status, digest: try digest(b.digest, field: "digest")), context, request: id)
        }
        v1.post("/requests/{id}/decisions") { httpRequest, context -> Recorded in
            let id = try requestID(context)
            let (request, _) = try await readable(id, context, action: "decide")
            let b = try await httpRequest.decode(as: DecisionRequest.self, context: context)
            return try await run(.decide(request: request.id, stage: b.stage, decision: b.decision, comment: b.comment ?? "", envelope: b.envelope), context, request: id)
        }
        v1.post("/requests/{id}/revisions") { httpRequest, context -> Recorded in
            let id = try requestID(context)
            let (request, _) = try await readable(id, context, action: "request")
            let b = try await httpRequest.decode(as: RevisionRequest.self, context: context)
            return try await run(.revise(request: request.id, bundle: b.bundle, digest: try digest(b.digest, field: "digest")), context, request: id)
        }
        v1.post("/requests/{id}/withdraw") { httpRequest, context -> Recorded in
            let id = try requestID(context)
            let (request, _) = try await readable(id, context, action: "request")
            let b = try await httpRequest.decode(as: WithdrawRequest.self, context: context)
            return try await run(.withdraw(request: request.id, reason: b.reason ?? ""), context, request: id)
        }
        v1.post("/requests/{id}/deployments") { httpRequest, context -> Recorded in
            let id = try requestID(context)
            let (request, _) = try await readable(id, context, action: "deploy")
            let b = try await httpRequest.decode(as: DeploymentRequestBody.self, context: context)
            return try await run(.recordDeployment(request: request.id, outcome: b.outcome, note: b.note ?? ""), context, request: id)
        }
        v1.post("/requests/{id}/retrospective") { httpRequest, context -> Recorded in
            let id = try requestID(context)
            let (request, _) = try await readable(id, context)
            let b = try await httpRequest.decode(as: RetrospectiveRequest.self, context: context)
            return try await run(.recordRetrospective(request: request.id, comment: b.comment), context, request: id)
        }
        v1.get("/workflows/{name}") { _, context -> Response in
            let state = try await database.state()
            let name = context.parameters.get("name") ?? ""
            guard let digest = state.currentWorkflows[name], let applied = state.workflows[digest] else {
                throw Problem.notFound("no workflow \(name) is applied")
            }
            return try jsonResponse(["name": name, "digest": digest.description, "source": applied.source])
        }
        v1.get("/ledger-key") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: ledger.verifierKey.description + "\n")))
        }
        v1.get("/audit/export") { request, context -> Response in
            let state = try await database.state()
            let caller = try principal(context)
            let query = request.uri.queryParameters
            let project = query.get("project")
            let everything = state.principals[caller]?.isAdministrator == true || state.isMember(caller, of: Access.auditorsGroup)
            guard everything || (project.map { Access.mayRead(project: $0, principal: caller, state: state) } ?? false) else {
                throw Problem.forbidden(project == nil ? "exporting every project needs an administrator or a member of auditors; name a --project you may read" : "you may not read project \(project!)")
            }
            if let project { try requireScope("read", project: project, context) } else if context.token?.kind == .service {
                throw Problem.forbidden("a service token exports one project at a time", rule: "token.scope")
            }
            func time(_ key: String) throws -> Int64? {
                guard let text = query.get(key) else { return nil }
                guard let ms = Timestamps.milliseconds(rfc3339: text) else { throw Problem.badRequest("\(key) must be an RFC 3339 time") }
                return ms
            }
            let filter = AuditExportFilter(project: project, environment: query.get("environment"), since: try time("since"), until: try time("until"))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("signoff-export-\(UUID().uuidString)")
            // Cut the export against a checkpoint that covers everything appended so far.
            try await ledger.signCheckpoint()
            _ = try await database.exportAudit(filter: filter, to: directory)
            let files = (FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []).filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }.sorted()
            // Streamed: one file at a time, then the folder is removed.
            let body = ResponseBody { writer in
                defer { try? FileManager.default.removeItem(at: directory) }
                for file in files {
                    let data = try Data(contentsOf: directory.appendingPathComponent(file))
                    try await writer.write(ByteBuffer(bytes: Tar.header(path: file, size: data.count)))
                    try await writer.write(ByteBuffer(bytes: data))
                    try await writer.write(ByteBuffer(bytes: Tar.padding(size: data.count)))
                }
                try await writer.write(ByteBuffer(bytes: Tar.end))
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "application/x-tar"], body: body)
        }
        v1.get("/checkpoint") { _, _ -> Response in
            guard let checkpoint = try await ledger.latestCheckpoint() else { throw Problem.notFound("the ledger has no signed checkpoint yet") }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: checkpoint.serialized)))
        }
    }

    func jsonResponse(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
