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
    static func waitFor(_ log: String, seconds: Double = 40, _ condition: ([Received]) -> Bool) -> [Received] {
        let deadline = Date().addingTimeInterval(seconds)
        var records = received(log)
        while !condition(records) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            records = received(log)
        }
        return records
    }

    /// The standard workflow, reminding after 2 s and escalating to compliance after 5 s.
    static let quick = (try? Cast.workflowSource("standard"))?
        .replacingOccurrences(of: "workflow: standard", with: "workflow: quick")
        .replacingOccurrences(of: "request_expiry: 14d", with: "request_expiry: 14d\nremind_after: 2s\nescalate_after: 5s\nescalate_to: compliance") ?? ""

    @Test("Deliveries are signed v1 and v1a, retried with backoff, stopped by 410, never sent for a refused command, not lost to kill -9; reminders come once per person")
    func webhooks() throws {
        let s = try Story(workflows: ["quick": Self.quick])
        defer { s.remove() }
        let log = s.path("received.jsonl"), portFile = s.path("receiver.port"), publicKey = s.path("receiver.pub")
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        receiver.arguments = ["python3", TestSupport.projectRoot.appendingPathComponent("Tests/python/webhook_receiver.py").path, portFile, log, publicKey]
        receiver.standardOutput = FileHandle.nullDevice
        receiver.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try receiver.run()
        defer { receiver.terminate() }
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
        }
        try #require(!port.isEmpty, "the receiver did not start")
        let receiverURL = "http://127.0.0.1:\(port)"

        var server = try RunningServer(story: s, arguments: ["--webhook-first-retry", "1s", "--reminder-interval", "1s", "--public-url", "https://signoff.example", "--webhook-allow-private"])
        defer { server.stop() }
        func login(_ user: String) throws {
            let result = try s.signoff(["login", "--server", server.url.absoluteString, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        func remote(_ user: String, _ arguments: [String]) throws -> TestSupport.ProcessResult {
            try s.signoff(arguments + ["--server", server.url.absoluteString, "--token-file", "\(user).token", "--as", user])
        }
        for user in ["ada", "riley", "morgan", "casey"] { try login(user) }

        // Subscriptions: administrative changes, signed (the ledger has a regulated project); the secret shown once.
        func subscribe(_ path: String, _ arguments: [String]) throws {
            // The receiver is on loopback: meant, so said (--allow-private), and the server runs with --webhook-allow-private.
            let added = try remote("ada", ["webhook", "add", "--url", "\(receiverURL)/\(path)", "--key", "ada.key", "--allow-private"] + arguments)
            #expect(added.status == 0, "\(added.stderr)")
            let secret = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(secret.hasPrefix("whsec_"))
            try secret.write(toFile: s.path("\(path).secret"), atomically: true, encoding: .utf8)
        }
        let unsigned = try remote("ada", ["webhook", "add", "--url", "\(receiverURL)/ok", "--events", "all"])
        #expect(unsigned.status == 2 && unsigned.stderr.contains("admin.signature-required"), "a stolen session cannot add a webhook: \(unsigned.stderr)")
        let notAdmin = try remote("riley", ["webhook", "add", "--url", "\(receiverURL)/ok", "--events", "all", "--key", "riley.key"])
        #expect(notAdmin.status == 2 && notAdmin.stderr.contains("admin.required"), "\(notAdmin.stderr)")
        let plain = try remote("ada", ["webhook", "add", "--url", "http://example.com/hook", "--events", "all", "--key", "ada.key"])
        #expect(plain.status == 64 && plain.stderr.contains("https"), "plain http leaves the machine only over TLS: \(plain.stderr)")
        let inward = try remote("ada", ["webhook", "add", "--url", "\(receiverURL)/ok", "--events", "all", "--key", "ada.key"])
        #expect(inward.status == 64 && inward.stderr.contains("webhook.private-target") && inward.stderr.contains("--allow-private"), "\(inward.stderr)")
        try subscribe("ok", ["--events", "all"])
        try subscribe("fail-twice", ["--events", "request.filed", "--project", Cast.project, "--format", "slack"])
        try subscribe("gone", ["--events", "request.filed", "--format", "teams"])
        let key = try remote("riley", ["webhook", "signing-key"])
        #expect(key.stdout.hasPrefix("whpk_"))
        try key.stdout.trimmingCharacters(in: .whitespacesAndNewlines).write(toFile: publicKey, atomically: true, encoding: .utf8)

        // A request whose bundle name and description carry markup that chat apps would act on.
        let filed = try remote("riley", ["request", "create", "--project", Cast.project, "--env", "quick", "--bundle", "m<!channel>*x*.zip", "--digest", s.digest, "--description", "<@everyone> [click](javascript:alert(1))"])
        #expect(filed.status == 0, "\(filed.stderr)")
        let id = filed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let first = Self.waitFor(log) { r in
            r.contains { $0.path == "ok" && $0.type == "request.filed" } && r.filter { $0.path == "fail-twice" && $0.status == 200 }.count >= 1
                && r.contains { $0.path == "gone" }
        }
        let ok = first.filter { $0.path == "ok" }
        #expect(!ok.isEmpty && ok.allSatisfy { $0.v1 == true && $0.v1a == true }, "every message verifies with v1 and v1a: \(ok.map { ($0.type ?? "", $0.v1 ?? false, $0.v1a ?? false) })")
        #expect(ok.contains { $0.type == "request.waiting" && ($0.body ?? "").contains("ci-bot") }, "request.waiting names who can act next")
        #expect(ok.contains { ($0.body ?? "").contains("https://signoff.example/v1/requests/\(id)") }, "the link starts with --public-url")
        let slack = first.filter { $0.path == "fail-twice" }
        #expect(slack.map(\.status) == [500, 500, 200], "two failures, then delivered: \(slack.map(\.status))")
        #expect(slack.allSatisfy { $0.v1 == true && $0.v1a == true })
        let slackBody = slack.last?.body ?? ""
        #expect(slackBody.contains("&lt;!channel&gt;") && !slackBody.contains("<!channel>"), "Slack markup is escaped: \(slackBody)")
        let gone = first.filter { $0.path == "gone" }
        #expect(gone.map(\.status) == [410])

        // The delivery log: the retries backed off (1 s, then 2 s), the 410 disabled its endpoint.
        let deliveries = try remote("ada", ["webhook", "deliveries", "--subscription", "WH-2", "--json"])
        let rows = (try? JSONSerialization.jsonObject(with: Data(deliveries.stdout.utf8)) as? [[String: Any]]) ?? []
        #expect(rows.first?["status"] as? String == "delivered" && rows.first?["attempts"] as? Int == 3, "\(deliveries.stdout)")
        if let message = rows.first?["id"] as? String {
            let shown = try remote("ada", ["webhook", "show", message, "--json"])
            let attempts = ((try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])?["attempt_log"] as? [[String: Any]]) ?? []
            let times = attempts.compactMap { ($0["at"] as? String).flatMap(Timestamps.milliseconds(rfc3339:)) }
            #expect(times.count == 3)
            if times.count == 3 {
                #expect(times[1] - times[0] >= 900 && times[2] - times[1] >= 1_900, "exponential backoff: \(times)")
            }
        }
        let list = try remote("ada", ["webhook", "list"])
        #expect(list.stdout.contains("WH-3") && list.stdout.contains("DISABLED"), "\(list.stdout)")
        #expect(list.stdout.contains("(allow-private)"), "the list shows what the administrators allowed: \(list.stdout)")

        // A refused command enqueues nothing (the scheduler's reminders and escalations aside, which time alone brings).
        func eventMessages() throws -> Int {
            let text = try remote("ada", ["webhook", "deliveries", "--json", "--limit", "1000"]).stdout
            let rows = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
            return rows.filter { !["reminder", "escalation"].contains($0["type"] as? String ?? "") }.count
        }
        let before = try eventMessages()
        let refused = try remote("riley", ["approve", id, "--stage", "approved", "--key", "riley.key"])
        #expect(refused.status == 2)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try eventMessages() == before, "nothing queued for a refused command")

        // Reminders: the approvers are reminded once each (one digest each), compliance gets the escalation once.
        let evidence = try s.signoff(["evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--as", "ci-bot"])
        #expect(evidence.status == 0, "\(evidence.stderr)")
        func recipients(_ records: [Received], _ type: String) -> [String] {
            records.filter { $0.path == "ok" && $0.type == type }.compactMap { r -> String? in
                ((try? JSONSerialization.jsonObject(with: Data((r.body ?? "").utf8)) as? [String: Any])?["data"] as? [String: Any])?["recipient"] as? String
            }
        }
        let reminded = Self.waitFor(log, seconds: 30) { r in Set(recipients(r, "reminder")) == ["morgan", "sam"] && recipients(r, "escalation").count >= 2 }
        let reminders = reminded.filter { $0.path == "ok" && $0.type == "reminder" }
        #expect(recipients(reminded, "reminder").sorted() == ["morgan", "sam"], "one reminder per approver: \(recipients(reminded, "reminder"))")
        // Escalated to compliance once per stage the request waited at too long (requested, then tested).
        #expect(recipients(reminded, "escalation") == ["casey", "casey"], "\(recipients(reminded, "escalation"))")
        Thread.sleep(forTimeInterval: 2.5)
        #expect(Self.received(log).filter { $0.type == "reminder" }.count == reminders.count, "the scheduler sends each reminder once")

        // kill -9 while a delivery is in flight: after the restart it is delivered again, with the same webhook-id.
        try subscribe("slow", ["--events", "request.filed"])
        let second = try remote("riley", ["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "n.zip", "--digest", "sha256:" + SHA256Digest.hash("n").hex])
        #expect(second.status == 0)
        let inFlight = Self.waitFor(log) { r in r.contains { $0.path == "slow" && $0.event == "received" } }
        let message = inFlight.first { $0.path == "slow" && $0.event == "received" }?.id ?? "?"
        server.kill()
        server = try RunningServer(story: s, arguments: ["--webhook-first-retry", "1s", "--reminder-interval", "1s", "--webhook-allow-private"])
        let redelivered = Self.waitFor(log, seconds: 30) { r in r.contains { $0.path == "slow" && $0.id == message && $0.attempt >= 2 && $0.status == 200 } }
        let slow = redelivered.filter { $0.path == "slow" && $0.id == message && $0.status == 200 }
        #expect(slow.count >= 2, "delivered at least once more after the kill: \(slow.map(\.attempt))")
        #expect(slow.filter { $0.duplicate == false }.count == 1, "one delivery once deduplicated by webhook-id")
    }
}
