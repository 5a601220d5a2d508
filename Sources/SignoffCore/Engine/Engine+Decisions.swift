internal import Foundation
public import SignoffCrypto

/// Decisions: approvals and rejections at a stage, signed where the workflow or the project says so.
extension Engine {
    static func decide(id: String, stageName: String, decision: DecisionKind, comment: String, envelope: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        let workflow = try workflowOf(request, state)
        let project = state.projects[request.project]
        guard let stageIndex = workflow.index(of: stageName) else {
            throw Refusal(.decisionStage, "the \(workflow.name) workflow has no stage \(stageName) (stages: \(workflow.stages.map(\.name).joined(separator: ", ")))")
        }
        let stage = workflow.stages[stageIndex]
        let current = workflow.index(of: request.stage) ?? 0
        guard stageIndex == current + 1 else {
            let next = current + 1 < workflow.stages.count ? workflow.stages[current + 1].name : "none"
            throw Refusal(.decisionStage, "request \(id) is at \(request.stage); decisions now are for \(next), not \(stageName)")
        }
        guard !stage.gate.approvals.isEmpty else {
            throw Refusal(.decisionStage, "stage \(stageName) is not entered by approvals; it needs \(stage.gate.isAction ? "an action by its actors" : "evidence")")
        }
        if !workflow.requesterMayDecide && actor == request.requester {
            throw Refusal(.separationRequester, "\(actor) filed \(id) and may not decide on it (separation of duties)")
        }
        let earlier = Set(stage.gate.notDecidersOf.map(\.value))
        if let previous = request.currentDecisions.first(where: { $0.by == actor && earlier.contains($0.stage) }) {
            throw Refusal(.separationEarlierStage, "\(actor) decided \(previous.stage) on \(id) and may not also decide \(stageName) (separation of duties)")
        }
        guard stage.gate.approvals.contains(where: { state.isMember(actor, of: $0.group.value) }) else {
            throw Refusal(.decisionGroup, "\(actor) is not in \(stage.gate.approvals.map(\.group.value).joined(separator: " or ")), who decide \(stageName)")
        }
        if stage.gate.reasonRequired && comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw Refusal(.decisionReason, "stage \(stageName) requires a reason for every decision (--comment or --reason)")
        }
        let signatureRequired = stage.gate.signaturesRequired || project?.regulated == true
        var fingerprint: String?
        var statementDigest: SHA256Digest?
        if let envelope {
            (fingerprint, statementDigest) = try verifyDecision(
                envelope, request: request, stage: stageName, decision: decision, comment: comment, state: state, actor: actor, now: now)
        } else if signatureRequired {
            throw Refusal(.signatureRequired,
                project?.regulated == true
                    ? "project \(request.project) is regulated: every decision must be signed with the approver's key (--key)"
                    : "stage \(stageName) requires signed decisions (--key)")
        }
        // After the signature checks, so that a replayed statement is named as a replay.
        if request.currentDecisions.contains(where: { $0.by == actor && $0.stage == stageName }) {
            throw Refusal(.decisionDuplicate, "\(actor) has already decided \(stageName) on \(id) for this revision")
        }
        let recorded = Event.decisionRecorded(.init(
            request: id, stage: stageName, decision: decision, comment: comment, revision: request.revision, bundleDigest: request.digest,
            envelope: envelope, keyFingerprint: fingerprint, statementDigest: statementDigest))
        if decision == .reject {
            return [recorded, .requestRejected(.init(request: id, stage: stageName, revision: request.revision))]
        }
        return try advancing(id, after: [recorded], state: state, actor: actor, now: now)
    }
}
