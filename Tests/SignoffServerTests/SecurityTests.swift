import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffService
import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Testing

/// The server fixture with a regulated project, as the security review attacked it: the administrator ada (whose key
/// is the first administrator's, trusted) and mallory, an administrator added before the ledger had a regulated
/// project, without a signed enrolment — so her key cannot sign administration.
struct RegulatedFixture {
    var base: ServerFixture
    static let regulatedProject = "fraud-scoring"

    init(_ backend: TestBackend = .sqlite) async throws {
        base = try await ServerFixture(backend)
        let mallory = Ed25519.SigningKey()
        base.keys["mallory"] = mallory
        try await base.must(.addUser(name: "mallory", administrator: true, key: try NoteVerifierKey(name: "mallory", publicKey: mallory.publicKey)), as: "ada")
        try await base.must(.applyWorkflow(source: try Cast.workflowSource("regulated"), file: "regulated.yaml"), as: "ada")
        let spec = ProjectSpec(
            key: Self.regulatedProject, regulated: true, environments: ["prod": "regulated"], roles: Cast.roles)
        try await base.must(signed(.createProject(spec, approval: nil), by: ["ada"]), as: "ada")
    }

    var database: SignoffService { base.database }

    /// `command` approved by `signers` (one envelope, a signature each).
    func signed(_ command: Command, by signers: [String], time: Int64? = nil) -> Command {
        var envelope = AdminApproval(change: command.adminChange!, time: time ?? base.database.now).signed(with: base.keys[signers[0]]!)
        for signer in signers.dropFirst() { envelope.addSignature(with: base.keys[signer]!) }
        return command.approved(by: envelope)
    }

    func envelopeJSON(_ command: Command, by signers: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(signed(command, by: signers).approval!.jsonBytes()))
    }
}

@Suite("Security: attacks from the review, each refused")
struct SecurityTests {
    static func app(_ f: RegulatedFixture) -> some ApplicationProtocol {
        Application(router: buildRouter(service: f.database), logger: quietLogger)
    }

    @Test("An administrator's session without the key: every administrative endpoint refuses, and nothing is recorded", arguments: TestBackend.allCases)
    func stolenSession(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        let before = try await f.database.ledger.size()
        try await Self.app(f).test(.router) { client in
            let token = try await client.login("ada", key: f.base.keys["ada"]!)
            let fresh = try NoteVerifierKey(name: "eve", publicKey: Ed25519.SigningKey().publicKey).description
            let riley = f.base.keys[Cast.requester.name]!.publicKey.keyFingerprint
            let attempts: [(String, [String: Any])] = [
                ("/v1/users", ["name": "newadmin", "administrator": true, "verifier_key": fresh]),
                ("/v1/service-accounts", ["name": "bot"]),
                ("/v1/users/eve/keys", ["verifier_key": fresh]),
                ("/v1/users/riley/keys/\(riley)/revoke", [:]),
                ("/v1/groups", ["name": "shadow"]),
                ("/v1/groups/\(Cast.Group.releaseManagers)/members", ["member": "eve"]),
                ("/v1/groups/\(Cast.Group.compliance)/members/remove", ["member": Cast.complianceOfficer.name]),
                ("/v1/workflows", ["source": try Cast.workflowSource("regulated").replacingOccurrences(of: "count: 2", with: "count: 1")]),
                ("/v1/projects", ["key": "other", "environments": ["qa": "standard"], "roles": Cast.roles]),
                ("/v1/projects/\(RegulatedFixture.regulatedProject)", [
                    "key": RegulatedFixture.regulatedProject, "regulated": true, "environments": ["prod": "standard"], "roles": Cast.roles,
                ]),
                ("/v1/freezes", ["environment": "prod", "from": "2026-01-01T00:00:00Z", "until": "2099-01-01T00:00:00Z", "reason": "a denial of service"]),
                ("/v1/principals/\(Cast.complianceOfficer.name)/disable", [:]),
                ("/v1/principals/mallory/enable", [:]),
                ("/v1/admin-quorum", ["quorum": 1]),
                ("/v1/service-tokens", ["service_account": Cast.ci.name, "scopes": ["evidence:\(RegulatedFixture.regulatedProject)"]]),
            ]
            for (path, body) in attempts {
                let result = try await client.json(path, .post, token: token, body: body)
                #expect(result.status == 422 && result.object["rule"] as? String == "admin.signature-required", "\(path): \(result.status) \(result.object)")
            }
        }
        #expect(try await f.database.ledger.size() == before, "no unsigned administrative change may reach the ledger")
    }

    @Test("The review's chain: a key enrolled without a signature cannot sign administration; a forged or re-used approval is refused", arguments: TestBackend.allCases)
    func untrustedKeys(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        try await Self.app(f).test(.router) { client in
            let mallory = try await client.login("mallory", key: f.base.keys["mallory"]!)
            let add = Command.addMember(group: Cast.Group.releaseManagers, member: "mallory")
            let byMallory = try await client.json(
                "/v1/groups/\(Cast.Group.releaseManagers)/members", .post, token: mallory,
                body: ["member": "mallory", "approval": try f.envelopeJSON(add, by: ["mallory"])])
            #expect(byMallory.status == 422 && byMallory.object["rule"] as? String == "admin.untrusted-key", "\(byMallory.object)")
            // ada's signature on mallory's request: the acting administrator must sign it.
            let byAdaForMallory = try await client.json(
                "/v1/groups/\(Cast.Group.releaseManagers)/members", .post, token: mallory,
                body: ["member": "mallory", "approval": try f.envelopeJSON(add, by: ["ada"])])
            #expect(byAdaForMallory.status == 422 && byAdaForMallory.object["rule"] as? String == "admin.signature", "\(byAdaForMallory.object)")
            // A signature over another change.
            let ada = try await client.login("ada", key: f.base.keys["ada"]!)
            let other = try f.envelopeJSON(.addMember(group: Cast.Group.releaseManagers, member: Cast.deployer.name), by: ["ada"])
            let wrong = try await client.json("/v1/groups/\(Cast.Group.releaseManagers)/members", .post, token: ada, body: ["member": "mallory", "approval": other])
            #expect(wrong.status == 422 && wrong.object["rule"] as? String == "admin.signature", "\(wrong.object)")
            // The genuine one works once; the same approval a second time is a replay.
            let approval = try f.envelopeJSON(add, by: ["ada"])
            let genuine = try await client.json("/v1/groups/\(Cast.Group.releaseManagers)/members", .post, token: ada, body: ["member": "mallory", "approval": approval])
            #expect(genuine.status == 200, "\(genuine.object)")
            let remove = Command.removeMember(group: Cast.Group.releaseManagers, member: "mallory")
            _ = try await client.json("/v1/groups/\(Cast.Group.releaseManagers)/members/remove", .post, token: ada, body: ["member": "mallory", "approval": try f.envelopeJSON(remove, by: ["ada"])])
            let replay = try await client.json("/v1/groups/\(Cast.Group.releaseManagers)/members", .post, token: ada, body: ["member": "mallory", "approval": approval])
            #expect(replay.status == 422 && replay.object["rule"] as? String == "signature.replay", "\(replay.object)")
        }
    }

    @Test("admin_quorum 2: a change to what a regulated project relies on needs two administrators; one is refused, two are accepted", arguments: TestBackend.allCases)
    func quorum(_ backend: TestBackend) async throws {
        var f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        let bob = Ed25519.SigningKey()
        f.base.keys["bob"] = bob
        try await f.base.must(f.signed(.addUser(name: "bob", administrator: true, key: try NoteVerifierKey(name: "bob", publicKey: bob.publicKey)), by: ["ada"]), as: "ada")
        try await f.base.must(f.signed(.setAdminQuorum(2), by: ["ada"]), as: "ada")
        let change = Command.addMember(group: Cast.Group.releaseManagers, member: Cast.deployer.name)
        guard case .failure(let alone) = try await f.database.execute(f.signed(change, by: ["ada"]), as: "ada") else {
            Issue.record("one administrator's signature was enough")
            return
        }
        #expect(alone.code == .adminQuorum && alone.rule == "admin.quorum")
        guard case .success = try await f.database.execute(f.signed(change, by: ["ada", "bob"]), as: "ada") else {
            Issue.record("two administrators' signatures were refused")
            return
        }
        // Lowering the quorum is itself a change that meets the quorum in force.
        guard case .failure(let lower) = try await f.database.execute(f.signed(.setAdminQuorum(1), by: ["bob"]), as: "bob") else {
            Issue.record("one administrator lowered the quorum")
            return
        }
        #expect(lower.code == .adminQuorum)
        // A change that touches nothing a regulated project relies on needs one signature.
        guard case .success = try await f.database.execute(f.signed(.createGroup(name: "observers"), by: ["bob"]), as: "bob") else {
            Issue.record("a group nobody relies on needed the quorum")
            return
        }
    }

    @Test("Revocation takes effect: revoking a key ends its sessions at the next request; disabling a user ends all their tokens and logins", arguments: TestBackend.allCases)
    func revocation(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        let riley = Cast.requester.name
        try await Self.app(f).test(.router) { client in
            let session = try await client.login(riley, key: f.base.keys[riley]!)
            #expect(try await client.json("/v1/requests", token: session).status == 200)
            let revoke = Command.revokeKey(principal: riley, fingerprint: f.base.keys[riley]!.publicKey.fingerprint)
            let ada = try await client.login("ada", key: f.base.keys["ada"]!)
            let revoked = try await client.json(
                "/v1/users/\(riley)/keys/\(f.base.keys[riley]!.publicKey.keyFingerprint)/revoke", .post, token: ada,
                body: ["approval": try f.envelopeJSON(revoke, by: ["ada"])])
            #expect(revoked.status == 200, "\(revoked.object)")
            let after = try await client.json("/v1/requests", token: session)
            #expect(after.status == 401, "a session obtained with a revoked key ends: \(after.object)")
            let tokens = try await client.json("/v1/tokens", token: ada)
            let listed = (tokens.object["items"] as? [[String: Any]] ?? []).filter { $0["principal"] as? String == riley }
            #expect(!listed.isEmpty && listed.allSatisfy { $0["revoked"] as? Bool == true }, "\(listed)")

            // Disabling ends every token (a service token too) and every login.
            let compliance = Cast.complianceOfficer.name
            let caseySession = try await client.login(compliance, key: f.base.keys[compliance]!)
            let disable = Command.disablePrincipal(name: compliance)
            let disabled = try await client.json("/v1/principals/\(compliance)/disable", .post, token: ada, body: ["approval": try f.envelopeJSON(disable, by: ["ada"])])
            #expect(disabled.status == 200, "\(disabled.object)")
            #expect(try await client.json("/v1/requests", token: caseySession).status == 401)
            await #expect(throws: (any Error).self) { _ = try await client.login(compliance, key: f.base.keys[compliance]!) }
            // The last administrator cannot be disabled.
            let disableAda = Command.disablePrincipal(name: "mallory")
            _ = try await client.json("/v1/principals/mallory/disable", .post, token: ada, body: ["approval": try f.envelopeJSON(disableAda, by: ["ada"])])
            let last = Command.disablePrincipal(name: "ada")
            let refused = try await client.json("/v1/principals/ada/disable", .post, token: ada, body: ["approval": try f.envelopeJSON(last, by: ["ada"])])
            #expect(refused.status == 403 && refused.object["rule"] as? String == "admin.required", "\(refused.object)")
        }
    }

    @Test("Tokens: administrators list and revoke any by id, others only their own; service tokens need a signature and a lifetime within the maximum; metrics need the metrics scope", arguments: TestBackend.allCases)
    func tokens(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        try await Self.app(f).test(.router) { client in
            let ada = try await client.login("ada", key: f.base.keys["ada"]!)
            let riley = try await client.login(Cast.requester.name, key: f.base.keys[Cast.requester.name]!)
            let own = try await client.json("/v1/tokens", token: riley)
            #expect((own.object["items"] as? [[String: Any]])?.allSatisfy { $0["principal"] as? String == Cast.requester.name } == true)
            let all = try await client.json("/v1/tokens", token: ada)
            let adaTokenID = (all.object["items"] as? [[String: Any]] ?? []).first { $0["principal"] as? String == "ada" }?["token_id"] as? String ?? ""
            #expect(try await client.json("/v1/tokens/\(adaTokenID)/revoke", .post, token: riley, body: [:]).status == 404)

            let scopes = ["evidence:\(RegulatedFixture.regulatedProject)"]
            let issue = Command.issueServiceToken(tokenID: "", principal: Cast.ci.name, scopes: scopes, lifetimeHours: 24 * 31)
            let tooLong = try await client.json(
                "/v1/service-tokens", .post, token: ada,
                body: ["service_account": Cast.ci.name, "scopes": scopes, "ttl_hours": 24 * 31, "approval": try f.envelopeJSON(issue, by: ["ada"])])
            #expect(tooLong.status == 400, "\(tooLong.object)")
            let good = Command.issueServiceToken(tokenID: "", principal: Cast.ci.name, scopes: scopes, lifetimeHours: 12)
            let issued = try await client.json(
                "/v1/service-tokens", .post, token: ada,
                body: ["service_account": Cast.ci.name, "scopes": scopes, "ttl_hours": 12, "approval": try f.envelopeJSON(good, by: ["ada"])])
            #expect(issued.status == 200, "\(issued.object)")
            let ciToken = issued.object["token"] as? String ?? ""
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(ciToken)"]) { $0.status }
            #expect(metrics == .forbidden, "an evidence-scoped token does not read metrics")
            let id = issued.object["token_id"] as? String ?? ""
            // Another principal's token, in a regulated ledger: an administrative change, signed.
            let unsigned = try await client.json("/v1/tokens/\(id)/revoke", .post, token: ada, body: [:])
            #expect(unsigned.status == 422 && unsigned.object["rule"] as? String == "admin.signature-required", "\(unsigned.object)")
            #expect(try await client.json("/v1/requests", token: ciToken).status == 403, "still alive, and scoped to evidence")
            let revoke = Command.revokeToken(id: id, principal: Cast.ci.name)
            #expect(try await client.json("/v1/tokens/\(id)/revoke", .post, token: ada, body: ["approval": try f.envelopeJSON(revoke, by: ["ada"])]).status == 200)
            #expect(try await client.json("/v1/requests", token: ciToken).status == 401)
            // Revoking it again answers as before and records nothing more.
            let size = try await f.database.ledger.size()
            let again = try await client.json("/v1/tokens/\(id)/revoke", .post, token: ada, body: ["approval": try f.envelopeJSON(revoke, by: ["ada"])])
            #expect(again.status == 200 && again.object["revoked"] as? Bool == true, "\(again.object)")
            #expect(try await f.database.ledger.size() == size, "a second token.revoked entry")
        }
    }

    @Test("Hostile bodies: a bundle name with a newline, a repeated key, an envelope with thousands of signatures — refused, nothing recorded", arguments: TestBackend.allCases)
    func hostileBodies(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        let before = try await f.database.ledger.size()
        try await Self.app(f).test(.router) { client in
            let riley = try await client.login(Cast.requester.name, key: f.base.keys[Cast.requester.name]!)
            let digest = SHA256Digest.hash("b").description
            let forged = try await client.json(
                "/v1/requests", .post, token: riley,
                body: ["project": Cast.project, "environment": "qa", "bundle": "b.zip\n## REQ-9: forged\n<!--", "digest": digest])
            #expect(forged.status == 422 && forged.object["rule"] as? String == "input.text", "\(forged.object)")
            let duplicate = try await client.execute(
                uri: "/v1/requests", method: .post, headers: [.authorization: "Bearer \(riley)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"project":"\#(Cast.project)","project":"other","environment":"qa","bundle":"b.zip","digest":"\#(digest)"}"#)
            ) { $0.status }
            #expect(duplicate == .badRequest)
            // Thousands of signatures: refused by count, before any is verified.
            let ada = try await client.login("ada", key: f.base.keys["ada"]!)
            let change = Command.createGroup(name: "flood")
            var envelope = f.signed(change, by: ["ada"]).approval!
            let junk = DSSEEnvelope.Signature(keyid: "sha256:" + String(repeating: "0", count: 64), sig: [UInt8](repeating: 7, count: 64))
            envelope.signatures += Array(repeating: junk, count: 5_000)
            let flood = try await client.json(
                "/v1/groups", .post, token: ada,
                body: ["name": "flood", "approval": try JSONSerialization.jsonObject(with: Data(envelope.jsonBytes()))])
            #expect(flood.status == 422 && flood.object["rule"] as? String == "signature.invalid", "\(flood.object)")
            // Refused by its count (the message says so), not after verifying thousands (no timing here: a loaded
            // machine made a time limit flaky; the benchmark measures speed).
            #expect((flood.object["detail"] as? String)?.contains("at most \(DSSEEnvelope.maximumSignatures) signatures") == true, "\(flood.object)")
            #expect(Engine.preverify(change.approved(by: envelope), state: try await f.database.state(), actor: "ada").signatures.isEmpty, "nothing verified ahead")
        }
        #expect(try await f.database.ledger.size() == before)
    }

    @Test("Login: challenges are limited per address (429 with Retry-After); failed logins per name too", arguments: TestBackend.allCases)
    func loginLimits(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        var configuration = ServerConfiguration()
        configuration.challengesPerAddressPerMinute = 5
        configuration.failedLoginsPerNamePerFiveMinutes = 3
        let app = Application(router: buildRouter(service: f.database, configuration: configuration), logger: quietLogger)
        try await app.testLive { client in
            var statuses: [Int] = []
            for _ in 0..<7 { statuses.append(try await client.json("/v1/auth/challenge", .post, body: ["user": "nobody"]).status) }
            #expect(statuses.prefix(5).allSatisfy { $0 == 200 } && statuses.suffix(2).allSatisfy { $0 == 429 }, "\(statuses)")
            let limited = try await client.json("/v1/auth/challenge", .post, body: ["user": "ada"])
            #expect(limited.headers[.retryAfter] != nil)
            var failures: [Int] = []
            for _ in 0..<5 {
                failures.append(try await client.json("/v1/auth/token", .post, body: ["user": "ada", "challenge": "AAAA", "signature": "AAAA"]).status)
            }
            #expect(failures.prefix(3).allSatisfy { $0 == 401 } && failures.suffix(2).allSatisfy { $0 == 429 }, "\(failures)")
        }
    }
}

/// Collects log records, to check what the server writes (and never writes).
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [String] = []
    func append(_ line: String) { lock.withLock { records.append(line) } }
    var lines: [String] { lock.withLock { records } }
}

struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = metadata.merging(extra ?? [:]) { $1 }
        logs.append("\(message) " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}

@Suite("Security: what the server logs")
struct SecurityLogTests {
    @Test("The access log names the principal and the token id, never the token; a failed login names the user and the reason", arguments: TestBackend.allCases)
    func accessLog(_ backend: TestBackend) async throws {
        let f = try await RegulatedFixture(backend)
        defer { f.base.remove() }
        let logs = CapturedLogs()
        let logger = Logger(label: "signoff-test") { _ in CapturingLogHandler(logs: logs) }
        let app = Application(router: buildRouter(service: f.database), logger: logger)
        let token = try await app.testLive { client in
            let token = try await client.login(Cast.requester.name, key: f.base.keys[Cast.requester.name]!)
            #expect(try await client.json("/v1/requests", token: token).status == 200)
            _ = try await client.json("/v1/auth/token", .post, body: ["user": "ada", "challenge": "AAAA", "signature": "AAAA"])
            return token
        }
        let lines = logs.lines
        let access = lines.first { $0.hasPrefix("request ") && $0.contains("route=/v1/requests") }
        #expect(access?.contains("principal=\(Cast.requester.name)") == true && access?.contains("token_id=") == true, "\(access ?? "no access line")")
        #expect(lines.contains { $0.hasPrefix("login failed") && $0.contains("user=ada") && $0.contains("reason=") }, "\(lines)")
        #expect(!token.isEmpty && !lines.contains { $0.contains(token) }, "a token appeared in the log")
    }
}
