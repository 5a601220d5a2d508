import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffTestSupport
import Testing

/// The export builder on the engine's own events: which requests requests.md lists, in what order, and the flags.
@Suite("Audit export builder")
struct ExportBuilderTests {
    struct CollectingSink: AuditExportSink {
        var files: [String: [UInt8]] = [:]
        mutating func append(_ bytes: [UInt8], to path: String) throws { files[path, default: []] += bytes }
        var digests: [String: SHA256Digest] { files.mapValues { SHA256Digest.hash($0) } }
        func text(_ path: String) -> String { String(decoding: files[path] ?? [], as: UTF8.self) }
    }

    static func export(_ w: World) throws -> CollectingSink {
        let key = Ed25519.SigningKey()
        let entries = try w.log.enumerated().map { index, item in
            try LedgerEntry(sequence: UInt64(index), timeMilliseconds: item.time, kind: item.event.kind, actor: item.actor, payload: item.event.payload)
        }
        let checkpoint = try SignedCheckpoint(
            signing: Checkpoint(origin: "test/ledger", size: UInt64(entries.count), rootHash: SHA256Digest.hash("root")), with: key)
        var builder = AuditExportBuilder(
            checkpoint: checkpoint, ledgerKey: try NoteVerifierKey(name: "test/ledger", publicKey: key.publicKey), filter: AuditExportFilter())
        var sink = CollectingSink()
        try builder.start(to: &sink)
        for entry in entries { if let admitted = builder.admit(entry) { try builder.add(admitted, proof: [], to: &sink) } }
        try builder.finish(to: &sink)
        return sink
    }

    @Test("Closed requests are listed as they close, open ones after; an emergency deployment without its review is flagged OVERDUE until it is done; labels, emergency and skipped stages show")
    func requestsAndRetrospectives() throws {
        var w = World()
        let hotfix = w.fileEmergency(env: "qa", labels: ["touches": ["plugins"]])
        w.approve(hotfix, stage: "approved", as: "morgan", comment: "prod is down, fix is one line")
        w.ok(.recordDeployment(request: hotfix, outcome: .succeeded, note: "hotfix"), as: "dana")
        let withdrawn = w.file(env: "qa")
        w.ok(.withdraw(request: withdrawn, reason: "superseded"), as: "riley")
        w.now += 25 * 3_600_000
        w.admin(.createGroup(name: "late"))  // an entry after the review was due

        var sink = try Self.export(w)
        var requests = sink.text("requests.md")
        let closedAt = try #require(requests.range(of: "## \(withdrawn): churn-model → qa, withdrawn"))
        let openAt = try #require(requests.range(of: "## \(hotfix): churn-model → qa, deployed"))
        #expect(requests.contains("- **EMERGENCY**: prod is down") && requests.contains("- labels: touches=plugins"))
        #expect(requests.contains("- stages: requested → approved → deployed (skips tested, shared-objects)"))
        #expect(closedAt.lowerBound < openAt.lowerBound, "closed requests first")
        #expect(requests.contains("retrospective review: NOT DONE") && requests.contains("OVERDUE"))
        #expect(sink.text("SUMMARY.md").contains("emergency deployments without their retrospective review: \(hotfix)"))
        #expect(sink.text("SUMMARY.md").contains("2 requests, 1 closed and 1 open"))

        w.ok(w.retrospective(hotfix, by: "casey", comment: "reviewed the diff and the incident"), as: "casey")
        sink = try Self.export(w)
        requests = sink.text("requests.md")
        #expect(requests.contains("retrospective review: done") && !requests.contains("OVERDUE"))
        #expect(!sink.text("SUMMARY.md").contains("without their retrospective"))
        #expect(sink.text("SUMMARY.md").contains("2 requests, 2 closed and 0 open"))
        #expect(sink.text("decisions.csv").contains("prod is down, fix is one line"))
    }

    @Test("A project's export scope: administrators, members of the groups it binds, who acted on its requests; a round-1 project also the groups its workflows named")
    func scope() throws {
        var w = World()
        // A round-1 workflow and project, as their entries read (the workflow applied first, as usual).
        let source = "workflow: old\nstages:\n  - name: requested\n  - name: approved\n    gate:\n      approvals: [{group: compliance, count: 1}]\n  - name: deployed\n    gate:\n      actors: [deployers]\n"
        // Their payloads exactly as round 1 wrote them (re-encoding would write today's `roles`).
        let legacy: [(kind: String, payload: [UInt8])] = [
            ("workflow.applied", Array(try JSONSerialization.data(withJSONObject: ["name": "old", "digest": SHA256Digest.hash(source).description, "source": source]))),
            ("project.created", Array(#"{"project":{"key":"legacy","regulated":false,"environments":{"qa":"old"},"requesters":["data-science"],"deployers":{"qa":["churn-deployers"]}}}"#.utf8)),
        ]
        var entries = try w.log.enumerated().map { index, item in
            try LedgerEntry(sequence: UInt64(index), timeMilliseconds: item.time, kind: item.event.kind, actor: item.actor, payload: item.event.payload)
        }
        for (kind, payload) in legacy {
            w.state.apply(try Event.decode(kind: kind, payload: payload)!, actor: "ada", at: w.now)
            entries.append(try LedgerEntry(sequence: UInt64(entries.count), timeMilliseconds: w.now, kind: kind, actor: "ada", payload: payload))
        }
        func scope(_ project: String) -> ExportScope {
            var scope = ExportScope(project: project)
            for entry in entries { scope.note(entry) }
            scope.finish()
            return scope
        }
        let old = scope("legacy")
        #expect((try? AppliedWorkflow(source: source, recorded: true))?.workflow.namesGroups == true)
        #expect(w.state.projects["legacy"]?.namesGroups == true)
        #expect(old.groups == ["data-science", "churn-deployers", "compliance", "deployers"], "deployers: a name the old workflow used, no group here")
        #expect(old.principals.isSuperset(of: ["ada", "riley", "dana", "casey", "pat"]) && !old.principals.contains("morgan") && !old.principals.contains("quinn"))
        #expect(old.workflows == ["old"])
        let churn = scope(Cast.project)
        #expect(churn.groups == Set(Cast.roles.values.flatMap { $0 }))
        #expect(churn.workflows == ["standard", "regulated"])
    }

    @Test("A signed retrospective verifies in the export; one whose signature is not its actor's is flagged, and the verifier refuses it")
    func signedStatements() throws {
        var w = World()
        let id = w.fileEmergency(env: "qa")
        w.approve(id, stage: "approved", as: "morgan")
        w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana")
        w.ok(w.retrospective(id, by: "casey", comment: "reviewed"), as: "casey")
        var builder = try Self.builder(w)
        #expect(builder.invalidStatements.isEmpty)
        // A crafted entry (the engine never records one): casey's retrospective signed with morgan's key.
        let statement = RetrospectiveStatement(request: id, project: Cast.project, environment: "qa", bundleDigest: World.digest, actor: "casey", comment: "x", time: w.now)
        var forged = Event.RetrospectiveRecorded(request: id, comment: "x", overdue: false)
        forged.envelope = statement.signed(with: w.keys["morgan"]!)
        w.log.append((.retrospectiveRecorded(forged), "casey", w.now))
        builder = try Self.builder(w)
        #expect(builder.invalidStatements == [UInt64(w.log.count - 1)])
    }

    static func builder(_ w: World) throws -> AuditExportBuilder {
        let key = Ed25519.SigningKey()
        let entries = try w.log.enumerated().map { index, item in
            try LedgerEntry(sequence: UInt64(index), timeMilliseconds: item.time, kind: item.event.kind, actor: item.actor, payload: item.event.payload)
        }
        let checkpoint = try SignedCheckpoint(
            signing: Checkpoint(origin: "test/ledger", size: UInt64(entries.count), rootHash: SHA256Digest.hash("root")), with: key)
        var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: try NoteVerifierKey(name: "test/ledger", publicKey: key.publicKey), filter: AuditExportFilter())
        var sink = CollectingSink()
        try builder.start(to: &sink)
        for entry in entries { if let admitted = builder.admit(entry) { try builder.add(admitted, proof: [], to: &sink) } }
        try builder.finish(to: &sink)
        #expect(sink.text("SUMMARY.md").contains("signed retrospectives or delegations whose signature does not verify") == !builder.invalidStatements.isEmpty)
        return builder
    }
}
