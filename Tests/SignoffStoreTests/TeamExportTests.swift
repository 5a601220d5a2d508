import Foundation
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService
@testable import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Testing

/// A project's export: its requests and every administrative entry in full, another team's requests as stubs that
/// disclose nothing of them.
@Suite("Exports per project, between teams")
struct TeamExportTests {
    @Test("Team B's export holds team A's requests only as stubs (no bundle, description or decision), all administration in full, and verifies offline (Swift and Python)")
    func teamBExport() async throws {
        var f = try await EngineFixture()
        let admin = Cast.administrator.name
        // Team A is the fixture's churn-model (data science, release managers, churn deployers). Team B has its own
        // requesters, leads and deployers, and shares CI, compliance and the platform team.
        for group in Cast.TeamB.groups { try await f.must(.createGroup(name: group), as: admin) }
        for (name, group) in Cast.TeamB.people {
            let key = Ed25519.SigningKey()
            f.keys[name] = key
            try await f.must(.addUser(name: name, administrator: false, key: try NoteVerifierKey(name: name, publicKey: key.publicKey)), as: admin)
            try await f.must(.addMember(group: group, member: name), as: admin)
        }
        try await f.must(.createProject(ProjectSpec(key: Cast.TeamB.project, regulated: false, environments: ["qa": "standard"], roles: Cast.TeamB.roles), approval: nil), as: admin)
        // Both teams work; team A also freezes its own project and delegates.
        let digest = EngineFixture.digest
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "a.zip", digest: digest, description: "team A"), as: "riley")
        try await f.must(.fileRequest(project: "team-b", environment: "qa", bundle: "b.zip", digest: digest, description: "team B"), as: "bea")
        for id in ["REQ-1", "REQ-2"] { try await f.must(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot") }
        let now = f.clock.value
        let delegation = DelegationSpec(delegate: "sam", start: now, end: now + 86_400_000, project: Cast.project, role: nil)
        try await f.must(.delegate(delegation, envelope: DelegationStatement(delegation: delegation, time: now).signed(with: f.keys["morgan"]!)), as: "morgan")
        try await f.must(.addFreeze(FreezeSpec(environment: "qa", project: Cast.project, from: now, until: now + 3_600_000, reason: "team A only")), as: admin)
        let state = try await f.database.state()
        try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: f.signed(state.requests["REQ-1"]!, stage: "approved", by: "morgan")), as: "morgan")
        try await f.must(.decide(request: "REQ-2", stage: "approved", decision: .approve, comment: "", envelope: f.signed(state.requests["REQ-2"]!, stage: "approved", by: "bo")), as: "bo")
        try await f.must(.recordDeployment(request: "REQ-2", outcome: .succeeded, note: ""), as: "bill")
        // The shared CI account's tokens: one for each team.
        try await f.must(.issueServiceToken(tokenID: "token-for-a", principal: "ci-bot", scopes: ["evidence:\(Cast.project)"], lifetimeHours: 1), as: admin)
        try await f.must(.issueServiceToken(tokenID: "token-for-b", principal: "ci-bot", scopes: ["evidence:team-b"], lifetimeHours: 1), as: admin)
        _ = try await f.publisher.publish()

        let directory = try TestSupport.temporaryDirectory("signoff-team-export")
        defer { try? FileManager.default.removeItem(at: directory) }
        let export = directory.appendingPathComponent("team-b")
        let report = try await f.database.exportAudit(filter: AuditExportFilter(project: "team-b"), to: export)
        #expect(report.failure == nil)
        let verified = AuditExportVerifier.verify(directory: export, trustedKey: f.store.storage.ledger.verifierKey)
        #expect(verified.failure == nil, "\(verified.failure ?? "")")
        let keyFile = directory.appendingPathComponent("ledger.pub")
        try Data((f.store.storage.ledger.verifierKey.description + "\n").utf8).write(to: keyFile)
        let python = try await TestSupport.runPython("verify_export.py", [export.path, keyFile.path])
        #expect(python.status == 0, "\(python.stdout) \(python.stderr)")

        // Every text of the export, with each full entry's payload decoded; stubs show a header only.
        var texts: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: export.path) where file != "entries.jsonl" {
            texts.append(try String(contentsOf: export.appendingPathComponent(file), encoding: .utf8))
        }
        var full: [LedgerEntry] = []
        var stubs: [(kind: String, project: String)] = []
        for line in try String(contentsOf: export.appendingPathComponent("entries.jsonl"), encoding: .utf8).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let text = object["entry"] as? String {
                let entry = try LedgerEntry(decoding: [UInt8](try #require(Data(base64Encoded: text))))
                full.append(entry)
                texts.append(entry.actor + " " + String(decoding: entry.payload, as: UTF8.self))
            } else {
                stubs.append((object["kind"] as! String, object["project"] as! String))
                #expect(object["payload_digest"] is String)
            }
        }
        let everything = texts.joined(separator: "\n")
        // Team A's requests: only their headers (kind, project, environment, actor, time, payload digest).
        #expect(!everything.contains("a.zip") && !everything.contains("team A\""), "team A's bundle and description")
        #expect(!stubs.isEmpty && stubs.allSatisfy { $0.project == Cast.project && Event.requestKinds.contains($0.kind) })
        #expect(stubs.contains { $0.kind == "decision.recorded" } && stubs.contains { $0.kind == "request.filed" })
        #expect(full.filter { $0.kind == "request.filed" }.count == 1 && full.allSatisfy { $0.project.isEmpty || $0.project == "team-b" })
        // Every administrative entry is in full, team A's too (the rules any decision rests on can all be checked):
        // its freeze, delegation and token, its people and groups.
        #expect(everything.contains("team A only") && everything.contains("token-for-a") && full.contains { $0.kind == "delegation.granted" })
        for person in ["bea", "bo", "bill", "ci-bot", "casey", "riley", "morgan"] { #expect(everything.contains("\"\(person)\""), "\(person) missing") }
        #expect(verified.entries + verified.stubs == Int(verified.checkpointSize), "every entry accounted for")

        // The whole-ledger export (administrators and auditors) still holds everything.
        let all = directory.appendingPathComponent("all")
        _ = try await f.database.exportAudit(filter: AuditExportFilter(), to: all)
        #expect(AuditExportVerifier.verify(directory: all, trustedKey: f.store.storage.ledger.verifierKey).failure == nil)
        // Its signed delegation is checked by both verifiers.
        let pythonAll = try await TestSupport.runPython("verify_export.py", [all.path, keyFile.path])
        #expect(pythonAll.status == 0, "\(pythonAll.stdout) \(pythonAll.stderr)")
        let allText = try String(contentsOf: all.appendingPathComponent("administration.csv"), encoding: .utf8)
        #expect(allText.contains("freeze.added"))
    }
}
