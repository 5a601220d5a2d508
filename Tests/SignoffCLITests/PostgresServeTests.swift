import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SignoffCore
import SignoffCrypto
import SignoffPostgres
import SignoffService
import SignoffTestSupport
import Testing

/// A database of its own on the test cluster that `make test` runs beside (`scripts/with-postgres.sh`), made with `psql`
/// and dropped after. Without the cluster these tests fail, naming what to run; they never skip.
struct PostgresDatabase: Sendable {
    let url: String
    private let server: String
    let name: String

    static func make() async throws -> PostgresDatabase {
        guard let server = ProcessInfo.processInfo.environment["SIGNOFF_TEST_POSTGRES"], !server.isEmpty else {
            throw TestSupportError("SIGNOFF_TEST_POSTGRES is not set: the PostgreSQL tests need the test cluster; run `make test`, or `bash scripts/with-postgres.sh swift test`")
        }
        let name = "signoff_cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let result = try await TestSupport.run("/usr/bin/psql", [server, "-qc", "CREATE DATABASE \(name)"])
        guard result.status == 0 else { throw TestSupportError("CREATE DATABASE: \(result.stderr)") }
        guard let slash = server.lastIndex(of: "/") else { throw TestSupportError("SIGNOFF_TEST_POSTGRES names no database: \(server)") }
        return PostgresDatabase(url: server[..<slash] + "/\(name)", server: server, name: String(name))
    }

    /// Rows of `sql`, one line each (psql -At).
    func query(_ sql: String) async throws -> [String] {
        let result = try await TestSupport.run("/usr/bin/psql", [url, "-Atc", sql])
        guard result.status == 0 else { throw TestSupportError("psql \(sql): \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    func drop() async {
        _ = try? await TestSupport.run("/usr/bin/psql", [server, "-qc", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"])
    }
}

/// Several `signoff serve` instances on one PostgreSQL database (issue 26), and `signoff migrate` both ways: the real
/// binary, real PostgreSQL, real HTTP over loopback.
@Suite("PostgreSQL: migrate, and several instances on one database", .serialized)
struct PostgresServeTests {
    /// The story's world copied into a new PostgreSQL database.
    static func migrated(_ s: Story) async throws -> PostgresDatabase {
        let database = try await PostgresDatabase.make()
        let copied = try await s.signoff("migrate", "--from", "sqlite:" + s.env["SIGNOFF_DB"]!, "--to", database.url)
        guard copied.status == 0 else { throw TestSupportError("migrate: \(copied.stderr)") }
        return database
    }

    @Test("migrate copies the demo ledger to PostgreSQL and back, checked entry by entry and root by root; a second copy into it is refused")
    func migrateBothWays() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.approvedProd()
        try await s.must("deploy", id, "--outcome", "succeeded", "--as", "dana")
        let database = try await Self.migrated(s)
        // The copy serves the same answers to the CLI (the operator's view), and takes new writes.
        let pg = ["--db", database.url, "--ledger-key-file", "signoff.sqlite.ledger-key"]
        #expect(try await s.must(["status", id, "--as", "riley"] + pg).contains("deployed"))
        let verified = try await s.signoff(["audit", "verify", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub"] + pg)
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        try await s.must(["group", "add", "after-the-move", "--as", "ada", "--key", "ada.key"] + pg)
        // init into it is refused as a copy is (64, nothing changed).
        let initAgain = try await s.signoff(["init", "--origin", "o.example", "--admin", "ada", "--admin-key", "ada.key.pub", "--ledger-key-file", "again.ledger-key"] + ["--db", database.url])
        #expect(initAgain.status == 64 && initAgain.stderr.contains("already holds a ledger"), "\(initAgain.status) \(initAgain.stderr)")
        // A second copy into a database that holds a ledger changes nothing.
        let again = try await s.signoff("migrate", "--from", "sqlite:" + s.env["SIGNOFF_DB"]!, "--to", database.url)
        #expect(again.status == 64 && again.stderr.contains("already holds a ledger"), "\(again.stderr)")
        // And back, with the entry written on PostgreSQL.
        let back = try await s.signoff("migrate", "--from", database.url, "--to", "sqlite:back.sqlite", "--json")
        #expect(back.status == 0, "\(back.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(back.stdout.utf8)) as? [String: Any]
        let entries = try await database.query("SELECT COUNT(*) FROM ledger_entry").first.flatMap { Int($0) }
        #expect(report?["entries"] as? Int == entries && entries != nil, "\(back.stdout)")
        let backVerified = try await s.signoff("audit", "verify", "--db", "back.sqlite", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
        #expect(backVerified.status == 0, "\(backVerified.stderr)")
        #expect(try await s.must("group", "list", "--db", "back.sqlite", "--as", "ada").contains("after-the-move"))
        // A copy that cannot be made leaves no file behind; a PostgreSQL --db without its key file is refused, named.
        let unreachable = try await s.signoff("migrate", "--from", "postgres://nobody@127.0.0.1:1/none", "--to", "sqlite:nothing.sqlite")
        #expect(
            unreachable.status != 0 && unreachable.stderr.contains("cannot reach PostgreSQL") && unreachable.stderr.contains("is a server running on that host and port"),
            "in words, not the driver's code name: \(unreachable.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.path("nothing.sqlite")))
        let keyless = try await s.signoff("user", "add", "zed", "--key-file", "ada.key.pub", "--db", database.url, "--as", "ada")
        #expect(keyless.status == 64 && keyless.stderr.contains("--ledger-key-file"), "\(keyless.stderr)")
        await database.drop()
    }

    @Test("migrate both ways on an engine-made ledger of 100,000 entries (make reliability; 2,000 in make test): every entry and root compared, both copies verify")
    func migrateLarge() async throws {
        let entries = Reliability.count(ci: 2_000, full: 100_000)
        let directory = try TestSupport.temporaryDirectory("signoff-migrate-large")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bench = URL(fileURLWithPath: try TestSupport.signoffExecutable).deletingLastPathComponent().appendingPathComponent("signoff-bench").path
        let path = directory.appendingPathComponent("large.sqlite").path
        let started = ContinuousClock.now
        let built = try await TestSupport.run(
            bench, ["--make-ledger", path, "--large-entries", "\(entries)", "--dir", directory.appendingPathComponent("scratch").path], deadline: .seconds(900))
        try #require(built.status == 0, "signoff-bench --make-ledger: \(built.stderr)")
        let madeIn = ContinuousClock.now - started
        let database = try await PostgresDatabase.make()
        defer { Task { await database.drop() } }
        let signoff = try TestSupport.signoffExecutable
        func migrate(_ from: String, _ to: String) async throws -> (report: [String: Any], seconds: Double) {
            let began = ContinuousClock.now
            let result = try await TestSupport.run(signoff, ["migrate", "--from", from, "--to", to, "--json"], deadline: .seconds(1800))
            #expect(result.status == 0, "migrate --from \(from) --to \(to): \(result.stderr)")
            let report = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
            let elapsed = ContinuousClock.now - began
            return (report, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        let (there, thereSeconds) = try await migrate("sqlite:" + path, database.url)
        let count = there["entries"] as? Int ?? 0
        #expect(count >= entries, "\(count) entries copied of at least \(entries)")
        let (back, backSeconds) = try await migrate(database.url, "sqlite:" + directory.appendingPathComponent("back.sqlite").path)
        #expect(back["entries"] as? Int == count && back["root_hash"] as? String == there["root_hash"] as? String, "the same ledger both ways: \(there) \(back)")
        #expect((there["roots_compared"] as? Int ?? 0) >= 1)
        for copy in [database.url, directory.appendingPathComponent("back.sqlite").path] {
            let verified = try await TestSupport.run(signoff, ["audit", "verify", "--db", copy, "--ledger-verifier-key", path + ".ledger-key.pub"], deadline: .seconds(900))
            #expect(verified.status == 0, "audit verify --db \(copy): \(verified.stdout) \(verified.stderr)")
        }
        print(
            String(
                format: "postgres: migrate %d entries (built in %.0f s): SQLite → PostgreSQL %.1f s (%.0f entries/s), back %.1f s (%.0f entries/s), both verified",
                count, Double(madeIn.components.seconds), thereSeconds, Double(count) / thereSeconds, backSeconds, Double(count) / backSeconds))
    }

    @Test("Rows edited, deleted or reordered in PostgreSQL behind Signoff's back: audit verify --db finds each with exit 3 and a named reason")
    func tampering() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.approvedProd()
        try await s.must("checkpoint", "--sign", "--as", "ada")
        let tampers: [(String, String)] = [
            ("an entry's bytes", "UPDATE ledger_entry SET entry = set_byte(entry, length(entry) - 1, get_byte(entry, length(entry) - 1) # 1) WHERE sequence = 3"),
            ("an entry deleted", "DELETE FROM ledger_entry WHERE sequence = 5"),
            ("two entries reordered (their rows' contents swapped)", "UPDATE ledger_entry SET entry = CASE sequence WHEN 6 THEN (SELECT entry FROM ledger_entry WHERE sequence = 7) ELSE (SELECT entry FROM ledger_entry WHERE sequence = 6) END, leaf_hash = CASE sequence WHEN 6 THEN (SELECT leaf_hash FROM ledger_entry WHERE sequence = 7) ELSE (SELECT leaf_hash FROM ledger_entry WHERE sequence = 6) END WHERE sequence IN (6, 7)"),
            ("two entries' times swapped", "UPDATE ledger_entry SET time_ms = CASE sequence WHEN 6 THEN (SELECT time_ms FROM ledger_entry WHERE sequence = 7) + 1 ELSE time_ms END WHERE sequence = 6"),
            ("a subtree hash", "UPDATE merkle_node SET hash = sha256(hash) WHERE last_sequence = 15 AND level = 4"),
            ("the newest checkpoint deleted", "DELETE FROM checkpoint WHERE tree_size = (SELECT MAX(tree_size) FROM checkpoint)"),
            ("a projection document", "UPDATE projection SET document = replace(document, 'approved', 'deployed') WHERE key = 'request/\(id)'"),
            ("a request page's index row", "DELETE FROM request_entry WHERE sequence = (SELECT MAX(sequence) FROM request_entry)"),
            ("the request index's meta", "UPDATE projection_meta SET value = '2' WHERE key = 'request-entry-index'"),
            ("a used statement forgotten", "DELETE FROM used_statement WHERE digest = (SELECT digest FROM used_statement ORDER BY digest LIMIT 1)"),
            ("the ledger key in ledger_meta", "UPDATE ledger_meta SET value = replace(value, 'signoff.test/ledger+', 'signoff.test/ledgex+') WHERE key = 'verifier_key'"),
        ]
        var found: [String] = []
        for (what, sql) in tampers {
            let database = try await Self.migrated(s)
            let before = try await s.signoff("audit", "verify", "--db", database.url, "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
            #expect(before.status == 0, "untouched: \(before.stderr)")
            let changed = try await database.query(sql + " RETURNING 1")
            #expect(!changed.isEmpty, "\(what): the tamper changed no row")
            let after = try await s.signoff("audit", "verify", "--db", database.url, "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
            #expect(after.status == 3 && after.stderr.contains("FAILED"), "\(what): \(after.status) \(after.stdout) \(after.stderr)")
            found.append("\(what): \(after.stderr.split(separator: "\n").first ?? "")")
            await database.drop()
        }
        print("postgres tampering: \(found.count) of \(tampers.count) found\n  " + found.joined(separator: "\n  "))
    }

    @Test("Two instances on one database: a gate waiting on A answers within a second of the approval on B; kill -9 of one mid-load loses no acknowledged write, the survivor serves on and takes the lead")
    func twoInstances() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.tested()
        let database = try await Self.migrated(s)
        defer { Task { await database.drop() } }
        let arguments = ["--db", database.url, "--ledger-key-file", s.path("signoff.sqlite.ledger-key"), "--log-level", "info"]
        let a = try await RunningServer.start(story: s, arguments: arguments)
        defer { a.stop() }
        let b = try await RunningServer.start(story: s, arguments: arguments)
        defer { b.stop() }

        // The change feed: riley's gate waits on A while the approvals go through B.
        for (server, user) in [(a, "riley"), (b, "casey"), (b, "morgan"), (b, "sam")] {
            let login = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", user, "--key", "\(user).key", "--token-file", "\(user).token"])
            #expect(login.status == 0, "\(user): \(login.stderr)")
        }
        func remote(_ server: RunningServer, _ user: String, _ arguments: [String]) async throws -> TestSupport.ProcessResult {
            try await s.signoff(arguments + ["--as", user], extraEnv: ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN_FILE": s.path("\(user).token"), "SIGNOFF_DB": ""])
        }
        let gate = Task { () -> (TestSupport.ProcessResult, ContinuousClock.Instant) in
            let result = try await remote(a, "riley", ["gate", id, "--env", "prod", "--digest", s.digest, "--wait", "40s"])
            return (result, ContinuousClock.now)
        }
        try await Task.sleep(for: .seconds(1))
        for (stage, user) in [("compliance-reviewed", "casey"), ("approved", "morgan"), ("approved", "sam")] {
            let approved = try await remote(b, user, ["approve", id, "--stage", stage, "--key", "\(user).key"])
            #expect(approved.status == 0, "\(user) on B: \(approved.stderr)")
        }
        let approvedAt = ContinuousClock.now
        let (gated, answeredAt) = try await gate.value
        let delay = answeredAt - approvedAt
        #expect(gated.status == 0, "the gate on A allows once B recorded the approvals: \(gated.stdout) \(gated.stderr)")
        #expect(delay < .seconds(1), "the gate on A answered \(delay) after the last approval on B returned")
        print("postgres: gate on A answered \(delay) after the last approval on B returned")

        // Writes spread over both (riley files requests); A dies by SIGKILL mid-load.
        let writers = [try await Client.login(s, "riley", server: a), try await Client.login(s, "riley", server: b)]
        let flowing = Locked(0)
        let digest = s.digest
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    let client = writers[writer % 2]
                    for i in 0..<60 {
                        let body = "{\"project\":\"churn-model\",\"environment\":\"qa\",\"bundle\":\"two-\(writer)-\(i)\",\"digest\":\"\(digest)\",\"reuse\":false}"
                        let (status, data) = await client.send("POST", "v1/requests", body: Data(body.utf8))
                        if status == 0 {  // the server is gone
                            if mine.isEmpty { Issue.record("writer \(writer): no answer at its first request") }
                            break
                        }
                        guard (200..<300).contains(status) else {
                            Issue.record("writer \(writer): \(status) \(String(decoding: data, as: UTF8.self))")
                            break
                        }
                        if let id = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["request"] as? String {
                            mine.append(id)
                            flowing.withLock { $0 += 1 }
                        }
                    }
                    return mine
                }
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while flowing.withLock({ $0 }) < 40 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            kill(a.pid, SIGKILL)
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(await a.stopAndWait() == 128 + SIGKILL)
        #expect(acknowledged.count >= 40, "writes flowed on both: \(acknowledged.count)")
        let requests = Set(try await database.query("SELECT key FROM projection WHERE key LIKE 'request/%'").map { String($0.dropFirst("request/".count)) })
        let lost = acknowledged.filter { !requests.contains($0) }
        #expect(lost.isEmpty, "acknowledged but not in the ledger: \(lost.prefix(10))")
        #expect(Set(acknowledged).count == acknowledged.count, "every acknowledged request has its own number: no two instances numbered alike")
        // The survivor serves on, and leads once A's lease has expired.
        let after = await writers[1].send("POST", "v1/requests", body: Data("{\"project\":\"churn-model\",\"environment\":\"qa\",\"bundle\":\"after\",\"digest\":\"\(digest)\",\"reuse\":false}".utf8))
        #expect((200..<300).contains(after.status), "the survivor serves on: \(after.status)")
        let leadDeadline = ContinuousClock.now + .seconds(30)
        var holder = try await database.query("SELECT holder FROM lease WHERE name = 'leader'")
        func bLeads() -> Bool { (try? String(contentsOf: b.log, encoding: .utf8))?.contains("this instance leads") == true }
        while !bLeads() && ContinuousClock.now < leadDeadline {
            try await Task.sleep(for: .milliseconds(250))
            holder = try await database.query("SELECT holder FROM lease WHERE name = 'leader'")
        }
        #expect(bLeads(), "B takes the lead after A died: lease \(holder)")
        b.stop()
        _ = await b.stopAndWait()
        // No fork, nothing lost: the whole ledger verifies (the survivor signed its last checkpoint on the way out).
        let verified = try await s.signoff(
            ["audit", "verify", "--db", database.url, "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub", "--ledger-key-file", "signoff.sqlite.ledger-key"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        print("postgres: \(acknowledged.count) writes acknowledged over two instances, A killed mid-load, none lost, the ledger verifies")
    }
    /// The request as the database holds it now (read in-process, as a third instance would).
    static func request(_ id: String, in database: PostgresDatabase) async throws -> DeploymentRequest {
        let storage = try await PostgresStorage.open(url: try PostgresURL(parsing: database.url))
        defer { Task { await storage.close() } }
        guard let request = try await SignoffService(storage: storage).state(focusedOn: id).requests[id] else { throw TestSupportError("no \(id) in the database") }
        return request
    }

    @Test("Across two instances: 32 identical signed decisions → one recorded; two approvers racing 16 times each → one decision each, one advance; every webhook delivered once; every reminder sent once")
    func racesAcrossInstances() async throws {
        let s = try await Story(workflows: ["quick": WebhookTests.quick])
        defer { s.remove() }
        let id = try await s.tested()
        let database = try await Self.migrated(s)
        defer { Task { await database.drop() } }
        let (receiver, port) = try await WebhookTests.startReceiver(s)
        defer { receiver.endSoon(grace: .seconds(1)) }
        let log = s.path("received.jsonl")

        let arguments = [
            "--db", database.url, "--ledger-key-file", s.path("signoff.sqlite.ledger-key"), "--reminder-interval", "1s", "--webhook-first-retry", "1s",
            "--webhook-allow-private",
        ]
        let a = try await RunningServer.start(story: s, arguments: arguments)
        defer { a.stop() }
        let b = try await RunningServer.start(story: s, arguments: arguments)
        defer { b.stop() }
        let instances = [a, b]
        func clients(_ user: String) async throws -> [Client] { [try await Client.login(s, user, server: a), try await Client.login(s, user, server: b)] }
        func race(_ attempts: [(Client, Data)]) async -> [Int] {
            await withTaskGroup(of: Int.self) { group in
                for (client, body) in attempts { group.addTask { await client.send("POST", "v1/requests/\(id)/decisions", body: body).status } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }

        // 32 identical signed decisions, half through each instance.
        let casey = try await clients("casey")
        let tested = try await Self.request(id, in: database)
        let compliance = try ReliabilityTests.decisionBody(
            stage: "compliance-reviewed",
            envelope: DecisionStatement(request: tested, stage: "compliance-reviewed", decision: .approve, actor: "casey", comment: "", time: ReliabilityTests.nowMilliseconds)
                .signed(with: try await s.key("casey")))
        let first = await race((0..<32).map { (casey[$0 % 2], compliance) })
        #expect(first.filter { $0 == 200 }.count == 1, "exactly one of 32 identical decisions is recorded: \(first.sorted())")
        #expect(first.allSatisfy { $0 == 200 || (400..<500).contains($0) }, "\(first.sorted())")

        // Two approvers, 16 times each, spread over both instances.
        let reviewed = try await Self.request(id, in: database)
        #expect(reviewed.stage == "compliance-reviewed", "one advance")
        var attempts: [(Client, Data)] = []
        for person in ["morgan", "sam"] {
            let mine = try await clients(person)
            let body = try ReliabilityTests.decisionBody(
                stage: "approved",
                envelope: DecisionStatement(request: reviewed, stage: "approved", decision: .approve, actor: person, comment: "", time: ReliabilityTests.nowMilliseconds)
                    .signed(with: try await s.key(person)))
            attempts += (0..<16).map { (mine[$0 % 2], body) }
        }
        let second = await race(attempts.shuffled())
        #expect(second.filter { $0 == 200 }.count == 2, "one decision per approver: \(second.sorted())")
        #expect(try await Self.request(id, in: database).stage == "approved", "one advance, once both approvals are in")
        let decisions = try await database.query("SELECT COUNT(*) FROM ledger_entry WHERE kind = 'decision.recorded'")
        let advances = try await database.query("SELECT COUNT(*) FROM ledger_entry WHERE kind = 'stage.entered'")
        #expect(decisions == ["3"], "casey once, morgan once, sam once: \(decisions)")

        // Webhooks: both instances deliver the outbox; each message reaches the receiver once.
        _ = try await Client.login(s, "ada", server: a)
        let subscribed = try await s.signoff([
            "webhook", "add", "--url", "http://127.0.0.1:\(port)/ok", "--events", "all", "--key", "ada.key", "--allow-private", "--as", "ada",
            "--server", a.url.absoluteString, "--token-file", "ada-\(a.port).token",
        ])
        #expect(subscribed.status == 0, "\(subscribed.stderr)")
        let riley = try await clients("riley")
        var filed: [String] = []
        for i in 0..<20 {
            let body = "{\"project\":\"churn-model\",\"environment\":\"quick\",\"bundle\":\"hook-\(i)\",\"digest\":\"\(s.digest)\",\"reuse\":false}"
            let (status, data) = await riley[i % 2].send("POST", "v1/requests", body: Data(body.utf8))
            #expect(status == 201 || status == 200, "\(status) \(String(decoding: data, as: UTF8.self))")
            if let request = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["request"] as? String { filed.append(request) }
        }
        // Evidence on one of them, so that its approvers are reminded (after 2 s) and compliance escalated to (after 5 s).
        let evidence = try await s.signoff([
            "evidence", "add", filed[0], "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--as", "ci-bot",
            "--db", database.url, "--ledger-key-file", "signoff.sqlite.ledger-key",
        ])
        #expect(evidence.status == 0, "\(evidence.stderr)")
        let delivered = try await WebhookTests.waitFor(log, seconds: 60) { r in
            r.filter { $0.type == "request.filed" }.count >= filed.count && r.contains { $0.type == "reminder" }
        }
        #expect(delivered.filter { $0.type == "request.filed" }.count >= filed.count, "every request.filed reached the receiver")
        // A few scheduler runs more on the leader, deliveries on both; then count: no webhook-id twice, no person reminded
        // of the same request at the same stage twice.
        try await Task.sleep(for: .seconds(4))
        let settled = WebhookTests.received(log)
        let ids = settled.filter { $0.path == "ok" }.map(\.id)
        let repeated = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "messages delivered more than once across the two instances: \(repeated.prefix(5))")
        var reminders: [String] = []
        for record in settled where record.type == "reminder" {
            let data = (try? JSONSerialization.jsonObject(with: Data((record.body ?? "").utf8)) as? [String: Any])?["data"] as? [String: Any]
            let recipient = data?["recipient"] as? String ?? "?"
            for item in data?["items"] as? [[String: Any]] ?? [] {
                reminders.append("\(recipient) \(item["request"] as? String ?? "?") \(item["stage"] as? String ?? "?")")
            }
        }
        #expect(!reminders.isEmpty && Set(reminders).count == reminders.count, "each person reminded of each waiting request once: \(reminders.sorted())")
        let outbox = try await database.query("SELECT COUNT(*) FROM webhook_message WHERE status = 'delivered'")
        #expect(Int(outbox.first ?? "") == ids.count, "the outbox's delivered messages are the receiver's: \(outbox) vs \(ids.count)")
        for server in instances { server.stop() }
        let verified = try await s.signoff(
            ["audit", "verify", "--db", database.url, "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub", "--ledger-key-file", "signoff.sqlite.ledger-key"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        print(
            "postgres, two instances: 32 identical decisions → \(first.filter { $0 == 200 }.count) recorded; 2 approvers × 16 → \(second.filter { $0 == 200 }.count) recorded, \(advances.first ?? "?") stage entries; \(ids.count) webhook messages delivered, none twice; \(reminders.count) reminder items, none twice")
    }
}
