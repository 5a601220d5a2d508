import Foundation
import SignoffCore
import SignoffTestSupport
import Testing

/// The three-team story of `workflows/README.md`, with the real `signoff` binary: three teams, five projects, the two
/// shipped workflows, each project binding the workflows' roles to its own groups.
@Suite("Three teams on two shared workflows", .serialized)
struct TeamsTests {
    /// Team → (group, members) for requesters, leads and deployers.
    static let fraud = (team: "fraud-team", leads: "fraud-leads", deployers: "fraud-deployers", people: ["fiona": "fraud-team", "felix": "fraud-leads", "fred": "fraud-deployers"])
    static let pricing = (team: "pricing-team", leads: "pricing-leads", people: ["paula": "pricing-team", "piet": "pricing-leads"])

    /// The README's commands, run for real; the churn team is the cast (riley, morgan, sam, dana).
    static func world() async throws -> Story {
        let s = try await Story(setUp: false)
        let ada = Cast.administrator.name
        for name in ["fiona", "felix", "fred", "paula", "piet", "quinn"] { try await s.must("key", "generate", "--name", name, "--out", "\(name).key") }
        for person in Story.people where person.kind == .user { try await s.must("user", "add", person.name, "--key-file", "\(person.name).key.pub", "--as", ada) }
        for name in ["fiona", "felix", "fred", "paula", "piet", "quinn"] { try await s.must("user", "add", name, "--key-file", "\(name).key.pub", "--as", ada) }
        try await s.must("service-account", "add", "ci-bot", "--key-file", "ci-bot.key.pub", "--as", ada)
        let groups: [String: [String]] = [
            "fraud-team": ["fiona"], "fraud-leads": ["felix"], "fraud-deployers": ["fred"], "churn-team": ["riley"], "churn-leads": ["morgan", "sam"],
            "churn-deployers": ["dana"], "pricing-team": ["paula"], "pricing-leads": ["piet"], "compliance": ["casey"], "ci-bots": ["ci-bot"],
            "platform": ["quinn"],
        ]
        for (group, members) in groups.sorted(by: { $0.key < $1.key }) {
            try await s.must("group", "add", group, "--as", ada)
            for member in members { try await s.must("group", "add-member", group, member, "--as", ada) }
        }
        try Story.regulatedAnyTime().write(toFile: s.path("regulated.yaml"), atomically: true, encoding: .utf8)
        try await s.must("workflow", "apply", Cast.workflowURL("standard").path, "--as", ada)
        try await s.must("workflow", "apply", "regulated.yaml", "--as", ada)
        let shared = ["compliance=compliance", "ci=ci-bots", "platform=platform"]
        func create(_ key: String, regulated: Bool, envs: [String], roles: [String]) async throws {
            try await s.must(["project", "create", key] + (regulated ? ["--regulated"] : []) + ["--env"] + envs + ["--role"] + roles + shared + ["--as", ada, "--key", "ada.key"])
        }
        try await create("fraud-scoring", regulated: true, envs: ["qa=standard", "prod=regulated"],
            roles: ["requesters=fraud-team", "approvers=fraud-leads", "deployers@qa=fraud-team", "deployers@prod=fraud-deployers"])
        try await create("fraud-rules", regulated: true, envs: ["prod=regulated"], roles: ["requesters=fraud-team", "approvers=fraud-leads", "deployers=fraud-deployers"])
        try await create("churn-model", regulated: false, envs: ["qa=standard", "prod=regulated"], roles: ["requesters=churn-team", "approvers=churn-leads", "deployers=churn-deployers"])
        try await create("churn-features", regulated: false, envs: ["qa=standard"], roles: ["requesters=churn-team", "approvers=churn-leads", "deployers=churn-deployers"])
        try await create("pricing", regulated: false, envs: ["qa=standard"], roles: ["requesters=pricing-team", "approvers=pricing-leads", "deployers=pricing-team"])
        return s
    }

    @Test("Five projects, two workflows: each team decides, deploys and exports only its own; a lead from another team is refused everywhere")
    func threeTeams() async throws {
        let s = try await Self.world()
        defer { s.remove() }
        func refused(_ arguments: [String], rule: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
            let result = try await s.signoff(arguments)
            #expect(result.status == RefusalRule.named(rule)!.category.exitCode && result.stderr.contains("refused (\(rule))"), "\(arguments.joined(separator: " ")): \(result.status) \(result.stderr)", sourceLocation: sourceLocation)
        }
        await #expect(try await s.must("workflow", "list", "--as", "ada").split(separator: "\n").count == 2, "one standard and one regulated workflow serve everyone")

        try #"<testsuites><testsuite name="fraud"><testcase name="a"/><testcase name="b"/></testsuite></testsuites>"#
            .write(toFile: s.path("report.xml"), atomically: true, encoding: .utf8)
        // Fraud files to QA under standard; CI attaches a JUnit report.
        let fraud = try await s.must("request", "create", "--project", "fraud-scoring", "--env", "qa", "--bundle", "churn-model-v12.zip", "--file", "churn-model-v12.zip", "--as", "fiona")
        try await s.must("evidence", "add", fraud, "--kind", "test-report", "--junit", "report.xml", "--as", "ci-bot")
        // Churn's people: not a requester there, not an approver, not a deployer.
        try await refused(["request", "create", "--project", "fraud-scoring", "--env", "qa", "--bundle", "x.zip", "--file", "churn-model-v12.zip", "--as", "riley"], rule: "project.requesters")
        try await refused(["approve", fraud, "--stage", "approved", "--key", "morgan.key", "--as", "morgan"], rule: "decision.role")
        try await refused(["reject", fraud, "--stage", "approved", "--reason", "not mine", "--key", "morgan.key", "--as", "morgan"], rule: "decision.role")
        try await refused(["request-changes", fraud, "--stage", "approved", "--comment", "no", "--key", "sam.key", "--as", "sam"], rule: "decision.role")
        try await refused(["withdraw", fraud, "--as", "riley"], rule: "request.owner")
        let stageless = try await s.signoff("approve", fraud, "--key", "morgan.key", "--as", "morgan")
        #expect(stageless.status == 64 && stageless.stderr.contains("no stage of \(fraud) awaits your decision"), "\(stageless.stderr)")
        // Fraud's lead approves without naming the stage: the only one awaiting him.
        await #expect(try await s.must("explain", fraud, "--as", "felix").contains("awaiting you: approved"))
        try await s.must("approve", fraud, "--key", "felix.key", "--as", "felix")
        try await refused(["deploy", fraud, "--outcome", "succeeded", "--as", "dana"], rule: "gate.actors")
        try await refused(["deploy", fraud, "--outcome", "succeeded", "--as", "fred"], rule: "gate.actors")  // deployers@qa is the fraud team
        try await s.must("deploy", fraud, "--outcome", "succeeded", "--as", "fiona")

        // Churn and pricing work the same two workflows, with their own people.
        let churn = try await s.must("request", "create", "--project", "churn-model", "--env", "qa", "--bundle", "churn-model-v12.zip", "--file", "churn-model-v12.zip", "--touches", "connections", "--as", "riley")
        try await s.must("evidence", "add", churn, "--kind", "test-report", "--status", "PASSED", "--file", "junit.xml", "--as", "ci-bot")
        await #expect(try await s.must("explain", churn).contains("→ shared-objects"), "the change touches shared connections")
        try await refused(["approve", churn, "--stage", "shared-objects", "--as", "felix"], rule: "decision.role")
        try await refused(["approve", churn, "--stage", "approved", "--as", "piet"], rule: "decision.role")
        try await s.must("approve", churn, "--stage", "approved", "--as", "morgan")
        try await s.must("approve", churn, "--stage", "shared-objects", "--as", "quinn")
        await #expect(try await s.must("status", churn).contains("labels:    touches=connections"))
        try await s.must("deploy", churn, "--outcome", "succeeded", "--as", "dana")
        let pricing = try await s.must("request", "create", "--project", "pricing", "--env", "qa", "--bundle", "p.zip", "--file", "churn-model-v12.zip", "--as", "paula")
        try await refused(["evidence", "add", pricing, "--kind", "test-report", "--status", "passed", "--file", "junit.xml", "--as", "felix"], rule: "evidence.attached-by")
        try await refused(["evidence", "add", pricing, "--kind", "test-report", "--status", "green", "--file", "junit.xml", "--as", "ci-bot"], rule: "evidence.status")

        // A binding changes with a signed administrative change, and applies at once.
        try await refused(["project", "update", "fraud-scoring", "--role", "approvers=fraud-leads,churn-leads", "--as", "ada"], rule: "admin.signature-required")
        try await s.must("project", "update", "fraud-scoring", "--role", "approvers=fraud-leads,churn-leads", "--as", "ada", "--key", "ada.key")
        await #expect(try await s.must("project", "show", "fraud-scoring", "--as", "ada").contains("approvers=fraud-leads,churn-leads"))
        let second = try await s.must("request", "create", "--project", "fraud-scoring", "--env", "qa", "--bundle", "b.zip", "--file", "churn-model-v12.zip", "--as", "fiona")
        try await s.must("approve", second, "--stage", "approved", "--key", "morgan.key", "--as", "morgan")
        try await s.must("project", "update", "fraud-scoring", "--role", "approvers=fraud-leads", "--as", "ada", "--key", "ada.key")

        // Pricing's export shows the other teams' requests only as stubs: none of their bundles or comments.
        try await s.must("checkpoint", "--sign")
        try await s.must("audit", "export", "--project", "pricing", "--out", "pricing-audit")
        let verifiedPricing = try await s.must("audit", "verify", "pricing-audit", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub")
        #expect(verifiedPricing.contains("as stubs") && !verifiedPricing.contains(" 0 as stubs"), "\(verifiedPricing)")
        var text = try FileManager.default.contentsOfDirectory(atPath: s.path("pricing-audit")).filter { $0 != "entries.jsonl" }
            .map { try String(contentsOfFile: s.path("pricing-audit/\($0)"), encoding: .utf8) }.joined()
        var stubs = 0, pricingInFull = 0
        for line in try String(contentsOfFile: s.path("pricing-audit/entries.jsonl"), encoding: .utf8).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let entry = object["entry"] as? String, let bytes = Data(base64Encoded: entry) { text += String(decoding: bytes, as: UTF8.self) }
            if object["entry"] == nil {
                stubs += 1
                #expect(object["project"] as? String != "pricing", "a pricing entry is a stub")
            } else if object["project"] as? String == "pricing" {
                pricingInFull += 1
            }
        }
        // Both kinds of line were there to check: stubs (the other team's entries) and pricing's own, in full.
        #expect(stubs > 0 && pricingInFull > 0, "stubs \(stubs), pricing entries in full \(pricingInFull)")
        for other in ["b.zip", "churn-model-v12.zip"] { #expect(!text.contains(other), "the pricing export discloses \(other)") }
        #expect(text.contains("paula") && text.contains("piet"))
    }
}
