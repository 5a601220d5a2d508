import Foundation
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 15's notifications with the real binary and a receiver nobody here wrote the checks of (`standardwebhooks`
/// for v1, PyNaCl for v1a): signatures, formats, retries with backoff, 410, nothing for a refused command, nothing
/// lost to a kill -9 (at least once, deduplicated by webhook-id), reminders and escalations once per person.
@Suite("Webhooks with the signoff binary", .serialized)
struct WebhookTests {
    /// The receiver's log, one record per attempt.
    struct Received: Decodable {
        let path: String
        let id: String
        let type: String?
        let v1: Bool?
        let v1a: Bool?
        let status: Int?
        let attempt: Int
        let event: String?
        let duplicate: Bool?
        let body: String?
    }

    static func received(_ log: String) -> [Received] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Received.self, from: Data($0.utf8))
        }
    }

    /// Waits until `condition` holds on the receiver's log (up to `seconds`).
    static func waitFor(_ log: String, seconds: Double = 40, _ condition: ([Received]) -> Bool) async throws -> [Received] {
        let deadline = Date().addingTimeInterval(seconds)
        var records = received(log)
        while !condition(records) && Date() < deadline {
            try await Task.sleep(for: .seconds(0.2))
            records = received(log)
        }
        return records
    }

    /// The receiver (`Tests/python/webhook_receiver.py`) in the story's folder, logging to `received.jsonl`, with the v1a
    /// public key read from `receiver.pub` — in its own process group, which the caller ends (also when the test fails:
    /// a pyenv shim's Python with it). Returns it and its port.
    static func startReceiver(_ s: Story) async throws -> (ChildProcess, port: String) {
        let portFile = s.path("receiver.port")
        let receiver = try ChildProcess(
            try await TestSupport.python(),
            [TestSupport.projectRoot.appendingPathComponent("Tests/python/webhook_receiver.py").path, portFile, s.path("received.jsonl"), s.path("receiver.pub")],
            environment: TestSupport.childEnvironment(), stdout: .discard, stderr: .discard)
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            try await Task.sleep(for: .seconds(0.1))
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
        }
        guard !port.isEmpty else {
            receiver.endSoon(grace: .seconds(1))
            throw TestSupportError("the webhook receiver did not start")
        }
        return (receiver, port)
    }

    /// The standard workflow, reminding after 2 s and escalating to compliance after 5 s.
    static let quick = (try? Cast.workflowSource("standard"))?
        .replacingOccurrences(of: "workflow: standard", with: "workflow: quick")
        .replacingOccurrences(of: "request_expiry: 14d", with: "request_expiry: 14d\nremind_after: 2s\nescalate_after: 5s\nescalate_to: compliance") ?? ""

    @Test("Deliveries are signed v1 and v1a, retried with backoff, stopped by 410, never sent for a refused command, not lost to kill -9; reminders come once per person")
    func webhooks() async throws {
        let s = try await Story(workflows: ["quick": Self.quick])
        defer { s.remove() }
        let (receiver, port) = try await Self.startReceiver(s)
        defer { receiver.endSoon(grace: .seconds(1)) }
        let log = s.path("received.jsonl"), publicKey = s.path("receiver.pub")
        let receiverURL = "http://127.0.0.1:\(port)"

        var server = try await RunningServer.start(story: s, arguments: ["--webhook-first-retry", "1s", "--reminder-interval", "1s", "--public-url", "https://signoff.example", "--webhook-allow-private"])
        defer { server.stop() }
        func login(_ user: String) async throws {
            let result = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        func remote(_ user: String, _ arguments: [String]) async throws -> TestSupport.ProcessResult {
            try await s.signoff(arguments + ["--server", server.url.absoluteString, "--token-file", "\(user).token", "--as", user])
        }
        for user in ["ada", "riley", "morgan", "casey"] { try await login(user) }

        // Subscriptions: administrative changes, signed (the ledger has a regulated project); the secret shown once.
        func subscribe(_ path: String, _ arguments: [String]) async throws {
            // The receiver is on loopback: meant, so said (--allow-private), and the server runs with --webhook-allow-private.
            let added = try await remote("ada", ["webhook", "add", "--url", "\(receiverURL)/\(path)", "--key", "ada.key", "--allow-private"] + arguments)
            #expect(added.status == 0, "\(added.stderr)")
            let secret = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(secret.hasPrefix("whsec_"))
            try secret.write(toFile: s.path("\(path).secret"), atomically: true, encoding: .utf8)
        }
        let unsigned = try await remote("ada", ["webhook", "add", "--url", "\(receiverURL)/ok", "--events", "all"])
        #expect(unsigned.status == 2 && unsigned.stderr.contains("admin.signature-required"), "a stolen session cannot add a webhook: \(unsigned.stderr)")
        let notAdmin = try await remote("riley", ["webhook", "add", "--url", "\(receiverURL)/ok", "--events", "all", "--key", "riley.key"])
        #expect(notAdmin.status == 2 && notAdmin.stderr.contains("admin.required"), "\(notAdmin.stderr)")
        let plain = try await remote("ada", ["webhook", "add", "--url", "http://example.com/hook", "--events", "all", "--key", "ada.key"])
        #expect(plain.status == 64 && plain.stderr.contains("https"), "plain http leaves the machine only over TLS: \(plain.stderr)")
        let inward = try await remote("ada", ["webhook", "add", "--url", "\(receiverURL)/ok", "--events", "all", "--key", "ada.key"])
        #expect(inward.status == 64 && inward.stderr.contains("webhook.private-target") && inward.stderr.contains("--allow-private"), "\(inward.stderr)")
        try await subscribe("ok", ["--events", "all"])
        try await subscribe("fail-twice", ["--events", "request.filed", "--project", Cast.project, "--format", "slack"])
        try await subscribe("gone", ["--events", "request.filed", "--format", "teams"])
        let key = try await remote("riley", ["webhook", "signing-key"])
        #expect(key.stdout.hasPrefix("whpk_"))
        try key.stdout.trimmingCharacters(in: .whitespacesAndNewlines).write(toFile: publicKey, atomically: true, encoding: .utf8)

        // A request whose bundle name and description carry markup that chat apps would act on.
        let filed = try await remote("riley", ["request", "create", "--project", Cast.project, "--env", "quick", "--bundle", "m<!channel>*x*.zip", "--digest", s.digest, "--description", "<@everyone> [click](javascript:alert(1))"])
        #expect(filed.status == 0, "\(filed.stderr)")
        let id = filed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let first = try await Self.waitFor(log) { r in
            r.contains { $0.path == "ok" && $0.type == "request.filed" } && r.filter { $0.path == "fail-twice" && $0.status == 200 }.count >= 1
                && r.contains { $0.path == "gone" }
        }
        let ok = first.filter { $0.path == "ok" }
        #expect(!ok.isEmpty && ok.allSatisfy { $0.v1 == true && $0.v1a == true }, "every message verifies with v1 and v1a: \(ok.map { ($0.type ?? "", $0.v1 ?? false, $0.v1a ?? false) })")
        // The v1a key is the ledger's, the same for every subscription: the standard body names the subscription it was
        // sent to, so that a receiver can tell a message relayed from another subscription's receiver (red team).
        let named = Set(ok.compactMap { record in
            (try? JSONSerialization.jsonObject(with: Data((record.body ?? "").utf8)) as? [String: Any])?["webhook"] as? String
        })
        let listed = try await remote("ada", ["webhook", "list"])
        #expect(named.count == 1 && named.allSatisfy { id in listed.stdout.split(separator: "\n").contains { $0.contains(id) && $0.contains("/ok") } }, "\(named) in \(listed.stdout)")
        #expect(ok.contains { $0.type == "request.filed" && ($0.body ?? "").contains("ci-bot") }, "the filing names who can act next")
        #expect(ok.contains { ($0.body ?? "").contains("https://signoff.example/requests/\(id)") }, "the link is the console page, starting with --public-url")
        let slack = first.filter { $0.path == "fail-twice" }
        #expect(slack.map(\.status) == [500, 500, 200], "two failures, then delivered: \(slack.map(\.status))")
        #expect(slack.allSatisfy { $0.v1 == true && $0.v1a == true })
        let slackBody = slack.last?.body ?? ""
        #expect(slackBody.contains("&lt;!channel&gt;") && !slackBody.contains("<!channel>"), "Slack markup is escaped: \(slackBody)")
        let gone = first.filter { $0.path == "gone" }
        #expect(gone.map(\.status) == [410])

        // The delivery log: the retries backed off (1 s, then 2 s), the 410 disabled its endpoint.
        let deliveries = try await remote("ada", ["webhook", "deliveries", "--subscription", "WH-2", "--json"])
        let rows = (try? JSONSerialization.jsonObject(with: Data(deliveries.stdout.utf8)) as? [[String: Any]]) ?? []
        #expect(rows.first?["status"] as? String == "delivered" && rows.first?["attempts"] as? Int == 3, "\(deliveries.stdout)")
        if let message = rows.first?["id"] as? String {
            let shown = try await remote("ada", ["webhook", "show", message, "--json"])
            let attempts = ((try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])?["attempt_log"] as? [[String: Any]]) ?? []
            let times = attempts.compactMap { ($0["at"] as? String).flatMap(Timestamps.milliseconds(rfc3339:)) }
            #expect(times.count == 3)
            if times.count == 3 {
                #expect(times[1] - times[0] >= 900 && times[2] - times[1] >= 1_900, "exponential backoff: \(times)")
            }
        }
        let list = try await remote("ada", ["webhook", "list"])
        #expect(list.stdout.contains("WH-3") && list.stdout.contains("DISABLED"), "\(list.stdout)")
        #expect(list.stdout.contains("(allow-private)"), "the list shows what the administrators allowed: \(list.stdout)")

        // A refused command enqueues nothing (the scheduler's reminders and escalations aside, which time alone brings).
        func eventMessages() async throws -> Int {
            let text = try await remote("ada", ["webhook", "deliveries", "--json", "--limit", "1000"]).stdout
            let rows = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
            return rows.filter { !["reminder", "escalation"].contains($0["type"] as? String ?? "") }.count
        }
        let before = try await eventMessages()
        let refused = try await remote("riley", ["approve", id, "--stage", "approved", "--key", "riley.key"])
        #expect(refused.status == 2)
        // The outbox is written in the unit of work of the command's entries: a refused command that queued anything would
        // show it as soon as its refusal is back. No waiting, so no passing merely because the machine was slow.
        #expect(try await eventMessages() == before, "nothing queued for a refused command")

        // Reminders: the approvers are reminded once each (one digest each), compliance gets the escalation once.
        func recipients(_ records: [Received], _ type: String) -> [String] {
            records.filter { $0.path == "ok" && $0.type == type }.compactMap { r -> String? in
                ((try? JSONSerialization.jsonObject(with: Data((r.body ?? "").utf8)) as? [String: Any])?["data"] as? [String: Any])?["recipient"] as? String
            }
        }
        // The escalation for the wait at `requested` first: on a fast machine the steps above take less than the 5 s it
        // needs, and evidence added sooner would move the request on before it is due.
        let requestedEscalation = try await Self.waitFor(log, seconds: 30) { recipients($0, "escalation").count >= 1 }
        #expect(recipients(requestedEscalation, "escalation") == ["casey"], "\(recipients(requestedEscalation, "escalation"))")
        let evidence = try await s.signoff(["evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--as", "ci-bot"])
        #expect(evidence.status == 0, "\(evidence.stderr)")
        let reminded = try await Self.waitFor(log, seconds: 30) { r in Set(recipients(r, "reminder")) == ["morgan", "sam"] && recipients(r, "escalation").count >= 2 }
        let reminders = reminded.filter { $0.path == "ok" && $0.type == "reminder" }
        #expect(recipients(reminded, "reminder").sorted() == ["morgan", "sam"], "one reminder per approver: \(recipients(reminded, "reminder"))")
        // Escalated to compliance once per stage the request waited at too long (requested, then tested).
        #expect(recipients(reminded, "escalation") == ["casey", "casey"], "\(recipients(reminded, "escalation"))")
        // The scheduler runs twice more (its counter in /metrics says so, however slow the machine), and sends nothing again.
        func schedulerRuns() async throws -> Int {
            let token = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("ada.token")))) as? [String: Any])?["token"] as? String
            let text = try await HTTP.call("GET", server.url.appendingPathComponent("metrics").absoluteString, token: token).object["body"] as? String ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix("signoff_scheduler_runs_total") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        let runs = try await schedulerRuns()
        let ranTwiceMore = ContinuousClock.now + .seconds(60)
        while try await schedulerRuns() < runs + 2 && ContinuousClock.now < ranTwiceMore { try await Task.sleep(for: .milliseconds(200)) }
        #expect(try await schedulerRuns() >= runs + 2, "the scheduler did not run twice in a minute")
        let settled = try await Self.waitFor(log, seconds: 5) { r in r.filter { $0.type == "reminder" }.count == reminders.count }
        #expect(settled.filter { $0.type == "reminder" }.count == reminders.count, "the scheduler sends each reminder once")

        // kill -9 while a delivery is in flight: after the restart it is delivered again, with the same webhook-id.
        try await subscribe("slow", ["--events", "request.filed"])
        let second = try await remote("riley", ["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "n.zip", "--digest", "sha256:" + SHA256Digest.hash("n").hex])
        #expect(second.status == 0)
        let inFlight = try await Self.waitFor(log) { r in r.contains { $0.path == "slow" && $0.event == "received" } }
        let message = inFlight.first { $0.path == "slow" && $0.event == "received" }?.id ?? "?"
        await server.kill()
        server = try await RunningServer.start(story: s, arguments: ["--webhook-first-retry", "1s", "--reminder-interval", "1s", "--webhook-allow-private"])
        let redelivered = try await Self.waitFor(log, seconds: 30) { r in r.contains { $0.path == "slow" && $0.id == message && $0.attempt >= 2 && $0.status == 200 } }
        let slow = redelivered.filter { $0.path == "slow" && $0.id == message && $0.status == 200 }
        #expect(slow.count >= 2, "delivered at least once more after the kill: \(slow.map(\.attempt))")
        #expect(slow.filter { $0.duplicate == false }.count == 1, "one delivery once deduplicated by webhook-id")
    }
}
