import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffStore
import SignoffTestSupport
import Testing
import SignoffService
import SignoffAudit

/// The adversarial reliability suite (RELIABILITY.md): crashes, tampering, hostile input and concurrency against the
/// real binary, a real SQLite file and a real server on loopback. Sizes are bounded so that CI runs it on every
/// change; `SIGNOFF_RELIABILITY=large` (`make reliability`) multiplies them by ten. Each test prints one line
/// starting `reliability:` with its figures.
enum Reliability {
    static let large = ProcessInfo.processInfo.environment["SIGNOFF_RELIABILITY"] == "large"
    static func scaled(_ count: Int) -> Int { large ? count * 10 : count }
    /// A campaign's size: `ci` in `make test` (a sample that still runs in CI), `full` in `make reliability`.
    static func count(ci: Int, full: Int) -> Int { large ? full : ci }

    static func report(_ line: String) { print("reliability: \(line)") }

    /// Runs `body` on its own thread and gives up after `seconds`: a hang is a failure, not a stuck test run. Awaited,
    /// so no thread of the cooperative pool waits meanwhile.
    static func withinDeadline<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let once = Locked<CheckedContinuation<T?, Never>?>(continuation)
            let thread = Thread {
                let value = body()
                once.withLock { $0.take() }?.resume(returning: value)
            }
            thread.stackSize = 8 << 20
            thread.start()
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                once.withLock { $0.take() }?.resume(returning: nil)
            }
        }
    }

    /// A small tally of outcomes, printed sorted.
    struct Tally: CustomStringConvertible {
        var counts: [String: Int] = [:]
        mutating func add(_ key: String) { counts[key, default: 0] += 1 }
        var total: Int { counts.values.reduce(0, +) }
        var description: String { counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
    }
}

/// A value behind a lock that an escaping closure can capture (Synchronization's Mutex cannot be captured).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// HTTP over loopback with a bearer token.
struct Client: Sendable {
    let base: URL
    let token: String

    func send(_ method: String, _ path: String, body: Data? = nil) async -> (status: Int, body: Data) {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        guard let (data, response) = try? await URLSession.shared.data(for: request) else { return (0, Data()) }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    static func login(_ story: Story, _ user: String, server: RunningServer) async throws -> Client {
        let tokenFile = "\(user)-\(server.port).token"
        let result = try await story.signoff(["login", "--server", server.url.absoluteString, "--as", user, "--key", "\(user).key", "--token-file", tokenFile])
        guard result.status == 0 else { throw TestSupportError("login \(user): \(result.stderr)") }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: story.path(tokenFile)))) as? [String: Any]
        guard let token = object?["token"] as? String else { throw TestSupportError("no token in \(tokenFile)") }
        return Client(base: server.url, token: token)
    }
}

@Suite("Reliability", .serialized)
struct ReliabilityTests {
    // MARK: Crash consistency

    @Test("kill -9 during concurrent writes, restart, repeat: the ledger verifies after every crash and no acknowledged write is lost")
    func crashConsistency() async throws {
        let s = try await Story(setUp: false)
        defer { s.remove() }
        let database = s.env["SIGNOFF_DB"]!
        // kill -9 cycles: 3 in CI, 30 in `make reliability` (each cycle waits for 20 writes, kills, restarts, verifies).
        let cycles = Reliability.count(ci: 3, full: 30)
        var random = SplitMix64(seed: 0x5EED_C0DE)
        var acknowledgedTotal = 0
        var lostTotal = 0
        var client: Client?
        for cycle in 0..<cycles {
            let server = try await RunningServer.start(story: s)
            defer { server.stop() }
            let c: Client
            if let existing = client { c = Client(base: server.url, token: existing.token) } else { c = try await Client.login(s, "ada", server: server) }
            client = c
            // The kill comes at a random moment once the writers are in full flow (at least 20 writes acknowledged).
            let killAfter = Duration.milliseconds(Int(random.next() % 1000))
            let pid = server.pid
            let flowing = Locked(0)
            let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var mine: [String] = []
                        for i in 0..<100_000 {
                            let name = "crash-\(cycle)-\(writer)-\(i)"
                            let (status, _) = await c.send("POST", "v1/groups", body: Data("{\"name\":\"\(name)\"}".utf8))
                            if status == 0 { break }  // the server is gone
                            if status == 200 {
                                mine.append(name)
                                flowing.withLock { $0 += 1 }
                            }
                        }
                        return mine
                    }
                }
                // Generous: other suites run in parallel (key derivations, servers) and can starve a cycle for a while.
                let deadline = ContinuousClock.now + .seconds(240)
                while flowing.withLock({ $0 }) < 20 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                try await Task.sleep(for: killAfter)
                kill(pid, SIGKILL)
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            let status = await server.stopAndWait()
            #expect(status == 128 + SIGKILL, "cycle \(cycle): the server must have died of SIGKILL, not \(status)")
            // The file exactly as the crash left it: every entry, subtree hash and checkpoint consistent.
            let crashed = try await s.signoff("audit", "verify", "--db", database, "--allow-uncovered-tail")
            #expect(crashed.status == 0, "cycle \(cycle), as the crash left it: \(crashed.stdout) \(crashed.stderr)")
            // The operator (or the next server) signs the tail; then the strict check must pass too.
            try await s.must("checkpoint", "--sign")
            let strict = try await s.signoff("audit", "verify", "--db", database)
            #expect(strict.status == 0, "cycle \(cycle): \(strict.stdout) \(strict.stderr)")
            let state = try await SignoffService(storage: try SQLiteStorage.open(path: database)).state()
            let lost = acknowledged.filter { state.groups[$0] == nil }
            #expect(lost.isEmpty, "cycle \(cycle): acknowledged but not in the ledger: \(lost.prefix(10))")
            // The kill must come while writes flow. Twenty acknowledged is what a cycle waits for; under a loaded CI machine
            // (the other suites' key derivations and servers) a cycle may reach its deadline with fewer — still writing.
            #expect(!acknowledged.isEmpty, "cycle \(cycle): the writers should have been writing when the kill came")
            if acknowledged.count < 20 { Reliability.report("crash consistency: cycle \(cycle) killed after only \(acknowledged.count) acknowledged writes (a loaded machine)") }
            acknowledgedTotal += acknowledged.count
            lostTotal += lost.count
        }
        Reliability.report(
            "crash consistency: \(cycles) kill -9 cycles, \(acknowledgedTotal) writes acknowledged, \(lostTotal) lost; audit verify --db passed after every crash")
    }

    // MARK: Tampering campaign

    /// A real database: users, groups, workflows, a regulated project and requests carried through signed approvals,
    /// a deployment, a rejection and a withdrawal by the binary; between them 1,200 administrative commands through
    /// the same engine in-process (by default), so that the ledger passes a milestone checkpoint and holds many subtree
    /// hashes.
    static func realDatabase(_ s: Story, administrativeCommands: Int = 1200) async throws {
        let deployed = try await s.approvedProd()
        try await s.must("deploy", deployed, "--outcome", "succeeded", "--as", "dana")
        if administrativeCommands > 0 {
            var passphrase = Array(s.env["SIGNOFF_LEDGER_PASSPHRASE"]!.utf8)
            let ledgerKey = try KeyFiles.openSealedKey(path: s.env["SIGNOFF_DB"]! + ".ledger-key", passphrase: SecureBytes(consuming: &passphrase))
            let database = SignoffService(storage: try SQLiteStorage.open(path: s.env["SIGNOFF_DB"]!, signingKey: ledgerKey.signingKey))
            let ada = try await s.key("ada")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for team in 0..<8 {
                    group.addTask {
                        for i in 0..<(administrativeCommands / 16) {
                            // Administration is signed in a ledger with a regulated project.
                            let create = s.approvedByAdmin(.createGroup(name: "team-\(team)-\(i)"), key: ada, time: database.now)
                            _ = try await database.execute(create, as: "ada").get()
                            let add = s.approvedByAdmin(.addMember(group: "team-\(team)-\(i)", member: "riley"), key: ada, time: database.now)
                            _ = try await database.execute(add, as: "ada").get()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let rejected = try await s.tested()
        try await s.must("reject", rejected, "--stage", "compliance-reviewed", "--key", "casey.key", "--reason", "missing fairness report", "--as", "casey")
        let withdrawn = try await s.tested(env: "qa")
        try await s.must("withdraw", withdrawn, "--reason", "superseded", "--as", "riley")
        let second = try await s.approvedProd()
        try await s.must("deploy", second, "--outcome", "failed", "--as", "dana")
        try await s.must("checkpoint", "--sign")
    }

    @Test("Tampering campaign: hundreds of random single SQL changes to copies of a real database, each detected by audit verify --db and named")
    func tamperingCampaign() async throws {
        let s = try await Story()
        defer { s.remove() }
        try await Self.realDatabase(s)
        try await Self.tamper(s)
    }

    /// The campaign itself, synchronous (GRDB's blocking API on copies of the file).
    static func tamper(_ s: Story) async throws {
        let original = s.env["SIGNOFF_DB"]!
        // Fold the WAL into the main file so that one file is a complete copy.
        try await DatabaseQueue(path: original).writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let base = try Data(contentsOf: URL(fileURLWithPath: original))
        let key = try Data(contentsOf: URL(fileURLWithPath: original + ".ledger-key.pub"))
        let copy = s.path("copy.sqlite")

        func freshCopy() async throws {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) }
            try base.write(to: URL(fileURLWithPath: copy))
            try key.write(to: URL(fileURLWithPath: copy + ".ledger-key.pub"))
        }
        /// What `audit verify --db` does, in this process: the store opened, every entry, node and checkpoint verified, the
        /// projection replayed. A detection is a named failure kind with a message (a file refused at open: a named
        /// ``LedgerVerificationFailure`` thrown); anything else is not. Sampled against the binary (``verifyWithCLI()``).
        let trusted = try KeyFiles.readVerifierKey(path: original + ".ledger-key.pub")
        func verify() async -> Verdict {
            do {
                let storage = try SQLiteStorage.open(path: copy)
                let report = try await storage.ledger.verifyAll(trustedKey: trusted, allowUncoveredTail: false, progress: nil)
                var failure = report.failure
                if failure == nil { failure = try await storage.projection.verifyProjection() }
                guard let failure else { return .passed }
                return failure.message.isEmpty ? .unexplained("\(failure.kind) without a message") : .detected(kind: failure.kind.rawValue, atOpen: false, message: failure.message)
            } catch let failure as LedgerVerificationFailure {
                return failure.message.isEmpty ? .unexplained("\(failure.kind) without a message") : .detected(kind: failure.kind.rawValue, atOpen: true, message: failure.message)
            } catch {
                return .unexplained("\(error)")
            }
        }
        /// What `audit verify --db --json` said about the copy. A detection is exit 3 with a named reason: the JSON
        /// report's `"valid":false` and `failure.kind`, or — for a file refused at open — `verification FAILED (KIND)`
        /// on standard error. Anything else (exit 1, a trap, exit 3 without a reason) is not a detection.
        func verifyWithCLI() async throws -> Verdict {
            let result = try await s.signoff("audit", "verify", "--db", copy, "--json")
            let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
            let stderr = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            if result.status == 0 {
                return object?["valid"] as? Bool == true ? .passed : .unexplained("exit 0 without \"valid\":true: \(result.stdout) \(stderr)")
            }
            guard result.status == 3 else { return .unexplained("exit \(result.status): \(stderr)") }
            if let object, object["valid"] as? Bool == false, let failure = object["failure"] as? [String: Any],
                let kind = failure["kind"] as? String, LedgerVerificationFailure.Kind(rawValue: kind) != nil,
                let message = failure["message"] as? String, !message.isEmpty
            {
                return .detected(kind: kind, atOpen: false, message: message)
            }
            // Refused at open: "signoff: error: verification FAILED (metadataMismatch): …"
            let text = stderr.hasPrefix("signoff: error: ") ? String(stderr.dropFirst("signoff: error: ".count)) : stderr
            if text.hasPrefix("verification FAILED ("), let close = text.firstIndex(of: ")") {
                let kind = String(text[text.index(text.startIndex, offsetBy: "verification FAILED (".count)..<close])
                let reason = text[text.index(after: close)...].drop { $0 == ":" || $0 == " " }
                if LedgerVerificationFailure.Kind(rawValue: kind) != nil && !reason.isEmpty { return .detected(kind: kind, atOpen: true, message: text) }
            }
            return .unexplained("exit 3 without a named reason: stdout \(result.stdout) stderr \(stderr)")
        }

        try await freshCopy()
        let control = await verify()
        try #require(control == .passed, "the untouched copy must verify: \(control)")
        let controlWithCLI = try await verifyWithCLI()
        try #require(controlWithCLI == .passed, "the binary must verify the untouched copy: \(controlWithCLI)")
        let counts = try await DatabaseQueue(path: copy).read { db in
            try ["ledger_entry", "merkle_node", "checkpoint", "projection", "request_entry", "used_statement"].map { "\($0) \(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0)")!)" }
        }

        let total = Reliability.scaled(300)
        var random = SplitMix64(seed: 0x7A4D_E12)
        var detected = Reliability.Tally()
        var byChange = Reliability.Tally()
        var undetected: [String] = []
        var unexplained: [String] = []  // a non-zero exit that is not exit 3 with a named reason: a failure of the campaign
        var refusedAtOpen: Set<String> = []  // the reasons given for files refused before verification could start
        var disagreements: [String] = []  // the binary and the in-process verification differing on a sampled change
        var sampledWithCLI = 0
        var tried = 0
        while tried < total {
            try await freshCopy()
            let queue = try DatabaseQueue(path: copy)
            var drawn = random
            // One transaction, as the drawn change is applied whole or not at all (sync: the async write would share `drawn`).
            let change: TamperChange? = try queue.inDatabase { db in
                var result: TamperChange?
                try db.inTransaction {
                    result = try TamperChange.apply(to: db, using: &drawn)
                    return .commit
                }
                return result
            }
            random = drawn
            try queue.close()
            guard let change else { continue }  // the drawn change was impossible (a constraint refused it): draw again
            tried += 1
            byChange.add("\(change.table) \(change.operation)")
            let verdict = await verify()
            // Every 15th change also through the binary (about 20 runs): the same kind, exit 3, a named reason.
            if tried % 15 == 1 {
                let cli = try await verifyWithCLI()
                sampledWithCLI += 1
                switch (verdict, cli) {
                case (.detected(let kind, _, _), .detected(let cliKind, _, _)) where kind == cliKind: break
                default: disagreements.append("\(change): in process \(verdict); the binary \(cli)")
                }
            }
            switch verdict {
            case .detected(let kind, let atOpen, let message):
                detected.add(kind)
                if atOpen { refusedAtOpen.insert(message.replacingOccurrences(of: copy, with: "DB")) }
            case .passed:
                undetected.append("\(change)")
            case .unexplained(let outcome):
                unexplained.append("\(change): \(outcome.replacingOccurrences(of: copy, with: "DB"))")
            }
            if tried % 50 == 0 {
                try await freshCopy()
                #expect(await verify() == .passed, "control copy after \(tried) changes")
            }
        }
        #expect(undetected.isEmpty, "undetected changes: \(undetected)")
        #expect(unexplained.isEmpty, "changes not reported as exit 3 with a named reason (crash, I/O error, unnamed): \(unexplained)")
        #expect(detected.total == tried)
        #expect(disagreements.isEmpty, "audit verify --db and the in-process verification differ: \(disagreements)")
        #expect(sampledWithCLI >= min(tried, 20) / 2)
        Reliability.report("tampering: database of \(counts.joined(separator: ", ")) rows; changes tried: \(byChange)")
        Reliability.report(
            "tampering: \(detected.total)/\(tried) detected with exit 3 and named (\(detected)); undetected: \(undetected.count); other outcomes: \(unexplained.count)")
        Reliability.report("tampering: refused at open: \(refusedAtOpen.sorted().joined(separator: " | ")); \(sampledWithCLI) changes also run through audit verify --db, agreeing")
    }

    /// The outcome of one `audit verify --db` of a tampered copy.
    enum Verdict: Equatable, CustomStringConvertible {
        case passed
        /// Exit 3 and a failure kind, from the JSON report or (`atOpen`) from standard error.
        case detected(kind: String, atOpen: Bool, message: String)
        /// Anything else.
        case unexplained(String)

        var description: String {
            switch self {
            case .passed: "passed"
            case .detected(let kind, _, let message): "\(kind): \(message)"
            case .unexplained(let text): text
            }
        }
    }

    // MARK: Hostile input: the workflow parser

    @Test("Fuzzing the workflow parser with mutated and pathological files: no crash, no hang, every refusal names file:line:column")
    func workflowFuzz() async throws {
        var seeds: [String] = []
        for folder in ["workflows", "Tests/testdata/workflows"] {
            let url = TestSupport.projectRoot.appendingPathComponent(folder)
            for file in try FileManager.default.subpathsOfDirectory(atPath: url.path).sorted() where file.hasSuffix(".yaml") {
                seeds.append(try String(contentsOf: url.appendingPathComponent(file), encoding: .utf8))
            }
        }
        try #require(seeds.count >= 30)
        var inputs: [String] = [
            String(repeating: "[", count: 100_000), String(repeating: "{a: ", count: 50_000), String(repeating: "- ", count: 50_000) + "x",
            // An alias bomb ("billion laughs"): nine levels of ten references each.
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + (1...9).map { level in
                "a\(level): &a\(level) [" + Array(repeating: level == 1 ? "*a" : "*a\(level - 1)", count: 10).joined(separator: ", ") + "]"
            }.joined(separator: "\n") + "\nname: bomb\n",
            "name: " + String(repeating: "x", count: 1 << 20), String(repeating: "k: v\n", count: 100_000), "", "\u{0}", "---\n...\n---\n",
            "name: &x y\nstages: *x\n", "!!binary AAAA", "name: !custom x", "%YAML 9.9\n---\nname: x",
        ]
        var random = SplitMix64(seed: 0xF022)
        let alphabet = Array(":-[]{}&*!|>'\"#%@,?\n\t \u{0}\u{7f}é🙂0a".unicodeScalars)
        for _ in 0..<Reliability.scaled(3000) {
            var scalars = Array(seeds[Int(random.next() % UInt64(seeds.count))].unicodeScalars)
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = scalars.isEmpty ? 0 : Int(random.next() % UInt64(scalars.count))
                switch random.next() % 6 {
                case 0 where !scalars.isEmpty: scalars[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1 where !scalars.isEmpty: scalars.remove(at: at)
                case 2: scalars.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                case 3: scalars = Array(scalars.prefix(at))
                case 4:  // duplicate a run of text elsewhere (lines, keys, indentation)
                    let length = min(scalars.count - at, Int(random.next() % 80))
                    let to = scalars.isEmpty ? 0 : Int(random.next() % UInt64(scalars.count))
                    scalars.insert(contentsOf: scalars[at..<(at + length)], at: to)
                default:  // change indentation of a line
                    if let newline = scalars[at...].firstIndex(of: "\n") { scalars.insert(contentsOf: Array(repeating: " ", count: 1 + Int(random.next() % 3)), at: newline + 1) }
                }
            }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars)
            inputs.append(String(text))
        }
        var tally = Reliability.Tally()
        var slowest = 0.0
        for input in inputs {
            let started = ContinuousClock.now
            let outcome = await Reliability.withinDeadline(10) { () -> String in
                do {
                    _ = try WorkflowParser.parse(input, file: "fuzz.yaml")
                    return "accepted"
                } catch {
                    return "\(error)"
                }
            }
            let elapsed = started.duration(to: .now)
            slowest = max(slowest, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            guard let outcome else {
                Issue.record("the parser hung (> 10 s) on an input of \(input.utf8.count) bytes starting \(input.prefix(80).debugDescription)")
                tally.add("hung")
                continue
            }
            if outcome == "accepted" {
                tally.add("accepted")
            } else {
                let located = outcome.range(of: #"^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S"#, options: .regularExpression) != nil
                #expect(located, "a refusal must name file:line:column and say what: \(outcome.prefix(200))")
                tally.add(located ? "refused with file:line:column" : "refused without a location")
            }
        }
        Reliability.report("workflow parser: \(inputs.count) inputs (\(tally)); slowest \(String(format: "%.2f", slowest)) s")
    }

    // MARK: Hostile input: the export verifier

    @Test("Both export verifiers (ours and the Python one written from the spec) agree on 520 seeded mutations of a real project export — bit flips, truncation, line deletions (omissions), duplications and swaps, extra and missing files, a swapped checkpoint or manifest — and refuse every one")
    func exportFuzz() async throws {
        let s = try await Story()
        defer { s.remove() }
        try await Self.realDatabase(s, administrativeCommands: 0)  // a smaller export: each verification re-runs the whole builder
        // A second project's request, so that the project export has stubs as well as entries in full.
        try await s.must(["project", "create", "fraud-model", "--env", "staging=standard", "--role"] + Cast.roleArguments + ["--as", "ada", "--key", "ada.key"])
        try await s.must("request", "create", "--project", "fraud-model", "--env", "staging", "--bundle", "fraud.zip", "--digest", s.digest, "--as", "riley")
        try await s.must("audit", "export", "--project", "churn-model", "--out", "export")
        // A later genuine checkpoint and manifest of the same ledger, to swap in.
        try await s.must("withdraw", try await s.tested(env: "qa"), "--reason", "later", "--as", "riley")
        try await s.must("audit", "export", "--project", "churn-model", "--out", "later")
        let keyPath = s.env["SIGNOFF_DB"]! + ".ledger-key.pub"
        let trusted = try KeyFiles.readVerifierKey(path: keyPath)
        let source = URL(fileURLWithPath: s.path("export"))
        let files = try FileManager.default.contentsOfDirectory(atPath: source.path).sorted()
        let control = AuditExportVerifier.verify(directory: source, trustedKey: trusted)
        try #require(control.failure == nil, "the untouched export must verify: \(control.failure ?? "")")
        try #require(control.stubs > 0 && control.entries > 0)
        let python = try await TestSupport.runPython("verify_export.py", [source.path, keyPath])
        try #require(python.status == 0, "the Python verifier must accept the untouched export: \(python.stdout)")

        var random = SplitMix64(seed: 0xE4_0127)
        var tally = Reliability.Tally()
        let total = Reliability.scaled(520)
        var disagreements = 0
        // Each mutated export keeps its folder; the Python verifier reads them all in one process at the end.
        var mutated: [(folder: URL, what: String, ours: AuditReport)] = []
        for index in 0..<total {
            let target = URL(fileURLWithPath: s.path("mutated-\(index)"))
            try FileManager.default.copyItem(at: source, to: target)
            let file = files[Int(random.next() % UInt64(files.count))]
            let url = target.appendingPathComponent(file)
            var bytes = [UInt8](try Data(contentsOf: url))
            let operation: String
            switch random.next() % 10 {
            case 0, 1 where !bytes.isEmpty:
                let at = Int(random.next() % UInt64(bytes.count))
                bytes[at] ^= UInt8(1 << (random.next() % 8))
                operation = "bit flip"
            case 2 where !bytes.isEmpty:
                bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
                operation = "truncate"
            case 3:
                bytes += [[0x0A], Array("{}".utf8), [0xFF, 0xFE], Array(" ".utf8)][Int(random.next() % 4)]
                operation = "append"
            case 4, 5, 6:
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                if lines.count >= 3 {
                    let a = Int(random.next() % UInt64(lines.count - 1)), b = Int(random.next() % UInt64(lines.count - 1))
                    switch random.next() % 3 {
                    case 0 where lines[a] != lines[b]:
                        lines.swapAt(a, b)
                        operation = "swap lines"
                    case 1:
                        lines.remove(at: a)
                        operation = "delete line"
                    default:
                        lines.insert(lines[a], at: b)
                        operation = "duplicate line"
                    }
                    bytes = Array(lines.joined(separator: [0x0A]))
                } else {
                    bytes.insert(0x20, at: 0)
                    operation = "insert byte"
                }
            case 7:
                operation = random.next() % 2 == 0 ? "delete file" : "add file"
            case 8:
                let swapped = random.next() % 2 == 0 ? "checkpoint.txt" : "MANIFEST.json"
                bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: s.path("later/\(swapped)"))))
                try Data(bytes).write(to: target.appendingPathComponent(swapped))
                operation = "swap in a later \(swapped)"
            default:
                bytes = []
                operation = "empty file"
            }
            switch operation {
            case "delete file": try FileManager.default.removeItem(at: url)
            case "add file": try Data("extra".utf8).write(to: target.appendingPathComponent("extra-\(random.next() % 100).txt"))
            case _ where operation.hasPrefix("swap in"): break
            default: try Data(bytes).write(to: url)
            }
            let unchanged = try FileManager.default.contentsOfDirectory(atPath: target.path).sorted() == files
                && files.allSatisfy { (try? Data(contentsOf: target.appendingPathComponent($0))) == (try? Data(contentsOf: source.appendingPathComponent($0))) }
            if unchanged {
                tally.add("unchanged (skipped)")  // e.g. swapping two equal lines
                continue
            }
            let report = await Reliability.withinDeadline(30) { AuditExportVerifier.verify(directory: target, trustedKey: trusted) }
            guard let report else {
                Issue.record("the export verifier hung on \(operation) of \(file)")
                continue
            }
            #expect(report.failure?.isEmpty == false, "\(operation) of \(file) was accepted")
            tally.add(report.failure == nil ? "accepted" : "refused")
            mutated.append((target, "\(operation) of \(file)", report))
        }
        let batch = try await TestSupport.runPython("verify_export.py", ["--batch", keyPath], input: Array(mutated.map(\.folder.path).joined(separator: "\n").utf8))
        try #require(batch.status == 0, "the Python verifier's batch: \(batch.stderr)")
        let verdicts = batch.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        try #require(verdicts.count == mutated.count, "one verdict per folder: \(verdicts.count) for \(mutated.count)")
        for (one, verdict) in zip(mutated, verdicts) {
            let status = Int32(verdict.prefix { $0 != "\t" }) ?? -1
            #expect(status == 1, "the Python verifier: \(one.what): \(verdict)")
            if (one.ours.failure == nil) != (status == 0) { disagreements += 1 }
            tally.add(status == 1 ? "python refused" : "python exit \(status)")
        }
        // The batch reads each folder as a process of its own would: a few checked one by one.
        for (one, verdict) in zip(mutated, verdicts).prefix(3) {
            let alone = try await TestSupport.runPython("verify_export.py", [one.folder.path, keyPath])
            #expect("\(alone.status)" == verdict.prefix { $0 != "\t" }, "\(one.what): alone \(alone.status) \(alone.stdout), in the batch \(verdict)")
        }
        #expect(disagreements == 0)
        Reliability.report("export verifiers: \(total) mutated exports of \(files.count) files, \(disagreements) disagreements (\(tally))")
    }
}

// MARK: Hostile input and concurrency over HTTP

extension ReliabilityTests {
    /// Milliseconds since the epoch, as the engine's clock.
    static var nowMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func signingKey(_ s: Story, _ person: String) async throws -> Ed25519.SigningKey {
        var passphrase = Array(s.env["SIGNOFF_PASSPHRASE"]!.utf8)
        return try KeyFiles.openSealedKey(path: s.path("\(person).key"), passphrase: SecureBytes(consuming: &passphrase)).signingKey
    }

    static func decisionBody(stage: String, envelope: DSSEEnvelope?) throws -> Data {
        var object: [String: Any] = ["stage": stage, "decision": "approve"]
        if let envelope { object["envelope"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(envelope)) }
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// The ledger's entries of one kind, read from the file.
    static func entries(_ s: Story, kind: String) async throws -> [LedgerEntry] {
        try await DatabaseQueue(path: s.env["SIGNOFF_DB"]!).read { db in
            try Data.fetchAll(db, sql: "SELECT entry FROM ledger_entry WHERE kind = ? ORDER BY sequence", arguments: [kind]).map { try LedgerEntry(decoding: [UInt8]($0)) }
        }
    }

    static func rule(_ body: Data) -> String {
        ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["rule"] as? String ?? "no rule (malformed request)"
    }

    @Test("Forged, bit-flipped, truncated, replayed, stale and cross-request signatures over HTTP: every one refused with its rule, nothing recorded")
    func hostileSignatures() async throws {
        let s = try await Story()
        defer { s.remove() }
        let first = try await s.tested(), second = try await s.tested()
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let casey = try await Client.login(s, "casey", server: server), morgan = try await Client.login(s, "morgan", server: server)
        let state = try await SignoffService(storage: try SQLiteStorage.open(path: s.env["SIGNOFF_DB"]!)).state()
        let request = try #require(state.requests[first]), other = try #require(state.requests[second])
        let caseyKey = try await Self.signingKey(s, "casey"), morganKey = try await Self.signingKey(s, "morgan")
        let stage = "compliance-reviewed"
        func statement(_ r: DeploymentRequest = request, stage: String = stage, approver: String = "casey", time: Int64 = Self.nowMilliseconds) -> DecisionStatement {
            DecisionStatement(request: r, stage: stage, decision: .approve, actor: approver, comment: "", time: time)
        }
        let valid = statement().signed(with: caseyKey)
        var random = SplitMix64(seed: 0x51_6E)
        func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }

        // (family, client, path, body)
        var attacks: [(String, Client, String, Data)] = []
        let path = "v1/requests/\(first)/decisions"
        func add(_ family: String, _ envelope: DSSEEnvelope, client: Client = casey, path: String = path, stage: String = stage) async throws {
            await attacks.append((family, client, path, try Self.decisionBody(stage: stage, envelope: envelope)))
        }
        for _ in 0..<Reliability.scaled(20) {
            var e = valid
            e.signatures[0].sig = randomBytes(64)
            try await add("forged: random signature", e)
        }
        for _ in 0..<5 {
            let mallory = Ed25519.SigningKey()
            var e = statement().signed(with: mallory)
            e.signatures[0].keyid = valid.signatures[0].keyid
            try await add("forged: another key under casey's key id", e)
        }
        try await add("forged: signed by morgan, sent by casey", statement().signed(with: morganKey))
        for _ in 0..<Reliability.scaled(30) {
            var e = valid
            let bit = Int(random.next() % 512)
            e.signatures[0].sig[bit / 8] ^= UInt8(1 << (bit % 8))
            try await add("bit flip: signature", e)
        }
        for _ in 0..<Reliability.scaled(30) {
            var e = valid
            let bit = Int(random.next() % UInt64(e.payload.count * 8))
            e.payload[bit / 8] ^= UInt8(1 << (bit % 8))
            try await add("bit flip: payload", e)
        }
        for _ in 0..<Reliability.scaled(10) {
            var e = valid
            e.signatures[0].sig = Array(e.signatures[0].sig.prefix(Int(random.next() % 64)))
            try await add("truncated: signature", e)
            var f = valid
            f.payload = Array(f.payload.prefix(Int(random.next() % UInt64(f.payload.count))))
            try await add("truncated: payload", f)
        }
        let validBody = try Self.decisionBody(stage: stage, envelope: valid)
        for _ in 0..<Reliability.scaled(20) {
            attacks.append(("truncated: request body", casey, path, validBody.prefix(Int(random.next() % UInt64(validBody.count)))))
        }
        var noSignature = valid
        noSignature.signatures = []
        try await add("no signature", noSignature)
        var otherType = valid
        otherType.payloadType = "application/json"
        try await add("wrong payload type (signature over another PAE)", otherType)
        try await add("cross-request: REQ-1's statement sent for REQ-2", valid, path: "v1/requests/\(second)/decisions")
        try await add("cross-request: REQ-2's statement sent for REQ-1", statement(other).signed(with: caseyKey))
        try await add("cross-stage: statement for compliance-reviewed sent as approved", valid, stage: "approved")
        try await add("cross-stage: statement for approved", statement(stage: "approved").signed(with: caseyKey))
        try await add("cross-approver: casey's signed statement sent by morgan", valid, client: morgan)
        try await add("cross-approver: statement naming morgan, signed by casey", statement(approver: "morgan").signed(with: caseyKey))
        try await add("stale: signed 11 minutes ago", statement(time: Self.nowMilliseconds - 11 * 60_000).signed(with: caseyKey))
        try await add("future: signed 5 minutes ahead", statement(time: Self.nowMilliseconds + 5 * 60_000).signed(with: caseyKey))
        await attacks.append(("unsigned in a regulated project", casey, path, try Self.decisionBody(stage: stage, envelope: nil)))

        var tally = Reliability.Tally()
        for (family, client, path, body) in attacks {
            let (status, response) = await client.send("POST", path, body: body)
            #expect((400..<500).contains(status), "\(family): HTTP \(status) \(String(decoding: response, as: UTF8.self))")
            tally.add("\(status) \(Self.rule(response))")
        }
        await #expect(try Self.entries(s, kind: "decision.recorded").isEmpty, "no attack may record a decision")

        // The genuine statement is accepted once; replaying it, here or on the other request, is refused.
        let (accepted, acceptedBody) = await casey.send("POST", path, body: validBody)
        #expect(accepted == 200, "the genuine signed decision: \(String(decoding: acceptedBody, as: UTF8.self))")
        var replays = 0
        for (replayPath, label) in [(path, "same request"), ("v1/requests/\(second)/decisions", "other request")] {
            let (status, response) = await casey.send("POST", replayPath, body: validBody)
            #expect((400..<500).contains(status), "replay on the \(label): HTTP \(status)")
            tally.add("\(status) \(Self.rule(response))")
            replays += 1
        }
        await #expect(try Self.entries(s, kind: "decision.recorded").count == 1)
        // Stopped and gone before verifying: at SIGTERM it signs its last checkpoint, which the verification needs.
        _ = await server.stopAndWait()
        let verify = try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        Reliability.report("signatures: \(attacks.count + replays) hostile decisions over HTTP, all refused (\(tally)); the genuine one accepted once")
    }

    @Test("Malformed, mistyped, deeply nested and oversized bodies on every POST endpoint: 4xx every time, never 5xx, nothing recorded")
    func hostileBodies() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.tested()
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let ada = try await Client.login(s, "ada", server: server)
        let sizeBefore = try await SQLiteLedgerStore.open(path: s.env["SIGNOFF_DB"]!).size()
        let endpoints = [
            "v1/auth/challenge", "v1/auth/token", "v1/service-tokens", "v1/users", "v1/users/riley/keys", "v1/service-accounts", "v1/groups",
            "v1/groups/ci/members", "v1/workflows", "v1/projects", "v1/requests", "v1/requests/\(id)/evidence", "v1/requests/\(id)/decisions",
            "v1/requests/\(id)/revisions", "v1/requests/\(id)/withdraw", "v1/requests/\(id)/deployments", "v1/requests/\(id)/retrospective",
            "v1/freezes", "v1/delegations",
        ]
        // Every field name the API reads, each given a value of the wrong type.
        let fields = [
            "user", "challenge", "signature", "service_account", "scopes", "ttl_hours", "name", "key", "administrator", "member", "approval",
            "source", "file", "project", "environment", "environments", "roles", "regulated", "bundle", "digest", "description", "labels",
            "emergency_reason", "kind", "status", "tests", "stage", "decision", "comment", "envelope", "on_behalf_of", "reason", "outcome", "note",
            "from", "until", "delegate", "role",
        ]
        var random = SplitMix64(seed: 0xB0D1E5)
        var bodies: [(String, Data)] = [
            ("empty", Data()), ("null", Data("null".utf8)), ("array", Data("[]".utf8)), ("string", Data("\"x\"".utf8)),
            ("huge number", Data("1e999999".utf8)), ("nested arrays 100,000 deep", Data(String(repeating: "[", count: 100_000).utf8)),
            ("nested objects 50,000 deep", Data(String(repeating: "{\"a\":", count: 50_000).utf8)),
            ("invalid UTF-8 in a string", Data([0x7B, 0x22, 0x6E, 0x61, 0x6D, 0x65, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D])),
            ("2 MiB body (limit 1 MiB)", Data(("{\"name\":\"" + String(repeating: "x", count: 2 << 20) + "\"}").utf8)),
            ("NUL bytes", Data(repeating: 0, count: 64)),
        ]
        // (null is not among them: it is a legitimate value of an optional field, e.g. a withdrawal's reason.)
        for wrong in ["1", "[]", "{}", "true", "-1e308", #""\u0000""#] {
            bodies.append(("every field \(wrong)", Data(("{" + fields.map { "\"\($0)\":\(wrong)" }.joined(separator: ",") + "}").utf8)))
        }
        for _ in 0..<Reliability.scaled(5) {
            bodies.append(("random bytes", Data((0..<(1 + Int(random.next() % 512))).map { _ in UInt8(truncatingIfNeeded: random.next()) })))
            let valid = "{\"name\":\"team\",\"stage\":\"approved\",\"digest\":\"sha256:\(String(repeating: "ab", count: 32))\"}"
            bodies.append(("truncated JSON", Data(valid.utf8.prefix(Int(random.next() % UInt64(valid.utf8.count))))))
        }
        var tally = Reliability.Tally()
        var tried = 0
        for endpoint in endpoints {
            for (label, body) in bodies {
                let (status, response) = await ada.send("POST", endpoint, body: body)
                tried += 1
                #expect((400..<500).contains(status), "\(endpoint) with \(label): HTTP \(status) \(String(decoding: response.prefix(300), as: UTF8.self))")
                tally.add("\(status)")
            }
        }
        let (health, _) = await ada.send("GET", "healthz")
        #expect(health == 200, "the server must still answer")
        #expect(try await SQLiteLedgerStore.open(path: s.env["SIGNOFF_DB"]!).size() == sizeBefore, "no hostile body may append to the ledger")
        // Stopped and gone before verifying: at SIGTERM it signs its last checkpoint, which the verification needs.
        _ = await server.stopAndWait()
        await #expect(try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!).status == 0)
        let accepted = tally.counts.filter { $0.key.hasPrefix("2") }.values.reduce(0, +), failed = tally.counts.filter { $0.key.hasPrefix("5") }.values.reduce(0, +)
        Reliability.report(
            "API bodies: \(tried) hostile bodies on \(endpoints.count) endpoints, HTTP statuses \(tally); \(accepted) accepted, \(failed) server errors; the server still healthy")
    }

    @Test("Concurrency over HTTP: 32 identical signed decisions race, and two approvers race 16 times each: one decision per person, one advance, the chain intact")
    func concurrentDecisions() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.tested()
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        let database = SignoffService(storage: try SQLiteStorage.open(path: s.env["SIGNOFF_DB"]!))
        let casey = try await Client.login(s, "casey", server: server)
        let path = "v1/requests/\(id)/decisions"

        func race(_ attempts: [(Client, Data)]) async -> [Int] {
            await withTaskGroup(of: Int.self) { group in
                for (client, body) in attempts { group.addTask { await client.send("POST", path, body: body).status } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        let request = try #require(try await database.state().requests[id])
        let compliance = try await Self.decisionBody(
            stage: "compliance-reviewed",
            envelope: DecisionStatement(request: request, stage: "compliance-reviewed", decision: .approve, actor: "casey", comment: "", time: Self.nowMilliseconds)
                .signed(with: try Self.signingKey(s, "casey")))
        let first = await race(Array(repeating: (casey, compliance), count: 32))
        #expect(first.filter { $0 == 200 }.count == 1, "exactly one of 32 identical decisions is recorded: \(first.sorted())")
        #expect(first.allSatisfy { $0 == 200 || (400..<500).contains($0) })

        let advanced = try #require(try await database.state().requests[id])
        #expect(advanced.stage == "compliance-reviewed", "one advance")
        var attempts: [(Client, Data)] = []
        for person in ["morgan", "sam"] {
            let client = try await Client.login(s, person, server: server)
            let body = try await Self.decisionBody(
                stage: "approved",
                envelope: DecisionStatement(request: advanced, stage: "approved", decision: .approve, actor: person, comment: "", time: Self.nowMilliseconds)
                    .signed(with: try Self.signingKey(s, person)))
            attempts += Array(repeating: (client, body), count: 16)
        }
        let second = await race(attempts.shuffled())
        #expect(second.filter { $0 == 200 }.count == 2, "one decision per approver: \(second.sorted())")
        let final = try #require(try await database.state().requests[id])
        #expect(final.stage == "approved", "one advance, once both approvals are in")
        let decisions = try await Self.entries(s, kind: "decision.recorded")
        let stages = try await Self.entries(s, kind: "stage.entered")
        #expect(decisions.count == 3, "casey once, morgan once, sam once")
        #expect(Set(decisions.map { $0.encoded }).count == decisions.count, "no duplicate events")
        // Stopped and gone before verifying: at SIGTERM it signs its last checkpoint, which the verification needs.
        _ = await server.stopAndWait()
        let verify = try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        Reliability.report(
            "concurrency: 32 identical decisions → \(first.filter { $0 == 200 }.count) recorded; 2 approvers × 16 → \(second.filter { $0 == 200 }.count) recorded; \(decisions.count) decision events, \(stages.count) stage entries in the ledger, chain verified")
    }
}

/// One random change to one table, applied with SQL as an attacker with write access to the file would.
struct TamperChange: CustomStringConvertible {
    let table: String
    let operation: String
    let detail: String

    var description: String { "\(table) \(operation) \(detail)" }

    /// Tables and their primary-key columns.
    /// `rows` narrows the rows drawn: a `used_statement` row past its window may be forgotten at any time (nothing can
    /// be replayed with it), so only the rows the ledger still requires are tampered with.
    static let tables: [(name: String, key: [String], rows: String)] = [
        ("ledger_entry", ["sequence"], ""), ("merkle_node", ["last_sequence", "level"], ""), ("checkpoint", ["tree_size"], ""),
        ("projection", ["key"], ""), ("ledger_meta", ["key"], ""), ("request_entry", ["request", "sequence"], ""),
        ("used_statement", ["digest"], "WHERE until_ms >= (SELECT MAX(time_ms) FROM ledger_entry)"), ("projection_meta", ["key"], ""),
    ]

    /// Applies one random change; nil when the drawn change was impossible (a constraint refused it, or it would
    /// change nothing), so the caller draws another.
    static func apply(to db: Database, using random: inout SplitMix64) throws -> TamperChange? {
        // Ledger rows are drawn most often, as they are most of the file.
        let draws = [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 7]
        let table = tables[draws[Int(random.next() % UInt64(draws.count))]]
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(table.name) \(table.rows) ORDER BY \(table.key.joined(separator: ", "))")
        guard rows.count >= 2 else { return nil }
        let index = Int(random.next() % UInt64(rows.count))
        let row = rows[index]
        let columns = Array(row.columnNames)
        let whereKey = table.key.map { "\($0) = ?" }.joined(separator: " AND ")
        let keyValues = StatementArguments(table.key.map { row[$0] as DatabaseValue })
        let keyText = table.key.map { "\($0)=\(row[$0] as DatabaseValue)" }.joined(separator: ",")
        do {
            switch random.next() % 5 {
            case 0:  // update one column of one row
                let column = columns[Int(random.next() % UInt64(columns.count))]
                let old: DatabaseValue = row[column]
                guard let new = mutate(old, using: &random), new != old else { return nil }
                try db.execute(sql: "UPDATE \(table.name) SET \(column) = ? WHERE \(whereKey)", arguments: [new] + keyValues)
                return TamperChange(table: table.name, operation: "update", detail: "\(column) of \(keyText)")
            case 1:  // delete one row
                try db.execute(sql: "DELETE FROM \(table.name) WHERE \(whereKey)", arguments: keyValues)
                return TamperChange(table: table.name, operation: "delete", detail: keyText)
            case 2:  // insert a copy of a row under a new key
                var values = columns.map { row[$0] as DatabaseValue }
                let keyColumn = table.key[0]
                let keyIndex = columns.firstIndex(of: keyColumn)!
                switch values[keyIndex].storage {
                case .int64(let value):
                    let from = random.next() % 2 == 0 ? value : (rows.last![keyColumn] as Int64)  // near this row, or after the last
                    values[keyIndex] = (from + 1 + Int64(random.next() % 3)).databaseValue
                case .string(let value): values[keyIndex] = (value + "x").databaseValue
                default: return nil
                }
                try db.execute(
                    sql: "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))",
                    arguments: StatementArguments(values))
                return TamperChange(table: table.name, operation: "insert", detail: "copy of \(keyText) as \(keyColumn)=\(values[keyIndex])")
            case 3:  // reorder: swap one column's values between two rows
                let other = rows[Int(random.next() % UInt64(rows.count))]
                let candidates = columns.filter { !table.key.contains($0) && (row[$0] as DatabaseValue) != (other[$0] as DatabaseValue) }
                guard let column = candidates.randomElement(using: &random) else { return nil }
                let otherKey = StatementArguments(table.key.map { other[$0] as DatabaseValue })
                try db.execute(sql: "UPDATE \(table.name) SET \(column) = ? WHERE \(whereKey)", arguments: [other[column] as DatabaseValue] + keyValues)
                try db.execute(sql: "UPDATE \(table.name) SET \(column) = ? WHERE \(whereKey)", arguments: [row[column] as DatabaseValue] + otherKey)
                return TamperChange(table: table.name, operation: "reorder", detail: "\(column) swapped between \(keyText) and another row")
            default:  // truncate: remove this row and every later one
                guard index > 0 else { return nil }
                let first = table.key[0]
                try db.execute(sql: "DELETE FROM \(table.name) WHERE \(first) >= ?", arguments: [row[first] as DatabaseValue])
                return TamperChange(table: table.name, operation: "truncate", detail: "from \(keyText) (\(rows.count - index) rows)")
            }
        } catch is DatabaseError {
            return nil
        }
    }

    /// A different value: usually of the same type (one flipped bit, one changed character, a changed number),
    /// sometimes of another type altogether.
    static func mutate(_ value: DatabaseValue, using random: inout SplitMix64) -> DatabaseValue? {
        if random.next() % 8 == 0 {
            let others: [DatabaseValue] = [
                "noon".databaseValue, Int64(42).databaseValue, Data([0x00, 0xFF]).databaseValue, String(repeating: "0", count: 32).databaseValue, 2.5.databaseValue,
            ]
            return others[Int(random.next() % UInt64(others.count))]
        }
        switch value.storage {
        case .int64(let number):
            let deltas: [Int64] = [1, -1, 1000, -1000, 86_400_000, Int64(random.next() % 1_000_000) + 2]
            return (number &+ deltas[Int(random.next() % UInt64(deltas.count))]).databaseValue
        case .blob(let data):
            guard !data.isEmpty else { return nil }
            var bytes = [UInt8](data)
            bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(1 << (random.next() % 8))
            return Data(bytes).databaseValue
        case .string(let text):
            var scalars = Array(text.unicodeScalars)
            guard !scalars.isEmpty else { return nil }
            let at = Int(random.next() % UInt64(scalars.count))
            let alphabet = Array("abcXYZ019 {}\":,".unicodeScalars)
            let replacement = alphabet[Int(random.next() % UInt64(alphabet.count))]
            guard scalars[at] != replacement else { return nil }
            scalars[at] = replacement
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            return String(view).databaseValue
        case .double, .null:
            return nil
        }
    }
}
