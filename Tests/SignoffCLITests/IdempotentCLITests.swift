import Foundation
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 27, part 3, with the real binary and a real server: a write whose answer is lost is retried with the same
/// `Idempotency-Key`, answered from the first call, and reported as done — never failed, never recorded twice.
@Suite("A lost answer is retried, not recorded twice")
struct IdempotentCLITests {
    @Test("request create --new through a proxy that loses the first answer: exit 0, the same key twice, one request filed")
    func lostAnswer() async throws {
        let s = try await Story()
        defer { s.remove() }
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let portFile = s.path("proxy.port"), log = s.path("proxy.jsonl")
        let proxy = try ChildProcess(
            try await TestSupport.python(),
            [TestSupport.projectRoot.appendingPathComponent("Tests/python/lossy_proxy.py").path, server.url.absoluteString, portFile, log, "POST /v1/requests", "1"],
            environment: TestSupport.childEnvironment(), stdout: .discard, stderr: .discard)
        defer { proxy.endSoon(grace: .seconds(1)) }
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            try await Task.sleep(for: .seconds(0.1))
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
        }
        try #require(!port.isEmpty, "the proxy did not start")
        let url = "http://127.0.0.1:\(port)"
        let login = try await s.signoff(["login", "--server", url, "--as", "riley", "--key", "riley.key", "--token-file", "riley.token"])
        #expect(login.status == 0, "\(login.stderr)")
        let digest = "sha256:" + SHA256Digest.hash("lost answer").hex
        let filed = try await s.signoff(
            ["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", digest, "--new", "--server", url, "--token-file", "riley.token",
             "--as", "riley"])
        #expect(filed.status == 0, "\(filed.stderr)")
        #expect(filed.stderr.contains("trying again with the same Idempotency-Key"), "\(filed.stderr)")
        let id = filed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("REQ-"), "\(filed.stdout)")
        // The proxy saw the call twice with one key; the server recorded it once and answered the retry from the first.
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["method"] as? String == "POST" && $0["path"] as? String == "/v1/requests" }
        #expect(calls.count == 2 && calls.allSatisfy { $0["status"] as? Int == 201 }, "\(calls)")
        let keys = Set(calls.compactMap { $0["key"] as? String })
        #expect(keys.count == 1 && !(keys.first ?? "").isEmpty, "\(keys)")
        let listed = try await s.signoff(["list", "--project", Cast.project, "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.components(separatedBy: digest).count - 1 == 1, "one request for the digest: \(listed.stdout)")
    }
}
