import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import HummingbirdTesting
import SignoffCore
@testable import SignoffServer
import SignoffService
import SignoffTestBackends
import SignoffTestSupport
import Testing

/// HEAD over real HTTP (URLSession, which knows a HEAD response has no body): uptime checks and load balancers ask it.
@Suite("HEAD")
struct HeadTests {
    static func call(_ url: URL, _ method: String, token: String? = nil) async throws -> (status: Int, headers: [AnyHashable: Any], body: Data) {
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, http.allHeaderFields, data)
    }

    @Test("HEAD answers as GET without the body (its status, Content-Length and type); it is authorized as the GET is, and never runs a write")
    func head() async throws {
        var fixture = try await ServerFixture(.sqlite)
        defer { fixture.remove() }
        try await AuthorizationMatrixTests.prepare(&fixture, .filed)
        let f = fixture
        let auth = Authenticator(store: f.database.auth, clock: { f.database.now })
        let app = Application(
            router: buildRouter(service: f.database), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
        try await app.testLive { client in
            let base = URL(string: "http://127.0.0.1:\(client.port!)")!
            for path in ["/healthz", "/login"] {
                let get = try await Self.call(base.appendingPathComponent(path), "GET")
                let head = try await Self.call(base.appendingPathComponent(path), "HEAD")
                #expect(get.status == 200 && head.status == 200, "\(path): GET \(get.status), HEAD \(head.status)")
                #expect(head.body.isEmpty && !get.body.isEmpty, "\(path)")
                #expect(head.headers["Content-Length"] as? String == String(get.body.count), "\(path): \(head.headers)")
                #expect(head.headers["Content-Type"] as? String == get.headers["Content-Type"] as? String, "\(path)")
            }
            // Authorized as the GET: none without a token, a read-only service token reads.
            let request = base.appendingPathComponent("v1/requests/REQ-1")
            #expect(try await Self.call(request, "HEAD").status == 401)
            let reader = try await auth.issueToken(for: Cast.ci.name, kind: .service, scopes: ["read:\(Cast.project)"], lifetimeMilliseconds: 60_000).token
            let read = try await Self.call(request, "HEAD", token: reader)
            #expect(read.status == 200 && read.body.isEmpty, "\(read.status)")
            // …and a service token without the GET's scope is refused the HEAD too.
            let evidenceOnly = try await auth.issueToken(for: Cast.ci.name, kind: .service, scopes: ["evidence:\(Cast.project)"], lifetimeMilliseconds: 60_000).token
            #expect(try await Self.call(request, "HEAD", token: evidenceOnly).status == 403)
            // Never a write: HEAD on a route that only POSTs is not the POST, even with the requester's own session.
            let requester = try await auth.issueToken(for: Cast.requester.name, kind: .session, scopes: [], lifetimeMilliseconds: 60_000).token
            let size = try await f.database.ledger.size()
            let withdraw = try await Self.call(base.appendingPathComponent("v1/requests/REQ-1/withdraw"), "HEAD", token: requester)
            #expect(withdraw.status == 404 || withdraw.status == 405, "\(withdraw.status)")
            #expect(try await f.database.ledger.size() == size)
            #expect(try await f.database.state().requests["REQ-1"]?.status == .active)
        }
    }
}
