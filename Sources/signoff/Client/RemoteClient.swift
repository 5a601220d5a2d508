import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import Synchronization

/// JSON over HTTP to a Signoff server. Redirects are never followed, so a token never reaches another origin.
struct HTTPTransport: Sendable {
    let server: URL

    private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
            completionHandler: @escaping (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }

    private static let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)

    /// This invocation's idempotency keys: one per mutating call, `UUID-n`, the same on each retry of that call.
    private static let invocation = UUID().uuidString.lowercased()
    private static let calls = Mutex(0)

    static func nextIdempotencyKey() -> String {
        "\(invocation)-\(calls.withLock { $0 += 1; return $0 })"
    }

    /// How often a mutating call is tried when the server cannot be reached or its answer is lost (a connection reset,
    /// a proxy's 502, 503 or 504), and the pauses between tries: the same `Idempotency-Key` each time, so that a call
    /// the server recorded is answered, not recorded again.
    static let retryPauses: [Double] = [0.5, 1, 2]

    /// Sends `request`; a mutating call carries an `Idempotency-Key` and is retried with it after a transport failure
    /// or a gateway's error (``retryPauses``). GETs are not retried here.
    private func perform(_ request: URLRequest) async throws -> (Data, URLResponse) {
        var request = request
        let mutating = request.httpMethod.map { $0 != "GET" && $0 != "HEAD" } ?? false
        guard mutating else { return try await Self.session.data(for: request) }
        request.setValue(Self.nextIdempotencyKey(), forHTTPHeaderField: "Idempotency-Key")
        var attempt = 0
        while true {
            do {
                let (data, response) = try await Self.session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                guard [502, 503, 504].contains(status), attempt < Self.retryPauses.count else { return (data, response) }
                printNotice("the server answered HTTP \(status); trying again with the same Idempotency-Key (\(attempt + 2) of \(Self.retryPauses.count + 1))")
            } catch {
                guard attempt < Self.retryPauses.count else { throw error }
                printNotice(
                    "no answer from \(server.absoluteString) (\(error.localizedDescription)); trying again with the same Idempotency-Key (\(attempt + 2) of \(Self.retryPauses.count + 1))")
            }
            try await Task.sleep(for: .seconds(Self.retryPauses[attempt]))
            attempt += 1
        }
    }

    /// Sends a request; the status and the raw body.
    func send(_ method: String, _ path: String, token: String? = nil, body: (any Encodable)? = nil, timeout: Double = 60) async throws -> (status: Int, data: Data) {
        guard let url = URL(string: path, relativeTo: server) else { throw CLIError.badInput("bad server URL \(server)") }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = try WireCoding.encode(body) }
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await perform(request) } catch {
            throw CLIError.failure("cannot reach \(server.absoluteString): \(error.localizedDescription); is `signoff serve` running there?")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        if (300..<400).contains(status) {
            throw CLIError.failure("the server answered with a redirect (HTTP \(status)); redirects are not followed, so that your token stays with \(server.absoluteString)")
        }
        return (status, data)
    }

    /// PUTs raw bytes (an evidence document).
    func upload(_ path: String, token: String, mediaType: String, body: [UInt8]) async throws -> (status: Int, data: Data) {
        guard let url = URL(string: path, relativeTo: server) else { throw CLIError.badInput("bad server URL \(server)") }
        var request = URLRequest(url: url)
        request.httpMethod = "PUT"
        request.timeoutInterval = 120
        request.setValue(mediaType, forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.httpBody = Data(body)
        let (data, response): (Data, URLResponse)
        do { (data, response) = try await perform(request) } catch {
            throw CLIError.failure("cannot reach \(server.absoluteString): \(error.localizedDescription)")
        }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// Problem details, as the server sends them.
    struct Problem: Decodable {
        let detail: String?
        let rule: String?
    }

    /// The CLI error for an API failure: a refusal keeps its rule and the rule's exit code, bad input is 64, an
    /// expired login a clear instruction to log in again.
    static func failure(status: Int, data: Data) -> CLIError {
        let problem = try? JSONDecoder().decode(Problem.self, from: data)
        // A detail may quote what the caller sent (an ID with a terminal escape, a line break): one line of inert text.
        let detail = problem?.detail.map(oneLine) ?? "HTTP \(status)"
        if let rule = problem?.rule { return CLIError.refused(rule, detail) }
        switch status {
        case 401: return CLIError.failure("\(detail) (run `signoff login` again)")
        case 403: return CLIError(message: "refused: \(detail)", exitCode: ExitStatus.refused)
        case 400, 404, 413, 422: return CLIError.badInput(detail)
        default: return CLIError.failure("the server failed (HTTP \(status)): \(detail)")
        }
    }
}

/// The token `signoff login` keeps, and the server it is for: it is never sent anywhere else.
struct TokenFile: Codable {
    let server: String
    let user: String
    let token: String
    let expires_at: String?

    static func origin(of url: URL) -> String {
        let port = url.port.map { ":\($0)" } ?? ""
        return "\(url.scheme ?? "")://\(url.host ?? "")\(port)"
    }
}

/// The CLI's remote mode: every verb is a call to the API with the token `signoff login` kept. Decisions are still
/// signed here; only the envelope travels.
/// The part of an RFC 9457 problem document the CLI shows.
private struct ProblemDetail: Decodable { let detail: String? }

struct RemoteClient: SignoffClient {
    let transport: HTTPTransport
    let token: String
    let user: String
    /// Whether the token came from `SIGNOFF_TOKEN` (which takes precedence over any login), not a login's token file.
    var fromEnvironment = false

    /// Why this client may not act as `actor`, and what to do: another login, or — when `SIGNOFF_TOKEN` holds the token,
    /// which wins over any login — unsetting it.
    func notActingAs(_ actor: String) -> CLIError {
        if fromEnvironment {
            return CLIError.badInput(
                "SIGNOFF_TOKEN holds \(user)'s token, not \(actor)'s, and it is used before any login: act as \(user) (leave out --as), or unset SIGNOFF_TOKEN and run `signoff login --as \(actor)`")
        }
        return CLIError.badInput("you are logged in to the server as \(user), not \(actor); run `signoff login --as \(actor)`")
    }

    /// A service token given directly (`SIGNOFF_TOKEN`): the account it acts as comes from the server (`/v1/whoami`).
    init(server: URL, bearer: String) async throws {
        transport = HTTPTransport(server: server)
        token = bearer
        let (status, data) = try await transport.send("GET", "/v1/whoami", token: bearer)
        guard (200..<300).contains(status) else {
            if status == 401 {
                // The server's reason when it gives one (an ID token's: its audience, expiry, the rule it matches none of).
                let detail = (try? JSONDecoder().decode(ProblemDetail.self, from: data))?.detail
                throw CLIError.failure("the token in SIGNOFF_TOKEN is not accepted at \(server.absoluteString): \(detail ?? "unknown, expired or revoked")")
            }
            throw HTTPTransport.failure(status: status, data: data)
        }
        guard let me = try? WireCoding.decode(WhoAmI.self, from: data) else { throw CLIError.failure("the server's /v1/whoami answer is malformed") }
        user = me.principal
        fromEnvironment = true
    }

    init(server: URL, tokenFile: String) throws {
        guard let data = FileManager.default.contents(atPath: tokenFile), let record = try? JSONDecoder().decode(TokenFile.self, from: data) else {
            throw CLIError.badInput("not logged in: run `signoff login --server \(server.absoluteString) --as USER --key YOUR.key` first")
        }
        guard let kept = URL(string: record.server), TokenFile.origin(of: kept) == TokenFile.origin(of: server) else {
            throw CLIError.badInput(
                "the token in \(tokenFile) is for \(record.server), not \(server.absoluteString); it is never sent elsewhere: run `signoff login --server \(server.absoluteString)`")
        }
        transport = HTTPTransport(server: server)
        token = record.token
        user = record.user
    }

    var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    private func call(_ method: String, _ path: String, body: (any Encodable)? = nil) async throws -> Data {
        let (status, data) = try await transport.send(method, path, token: token, body: body)
        guard (200..<300).contains(status) else { throw HTTPTransport.failure(status: status, data: data) }
        return data
    }

    private func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let data = try await call("GET", path)
        do { return try WireCoding.decode(T.self, from: data) } catch {
            throw CLIError.failure("the server's answer to \(path) is not the document the API specifies (\(error))")
        }
    }

    func run(_ command: Command, as actor: String, strict: Bool) async throws -> RecordedResponse {
        guard actor == user || actor == ActorOptions.tokenHolder else {
            throw notActingAs(actor)
        }
        guard let endpoint = Endpoint.of(command) else {
            throw CLIError.badInput("a ledger and its first administrator are created with `signoff init` on the server's database")
        }
        let data = try await call(endpoint.method.rawValue, endpoint.path + (strict ? "?strict=true" : ""), body: endpoint.body)
        return try WireCoding.decode(RecordedResponse.self, from: data)
    }

    func request(_ id: String) async throws -> RequestView {
        try await get("/v1/requests/\(WireCoding.pathSegment(id))", as: RequestView.self)
    }

    func issuers() async throws -> [IssuerView] { try await get("/v1/issuers", as: ItemList<IssuerView>.self).items }

    func accessReview(project: String, environment: String?, at: Int64?, from: Int64?, to: Int64?, as actor: String) async throws -> AccessReviewView {
        let query = WireCoding.query([
            ("environment", environment), ("at", at.map(Timestamps.rfc3339)), ("from", from.map(Timestamps.rfc3339)), ("to", to.map(Timestamps.rfc3339)),
        ])
        return try await get("/v1/projects/\(WireCoding.pathSegment(project))/access-review" + query, as: AccessReviewView.self)
    }

    func directories() async throws -> [DirectoryView] { try await get("/v1/directories", as: ItemList<DirectoryView>.self).items }

    func freezes() async throws -> [FreezeView] { try await get("/v1/freezes", as: ItemList<FreezeView>.self).items }

    func delegations() async throws -> [DelegationView] { try await get("/v1/delegations", as: ItemList<DelegationView>.self).items }

    func explain(_ id: String, as actor: String) async throws -> ExplanationView {
        try await get("/v1/requests/\(WireCoding.pathSegment(id))/explain", as: ExplanationView.self)
    }

    func requests(_ query: RequestQuery) async throws -> [RequestSummary] {
        try await get("/v1/requests" + query.queryString, as: RequestList.self).requests
    }

    var longPolls: Bool { true }

    func gate(_ target: GateTarget, environment: String, digest: SHA256Digest, wait: Int) async throws -> GateResponse {
        var query: [(String, String?)] = [("environment", environment), ("digest", digest.description)]
        if wait > 0 { query.append(("wait", String(wait))) }
        let path: String
        switch target {
        case .request(let id): path = "/v1/requests/\(WireCoding.pathSegment(id))/gate"
        case .project(let project):
            path = "/v1/gate"
            query.insert(("project", project), at: 0)
        }
        let (status, data) = try await transport.send("GET", path + WireCoding.query(query), token: token, timeout: Double(wait) + 30)
        // The server holds as many long polls as it will (429, Retry-After: 10): spend the wait here, then look once.
        if status == 429 && wait > 0 {
            try await Task.sleep(for: .seconds(min(wait, 10)))
            return try await gate(target, environment: environment, digest: digest, wait: 0)
        }
        // No request, or several: the caller's input to fix (64), with the server's list of candidates.
        if status == 404 || status == 409, case .project = target {
            throw CLIError.badInput((try? JSONDecoder().decode(HTTPTransport.Problem.self, from: data))?.detail ?? "HTTP \(status)")
        }
        guard (200..<300).contains(status) else { throw HTTPTransport.failure(status: status, data: data) }
        do { return try WireCoding.decode(GateResponse.self, from: data) } catch {
            throw CLIError.failure("the server's answer to \(path) is not the document the API specifies (\(error))")
        }
    }

    func file(_ command: Command, reuse: Bool, as actor: String) async throws -> RecordedResponse {
        guard case .fileRequest(let project, let environment, let bundle, let digest, let description, let labels, let reason, let source) = command else {
            return try await run(command, as: actor)
        }
        guard actor == user || actor == ActorOptions.tokenHolder else {
            throw notActingAs(actor)
        }
        var body = FileRequestBody(
            project: project, environment: environment, bundle: bundle, digest: digest.description, description: description,
            labels: labels.isEmpty ? nil : labels, emergency_reason: reason, source: source)
        body.reuse = reuse
        return try WireCoding.decode(RecordedResponse.self, from: try await call("POST", "/v1/requests", body: body))
    }

    func deployments(project: String?, environment: String?) async throws -> [EnvironmentInventory] {
        try await get("/v1/deployments" + WireCoding.query([("project", project), ("environment", environment)]), as: ItemList<EnvironmentInventory>.self).items
    }

    func inbox(as actor: String) async throws -> [InboxItem] { try await get("/v1/inbox", as: ItemList<InboxItem>.self).items }

    func webhooks() async throws -> [WebhookView] { try await get("/v1/webhooks", as: ItemList<WebhookView>.self).items }

    func uploadEvidence(_ request: String, digest: SHA256Digest, mediaType: String, content: [UInt8], as actor: String) async throws {
        let (status, data) = try await transport.upload(
            "/v1/requests/\(WireCoding.pathSegment(request))/evidence-documents/\(WireCoding.pathSegment(digest.description))", token: token, mediaType: mediaType,
            body: content)
        guard (200..<300).contains(status) else { throw HTTPTransport.failure(status: status, data: data) }
    }

    func addWebhook(_ command: Command, as actor: String) async throws -> WebhookCreated {
        guard actor == user || actor == ActorOptions.tokenHolder else { throw CLIError.badInput("you are logged in to the server as \(user), not \(actor)") }
        guard let endpoint = Endpoint.of(command) else { throw CLIError.failure("not a webhook subscription") }
        return try WireCoding.decode(WebhookCreated.self, from: try await call(endpoint.method.rawValue, endpoint.path, body: endpoint.body))
    }

    func deliveries(subscription: String?, status: String?, limit: Int) async throws -> [DeliveryView] {
        try await get(
            "/v1/webhooks/deliveries" + WireCoding.query([("subscription", subscription), ("status", status), ("limit", String(limit))]), as: ItemList<DeliveryView>.self
        ).items
    }

    func delivery(_ id: String) async throws -> DeliveryView { try await get("/v1/webhooks/deliveries/\(WireCoding.pathSegment(id))", as: DeliveryView.self) }

    func redeliver(_ id: String, as actor: String) async throws {
        _ = try await call("POST", "/v1/webhooks/deliveries/\(WireCoding.pathSegment(id))/redeliver", body: ApprovalBody(approval: nil))
    }

    func enableWebhook(_ id: String, as actor: String) async throws {
        _ = try await call("POST", "/v1/webhooks/\(WireCoding.pathSegment(id))/enable", body: ApprovalBody(approval: nil))
    }

    func setChatHandles(_ handles: ChatHandles, of name: String, as actor: String) async throws -> ChatHandlesView {
        let data = try await call("PUT", "/v1/users/\(WireCoding.pathSegment(name))/chat", body: ChatHandlesBody(slack: handles.slack, teams: handles.teams))
        return try WireCoding.decode(ChatHandlesView.self, from: data)
    }

    func webhookPublicKey() async throws -> String {
        struct Key: Decodable { let public_key: String }
        return try await get("/v1/webhooks/signing-key", as: Key.self).public_key
    }

    func workflow(_ name: String) async throws -> WorkflowResponse {
        try await get("/v1/workflows/\(WireCoding.pathSegment(name))", as: WorkflowResponse.self)
    }

    func checkpoint(sign: Bool) async throws -> SignedCheckpoint {
        guard !sign else { throw CLIError.badInput("--sign works on the server's database; the server signs checkpoints itself") }
        let text = String(decoding: try await call("GET", "/v1/checkpoint"), as: UTF8.self)
        do { return try SignedCheckpoint(parsed: try SignedNote(parsing: text)) } catch {
            throw CLIError.failure("the server's checkpoint is not a signed note: \(error)")
        }
    }

    func ledgerKey() async throws -> NoteVerifierKey {
        let text = String(decoding: try await call("GET", "/v1/ledger-key"), as: UTF8.self)
        do { return try NoteVerifierKey(parsing: text.trimmingCharacters(in: .newlines)) } catch {
            throw CLIError.failure("the server's ledger key is malformed: \(error)")
        }
    }

    func principals(kind: Principal.Kind) async throws -> [PrincipalView] {
        try await get(kind == .user ? "/v1/users" : "/v1/service-accounts", as: ItemList<PrincipalView>.self).items
    }

    func principal(_ name: String) async throws -> PrincipalView {
        try await get("/v1/principals/\(WireCoding.pathSegment(name))", as: PrincipalView.self)
    }

    func groups() async throws -> [GroupView] { try await get("/v1/groups", as: ItemList<GroupView>.self).items }

    func group(_ name: String) async throws -> GroupView { try await get("/v1/groups/\(WireCoding.pathSegment(name))", as: GroupView.self) }

    func projects() async throws -> [ProjectView] { try await get("/v1/projects", as: ItemList<ProjectView>.self).items }

    func project(_ key: String) async throws -> ProjectView { try await get("/v1/projects/\(WireCoding.pathSegment(key))", as: ProjectView.self) }

    func workflows() async throws -> [WorkflowResponse] { try await get("/v1/workflows", as: ItemList<WorkflowResponse>.self).items }

    func tokens(as actor: String) async throws -> [TokenView] { try await get("/v1/tokens", as: ItemList<TokenView>.self).items }

    func revokeToken(_ id: String, approval: DSSEEnvelope?, as actor: String) async throws -> TokenView {
        try WireCoding.decode(TokenView.self, from: try await call("POST", "/v1/tokens/\(WireCoding.pathSegment(id))/revoke", body: ApprovalBody(approval: approval)))
    }

    func createServiceToken(_ command: Command, as actor: String) async throws -> TokenResponse {
        guard actor == user || actor == ActorOptions.tokenHolder else { throw CLIError.badInput("you are logged in to the server as \(user), not \(actor)") }
        guard let endpoint = Endpoint.of(command) else { throw CLIError.failure("not a service token issue") }
        return try WireCoding.decode(TokenResponse.self, from: try await call(endpoint.method.rawValue, endpoint.path, body: endpoint.body))
    }

    /// The server's own limit (`--evidence-max-bytes`) decides; it answers 413 beyond it.
    var evidenceDocumentLimit: Int? { nil }

    func exportAudit(_ filter: AuditExportFilter, documents: Bool, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)?) async throws -> AuditReport {
        let query = WireCoding.query([
            ("project", filter.project), ("environment", filter.environment), ("since", filter.since.map(Timestamps.rfc3339)),
            ("until", filter.until.map(Timestamps.rfc3339)), ("documents", documents ? "true" : nil),
        ])
        let archive = try await call("GET", "/v1/audit/export" + query)
        let files: Int
        do { files = try Tar.extract([UInt8](archive), into: directory) } catch let error as Tar.ReadError { throw CLIError.failure(error.description) }
        var report = AuditReport.describing(directory)
        report.files = files
        return report
    }
}

extension AuditReport {
    /// The counts an export folder states about itself (its manifest, read without checking its signature; and
    /// decisions.csv), before verification.
    static func describing(_ directory: URL) -> AuditReport {
        struct Manifest: Decodable {
            let checkpoint_size: UInt64?
            let full_entries: Int?
            let stubs: Int?
        }
        var report = AuditReport()
        if let data = FileManager.default.contents(atPath: directory.appendingPathComponent("MANIFEST.json").path),
            let envelope = try? DSSEEnvelope(json: [UInt8](data.dropLast())),
            let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(envelope.payload))
        {
            report.entries = manifest.full_entries ?? 0
            report.stubs = manifest.stubs ?? 0
            report.checkpointSize = manifest.checkpoint_size ?? 0
        }
        if let csv = FileManager.default.contents(atPath: directory.appendingPathComponent("decisions.csv").path) {
            // Records, not lines: a comment may hold line breaks (inside its quotes).
            report.decisions = max(0, CSVText.records(in: csv) - 1)
        }
        report.documents = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(AuditExportBuilder.documentsFolder).path))?.count ?? 0
        return report
    }
}
