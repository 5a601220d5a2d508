import Foundation
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// The demo's world (from the shared ``Cast``), built with the real `signoff` binary in a fresh folder.
struct Story {
    let directory: URL
    let env: [String: String]

    /// With `setUp: false`, only keys and a new ledger with ada as administrator: the rest is for the test to do.
    /// Each world is built once per test run (with the real binary: about thirty commands, each person's key sealed with
    /// Argon2id) and copied into a fresh folder for every test that asks for it: the tests share nothing but the start.
    init(workflows: [String: String] = [:], setUp: Bool = true) async throws {
        directory = try TestSupport.temporaryDirectory("signoff-story")
        env = Self.environment(directory)
        let key = "\(setUp) " + workflows.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}")
        let template = try await StoryTemplates.shared.template(key) { try await Story.build(workflows: workflows, setUp: setUp) }
        for item in try FileManager.default.contentsOfDirectory(atPath: template.path) {
            try FileManager.default.copyItem(at: template.appendingPathComponent(item), to: directory.appendingPathComponent(item))
        }
    }

    private init(building directory: URL) {
        self.directory = directory
        env = Self.environment(directory)
    }

    static func environment(_ directory: URL) -> [String: String] {
        [
            "SIGNOFF_PASSPHRASE": "story passphrase", "SIGNOFF_LEDGER_PASSPHRASE": "story ledger passphrase",
            "SIGNOFF_DB": directory.appendingPathComponent("signoff.sqlite").path,
        ]
    }

    /// Builds a world from nothing with the binary; returns its folder (the template the stories copy).
    static func build(workflows: [String: String], setUp: Bool) async throws -> URL {
        let story = Story(building: try TestSupport.temporaryDirectory("signoff-story-template"))
        try await story.populate(workflows: workflows, setUp: setUp)
        return story.directory
    }

    private func populate(workflows: [String: String], setUp: Bool) async throws {
        let admin = Cast.administrator.name
        for person in [Cast.administrator] + Self.people {
            try await must("key", "generate", "--name", person.name, "--out", "\(person.name).key")
        }
        try await must("init", "--origin", "signoff.test/ledger", "--admin", admin, "--admin-key", "\(admin).key.pub")
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: directory.appendingPathComponent("churn-model-v12.zip"))
        try "<testsuite tests=\"1\" failures=\"0\"/>".write(to: directory.appendingPathComponent("junit.xml"), atomically: true, encoding: .utf8)
        guard setUp else { return }
        for person in Self.people where person.kind == .user { try await must("user", "add", person.name, "--key-file", "\(person.name).key.pub", "--as", admin) }
        for person in Self.people where person.kind == .serviceAccount {
            try await must("service-account", "add", person.name, "--key-file", "\(person.name).key.pub", "--as", admin)
        }
        for group in Self.groups { try await must("group", "add", group, "--as", admin) }
        for (group, member) in Cast.memberships(Self.people) { try await must("group", "add-member", group, member, "--as", admin) }
        let regulated = try Self.regulatedAnyTime()
        var files = ["standard": try Cast.workflowSource("standard"), "regulated": regulated]
        for (name, source) in workflows { files[name] = source }
        for (name, source) in files.sorted(by: { $0.key < $1.key }) {
            try source.write(to: directory.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
            try await must("workflow", "apply", "\(name).yaml", "--as", admin)
        }
        var envs = Cast.environments.sorted { $0.key > $1.key }.map { "\($0.key)=\($0.value)" }  // qa=standard prod=regulated
        for name in workflows.keys.sorted() { envs.append("\(name)=\(name)") }
        try await must(["project", "create", Cast.project, "--regulated", "--env"] + envs + ["--role"] + Cast.roleArguments + ["--as", admin, "--key", "\(admin).key"])
    }

    /// The part of the ``Cast`` the stories have: exactly two release managers (explain names them), no senior, no outsider.
    static let people = [Cast.requester, Cast.ci, Cast.complianceOfficer, Cast.releaseManager, Cast.secondReleaseManager, Cast.deployer]
    static let groups = [Cast.Group.dataScience, Cast.Group.ci, Cast.Group.compliance, Cast.Group.releaseManagers, Cast.Group.deployers, Cast.Group.platform]

    /// The regulated workflow with its deploy window opened to every hour of every day, so that the stories run at any time.
    static func regulatedAnyTime() throws -> String {
        try Cast.workflowSource("regulated")
            .replacingOccurrences(of: "days: [mon, tue, wed, thu, fri]", with: "days: [mon, tue, wed, thu, fri, sat, sun]")
            .replacingOccurrences(of: "\"09:00-17:00\"", with: "\"00:00-24:00\"")
    }

    var digest: String { "sha256:" + SHA256Digest.hash([UInt8](try! Data(contentsOf: directory.appendingPathComponent("churn-model-v12.zip")))).hex }

    @discardableResult
    func signoff(_ arguments: [String], extraEnv: [String: String] = [:]) async throws -> TestSupport.ProcessResult {
        try await TestSupport.signoff(arguments, environment: env.merging(extraEnv) { $1 }, in: directory)
    }

    @discardableResult
    func signoff(_ arguments: String...) async throws -> TestSupport.ProcessResult { try await signoff(arguments) }

    @discardableResult
    func must(_ arguments: String...) async throws -> String { try await must(arguments) }

    @discardableResult
    func must(_ arguments: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await signoff(arguments)
        if result.status != 0 {
            Issue.record("signoff \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
            throw TestSupportError("a setup command failed")
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A request filed by riley, nothing attached yet.
    func filed(env: String = "prod") async throws -> String {
        try await must(
            "request", "create", "--project", Cast.project, "--env", env, "--bundle", "churn-model-v12.zip", "--file", "churn-model-v12.zip", "--new", "--as",
            Cast.requester.name)
    }

    /// A service token of the CI account with `scopes`, issued here by the administrator.
    func serviceToken(_ scopes: [String]) async throws -> String {
        let out = try await must(["token", "create", "--service-account", Cast.ci.name, "--ttl", "1d", "--json", "--as", "ada", "--key", "ada.key"] + scopes.flatMap { ["--scope", $0] })
        guard let token = (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["token"] as? String else {
            throw TestSupportError("token create printed no token: \(out)")
        }
        return token
    }

    /// A request filed by riley, with passing tests attached.
    func tested(env: String = "prod") async throws -> String {
        let id = try await filed(env: env)
        try await must("evidence", "add", id, "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--as", Cast.ci.name)
        return id
    }

    func approvedProd() async throws -> String {
        let id = try await tested()
        for (stage, person) in [("compliance-reviewed", Cast.complianceOfficer), ("approved", Cast.releaseManager), ("approved", Cast.secondReleaseManager)] {
            try await must("approve", id, "--stage", stage, "--key", "\(person.name).key", "--as", person.name)
        }
        return id
    }

    /// A person's private key, opened with the story's passphrase (for tests that sign in-process).
    func key(_ person: String) async throws -> Ed25519.SigningKey {
        var passphrase = Array(env["SIGNOFF_PASSPHRASE"]!.utf8)
        return try KeyFiles.openSealedKey(path: path("\(person).key"), passphrase: SecureBytes(consuming: &passphrase)).signingKey
    }

    /// `command` signed by the administrator ada, as every administrative change in this (regulated) world must be.
    func approvedByAdmin(_ command: Command, key: Ed25519.SigningKey, time: Int64) -> Command {
        command.approved(by: AdminApproval(change: command.adminChange!, time: time).signed(with: key))
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// The worlds stories start from, each built once per test run (concurrent first askers share one build).
actor StoryTemplates {
    static let shared = StoryTemplates()
    private var built: [String: Task<URL, any Error>] = [:]

    func template(_ key: String, build: @escaping @Sendable () async throws -> URL) async throws -> URL {
        if let task = built[key] { return try await task.value }
        let task = Task { try await build() }
        built[key] = task
        return try await task.value
    }
}

@Suite("End to end: the signoff binary", .serialized)
struct StoryTests {
    @Test("The demo story: QA, then production through every stage, with the refusals that matter, export and offline verification")
    func story() async throws {
        let s = try await Story()
        defer { s.remove() }
        // QA under the light workflow.
        let qa = try await s.tested(env: "qa")
        #expect(qa == "REQ-1")
        try await s.must("approve", qa, "--stage", "approved", "--key", "morgan.key", "--as", "morgan")
        await #expect(try await s.signoff("gate", qa, "--env", "qa", "--digest", s.digest).status == 0)
        try await s.must("deploy", qa, "--outcome", "succeeded", "--as", "dana")

        // Production.
        let prod = try await s.must("request", "create", "--project", "churn-model", "--env", "prod", "--bundle", "churn-model-v12.zip", "--digest", s.digest, "--as", "riley")
        let explain = try await s.must("explain", prod)
        #expect(explain.contains("can supply: ci-bot") && explain.contains("can supply: casey") && explain.contains("can supply: morgan, sam"))
        let early = try await s.signoff("gate", prod, "--env", "prod", "--digest", s.digest)
        #expect(early.status == 2 && early.stdout.contains("gate.stage"))
        try await s.must("evidence", "add", prod, "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--as", "ci-bot")
        let unsigned = try await s.signoff("approve", prod, "--stage", "compliance-reviewed", "--as", "casey")
        #expect(unsigned.status == 2 && unsigned.stderr.contains("refused (signature.required)"))
        try await s.must("approve", prod, "--stage", "compliance-reviewed", "--key", "casey.key", "--as", "casey", "--comment", "DPIA on file")
        await #expect(try await s.must("list", "--waiting-for-me", "--as", "morgan").contains(prod))
        await #expect(!(try await s.must("list", "--waiting-for-me", "--as", "casey").contains(prod)))
        let checkpoint = try await s.must("checkpoint", "--json")
        #expect(checkpoint.contains("\"origin\":\"signoff.test/ledger\""))
        try await s.must("group", "add-member", "release-managers", "riley", "--as", "ada", "--key", "ada.key")
        let own = try await s.signoff("approve", prod, "--stage", "approved", "--key", "riley.key", "--as", "riley")
        #expect(own.status == 2 && own.stderr.contains("refused (separation.requester)"))
        let other = try await s.signoff("approve", prod, "--stage", "approved", "--key", "morgan.key", "--as", "morgan", "--digest", "sha256:" + String(repeating: "ab", count: 32))
        #expect(other.status == 2 && other.stderr.contains("refused (signature.digest)"))
        let wrongKey = try await s.signoff("approve", prod, "--stage", "approved", "--key", "sam.key", "--as", "morgan")
        #expect(wrongKey.status == 2 && wrongKey.stderr.contains("refused (signature.wrong-key)"))
        try await s.must("approve", prod, "--stage", "approved", "--key", "morgan.key", "--as", "morgan")
        try await s.must("approve", prod, "--stage", "approved", "--key", "sam.key", "--as", "sam")
        await #expect(try await s.must("status", prod).contains("approved"))
        let yes = try await s.signoff("gate", prod, "--env", "prod", "--digest", s.digest, "--json")
        #expect(yes.status == 0 && yes.stdout.contains("\"allowed\":true"))
        let notDeployer = try await s.signoff("deploy", prod, "--outcome", "succeeded", "--as", "riley")
        #expect(notDeployer.status == 2 && notDeployer.stderr.contains("gate.actors"))
        try await s.must("deploy", prod, "--outcome", "succeeded", "--as", "dana")
        let list = try await s.must("list", "--state", "deployed")
        #expect(list.contains("REQ-1") && list.contains("REQ-2"))

        // The auditor.
        try await s.must("audit", "export", "--project", "churn-model", "--out", "audit")
        let verified = try await s.signoff("audit", "verify", "audit", "--log-key", "signoff.sqlite.ledger-key.pub")
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("4 of 4 decisions signed"))
        let csv = try String(contentsOfFile: s.path("audit/decisions.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("time,request,project,environment,stage,decision,actor,on_behalf_of,key_id,signature_valid,bundle_digest,comment\r\n"))
        #expect(csv.components(separatedBy: "\r\n").filter { $0.contains(",yes,") }.count == 4)
        let db = try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!)
        #expect(db.status == 0, "\(db.stderr)")
    }

    @Test("gate says no, with exit 2 and the reason, for every reason it can")
    func gateReasons() async throws {
        let today = Calendar(identifier: .gregorian).component(.weekday, from: Date())  // 1 = Sunday
        let names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        let notToday = names.enumerated().filter { $0.offset != today - 1 }.map(\.element).joined(separator: ", ")
        let formatter = ISO8601DateFormatter()
        let closed = """
            workflow: closed
            stages:
              - name: requested
              - name: approved
                gate:
                  approvals: [{role: approvers, count: 1}]
              - name: deployed
                gate:
                  actors: [deployers]
                  window: {timezone: UTC, days: [\(notToday)], hours: "00:00-24:00"}
            """
        let frozen = """
            workflow: frozen
            stages:
              - name: requested
              - name: approved
                gate:
                  approvals: [{role: approvers, count: 1}]
              - name: deployed
                gate:
                  actors: [deployers]
            """
        let brief = """
            workflow: brief
            stages:
              - name: requested
              - name: approved
                gate:
                  approvals: [{role: approvers, count: 1}]
                  expiry: 1s
              - name: deployed
                gate:
                  actors: [deployers]
            """
        let idle = """
            workflow: idle
            request_expiry: 1s
            stages:
              - name: requested
              - name: approved
                gate:
                  approvals: [{role: approvers, count: 1}]
              - name: deployed
                gate:
                  actors: [deployers]
            """
        let s = try await Story(workflows: ["closed": closed, "frozen": frozen, "brief": brief, "idle": idle])
        defer { s.remove() }
        // A freeze is its own object, consulted live: it stops the requests of the frozen environment.
        try await s.must("freeze", "add", "--env", "frozen", "--until", formatter.string(from: Date().addingTimeInterval(3600)), "--reason", "quarter close", "--as", "ada", "--key", "ada.key")
        func gate(_ id: String, env: String, digest: String) async throws -> TestSupport.ProcessResult { try await s.signoff("gate", id, "--env", env, "--digest", digest) }
        func expectDenied(_ result: TestSupport.ProcessResult, _ rule: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
            #expect(result.status == 2, "\(result.stdout) \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stdout.contains("DENIED") && result.stdout.contains(rule), "\(result.stdout)", sourceLocation: sourceLocation)
        }
        let prod = try await s.approvedProd()
        await #expect(try gate(prod, env: "prod", digest: s.digest).status == 0)
        await expectDenied(try gate(prod, env: "prod", digest: "sha256:" + String(repeating: "00", count: 32)), "gate.digest")
        await expectDenied(try gate(prod, env: "qa", digest: s.digest), "gate.environment")
        let early = try await s.tested()
        await expectDenied(try gate(early, env: "prod", digest: s.digest), "gate.stage")
        try await s.must("withdraw", early, "--as", "riley")
        await expectDenied(try gate(early, env: "prod", digest: s.digest), "request.closed")
        for (env, rule) in [("closed", "gate.window"), ("frozen", "gate.freeze")] {
            let id = try await s.must("request", "create", "--project", "churn-model", "--env", env, "--bundle", "churn-model-v12.zip", "--digest", s.digest, "--as", "riley")
            try await s.must("approve", id, "--stage", "approved", "--key", "morgan.key", "--as", "morgan")
            await expectDenied(try gate(id, env: env, digest: s.digest), rule)
        }
        let brief_ = try await s.must("request", "create", "--project", "churn-model", "--env", "brief", "--bundle", "churn-model-v12.zip", "--digest", s.digest, "--as", "riley")
        try await s.must("approve", brief_, "--stage", "approved", "--key", "morgan.key", "--as", "morgan")
        let idle_ = try await s.must("request", "create", "--project", "churn-model", "--env", "idle", "--bundle", "churn-model-v12.zip", "--digest", s.digest, "--as", "riley")
        try await Task.sleep(for: .seconds(2.1))
        await expectDenied(try gate(brief_, env: "brief", digest: s.digest), "gate.expired")
        // Locally there is no server: the next command expires the request idle longer than its request_expiry.
        let withdraw = try await s.signoff("withdraw", idle_, "--as", "riley")
        #expect(withdraw.status == 2 && withdraw.stderr.contains("request.closed") && withdraw.stderr.contains("expired"), "\(withdraw.stderr)")
        await #expect(try await s.must("status", idle_, "--json").contains(#""status":"expired""#))
        let unknown = try await gate("REQ-999", env: "prod", digest: s.digest)
        #expect(unknown.status == 64)
        let bad = try await gate(prod, env: "prod", digest: "md5:abc")
        #expect(bad.status == 64 && bad.stderr.contains("sha256:"))
    }

    @Test("An export verifies; changing one byte of any file makes verification fail and name it; an independent Python verifier agrees")
    func exportTamper() async throws {
        let s = try await Story()
        defer { s.remove() }
        let id = try await s.approvedProd()
        try await s.must("deploy", id, "--outcome", "succeeded", "--as", "dana")
        // Locally, an export is signed with the ledger key: without its passphrase it is refused, saying how to give it.
        var withoutPassphrase = s.env
        withoutPassphrase["SIGNOFF_LEDGER_PASSPHRASE"] = nil
        let unsigned = try await TestSupport.signoff(["audit", "export", "--out", "unsigned"], environment: withoutPassphrase, in: s.directory)
        #expect(unsigned.status == 64 && unsigned.stderr.contains("SIGNOFF_LEDGER_PASSPHRASE"), "\(unsigned.status) \(unsigned.stderr)")
        try await s.must("audit", "export", "--out", "audit")
        await #expect(try await s.signoff("audit", "verify", "audit", "--log-key", "signoff.sqlite.ledger-key.pub").status == 0)
        let python = try await TestSupport.runPython("verify_export.py", [s.path("audit"), s.path("signoff.sqlite.ledger-key.pub")])
        #expect(python.status == 0, "\(python.stdout) \(python.stderr)")

        let files = try FileManager.default.subpathsOfDirectory(atPath: s.path("audit")).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: s.path("audit/\($0)"), isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
        // checkpoint.txt, entries.jsonl, keys.jsonl, decisions.csv, administration.csv, SUMMARY.md, requests.md, MANIFEST.json
        #expect(files == ["MANIFEST.json", "SUMMARY.md", "administration.csv", "checkpoint.txt", "decisions.csv", "entries.jsonl", "keys.jsonl", "requests.md"])
        for file in files {
            let copy = "tampered-\(file.replacingOccurrences(of: "/", with: "_"))"
            try FileManager.default.copyItem(atPath: s.path("audit"), toPath: s.path(copy))
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: s.path("\(copy)/\(file)"))))
            // Change a byte in the middle: a letter or digit, so the file stays plausible text.
            let index = bytes.indices.filter { bytes[$0] >= 0x61 && bytes[$0] <= 0x66 }.dropFirst(bytes.count / 3).first ?? bytes.count / 2
            bytes[index] = bytes[index] == 0x61 ? 0x62 : 0x61
            try Data(bytes).write(to: URL(fileURLWithPath: s.path("\(copy)/\(file)")))
            let result = try await s.signoff("audit", "verify", copy, "--log-key", "signoff.sqlite.ledger-key.pub")
            #expect(result.status == 3, "\(file): \(result.stdout)")
            #expect(result.stderr.contains("FAILED"), "\(file): \(result.stderr)")
            let named = result.stderr.contains(file) || result.stderr.contains("entry ") || result.stderr.contains("checkpoint.txt")
            #expect(named, "\(file): the failure should name the file or entry: \(result.stderr)")
            let independent = try await TestSupport.runPython("verify_export.py", [s.path(copy), s.path("signoff.sqlite.ledger-key.pub")])
            #expect(independent.status == 1, "Python accepted tampered \(file): \(independent.stdout)")
        }
        // A file added to the folder, and the wrong ledger key.
        try "x".write(toFile: s.path("audit/extra.txt"), atomically: true, encoding: .utf8)
        let extra = try await s.signoff("audit", "verify", "audit", "--log-key", "signoff.sqlite.ledger-key.pub")
        #expect(extra.status == 3 && extra.stderr.contains("extra.txt"))
        try FileManager.default.removeItem(atPath: s.path("audit/extra.txt"))
        let wrong = try await s.signoff("audit", "verify", "audit", "--log-key", "ada.key.pub")
        #expect(wrong.status == 3 && wrong.stderr.contains("checkpoint.txt"))
    }
}
