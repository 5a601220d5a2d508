import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Security round 3, each attack of the review through a real `signoff serve` over HTTP, asserting the refusal's rule:
/// a stolen session cannot void its owner's approvals, scopes bind every endpoint, one administrator key cannot lift a
/// freeze (or add one, an auditor, an organisation-wide webhook) under `admin-quorum 2`, and a stolen administrator
/// session without a key can neither revoke others' tokens nor withdraw someone's regulated request.
@Suite("Security round 3: the review's attacks through a real server", .serialized)
struct SecurityRoundThreeTests {
    /// The story with a second administrator (bob), service tokens for ci-bot, a delegation, a filed and an approved
    /// prod request, then `admin-quorum 2` — and a server on it.
    struct World {
        let story: Story
        let server: RunningServer
        let approved: String
        let filed: String
        let readToken: String
        let deployToken: String
        let deployTokenID: String
        let evidenceReadToken: String

        init() async throws {
            let s = try await Story()
            story = s
            try await s.must("key", "generate", "--name", "bob", "--out", "bob.key")
            try await s.must("user", "add", "bob", "--admin", "--key-file", "bob.key.pub", "--as", "ada", "--key", "ada.key")
            func token(_ scopes: [String]) async throws -> (token: String, id: String) {
                let out = try await s.must(["token", "create", "--service-account", Cast.ci.name, "--ttl", "1d", "--json", "--as", "ada", "--key", "ada.key"] + scopes.flatMap { ["--scope", $0] })
                let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] ?? [:]
                return (object["token"] as? String ?? "", object["token_id"] as? String ?? "")
            }
            readToken = try await token(["read:\(Cast.project)"]).token
            let deploy = try await token(["deploy:\(Cast.project)"])
            (deployToken, deployTokenID) = (deploy.token, deploy.id)
            evidenceReadToken = try await token(["evidence:\(Cast.project)", "read:\(Cast.project)"]).token
            approved = try await s.approvedProd()
            filed = try await s.tested()
            let until = Timestamps.rfc3339(Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000)
            try await s.must("delegate", "grant", "--to", Cast.releaseManager.name, "--until", until, "--as", Cast.secondReleaseManager.name, "--key", "sam.key")
            try await s.must("admin-quorum", "2", "--as", "ada", "--key", "ada.key")
            server = try await RunningServer.start(story: s)
        }

        func stop() {
            server.stop()
            story.remove()
        }

        /// A session of `user`, logged in with their key through the CLI.
        func session(_ user: String) async throws -> String {
            try await story.must("login", "--server", server.url.absoluteString, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: story.path("\(user).token")))) as? [String: Any]
            return object?["token"] as? String ?? ""
        }

        /// `command`'s administrative change signed by `signers`' keys, as a JSON object for a body's `approval`.
        func approval(_ command: Command, by signers: [String]) async throws -> Any {
            let statement = AdminApproval(change: command.adminChange!, time: Int64(Date().timeIntervalSince1970 * 1000))
            var envelope = await statement.signed(with: try story.key(signers[0]))
            for signer in signers.dropFirst() { await envelope.addSignature(with: try story.key(signer)) }
            return try JSONSerialization.jsonObject(with: Data(envelope.jsonBytes()))
        }

        func call(_ method: String, _ path: String, token: String?, body: [String: Any]? = nil) async throws -> (status: Int, object: [String: Any]) {
            try await HTTP.call(method, server.url.absoluteString + path, token: token, body: body)
        }

        /// Whether the gate allows the approved request to prod now (asked with `token`).
        func gateAllows(_ token: String) async throws -> (allowed: Bool, rules: [String]) {
            let answer = try await call("GET", "/v1/requests/\(approved)/gate?environment=prod&digest=\(story.digest)", token: token)
            let reasons = (answer.object["reasons"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
            return (answer.object["allowed"] as? Bool ?? false, reasons)
        }
    }

    @Test("A stolen session cannot mark its owner's key compromised (their approvals keep counting), nor date a compromise before the key's enrolment; revoking plainly stays possible")
    func stolenSessionCannotVoidApprovals() async throws {
        let w = try await World()
        defer { w.stop() }
        let ada = try await w.session("ada")
        await #expect(try w.gateAllows(ada).allowed)
        let morgan = Cast.releaseManager.name
        let fingerprint = try await w.story.key(morgan).publicKey.fingerprint
        let stolen = try await w.session(morgan)
        let attack = try await w.call("POST", "/v1/users/\(morgan)/keys/\(fingerprint)/revoke", token: stolen, body: ["compromised_since": "2020-01-01T00:00:00Z"])
        #expect(attack.status == 422 && attack.object["rule"] as? String == "key.compromise-signature", "\(attack)")
        await #expect(try w.gateAllows(ada).allowed, "the owner's approvals still count")
        // Signed by the key itself (the thief may hold it too): refused the same way.
        let bySelf = Command.revokeKey(principal: morgan, fingerprint: fingerprint, compromisedSince: Timestamps.milliseconds(rfc3339: "2020-01-01T00:00:00Z"))
        let selfSigned = try await w.call(
            "POST", "/v1/users/\(morgan)/keys/\(fingerprint)/revoke", token: stolen,
            body: await ["compromised_since": "2020-01-01T00:00:00Z", "approval": try w.approval(bySelf, by: [morgan])])
        #expect(selfSigned.status == 422 && selfSigned.object["rule"] as? String == "key.compromise-signature", "\(selfSigned)")
        // Administrators under the quorum, but dated before the key existed: refused.
        let early = try await w.call(
            "POST", "/v1/users/\(morgan)/keys/\(fingerprint)/revoke", token: ada,
            body: await ["compromised_since": "2020-01-01T00:00:00Z", "approval": try w.approval(bySelf, by: ["ada", "bob"])])
        #expect(early.status == 422 && early.object["rule"] as? String == "key.compromised-since", "\(early)")
        await #expect(try w.gateAllows(ada).allowed)
        // A plain revocation of one's own key with a session only removes access: allowed, and the approvals stand.
        let plain = try await w.call("POST", "/v1/users/\(morgan)/keys/\(fingerprint)/revoke", token: stolen, body: [:])
        #expect(plain.status == 200, "\(plain)")
        await #expect(try w.gateAllows(ada).allowed)
        await #expect(try w.call("GET", "/v1/whoami", token: stolen).status == 401, "the session obtained with the revoked key ends")
    }

    @Test("A read-only service token (and an evidence/read one) can neither revoke its account's key nor its deploy token: token.scope")
    func scopesBindRevocations() async throws {
        let w = try await World()
        defer { w.stop() }
        let ci = Cast.ci.name
        let fingerprint = try await w.story.key(ci).publicKey.fingerprint
        for token in [w.readToken, w.evidenceReadToken] {
            let compromised = try await w.call("POST", "/v1/users/\(ci)/keys/\(fingerprint)/revoke", token: token, body: ["compromised_since": "2020-01-01T00:00:00Z"])
            #expect(compromised.status == 403 && compromised.object["rule"] as? String == "token.scope", "\(compromised)")
            let plain = try await w.call("POST", "/v1/users/\(ci)/keys/\(fingerprint)/revoke", token: token, body: [:])
            #expect(plain.status == 403 && plain.object["rule"] as? String == "token.scope", "\(plain)")
            let other = try await w.call("POST", "/v1/tokens/\(w.deployTokenID)/revoke", token: token, body: [:])
            #expect(other.status == 403 && other.object["rule"] as? String == "token.scope", "\(other)")
        }
        // The deploy token still works; the read token still reads.
        await #expect(try w.call("GET", "/v1/requests/\(w.approved)", token: w.readToken).status == 200)
        await #expect(try w.call("POST", "/v1/requests/\(w.approved)/deployments/finish", token: w.deployToken, body: ["outcome": "succeeded"]).object["rule"] as? String != "token.scope")
    }

    @Test("Under admin-quorum 2 one administrator key neither lifts a freeze nor adds one, nor adds an auditor, nor subscribes a webhook organisation-wide: admin.quorum")
    func quorumCoversFreezes() async throws {
        let w = try await World()
        defer { w.stop() }
        let ada = try await w.session("ada")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let yearEnd = FreezeSpec(environment: "prod", project: nil, from: now - 60_000, until: now + 30 * 86_400_000, reason: "year-end close")
        func freezeBody(_ spec: FreezeSpec, by signers: [String]) async throws -> [String: Any] {
            await ["environment": spec.environment, "from": Timestamps.rfc3339(spec.from), "until": Timestamps.rfc3339(spec.until), "reason": spec.reason,
             "approval": try w.approval(.addFreeze(spec), by: signers)]
        }
        let frozen = try await w.call("POST", "/v1/freezes", token: ada, body: try freezeBody(yearEnd, by: ["ada", "bob"]))
        #expect(frozen.status == 201, "\(frozen)")
        await #expect(try w.gateAllows(ada).rules.contains("gate.freeze"))
        let lift = try await w.call("POST", "/v1/freezes/FRZ-1/lift", token: ada, body: ["approval": try w.approval(.liftFreeze(id: "FRZ-1"), by: ["ada"])])
        #expect(lift.status == 422 && lift.object["rule"] as? String == "admin.quorum", "\(lift)")
        await #expect(try w.gateAllows(ada).rules.contains("gate.freeze"), "the freeze still holds")
        let ninety = FreezeSpec(environment: "prod", project: nil, from: now - 60_000, until: now + 90 * 86_400_000, reason: "lockout")
        let another = try await w.call("POST", "/v1/freezes", token: ada, body: try freezeBody(ninety, by: ["ada"]))
        #expect(another.status == 422 && another.object["rule"] as? String == "admin.quorum", "\(another)")
        // auditors read every project; an organisation-wide webhook carries every trail out.
        let group = try await w.call("POST", "/v1/groups", token: ada, body: ["name": "auditors", "approval": try w.approval(.createGroup(name: "auditors"), by: ["ada"])])
        #expect(group.status == 200, "\(group)")
        let auditor = try await w.call(
            "POST", "/v1/groups/auditors/members", token: ada,
            body: ["member": Cast.requester.name, "approval": try w.approval(.addMember(group: "auditors", member: Cast.requester.name), by: ["ada"])])
        #expect(auditor.status == 422 && auditor.object["rule"] as? String == "admin.quorum", "\(auditor)")
        let hook = WebhookSpec(url: "https://hooks.example.com/all", project: nil, events: ["request.approved"], format: .standard)
        let webhook = try await w.call(
            "POST", "/v1/webhooks", token: ada,
            body: ["url": hook.url, "events": hook.events, "format": "standard", "approval": try w.approval(.addWebhook(hook), by: ["ada"])])
        #expect(webhook.status == 422 && webhook.object["rule"] as? String == "admin.quorum", "\(webhook)")
        // Both administrators lift it.
        let both = try await w.call("POST", "/v1/freezes/FRZ-1/lift", token: ada, body: ["approval": try w.approval(.liftFreeze(id: "FRZ-1"), by: ["ada", "bob"])])
        #expect(both.status == 200, "\(both)")
        await #expect(try w.gateAllows(ada).allowed)
    }

    @Test("A stolen administrator session without a key revokes no one's token or delegation and withdraws no one's request: admin.signature-required")
    func stolenAdministratorSession() async throws {
        let w = try await World()
        defer { w.stop() }
        let ada = try await w.session("ada")
        let riley = try await w.session(Cast.requester.name)
        let tokens = try await w.call("GET", "/v1/tokens", token: ada)
        let rileyToken = (tokens.object["items"] as? [[String: Any]] ?? []).first { $0["principal"] as? String == Cast.requester.name }?["token_id"] as? String ?? ""
        for id in [w.deployTokenID, rileyToken] {
            let revoked = try await w.call("POST", "/v1/tokens/\(id)/revoke", token: ada, body: [:])
            #expect(revoked.status == 422 && revoked.object["rule"] as? String == "admin.signature-required", "\(id): \(revoked)")
        }
        await #expect(try w.call("GET", "/v1/whoami", token: riley).status == 200, "riley's session lives")
        let withdraw = try await w.call("POST", "/v1/requests/\(w.filed)/withdraw", token: ada, body: ["reason": "mine now"])
        #expect(withdraw.status == 422 && withdraw.object["rule"] as? String == "admin.signature-required", "\(withdraw)")
        let delegation = try await w.call("POST", "/v1/delegations/DLG-1/revoke", token: ada, body: [:])
        #expect(delegation.status == 422 && delegation.object["rule"] as? String == "admin.signature-required", "\(delegation)")
        // Signed with an administrator's key, each is recorded (one signature: they only take authority away).
        let signed = try await w.call(
            "POST", "/v1/tokens/\(rileyToken)/revoke", token: ada, body: await ["approval": try w.approval(.revokeToken(id: rileyToken, principal: ""), by: ["ada"])])
        #expect(signed.status == 200, "\(signed)")
        await #expect(try w.call("GET", "/v1/whoami", token: riley).status == 401)
        let withdrawn = try await w.call(
            "POST", "/v1/requests/\(w.filed)/withdraw", token: ada,
            body: await ["reason": "superseded", "approval": try w.approval(.withdraw(request: w.filed, reason: "superseded"), by: ["ada"])])
        #expect(withdrawn.status == 200, "\(withdrawn)")
        // The requester's own withdrawal and the delegator's own revocation need no administrator.
        let sam = try await w.session(Cast.secondReleaseManager.name)
        await #expect(try w.call("POST", "/v1/delegations/DLG-1/revoke", token: sam, body: [:]).status == 200)
        // The ledger verifies, with the new entries in it (a stopped server signs its last checkpoint).
        w.server.stop()
        let verify = try await w.story.signoff("audit", "verify", "--db", w.story.path("signoff.sqlite"))
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }
}

/// Plain HTTP for the tests that talk to a real server (awaited: no thread held while it waits).
enum HTTP {
    static func call(_ method: String, _ url: String, token: String?, body: [String: Any]? = nil) async throws -> (status: Int, object: [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? ["body": String(decoding: data, as: UTF8.self)]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object)
    }
}
