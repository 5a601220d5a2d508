import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger
@testable import SignoffServer
import SignoffService
import SignoffStore
import SignoffTestSupport
import Testing

/// The web console (issue 16), page by page: the API's authorization (404 for what the caller may not read), every
/// value escaped, the security headers, the session cookie's attributes, CSRF refused without the token or from another
/// origin, and logout revoking the session.
@Suite("Web console")
struct ConsoleTests {
    static let policy = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// Logs in through the console: the challenge signed with `key`, answered with a cookie. Returns the cookie value.
    static func login(_ client: some TestClientProtocol, _ user: String, key: Ed25519.SigningKey) async throws -> (cookie: String, setCookie: String) {
        let challenge = try await client.json("/v1/auth/challenge", .post, body: ["user": user])
        let message = Array((challenge.object["message"] as! String).utf8)
        let body = try JSONSerialization.data(withJSONObject: ["user": user, "challenge": challenge.object["challenge"]!, "signature": Base64.encode(key.signature(for: message))])
        return try await client.execute(uri: "/console/login", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body)) { response in
            let setCookie = response.headers[.setCookie] ?? ""
            let value = setCookie.split(separator: ";").first.map { String($0.dropFirst("signoff_session=".count)) } ?? ""
            return (value, setCookie)
        }
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, cookie: String?) async throws -> (status: Int, body: String, headers: HTTPFields) {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = "signoff_session=\(cookie)" }
        return try await client.execute(uri: uri, method: .get, headers: headers) { (Int($0.status.code), String(buffer: $0.body), $0.headers) }
    }

    @Test("Where the bundle came from: filed through the API, shown in its view, linked from the request page (escaped); a javascript: link refused with input.source")
    func sourceLinks() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let riley = try await client.login("riley", key: f.keys["riley"]!)
            let source: [String: Any] = [
                "system": "gitlab", "run_url": "https://gitlab.example/data/churn/-/pipelines/99?a=1&b=2", "commit": "0123456789abcdef",
                "commit_url": "https://gitlab.example/data/churn/-/commit/0123456789abcdef", "ref": "feature/<b>pin</b>",
                "change_url": "https://gitlab.example/data/churn/-/merge_requests/7",
            ]
            let body: [String: Any] = ["project": Cast.project, "environment": "qa", "bundle": "m.zip", "digest": SHA256Digest.hash("m").description, "source": source]
            let filed = try await client.json("/v1/requests", .post, token: riley, body: body)
            #expect(filed.status == 201, "\(filed.object)")
            let view = try await client.json("/v1/requests/REQ-1", token: riley)
            #expect(NSDictionary(dictionary: view.object["source"] as? [String: Any] ?? [:]) == NSDictionary(dictionary: source))
            var hostile = body
            hostile["digest"] = SHA256Digest.hash("n").description
            hostile["source"] = ["change_url": "javascript:alert(document.cookie)"]
            let refused = try await client.json("/v1/requests", .post, token: riley, body: hostile)
            #expect(refused.status == 422 && refused.object["rule"] as? String == "input.source", "\(refused.object)")
            let morgan = try await Self.login(client, "morgan", key: f.keys["morgan"]!).cookie
            let page = try await Self.get(client, "/requests/REQ-1", cookie: morgan)
            #expect(page.status == 200)
            #expect(page.body.contains("<a href=\"https://gitlab.example/data/churn/-/pipelines/99?a=1&amp;b=2\" rel=\"noopener noreferrer nofollow\">pipeline run</a>"), "\(page.body)")
            #expect(page.body.contains("<a href=\"https://gitlab.example/data/churn/-/commit/0123456789abcdef\" rel=\"noopener noreferrer nofollow\">commit 0123456789ab</a>"))
            #expect(page.body.contains(">merge request</a>") && page.body.contains("feature/&lt;b&gt;pin&lt;/b&gt;") && !page.body.contains("<b>pin"))
            #expect(page.body.contains("as declared, not verified") && !page.body.contains("verified by"), "a declared source is said to be declared")
        }
    }

    @Test("Every message's link opens a console page for a signed-in reviewer (the request's, or the inbox for a digest); signed out, it leads to the login")
    func messageLinksOpen() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        var links: Set<String> = ["/inbox"]
        for (command, actor) in [
            (Command.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: "retrain"), "riley"),
            (.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), "ci-bot"),
        ] {
            guard case .success(let entries) = try await f.database.execute(command, as: actor) else { Issue.record("refused"); return }
            let events = try entries.compactMap { try Event.decode(kind: $0.kind, payload: $0.payload) }
            for n in Notifications.of(events, actor: actor, state: try await f.database.state(), now: f.database.now) { if let link = n.link { links.insert(link) } }
        }
        #expect(links == ["/inbox", "/requests/REQ-1"], "\(links)")
        // And the pages the other messages link: a freeze's dashboard, a revoked key's audit page.
        let opened = links.sorted() + [Notifications.dashboardPath(project: Cast.project, environment: "qa"), "/audit"]
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let morgan = try await Self.login(client, "morgan", key: f.keys["morgan"]!).cookie
            for link in opened {
                #expect(try await Self.get(client, link, cookie: morgan).status == 200, "\(link)")
                let out = try await Self.get(client, link, cookie: nil)
                #expect(out.status == 303 && out.headers[.location] == "/login", "\(link) signed out")
            }
        }
    }

    @Test("Pages: status, authorization like the API, escaping of hostile text, CSP and no inline script or style")
    func pages() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let hostileBundle = "\"><img src=x onerror=alert(1)>.zip"
        let hostileText = "<script>alert(1)</script> [x](javascript:alert(2)) <b>bold</b>"
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: hostileBundle, digest: SHA256Digest.hash("m"), description: hostileText), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            for page in ["/login", "/setup"] {
                let r = try await Self.get(client, page, cookie: nil)
                #expect(r.status == 200 && r.headers[.contentSecurityPolicy] == Self.policy, "\(page)")
                #expect(r.headers[.xContentTypeOptions] == "nosniff")
                #expect(!r.body.contains("<script>") && !r.body.contains("style=") && r.body.contains("<script src=\"/static/console.js\" defer></script>"))
                #expect(r.body.contains("<label for="), "labelled fields")
            }
            for page in ["/inbox", "/dashboard", "/audit", "/requests/REQ-1"] {
                let r = try await Self.get(client, page, cookie: nil)
                #expect(r.status == 303 && r.headers[.location] == "/login", "\(page) without a session")
            }
            let script = try await Self.get(client, "/static/console.js", cookie: nil)
            #expect(script.status == 200 && script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            #expect(try await Self.get(client, "/static/../Package.swift", cookie: nil).status == 404)

            let (morgan, setCookie) = try await Self.login(client, "morgan", key: f.keys["morgan"]!)
            #expect(!morgan.isEmpty)
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/"), "\(setCookie)")
            let inbox = try await Self.get(client, "/inbox", cookie: morgan)
            #expect(inbox.status == 200 && inbox.body.contains("href=\"/requests/REQ-1\"") && inbox.body.contains("Decide at approved"), "\(inbox.body)")
            let page = try await Self.get(client, "/requests/REQ-1", cookie: morgan)
            #expect(page.status == 200 && page.headers[.contentSecurityPolicy] == Self.policy)
            #expect(!page.body.contains("<img src=x") && !page.body.contains("<script>alert") && !page.body.contains("<b>bold"), "nothing a person typed is markup")
            #expect(page.body.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.zip") && page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!page.body.contains("href=\"javascript:"), "no link from people's text")
            #expect(page.body.contains("id=\"decide-form\"") && page.body.contains("data-digest=\"\(SHA256Digest.hash("m"))\""), "the digest on screen is the digest signed")
            #expect(page.body.contains("<meta name=\"csrf-token\" content=\"\(ConsoleController.csrfToken(forSession: morgan))\">"))
            let dashboard = try await Self.get(client, "/dashboard", cookie: morgan)
            #expect(dashboard.status == 200 && dashboard.body.contains("churn-model → qa"))
            // Filters: a team (a group the project binds), a state.
            #expect(try await Self.get(client, "/dashboard?team=\(Cast.Group.releaseManagers)&state=stuck", cookie: morgan).body.contains("churn-model → qa"))
            #expect(!(try await Self.get(client, "/dashboard?state=deploying", cookie: morgan).body.contains("churn-model → qa")))
            #expect(!(try await Self.get(client, "/dashboard?team=nobody", cookie: morgan).body.contains("churn-model → qa")))
            #expect(try await Self.get(client, "/dashboard?team=%22%3E%3Cscript%3E", cookie: morgan).body.contains("&quot;&gt;&lt;script&gt;") == false, "an unknown team is not echoed")
            let audit = try await Self.get(client, "/audit", cookie: morgan)
            #expect(audit.status == 200 && audit.body.contains("signoff audit verify"))
            // The request's ledger entries, and on the audit timeline each one proven in the newest checkpoint.
            #expect(page.body.contains("<td>request.filed</td>") && page.body.contains("<td>evidence.attached</td>"))
            let pending = try await Self.get(client, "/audit/requests/REQ-1", cookie: morgan)
            #expect(pending.status == 200 && pending.body.contains("awaiting a checkpoint"))
            try await f.database.signCheckpoint()
            let timeline = try await Self.get(client, "/audit/requests/REQ-1", cookie: morgan)
            #expect(timeline.status == 200 && timeline.body.contains("✓ included") && !timeline.body.contains("does not verify") && timeline.body.contains("Inclusion proof"))

            // Someone who may not read churn-model: its request does not exist for them, as in the API; their views are empty.
            let (outsider, _) = try await Self.login(client, Cast.outsider.name, key: f.keys[Cast.outsider.name]!)
            #expect(try await Self.get(client, "/audit/requests/REQ-1", cookie: outsider).status == 404)
            let hidden = try await Self.get(client, "/requests/REQ-1", cookie: outsider)
            #expect(hidden.status == 404 && !hidden.body.contains("img src"))
            #expect(try await Self.get(client, "/requests/REQ-999", cookie: outsider).status == 404)
            let theirs = try await Self.get(client, "/dashboard", cookie: outsider)
            #expect(!theirs.body.contains("churn-model"))
            let empty = try await Self.get(client, "/inbox", cookie: outsider)
            #expect(empty.body.contains("Nothing waits for you"))
            let theirAudit = try await Self.get(client, "/audit", cookie: outsider)
            #expect(theirAudit.status == 200 && !theirAudit.body.contains("churn-model"), "no export offered of a project they may not read")
            // A forged or stale cookie is no session.
            #expect(try await Self.get(client, "/inbox", cookie: "so_forged").status == 303)
        }
    }

    @Test("CSRF: a cookie alone changes nothing — the page's token and this origin are both required; logout revokes the session")
    func csrf() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let (cookie, _) = try await Self.login(client, "morgan", key: f.keys["morgan"]!)
            let token = ConsoleController.csrfToken(forSession: cookie)
            let body = ByteBuffer(string: #"{"stage":"approved","decision":"approve","comment":""}"#)
            func post(_ headers: HTTPFields) async throws -> (Int, String) {
                var all: HTTPFields = [.contentType: "application/json", .cookie: "signoff_session=\(cookie)"]
                all.append(contentsOf: headers)
                return try await client.execute(uri: "/v1/requests/REQ-1/decisions", method: .post, headers: all, body: body) { (Int($0.status.code), String(buffer: $0.body)) }
            }
            let noToken = try await post([:])
            #expect(noToken.0 == 403 && noToken.1.contains("CSRF"), "\(noToken)")
            let wrongToken = try await post([HTTPField.Name("X-CSRF-Token")!: "00"])
            #expect(wrongToken.0 == 403)
            let foreign = try await post([HTTPField.Name("X-CSRF-Token")!: token, .origin: "https://evil.example"])
            #expect(foreign.0 == 403 && foreign.1.contains("another origin"), "\(foreign)")
            #expect(try await f.database.state().requests["REQ-1"]?.decisions.isEmpty == true, "nothing was decided")
            let good = try await post([HTTPField.Name("X-CSRF-Token")!: token])
            #expect(good.0 == 200, "with the token the API decides as for a bearer token: \(good)")
            #expect(try await f.database.state().requests["REQ-1"]?.decisions.count == 1)
            // GETs of the API work with the cookie alone (reads change nothing).
            #expect(try await Self.get(client, "/v1/requests/REQ-1", cookie: cookie).status == 200)
            // Logout: refused without the token; with it, the session is revoked, not only the cookie cleared.
            let refusedLogout = try await client.execute(uri: "/console/logout", method: .post, headers: [.cookie: "signoff_session=\(cookie)"]) { Int($0.status.code) }
            #expect(refusedLogout == 403)
            #expect(try await Self.get(client, "/inbox", cookie: cookie).status == 200)
            let logout = try await client.execute(
                uri: "/console/logout", method: .post, headers: [.cookie: "signoff_session=\(cookie)", HTTPField.Name("X-CSRF-Token")!: token]
            ) { ($0.status.code, $0.headers[.setCookie] ?? "") }
            #expect(logout.0 == 303 && logout.1.contains("Max-Age=0"))
            #expect(try await Self.get(client, "/inbox", cookie: cookie).status == 303, "the session is revoked")
            #expect(try await Self.get(client, "/v1/requests/REQ-1", cookie: cookie).status == 401)
            // The logout form works without JavaScript: the token as a form field.
            let (second, _) = try await Self.login(client, "morgan", key: f.keys["morgan"]!)
            let formLogout = try await client.execute(
                uri: "/console/logout", method: .post, headers: [.cookie: "signoff_session=\(second)", .contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "csrf=\(ConsoleController.csrfToken(forSession: second))")
            ) { $0.status.code }
            #expect(formLogout == 303)
            #expect(try await Self.get(client, "/inbox", cookie: second).status == 303, "revoked")
        }
    }

    @Test("DNS rebinding: a Host and an Origin that agree on another name are refused; the origins the server listens on are accepted")
    func rebinding() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        // Port 0: the origin check learns the port the system chose when the server starts.
        var configuration = ServerConfiguration()
        configuration.port = 0
        let listening = configuration.listening
        let server = configuration
        let app = Application(
            router: buildRouter(service: f.database, configuration: configuration), onServerRunning: { listening.set($0.localAddress?.port) },
            logger: quietLogger)
        try await app.testLive { client in
            let port = try #require(client.port)
            #expect(listening.port == port)
            let (cookie, _) = try await Self.login(client, "morgan", key: f.keys["morgan"]!)
            let raw = TestClient(host: "127.0.0.1", port: port)
            raw.connect()
            func post(host: String, origin: String) async throws -> (Int, String) {
                let headers: HTTPFields = [
                    .contentType: "application/json", .cookie: "signoff_session=\(cookie)", HTTPField.Name("X-CSRF-Token")!: ConsoleController.csrfToken(forSession: cookie),
                    .origin: origin, .connection: "keep-alive",
                ]
                let response = try await raw.execute(
                    TestClient.Request(
                        "/v1/requests/REQ-1/decisions", method: .post, authority: host, headers: headers,
                        body: ByteBuffer(string: #"{"stage":"approved","decision":"approve","comment":""}"#)))
                return (Int(response.status.code), response.body.map { String(buffer: $0) } ?? "")
            }
            let evil = try await post(host: "evil.example:\(port)", origin: "http://evil.example:\(port)")
            #expect(evil.0 == 403 && evil.1.contains("another origin"), "\(evil)")
            let console = try await Self.get(client, "/requests/REQ-1", cookie: cookie)
            #expect(console.status == 200)
            let logoutFromElsewhere = try await raw.execute(
                TestClient.Request(
                    "/console/logout", method: .post, authority: "evil.example:\(port)",
                    headers: [
                        .cookie: "signoff_session=\(cookie)", HTTPField.Name("X-CSRF-Token")!: ConsoleController.csrfToken(forSession: cookie),
                        .origin: "http://evil.example:\(port)",
                    ]))
            #expect(logoutFromElsewhere.status.code == 403, "the console's own forms are checked the same way")
            #expect(try await f.database.state().requests["REQ-1"]?.decisions.isEmpty == true, "nothing was decided")
            for origin in ["http://localhost:\(port)", "http://127.0.0.1:\(port)"] {
                #expect(server.isAcceptedOrigin(origin), "\(origin)")
            }
            #expect(!server.isAcceptedOrigin("http://127.0.0.1:\(port + 1)") && !server.isAcceptedOrigin("https://127.0.0.1:\(port)"))
            let good = try await post(host: "127.0.0.1:\(port)", origin: "http://127.0.0.1:\(port)")
            #expect(good.0 == 200, "the loopback origin the server listens on: \(good)")
            try await raw.shutdown()
        }
        // Behind a public URL only its origin counts.
        var behind = ServerConfiguration()
        behind.publicURL = "https://signoff.example"
        #expect(behind.acceptedOrigins() == ["https://signoff.example"])
        behind.publicURL = "https://Signoff.example:443"
        #expect(behind.isAcceptedOrigin("https://signoff.example") && !behind.isAcceptedOrigin("http://signoff.example"))
        var exposed = ServerConfiguration()
        exposed.host = "10.1.2.3"
        #expect(exposed.acceptedOrigins() == ["http://10.1.2.3:8080"])
    }
}

@Suite("Evidence documents")
struct EvidenceDocumentTests {
    @Test("Upload: only the bytes of a digest the request records, of a known type and size; shown safely in the console; downloaded sandboxed")
    func documents() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let junit = Array("""
            <?xml version="1.0"?><testsuites><testsuite name="api"><testcase classname="checkout" name="test_&lt;script&gt;alert(1)&lt;/script&gt;"/>
            <testcase classname="checkout" name="test_refund"><failure message="expected 200, got 500"/></testcase></testsuite></testsuites>
            """.utf8)
        let card = Array("# Model card\n\n<script>alert(1)</script> and [click](javascript:alert(2)) **bold**\n\n- item `code`\n".utf8)
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
        let counts = try JUnitReport.counts(of: junit)
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: counts.status.rawValue, digest: SHA256Digest.hash(junit), tests: counts), as: "ci-bot")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash(card)), as: "ci-bot")  // a second report: the standard workflow asks only for test reports
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let auth = Authenticator(store: f.database.auth, clock: { f.database.now })
            let ci = try await auth.issueToken(for: "ci-bot", kind: .service, scopes: ["evidence:\(Cast.project)", "read:\(Cast.project)"], lifetimeMilliseconds: 3_600_000).token
            let riley = try await client.login("riley", key: f.keys["riley"]!)
            func put(_ bytes: [UInt8], digest: SHA256Digest, type: String, token: String, request: String = "REQ-1") async throws -> Int {
                try await client.execute(
                    uri: "/v1/requests/\(request)/evidence-documents/\(digest)", method: .put, headers: [.contentType: type, .authorization: "Bearer \(token)"],
                    body: ByteBuffer(bytes: bytes)
                ) { Int($0.status.code) }
            }
            #expect(try await put(junit, digest: SHA256Digest.hash(junit), type: "application/pdf", token: riley) == 403, "a reader cannot choose what approvers see")
            #expect(try await put(junit, digest: SHA256Digest.hash(junit), type: "application/xml", token: ci) == 201)
            #expect(try await put(junit, digest: SHA256Digest.hash(junit), type: "text/plain", token: ci) == 409, "stored once, as its first type")
            #expect(try await put(junit, digest: SHA256Digest.hash(junit), type: "application/xml", token: ci) == 200, "content-addressed: once")
            #expect(try await put(card, digest: SHA256Digest.hash(junit), type: "text/markdown", token: ci) == 422, "the bytes must be the digest's")
            #expect(try await put(card, digest: SHA256Digest.hash(card), type: "text/html", token: ci) == 415, "no HTML")
            #expect(try await put(Array("x".utf8), digest: SHA256Digest.hash("x"), type: "text/plain", token: ci) == 404, "no evidence with that digest")
            let big = [UInt8](repeating: 0x61, count: EvidenceDocument.defaultMaximumBytes + 1)
            try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash(big)), as: "ci-bot")
            #expect(try await put(big, digest: SHA256Digest.hash(big), type: "text/plain", token: ci) == 413)
            #expect(try await put(card, digest: SHA256Digest.hash(card), type: "text/markdown", token: ci) == 201)
            let outsider = try await client.login(Cast.outsider.name, key: f.keys[Cast.outsider.name]!)
            #expect(try await put(card, digest: SHA256Digest.hash(card), type: "text/markdown", token: outsider) == 404, "another project's evidence does not exist for them")
            // Download: an attachment under a sandbox policy, never a page of ours.
            let download = try await client.execute(uri: "/v1/requests/REQ-1/evidence-documents/\(SHA256Digest.hash(card))", method: .get, headers: [.authorization: "Bearer \(riley)"]) {
                ($0.status.code, $0.headers[.contentSecurityPolicy] ?? "", $0.headers[.contentDisposition] ?? "")
            }
            #expect(download.0 == 200 && download.1.hasPrefix("sandbox") && download.2.hasPrefix("attachment"))
            // The console: the JUnit report as a table of its cases, the Markdown rendered with nothing of it as markup.
            let (cookie, _) = try await ConsoleTests.login(client, "riley", key: f.keys["riley"]!)
            _ = riley
            let report = try await ConsoleTests.get(client, "/requests/REQ-1/evidence/\(SHA256Digest.hash(junit))", cookie: cookie)
            #expect(report.status == 200 && report.body.contains("test_refund") && report.body.contains("expected 200, got 500"))
            #expect(!report.body.contains("<script>alert") && report.body.contains("test_&lt;script&gt;alert(1)&lt;/script&gt;"), "\(report.body)")
            let rendered = try await ConsoleTests.get(client, "/requests/REQ-1/evidence/\(SHA256Digest.hash(card))", cookie: cookie)
            #expect(rendered.status == 200 && rendered.body.contains("<h3>Model card</h3>") && rendered.body.contains("<strong>bold</strong>") && rendered.body.contains("<code>code</code>"))
            #expect(!rendered.body.contains("<script>alert") && !rendered.body.contains("href=\"javascript") && rendered.body.contains("click (javascript:alert(2))"))
            let hidden = try await ConsoleTests.get(client, "/requests/REQ-1/evidence/\(SHA256Digest.hash(card))", cookie: try await ConsoleTests.login(client, Cast.outsider.name, key: f.keys[Cast.outsider.name]!).cookie)
            #expect(hidden.status == 404)
        }
    }
}
