import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 32, part 2, as a user meets it: `signoff witness key` and `signoff witness serve` as a real process, cosigning
/// the ledger's real checkpoint, read by tlog-scales.
@Suite("signoff witness")
struct WitnessCLITests {
    static func post(_ url: URL, _ body: String) async throws -> (Int, String, String?) {
        var request = URLRequest(url: url.appendingPathComponent("witness/add-checkpoint"))
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.value(forHTTPHeaderField: "Content-Type"))
    }

    @Test("witness key prints the 0x04 verifier key; witness serve refuses bad options, then cosigns the ledger's checkpoint once and answers 409 to a stale old size")
    func witness() async throws {
        let s = try await Story()
        defer { s.remove() }
        try await s.must("key", "generate", "--name", "witness.test/w1", "--out", "witness.key")
        let printed = try await s.must("witness", "key", "witness.key.pub").trimmingCharacters(in: .whitespacesAndNewlines)
        let cosigner = try CosignerKey(parsing: printed)
        #expect(cosigner.name == "witness.test/w1" && printed.split(separator: "+").count >= 3)
        #expect(try await s.must("witness", "key", "witness.key").trimmingCharacters(in: .whitespacesAndNewlines) == printed, "the sealed file's header names the same key")
        let ledgerKey = try await s.must("checkpoint", "--verifier-key", "--as", "ada").trimmingCharacters(in: .whitespacesAndNewlines)
        try Data((ledgerKey + "\n").utf8).write(to: s.directory.appendingPathComponent("ledger.pub"))

        let noLog = try await s.signoff("witness", "serve", "--key", "witness.key", "--db", "witness.sqlite")
        #expect(noLog.status == 64 && noLog.stderr.contains("--log"), "\(noLog.stderr)")
        let badPrefix = try await s.signoff("witness", "serve", "--key", "witness.key", "--db", "witness.sqlite", "--log", "ledger.pub", "--prefix", "witness/")
        #expect(badPrefix.status == 64 && badPrefix.stderr.contains("--prefix"), "\(badPrefix.stderr)")
        let ownKey = try await s.signoff("witness", "serve", "--key", "witness.key", "--db", "witness.sqlite", "--log", "witness.key.pub")
        #expect(ownKey.status == 64 && ownKey.stderr.contains("own key"), "a witness does not follow itself: \(ownKey.stderr)")
        let notAKey = try await s.signoff("witness", "serve", "--key", "witness.key", "--db", "witness.sqlite", "--log", "witness.key")
        #expect(notAKey.status == 64, "a sealed key is not a log's public key: \(notAKey.stderr)")

        let port = try TestSupport.freePort()
        let log = s.directory.appendingPathComponent("witness.log")
        let child = try ChildProcess(
            try TestSupport.signoffExecutable,
            ["witness", "serve", "--key", "witness.key", "--db", "witness.sqlite", "--log", "ledger.pub", "--port", "\(port)", "--prefix", "/witness"],
            environment: TestSupport.childEnvironment(s.env), currentDirectory: s.directory, stdout: .file(log), stderr: .file(log))
        defer { child.endSoon() }
        let url = URL(string: "http://127.0.0.1:\(port)")!
        let deadline = ContinuousClock.now + .seconds(60)
        while (try? await URLSession.shared.data(from: url.appendingPathComponent("healthz")))?.1 == nil {
            try #require(ContinuousClock.now < deadline && !child.hasExited, "the witness did not answer: \(String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self))")
            try await Task.sleep(for: .milliseconds(100))
        }
        let signed = try await s.signoff("checkpoint", "--sign", "--as", "ada")
        try #require(signed.status == 0, "\(signed.stderr)")
        let note = signed.stdout
        let size = try #require(note.split(separator: "\n").dropFirst().first)
        let (status, line, _) = try await Self.post(url, "old 0\n\n" + note)
        #expect(status == 200 && line.hasPrefix("— witness.test/w1 "), "\(status) \(line)")
        let scales = try await TestSupport.runPython("cosignature_verify.py", [ledgerKey, printed], input: Array((note + line).utf8))
        #expect(scales.status == 0, "\(scales.stdout) \(scales.stderr)")
        let stale = try await Self.post(url, "old 0\n\n" + note)
        #expect(stale.0 == 409 && stale.1 == "\(size)\n" && stale.2 == "text/x.tlog.size", "\(stale)")
        // signoff serve with a policy naming the witness: it submits its newest checkpoint and keeps the cosignature.
        let policy = "log \(ledgerKey)\nwitness w1 \(printed) \(url.absoluteString)/witness\nquorum w1\n"
        try Data(policy.utf8).write(to: s.directory.appendingPathComponent("policy.txt"))
        let unreadable = try await s.signoff("serve", "--witness-policy", "no-such-policy.txt")
        #expect(unreadable.status == 64 && unreadable.stderr.contains("--witness-policy"), "\(unreadable.stderr)")
        try Data("witness w1 \(printed)\nquorum w1\n".utf8).write(to: s.directory.appendingPathComponent("no-url.txt"))
        let noURL = try await s.signoff("serve", "--witness-policy", "no-url.txt")
        #expect(noURL.status == 64 && noURL.stderr.contains("URL"), "\(noURL.stderr)")
        let server = try await RunningServer.start(story: s, arguments: ["--witness-policy", "policy.txt", "--witness-interval", "1s"])
        defer { server.stop() }
        var cosigned = ""
        while !cosigned.contains("— witness.test/w1 ") {
            try #require(ContinuousClock.now < deadline + .seconds(120), "the server's checkpoint was not cosigned: \(cosigned)")
            try await Task.sleep(for: .milliseconds(200))
            cosigned = try await s.signoff("checkpoint", "--as", "ada").stdout
        }
        let both = try await TestSupport.runPython("cosignature_verify.py", [ledgerKey, printed], input: Array(cosigned.utf8))
        #expect(both.status == 0, "the stored checkpoint carries the ledger's signature and the witness's cosignature: \(both.stdout)")
        // An export through the server: its new checkpoint is cosigned before it is written, and passes the policy.
        let url0 = server.url.absoluteString
        #expect(try await s.signoff(["login", "--server", url0, "--as", "ada", "--key", "ada.key", "--token-file", "ada.token"]).status == 0)
        let exported = try await s.signoff(["audit", "export", "--server", url0, "--as", "ada", "--token-file", "ada.token", "--out", "export"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let verified = try await s.signoff("audit", "verify", "export", "--ledger-verifier-key", "ledger.pub", "--policy", "policy.txt")
        #expect(verified.status == 0 && verified.stdout.contains("witnesses: w1 at "), "\(verified.stdout) \(verified.stderr)")
        try Data("log \(ledgerKey)\nwitness w1 \(printed)\nwitness w2 \(try CosignerKey(name: "witness.test/w2", publicKey: Ed25519.SigningKey().publicKey))\ngroup both all w1 w2\nquorum both\n".utf8)
            .write(to: s.directory.appendingPathComponent("strict.txt"))
        let strict = try await s.signoff("audit", "verify", "export", "--ledger-verifier-key", "ledger.pub", "--policy", "strict.txt")
        #expect(strict.status == 3 && strict.stderr.contains("quorum"), "a policy asking a witness that did not cosign: \(strict.stderr)")
        let badPolicy = try await s.signoff("audit", "verify", "export", "--ledger-verifier-key", "ledger.pub", "--policy", "ledger.pub")
        #expect(badPolicy.status == 64 && badPolicy.stderr.contains("policy line 1"), "\(badPolicy.stderr)")
        #expect(await server.stopAndWait() == 0)
        let said = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)
        #expect(said.contains(cosigner.description), "the witness says its verifier key at start: \(said)")
        #expect(await child.end(grace: .seconds(10)) == 0, "SIGTERM stops it cleanly")
    }
}
