import Foundation
import SignoffTestSupport
import Testing

/// What the review found in operations and in the CLI (trust and administration, 9 and 10), through the real binary.
@Suite("Operations and CLI security", .serialized)
struct OperationsSecurityTests {
    @Test("The CLI never sends a token to another server than the one it is for, and follows no redirect")
    func tokenStaysWithItsServer() async throws {
        let s = try await Story()
        defer { s.remove() }
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        #expect(try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "riley", "--key", "riley.key", "--token-file", "riley.token"]).status == 0)

        // A redirecting server and a trap that records whatever Authorization reaches it.
        let log = s.path("trap.log")
        let portFile = s.path("trap.ports")
        // Its own process group, ended by the defer also when the test fails (a pyenv shim's Python with it).
        let trap = try ChildProcess(
            try await TestSupport.python(), [TestSupport.projectRoot.appendingPathComponent("Tests/python/redirect_trap.py").path, log, portFile],
            environment: TestSupport.childEnvironment(), stdout: .discard, stderr: .discard)
        defer { trap.endSoon(grace: .seconds(1)) }
        var ports: [String] = []
        for _ in 0..<100 where ports.count != 2 {
            try await Task.sleep(for: .seconds(0.1))
            ports = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").split(separator: " ").map(String.init)
        }
        try #require(ports.count == 2, "the redirect trap did not start")
        let redirecting = "http://127.0.0.1:\(ports[0])", trapURL = "http://127.0.0.1:\(ports[1])"

        // The token kept for the real server, asked to go elsewhere: refused before anything is sent.
        for other in [redirecting, trapURL] {
            let elsewhere = try await s.signoff(["list", "--server", other, "--token-file", "riley.token", "--as", "riley"])
            #expect(elsewhere.status == 64 && elsewhere.stderr.contains("never sent elsewhere"), "\(elsewhere.stderr)")
        }
        // A token file that names the redirecting server: the CLI reaches it, gets a redirect, and does not follow it.
        let token = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("riley.token")))) as! [String: Any]
        try JSONSerialization.data(withJSONObject: ["server": redirecting, "user": "riley", "token": token["token"]!, "expires_at": ""])
            .write(to: URL(fileURLWithPath: s.path("redirect.token")))
        let redirected = try await s.signoff(["list", "--server", redirecting, "--token-file", "redirect.token", "--as", "riley"])
        #expect(redirected.status != 0 && redirected.stderr.contains("redirect"), "\(redirected.stderr)")
        let captured = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!captured.contains("Bearer"), "the token reached another origin: \(captured)")
    }

    @Test("Malformed HTTP framing is 400 with problem details, not a server error; the database files are the owner's alone")
    func framingAndFiles() async throws {
        let s = try await Story()
        defer { s.remove() }
        for file in ["signoff.sqlite", "signoff.sqlite.ledger-key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: s.path(file))[.posixPermissions] as! NSNumber
            #expect(mode.intValue & 0o077 == 0, "\(file) is readable by others: \(String(mode.intValue, radix: 8))")
        }
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        for file in ["signoff.sqlite", "signoff.sqlite-wal", "signoff.sqlite-shm"] where FileManager.default.fileExists(atPath: s.path(file)) {
            let mode = try FileManager.default.attributesOfItem(atPath: s.path(file))[.posixPermissions] as! NSNumber
            #expect(mode.intValue & 0o077 == 0, "\(file) is readable by others: \(String(mode.intValue, radix: 8))")
        }
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", \(server.port)))
            s.sendall(b'POST /v1/auth/challenge HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: xchunked\\r\\nContent-Type: application/json\\r\\n\\r\\n{"user":"ada"}')
            s.settimeout(5)
            print(s.recv(4096).decode(errors="replace"))
            """
        let answer = try await TestSupport.run("/usr/bin/env", ["python3", "-c", script])
        #expect(answer.stdout.hasPrefix("HTTP/1.1 400"), "\(answer.stdout) \(answer.stderr)")
        #expect(answer.stdout.contains("application/problem+json"))
        let log = (try? String(contentsOf: server.log, encoding: .utf8)) ?? ""
        #expect(!log.contains("internal error"), "malformed framing is not an internal error: \(log)")
    }
}

/// Trust findings 3 and 5 through the real CLI: a compromised key's approvals, and who may deploy.
@Suite("Compromised keys and separation at deploy, through the CLI", .serialized)
struct TrustCLITests {
    @Test("revoke-key --compromised-since: the gate says no and names it, explain shows it, the export flags it; an approver may not deploy")
    func compromisedAndSeparation() async throws {
        let s = try await Story()
        defer { s.remove() }
        let prod = try await s.approvedProd()
        await #expect(try await s.signoff("gate", prod, "--env", "prod", "--digest", s.digest).status == 0)
        // morgan, who approved, is made a deployer (signed): still may not deploy it.
        try await s.must("group", "add-member", "churn-deployers", "morgan", "--as", "ada", "--key", "ada.key")
        let approver = try await s.signoff("deploy", prod, "--outcome", "succeeded", "--as", "morgan")
        #expect(approver.status == 2 && approver.stderr.contains("gate.separation"), "\(approver.stderr)")
        // Unsigned, the marking is refused (a stolen session cannot take back signed decisions); before the key was
        // enrolled, refused; signed since its enrolment, recorded.
        let unsigned = try await s.signoff("user", "revoke-key", "morgan", "--key-file", "morgan.key.pub", "--compromised-since", "2020-01-01T00:00:00Z", "--as", "ada")
        #expect(unsigned.status == 2 && unsigned.stderr.contains("key.compromise-signature"), "\(unsigned.stderr)")
        let early = try await s.signoff(
            "user", "revoke-key", "morgan", "--key-file", "morgan.key.pub", "--compromised-since", "2020-01-01T00:00:00Z", "--as", "ada", "--key", "ada.key")
        #expect(early.status == 64 && early.stderr.contains("key.compromised-since"), "\(early.stderr)")
        let shown = try await JSONSerialization.jsonObject(with: Data(try await s.must("user", "show", "morgan", "--json", "--as", "ada").utf8)) as? [String: Any]
        let enrolledAt = try #require(((shown?["keys"] as? [[String: Any]])?.first?["enrolled_at"]) as? String)
        try await s.must("user", "revoke-key", "morgan", "--key-file", "morgan.key.pub", "--compromised-since", enrolledAt, "--as", "ada", "--key", "ada.key")
        let gate = try await s.signoff("gate", prod, "--env", "prod", "--digest", s.digest)
        #expect(gate.status == 2 && gate.stdout.contains("gate.compromised") && gate.stdout.contains("morgan"), "\(gate.stdout)")
        await #expect(try await s.must("explain", prod).contains("compromised"))
        let deploy = try await s.signoff("deploy", prod, "--outcome", "succeeded", "--as", "dana")
        #expect(deploy.status == 2 && deploy.stderr.contains("gate.compromised"), "\(deploy.stderr)")
        try await s.must("audit", "export", "--project", "churn-model", "--out", "audit", "--as", "ada")
        let summary = try String(contentsOfFile: s.path("audit/SUMMARY.md"), encoding: .utf8)
        #expect(summary.contains("revoked as compromised"), "\(summary)")
        let administration = try String(contentsOfFile: s.path("audit/administration.csv"), encoding: .utf8)
        #expect(administration.contains(",key.revoked,ada,morgan,ada,yes\r\n"), "\(administration)")
        await #expect(try await s.signoff("audit", "verify", "audit", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub").status == 0)

        // A person marks their own key compromised with another of their keys — never with the key marked.
        try await s.must("key", "generate", "--name", "casey", "--out", "casey2.key")
        try await s.must("user", "enroll-key", "casey", "--key-file", "casey2.key.pub", "--as", "ada", "--key", "ada.key")
        let casey = try await JSONSerialization.jsonObject(with: Data(try await s.must("user", "show", "casey", "--json", "--as", "ada").utf8)) as? [String: Any]
        let caseySince = try #require(((casey?["keys"] as? [[String: Any]])?.first?["enrolled_at"]) as? String)
        let bySelf = try await s.signoff("user", "revoke-key", "casey", "--key-file", "casey.key.pub", "--compromised-since", caseySince, "--as", "casey", "--key", "casey.key")
        #expect(bySelf.status == 2 && bySelf.stderr.contains("key.compromise-signature"), "\(bySelf.stderr)")
        try await s.must("user", "revoke-key", "casey", "--key-file", "casey.key.pub", "--compromised-since", caseySince, "--as", "casey", "--key", "casey2.key")
        // An administrator withdrawing someone else's request signs it (--key); the CLI verb says what it needs.
        let filed = try await s.tested(env: "qa")
        let unsignedWithdraw = try await s.signoff("withdraw", filed, "--reason", "stale", "--as", "ada")
        #expect(unsignedWithdraw.status == 2 && unsignedWithdraw.stderr.contains("admin.signature-required"), "\(unsignedWithdraw.stderr)")
        try await s.must("withdraw", filed, "--reason", "stale", "--as", "ada", "--key", "ada.key")
        try await s.must("audit", "verify", "--db", s.path("signoff.sqlite"))
    }
}

@Suite("init --admin-quorum")
struct InitQuorumTests {
    @Test("init --admin-quorum 2 records the quorum as the ledger's third entry; an out-of-range quorum creates nothing")
    func initQuorum() async throws {
        let directory = try TestSupport.temporaryDirectory("signoff-quorum")
        defer { try? FileManager.default.removeItem(at: directory) }
        let env = ["SIGNOFF_PASSPHRASE": "quorum passphrase", "SIGNOFF_LEDGER_PASSPHRASE": "quorum ledger passphrase"]
        await #expect(try await TestSupport.signoff(["key", "generate", "--name", "ada", "--out", "ada.key"], environment: env, in: directory).status == 0)
        let bad = try await TestSupport.signoff(["init", "--db", "bad.sqlite", "--origin", "q.test/l", "--admin", "ada", "--admin-key", "ada.key.pub", "--admin-quorum", "9"], environment: env, in: directory)
        #expect(bad.status == 64 && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("bad.sqlite").path), "\(bad.stderr)")
        let good = try await TestSupport.signoff(["init", "--db", "q.sqlite", "--origin", "q.test/l", "--admin", "ada", "--admin-key", "ada.key.pub", "--admin-quorum", "2"], environment: env, in: directory)
        #expect(good.status == 0, "\(good.stderr)")
        let export = try await TestSupport.signoff(["audit", "export", "--db", "q.sqlite", "--out", "audit", "--as", "ada"], environment: env, in: directory)
        #expect(export.status == 0, "\(export.stderr)")
        let administration = try String(contentsOf: directory.appendingPathComponent("audit/administration.csv"), encoding: .utf8)
        #expect(administration.contains(",2,admin.quorum-set,ada,quorum 2,,unsigned-before-regulated\r\n"), "\(administration)")
    }
}
