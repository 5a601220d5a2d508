import Foundation
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 15 with the real binary: `gate --wait` against a real server (approval, rejection and timeout from other
/// processes), a CI pipeline with only a service token, `deploy --start/--finish`, and the CLI and HTTP answering
/// `deployments` and `inbox` alike.
@Suite("The CI kit with the signoff binary", .serialized)
struct CIKitTests {
    /// `signoff ARGS` started in the background (its own process group, ended by the `defer` of whoever starts it if
    /// the test fails first); its output goes to files.
    final class Background: @unchecked Sendable {
        let child: ChildProcess
        let out: URL
        let err: URL
        let started = ContinuousClock.now

        init(_ s: Story, _ arguments: [String], env extra: [String: String]) throws {
            out = s.directory.appendingPathComponent("bg-\(UUID().uuidString).out")
            err = s.directory.appendingPathComponent("bg-\(UUID().uuidString).err")
            child = try ChildProcess(
                try TestSupport.signoffExecutable, arguments, environment: TestSupport.childEnvironment(s.env.merging(extra) { $1 }),
                currentDirectory: s.directory, stdout: .file(out), stderr: .file(err))
        }

        /// Waits for the exit (within two minutes, else it is ended and the test fails): status, stdout, stderr and how
        /// long it ran.
        func finish() async throws -> (status: Int32, stdout: String, stderr: String, elapsed: Duration) {
            guard let status = await child.exited(within: .seconds(120)) else {
                await child.end()
                throw TestSupportError("signoff \(child.label) did not finish within two minutes")
            }
            let read = { (url: URL) in String(decoding: (try? Data(contentsOf: url)) ?? Data(), as: UTF8.self) }
            return (status, read(out), read(err), ContinuousClock.now - started)
        }

        /// Ends it now if it still runs (for a `defer`).
        func end() { child.endSoon(grace: .seconds(1)) }

        /// Waits until its standard error says it is waiting (the gate was asked at least once).
        func waitUntilWaiting() async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline && !child.hasExited {
                if String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self).contains("signoff: waiting:") { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestSupportError("the gate never reported waiting: \(String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self))")
        }
    }

    @Test("gate --wait over the server's cap of long polls (429, Retry-After): the CLI waits it out, looks again, and ends with the gate's answer")
    func gateWaitOverTheCap() async throws {
        let s = try await Story()
        defer { s.remove() }
        try await s.must("group", "add-member", Cast.Group.dataScience, Cast.ci.name, "--as", "ada", "--key", "ada.key")
        let server = try await RunningServer.start(story: s, arguments: ["--max-waiters-per-principal", "1", "--log-level", "info"])
        defer { server.stop() }
        let url = server.url.absoluteString
        for user in ["ada", "morgan"] {
            let login = try await s.signoff(["login", "--server", url, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token"])
            #expect(login.status == 0, "\(login.stderr)")
        }
        let scopes = ["request", "evidence", "gate", "read"].flatMap { ["--scope", "\($0):\(Cast.project)"] }
        let token = try await s.signoff(
            ["token", "create", "--service-account", "ci-bot", "--ttl", "1d", "--key", "ada.key", "--server", url, "--token-file", "ada.token", "--as", "ada"] + scopes)
        #expect(token.status == 0, "\(token.stderr)")
        let ci = ["SIGNOFF_SERVER": url, "SIGNOFF_TOKEN": token.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "SIGNOFF_USER": ""]
        let digest = "sha256:" + SHA256Digest.hash("bundle one").hex
        let filed = try await s.signoff(["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", digest], extraEnv: ci)
        #expect(filed.status == 0, "\(filed.stderr)")
        let id = filed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await s.signoff(["evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "junit.xml"], extraEnv: ci).status == 0)
        // Acting as someone else while SIGNOFF_TOKEN holds ci-bot's token: told that the variable wins over any login.
        let asAda = try await s.signoff(["gate", id, "--env", "qa", "--digest", digest, "--as", "ada"], extraEnv: ci)
        #expect(asAda.status == 64 && asAda.stderr.contains("SIGNOFF_TOKEN holds ci-bot's token") && asAda.stderr.contains("unset SIGNOFF_TOKEN"), "\(asAda.stderr)")
        // The first pipeline holds the service account's one long poll; the second is turned away (429) until it ends.
        let first = try Background(s, ["gate", id, "--env", "qa", "--digest", digest, "--wait", "90s"], env: ci)
        defer { first.end() }
        try await first.waitUntilWaiting()
        try await Task.sleep(for: .seconds(1))
        let second = try Background(s, ["gate", id, "--env", "qa", "--digest", digest, "--wait", "90s"], env: ci)
        defer { second.end() }
        try await second.waitUntilWaiting()
        try await Task.sleep(for: .seconds(1))
        let approve = try await s.signoff(["approve", id, "--stage", "approved", "--key", "morgan.key", "--as", "morgan", "--server", url, "--token-file", "morgan.token"])
        #expect(approve.status == 0, "\(approve.stderr)")
        let held = try await first.finish()
        let turnedAway = try await second.finish()
        #expect(held.status == 0 && held.stdout.contains("ALLOWED: \(id)"), "\(held.stdout) \(held.stderr)")
        #expect(turnedAway.status == 0 && turnedAway.stdout.contains("ALLOWED: \(id)"), "\(turnedAway.stdout) \(turnedAway.stderr)")
        #expect(!turnedAway.stderr.contains("429") && !turnedAway.stderr.contains("error"), "the 429 is not an error to the pipeline: \(turnedAway.stderr)")
        #expect(turnedAway.elapsed < .seconds(40))
        let log = String(decoding: (try? Data(contentsOf: server.log)) ?? Data(), as: UTF8.self)
        #expect(log.contains("status=429"), "the second pipeline was turned away by the cap at least once")
    }

    @Test("gate --project --wait with a service token: 0 when the approval arrives from another process, 2 on rejection, 75 on timeout")
    func gateWait() async throws {
        let s = try await Story()
        defer { s.remove() }
        // The team's pipeline files its requests: ci-bot is one of the project's requesters.
        try await s.must("group", "add-member", Cast.Group.dataScience, Cast.ci.name, "--as", "ada", "--key", "ada.key")
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let url = server.url.absoluteString
        for user in ["ada", "morgan", "riley", "dana"] {
            let login = try await s.signoff(["login", "--server", url, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token"])
            #expect(login.status == 0, "\(login.stderr)")
        }
        func remote(_ user: String, _ arguments: [String]) async throws -> TestSupport.ProcessResult {
            try await s.signoff(arguments + ["--server", url, "--token-file", "\(user).token"] + (arguments.contains("--as") ? [] : ["--as", user]))
        }
        let scopes = ["request", "evidence", "gate", "read"].flatMap { ["--scope", "\($0):\(Cast.project)"] }
        let token = try await remote("ada", ["token", "create", "--service-account", "ci-bot", "--ttl", "1d", "--key", "ada.key"] + scopes)
        #expect(token.status == 0, "\(token.stderr)")
        let ci = ["SIGNOFF_SERVER": url, "SIGNOFF_TOKEN": token.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "SIGNOFF_USER": ""]
        func file(_ digest: String) async throws -> String {
            let filed = try await s.signoff(
                ["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", digest, "--reuse", "--json"], extraEnv: ci)
            #expect(filed.status == 0, "\(filed.stderr)")
            let id = (try? JSONSerialization.jsonObject(with: Data(filed.stdout.utf8)) as? [String: Any])?["request"] as? String ?? "?"
            let evidence = try await s.signoff(["evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "junit.xml"], extraEnv: ci)
            #expect(evidence.status == 0, "\(evidence.stderr)")
            return id
        }
        let digest = "sha256:" + SHA256Digest.hash("bundle one").hex
        let id = try await file(digest)
        // A re-run job files nothing new.
        let again = try await s.signoff(["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", digest, "--reuse", "--json"], extraEnv: ci)
        #expect(again.stdout.contains("\"reused\":true") && again.stdout.contains(id), "\(again.stdout) \(again.stderr)")
        let rerunEvidence = try await s.signoff(["evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--json"], extraEnv: ci)
        #expect(rerunEvidence.status == 0 && rerunEvidence.stdout.contains("\"entries\":[]"), "idempotent evidence: \(rerunEvidence.stdout)")

        // Approved by morgan, through the server, while CI waits.
        let waiting = try Background(s, ["gate", "--project", Cast.project, "--env", "qa", "--digest", digest, "--wait", "90s"], env: ci)
        defer { waiting.end() }
        try await waiting.waitUntilWaiting()
        let approve = try await remote("morgan", ["approve", id, "--stage", "approved", "--key", "morgan.key", "--as", "morgan"])
        #expect(approve.status == 0, "\(approve.stderr)")
        let allowed = try await waiting.finish()
        #expect(allowed.status == 0, "\(allowed.stdout) \(allowed.stderr)")
        #expect(allowed.stdout.contains("ALLOWED: \(id)"))
        #expect(allowed.stderr.contains("signoff: waiting: \(id)") && allowed.stderr.contains("approvers"), "progress names what it waits for: \(allowed.stderr)")
        #expect(allowed.elapsed < .seconds(60))

        // Rejected while CI waits: exit 2 at once, with the reason.
        let second = try await file("sha256:" + SHA256Digest.hash("bundle two").hex)
        let rejectWait = try Background(s, ["gate", second, "--env", "qa", "--digest", "sha256:" + SHA256Digest.hash("bundle two").hex, "--wait", "90s"], env: ci)
        defer { rejectWait.end() }
        try await rejectWait.waitUntilWaiting()
        await #expect(try remote("morgan", ["reject", second, "--stage", "approved", "--reason", "not this one", "--key", "morgan.key", "--as", "morgan"]).status == 0)
        let rejected = try await rejectWait.finish()
        #expect(rejected.status == 2, "\(rejected.stdout) \(rejected.stderr)")
        #expect(rejected.stdout.contains("rejected"))
        #expect(rejected.elapsed < .seconds(60))

        // Nobody decides: the wait runs out with its own exit code.
        let third = "sha256:" + SHA256Digest.hash("bundle three").hex
        let thirdID = try await file(third)
        let timedOut = try await Background(s, ["gate", "--project", Cast.project, "--env", "qa", "--digest", third, "--wait", "2s"], env: ci).finish()
        #expect(timedOut.status == 75, "\(timedOut.stdout) \(timedOut.stderr)")
        #expect(timedOut.stderr.contains("ran out"))
        // Locally (no server) the gate polls the database, and times out the same way.
        let local = try await s.signoff(["gate", "--project", Cast.project, "--env", "qa", "--digest", third, "--wait", "2s"])
        #expect(local.status == 75, "\(local.stderr)")
        // No open request, or several: bad input, listing them.
        let none = try await s.signoff(["gate", "--project", Cast.project, "--env", "qa", "--digest", "sha256:" + SHA256Digest.hash("nothing").hex], extraEnv: ci)
        #expect(none.status == 64 && none.stderr.contains("no open request"), "\(none.stderr)")
        // A second filing for the digest answers with the first; --new files another.
        let refiled = try await s.must("request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", third, "--as", "riley")
        #expect(refiled.trimmingCharacters(in: .whitespacesAndNewlines) == thirdID, "\(refiled)")
        _ = try await s.must("request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", third, "--new", "--as", "riley")
        #expect(try await s.signoff(["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", third, "--new", "--reuse"]).status == 64)
        let several = try await s.signoff(["gate", "--project", Cast.project, "--env", "qa", "--digest", third], extraEnv: ci)
        #expect(several.status == 64 && several.stderr.contains("several open requests"), "\(several.stderr)")

        // The deployment in two steps, by the deployer.
        let start = try await remote("dana", ["deploy", id, "--start", "--note", "rollout", "--as", "dana"])
        #expect(start.status == 0, "\(start.stderr)")
        let deploying = try await remote("riley", ["deployments", "--project", Cast.project, "--env", "qa", "--json"])
        #expect(deploying.stdout.contains("\"deploying\":[{"), "\(deploying.stdout)")
        let twice = try await remote("dana", ["deploy", id, "--start", "--as", "dana"])
        #expect(twice.status == 2 && twice.stderr.contains("deployment.in-progress"))
        let finish = try await remote("dana", ["deploy", id, "--finish", "--outcome", "succeeded", "--as", "dana"])
        #expect(finish.status == 0, "\(finish.stderr)")
        let status = try await remote("riley", ["status", id, "--json"])
        #expect(status.stdout.contains("\"status\":\"deployed\""))

        // The CLI on the database and the server answer alike (ages aside, which move with the clock).
        func stripAges(_ text: String) -> String {
            text.replacingOccurrences(of: #"age_seconds":\d+"#, with: "", options: .regularExpression)
        }
        for (user, arguments) in [("ada", ["deployments", "--json"]), ("morgan", ["inbox", "--json"]), ("riley", ["inbox", "--json"]), ("ada", ["list", "--env", "qa", "--json"])] {
            let overHTTP = try await remote(user, arguments)
            let onDatabase = try await s.signoff(arguments + ["--as", user])
            #expect(overHTTP.status == 0 && onDatabase.status == 0, "\(overHTTP.stderr) \(onDatabase.stderr)")
            #expect(stripAges(overHTTP.stdout) == stripAges(onDatabase.stdout), "\(user) \(arguments)")
        }
        let inbox = try await remote("morgan", ["inbox"])
        #expect(inbox.stdout.contains("decide approved"), "\(inbox.stdout)")
        // Each line names the bundle beside the request (issue 30: the CLI inbox lacked it).
        #expect(inbox.stdout.split(separator: "\n").filter { $0.hasPrefix("REQ-") }.allSatisfy { $0.split(separator: "\t").dropFirst(2).first?.hasSuffix(".zip") == true },
                "\(inbox.stdout)")
        // The header names every column, the bundle's among them, so that each value sits under its name.
        let inboxLines = inbox.stdout.split(separator: "\n")
        #expect(inboxLines.first == "REQUEST\tPROJECT → ENVIRONMENT\tBUNDLE\tACTION\tAGE\tDETAIL", "\(inbox.stdout)")
        #expect(inboxLines.dropFirst().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 6 }, "\(inbox.stdout)")
        let unknown = try await s.signoff(["list", "--state", "aproved"])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown state"), "\(unknown.stderr)")
        let header = try await s.must("list", "--env", "qa", "--requester", "ci-bot")
        #expect(header.hasPrefix("REQUEST\tPROJECT\tENVIRONMENT\tSTAGE\tBUNDLE\tREQUESTER\tAGE"))
    }
}

/// Issue 27, part 2: a pipeline's re-run revises with the new file, whose name goes with it, and a revision its token
/// recorded is never reported as a failure because the token may not read the request back.
@Suite("Revising from a pipeline")
struct PipelineReviseTests {
    @Test("revise --file takes the new file's name (unless --bundle); a service token that may revise but not read gets exit 0 for a recorded revision")
    func reviseFromPipeline() async throws {
        let s = try await Story()
        defer { s.remove() }
        // The pipeline's account may file and revise in this project (bound as a requester), with a token of scope request: only.
        try await s.must("group", "add-member", Cast.Group.dataScience, Cast.ci.name, "--as", "ada", "--key", "ada.key")
        let token = try await s.serviceToken(["request:\(Cast.project)"])
        for (name, text) in [("model-v4.zip", "v4"), ("model-v5.zip", "v5"), ("model-v6.zip", "v6")] { try Data(text.utf8).write(to: URL(fileURLWithPath: s.path(name))) }
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let pipeline = ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN": token, "SIGNOFF_DB": ""]
        let filed = try await s.signoff(["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "model-v4.zip", "--file", "model-v4.zip", "--as", Cast.ci.name], extraEnv: pipeline)
        #expect(filed.status == 0, "\(filed.stderr)")
        let id = filed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let revised = try await s.signoff(["revise", id, "--file", "model-v5.zip", "--as", Cast.ci.name], extraEnv: pipeline)
        #expect(revised.status == 0 && revised.stdout.contains("\(id) is revised"), "a recorded revision reported as such: \(revised.status) \(revised.stdout) \(revised.stderr)")
        server.stop()
        _ = await server.stopAndWait()
        let status = try JSONSerialization.jsonObject(with: Data(try await s.must("status", id, "--json", "--as", "ada").utf8)) as? [String: Any]
        #expect(status?["bundle"] as? String == "model-v5.zip" && status?["revision"] as? Int == 2, "the new file's name and digest: \(status ?? [:])")
        #expect(status?["digest"] as? String == "sha256:" + SHA256Digest.hash("v5").hex)
        // Locally, and with --bundle naming it otherwise.
        let named = try await s.signoff("revise", id, "--file", "model-v6.zip", "--bundle", "model-final.zip", "--as", Cast.ci.name)
        #expect(named.status == 0 && named.stdout.contains("revision 3"), "\(named.stdout) \(named.stderr)")
        let after = try JSONSerialization.jsonObject(with: Data(try await s.must("status", id, "--json", "--as", "ada").utf8)) as? [String: Any]
        #expect(after?["bundle"] as? String == "model-final.zip")
    }
}

/// Issue 27, part 1 (in part): a person files, the pipeline carries on.
@Suite("A person files, the pipeline carries on")
struct PersonFilesTests {
    @Test("request create --reuse from the pipeline's token finds the request a person filed for the digest, whatever its bundle is called")
    func pipelineFindsPersonsRequest() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.filed()
        let token = try await s.serviceToken(["request:\(Cast.project)"])
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let pipeline = ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN": token, "SIGNOFF_DB": ""]
        let found = try await s.signoff(
            ["request", "create", "--project", Cast.project, "--env", "prod", "--bundle", "build-4711.tar", "--digest", s.digest, "--reuse", "--json", "--as", Cast.ci.name],
            extraEnv: pipeline)
        #expect(found.status == 0 && found.stdout.contains("\"reused\":true") && found.stdout.contains(id), "\(found.stdout) \(found.stderr)")
    }
}

/// Issue 27, part 4: a gate's wait ends at once on what waiting will not end.
@Suite("The gate fails fast")
struct GateFailsFastTests {
    @Test("gate --wait through the server ends within seconds, exit 2, on a failed newest report and on a freeze that outlasts the wait, and says what waiting will not end")
    func failedReportEndsTheWait() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.filed()
        try await s.must("evidence", "add", id, "--kind", "test-report", "--status", "failed", "--digest", s.digest, "--as", Cast.ci.name)
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        _ = try await Client.login(s, Cast.requester.name, server: server)  // riley-PORT.token
        let started = ContinuousClock.now
        let gate = try await s.signoff(
            ["gate", id, "--env", "prod", "--digest", s.digest, "--wait", "60s", "--as", Cast.requester.name],
            extraEnv: ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN_FILE": s.path("\(Cast.requester.name)-\(server.port).token"), "SIGNOFF_DB": ""])
        let took = ContinuousClock.now - started
        #expect(gate.status == 2, "refused at once, not timed out (75): \(gate.status) \(gate.stdout) \(gate.stderr)")
        #expect(gate.stdout.contains("waiting will not end this") && gate.stdout.contains("evidence: the newest test-report is failed"), "\(gate.stdout)")
        #expect(took < .seconds(20), "the wait ended at once, not after its 60 s: \(took)")
        // A freeze on the environment until after the wait: nothing a decider does ends it in time.
        let qa = try await s.filed(env: "qa")
        try await s.must("evidence", "add", qa, "--kind", "test-report", "--status", "passed", "--digest", s.digest, "--as", Cast.ci.name)
        try await s.must("approve", qa, "--stage", "approved", "--key", "morgan.key", "--as", "morgan")
        let until = ISO8601DateFormatter().string(from: Date().addingTimeInterval(7200))
        try await s.must("freeze", "add", "--env", "qa", "--until", until, "--reason", "quarter close", "--as", "ada", "--key", "ada.key")
        let frozenStart = ContinuousClock.now
        let frozen = try await s.signoff(
            ["gate", qa, "--env", "qa", "--digest", s.digest, "--wait", "60s", "--as", Cast.requester.name],
            extraEnv: ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN_FILE": s.path("\(Cast.requester.name)-\(server.port).token"), "SIGNOFF_DB": ""])
        #expect(frozen.status == 2 && frozen.stdout.contains("freeze") && frozen.stdout.contains("waiting will not end this"), "\(frozen.status) \(frozen.stdout) \(frozen.stderr)")
        #expect(ContinuousClock.now - frozenStart < .seconds(20))
    }
}

/// Issue 27, part 5: a report attached without its document gets it later.
@Suite("Evidence documents after the fact")
struct EvidenceDocumentLaterTests {
    @Test("evidence add --upload of a report already attached stores its document (nothing else recorded) and says so")
    func uploadAfterAttach() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.filed(env: "qa")
        let attached = try await s.must("evidence", "add", id, "--kind", "test-report", "--junit", "junit.xml", "--as", Cast.ci.name)
        #expect(attached.contains("Attached test-report") && !attached.contains("document"), "\(attached)")
        let later = try await s.must("evidence", "add", id, "--kind", "test-report", "--junit", "junit.xml", "--upload", "--as", Cast.ci.name)
        #expect(later.contains("Already attached") && later.contains("its document is stored"), "\(later)")
        let exported = try await s.signoff("audit", "export", "--project", Cast.project, "--documents", "--out", "exp", "--json")
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as? [String: Any])?["documents"] as? Int == 1)
        let status = try JSONSerialization.jsonObject(with: Data(try await s.must("status", id, "--json").utf8)) as? [String: Any]
        #expect((status?["evidence"] as? [Any])?.count == 1, "one evidence, attached once")
    }
}
