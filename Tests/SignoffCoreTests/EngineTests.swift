import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Every rule refuses at least once and allows at least once.
@Suite("Engine rules")
struct EngineTests {
    static let hour: Int64 = 3_600_000

    @Test("The whole regulated path: tested → compliance-reviewed → approved → deployed, advancing automatically")
    func happyPath() throws {
        var w = try World()
        let id = try w.file()
        #expect(w.request(id).stage == "requested")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report")), as: "ci-bot")
        #expect(w.request(id).stage == "tested")
        try w.approve(id, stage: "compliance-reviewed", as: "casey")
        #expect(w.request(id).stage == "compliance-reviewed")
        try w.approve(id, stage: "approved", as: "morgan")
        #expect(w.request(id).stage == "compliance-reviewed", "one of two release managers is not enough")
        try w.approve(id, stage: "approved", as: "sam")
        #expect(w.request(id).stage == "approved")
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: "rolled out"), as: "dana")
        #expect(w.request(id).status == .deployed && w.request(id).stage == "deployed")
    }

    @Test("Quorum across two groups: N from A and M from B, and one person counts once even if in both")
    func quorumAcrossGroups() throws {
        var w = try World()
        let dual = """
            workflow: dual
            stages:
              - name: requested
              - name: approved
                gate:
                  approvals:
                    - {role: compliance, count: 1}
                    - {role: approvers, count: 1}
              - name: deployed
                gate:
                  actors: [deployers]
            """
        try w.admin(.applyWorkflow(source: dual, file: "dual.yaml"))
        let spec = ProjectSpec(key: "sandbox", regulated: false, environments: ["qa": "dual"], roles: Cast.roles)
        try w.admin(.createProject(spec, approval: nil))
        let id = try w.file(env: "qa", project: "sandbox")
        // pat is in both groups: alone, pat fills one rule, not both.
        try w.ok(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: nil), as: "pat")
        #expect(w.request(id).stage == "requested")
        let status = Engine.explain(id, state: w.state, now: w.now)!.gates[0]
        #expect(status.conditions.filter(\.met).count == 1)
        // morgan (release-managers only) completes the quorum: pat then counts for compliance.
        try w.ok(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan")
        #expect(w.request(id).stage == "approved")
    }

    @Test("Two from one group and one from another: two people cannot fill three places")
    func quorumNotMetWithOverlap() throws {
        var w = try World()
        let triple = """
            workflow: triple
            stages:
              - name: requested
              - name: approved
                gate:
                  approvals:
                    - {role: compliance, count: 1}
                    - {role: approvers, count: 2}
              - name: deployed
                gate:
                  actors: [deployers]
            """
        try w.admin(.applyWorkflow(source: triple, file: "triple.yaml"))
        try w.admin(.createProject(ProjectSpec(key: "sandbox", regulated: false, environments: ["qa": "triple"], roles: Cast.roles), approval: nil))
        let id = try w.file(env: "qa", project: "sandbox")
        for person in ["pat", "morgan"] { try w.ok(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: nil), as: person) }
        #expect(w.request(id).stage == "requested")
        try w.ok(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: nil), as: "sam")
        #expect(w.request(id).stage == "approved")
    }

    @Test("Free text with control or bidirectional-override characters, or over 4 KiB, is refused; newlines, tabs and accents are fine")
    func freeText() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        for bad in ["\u{0}", "stop\u{1B}[2Jhere", "\u{7F}", "\u{85}", "evil\u{202E}txt.exe", "\u{2066}x", String(repeating: "a", count: 4097)] {
            w.refused(.withdraw(request: id, reason: bad), as: "riley", rule: "input.text")
            w.refused(.fileRequest(project: "churn-model", environment: "qa", bundle: World.bundle, digest: World.digest, description: bad), as: "riley", rule: "input.text")
            w.refused(.attachEvidence(request: id, kind: "test-report", status: bad, digest: SHA256Digest.hash("r")), as: "ci-bot", rule: "input.text")
            w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: bad, envelope: nil), as: "morgan", rule: "input.text")
            w.refused(.recordDeployment(request: id, outcome: .succeeded, note: bad), as: "dana", rule: "input.text")
            w.refused(w.retrospective(id, by: "casey", comment: bad), as: "casey", rule: "input.text")
            w.refused(.revise(request: id, bundle: bad, digest: World.otherDigest), as: "riley", rule: "input.text")
        }
        try w.ok(.withdraw(request: id, reason: "superseded by v13\n\tsee ticket — café " + String(repeating: "a", count: 4000)), as: "riley")
    }

    @Test("The requester cannot approve their own request")
    func requesterCannotApprove() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id, stage: "approved", by: "riley")), as: "riley", rule: "separation.requester")
        try w.approve(id, stage: "approved", as: "morgan")
        #expect(w.request(id).stage == "approved")
    }

    @Test("Someone who decided an earlier named stage cannot decide this one")
    func earlierStageDecider() throws {
        var w = try World()
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try w.approve(id, stage: "compliance-reviewed", as: "pat")
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id, stage: "approved", by: "pat")), as: "pat", rule: "separation.earlier-stage")
        try w.approve(id, stage: "approved", as: "morgan")
        try w.approve(id, stage: "approved", as: "sam")
        #expect(w.request(id).stage == "approved")
    }

    @Test("An unsigned decision in a regulated project is refused; a signed one is accepted")
    func unsignedInRegulated() throws {
        var w = try World()
        let id = try w.file(env: "qa")  // standard workflow does not ask for signatures, but the project is regulated
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan", rule: "signature.required")
        try w.approve(id, stage: "approved", as: "morgan")
        #expect(w.request(id).decisions.last?.isSigned == true)
    }

    @Test("A signature for another bundle digest, another request or another stage is refused")
    func signatureBinding() throws {
        var w = try World()
        let id = try w.file()
        let other = try w.file(digest: World.otherDigest)
        for r in [id, other] { try w.ok(.attachEvidence(request: r, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot") }
        // A statement over the other request (whose bundle digest differs) presented for this one.
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: w.signed(other, stage: "compliance-reviewed", by: "casey")), as: "casey", rule: "signature.digest")
        // Same digest, other request.
        let twin = try w.file()
        try w.ok(.attachEvidence(request: twin, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: w.signed(twin, stage: "compliance-reviewed", by: "casey")), as: "casey", rule: "signature.request")
        // Another stage, another decision.
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: w.signed(id, stage: "approved", by: "casey")), as: "casey", rule: "signature.stage")
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: w.signed(id, stage: "compliance-reviewed", .reject, by: "casey")), as: "casey", rule: "signature.stage")
        try w.approve(id, stage: "compliance-reviewed", as: "casey")
    }

    @Test("gate refuses a different digest or environment, and says yes for the exact bundle")
    func gateDigest() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let r = w.request(id)
        #expect(Engine.deployRefusals(r, environment: "prod", digest: World.otherDigest, state: w.state, actor: nil, now: w.now).map(\.rule) == ["gate.digest"])
        #expect(Engine.deployRefusals(r, environment: "qa", digest: World.digest, state: w.state, actor: nil, now: w.now).map(\.rule) == ["gate.environment"])
        #expect(Engine.deployRefusals(r, environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        // A closed request asked about another environment: the wrong request is said first, then that it is closed.
        try w.ok(.withdraw(request: id, reason: "superseded"), as: "riley")
        let closed = w.request(id)
        #expect(Engine.deployRefusals(closed, environment: "qa", digest: World.digest, state: w.state, actor: nil, now: w.now).map(\.rule) == ["gate.environment", "request.closed"])
        #expect(Engine.deployRefusals(closed, environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).map(\.rule) == ["request.closed"])
    }

    @Test("A new bundle revision resets approvals and evidence; old signatures no longer apply")
    func revisionResets() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let old = w.signed(id, stage: "compliance-reviewed", by: "pat")
        w.refused(.revise(request: id, bundle: nil, digest: World.otherDigest), as: "morgan", rule: "request.owner")
        try w.ok(.revise(request: id, bundle: "churn-model-v13.zip", digest: World.otherDigest), as: "riley")
        let r = w.request(id)
        #expect(r.stage == "requested" && r.revision == 2 && r.currentDecisions.isEmpty && r.currentEvidence.isEmpty)
        #expect(Engine.deployRefusals(r, environment: "prod", digest: World.otherDigest, state: w.state, actor: nil, now: w.now).map(\.rule) == ["gate.stage"])
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r2")), as: "ci-bot")
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: old), as: "pat", rule: "signature.digest")
        try w.approve(id, stage: "compliance-reviewed", as: "pat")
        #expect(w.request(id).stage == "compliance-reviewed")
    }

    @Test("Approvals expire: after 72 hours an approved request may no longer deploy")
    func expiry() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        w.now += 71 * Self.hour  // Thursday 08:00 UTC = 09:00 Paris, inside the window
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        w.now += 2 * Self.hour
        let reasons = Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now)
        #expect(reasons.contains { $0.rule == "gate.expired" })
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana", rule: "gate.expired")
    }

    @Test("Deployment window: closed on Saturday and in the evening, open on a weekday morning in Paris")
    func window() throws {
        var w = try World()
        w.now += 4 * 24 * Self.hour  // Friday 10:00 Paris
        let id = try w.approvedProdRequest()
        var saturday = w
        saturday.now += 24 * Self.hour
        saturday.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana", rule: "gate.window")
        var evening = w
        evening.now += 9 * Self.hour  // 19:00 Paris
        evening.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana", rule: "gate.window")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana")
    }

    @Test("Freezes are live: one added after approval blocks the gate and deploy, explain names it, lifting it allows them again")
    func freeze() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try w.approve(id, stage: "approved", as: "morgan")
        #expect(Engine.deployRefusals(w.request(id), environment: "qa", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        // A freeze of every project's qa, added after the request was approved under its pinned workflow.
        let spec = FreezeSpec(environment: "qa", project: nil, from: w.now - 1000, until: w.now + 48 * Self.hour, reason: "end-of-month close")
        w.refused(.addFreeze(spec), as: "riley", rule: "admin.required")
        w.refused(.addFreeze(spec), as: "ada", rule: "admin.signature-required")
        try w.admin(.addFreeze(spec))
        let refusals = Engine.deployRefusals(w.request(id), environment: "qa", digest: World.digest, state: w.state, actor: nil, now: w.now)
        #expect(refusals.map(\.rule) == ["gate.freeze"])
        #expect(refusals.first?.message.contains("FRZ-1") == true && refusals.first?.message.contains("end-of-month close") == true)
        let explained = Engine.explain(id, state: w.state, now: w.now)!.gates.last!.conditions
        #expect(explained.contains { $0.rule == "freeze" && !$0.met && $0.detail.contains("FRZ-1") })
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana", rule: "gate.freeze")
        // Another environment, and a freeze of another project, do not stop it.
        try w.admin(.addFreeze(FreezeSpec(environment: "prod", project: nil, from: w.now, until: w.now + Self.hour, reason: "prod only")))
        w.refused(w.signedByAdmin(.addFreeze(FreezeSpec(environment: "qa", project: "nope", from: w.now, until: w.now + Self.hour, reason: "x"))), as: "ada", rule: "input.unknown")
        w.refused(w.signedByAdmin(.addFreeze(FreezeSpec(environment: "qa", project: nil, from: w.now, until: w.now - 1, reason: "x"))), as: "ada", rule: "freeze.invalid")
        w.refused(w.signedByAdmin(.addFreeze(FreezeSpec(environment: "qa", project: nil, from: w.now, until: w.now + 1000, reason: " "))), as: "ada", rule: "freeze.invalid")
        try w.admin(.liftFreeze(id: "FRZ-1"))
        w.refused(w.signedByAdmin(.liftFreeze(id: "FRZ-1")), as: "ada", rule: "freeze.invalid")
        #expect(Engine.deployRefusals(w.request(id), environment: "qa", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana")
        // A freeze that has ended no longer counts.
        let later = try w.file(env: "qa")
        try w.admin(.addFreeze(FreezeSpec(environment: "qa", project: Cast.project, from: w.now, until: w.now + Self.hour, reason: "one hour")))
        try w.ok(.attachEvidence(request: later, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try w.approve(later, stage: "approved", as: "morgan")
        w.refused(.recordDeployment(request: later, outcome: .succeeded, note: ""), as: "dana", rule: "gate.freeze")
        w.now += 2 * Self.hour
        try w.ok(.recordDeployment(request: later, outcome: .succeeded, note: ""), as: "dana")
    }

    @Test("Only the project's deployers may record a deployment")
    func wrongActor() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "riley", rule: "gate.actors")
        try w.ok(.recordDeployment(request: id, outcome: .failed, note: "pods crashed"), as: "dana")
        #expect(w.request(id).status == .active, "a failed deployment leaves the request approved")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: "second try"), as: "dana")
    }

    @Test("A key revoked before signing is refused; a newly enrolled key works")
    func revokedKey() throws {
        var w = try World()
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let fingerprint = w.keys["casey"]!.publicKey.fingerprint
        try w.ok(.revokeKey(principal: "casey", fingerprint: fingerprint), as: "casey")
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: w.signed(id, stage: "compliance-reviewed", by: "casey")), as: "casey", rule: "signature.revoked-key")
        let fresh = Ed25519.SigningKey()
        let enroll = Command.enrollKey(principal: "casey", key: try! NoteVerifierKey(name: "casey", publicKey: fresh.publicKey))
        try w.ok(.enrollKey(principal: "casey", key: try! NoteVerifierKey(name: "casey", publicKey: fresh.publicKey), approval: AdminApproval(change: enroll.adminChange!, time: w.now).signed(with: w.keys["ada"]!)), as: "ada")
        w.keys["casey"] = fresh
        try w.approve(id, stage: "compliance-reviewed", as: "casey")
    }

    @Test("Replayed, stale, unknown-key and someone else's signatures are refused")
    func signatureAbuse() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let envelope = w.signed(id, stage: "approved", by: "morgan")
        try w.ok(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: envelope), as: "morgan")
        // Replay onto a new request filed for the same bundle is caught by the request binding; replay of the same
        // statement (e.g. after the first was rejected and refiled) is caught by the statement digest.
        var replay = try World()
        let rid = try replay.file(env: "qa")
        try replay.ok(.attachEvidence(request: rid, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        // A rejection says why: without a reason it is refused, signed or not.
        replay.refused(
            .decide(request: rid, stage: "approved", decision: .reject, comment: " ", envelope: replay.signed(rid, stage: "approved", .reject, by: "morgan", comment: " ")),
            as: "morgan", rule: "decision.reason")
        let first = replay.signed(rid, stage: "approved", .reject, by: "morgan", comment: "no")
        try replay.ok(.decide(request: rid, stage: "approved", decision: .reject, comment: "no", envelope: first), as: "morgan")
        replay.state.requests[rid]!.status = .active  // pretend the request were reopened
        replay.refused(.decide(request: rid, stage: "approved", decision: .reject, comment: "no", envelope: first), as: "morgan", rule: "signature.replay")

        let id2 = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id2, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let stale = w.signed(id2, stage: "approved", by: "sam", time: w.now - 11 * 60_000)
        w.refused(.decide(request: id2, stage: "approved", decision: .approve, comment: "", envelope: stale), as: "sam", rule: "signature.expired")
        let stranger = DecisionStatement(request: w.request(id2), stage: "approved", decision: .approve, actor: "sam", comment: "", time: w.now)
            .signed(with: Ed25519.SigningKey())
        w.refused(.decide(request: id2, stage: "approved", decision: .approve, comment: "", envelope: stranger), as: "sam", rule: "signature.unknown-key")
        w.refused(.decide(request: id2, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id2, stage: "approved", by: "morgan", approver: "sam")), as: "sam", rule: "signature.wrong-key")
        // sam's own key over a statement naming morgan as the approver.
        w.refused(.decide(request: id2, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id2, stage: "approved", by: "sam", approver: "morgan")), as: "sam", rule: "signature.actor")
        var tampered = w.signed(id2, stage: "approved", by: "sam")
        tampered.signatures[0].sig[0] ^= 1
        w.refused(.decide(request: id2, stage: "approved", decision: .approve, comment: "", envelope: tampered), as: "sam", rule: "signature.invalid")
        try w.approve(id2, stage: "approved", as: "sam")
    }

    /// The red team's finding: a decision envelope carrying, beside the decider's valid signature, a second one — 64 zero
    /// bytes under an administrator's key id — was recorded, and the ledger then showed an administrator as co-signer.
    @Test("A signed decision, delegation or self-enrolment carries exactly one signature, its actor's: a second one — forged under an administrator's key id, first or last, or genuine by another person or by the actor's own second key — is refused (signature.invalid), and the genuine envelope alone passes")
    func oneSignature() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        func decide(_ envelope: DSSEEnvelope) -> Command { .decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: envelope) }
        let ada = w.keys[Cast.administrator.name]!
        var forged = w.signed(id, stage: "approved", by: "sam")
        forged.signatures.append(.init(keyid: ada.publicKey.keyFingerprint, sig: [UInt8](repeating: 0, count: 64)))
        w.refused(decide(forged), as: "sam", rule: "signature.invalid")
        forged.signatures.reverse()
        w.refused(decide(forged), as: "sam", rule: "signature.invalid")
        var cosigned = w.signed(id, stage: "approved", by: "sam")
        cosigned.addSignature(with: w.keys["morgan"]!)
        w.refused(decide(cosigned), as: "sam", rule: "signature.invalid")
        var twice = w.signed(id, stage: "approved", by: "sam")
        twice.addSignature(with: w.keys["sam"]!)
        w.refused(decide(twice), as: "sam", rule: "signature.invalid")
        var none = w.signed(id, stage: "approved", by: "sam")
        none.signatures = []
        w.refused(decide(none), as: "sam", rule: "signature.invalid")
        #expect(w.request(id).decisions.isEmpty)
        try w.approve(id, stage: "approved", as: "sam")
        #expect(w.request(id).decisions.count == 1)

        let window = DelegationSpec(delegate: "morgan", start: w.now, end: w.now + 86_400_000, project: Cast.project, role: "approvers")
        var delegation = DelegationStatement(delegation: window, time: w.now).signed(with: w.keys["sam"]!)
        delegation.signatures.append(.init(keyid: ada.publicKey.keyFingerprint, sig: [UInt8](repeating: 0, count: 64)))
        w.refused(.delegate(window, envelope: delegation), as: "sam", rule: "signature.invalid")

        let newKey = Ed25519.SigningKey()
        let line = try NoteVerifierKey(name: "sam", publicKey: newKey.publicKey)
        var proof = KeyEnrolmentStatement(principal: "sam", verifierKey: line, time: w.now).signed(with: w.keys["sam"]!)
        proof.addSignature(with: newKey)
        w.refused(.enrollOwnKey(key: line, proof: proof), as: "sam", rule: "signature.invalid")
    }

    @Test("Signatures verified before the writer give the same outcome; a tampered signature is never pre-verified")
    func preverification() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let good = Command.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id, stage: "approved", by: "morgan"))
        #expect(Engine.preverify(good, state: w.state, actor: "morgan").signatures.count == 1)
        #expect(Engine.preverify(good, state: w.state, actor: "sam").signatures.isEmpty, "only the actor's own keys")
        var tampered = w.signed(id, stage: "approved", by: "morgan")
        tampered.signatures[0].sig[10] ^= 1
        let bad = Command.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: tampered)
        #expect(Engine.preverify(bad, state: w.state, actor: "morgan").signatures.isEmpty)
        let verified = Engine.preverify(good, state: w.state, actor: "morgan")
        #expect(Engine.execute(good, on: w.state, actor: "morgan", now: w.now, verified: verified) == Engine.execute(good, on: w.state, actor: "morgan", now: w.now))
        // A pre-verified set for the good envelope does not let the tampered one through.
        guard case .failure(let refusal) = Engine.execute(bad, on: w.state, actor: "morgan", now: w.now, verified: verified) else {
            Issue.record("tampered signature accepted")
            return
        }
        #expect(refusal.rule == "signature.invalid")
        // What preverify read ahead stands only for the bytes it read: another envelope's statement (a comment that
        // differs from the one signed) is read again and refused as without it.
        #expect(!verified.decisionStatements.isEmpty)
        let other = Command.decide(request: id, stage: "approved", decision: .approve, comment: "not what was signed", envelope: w.signed(id, stage: "approved", by: "morgan", comment: "signed"))
        let withOthers = Engine.execute(other, on: w.state, actor: "morgan", now: w.now, verified: verified)
        #expect(withOthers == Engine.execute(other, on: w.state, actor: "morgan", now: w.now))
        guard case .failure(let mismatch) = withOthers else {
            Issue.record("a comment other than the signed one accepted")
            return
        }
        #expect(mismatch.rule == "signature.statement")
    }

    @Test("The remaining input and state rules each refuse")
    func remainingRules() throws {
        var w = try World()
        w.refused(w.signedByAdmin(.createGroup(name: "Bad Name")), as: "ada", rule: "input.name")
        w.refused(w.signedByAdmin(.revokeKey(principal: "riley", fingerprint: String(repeating: "0", count: 64))), as: "ada", rule: "key.unknown")
        w.refused(w.signedByAdmin(.createProject(ProjectSpec(key: "empty", regulated: false, environments: [:], roles: Cast.roles), approval: nil)), as: "ada", rule: "project.invalid")
        w.refused(w.signedByAdmin(.createProject(ProjectSpec(key: "ghost", regulated: false, environments: ["qa": "nonexistent"], roles: Cast.roles), approval: nil)), as: "ada", rule: "project.invalid")
        w.refused(w.signedByAdmin(.applyWorkflow(source: "workflow: x\n", file: "x.yaml")), as: "ada", rule: "workflow.invalid")
        w.refused(.fileRequest(project: "churn-model", environment: "qa", bundle: "a/b.zip", digest: World.digest, description: ""), as: "riley", rule: "input.bundle")
        w.refused(.attachEvidence(request: "REQ-404", kind: "test-report", status: "passed", digest: World.digest), as: "ci-bot", rule: "request.unknown")
        let id = try w.file(env: "qa")
        w.refused(.revise(request: id, bundle: nil, digest: World.digest), as: "riley", rule: "input.digest")
        w.refused(w.retrospective(id, by: "casey", comment: "x"), as: "casey", rule: "retrospective.none")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        // A payload that is not a decision statement, and a statement for an older revision.
        let notAStatement = DSSE.sign(payload: Array("{}".utf8), payloadType: DSSE.inTotoPayloadType, with: w.keys["morgan"]!)
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: notAStatement), as: "morgan", rule: "signature.statement")
        var older = w.request(id)
        older.revision = 0
        let stale = DecisionStatement(request: older, stage: "approved", decision: .approve, actor: "morgan", comment: "", time: w.now).signed(with: w.keys["morgan"]!)
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: stale), as: "morgan", rule: "signature.revision")
        // The same person twice at one stage (in a gate that needs two).
        let two = World.shipped("standard").replacingOccurrences(of: "count: 1", with: "count: 2").replacingOccurrences(of: "workflow: standard", with: "workflow: pair")
        try w.admin(.applyWorkflow(source: two, file: "pair.yaml"))
        try w.admin(.createProject(ProjectSpec(key: "pairs", regulated: false, environments: ["qa": "pair"], roles: Cast.roles), approval: nil))
        let pair = try w.file(env: "qa", project: "pairs")
        try w.ok(.attachEvidence(request: pair, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try w.ok(.decide(request: pair, stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan")
        w.refused(.decide(request: pair, stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan", rule: "decision.duplicate")
    }

    @Test("Retrospective rules: not by the deployer or requester, with a comment, only once")
    func retrospectiveRules() throws {
        var w = try World()
        try w.addUser("olive", groups: [])
        for group in ["compliance", Cast.Group.deployers] {  // both are relied on by the regulated churn-model: signed changes
            let change = Command.addMember(group: group, member: "olive").adminChange!
            try w.ok(.addMember(group: group, member: "olive", approval: AdminApproval(change: change, time: w.now).signed(with: w.keys["ada"]!)), as: "ada")
        }
        let id = try w.fileEmergency(env: "qa")
        try w.approve(id, stage: "approved", as: "morgan", comment: "outage")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "olive")
        w.refused(w.retrospective(id, by: "olive", comment: "fine"), as: "olive", rule: "separation.retrospective")
        w.refused(w.retrospective(id, by: "casey", comment: "  "), as: "casey", rule: "retrospective.reason")
        // In a regulated project the review is signed: a session alone, or a statement over another comment, is refused.
        w.refused(.recordRetrospective(request: id, comment: "reviewed"), as: "casey", rule: "signature.required")
        let other = w.retrospective(id, by: "casey", comment: "something else")
        if case .recordRetrospective(_, _, let envelope) = other {
            w.refused(.recordRetrospective(request: id, comment: "reviewed", envelope: envelope), as: "casey", rule: "signature.statement")
        }
        try w.ok(w.retrospective(id, by: "casey", comment: "reviewed"), as: "casey")
        w.refused(w.retrospective(id, by: "casey", comment: "again"), as: "casey", rule: "retrospective.done")
    }

    @Test("Evidence must come from an allowed identity")
    func evidenceIdentity() throws {
        var w = try World()
        let id = try w.file()
        w.refused(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "riley", rule: "evidence.attached-by")
        w.refused(.attachEvidence(request: id, kind: "pentest", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot", rule: "evidence.kind")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "failed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        #expect(w.request(id).stage == "requested", "a failed test report does not pass the gate")
        w.refused(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot", rule: "evidence.conflict")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r2")), as: "ci-bot")
        #expect(w.request(id).stage == "tested")
    }

    @Test("Administration: only administrators, and a regulated project needs an administrator's signature")
    func administration() throws {
        var w = try World()
        w.refused(.addUser(name: "eve", administrator: true, key: nil), as: "riley", rule: "admin.required")
        w.refused(.createGroup(name: "eves"), as: "riley", rule: "admin.required")
        w.refused(.bootstrapAdministrator(name: "eve", key: w.verifierKey("riley")), as: "eve", rule: "admin.bootstrap")
        let spec = ProjectSpec(key: "fraud-model", regulated: true, environments: ["prod": "regulated"], roles: Cast.roles)
        w.refused(.createProject(spec, approval: nil), as: "ada", rule: "admin.signature-required")
        let otherSpec = ProjectSpec(key: "other", regulated: true, environments: ["prod": "regulated"], roles: Cast.roles)
        w.refused(.createProject(spec, approval: AdminApproval(change: AdminChange(.projectCreate, project: otherSpec), time: w.now).signed(with: w.keys["ada"]!)), as: "ada", rule: "admin.signature")
        w.refused(.createProject(spec, approval: AdminApproval(change: AdminChange(.projectCreate, project: spec), time: w.now).signed(with: w.keys["riley"]!)), as: "ada", rule: "admin.signature")
        try w.ok(.createProject(spec, approval: AdminApproval(change: AdminChange(.projectCreate, project: spec), time: w.now).signed(with: w.keys["ada"]!)), as: "ada")
        w.refused(w.signedByAdmin(.addUser(name: "dup", administrator: false, key: w.verifierKey("riley"))), as: "ada", rule: "key.duplicate")
    }

    @Test("Changing a group a regulated project relies on, or a key of its members, needs an administrator's signature")
    func signedAdminChanges() throws {
        var w = try World()
        let zoe = Ed25519.SigningKey()
        try w.admin(.addUser(name: "zoe", administrator: false, key: try! NoteVerifierKey(name: "zoe", publicKey: zoe.publicKey)))
        w.refused(.addMember(group: "release-managers", member: "zoe"), as: "ada", rule: "admin.signature-required")
        let wrongChange = AdminApproval(change: AdminChange(.groupAddMember, group: "release-managers", member: "riley"), time: w.now)
        w.refused(.addMember(group: "release-managers", member: "zoe", approval: wrongChange.signed(with: w.keys["ada"]!)), as: "ada", rule: "admin.signature")
        let command = Command.addMember(group: "release-managers", member: "zoe")
        try w.ok(.addMember(group: "release-managers", member: "zoe", approval: AdminApproval(change: command.adminChange!, time: w.now).signed(with: w.keys["ada"]!)), as: "ada")
        // A group no project binds: an unsigned change would do (the ledger has a regulated project, so it is signed anyway).
        try w.admin(.createGroup(name: "unbound"))
        try w.admin(.addMember(group: "unbound", member: "zoe"))
        #expect(Engine.regulatedProjects(relyingOn: "unbound", w.state).isEmpty)
        #expect(Engine.regulatedProjects(relyingOn: "release-managers", w.state) == [Cast.project])
        let newKey = try! NoteVerifierKey(name: "morgan", publicKey: Ed25519.SigningKey().publicKey)
        w.refused(.enrollKey(principal: "morgan", key: newKey), as: "ada", rule: "admin.signature-required")
        let enroll = Command.enrollKey(principal: "morgan", key: newKey)
        try w.ok(.enrollKey(principal: "morgan", key: newKey, approval: AdminApproval(change: enroll.adminChange!, time: w.now).signed(with: w.keys["ada"]!)), as: "ada")
    }

    @Test("Only the project's requesters may file, for the project's environments")
    func filing() throws {
        var w = try World()
        w.refused(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: World.digest, description: ""), as: "morgan", rule: "project.requesters")
        w.refused(.fileRequest(project: "churn-model", environment: "staging", bundle: "b.zip", digest: World.digest, description: ""), as: "riley", rule: "project.environment")
        // A project one has no part in, and one that does not exist, are refused alike (nothing learnt of either).
        w.refused(.fileRequest(project: "nope", environment: "prod", bundle: "b.zip", digest: World.digest, description: ""), as: "riley", rule: "project.requesters")
        w.refused(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: World.digest, description: ""), as: "eve", rule: "project.requesters")
        #expect(try w.file() == "REQ-1")
    }

    @Test("Decisions for stages ahead on the path, never for one passed or not on it; rejection and withdrawal close a request")
    func stagesAndClosing() throws {
        var w = try World()
        let id = try w.file()
        // Early: morgan approves `approved` before the tests pass; it counts once the request gets there.
        try w.approve(id, stage: "approved", as: "morgan")
        w.refused(.decide(request: id, stage: "shared-objects", decision: .approve, comment: "", envelope: w.signed(id, stage: "shared-objects", by: "quinn")), as: "quinn", rule: "decision.stage")
        w.refused(.decide(request: id, stage: "tested", decision: .approve, comment: "", envelope: w.signed(id, stage: "tested", by: "morgan")), as: "morgan", rule: "decision.stage")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: w.signed(id, stage: "compliance-reviewed", by: "morgan")), as: "morgan", rule: "decision.role")
        try w.ok(.decide(request: id, stage: "compliance-reviewed", decision: .reject, comment: "no DPIA", envelope: w.signed(id, stage: "compliance-reviewed", .reject, by: "casey", comment: "no DPIA")), as: "casey")
        #expect(w.request(id).status == .rejected)
        w.refused(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot", rule: "request.closed")
        let second = try w.file()
        w.refused(.withdraw(request: second, reason: "mine now"), as: "morgan", rule: "request.owner")
        try w.ok(.withdraw(request: second, reason: "superseded"), as: "riley")
        #expect(w.request(second).status == .withdrawn)
    }

    @Test("Emergency on prod: the gate allows it without the waived approvals and outside the window; the retrospective is due, then overdue; a normal request still needs every stage")
    func emergency() throws {
        var w = try World()
        // Only approvers may file an emergency, with a reason; only on a workflow with an emergency section.
        w.refused(.fileRequest(project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.digest, description: "", emergencyReason: "  "), as: "riley", rule: "emergency.reason")
        try w.admin(.addMember(group: Cast.Group.dataScience, member: "dana"))
        w.refused(.fileRequest(project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.digest, description: "", emergencyReason: "down"), as: "dana", rule: "emergency.filed-by")
        w.now += 10 * Self.hour  // 19:00 UTC, 20:00 in Paris: outside the regulated deploy window
        let id = try w.fileEmergency(labels: ["touches": ["plugins"]])
        let normal = try w.file()
        #expect(w.request(id).emergency?.reason == "prod is down")
        let skipped = Engine.explain(id, state: w.state, now: w.now)!.skipped.map(\.stage)
        #expect(skipped == ["shared-objects", "compliance-reviewed"])
        for r in [id, normal] { try w.ok(.attachEvidence(request: r, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot") }
        for r in [id, normal] {
            try w.approve(r, stage: "approved", as: "morgan")
            try w.approve(r, stage: "approved", as: "sam")
        }
        #expect(w.request(id).stage == "approved")
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        // The same project, a request that is not an emergency: compliance review still needed, and the window.
        #expect(w.request(normal).stage == "tested")
        let normalRefusals = Engine.deployRefusals(w.request(normal), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).map(\.rule)
        #expect(normalRefusals.contains("gate.stage") && normalRefusals.contains("gate.window"))
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: "hotfix"), as: "riley", rule: "gate.actors")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: "hotfix"), as: "dana")
        #expect(Engine.explain(id, state: w.state, now: w.now)?.retrospective?.overdue == false)
        #expect(w.request(id).retrospectiveDue == w.now + 24 * Self.hour)
        w.now += 24 * Self.hour + 1
        #expect(Engine.explain(id, state: w.state, now: w.now)?.retrospective?.overdue == true)
        w.refused(w.retrospective(id, by: "morgan", comment: "ok"), as: "morgan", rule: "retrospective.role")
        w.refused(w.retrospective(normal, by: "casey", comment: "ok"), as: "casey", rule: "retrospective.none")
        try w.ok(w.retrospective(id, by: "casey", comment: "reviewed the diff and the incident"), as: "casey")
        #expect(Engine.explain(id, state: w.state, now: w.now)?.retrospective?.done == true)
        #expect(Engine.explain(id, state: w.state, now: w.now)?.retrospective?.overdue == false)
        // A workflow without an emergency section takes none.
        let plain = String(World.shipped("standard").prefix { $0 != "#" || true }).components(separatedBy: "# An urgent fix")[0]
            .replacingOccurrences(of: "workflow: standard", with: "workflow: plain")
        try w.admin(.applyWorkflow(source: plain, file: "plain.yaml"))
        try w.admin(.createProject(ProjectSpec(key: "plain", regulated: false, environments: ["qa": "plain"], roles: Cast.roles), approval: nil))
        w.refused(.fileRequest(project: "plain", environment: "qa", bundle: World.bundle, digest: World.digest, description: "", emergencyReason: "down"), as: "riley", rule: "emergency.none")
    }

    @Test("Every role a workflow names must be bound: by a new project, and by the projects using a new version of it (line and column)")
    func unboundRoles() throws {
        var w = try World()
        var roles = Cast.roles
        roles.removeValue(forKey: "platform")
        w.refused(w.signedByAdmin(.createProject(ProjectSpec(key: "half", regulated: false, environments: ["qa": "standard"], roles: roles), approval: nil)), as: "ada", rule: "project.invalid")
        // Bound for qa only: the binding for prod does not exist, and the general one is missing.
        roles["platform@qa"] = [Cast.Group.platform]
        try w.admin(.createProject(ProjectSpec(key: "half", regulated: false, environments: ["qa": "standard"], roles: roles), approval: nil))
        w.refused(w.signedByAdmin(.createProject(ProjectSpec(key: "bad", regulated: false, environments: ["qa": "standard"], roles: ["deployers@prod": ["ci"]].merging(Cast.roles) { $1 }), approval: nil)), as: "ada", rule: "project.invalid")
        let source = World.shipped("standard").replacingOccurrences(of: "role: approvers", with: "role: ghosts")
        switch w.run(w.signedByAdmin(.applyWorkflow(source: source, file: "standard.yaml")), as: "ada") {
        case .success: Issue.record("accepted")
        case .failure(let refusal):
            #expect(refusal.rule == "workflow.invalid")
            #expect(refusal.message.contains("standard.yaml:") && refusal.message.contains("role \"ghosts\" is not bound by project"), "\(refusal.message)")
        }
        // A workflow naming groups, as round 1 wrote them, is refused with what to write instead.
        let old = World.shipped("standard").replacingOccurrences(of: "role: approvers", with: "group: release-managers")
        switch w.run(w.signedByAdmin(.applyWorkflow(source: old, file: "old.yaml")), as: "ada") {
        case .success: Issue.record("accepted")
        case .failure(let refusal): #expect(refusal.message.contains("workflows name roles, not groups"), "\(refusal.message)")
        }
    }

    @Test("A request keeps the workflow it started under when the workflow is changed")
    func pinnedWorkflow() throws {
        var w = try World()
        let id = try w.file(env: "qa")
        let stricter = World.shipped("standard").replacingOccurrences(of: "count: 1", with: "count: 2")
        try w.admin(.applyWorkflow(source: stricter, file: "standard.yaml"))
        w.refused(w.signedByAdmin(.applyWorkflow(source: stricter, file: "standard.yaml")), as: "ada", rule: "input.duplicate")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try w.approve(id, stage: "approved", as: "morgan")
        #expect(w.request(id).stage == "approved", "one approval suffices under the pinned version")
        let later = try w.file(env: "qa")
        #expect(w.request(later).workflowDigest == SHA256Digest.hash(stricter))
    }

    @Test("Explain names what is missing and who could supply it")
    func explain() throws {
        var w = try World()
        let id = try w.file()
        let e = Engine.explain(id, state: w.state, now: w.now)!
        #expect(e.gates.map(\.stage) == ["tested", "compliance-reviewed", "approved", "deployed"])
        #expect(e.gates[0].conditions[0].whoCanSupply == ["ci-bot"])
        #expect(Set(e.gates[1].conditions[0].whoCanSupply) == ["casey", "pat"])
        #expect(!e.gates[2].conditions[0].whoCanSupply.contains("riley"), "the requester is never offered as an approver")
    }

    @Test("Replaying the recorded events from empty gives the same state, and documents round-trip")
    func replay() throws {
        var w = try World()
        _ = try w.approvedProdRequest()
        var replayed = SignoffState()
        for (event, actor, time) in w.log { replayed.apply(event, actor: actor, at: time) }
        #expect(replayed == w.state)
        for (event, _, _) in w.log {
            let decoded = try Event.decode(kind: event.kind, payload: event.payload)
            #expect(decoded == event)
        }
        // The projection's documents hold everything but the ledger's own first entry (which nothing decides on) and the
        // used statements (kept by the store for their freshness window, not as documents).
        var restored = try SignoffState(documents: w.state.documents())
        #expect(restored.ledger == nil && restored.usedStatements.isEmpty && !w.state.usedStatements.isEmpty)
        restored.ledger = w.state.ledger
        restored.usedStatements = w.state.usedStatements
        #expect(restored == w.state)
    }
}
