import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffCore
import SignoffCrypto
import SignoffLedger
@_spi(Testing) import SignoffService
import SignoffServer
import SignoffTestBackends
import SignoffTestSupport
import Testing

/// `Idempotency-Key` (issue 27): a replayed mutating call with the same key changes nothing and answers the first
/// answer, on every instance; another call with the key is refused; the key commits with the entries or not at all.
@Suite("Idempotency keys")
struct IdempotencyTests {
    struct Injected: Error {}

    static func key(_ value: String) -> HTTPFields { [HTTPField.Name("Idempotency-Key")!: value] }
    static let replayed = HTTPField.Name("Idempotent-Replayed")!
    static var filing: [String: Any] { ["project": Cast.project, "environment": "qa", "bundle": "m.zip", "digest": "sha256:" + String(repeating: "ab", count: 32)] }

    @Test("A replay answers the first answer and records nothing, on another instance too; another body with the key is refused (idempotency.key-reused)", arguments: TestBackend.allCases)
    func replay(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        let token = try await app.test(.router) { client in
            let filing = Self.filing
            let token = try await client.login("riley", key: f.keys["riley"]!)
            let size = try await f.database.ledger.size()
            let first = try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key("\"file-1\""))
            #expect(first.status == 201 && first.object["request"] as? String == "REQ-1" && first.headers[Self.replayed] == nil, "\(first)")
            // The same call again (the key quoted or not: one key): the same answer, nothing appended.
            let again = try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key("file-1"))
            #expect(again.status == 201 && again.headers[Self.replayed] == "true", "\(again)")
            #expect(NSDictionary(dictionary: again.object) == NSDictionary(dictionary: first.object))
            #expect(try await f.database.ledger.size() == size + 1)
            // The key names one call: another body, method or path with it is refused, and records nothing.
            var other = filing
            other["environment"] = "prod"
            let reused = try await client.json("/v1/requests", .post, token: token, body: other, headers: Self.key("file-1"))
            #expect(reused.status == 422 && reused.object["rule"] as? String == "idempotency.key-reused", "\(reused)")
            let elsewhere = try await client.json("/v1/requests/REQ-1/withdraw", .post, token: token, body: [:], headers: Self.key("file-1"))
            #expect(elsewhere.status == 422)
            #expect(try await f.database.ledger.size() == size + 1)
            // Keys are per principal: the pipeline's call with the same key is its own.
            let ada = try await client.login("ada", key: f.keys["ada"]!)
            let service = try await client.json(
                "/v1/service-tokens", .post, token: ada, body: ["service_account": Cast.ci.name, "scopes": ["evidence:\(Cast.project)"]])
            let ci = try #require(service.object["token"] as? String)
            let theirs = try await client.json(
                "/v1/requests/REQ-1/evidence", .post, token: ci, body: ["kind": "test-report", "status": "passed", "digest": "sha256:" + String(repeating: "cd", count: 32)],
                headers: Self.key("file-1"))
            #expect(theirs.status == 200 && theirs.headers[Self.replayed] == nil, "\(theirs)")
            // A key that is no key: 400.
            for bad in ["", "has space", String(repeating: "k", count: 256), "back\\slash"] {
                #expect(try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key(bad)).status == 400, "\(bad)")
            }
            // A call that records no entries (an evidence document) keeps its answer too.
            let report = Array("<testsuite tests=\"1\"/>".utf8)
            let digest = SHA256Digest.hash(report)
            let attached = try await client.json(
                "/v1/requests/REQ-1/evidence", .post, token: ci, body: ["kind": "test-report", "status": "passed", "digest": digest.description])
            #expect(attached.status == 200)
            var put = try await client.execute(
                uri: "/v1/requests/REQ-1/evidence-documents/\(digest)", method: .put,
                headers: [.authorization: "Bearer \(ci)", .contentType: "application/xml", HTTPField.Name("Idempotency-Key")!: "doc-1"], body: ByteBuffer(bytes: report)
            ) { ($0.status, $0.headers[Self.replayed]) }
            #expect(put.0 == .created && put.1 == nil)
            put = try await client.execute(
                uri: "/v1/requests/REQ-1/evidence-documents/\(digest)", method: .put,
                headers: [.authorization: "Bearer \(ci)", .contentType: "application/xml", HTTPField.Name("Idempotency-Key")!: "doc-1"], body: ByteBuffer(bytes: report)
            ) { ($0.status, $0.headers[Self.replayed]) }
            #expect(put.0 == .created && put.1 == "true", "the first answer (201), not a second store's 200")
            return token
        }
        // Another instance on the same database answers the replay the same way (the keys are in the database).
        let other = try await f.store.another()
        let second = SignoffService(storage: other)
        let size = try await second.ledger.size()
        try await Application(router: buildRouter(service: second), logger: quietLogger).test(.router) { client in
            let again = try await client.json("/v1/requests", .post, token: token, body: Self.filing, headers: Self.key("file-1"))
            #expect(again.status == 201 && again.headers[Self.replayed] == "true" && again.object["request"] as? String == "REQ-1")
        }
        #expect(try await second.ledger.size() == size)
    }

    @Test("A service token's issue replayed: one token, and the replay says its secret was shown once", arguments: TestBackend.allCases)
    func secretsAreNotKept(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let ada = try await client.login("ada", key: f.keys["ada"]!)
            let body: [String: Any] = ["service_account": Cast.ci.name, "scopes": ["gate:\(Cast.project)"], "ttl_hours": 1]
            let issued = try await client.json("/v1/service-tokens", .post, token: ada, body: body, headers: Self.key("tok-1"))
            let secret = try #require(issued.object["token"] as? String)
            let id = try #require(issued.object["token_id"] as? String)
            let again = try await client.json("/v1/service-tokens", .post, token: ada, body: body, headers: Self.key("tok-1"))
            #expect(again.status == 409 && (again.object["detail"] as? String)?.contains(id) == true && again.headers[Self.replayed] == "true", "\(again)")
            #expect(!"\(again.object)".contains(secret))
            let tokens = try await f.database.auth.tokens(principal: Cast.ci.name, now: f.database.now)
            #expect(tokens.count == 1)
        }
        // The secret is nowhere in the kept answers.
        #expect(try await f.store.count("SELECT COUNT(*) FROM idempotency_key") >= 1)
    }

    @Test("One key, eight calls at once: one request filed; each call answers it or says idempotency.in-use; a failed unit of work keeps no key", arguments: TestBackend.allCases)
    func concurrentAndAtomic(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            var filing = Self.filing
            filing["reuse"] = false
            let token = try await client.login("riley", key: f.keys["riley"]!)
            let answers = try await withThrowingTaskGroup(of: (Int, String?, String?).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var filing = Self.filing
                        filing["reuse"] = false
                        let answer = try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key("race-1"))
                        return (answer.status, answer.object["request"] as? String, answer.object["rule"] as? String)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { ($0.0 == 201 && $0.1 == "REQ-1") || ($0.0 == 409 && $0.2 == "idempotency.in-use") }, "\(answers)")
            #expect(answers.contains { $0.0 == 201 })
            #expect(try await f.store.count("SELECT COUNT(*) FROM ledger_entry WHERE kind = 'request.filed'") == 1)
            let later = try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key("race-1"))
            #expect(later.status == 201 && later.object["request"] as? String == "REQ-1")

            // The key commits with the entries: a unit of work failing before its commit keeps neither, and the retry
            // with the same key is recorded afresh (not answered from a record of nothing).
            f.database.injectFailure { if $0 == .beforeCommit { throw Injected() } }
            let failed = try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key("atomic-1"))
            f.database.injectFailure(nil)
            #expect(failed.status == 500)
            #expect(try await f.store.count("SELECT COUNT(*) FROM idempotency_key WHERE key = 'atomic-1'") == 0)
            let retried = try await client.json("/v1/requests", .post, token: token, body: filing, headers: Self.key("atomic-1"))
            #expect(retried.status == 201 && retried.headers[Self.replayed] == nil && retried.object["request"] as? String == "REQ-2", "\(retried)")
            #expect(try await f.store.count("SELECT COUNT(*) FROM idempotency_key WHERE key = 'atomic-1'") == 1)
        }
    }

    @Test("A key recorded by another instance after this one looked is refused inside the unit of work (idempotency.in-use): nothing recorded", arguments: TestBackend.allCases)
    func inUseInsideTheUnit(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        // Another instance's call with the key, committed between this instance's lookup and its unit of work.
        let theirs = IdempotencyRecord(
            principal: "riley", key: "race-2", fingerprint: SHA256Digest.hash("their call"), createdAt: f.database.now,
            answer: IdempotentAnswer(status: 201, mediaType: "application/json", body: Array("{}".utf8)))
        #expect(try await f.database.storage.coordination.insertIdempotencyRecord(theirs))
        #expect(try await f.database.storage.coordination.insertIdempotencyRecord(theirs) == false, "a key is kept once")
        let size = try await f.database.ledger.size()
        let mine = IdempotentCall(principal: "riley", key: "race-2", fingerprint: SHA256Digest.hash("my call")) { _ in
            IdempotentAnswer(status: 201, mediaType: "application/json", body: [])
        }
        let outcome = try await f.database.execute(
            .fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley", idempotency: mine)
        guard case .failure(let refusal) = outcome else { Issue.record("recorded despite the key in use: \(outcome)"); return }
        #expect(refusal.code == .idempotencyInUse && refusal.message.contains("retry"), "\(refusal)")
        #expect(try await f.database.ledger.size() == size)
        // Another principal's key of the same name is theirs alone.
        let dana = IdempotentCall(principal: "dana", key: "race-2", fingerprint: SHA256Digest.hash("dana's call")) { _ in
            IdempotentAnswer(status: 201, mediaType: "application/json", body: [])
        }
        let other = try await f.database.execute(
            .fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley", idempotency: dana)
        guard case .success = other else { Issue.record("refused: \(other)"); return }
    }
}
