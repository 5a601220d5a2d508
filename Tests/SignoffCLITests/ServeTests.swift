import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import SignoffCore
import SignoffCrypto
import SignoffStore
import SignoffTestSupport
import Testing
import SignoffService
import SignoffAudit

/// `signoff serve` as a real process on loopback, in its own process group (``ChildProcess``): ended by ``stop()``
/// (SIGTERM, SIGKILL after a grace period), also from a `defer` when the test fails.
final class RunningServer: @unchecked Sendable {
    private(set) var child: ChildProcess
    private(set) var port = 0
    private(set) var url = URL(string: "http://127.0.0.1")!
    private(set) var log = URL(fileURLWithPath: "/dev/null")

    /// Starts `signoff serve` on a free loopback port, trying another port if that one was taken meanwhile.
    static func start(story: Story, arguments extra: [String] = []) async throws -> RunningServer {
        var lastLog = ""
        for _ in 0..<5 {
            let port = try TestSupport.freePort()
            let log = story.directory.appendingPathComponent("serve-\(port).log")
            let child = try ChildProcess(
                try TestSupport.signoffExecutable, ["serve", "--port", "\(port)", "--log-level", "warning"] + extra,
                environment: TestSupport.childEnvironment(story.env), currentDirectory: story.directory, stdout: .file(log), stderr: .file(log))
            let server = RunningServer(child: child, port: port, log: log)
            let answered: Bool
            do { answered = try await server.answers(within: .seconds(20)) } catch {
                await child.end(grace: .seconds(2))  // cancelled while waiting: the server does not outlive the test
                throw error
            }
            if answered { return server }
            await child.end(grace: .seconds(2))
            lastLog = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)
        }
        throw TestSupportError("signoff serve did not answer: \(lastLog)")
    }

    private init(child: ChildProcess, port: Int, log: URL) {
        self.child = child
        self.port = port
        self.log = log
        url = URL(string: "http://127.0.0.1:\(port)")!
    }

    /// Whether `/healthz` answers 200 before the deadline (false as soon as the process has exited).
    private func answers(within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !child.hasExited {
            if (try? await HTTP.call("GET", url.appendingPathComponent("healthz").absoluteString, token: nil))?.status == 200 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    static func get(_ url: URL) async throws -> Int { try await HTTP.call("GET", url.absoluteString, token: nil).status }

    var isRunning: Bool { !child.hasExited }
    var pid: Int32 { child.pid }

    /// SIGKILL: no graceful anything (what a crash or an OOM kill does). Returns once it is gone.
    func kill() async {
        _ = Foundation.kill(child.pid, SIGKILL)
        await child.end(grace: .seconds(1))
    }

    /// SIGTERM, and the exit status once it has stopped (SIGKILL after 10 s).
    @discardableResult
    func stopAndWait() async -> Int32 { await child.end(grace: .seconds(10)) }

    /// SIGTERM without waiting (for a `defer`): SIGKILL follows after 5 s if it is still there.
    func stop() { child.endSoon() }
}

/// The messages a newcomer meets on the way to a running server (found by an outsider following the README).
@Suite("What a newcomer meets")
struct NewcomerTests {
    @Test("What a newcomer meets: serve without the ledger key's passphrase stops before it listens; a service account's refused login says how it gets a token; audit verify on a ledger whose newest entries wait for a checkpoint says so and what to do")
    func newcomerMessages() async throws {
        let s = try await Story()
        defer { s.remove() }
        let started = ContinuousClock.now
        let port = try TestSupport.freePort()
        let keyless = try await s.signoff(["serve", "--port", "\(port)", "--log-level", "info"], extraEnv: ["SIGNOFF_LEDGER_PASSPHRASE": ""])
        let said = keyless.stdout + keyless.stderr
        #expect(keyless.status != 0 && said.contains("passphrase"), "\(keyless.status) \(said)")
        #expect(!said.contains("listening") && !said.contains("leads"), "it said the real reason first, before listening or leading: \(said)")
        #expect(ContinuousClock.now - started < .seconds(60))

        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let ci = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "ci-bot", "--key", "ci-bot.key", "--token-file", "ci.token"])
        #expect(ci.status != 0 && ci.stderr.contains("signoff token create --service-account ci-bot"), "\(ci.stderr)")
        _ = await server.stopAndWait()

        // The newest entries without a checkpoint, as a ledger in use has them between two checkpoints: here by taking
        // the newest checkpoint away, so that the older one covers fewer entries than the ledger has.
        try await s.must("checkpoint", "--sign", "--as", "ada")
        try await s.must("group", "add", "fresh-group", "--as", "ada", "--key", "ada.key")
        try await s.must("checkpoint", "--sign", "--as", "ada")
        try await DatabaseQueue(path: s.env["SIGNOFF_DB"]!).write { db in
            try db.execute(sql: "DELETE FROM checkpoint WHERE tree_size = (SELECT MAX(tree_size) FROM checkpoint)")
        }
        let waiting = try await s.signoff("audit", "verify")
        #expect(waiting.status == 3 && waiting.stderr.contains("not covered by any signed checkpoint"), "\(waiting.stdout) \(waiting.stderr)")
        #expect(waiting.stderr.contains("signoff: hint:") && waiting.stderr.contains("--allow-uncovered-tail") && waiting.stderr.contains("checkpoint --sign"))
        let tail = try await s.signoff("audit", "verify", "--allow-uncovered-tail")
        #expect(tail.status == 0, "\(tail.stderr)")
    }
}

@Suite("signoff serve over loopback", .serialized)
struct ServeTests {
    static var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    @Test("login over HTTP keeps a 0600 token; schemathesis finds no 5xx and no response outside the spec")
    func schemathesis() async throws {
        let s = try await Story()
        defer { s.remove() }
        _ = try await s.approvedProd()  // REQ-1 exists for the generated cases to reach
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let login = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "ada.key", "--token-file", "token.json"])
        #expect(login.status == 0, "\(login.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: s.path("token.json"))[.posixPermissions] as! NSNumber
        #expect(mode.intValue == 0o600)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("token.json")))) as? [String: Any])?["token"] as? String)
        let refused = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "riley.key", "--token-file", "other.json"])
        #expect(refused.status == 2, "login with someone else's key must be refused")

        // 50 examples an operation in `make test` (the critical path of its run: this suite is serialized, and schemathesis
        // shares two cores with everything else), 1,000 in `make reliability`; the coverage phase's cases are the same in
        // both. The gate's long polls hold each generated `wait` (up to 50 s) in full: `make test` leaves the two gate operations
        // to their own tests (CIKitHTTPTests, the authorization matrix) and `make reliability` fuzzes them too.
        let large = ProcessInfo.processInfo.environment["SIGNOFF_RELIABILITY"] == "large"
        let longPolls = large ? [] : ["--exclude-operation-id", "gate", "--exclude-operation-id", "gateByDigest"]
        let result = try await TestSupport.run(
            try await TestSupport.python(),
            ["-m", "schemathesis.cli", "run", server.url.appendingPathComponent("openapi.yaml").absoluteString,
                "-H", "Authorization: Bearer \(token)", "--exclude-operation-id", "authRevoke", "--max-examples", large ? "1000" : "30",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases", "coverage,fuzzing", "--workers", "2", "--seed", "1"] + longPolls,
            environment: ["NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""], currentDirectory: s.directory, deadline: .seconds(large ? 3600 : 600))  // its cache stays out of the repository
        let summary = result.stdout.components(separatedBy: "Test cases:").last ?? ""
        #expect(result.status == 0, "schemathesis failed:\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(2000))")
        #expect(summary.contains("passed") && !summary.contains("failed"), "\(summary)")
        print("schemathesis: " + summary.prefix(120).replacingOccurrences(of: "\n", with: " "))
    }

    @Test("The demo story in remote mode: every step through the server over loopback, keys never leaving the CLI")
    func remoteStory() async throws {
        let s = try await Story(setUp: false)
        defer { s.remove() }
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        // Each person logs in with their own key and keeps their own token.
        func remote(_ user: String, _ arguments: String...) async throws -> TestSupport.ProcessResult {
            try await s.signoff(arguments + ["--as", user], extraEnv: ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN_FILE": s.path("\(user).token"), "SIGNOFF_DB": ""])
        }
        func ok(_ user: String, _ arguments: String..., sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> String {
            try await okArguments(user, arguments, sourceLocation: sourceLocation)
        }
        func okArguments(_ user: String, _ arguments: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> String {
            let result = try await s.signoff(arguments + ["--as", user], extraEnv: ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN_FILE": s.path("\(user).token"), "SIGNOFF_DB": ""])
            #expect(result.status == 0, "\(user): signoff \(arguments.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func login(_ user: String) async throws {
            let result = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token"])
            #expect(result.status == 0, "\(user) login: \(result.stderr)")
        }
        let admin = Cast.administrator.name
        try await login(admin)
        for person in Story.people where person.kind == .user { _ = try await ok(admin, "user", "add", person.name, "--key-file", "\(person.name).key.pub") }
        for person in Story.people where person.kind == .serviceAccount { _ = try await ok(admin, "service-account", "add", person.name, "--key-file", "\(person.name).key.pub") }
        for group in Story.groups { _ = try await ok(admin, "group", "add", group) }
        for (group, member) in Cast.memberships(Story.people) { _ = try await ok(admin, "group", "add-member", group, member) }
        try Story.regulatedAnyTime().write(toFile: s.path("regulated.yaml"), atomically: true, encoding: .utf8)
        _ = try await ok(admin, "workflow", "apply", Cast.workflowURL("standard").path)
        _ = try await ok(admin, "workflow", "apply", "regulated.yaml")
        let envs = Cast.environments.sorted { $0.key > $1.key }
        _ = try await okArguments(admin, ["project", "create", Cast.project, "--regulated", "--env"] + envs.map { "\($0.key)=\($0.value)" } + ["--role"] + Cast.roleArguments + ["--key", "\(admin).key"])
        for person in Story.people where person.kind == .user { try await login(person.name) }

        let prod = try await ok("riley", "request", "create", "--project", "churn-model", "--env", "prod", "--bundle", "churn-model-v12.zip", "--file", "churn-model-v12.zip")
        #expect(prod == "REQ-1")
        let early = try await remote("dana", "gate", prod, "--env", "prod", "--digest", s.digest)
        #expect(early.status == 2 && early.stdout.contains("gate.stage"))
        // CI attaches evidence with a scoped service token, as automation does.
        // Issued by the administrator with the CLI: a ledger entry, signed (the ledger has a regulated project).
        let ciToken = try await ok("ada", "token", "create", "--service-account", "ci-bot", "--scope", "evidence:churn-model", "--ttl", "1d", "--key", "ada.key")
        #expect(ciToken.hasPrefix("so_"))
        let unsignedToken = try await remote("ada", "token", "create", "--service-account", "ci-bot", "--scope", "evidence:churn-model")
        #expect(unsignedToken.status == 2 && unsignedToken.stderr.contains("admin.signature-required"), "\(unsignedToken.stderr)")
        let tooLong = try await remote("ada", "token", "create", "--service-account", "ci-bot", "--scope", "evidence:churn-model", "--ttl", "31d", "--key", "ada.key")
        #expect(tooLong.status == 64, "a lifetime beyond the maximum is refused, not shortened: \(tooLong.stderr)")
        try JSONSerialization.data(withJSONObject: ["token": ciToken, "user": "ci-bot", "server": server.url.absoluteString]).write(to: URL(fileURLWithPath: s.path("ci-bot.token")))
        _ = try await ok("ci-bot", "evidence", "add", prod, "--kind", "test-report", "--status", "passed", "--file", "junit.xml")
        let unsigned = try await remote("casey", "approve", prod, "--stage", "compliance-reviewed")
        #expect(unsigned.status == 2 && unsigned.stderr.contains("signature.required"))
        _ = try await ok("casey", "approve", prod, "--stage", "compliance-reviewed", "--key", "casey.key")
        let other = try await remote("morgan", "approve", prod, "--stage", "approved", "--key", "morgan.key", "--digest", "sha256:" + String(repeating: "cd", count: 32))
        #expect(other.status == 2 && other.stderr.contains("signature.digest"))
        let impostor = try await remote("morgan", "approve", prod, "--stage", "approved", "--key", "sam.key")
        #expect(impostor.status == 2 && impostor.stderr.contains("signature.wrong-key"))
        _ = try await ok("morgan", "approve", prod, "--stage", "approved", "--key", "morgan.key")
        await #expect(try ok("sam", "explain", prod).contains("1 of 2 approvals from approvers (release-managers)"))
        await #expect(try ok("sam", "list", "--waiting-for-me").contains(prod))
        _ = try await ok("sam", "approve", prod, "--stage", "approved", "--key", "sam.key")
        await #expect(try ok("riley", "status", prod).contains("approved"))
        // A server's problem detail reaches the terminal as one line of inert text: a 404 echoing an ID that carries a
        // terminal escape (and a line break) prints neither (red team: details echoed raw control characters).
        let hostile = try await remote("riley", "status", "REQ-\u{1B}[31m9\nOK: forged")
        #expect(hostile.status == 64 && !hostile.stderr.contains("\u{1B}") && !hostile.stderr.contains("\nOK: forged"), "\(hostile.stderr.debugDescription)")
        await #expect(try remote("dana", "gate", prod, "--env", "prod", "--digest", s.digest).status == 0)
        let notDeployer = try await remote("riley", "deploy", prod, "--outcome", "succeeded")
        #expect(notDeployer.status == 2)
        _ = try await ok("dana", "deploy", prod, "--outcome", "succeeded")
        let wrongUser = try await remote("dana", "withdraw", prod, "--as", "riley")
        #expect(wrongUser.status != 0)
        await #expect(try ok("riley", "workflow", "show", "regulated").contains("compliance-reviewed"))
        await #expect(try ok("riley", "checkpoint").hasPrefix("signoff.test/ledger\n"))
        await #expect(try ok("riley", "checkpoint", "--verifier-key").hasPrefix("signoff.test/ledger+"))
        // The auditor's export comes over HTTP as a streamed archive and verifies offline with the trusted key.
        let outsider = try await remote("riley", "audit", "export", "--out", "all-projects")
        #expect(outsider.status == 2, "exporting every project is for administrators and auditors")
        _ = try await ok("riley", "audit", "export", "--project", "churn-model", "--out", "audit")
        let verified = try await s.signoff("audit", "verify", "audit", "--log-key", "signoff.sqlite.ledger-key.pub")
        #expect(verified.status == 0 && verified.stdout.contains("3 of 3 decisions signed"), "\(verified.stdout) \(verified.stderr)")
        // Stopped and gone (its last checkpoint signed at SIGTERM): everything went into one ledger, which verifies.
        _ = await server.stopAndWait()
        await #expect(try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!).status == 0)
    }

    @Test("SIGTERM while clients write: every request that got a 2xx is in the ledger, the server says it stops and signs its last checkpoint, and the ledger verifies")
    func gracefulShutdown() async throws {
        let s = try await Story()
        defer { s.remove() }
        let server = try await RunningServer.start(story: s, arguments: ["--log-level", "info"])
        defer { server.stop() }
        #expect(try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "ada.key", "--token-file", "token.json"]).status == 0)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("token.json")))) as? [String: Any])?["token"] as? String)
        let url = server.url
        let ada = try await s.key("ada")
        // Eight clients write continuously; SIGTERM arrives while they are in full flow.
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for i in 0..<10_000 {
                        var request = URLRequest(url: url.appendingPathComponent("v1/groups"))
                        request.httpMethod = "POST"
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                        // Signed, as every administrative change is once the ledger has a regulated project.
                        let approval = AdminApproval(change: AdminChange(.groupCreate, group: "load-\(client)-\(i)"), time: Self.now).signed(with: ada)
                        request.httpBody = Data("{\"approval\":".utf8) + Data(approval.jsonBytes()) + Data(",\"name\":\"load-\(client)-\(i)\"}".utf8)
                        guard let (_, response) = try? await URLSession.shared.data(for: request) else { break }
                        if (response as? HTTPURLResponse)?.statusCode == 200 { mine.append("load-\(client)-\(i)") }
                    }
                    return mine
                }
            }
            try await Task.sleep(for: .seconds(1.5))
            _ = kill(server.pid, SIGTERM)
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        let status = await server.stopAndWait()
        #expect(status == 0, "the server must exit cleanly on SIGTERM, not \(status)")
        #expect(acknowledged.count > 20, "the clients should have been writing when SIGTERM came")
        let store = try SQLiteStorage.open(path: s.env["SIGNOFF_DB"]!)
        let state = try await SignoffService(storage: store).state()
        let lost = acknowledged.filter { state.groups[$0] == nil }
        #expect(lost.isEmpty, "acknowledged but not in the ledger: \(lost)")
        // Without --allow-uncovered-tail: the last checkpoint covers every entry.
        let verify = try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let log = String(decoding: try Data(contentsOf: server.log), as: UTF8.self)
        #expect(log.contains("stopping: signing the last checkpoint"), "\(log.suffix(2000))")
        #expect(!log.contains("could not sign a checkpoint"), "\(log.suffix(2000))")
        print("graceful shutdown: \(acknowledged.count) writes acknowledged before SIGTERM took effect, \(lost.count) lost")
    }

    @Test("The server verifies the whole ledger at start (GET /v1/audit/health shows it); --verify-interval off serves without; a bad interval is refused")
    func ledgerVerification() async throws {
        let s = try await Story(setUp: false)
        defer { s.remove() }
        let refused = try await s.signoff("serve", "--port", "1", "--verify-interval", "0s")
        #expect(refused.status != 0 && refused.stderr.contains("--verify-interval"), "\(refused.stderr)")
        let quiet = try await RunningServer.start(story: s, arguments: ["--verify-interval", "off"])
        try await Task.sleep(for: .seconds(1))
        let ready = try await RunningServer.get(quiet.url.appendingPathComponent("readyz"))
        #expect(quiet.isRunning && ready == 200, "off must not stop the server")
        quiet.stop()
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        #expect(try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "ada.key", "--token-file", "token.json"]).status == 0)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("token.json")))) as? [String: Any])?["token"] as? String)
        var request = URLRequest(url: server.url.appendingPathComponent("v1/audit/health"))
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        var verification: [String: Any]?
        for _ in 0..<100 {
            let (data, _) = try await URLSession.shared.data(for: request)
            verification = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["last_verification"] as? [String: Any]
            if verification != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(verification?["passed"] as? Bool == true && (verification?["entries"] as? Int ?? 0) > 0, "\(String(describing: verification))")
    }

    @Test("Evidence documents: a local upload beyond 5 MiB is refused before anything is recorded; `audit export --documents` carries the uploaded ones, and both verifiers accept it; --evidence-max-bytes is bounded")
    func evidenceDocumentsInExports() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.signoff("request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "churn-model-v12.zip", "--file", "churn-model-v12.zip", "--as", "riley")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("REQ-"))
        try Data(repeating: 0x61, count: (5 << 20) + 1).write(to: URL(fileURLWithPath: s.path("big.txt")))
        let big = try await s.signoff("evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "big.txt", "--upload", "--as", "ci-bot")
        #expect(big.status == 64 && big.stderr.contains("larger than 5 MiB"), "\(big.stderr)")
        let status = try await JSONSerialization.jsonObject(with: Data(try await s.signoff("status", id, "--json").stdout.utf8)) as? [String: Any]
        #expect((status?["evidence"] as? [Any])?.isEmpty == true, "nothing recorded for a refused upload")
        await #expect(try await s.signoff("evidence", "add", id, "--kind", "test-report", "--junit", "junit.xml", "--upload", "--as", "ci-bot").status == 0)
        let exported = try await s.signoff("audit", "export", "--project", Cast.project, "--documents", "--out", "exp", "--json")
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as? [String: Any])?["documents"] as? Int == 1)
        let junit = [UInt8](try Data(contentsOf: URL(fileURLWithPath: s.path("junit.xml"))))
        let document = s.path("exp/documents/\(SHA256Digest.hash(junit).hex)")
        #expect(FileManager.default.contents(atPath: document) == Data(junit))
        let verified = try await s.signoff("audit", "verify", "exp", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let python = try await TestSupport.runPython("verify_export.py", [s.path("exp"), s.path("signoff.sqlite.ledger-key.pub")])
        #expect(python.status == 0, "\(python.stdout) \(python.stderr)")
        // Without --documents: no folder.
        await #expect(try await s.signoff("audit", "export", "--project", Cast.project, "--out", "plain").status == 0)
        #expect(!FileManager.default.fileExists(atPath: s.path("plain/documents")))
        for bad in ["100", "67108865", "lots"] {
            let refused = try await s.signoff("serve", "--port", "1", "--evidence-max-bytes", bad)
            #expect(refused.status != 0 && refused.stderr.contains("evidence-max-bytes"), "\(bad): \(refused.stderr)")
        }
    }
}
