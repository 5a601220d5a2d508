import Foundation
import Hummingbird
import HummingbirdTesting
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Testing
import SignoffService
import SignoffAudit

/// The cast's names, short, for the rows below.
private let admin = Cast.administrator.name
private let requester = Cast.requester.name
private let ci = Cast.ci.name
private let compliance = Cast.complianceOfficer.name
private let releaseManager = Cast.releaseManager.name
private let deployer = Cast.deployer.name
private let outsider = Cast.outsider.name
private let project = Cast.project

/// One operation of the API, and the exact status each kind of caller gets.
struct MatrixCase: Sendable, CustomTestStringConvertible {
    enum Setup: Sendable {
        case none, filed, tested, approved
        /// REQ-1 filed by the requester in the project, REQ-2 by the compliance officer in another project
        /// (``Cast/otherProject``) whose requesters are compliance and whose workflow does not name data science.
        case filedInTwoProjects
        /// REQ-1 an emergency request (filed by the requester, who is also an approver here; the standard workflow's
        /// emergency waives the tests and owes compliance a retrospective), approved by a release manager and deployed.
        case deployedUnderEmergency
    }
    let method: HTTPRequest.Method
    let path: String
    let body: [String: String]
    let setup: Setup
    /// (user, expected status) for the right role, a wrong role, and a user with no part in the project.
    let right: (String, Int)
    let wrongRole: (String, Int)
    let wrongUser: (String, Int)
    /// The rule the wrong role's refusal must name (a permission rule), where the row says.
    var wrongRoleRule: String? = nil
    /// Where the right role cannot succeed: the rule of its refusal, which must not be a permission rule.
    var rightRule: String? = nil
    /// For list operations: the requests (`"REQ-n project"`) each caller must see, exactly.
    var listed: [String: [String]]? = nil
    var testDescription: String { "\(method.rawValue) \(path)" }
}

@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    static let digest = SHA256Digest.hash("bundle").description
    static let otherDigest = SHA256Digest.hash("bundle 2").description

    static let cases: [MatrixCase] = [
        .init(method: .post, path: "/v1/service-tokens", body: ["service_account": ci], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/users", body: ["name": "newcomer"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/users/\(outsider)/keys", body: ["verifier_key": "FRESH"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (releaseManager, 403)),
        .init(method: .post, path: "/v1/users/\(outsider)/keys/EVEKEY/revoke", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (releaseManager, 403)),
        .init(method: .post, path: "/v1/principals/\(outsider)/disable", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (releaseManager, 403),
            wrongRoleRule: "admin.required"),
        .init(method: .post, path: "/v1/principals/\(outsider)/enable", body: [:], setup: .none, right: (admin, 409), wrongRole: (requester, 403), wrongUser: (releaseManager, 403),
            wrongRoleRule: "admin.required", rightRule: "input.duplicate"),
        .init(method: .post, path: "/v1/groups/\(Cast.Group.compliance)/members/remove", body: ["member": compliance], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/projects/\(project)", body: ["key": "PROJECTUPDATE"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/admin-quorum", body: ["quorum": "TWO"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        // Chat handles: a person's own, or anyone's for an administrator.
        .init(method: .put, path: "/v1/users/\(requester)/chat", body: ["slack": "U024BE7LH"], setup: .none, right: (requester, 200), wrongRole: (deployer, 403), wrongUser: (outsider, 403),
            wrongRoleRule: "admin.required"),
        .init(method: .put, path: "/v1/users/\(deployer)/chat", body: ["teams": "dana@example.com"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/users/\(requester)/chat", body: [:], setup: .none, right: (requester, 200), wrongRole: (deployer, 403), wrongUser: (outsider, 403)),
        // Who exists and the rules: administrators and auditors; a user may see themself.
        .init(method: .get, path: "/v1/users", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/service-accounts", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/principals/\(requester)", body: [:], setup: .none, right: (requester, 200), wrongRole: (deployer, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/groups", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/groups/\(Cast.Group.compliance)", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/projects", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/projects/\(project)/access-review", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        // A project's definition: its roles' holders read it too (the requester), not an outsider.
        .init(method: .get, path: "/v1/projects/\(project)", body: [:], setup: .none, right: (requester, 200), wrongRole: (outsider, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/workflows", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        // Everyone lists tokens, each their own (an administrator's session: all); SecurityTests checks what each sees.
        .init(method: .get, path: "/v1/tokens", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 200), wrongUser: (outsider, 200)),
        .init(method: .post, path: "/v1/service-accounts", body: ["name": "deploy-bot"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/groups", body: ["name": "auditors"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/groups/\(Cast.Group.compliance)/members", body: ["member": outsider], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/workflows", body: ["source": "STANDARD2"], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .post, path: "/v1/projects", body: ["key": Cast.otherProject], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        // Everyone may list; each sees only the projects they have a part in.
        .init(method: .get, path: "/v1/requests", body: [:], setup: .filedInTwoProjects, right: (requester, 200), wrongRole: (compliance, 200), wrongUser: (outsider, 200),
            listed: [requester: ["REQ-1 \(project)"], compliance: ["REQ-1 \(project)", "REQ-2 \(Cast.otherProject)"], outsider: []]),
        .init(method: .post, path: "/v1/requests", body: ["project": project, "environment": "qa", "bundle": "b.zip", "digest": digest], setup: .none, right: (requester, 201), wrongRole: (releaseManager, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/requests/REQ-1", body: [:], setup: .filed, right: (requester, 200), wrongRole: (deployer, 200), wrongUser: (outsider, 404)),
        .init(method: .get, path: "/v1/requests/REQ-1/explain", body: [:], setup: .filed, right: (requester, 200), wrongRole: (deployer, 200), wrongUser: (outsider, 404)),
        .init(method: .get, path: "/v1/requests/REQ-1/gate?environment=qa&digest=\(digest)", body: [:], setup: .approved, right: (deployer, 200), wrongRole: (requester, 200), wrongUser: (outsider, 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/evidence", body: ["kind": "test-report", "status": "passed", "digest": digest], setup: .filed, right: (ci, 200), wrongRole: (requester, 403), wrongUser: (outsider, 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/decisions", body: ["stage": "approved", "decision": "approve"], setup: .tested, right: (releaseManager, 200), wrongRole: (requester, 403), wrongUser: (outsider, 404)),
        // Not even an administrator's session revises another person's request (red team, round 4).
        .init(
            method: .post, path: "/v1/requests/REQ-1/revisions", body: ["digest": otherDigest], setup: .filed, right: (requester, 200), wrongRole: (admin, 403),
            wrongUser: (outsider, 404), wrongRoleRule: "request.owner"),
        .init(method: .post, path: "/v1/requests/REQ-1/withdraw", body: ["reason": "superseded"], setup: .filed, right: (requester, 200), wrongRole: (releaseManager, 403), wrongUser: (outsider, 404)),
        .init(method: .post, path: "/v1/requests/REQ-1/deployments", body: ["outcome": "succeeded"], setup: .approved, right: (deployer, 200), wrongRole: (requester, 403), wrongUser: (outsider, 404)),
        // A break-glass deployment: compliance records the retrospective; the requester, who may read the request, may not.
        .init(method: .post, path: "/v1/requests/REQ-1/retrospective", body: ["comment": "reviewed"], setup: .deployedUnderEmergency, right: (compliance, 200), wrongRole: (requester, 403), wrongUser: (outsider, 404),
            wrongRoleRule: "retrospective.role"),
        .init(method: .get, path: "/v1/checkpoint", body: [:], setup: .filed, right: (requester, 200), wrongRole: (deployer, 200), wrongUser: (outsider, 200)),
        .init(method: .post, path: "/v1/auth/revoke", body: [:], setup: .none, right: (requester, 204), wrongRole: (deployer, 204), wrongUser: (outsider, 204)),
        .init(method: .get, path: "/v1/workflows/standard", body: [:], setup: .none, right: (requester, 200), wrongRole: (deployer, 200), wrongUser: (outsider, 200)),
        .init(method: .get, path: "/v1/ledger-key", body: [:], setup: .none, right: (requester, 200), wrongRole: (deployer, 200), wrongUser: (outsider, 200)),
        .init(method: .get, path: "/v1/audit/export?project=\(project)", body: [:], setup: .filed, right: (requester, 200), wrongRole: (deployer, 200), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/v1/audit/export", body: [:], setup: .filed, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403)),
        .init(method: .get, path: "/metrics", body: [:], setup: .none, right: (admin, 200), wrongRole: (requester, 403), wrongUser: (outsider, 403),
            wrongRoleRule: "token.scope"),
    ]

    static func isPermissionRule(_ name: String?) -> Bool {
        RefusalRule.all.first { $0.name == name }?.category == .permission
    }

    @Test("Every row can fail on authorization: the right role succeeds, or gets a refusal that is not a permission rule while the wrong role gets one")
    func rowsDiscriminate() {
        var namedRules = 0
        for c in Self.cases {
            let (right, wrong) = (c.right.1, c.wrongRole.1)
            if (200..<300).contains(right) {
                #expect(c.rightRule == nil, "\(c.testDescription)")
                // Listing is for every caller: what each one sees is what can be wrong.
                if c.method == .get && c.path == "/v1/requests" {
                    #expect(c.listed.map { Set($0.keys) } == [c.right.0, c.wrongRole.0, c.wrongUser.0], "\(c.testDescription): say what each caller sees")
                }
            } else {
                #expect(right != wrong, "\(c.testDescription): right and wrong role both get \(right)")
                #expect([403, 404].contains(wrong), "\(c.testDescription)")
                #expect(c.rightRule != nil && !Self.isPermissionRule(c.rightRule), "\(c.testDescription): the right role's refusal must name a non-permission rule")
            }
            if let rule = c.wrongRoleRule {
                namedRules += 1
                #expect(Self.isPermissionRule(rule), "\(c.testDescription): \(rule) is not a permission rule")
            }
        }
        // The check above ran, on the rows that name the rule the wrong role meets (four today; never none).
        #expect(namedRules >= 4, "only \(namedRules) rows name the wrong role's rule")
    }

    /// The list response: `{"requests":[{"request":…, "project":…}]}`.
    struct Listed: Decodable {
        struct Row: Decodable {
            let request: String
            let project: String
        }
        let requests: [Row]
    }

    /// Brings the fixture to the state the row starts from.
    static func prepare(_ f: inout ServerFixture, _ setup: MatrixCase.Setup) async throws {
        let digest = try SHA256Digest(parsing: Self.digest)
        switch setup {
        case .none: break
        case .filed, .tested, .approved, .filedInTwoProjects:
            try await f.must(.fileRequest(project: project, environment: "qa", bundle: "b.zip", digest: digest, description: ""), as: requester)
        case .deployedUnderEmergency:
            try await f.must(.addMember(group: Cast.Group.releaseManagers, member: requester), as: admin)
            try await f.must(
                .fileRequest(project: project, environment: "qa", bundle: "b.zip", digest: digest, description: "outage", emergencyReason: "prod is down"),
                as: requester)
            try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "prod is down", envelope: nil), as: releaseManager)
            try await f.must(.recordDeployment(request: "REQ-1", outcome: .succeeded, note: ""), as: deployer)
        }
        if setup == .filedInTwoProjects {
            try await f.must(
                .createProject(
                    ProjectSpec(
                        key: Cast.otherProject, regulated: false, environments: ServerFixture.environments,
                        roles: Dictionary(uniqueKeysWithValues: Cast.roles.keys.map { ($0, [Cast.Group.compliance]) }).merging(["ci": [Cast.Group.ci]]) { $1 }),
                    approval: nil),
                as: admin)
            try await f.must(.fileRequest(project: Cast.otherProject, environment: "qa", bundle: "f.zip", digest: digest, description: ""), as: compliance)
        }
        if setup == .tested || setup == .approved {
            try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: digest), as: ci)
        }
        if setup == .approved { try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: nil), as: releaseManager) }
    }

    @Test("Every operation × (no token, expired token, wrong user, wrong role, right role) gets exactly its status", arguments: TestBackend.allCases, cases)
    func matrix(_ backend: TestBackend, _ c: MatrixCase) async throws {
        var fixture = try await ServerFixture(backend)
        defer { fixture.remove() }
        try await Self.prepare(&fixture, c.setup)
        let f = fixture
        let auth = Authenticator(store: f.database.auth, clock: { f.database.now })

        // Bodies that need live values.
        var body: [String: Any] = c.body
        if body["verifier_key"] as? String == "FRESH" { body["verifier_key"] = try NoteVerifierKey(name: outsider, publicKey: Ed25519.SigningKey().publicKey).description }
        if body["source"] as? String == "STANDARD2" {
            body["source"] = try Cast.workflowSource("standard") + "# v2\n"
        }
        if body["key"] as? String == "PROJECTUPDATE" {
            var roles = Cast.roles
            roles["requesters"] = [Cast.Group.dataScience, Cast.Group.compliance]
            body = ["key": project, "environments": ServerFixture.environments, "roles": roles]
        }
        if body["key"] as? String == Cast.otherProject {
            body = ["key": Cast.otherProject, "environments": ServerFixture.environments, "roles": Cast.roles]
        }
        if body["service_account"] != nil { body["scopes"] = ["evidence:\(project)"] }
        if body["quorum"] as? String == "TWO" { body["quorum"] = 2 }
        let path = c.path.replacingOccurrences(of: "EVEKEY", with: f.keys[outsider]!.publicKey.fingerprint)
        let bodyData = try JSONSerialization.data(withJSONObject: body)

        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            func token(_ user: String) async throws -> String {
                if user == ci {
                    return try await auth.issueToken(for: ci, kind: .service, scopes: ["evidence:\(project)"], lifetimeMilliseconds: 60_000).token
                }
                return try await client.login(user, key: f.keys[user]!)
            }
            let body = c.method == .get || c.method == .delete ? nil : try JSONSerialization.jsonObject(with: bodyData) as? [String: Any]
            let expired = try await auth.issueToken(for: c.right.0, kind: .session, scopes: [], lifetimeMilliseconds: -1).token
            let none = try await client.json(path, c.method, token: nil, body: body)
            #expect(none.status == 401, "no token")
            #expect(none.headers[.contentType] == "application/problem+json" && none.object["detail"] != nil, "no token: problem details")
            let stale = try await client.json(path, c.method, token: expired, body: body)
            #expect(stale.status == 401, "expired token")
            for (label, (user, status)) in [("wrong user", c.wrongUser), ("wrong role", c.wrongRole), ("right role", c.right)] {
                let result = try await client.json(path, c.method, token: try await token(user), body: body)
                #expect(result.status == status, "\(label) \(user): \(result.status) \(result.object)")
                // Every refusal as problem details (the 2xx rows have nothing to check here; the no-token and expired
                // answers above are refusals on every row, checked the same way below).
                if status >= 400 { #expect(result.headers[.contentType] == "application/problem+json" && result.object["detail"] != nil, "\(label): problem details") }
                let rule = result.object["rule"] as? String
                if label == "wrong role", let expected = c.wrongRoleRule {
                    #expect(rule == expected, "wrong role \(user): rule \(rule ?? "none"), expected \(expected)")
                }
                if label == "right role", let expected = c.rightRule {
                    #expect(rule == expected && !Self.isPermissionRule(rule), "right role \(user): rule \(rule ?? "none"), expected \(expected)")
                }
                if let expected = c.listed?[user] {
                    let listed = try JSONDecoder().decode(Listed.self, from: JSONSerialization.data(withJSONObject: result.object))
                    #expect(listed.requests.map { "\($0.request) \($0.project)" } == expected, "\(label) \(user) sees exactly \(expected)")
                }
            }
        }
    }
}

/// Scopes bind every endpoint: the table of operations (``APIOperation/all``) is exactly `schema/openapi.yaml`'s, and
/// every operation a service token may not call refuses one with `token.scope` — through the real router.
@Suite("Service-token scopes on every operation")
struct ServiceTokenScopeTests {
    /// "METHOD path operationId x-service-token" of every operation in `schema/openapi.yaml`.
    static func specOperations() throws -> Set<String> {
        let text = try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("schema/openapi.yaml"), encoding: .utf8)
        var operations = Set<String>()
        var path: String?
        var method: String?
        var operation: String?
        var inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, !line.isEmpty, !line.hasPrefix(" ") { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let m = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                method = m.uppercased()
                operation = nil
            } else if line.hasPrefix("      operationId: ") {
                operation = String(line.dropFirst("      operationId: ".count))
                if let path, let method, let operation { operations.insert("\(method) \(path) \(operation) (no x-service-token)") }
            } else if line.hasPrefix("      x-service-token: "), let path, let method, let operation {
                operations.remove("\(method) \(path) \(operation) (no x-service-token)")
                operations.insert("\(method) \(path) \(operation) \(line.dropFirst("      x-service-token: ".count).replacingOccurrences(of: "\"", with: ""))")
            }
        }
        return operations
    }

    /// The spec's words for a row's rule.
    static func specWord(_ rule: APIOperation.ServiceTokens) -> String {
        switch rule {
        case .noTokenNeeded: "none"
        case .anyToken: "any"
        case .sessionOnly: "session-only"
        case .scope(let action): "scope \(action)"
        }
    }

    @Test("Every operation of schema/openapi.yaml has exactly one scope rule, the spec's x-service-token says the same, and every rule has its operation")
    func everyOperationHasARule() throws {
        let spec = try Self.specOperations()
        #expect(spec.count >= 60, "the spec parsed to \(spec.count) operations")
        let rules = Set(APIOperation.all.map { "\($0.method.rawValue) \($0.path) \($0.operationID) \(Self.specWord($0.serviceTokens))" })
        #expect(rules.count == APIOperation.all.count, "an operation has two rows")
        for missing in spec.subtracting(rules).sorted() { Issue.record("the spec has \(missing), which no row of APIOperation.all says") }
        for extra in rules.subtracting(spec).sorted() { Issue.record("APIOperation.all has \(extra), which schema/openapi.yaml does not say") }
    }

    static let allScopes = ["read", "request", "evidence", "deploy", "gate", "metrics"]

    /// A concrete URI for an operation's path.
    static func uri(_ operation: APIOperation, fingerprint: String) -> String {
        var path = operation.path
        for (placeholder, value) in [
            ("{id}", operation.path.hasPrefix("/v1/requests") ? "REQ-1" : operation.path.hasPrefix("/v1/tokens") ? "tok" : "X-1"),
            ("{name}", Cast.outsider.name), ("{fingerprint}", fingerprint), ("{key}", Cast.project),
            ("{digest}", AuthorizationMatrixTests.digest),
        ] {
            path = path.replacingOccurrences(of: placeholder, with: value)
        }
        if operation.operationID == "gate" { path += "?environment=qa&digest=\(AuthorizationMatrixTests.digest)" }
        if operation.operationID == "gateByDigest" { path += "?project=\(Cast.project)&environment=qa&digest=\(AuthorizationMatrixTests.digest)" }
        if operation.operationID == "auditExport" { path += "?project=\(Cast.project)" }
        return path
    }

    /// Every operation on SQLite; on PostgreSQL every fourth (the scope rule is the server's, the same on both; what
    /// PostgreSQL adds is storing and reading a token's scopes, which a sample shows).
    static let scopeCases: [(TestBackend, APIOperation)] =
        APIOperation.all.map { (TestBackend.sqlite, $0) } + APIOperation.all.enumerated().filter { $0.offset % 4 == 0 }.map { (TestBackend.postgres, $0.element) }

    @Test("A service token is refused (token.scope) on every operation its scopes do not cover, and passes the scope check where they do", arguments: scopeCases)
    func refusedOutsideItsScopes(_ backend: TestBackend, _ operation: APIOperation) async throws {
        var fixture = try await ServerFixture(backend)
        defer { fixture.remove() }
        try await AuthorizationMatrixTests.prepare(&fixture, .filed)
        let f = fixture
        let auth = Authenticator(store: f.database.auth, clock: { f.database.now })
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        let uri = Self.uri(operation, fingerprint: f.keys[Cast.ci.name]?.publicKey.fingerprint ?? "00")
        let hasBody = operation.method != .get
        try await app.test(.router) { client in
            func call(scopes: [String]) async throws -> (status: Int, rule: String?) {
                let token = try await auth.issueToken(for: Cast.ci.name, kind: .service, scopes: scopes, lifetimeMilliseconds: 60_000).token
                let result = try await client.json(uri, operation.method, token: token, body: hasBody ? [:] : nil)
                return (result.status, result.object["rule"] as? String)
            }
            switch operation.serviceTokens {
            case .sessionOnly:
                let refused = try await call(scopes: Self.allScopes.map { "\($0):*" })
                #expect(refused.status == 403 && refused.rule == "token.scope", "every scope: \(refused)")
            case .scope(let action):
                let refused = try await call(scopes: Self.allScopes.filter { $0 != action }.map { "\($0):*" })
                #expect(refused.status == 403 && refused.rule == "token.scope", "every scope but \(action): \(refused)")
                let passed = try await call(scopes: ["\(action):*"])
                #expect(passed.rule != "token.scope", "\(action):* \(passed)")
            case .anyToken, .noTokenNeeded:
                let passed = try await call(scopes: ["read:\(Cast.project)"])
                #expect(passed.rule != "token.scope" && passed.status != 401, "\(passed)")
            }
        }
    }
}
