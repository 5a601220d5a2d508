import Foundation
import Hummingbird
import HummingbirdTesting
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffStore
import SignoffTestSupport
import Testing
import SignoffService
import SignoffAudit

/// One operation of the API, and the exact status each kind of caller gets.
struct MatrixCase: Sendable, CustomTestStringConvertible {
    enum Setup: Sendable { case none, filed, tested, approved }
    let method: HTTPRequest.Method
    let path: String
    let body: [String: String]
    let setup: Setup
    /// (user, expected status) for the right role, a wrong role, and a user with no part in the project.
    let right: (String, Int)
    let wrongRole: (String, Int)
    let wrongUser: (String, Int)
    var testDescription: String { "\(method.rawValue) \(path)" }
}

@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    static let digest = SHA256Digest.hash("bundle").description
    static let otherDigest = SHA256Digest.hash("bundle 2").description

    static let cases: [MatrixCase] = [
        .init(method: .post, path: "/v1/service-tokens", body: ["service_account": "ci-bot"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .post, path: "/v1/users", body: ["name": "newcomer"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .post, path: "/v1/users/eve/keys", body: ["verifier_key": "FRESH"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("morgan", 403)),
        .init(method: .delete, path: "/v1/users/eve/keys/EVEKEY", body: [:], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("morgan", 403)),
        .init(method: .post, path: "/v1/service-accounts", body: ["name": "deploy-bot"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .post, path: "/v1/groups", body: ["name": "auditors"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .post, path: "/v1/groups/compliance/members", body: ["member": "eve"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .post, path: "/v1/workflows", body: ["source": "STANDARD2"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .post, path: "/v1/projects", body: ["key": "fraud-model"], setup: .none, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .get, path: "/v1/requests", body: [:], setup: .filed, right: ("riley", 200), wrongRole: ("morgan", 200), wrongUser: ("eve", 200)),
        .init(method: .post, path: "/v1/requests", body: ["project": "churn-model", "environment": "qa", "bundle": "b.zip", "digest": digest], setup: .none, right: ("riley", 201), wrongRole: ("morgan", 403), wrongUser: ("eve", 403)),
        .init(method: .get, path: "/v1/requests/REQ-1", body: [:], setup: .filed, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 404)),
        .init(method: .get, path: "/v1/requests/REQ-1/explain", body: [:], setup: .filed, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 404)),
        .init(method: .get, path: "/v1/requests/REQ-1/gate?environment=qa&digest=\(digest)", body: [:], setup: .approved, right: ("dana", 200), wrongRole: ("riley", 200), wrongUser: ("eve", 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/evidence", body: ["kind": "test-report", "status": "passed", "digest": digest], setup: .filed, right: ("ci-bot", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/decisions", body: ["stage": "approved", "decision": "approve"], setup: .tested, right: ("morgan", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/revisions", body: ["digest": otherDigest], setup: .filed, right: ("riley", 200), wrongRole: ("morgan", 403), wrongUser: ("eve", 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/withdraw", body: ["reason": "superseded"], setup: .filed, right: ("riley", 200), wrongRole: ("morgan", 403), wrongUser: ("eve", 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/deployments", body: ["outcome": "succeeded"], setup: .approved, right: ("dana", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/retrospective", body: ["comment": "reviewed"], setup: .approved, right: ("morgan", 409), wrongRole: ("riley", 409), wrongUser: ("eve", 404)),  // standard has no retrospective: 409 retrospective.none
        .init(method: .get, path: "/v1/checkpoint", body: [:], setup: .filed, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 200)),
        .init(method: .post, path: "/v1/auth/revoke", body: [:], setup: .none, right: ("riley", 204), wrongRole: ("dana", 204), wrongUser: ("eve", 204)),
        .init(method: .get, path: "/v1/workflows/standard", body: [:], setup: .none, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 200)),
        .init(method: .get, path: "/v1/ledger-key", body: [:], setup: .none, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 200)),
        .init(method: .get, path: "/v1/audit/export?project=churn-model", body: [:], setup: .filed, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 403)),
        .init(method: .get, path: "/v1/audit/export", body: [:], setup: .filed, right: ("ada", 200), wrongRole: ("riley", 403), wrongUser: ("eve", 403)),
        .init(method: .get, path: "/metrics", body: [:], setup: .none, right: ("riley", 200), wrongRole: ("dana", 200), wrongUser: ("eve", 200)),
    ]

    @Test("Every operation × (no token, expired token, wrong user, wrong role, right role) gets exactly its status", arguments: cases)
    func matrix(_ c: MatrixCase) async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let auth = Authenticator(store: f.database.auth, clock: { f.database.now })
        let digest = try SHA256Digest(parsing: Self.digest)
        if c.setup != .none { try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: digest, description: ""), as: "riley") }
        if c.setup == .tested || c.setup == .approved {
            try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: digest), as: "ci-bot")
        }
        if c.setup == .approved { try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan") }

        // Bodies that need live values.
        var body: [String: Any] = c.body
        if body["verifier_key"] as? String == "FRESH" { body["verifier_key"] = try NoteVerifierKey(name: "eve", publicKey: Ed25519.SigningKey().publicKey).description }
        if body["source"] as? String == "STANDARD2" {
            body["source"] = try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("workflows/standard.yaml"), encoding: .utf8) + "# v2\n"
        }
        if body["key"] as? String == "fraud-model" {
            body = ["key": "fraud-model", "environments": ["qa": "standard"], "requesters": ["data-science"]]
        }
        if body["service_account"] != nil { body["scopes"] = ["evidence:churn-model"] }
        let path = c.path.replacingOccurrences(of: "EVEKEY", with: f.keys["eve"]!.publicKey.fingerprint)
        let bodyData = try JSONSerialization.data(withJSONObject: body)

        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            func token(_ user: String) async throws -> String {
                if user == "ci-bot" {
                    return try await auth.issueToken(for: "ci-bot", kind: .service, scopes: ["evidence:churn-model"], lifetimeMilliseconds: 60_000).token
                }
                return try await client.login(user, key: f.keys[user]!)
            }
            let body = c.method == .get || c.method == .delete ? nil : try JSONSerialization.jsonObject(with: bodyData) as? [String: Any]
            let expired = try await auth.issueToken(for: c.right.0, kind: .session, scopes: [], lifetimeMilliseconds: -1).token
            let none = try await client.json(path, c.method, token: nil, body: body)
            #expect(none.status == 401, "no token")
            let stale = try await client.json(path, c.method, token: expired, body: body)
            #expect(stale.status == 401, "expired token")
            for (label, (user, status)) in [("wrong user", c.wrongUser), ("wrong role", c.wrongRole), ("right role", c.right)] {
                let result = try await client.json(path, c.method, token: try await token(user), body: body)
                #expect(result.status == status, "\(label) \(user): \(result.status) \(result.object)")
                if status >= 400 { #expect(result.headers[.contentType] == "application/problem+json" && result.object["detail"] != nil, "\(label): problem details") }
            }
        }
    }
}
