import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffIdentity
import SignoffLedger
import SignoffService

/// What every controller needs: the engine, the authenticator and the configuration, and the checks they share.
/// Authorization is the engine's, from the token's principal, never from anything the client claims.
struct Handlers: Sendable {
    let service: SignoffService
    let auth: Authenticator
    let configuration: ServerConfiguration
    let metrics: SignoffMetrics
    /// Inbox candidates and the inventory, per state (not rebuilt by every page load).
    let views = StateViews()
    /// Login challenges per address, and failed logins per name and per address.
    let challengesPerAddress: RateLimiter
    let failuresPerName: RateLimiter
    let failuresPerAddress: RateLimiter
    /// Gate long polls in flight, capped per principal and in all.
    let waiters: WaiterSlots
    /// The one OpenID Connect ID-token verifier: pipelines' bearer tokens and the console's single sign-on.
    let identity: IDTokenVerifier

    init(service: SignoffService, auth: Authenticator, configuration: ServerConfiguration, metrics: SignoffMetrics) {
        self.metrics = metrics
        self.service = service
        self.auth = auth
        self.configuration = configuration
        let store = service.storage.coordination
        let clock: @Sendable () -> Int64 = { [service] in service.now }
        challengesPerAddress = RateLimiter(
            name: "login-challenge-address", limit: configuration.challengesPerAddressPerMinute, windowMilliseconds: 60_000, store: store, clock: clock)
        failuresPerName = RateLimiter(
            name: "login-failure-name", limit: configuration.failedLoginsPerNamePerFiveMinutes, windowMilliseconds: 300_000, store: store, clock: clock)
        failuresPerAddress = RateLimiter(
            name: "login-failure-address", limit: configuration.failedLoginsPerAddressPerFiveMinutes, windowMilliseconds: 300_000, store: store, clock: clock)
        waiters = WaiterSlots(perPrincipal: configuration.maximumWaitersPerPrincipal, total: configuration.maximumWaiters)
        identity = IDTokenVerifier(store: store, clock: clock)
    }

    /// A bundle's source as a call declares it, with what the caller's verified ID token says over it (a pipeline's):
    /// `verified_by` is never declared, and a field the token covers must agree with the declaration.
    func source(_ declared: BundleSource?, _ context: SignoffRequestContext) throws -> BundleSource? {
        if declared?.verifiedBy != nil { throw Problem.badRequest("source.verified_by is set by the server from a verified ID token, never declared") }
        guard let pipeline = context.pipeline else { return declared }
        let verified = BundleSource.fromClaims(pipeline.claims, issuer: pipeline.issuer)
        switch (declared ?? BundleSource()).merged(withVerified: verified) {
        case .success(let merged): return merged
        case .failure(let refusal): throw Problem.badRequest(refusal.description)
        }
    }

    var ledger: any LedgerStore { service.ledger }

    func principal(_ context: SignoffRequestContext) throws -> String {
        guard let token = context.token else { throw Problem.unauthorized("this operation needs a bearer token") }
        return token.principal
    }

    /// Service tokens may only do what their scopes say: `ACTION:PROJECT` (or `ACTION:*`).
    func requireScope(_ action: String, project: String, _ context: SignoffRequestContext) throws {
        guard let token = context.token, token.kind == .service else { return }
        guard token.scopes.contains("\(action):\(project)") || token.scopes.contains("\(action):*") else {
            throw Problem.forbidden(
                "this service token may not \(action) for project \(project) (its scopes: \(token.scopes.joined(separator: ", ")))", rule: .tokenScope)
        }
    }

    func digest(_ text: String, field: String) throws -> SHA256Digest {
        do { return try SHA256Digest(parsing: text) } catch { throw Problem.badRequest("\(field): \(error.message)") }
    }

    func verifierKey(_ text: String, field: String) throws -> NoteVerifierKey {
        do { return try NoteVerifierKey(parsing: text) } catch { throw Problem.badRequest("\(field): \(error.message)") }
    }

    /// Runs a command as the caller; a refusal becomes problem details with its rule.
    /// Runs `command` for the caller; with `token`, stores it in the same unit of work as the command's entries.
    /// With an `Idempotency-Key` (``IdempotencyClaim``), the key is recorded with the entries and the answer made from
    /// them: the command's recorded entries with `status`, unless `answer` makes another.
    func run(
        _ command: Command, _ context: SignoffRequestContext, storing token: Authenticator.MintedToken? = nil, status: HTTPResponse.Status = .ok,
        strict: Bool = false, answer: (@Sendable ([LedgerEntry]) throws -> IdempotentAnswer)? = nil
    ) async throws -> RecordedResponse {
        if let token = context.token, token.isKeyless, let refusal = Self.unsignedFromKeylessSession(command, state: try await service.state(), actor: token.principal) {
            metrics.refusal(refusal.rule)
            throw Problem.refused(refusal)
        }
        // Nobody left to act: said with the answer, or refused when the caller asked for strictness.
        let gaps = try await service.staffingGaps(command, as: try principal(context))
        if strict, !gaps.isEmpty {
            metrics.refusal(RefusalRule.staffingGap.name)
            throw Problem.refused(Staffing.refusal(gaps))
        }
        let call = context.idempotency?.call(
            answer: answer ?? { entries in
                IdempotentAnswer(status: Int(status.code), mediaType: "application/json", body: Array(try WireCoding.encode(RecordedResponse(entries: entries, command: command))))
            })
        switch try await service.execute(command, as: try principal(context), storing: token, idempotency: call) {
        case .success(let entries):
            var recorded = RecordedResponse(entries: entries, command: command)
            if !gaps.isEmpty { recorded.warnings = gaps.map(\.description) }
            return recorded
        case .failure(let refusal):
            metrics.refusal(refusal.rule)
            throw Problem.refused(refusal)
        }
    }

    /// Identity says who you are; your key still signs. A session no key obtained (single sign-on) decides, delegates,
    /// reviews in retrospect and administers only with envelopes signed by a key: unsigned, each is refused here,
    /// whatever the project or the ledger would allow a key login's session.
    static func unsignedFromKeylessSession(_ command: Command, state: SignoffState, actor: String) -> Refusal? {
        let why = "this session came from single sign-on, with no key behind it"
        switch command {
        case .decide(_, _, _, _, nil, _), .recordRetrospective(_, _, nil), .delegate(_, nil):
            return Refusal(.signatureRequired, "\(why): decide with your own key (the console signs in this browser once its key is enrolled; the CLI: --key)")
        default:
            guard command.approval == nil, Engine.isAdministrative(command, state: state, actor: actor) else { return nil }
            return Refusal(.adminSignatureRequired, "\(why): an administrative change from it is signed with an administrator's key (--key)")
        }
    }

    /// Runs `command` for the caller and answers with its recorded entries (and `status`).
    func respond(_ command: Command, _ context: SignoffRequestContext, status: HTTPResponse.Status = .ok, strict: Bool = false) async throws -> Response {
        try json(try await run(command, context, status: status, strict: strict), status: status)
    }

    /// The answer a replayed call gets where the first one showed a secret, which is never kept: a problem naming what
    /// the first call made.
    static func secretShownOnce(_ detail: String) -> IdempotentAnswer {
        let object: [String: Any] = [
            "type": "https://signoff.dev/problems/refused", "title": "Refused by policy", "status": 409, "detail": detail, "rule": RefusalRule.idempotencyInUse.name,
        ]
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return IdempotentAnswer(status: 409, mediaType: "application/problem+json", body: Array(body))
    }

    /// The request, if the caller may read its project; 404 otherwise (so that ids do not leak across projects).
    func readable(_ id: String, _ context: SignoffRequestContext, action: String = "read") async throws -> (DeploymentRequest, SignoffState) {
        // The directory from the service's cache (read again only when the ledger moved) and this one request.
        let state = try await service.state(focusedOn: id)
        let caller = try principal(context)
        guard let request = state.requests[id], Access.mayRead(project: request.project, principal: caller, state: state, now: service.now) else {
            throw Problem.notFound("no request \(id) that you may read")
        }
        // A service token with no scope on the request's project learns nothing of it, as for a request that does not exist.
        if let token = context.token, token.kind == .service,
            !Access.scopes(token.scopes, concern: request.project)
        {
            throw Problem.notFound("no request \(id) that you may read")
        }
        try requireScope(action, project: request.project, context)
        return (request, state)
    }

    /// The longest a gate long poll holds: under the 60 s that HTTP clients and proxies commonly allow a request.
    static let longestWait = 50

    /// `?wait=SECONDS` of a long poll: 0 (answer now) to ``longestWait``.
    func waitParameter(_ text: String?) throws -> Duration {
        guard let text else { return .zero }
        guard let seconds = Int(text), (0...Self.longestWait).contains(seconds) else {
            throw Problem.badRequest("wait must be a number of seconds from 0 to \(Self.longestWait); ask again for longer")
        }
        return .seconds(seconds)
    }

    /// When a waiter turned away by a cap may ask again: long polls end within ``longestWait`` seconds, most much sooner.
    static let waiterRetryAfterSeconds = 10

    /// A long poll of the gate: answers as soon as the answer is final (allowed, or the request closed), else when `wait`
    /// is over. Woken by every commit of this server; other writers (a CLI on the same database) and the clock (a
    /// window opening, a freeze ending) are seen within two seconds. A waiter holds a continuation, not a thread, and a
    /// slot of ``waiters``: past the caller's cap or the server's, the answer is 429 with `Retry-After` at once, and the
    /// connection is closed after it. `wait=0` is never capped.
    func gate(wait: Duration, _ context: SignoffRequestContext, _ evaluate: () async throws -> GateResponse) async throws -> GateResponse {
        guard wait > .zero else { return try await poll(wait: wait, evaluate) }
        do {
            return try await gate(wait: wait, caller: try principal(context), evaluate)
        } catch let problem as Problem where problem.status == .tooManyRequests {
            context.closeConnectionAfterResponse()
            throw problem
        }
    }

    /// ``gate(wait:_:_:)`` for `caller`, holding one of their slots while it waits.
    func gate(wait: Duration, caller: String, _ evaluate: () async throws -> GateResponse) async throws -> GateResponse {
        if let full = waiters.acquire(caller) {
            metrics.waiterRefused()
            let detail =
                switch full {
                case .principal(let cap):
                    "you already hold as many gate long polls as one caller may hold at once (\(cap)): ask again after Retry-After seconds, or without wait (wait=0)"
                case .server(let cap):
                    "the server already holds as many gate long polls as it holds at once (\(cap)): ask again after Retry-After seconds, or without wait (wait=0)"
                }
            var problem = Problem.tooManyRequests(detail, retryAfter: Self.waiterRetryAfterSeconds)
            problem.headers[.connection] = "close"
            throw problem
        }
        defer { waiters.release(caller) }
        return try await poll(wait: wait, evaluate)
    }

    private func poll(wait: Duration, _ evaluate: () async throws -> GateResponse) async throws -> GateResponse {
        let clock = ContinuousClock()
        let deadline = clock.now + wait
        // The same deadline on the ledger's clock: a freeze that ends before it is waited out, one that outlasts it is not.
        let waitingUntil = service.now + Int64(wait.components.seconds) * 1000 + wait.components.attoseconds / 1_000_000_000_000_000
        while true {
            let version = service.changes.version
            let answer = try await evaluate()
            let now = clock.now
            if answer.isFinal(waitingUntil: waitingUntil) || now >= deadline {
                metrics.gateVerdict(project: answer.project, environment: answer.environment, allowed: answer.allowed)
                return answer
            }
            // A server shutting down answers its waiters at once (they ask again, elsewhere or after the restart).
            try? await cancelWhenGracefulShutdown { await service.changes.wait(after: version, timeout: min(deadline - now, .seconds(2))) }
            if Task.isCancelled || Task.isShuttingDownGracefully { return answer }
        }
    }

    /// A path parameter, percent-decoded (`sha256%3A…` is `sha256:…`, as RFC 3986 makes them equivalent).
    func parameter(_ name: String, _ context: SignoffRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else { throw Problem.badRequest("missing \(name)") }
        guard let value = raw.removingPercentEncoding else { throw Problem.badRequest("\(name) is not valid percent-encoding") }
        return value
    }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: try WireCoding.encode(value))))
    }

    /// An evidence document as a download: never rendered by the browser as a page of ours (a sandbox CSP, no sniffing),
    /// a PDF as an attachment.
    static func document(_ document: EvidenceDocument) -> Response {
        let type = document.mediaType.hasPrefix("text/") ? document.mediaType + "; charset=utf-8" : document.mediaType
        let extensions = ["application/pdf": "pdf", "application/json": "json", "text/markdown": "md", "text/plain": "txt"]
        return Response(
            status: .ok,
            headers: [
                .contentType: type, .contentSecurityPolicy: "sandbox; default-src 'none'", .xContentTypeOptions: "nosniff",
                .contentDisposition: "attachment; filename=\"evidence-\(document.digest.hex.prefix(12)).\(extensions[document.mediaType] ?? "xml")\"",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: document.content)))
    }

    func text(_ value: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: value)))
    }
}

extension Handlers {
    /// The access review of `project` for the caller (a session of an administrator, an auditor or one of the project's
    /// administrators), with `environment`, `at`, `from` and `to` from the query.
    func accessReview(project: String, query request: Request, _ context: SignoffRequestContext) async throws -> AccessReviewView {
        let caller = try principal(context)
        let state = try await service.state()
        guard context.token?.kind == .session, AccessReview.mayReview(project: project, principal: caller, state: state) else {
            throw Problem.forbidden("only administrators, auditors and \(project)'s administrators review its access", rule: .adminRequired)
        }
        guard state.projects[project] != nil else { throw Problem.notFound("no project \(project)") }
        let query = request.uri.queryParameters
        func time(_ name: String) throws -> Int64? {
            guard let text = query.get(name), !text.isEmpty else { return nil }
            guard let ms = Timestamps.milliseconds(rfc3339: text) else { throw Problem.badRequest("\(name) must be an RFC 3339 time, e.g. 2026-10-01T00:00:00Z") }
            return ms
        }
        let environment = query.get("environment").flatMap { $0.isEmpty ? nil : $0 }
        if let environment, state.projects[project]?.environments[environment] == nil {
            throw Problem.notFound("\(project) has no environment \(environment)")
        }
        let (from, to) = (try time("from"), try time("to"))
        if let from, let to, from >= to { throw Problem.badRequest("from must be before to") }
        let review = try await service.accessReview(project: project, environment: environment, at: try time("at"), from: from, to: to)
        return AccessReviewView(project: project, environment: environment, now: review.now, then: review.then, period: review.period)
    }

    /// Whether the call asked for strictness (`?strict=true`): a change leaving nobody to act is refused, not only said.
    /// Anything but one `strict=true` or `strict=false` is refused (400), never read as "not strict".
    static func strict(_ request: Request) throws -> Bool {
        let given = request.uri.queryParameters.getAll("strict")
        guard !given.isEmpty else { return false }
        guard given.count == 1, given[0] == "true" || given[0] == "false" else { throw Problem.badRequest("strict is true or false, given once") }
        return given[0] == "true"
    }

    /// The state, when the caller may read the directory (who exists, groups, projects, workflows): an administrator or
    /// a member of `auditors` — or, for `allowing`, that principal themself. Service tokens never.
    func directoryReader(_ context: SignoffRequestContext, allowing own: String? = nil) async throws -> SignoffState {
        let caller = try principal(context)
        let state = try await service.state()
        guard context.token?.kind == .session,
            state.principals[caller]?.isAdministrator == true || state.isMember(caller, of: Access.auditorsGroup) || caller == own
        else {
            throw Problem.forbidden("only administrators and auditors may list who exists and the rules", rule: .adminRequired)
        }
        return state
    }
}
