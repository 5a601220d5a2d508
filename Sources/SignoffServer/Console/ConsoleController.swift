import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// The web console at `/`: server-rendered pages over the same state and the same rules as the API. It reads through
/// the same functions the API uses (``Inbox``, ``Inventory``, ``RequestView``, ``Engine/explain(_:state:now:)``) and
/// changes nothing itself: decisions are DSSE envelopes the browser signs and posts to `/v1/requests/{id}/decisions`.
struct ConsoleController {
    let handlers: Handlers
    let library: MustacheLibrary
    let assets: [String: (type: String, bytes: [UInt8])]

    /// Every console response: scripts and styles only from this origin, no inline ones, no framing, no plugins.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    static let cookieName = "signoff_session"

    /// The console's own routes: HTML pages, its static files, and the cookie login and logout. Not the API (whose
    /// every route is in `schema/openapi.yaml`); the console changes state only through the API.
    static let routes = [
        "GET /", "GET /login", "GET /setup", "GET /inbox", "GET /dashboard", "GET /audit", "GET /requests/{id}", "GET /static/{file}",
        "GET /requests/{id}/evidence/{digest}", "GET /audit/requests/{id}",
        "POST /console/login", "POST /console/logout",
    ]

    init(handlers: Handlers) throws {
        self.handlers = handlers
        var library = MustacheLibrary()
        guard let templates = Bundle.module.url(forResource: "templates", withExtension: nil) else { throw ConsoleError("the console's templates are missing") }
        for file in try FileManager.default.contentsOfDirectory(atPath: templates.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)
            library.register(try MustacheTemplate(string: text), named: String(file.dropLast(".mustache".count)))
        }
        self.library = library
        guard let statics = Bundle.module.url(forResource: "static", withExtension: nil) else { throw ConsoleError("the console's static files are missing") }
        var assets: [String: (String, [UInt8])] = [:]
        for (file, type) in [("console.js", "text/javascript; charset=utf-8"), ("console.css", "text/css; charset=utf-8")] {
            assets[file] = (type, [UInt8](try Data(contentsOf: statics.appendingPathComponent(file))))
        }
        self.assets = assets
    }

    struct ConsoleError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Sessions and CSRF

    /// The per-session CSRF token: derived from the session token (which only the cookie carries), so nothing more is
    /// stored and another site, which cannot read the page, cannot know it.
    static func csrfToken(forSession token: String) -> String {
        Hex.encode(SHA256Digest.hash(Array("signoff-csrf-v1\n\(token)".utf8)).bytes.prefix(16))
    }

    static func sessionCookie(from request: Request) -> String? {
        guard let header = request.headers[.cookie] else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0] == cookieName, !pair[1].isEmpty { return pair[1] }
        }
        return nil
    }

    /// `Set-Cookie` for a session: HttpOnly, SameSite=Strict, Secure when the server's public origin is https.
    func cookie(_ value: String, maxAge: Int) -> String {
        let secure = handlers.configuration.publicURL?.hasPrefix("https://") == true ? "; Secure" : ""
        return "\(Self.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)\(secure)"
    }

    /// The session of a page request: the cookie's token, checked as the API checks a bearer token.
    func session(_ request: Request) async throws -> (record: TokenRecord, token: String)? {
        guard let token = Self.sessionCookie(from: request),
            case .valid(let record) = try await BearerAuthentication.check(token: token, auth: handlers.auth, service: handlers.service), record.kind == .session
        else { return nil }
        return (record, token)
    }

    // MARK: Rendering

    static func headers(_ type: String = "text/html; charset=utf-8") -> HTTPFields {
        [
            .contentType: type, .contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff", .referrerPolicy: "no-referrer",
            .cacheControl: "no-store",
        ]
    }

    func page(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok, extraHeaders: HTTPFields = [:]) -> Response {
        let html = library.render(context, withTemplate: template) ?? "template \(template) is missing"
        var headers = Self.headers()
        headers.append(contentsOf: extraHeaders)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func redirect(_ location: String) -> Response {
        var headers = Self.headers()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    func notFound(_ user: String, csrf: String, _ message: String) -> Response {
        page("error", ["title": "Not found", "message": message, "user": user, "csrf": csrf], status: .notFound)
    }

    /// A template context without absent values: a nil or an empty string would otherwise open a `{{#section}}` (the
    /// renderer takes any present value for true) or print "nil".
    static func context(_ values: [String: Any?]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in values {
            guard let value else { continue }
            if let text = value as? String, text.isEmpty { continue }
            if let optional = value as? any OptionalProtocol, optional.isNone { continue }
            out[key] = value
        }
        return out
    }

    static func age(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        if seconds < 86400 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d \(seconds % 86400 / 3600)h"
    }

    // MARK: Routes

    func routes(into router: Router<SignoffRequestContext>) {
        let h = handlers
        let console = self
        router.get("/static/{file}") { _, context -> Response in
            guard let file = context.parameters.get("file"), let asset = console.assets[file] else { return Response(status: .notFound, headers: Self.headers("text/plain")) }
            var headers = Self.headers(asset.type)
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
        router.get("/") { request, _ -> Response in
            try await console.session(request) == nil ? console.redirect("/login") : console.redirect("/inbox")
        }
        router.get("/login") { _, _ -> Response in console.page("login", ["title": "Log in"]) }
        router.get("/setup") { _, _ -> Response in console.page("setup", ["title": "Set up this browser"]) }
        // Logging in: the challenge the browser's key signed (as for `/v1/auth/token`), answered with a cookie.
        router.post("/console/login") { request, context -> Response in
            try console.requireSameOrigin(request)
            let body = try await request.decode(as: TokenRequest.self, context: context)
            let issued = try await h.login(body, context: context)
            var headers = Self.headers("application/json")
            headers[.setCookie] = console.cookie(issued.token, maxAge: Int(h.configuration.sessionLifetimeMilliseconds / 1000))
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"user\":\"\(issued.record.principal)\"}")))
        }
        // Logging out revokes the session, not only the cookie.
        router.post("/console/logout") { request, context -> Response in
            if let (record, token) = try await console.session(request) {
                try console.requireSameOrigin(request)
                try await console.requireCSRF(request, token: token, context: context)
                _ = try await h.auth.revoke(tokenID: record.id)
                context.logger.info("console logout", metadata: ["user": .string(record.principal), "token_id": .string(record.id)])
            }
            var response = console.redirect("/login")
            response.headers[.setCookie] = console.cookie("", maxAge: 0)
            return response
        }
        router.get("/inbox") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let items = try await h.views.inbox(for: record.principal, h.service).1
            // A page shows the oldest ones; a person works from the top (the CLI and the API list them all).
            let shown = items.prefix(Self.inboxPageSize)
            let rows: [[String: Any]] = shown.map { i in
                Self.context([
                    "request": i.request, "bundle": i.bundle, "action": i.action.rawValue, "stage": i.stage as Any, "on_behalf_of": i.on_behalf_of as Any,
                    "project": i.project, "environment": i.environment, "age": Self.age(i.age_seconds), "request_age": Self.age(i.request_age_seconds),
                    "detail": i.detail,
                ])
            }
            return console.page("inbox", Self.context([
                "title": "Inbox", "user": record.principal, "csrf": Self.csrfToken(forSession: token), "items": rows, "hasItems": !rows.isEmpty,
                "more": items.count > shown.count ? "Showing the oldest \(shown.count) of \(items.count); `signoff inbox` lists them all." : nil,
            ]))
        }
        router.get("/requests/{id}") { request, context -> Response in
            try await console.withReadableRequest(request, context) { found in
                var values = console.requestContext(found.request, state: found.state, now: found.now, user: found.user, csrf: found.csrf)
                values["entries"] = try await console.ledgerEntries(of: found.request.id, proofs: .none)
                return console.page("request", values)
            }
        }
        router.get("/requests/{id}/evidence/{digest}") { request, context -> Response in
            try await console.withReadableRequest(request, context, missing: "No such evidence of a request that you may read.") { found in
                guard let digest = try? SHA256Digest(parsing: context.parameters.get("digest") ?? ""), let evidence = found.request.evidence.last(where: { $0.digest == digest })
                else { return console.notFound(found.user, csrf: found.csrf, "No such evidence of a request that you may read.") }
                return console.page("evidence", try await console.evidenceContext(found.request, evidence, user: found.user, csrf: found.csrf))
            }
        }
        // A request's entries, each with its inclusion proof in the newest signed checkpoint, checked here.
        router.get("/audit/requests/{id}") { request, context -> Response in
            try await console.withReadableRequest(request, context) { found in
                let id = found.request.id
                let checkpoint = try await h.ledger.latestCheckpoint()
                return console.page("timeline", Self.context([
                    "title": "Timeline of \(id)", "user": found.user, "csrf": found.csrf, "request": id,
                    "entries": try await console.ledgerEntries(of: id, proofs: .against(checkpoint)),
                    "checkpoint": checkpoint?.serialized, "checkpointSize": checkpoint?.checkpoint.size, "ledgerKey": h.ledger.verifierKey.description,
                ]))
            }
        }
        router.get("/dashboard") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let q = request.uri.queryParameters
            let project = q.get("project").flatMap { $0.isEmpty ? nil : $0 }
            let environment = q.get("environment").flatMap { $0.isEmpty ? nil : $0 }
            let team = q.get("team").flatMap { $0.isEmpty ? nil : $0 }
            let condition = q.get("state").flatMap { $0.isEmpty ? nil : $0 }
            let (state, all) = try await h.views.inventory(h.service)
            let now = h.service.now
            let visible = { (key: String) in Access.mayRead(project: key, principal: record.principal, state: state, now: now) }
            // A team is a group: the projects that bind it to any of their roles.
            let teamProjects = team.map { group in Set(state.projects.values.filter { $0.boundGroups.contains(group) }.map(\.key)) }
            let rows = all.filter { row in
                visible(row.project) && (project.map { row.project == $0 } ?? true) && (environment.map { row.environment == $0 } ?? true)
                    && (teamProjects.map { $0.contains(row.project) } ?? true) && (condition.map { Self.inventoryRow(row, is: $0) } ?? true)
            }
            let projects = state.projects.keys.filter(visible).sorted().map { ["name": $0, "selected": $0 == project] as [String: Any] }
            let teams = Set(state.projects.values.filter { visible($0.key) }.flatMap(\.boundGroups)).sorted().map { ["name": $0, "selected": $0 == team] as [String: Any] }
            let states = Self.dashboardStates.map { ["name": $0, "selected": $0 == condition] as [String: Any] }
            return console.page("dashboard", Self.context([
                "title": "Dashboard", "user": record.principal, "csrf": Self.csrfToken(forSession: token), "projects": projects, "teams": teams,
                "states": states, "environment": environment, "rows": rows.map(console.inventoryRow), "hasRows": !rows.isEmpty,
            ]))
        }
        router.get("/audit") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let health = try await AuditHealth.current(h.service)
            let state = try await h.service.state()
            // The exports this person may download: every project for administrators and auditors, else each one they read.
            let everything = state.principals[record.principal]?.isAdministrator == true || state.isMember(record.principal, of: Access.auditorsGroup)
            let exportable = state.projects.keys.filter { Access.mayRead(project: $0, principal: record.principal, state: state, now: h.service.now) }.sorted()
            let cp = health.checkpoint
            let run = health.last_verification
            return console.page("audit", Self.context([
                "title": "Audit", "user": record.principal, "csrf": Self.csrfToken(forSession: token), "origin": health.origin, "size": health.ledger_size,
                "healthy": health.healthy, "unhealthy": !health.healthy, "ledgerKey": health.ledger_verifier_key,
                "checkpoint": cp.map {
                    Self.context([
                        "size": $0.size, "root": $0.root, "coversUntil": $0.covers_until, "coversAge": $0.covers_until_age_seconds.map(Self.age),
                        "uncovered": $0.uncovered_entries > 0 ? "\($0.uncovered_entries) newer entries not yet covered, the oldest waiting \(Self.age($0.oldest_uncovered_age_seconds))" : nil,
                        "note": $0.note,
                    ])
                },
                "checks": health.checks.map { ["check": $0.check, "passed": $0.passed, "detail": $0.detail] as [String: Any] },
                "verification": run.map {
                    Self.context([
                        "finished": $0.finished_at, "entries": $0.entries, "checkpoints": $0.checkpoints, "seconds": String(format: "%.1f", $0.seconds),
                        "passed": $0.passed, "failure": $0.failure,
                    ])
                },
                "running": health.verification_running, "everything": everything,
                "exports": exportable.map { ["project": $0, "query": "?project=" + ($0.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? $0)] },
            ]))
        }
    }

    /// What a page about one request reads: the person's session and the request.
    struct ReadableRequest {
        let user: String
        let csrf: String
        let state: SignoffState
        let now: Int64
        let request: DeploymentRequest
    }

    /// A page about one request (`{id}`): `page` with it, or the login page without a session, or 404 for a request of
    /// a project the person may not read — the API's rule: it does not exist for them.
    func withReadableRequest(
        _ request: Request, _ context: SignoffRequestContext, missing: String? = nil, _ page: (ReadableRequest) async throws -> Response
    ) async throws -> Response {
        guard let (record, token) = try await session(request) else { return redirect("/login") }
        let csrf = Self.csrfToken(forSession: token)
        let id = context.parameters.get("id") ?? ""
        let state = try await handlers.service.state()
        let now = handlers.service.now
        guard let r = state.requests[id], Access.mayRead(project: r.project, principal: record.principal, state: state, now: now) else {
            return notFound(record.principal, csrf: csrf, missing ?? "No request \(id) that you may read.")
        }
        return try await page(ReadableRequest(user: record.principal, csrf: csrf, state: state, now: now, request: r))
    }

    /// State-changing console requests come from this origin (the browser says so in `Origin`).
    func requireSameOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        if handlers.configuration.isAcceptedOrigin(origin) { return }
        throw Problem.forbidden("this request comes from another origin (\(origin.prefix(100)))")
    }

    func requireCSRF(_ request: Request, token: String, context: SignoffRequestContext) async throws {
        let expected = Self.csrfToken(forSession: token)
        if request.headers[.xCSRFToken] == expected { return }
        // The logout form without JavaScript: `csrf=` in a form body.
        if request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
            let body = String(buffer: try await request.body.collect(upTo: 4096))
            if body.split(separator: "&").contains(where: { $0 == "csrf=" + expected }) { return }
        }
        throw Problem.forbidden("this request lacks the page's CSRF token; reload the page and try again")
    }

    // MARK: Page contexts

    func requestContext(_ r: DeploymentRequest, state: SignoffState, now: Int64, user: String, csrf: String) -> [String: Any] {
        let view = RequestView(r)
        let status = r.status == .active ? "at \(r.stage)" : r.status.rawValue
        let statusClass = r.status == .deployed ? "ok" : r.status == .active ? "warn" : "bad"
        let explanation = Engine.explain(r.id, state: state, now: now)
        let gates: [[String: Any]] = (explanation?.gates ?? []).map { g in
            [
                "stage": g.stage, "satisfied": g.isSatisfied,
                "conditions": g.conditions.map { c in Self.context(["rule": c.rule, "met": c.met, "detail": c.detail, "supply": c.whoCanSupply.joined(separator: ", ")]) },
            ]
        }
        let awaiting = Policy.awaiting(r, principal: user, state: state)
        let labels = String(decoding: (try? WireCoding.encode(r.labels)) ?? Data("{}".utf8), as: UTF8.self)
        let changed = r.earlierRevisions.last.map { Self.revisionChange(r, previous: $0) }
        let evidence: [[String: Any]] = view.evidence.map { e in
            let counts = e.tests.map { "\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" }
            return Self.context([
                "kind": e.kind, "status": e.status, "statusClass": e.status == "passed" ? "ok" : e.status == "pending" ? "warn" : "bad", "actor": e.actor, "at": e.at,
                "digest": e.digest, "counts": counts, "revision": e.revision, "old": e.revision != r.revision,
                "link": "/requests/\(r.id)/evidence/\(e.digest)",
            ])
        }
        let decisions: [[String: Any]] = view.decisions.map { d in
            Self.context([
                "stage": d.stage, "decision": d.decision, "actor": d.actor, "on_behalf_of": d.on_behalf_of as Any, "at": d.at, "signed": d.signed,
                "key": d.key_fingerprint.map { String($0.prefix(19)) + "…" }, "comment": d.comment,
            ])
        }
        return Self.context([
            "title": r.id, "user": user, "csrf": csrf,
            "r": Self.context([
                "request": r.id, "project": r.project, "environment": r.environment, "statusText": status, "statusClass": statusClass,
                "emergency_reason": r.emergency?.reason as Any, "bundle": r.bundle, "digest": r.digest.description, "revision": r.revision,
"requester": r.requester, "filed_at": view.filed_at, "description": r.description,
                "labelsText": r.labels.isEmpty ? "" : r.labels.keys.sorted().map { "\($0)=\(r.labels[$0]!.joined(separator: ","))" }.joined(separator: " "),
                "workflow_digest": view.workflow_digest,
            ]),
            "changed": changed, "statusText": status, "gates": gates, "canDecide": !awaiting.isEmpty, "awaiting": awaiting,
            "request": r.id, "project": r.project, "environment": r.environment, "bundle": r.bundle, "digest": r.digest.description, "revision": r.revision,
            "workflowDigest": r.workflowDigest.description, "labelsJSON": labels, "emergency": r.emergency != nil,
            "evidence": evidence, "hasEvidence": !evidence.isEmpty, "decisions": decisions, "hasDecisions": !decisions.isEmpty,
            "deployments": view.deployments.map { Self.context(["outcome": $0.outcome, "actor": $0.actor, "at": $0.at, "note": $0.note]) },
            "started": view.deployment_started.map { ["actor": $0.actor, "at": $0.at] as [String: Any] },
            "history": view.history.map { ["at": $0.at, "stage": $0.stage, "revision": $0.revision] as [String: Any] },
        ])
    }

    /// What a revision changed against the one it replaced: the bundle and digest side by side, who revised and why
    /// (the changes asked of the previous revision), and what no longer counts.
    static func revisionChange(_ r: DeploymentRequest, previous: EarlierRevision) -> [String: Any] {
        let asked = r.decisions.last { $0.revision == previous.revision && $0.decision == .changesRequested }
        let oldEvidence = r.evidence.filter { $0.revision == previous.revision }.count
        let oldDecisions = r.decisions.filter { $0.revision == previous.revision && $0.decision == .approve }.count
        return context([
            "previous": previous.revision, "current": r.revision, "oldBundle": previous.bundle, "newBundle": r.bundle, "bundleChanged": previous.bundle != r.bundle,
            "oldDigest": previous.digest.description, "newDigest": r.digest.description, "digestChanged": previous.digest != r.digest,
            "by": previous.replacedBy, "at": Timestamps.rfc3339(previous.replacedAt),
            "asked": asked.map { context(["stage": $0.stage, "actor": $0.by, "comment": $0.comment]) },
            "carried": "The workflow starts again at its first stage: the \(oldEvidence) evidence item(s) and \(oldDecisions) approval(s) of revision \(previous.revision) no longer count.",
        ])
    }

    /// An evidence document as people read it: a JUnit report as a table of its test cases, text as text, Markdown
    /// rendered safely, anything else (a PDF) offered for download — never served as a page of ours.
    func evidenceContext(_ r: DeploymentRequest, _ e: Evidence, user: String, csrf: String) async throws -> [String: Any] {
        var context: [String: Any?] = [
            "title": "\(e.kind) of \(r.id)", "user": user, "csrf": csrf, "request": r.id, "kind": e.kind, "status": e.status.rawValue,
            "statusClass": e.status == .passed ? "ok" : e.status == .pending ? "warn" : "bad", "actor": e.attachedBy, "at": Timestamps.rfc3339(e.at),
            "revision": e.revision, "digest": e.digest.description,
        ]
        if let document = try await handlers.service.evidence.get(e.digest, project: r.project) {
            context["stored"] = true
            context["mediaType"] = document.mediaType
            context["size"] = document.content.count
            context["download"] = "/v1/requests/\(r.id)/evidence-documents/\(e.digest)"
            let text = String(validating: document.content, as: UTF8.self)
            if document.mediaType.hasSuffix("xml"), let cases = try? JUnitReport.cases(of: document.content) {
                let counts = e.tests.map { "\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" }
                context["junit"] = Self.context([
                    "summary": counts,
                    "cases": cases.map {
                        Self.context([
                            "classname": $0.classname, "name": $0.name, "outcome": $0.outcome.rawValue, "suite": $0.suite, "message": $0.message,
                            "outcomeClass": $0.outcome == .passed ? "ok" : $0.outcome == .skipped ? "warn" : "bad",
                        ])
                    },
                ])
            } else if document.mediaType == "text/markdown", let text {
                context["markdown"] = SafeMarkdown.render(text)
            } else if document.mediaType != "application/pdf", let text {
                context["text"] = text
            }
        }
        return Self.context(context)
    }

    /// The entries about a request (the ledger's index of them), with — for the audit timeline — each one's inclusion
    /// proof in the newest signed checkpoint, verified against its root.
    /// Whether the entries of a page come with inclusion proofs, and in which checkpoint (the newest, which the page
    /// shows too; nil before the first).
    enum EntryProofs {
        case none
        case against(SignedCheckpoint?)
    }

    func ledgerEntries(of request: String, proofs: EntryProofs) async throws -> [[String: Any]] {
        let ledger = handlers.ledger
        let checkpoint: SignedCheckpoint? = if case .against(let checkpoint) = proofs { checkpoint } else { nil }
        var out: [[String: Any]] = []
        for sequence in try await handlers.service.storage.projection.entries(ofRequest: request) {
            let entry = try await ledger.entry(at: sequence)
            var row: [String: Any?] = [
                "sequence": sequence, "kind": entry.kind, "time": Timestamps.rfc3339(entry.timeMilliseconds), "actor": entry.actor,
                "leafHash": Hex.encode(entry.leafHash.bytes),
            ]
            if let checkpoint, sequence < checkpoint.checkpoint.size {
                let proof = try await ledger.inclusionProof(index: sequence, size: checkpoint.checkpoint.size)
                let included = (try? MerkleVerifier.verifyInclusion(
                    leafHash: entry.leafHash.bytes, index: sequence, size: checkpoint.checkpoint.size, proof: proof.map(\.bytes),
                    root: checkpoint.checkpoint.rootHash.bytes)) != nil
                row["proof"] = proof.map { Hex.encode($0.bytes) }
                row["hasProof"] = !proof.isEmpty
                row["included"] = included
                row["notIncluded"] = !included
            } else if case .against = proofs {
                row["pending"] = true
            }
            out.append(Self.context(row))
        }
        return out
    }

    /// RFC 3986's unreserved characters: what a query value may hold unencoded.
    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// How many inbox items a page shows, oldest first.
    static let inboxPageSize = 100

    /// The dashboard's state filter.
    static let dashboardStates = ["pending", "stuck", "deploying", "frozen", "emergency", "idle"]

    static func inventoryRow(_ row: EnvironmentInventory, is condition: String) -> Bool {
        switch condition {
        case "pending": !row.pending.isEmpty
        case "stuck": row.pending.contains { !$0.waiting_for.isEmpty }
        case "deploying": !row.deploying.isEmpty
        case "frozen": !row.freezes.isEmpty
        case "emergency": row.running?.emergency == true || row.pending.contains(where: \.emergency)
        case "idle": row.pending.isEmpty && row.deploying.isEmpty
        default: true
        }
    }

    func inventoryRow(_ row: EnvironmentInventory) -> [String: Any] {
        let stuck: [[String: Any]] = row.pending.filter { !$0.waiting_for.isEmpty }.prefix(3).map {
            ["request": $0.request, "stage": $0.stage, "why": $0.waiting_for.joined(separator: "; ")]
        }
        return Self.context([
            "project": row.project, "environment": row.environment, "frozen": row.freezes.joined(separator: ", "),
            "running": row.running.map {
                Self.context([
                    "request": $0.request, "bundle": $0.bundle, "deployed_at": $0.deployed_at, "actor": $0.actor, "emergency": $0.emergency,
                    "retrospective": $0.retrospective,
                ])
            },
            "deploying": row.deploying.map { ["request": $0.request] },
            "pendingCount": row.pending.count, "oldest": row.pending.first.map { Self.age($0.age_seconds) }, "stuck": stuck,
        ])
    }
}

extension HTTPField.Name {
    static let xCSRFToken = Self("X-CSRF-Token")!
    static let referrerPolicy = Self("Referrer-Policy")!
}

/// Lets ``ConsoleController/context(_:)`` see through an optional that reached it wrapped in `Any`.
protocol OptionalProtocol { var isNone: Bool { get } }
extension Optional: OptionalProtocol { var isNone: Bool { self == nil } }
