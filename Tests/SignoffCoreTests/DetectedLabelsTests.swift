import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 27, part 6: shared objects detected, not only declared. The shipped regulated workflow reads the labels of
/// `bundle-inventory` evidence that `ci` attaches (`labels_from`); they can only add stages, and a stage they add
/// behind the request sends it back so that the stage is passed before deployment.
@Suite("Labels detected from evidence")
struct DetectedLabelsTests {
    static let inventory = "bundle-inventory"

    func inventory(_ w: inout World, _ id: String, _ labels: [String: [String]], content: String) throws -> [Event] {
        try w.ok(.attachEvidence(request: id, kind: Self.inventory, status: "passed", digest: SHA256Digest.hash(content), labels: labels), as: Cast.ci.name)
    }

    func path(_ w: World, _ id: String) -> [String] {
        w.state.workflow(for: w.request(id))!.workflow.path(for: w.request(id)).map(\.name)
    }

    @Test("An inventory that finds connections after the approvals adds the platform stage: back to tested, deploy refused; the platform's approval carries it on")
    func addsTheStageBehind() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        #expect(!path(w, id).contains("shared-objects") && w.request(id).stage == "approved")
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        let events = try inventory(&w, id, ["touches": ["connections"]], content: "inventory v1")
        #expect(events.contains { if case .stageEntered(let e) = $0 { e.stage == "tested" } else { false } }, "\(events)")
        #expect(w.request(id).detectedLabels == ["touches": ["connections"]] && w.request(id).labels.isEmpty)
        #expect(path(w, id) == ["requested", "tested", "shared-objects", "compliance-reviewed", "approved", "deployed"])
        #expect(w.request(id).stage == "tested")
        let refusals = Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now)
        #expect(refusals.map(\.code) == [.gateStage], "\(refusals)")
        // The platform engineer approves the added stage; the compliance review and the two approvals still hold.
        try w.approve(id, stage: "shared-objects", as: Cast.platformEngineer.name)
        #expect(w.request(id).stage == "approved")
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
    }

    @Test("Detected labels only add: a later inventory finding less removes nothing; the requester's declaration and the detection are merged")
    func onlyAdds() throws {
        var w = try World()
        let events = try w.ok(
            .fileRequest(project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.digest, description: "", labels: ["touches": ["plugins"]]),
            as: Cast.requester.name)
        guard case .requestFiled(let filed)? = events.first else { Issue.record("not filed"); return }
        let id = filed.id
        _ = try inventory(&w, id, ["touches": ["connections"]], content: "inventory v1")
        #expect(w.request(id).effectiveLabels == ["touches": ["connections", "plugins"]])
        _ = try inventory(&w, id, [:], content: "inventory v2: nothing shared")
        #expect(w.request(id).effectiveLabels == ["touches": ["connections", "plugins"]] && path(w, id).contains("shared-objects"))
        // A revision is a new bundle: what was detected on the old one no longer counts (the declaration still does).
        try w.ok(.revise(request: id, bundle: nil, digest: World.otherDigest), as: Cast.requester.name)
        #expect(w.request(id).detectedLabels.isEmpty && w.request(id).effectiveLabels == ["touches": ["plugins"]])
    }

    @Test("Only the labels_from kind carries labels (evidence.labels), only from its roles (evidence.attached-by), only names (input.name)")
    func refusals() throws {
        var w = try World()
        let id = try w.file(env: "prod")
        w.refused(
            .attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r"), labels: ["touches": ["connections"]]), as: Cast.ci.name,
            rule: "evidence.labels")
        w.refused(
            .attachEvidence(request: id, kind: Self.inventory, status: "passed", digest: SHA256Digest.hash("i"), labels: ["touches": ["connections"]]),
            as: Cast.requester.name, rule: "evidence.attached-by")
        w.refused(
            .attachEvidence(request: id, kind: Self.inventory, status: "passed", digest: SHA256Digest.hash("i"), labels: ["touches": ["Connections!"]]), as: Cast.ci.name,
            rule: "input.name")
        // The standard workflow (qa) has no labels_from: an inventory is no evidence it asks for.
        let qa = try w.file(env: "qa")
        w.refused(
            .attachEvidence(request: qa, kind: Self.inventory, status: "passed", digest: SHA256Digest.hash("i"), labels: ["touches": ["connections"]]), as: Cast.ci.name,
            rule: "evidence.kind")
        #expect(w.request(id).detectedLabels.isEmpty)
    }

    @Test("labels_from needs its evidence kind and roles, and a stage with when: to read it")
    func parsing() throws {
        let base = """
            workflow: w
            stages:
              - name: requested
              - name: platform
                when: {touches: [connections]}
                gate: {approvals: [{role: platform, count: 1}]}
              - name: deployed
                gate: {actors: [deployers]}
            """
        let workflow = try WorkflowParser.parse(base + "\nlabels_from: {evidence: bundle-inventory, attached_by: [ci]}\n", file: "w.yaml")
        #expect(workflow.labelsFrom?.evidence == "bundle-inventory" && workflow.labelsFrom?.attachedBy.map(\.value) == ["ci"])
        for bad in [
            "labels_from: {evidence: bundle-inventory}", "labels_from: {evidence: bundle-inventory, attached_by: []}",
            "labels_from: {evidence: Bundle Inventory, attached_by: [ci]}", "labels_from: {evidence: x, attached_by: [ci], extra: 1}",
        ] {
            #expect(throws: WorkflowError.self, "\(bad)") { _ = try WorkflowParser.parse(base + "\n" + bad + "\n", file: "w.yaml") }
        }
        let noWhen = base.replacingOccurrences(of: "    when: {touches: [connections]}\n", with: "")
        #expect(throws: WorkflowError.self) { _ = try WorkflowParser.parse(noWhen + "\nlabels_from: {evidence: bundle-inventory, attached_by: [ci]}\n", file: "w.yaml") }
    }
}
