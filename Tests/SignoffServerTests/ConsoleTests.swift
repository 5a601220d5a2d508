import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffAPI
import SignoffCore
import SignoffCrypto
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
    static let policy = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

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
            #expect(inbox.status == 200 && inbox.body.contains("href=\"/requests/REQ-1\"") && inbox.body.contains("decide approved"), "\(inbox.body)")
            let page = try await Self.get(client, "/requests/REQ-1", cookie: morgan)
            #expect(page.status == 200 && page.headers[.contentSecurityPolicy] == Self.policy)
            #expect(!page.body.contains("<img src=x") && !page.body.contains("<script>alert") && !page.body.contains("<b>bold"), "nothing a person typed is markup")
            #expect(page.body.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.zip") && page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!page.body.contains("href=\"javascript:"), "no link from people's text")
            #expect(page.body.contains("id=\"decide-form\"") && page.body.contains("data-digest=\"\(SHA256Digest.hash("m"))\""), "the digest on screen is the digest signed")
            #expect(page.body.contains("<meta name=\"csrf-token\" content=\"\(ConsoleController.csrfToken(forSession: morgan))\">"))
            let dashboard = try await Self.get(client, "/dashboard", cookie: morgan)
            #expect(dashboard.status == 200 && dashboard.body.contains("churn-model → qa"))
            let audit = try await Self.get(client, "/audit", cookie: morgan)
            #expect(audit.status == 200 && audit.body.contains("signoff audit verify"))

            // Someone who may not read churn-model: its request does not exist for them, as in the API; their views are empty.
            let (outsider, _) = try await Self.login(client, Cast.outsider.name, key: f.keys[Cast.outsider.name]!)
            let hidden = try await Self.get(client, "/requests/REQ-1", cookie: outsider)
            #expect(hidden.status == 404 && !hidden.body.contains("img src"))
            #expect(try await Self.get(client, "/requests/REQ-999", cookie: outsider).status == 404)
            let theirs = try await Self.get(client, "/dashboard", cookie: outsider)
            #expect(!theirs.body.contains("churn-model"))
            let empty = try await Self.get(client, "/inbox", cookie: outsider)
            #expect(empty.body.contains("Nothing waits for you"))
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
        }
    }
}
