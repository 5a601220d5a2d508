import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import SignoffCore
import SignoffCrypto
import SignoffIdentity
@testable import SignoffServer
import SignoffService
import SignoffTestSupport
import SignoffTestBackends
import Synchronization
import Testing

/// A local OpenID issuer on loopback, as GitHub's or GitLab's token service is to a job: discovery, a key set that can
/// rotate, and ID tokens signed with ES256 or EdDSA by jwt-kit (Signoff's verifier fetches over real HTTP).
final class LocalIssuer: Sendable {
    /// `aud` as a string, or as an array when there are several.
    struct Audience: Codable {
        let values: [String]
        init(_ values: [String]) { self.values = values }
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let many = try? c.decode([String].self) { values = many } else { values = [try c.decode(String.self)] }
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            if values.count == 1 { try c.encode(values[0]) } else { try c.encode(values) }
        }
    }

    struct Claims: JWTPayload {
        var iss: String
        var aud: Audience
        var azp: String?
        var exp: Int
        var iat: Int
        var nbf: Int?
        var repository: String?
        var ref: String?
        var sha: String?
        var run_id: String?
        var actor: String?
        var sub: String?
        var nonce: String?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    let es256 = ES256PrivateKey()
    let eddsa: EdDSA.PrivateKey
    let rotated = ES256PrivateKey()
    let stranger = ES256PrivateKey()
    /// Which keys the key set publishes (`k1` ES256, `k2` EdDSA, `k3` the rotated one), and how often it was fetched.
    final class Keys: Sendable {
        private let set = Mutex<Set<String>>(["k1", "k2"])
        private let count = Mutex(0)
        var published: Set<String> {
            get { set.withLock { $0 } }
        }
        func publish(_ kids: Set<String>) { set.withLock { $0 = kids } }
        func fetched() { count.withLock { $0 += 1 } }
        var fetches: Int { count.withLock { $0 } }
    }
    let keySet = Keys()
    let port: Int
    let task: Task<Void, any Error>
    let executor: DedicatedThreadExecutor
    var url: String { "http://127.0.0.1:\(port)" }

    init() async throws {
        let eddsa = try EdDSA.PrivateKey(curve: .ed25519)
        self.eddsa = eddsa
        let es256 = self.es256
        let rotated = self.rotated
        let keySet = self.keySet
        let listening = ListeningPort()
        let router = Router()
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            let base = "http://127.0.0.1:\(listening.port ?? 0)"
            let body = #"{"issuer":"\#(base)","jwks_uri":"\#(base)/jwks","id_token_signing_alg_values_supported":["ES256","EdDSA"],"authorization_endpoint":"\#(base)/authorize","token_endpoint":"\#(base)/token"}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("/jwks") { _, _ -> Response in
            keySet.fetched()
            var keys: [String] = []
            let set = keySet.published
            func ec(_ key: ES256PrivateKey, _ kid: String) -> String {
                let p = key.publicKey.parameters!
                return #"{"kty":"EC","crv":"P-256","kid":"\#(kid)","alg":"ES256","use":"sig","x":"\#(p.x)","y":"\#(p.y)"}"#
            }
            if set.contains("k1") { keys.append(ec(es256, "k1")) }
            if set.contains("k2") {
                let x = Base64.encode(Array(eddsa.publicKey.rawRepresentation)).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: "")
                keys.append(#"{"kty":"OKP","crv":"Ed25519","kid":"k2","alg":"EdDSA","use":"sig","x":"\#(x)"}"#)
            }
            if set.contains("k3") { keys.append(ec(rotated, "k3")) }
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"keys":[\#(keys.joined(separator: ","))]}"#)))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { listening.set($0.localAddress?.port) },
            logger: quietLogger)
        // No signal handlers of its own (the test process's many servers would each install them), and a failure to
        // start is said, not swallowed by the task.
        let failure = Mutex<String?>(nil)
        // On a thread of its own (DedicatedThreadExecutor): at the start of a run the CPU-heavy suites held the
        // cooperative pool for over a minute, and the issuer, started there, did not bind within 60 s (CI, stop 40).
        let executor = DedicatedThreadExecutor(name: "local-issuer")
        self.executor = executor
        task = Task(executorPreference: executor) {
            do { try await app.runService(gracefulShutdownSignals: []) } catch { failure.withLock { $0 = "\(error)" } }
        }
        let deadline = ContinuousClock.now + .seconds(180)
        while listening.port == nil && failure.withLock({ $0 }) == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(25))
        }
        guard let port = listening.port else {
            task.cancel()
            executor.stop(after: task)
            throw TestSupportError("the local issuer did not start: " + (failure.withLock { $0 } ?? "no port within 180 s"))
        }
        self.port = port
    }

    func stop() {
        task.cancel()
        executor.stop(after: task)
    }

    /// A job's ID token: `kid` k1 (ES256), k2 (EdDSA), k3 (the rotated key) or "stranger" (a key the set never holds,
    /// named k1).
    func token(
        kid: String = "k1", iss: String? = nil, aud: String = "https://signoff.test", audiences: [String]? = nil, azp: String? = nil, expiresIn: Int = 300,
        repository: String = "acme/churn-model", ref: String = "refs/heads/main", sha: String = "0123456789abcdef0123456789abcdef01234567", sub: String? = nil,
        nonce: String? = nil
    ) async throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let claims = Claims(
            iss: iss ?? url, aud: Audience(audiences ?? [aud]), azp: azp, exp: now + expiresIn, iat: now - 5, nbf: now - 5, repository: repository, ref: ref, sha: sha, run_id: "4242",
            actor: "riley-gh", sub: sub, nonce: nonce)
        let keys = JWTKeyCollection()
        switch kid {
        case "k2":
            await keys.add(eddsa: eddsa, kid: "k2")
            return try await keys.sign(claims, kid: "k2")
        case "k3":
            await keys.add(ecdsa: rotated, kid: "k3")
            return try await keys.sign(claims, kid: "k3")
        case "stranger":
            await keys.add(ecdsa: stranger, kid: "k1")
            return try await keys.sign(claims, kid: "k1")
        default:
            await keys.add(ecdsa: es256, kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }
}

@Suite("OpenID Connect: pipelines' own ID tokens")
struct IdentityTests {
    static func trust(_ f: ServerFixture, _ spec: IssuerSpec) async throws {
        let admin = Cast.administrator.name
        let command = Command.trustIssuer(spec)
        try await f.must(command.approved(by: AdminApproval(change: command.adminChange!, time: f.database.now).signed(with: f.keys[admin]!)), as: admin)
    }

    static func spec(_ issuer: LocalIssuer, name: String = "ci-test") -> IssuerSpec {
        IssuerSpec(
            name: name, url: issuer.url, audience: "https://signoff.test", uses: [.pipelines],
            pipelines: [
                PipelineRule(
                    claims: ["repository": "acme/churn-model", "ref": "refs/heads/main"], serviceAccount: Cast.ci.name,
                    scopes: ["request:\(Cast.project)", "read:\(Cast.project)", "gate:\(Cast.project)"])
            ])
    }

    @Test("A job's ID token acts as the rule's service account with its scopes; the filing records the verified claims; every refusal says why", arguments: TestBackend.allCases)
    func pipelines(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let issuer = try await LocalIssuer()
        defer { issuer.stop() }
        try await Self.trust(f, Self.spec(issuer))
        // The pipeline files as well as gates here: its account is among the requesters.
        try await f.must(.addMember(group: Cast.Group.dataScience, member: Cast.ci.name), as: Cast.administrator.name)
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            // ES256 and EdDSA, as the issuer announces.
            for kid in ["k1", "k2"] {
                let who = try await client.json("/v1/whoami", token: try await issuer.token(kid: kid))
                #expect(who.status == 200, "\(kid): \(who.object)")
                #expect(who.object["principal"] as? String == Cast.ci.name && who.object["kind"] as? String == "service")
                #expect((who.object["scopes"] as? [String])?.contains("request:\(Cast.project)") == true)
            }
            // Filing records the claims as the bundle's source, verified by the issuer; what the job declares beside stays.
            let token = try await issuer.token()
            let digest = SHA256Digest.hash("bundle by OIDC").description
            let filed = try await client.json(
                "/v1/requests", .post, token: token,
                body: ["project": Cast.project, "environment": "qa", "bundle": "m.zip", "digest": digest, "source": ["change_url": "https://github.com/acme/churn-model/pull/9"]])
            #expect(filed.status == 201, "\(filed.object)")
            let id = try #require(filed.object["request"] as? String ?? (filed.object["requests"] as? [String])?.first)
            let shown = try await client.json("/v1/requests/\(id)", token: token)
            let source = try #require(shown.object["source"] as? [String: Any], "\(shown.object)")
            #expect(source["verified_by"] as? String == "ci-test" && source["triggered_by"] as? String == "riley-gh")
            #expect(source["commit"] as? String == "0123456789abcdef0123456789abcdef01234567" && source["ref"] as? String == "refs/heads/main")
            #expect(source["change_url"] as? String == "https://github.com/acme/churn-model/pull/9")
            // The console marks what the issuer verified, and what the job only declared beside it.
            let morgan = try await ConsoleTests.login(client, "morgan", key: f.keys["morgan"]!).cookie
            let page = try await ConsoleTests.get(client, "/requests/\(id)", cookie: morgan)
            #expect(page.body.contains("✓ verified by ci-test&#39;s ID token") || page.body.contains("✓ verified by ci-test's ID token"), "\(page.body)")
            #expect(page.body.contains("started by riley-gh") && page.body.contains("pull request (declared)</a>") && !page.body.contains("not verified"))
            // A declaration the token contradicts, or a declared verified_by, is refused.
            for declared in [["commit": "1111111111111111"], ["verified_by": "ci-test"]] {
                let refused = try await client.json(
                    "/v1/requests", .post, token: token,
                    body: ["project": Cast.project, "environment": "qa", "bundle": "m.zip", "digest": SHA256Digest.hash("other").description, "source": declared, "reuse": false])
                #expect(refused.status == 400, "\(declared): \(refused.object)")
            }
            // An ID token is not Signoff's to revoke: said so, not pretended.
            let revoke = try await client.json("/v1/auth/revoke", .post, token: token)
            #expect(revoke.status == 400 && (revoke.object["detail"] as? String)?.contains("distrust") == true, "\(revoke.object)")
            // The rule's scopes bind: no deploy scope.
            let deploy = try await client.json("/v1/requests/\(id)/deployments", .post, token: token, body: ["outcome": "succeeded", "note": ""])
            #expect(deploy.status == 403)

            // Refused, each with its reason in the answer.
            let refusals: [(String, String, String)] = [
                ("wrong audience", try await issuer.token(aud: "https://elsewhere.test"), "(its aud: https://elsewhere.test)"),
                ("untrusted issuer", try await issuer.token(iss: "http://127.0.0.1:1"), "not trusted"),
                ("expired", try await issuer.token(expiresIn: -3600), "expired"),
                ("a key not in the set", try await issuer.token(kid: "k9"), "not in issuer"),
                ("another key under a known kid", try await issuer.token(kid: "stranger"), "signature"),
                ("a fork", try await issuer.token(repository: "mallory/churn-model"), "repository=mallory/churn-model) match none"),
                ("another ref", try await issuer.token(ref: "refs/heads/feature"), "match none"),
                ("not a JWT at all", "eyJ.not.a-token", "not a JWT"),
            ]
            for (what, bad, reason) in refusals {
                let answer = try await client.json("/v1/whoami", token: bad)
                #expect(answer.status == 401, "\(what): \(answer.status)")
                #expect((answer.object["detail"] as? String)?.contains(reason) == true, "\(what): \(answer.object)")
            }
            // A token signed with a tampered payload (the signature of another one) is refused.
            let parts = token.split(separator: ".")
            let other = try await issuer.token(repository: "acme/churn-model", ref: "refs/heads/main", sha: "ffffffffffffffffffffffffffffffffffffffff").split(separator: ".")
            let spliced = [parts[0], other[1], parts[2]].joined(separator: ".")
            #expect(try await client.json("/v1/whoami", token: spliced).status == 401)
        }
        // The service account disabled: its ID tokens stop at once; distrusting the issuer likewise.
        try await f.must(.disablePrincipal(name: Cast.ci.name), as: Cast.administrator.name)
        try await app.test(.router) { client in
            let answer = try await client.json("/v1/whoami", token: try await issuer.token())
            #expect(answer.status == 401 && (answer.object["detail"] as? String)?.contains("disabled") == true, "\(answer.object)")
        }
        try await f.must(.enablePrincipal(name: Cast.ci.name), as: Cast.administrator.name)
        try await f.must(.distrustIssuer(name: "ci-test"), as: Cast.administrator.name)
        try await app.test(.router) { client in
            let answer = try await client.json("/v1/whoami", token: try await issuer.token())
            #expect(answer.status == 401 && (answer.object["detail"] as? String)?.contains("not trusted") == true, "\(answer.object)")
        }
    }

    @Test("People: the nonce the login sent must come back; an issuer trusted only for pipelines signs nobody in; the claim names the user")
    func people() async throws {
        let issuer = try await LocalIssuer()
        defer { issuer.stop() }
        let people = IssuerSpec(name: "corp", url: issuer.url, audience: "https://signoff.test", uses: [.people], personClaim: .sub)
        let verifier = IDTokenVerifier(store: nil, clock: { Int64(Date().timeIntervalSince1970 * 1000) })
        let good = try await verifier.verify(try await issuer.token(sub: "morgan", nonce: "n-1"), use: .people, issuers: [people], nonce: "n-1")
        #expect(try good.issuer.person(from: good.claims).get() == "morgan")
        let issuedToUs = try await issuer.token(audiences: ["other", "https://signoff.test"], azp: "https://signoff.test", sub: "morgan", nonce: "n-1")
        let accepted = try await verifier.verify(issuedToUs, use: .people, issuers: [people], nonce: "n-1")
        #expect(try accepted.issuer.person(from: accepted.claims).get() == "morgan")
        for (what, token, reason) in [
            ("another login's nonce", try await issuer.token(sub: "morgan", nonce: "n-2"), "nonce"),
            ("no nonce", try await issuer.token(sub: "morgan"), "nonce"),
            ("another audience", try await issuer.token(aud: "other-client", sub: "morgan", nonce: "n-1"), "audience"),
            // Several audiences: issued to whom (azp) must be this client (OpenID Connect Core §3.1.3.7; red team).
            ("several audiences, no azp", try await issuer.token(audiences: ["other", "https://signoff.test"], sub: "morgan", nonce: "n-1"), "azp"),
            ("several audiences, issued to another", try await issuer.token(audiences: ["other", "https://signoff.test"], azp: "other", sub: "morgan", nonce: "n-1"), "azp"),
            ("expired", try await issuer.token(expiresIn: -3600, sub: "morgan", nonce: "n-1"), "expired"),
        ] {
            do {
                _ = try await verifier.verify(token, use: .people, issuers: [people], nonce: "n-1")
                Issue.record("\(what) was accepted")
            } catch {
                #expect("\(error)".contains(reason), "\(what): \(error)")
            }
        }
        do {
            _ = try await verifier.verify(try await issuer.token(sub: "morgan", nonce: "n-1"), use: .people, issuers: [Self.spec(issuer)], nonce: "n-1")
            Issue.record("an issuer trusted for pipelines signed a person in")
        } catch {
            #expect("\(error)".contains("not trusted for people"), "\(error)")
        }
    }

    @Test("A single sign-on session has no key behind it: it reads, but decides and administers only signed, issues no service token, and ends when its issuer is distrusted — for good: trusting the name again, the same provider or another, does not bring it back", arguments: TestBackend.allCases)
    func keylessSessions(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let admin = Cast.administrator.name
        let corp = IssuerSpec(name: "corp", url: "https://login.example.com", audience: "signoff-console", uses: [.people], personClaim: .sub)
        try await Self.trust(f, corp)
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
        let auth = Authenticator(store: f.database.auth, clock: { f.database.now })
        let trustedAt = try #require(try await f.database.directory().issuers["corp"]?.trustedAt)
        let marker = TokenRecord.singleSignOnMarker(issuer: "corp", trustedAt: trustedAt)
        let morgan = try await auth.issueToken(for: Cast.releaseManager.name, kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000, keyFingerprint: marker).token
        let ada = try await auth.issueToken(for: admin, kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000, keyFingerprint: marker).token
        // A row that names no trust (as one written before the trust was recorded): refused, log in again.
        let legacy = try await auth.issueToken(for: Cast.releaseManager.name, kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000, keyFingerprint: "sso:corp").token
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            #expect(try await client.json("/v1/requests/REQ-1", token: morgan).status == 200)
            #expect(try await client.json("/v1/whoami", token: legacy).status == 401)
            let unsigned = try await client.json("/v1/requests/REQ-1/decisions", .post, token: morgan, body: ["stage": "approved", "decision": "approve"])
            #expect(unsigned.object["rule"] as? String == "signature.required", "\(unsigned.object)")
            let reject = try await client.json("/v1/requests/REQ-1/decisions", .post, token: morgan, body: ["stage": "approved", "decision": "reject", "comment": "no"])
            #expect(reject.object["rule"] as? String == "signature.required", "\(reject.object)")
            // An administrator's single sign-on session: no unsigned administration (a key of its own enrolled, say),
            // and no service token.
            let key = try NoteVerifierKey(name: admin, publicKey: Ed25519.SigningKey().publicKey).description
            let enrol = try await client.json("/v1/users/\(admin)/keys", .post, token: ada, body: ["verifier_key": key])
            #expect(enrol.object["rule"] as? String == "admin.signature-required", "\(enrol.object)")
            let group = try await client.json("/v1/groups", .post, token: ada, body: ["name": "sso-made"])
            #expect(group.object["rule"] as? String == "admin.signature-required", "\(group.object)")
            let minted = try await client.json("/v1/service-tokens", .post, token: ada, body: ["service_account": Cast.ci.name, "scopes": ["gate:\(Cast.project)"]])
            #expect(minted.status == 403, "\(minted.object)")
            // Another person's chat handles (whom their mentions reach; in no ledger): not from a keyless session (red
            // team); one's own, yes.
            let others = try await client.json("/v1/users/\(Cast.releaseManager.name)/chat", .put, token: ada, body: ["slack": "U0ATTACKER"])
            #expect(others.status == 422 && others.object["rule"] as? String == "admin.signature-required", "\(others.status) \(others.object)")
            #expect(try await client.json("/v1/users/\(admin)/chat", .put, token: ada, body: ["slack": "U0ADA"]).status == 200)
            // A person who is no administrator is told that, not to log in with a key.
            let notAdmin = try await client.json("/v1/users/\(admin)/chat", .put, token: morgan, body: ["slack": "U0MORGAN"])
            #expect(notAdmin.status == 403 && notAdmin.object["rule"] as? String == "admin.required", "\(notAdmin.status) \(notAdmin.object)")
            // The trusted issuers and their pipeline rules: administrators and auditors, not any user (red team).
            let listed = try await client.json("/v1/issuers", token: morgan)
            #expect(listed.status == 403 && listed.object["rule"] as? String == "admin.required", "\(listed.object)")
            #expect(try await client.json("/v1/issuers", token: ada).status == 200)
        }
        #expect(try await f.database.state().requests["REQ-1"]?.decisions.isEmpty == true)
        // Distrusting the issuer ends the sessions it signed in.
        try await f.must(.distrustIssuer(name: "corp"), as: admin)
        try await app.test(.router) { client in
            let after = try await client.json("/v1/whoami", token: morgan)
            #expect(after.status == 401 && (after.object["detail"] as? String)?.contains("no longer trusted") == true, "\(after.object)")
        }
        // The red team's finding: trusting the name again — the same provider, or another at another URL — brought those
        // sessions back. They stay ended; a session signed in under the new trust works.
        for spec in [corp, IssuerSpec(name: "corp", url: "https://login.other.example", audience: "signoff-console", uses: [.people], personClaim: .sub)] {
            try await Self.trust(f, spec)
            try await app.test(.router) { client in
                for token in [morgan, ada] {
                    let again = try await client.json("/v1/whoami", token: token)
                    #expect(again.status == 401 && (again.object["detail"] as? String)?.contains("no longer trusted") == true, "\(again.object)")
                }
                let now = try #require(try await f.database.directory().issuers["corp"]?.trustedAt)
                let fresh = try await auth.issueToken(
                    for: Cast.releaseManager.name, kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000,
                    keyFingerprint: TokenRecord.singleSignOnMarker(issuer: "corp", trustedAt: now)
                ).token
                #expect(try await client.json("/v1/whoami", token: fresh).status == 200)
            }
            try await f.must(.distrustIssuer(name: "corp"), as: admin)
        }
    }

    @Test("Key rotation: a token under a new kid fetches the key set again, once; another unknown kid right after does not fetch again")
    func rotation() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let issuer = try await LocalIssuer()
        defer { issuer.stop() }
        try await Self.trust(f, Self.spec(issuer))
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            #expect(try await client.json("/v1/whoami", token: try await issuer.token()).status == 200)
            let before = issuer.keySet.fetches
            #expect(before == 1)
            issuer.keySet.publish(["k2", "k3"])
            #expect(try await client.json("/v1/whoami", token: try await issuer.token(kid: "k3")).status == 200)
            #expect(issuer.keySet.fetches == before + 1)
            // k1 left the set: refused, and within the refetch interval no further fetch is made for it.
            let gone = try await client.json("/v1/whoami", token: try await issuer.token(kid: "k1"))
            #expect(gone.status == 401)
            #expect(issuer.keySet.fetches == before + 1)
        }
        // The key set is shared through the database: another server on it verifies without fetching.
        let second = Application(router: buildRouter(service: SignoffService(storage: f.store.storage)), logger: quietLogger)
        let fetched = issuer.keySet.fetches
        try await second.test(.router) { client in
            let answer = try await client.json("/v1/whoami", token: try await issuer.token(kid: "k3"))
            #expect(answer.status == 200)
        }
        #expect(issuer.keySet.fetches == fetched)
    }
}
