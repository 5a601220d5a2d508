internal import Foundation
public import SignoffCrypto

/// Decisions: approvals, rejections and requests for changes at a stage — the next one or any stage ahead on the
/// request's path — signed where the workflow or the project says so, by the decider or their delegate.
extension Engine {
    static func decide(
        id: String, stageName: String, decision: DecisionKind, comment: String, envelope: DSSEEnvelope?, onBehalfOf: String?, state: SignoffState,
        actor: String, now: Int64
    ) throws -> [Event] {
        let request = try requireActive(state, id)
        let workflow = try workflowOf(request, state)
        let project = state.projects[request.project]
        guard let stage = workflow.stage(named: stageName) else {
            throw Refusal(.decisionStage, "the \(workflow.name) workflow has no stage \(stageName) (stages: \(workflow.stages.map(\.name).joined(separator: ", ")))")
        }
        let path = workflow.path(for: request)
        guard let target = path.firstIndex(where: { $0.name == stageName }) else {
            let reason = skippedStages(request, workflow: workflow).first { $0.stage == stageName }?.reason ?? "not on its path"
            throw Refusal(.decisionStage, "stage \(stageName) does not apply to \(id): \(reason)")
        }
        let current = path.firstIndex { $0.name == request.stage } ?? 0
        guard target > current else {
            throw Refusal(.decisionStage, "request \(id) is at \(request.stage) and has passed \(stageName); decisions now are for the stages ahead")
        }
        guard !stage.gate.approvals.isEmpty else {
            throw Refusal(.decisionStage, "stage \(stageName) is not entered by approvals; it needs \(stage.gate.isAction ? "an action by its actors" : "evidence")")
        }
        let authority = onBehalfOf ?? actor
        if !workflow.requesterMayDecide && (actor == request.requester || authority == request.requester) {
            throw Refusal(.separationRequester, "\(authority == actor ? actor : "\(actor) for \(authority)") may not decide on \(id), which \(request.requester) filed (separation of duties)")
        }
        let roles = stage.gate.approvals.map(\.role.value)
        if let onBehalfOf {
            try requireDelegation(from: onBehalfOf, to: actor, request: request, roles: roles, state: state, now: now)
        } else if !roles.contains(where: { state.holds(actor, role: $0, project: request.project, environment: request.environment) }) {
            throw Refusal(
                .decisionRole,
                "\(actor) does not hold \(roles.joined(separator: " or ")) in \(request.project) on \(request.environment), who decide \(stageName) (bound: \(Policy.describe(roles: roles, request: request, state: state)))")
        }
        let apart = Policy.keptApart(from: stage, workflow: workflow)
        if let previous = request.currentDecisions.first(where: { apart.contains($0.stage) && [actor, authority].contains(where: [$0.by, $0.authority].contains) }) {
            throw Refusal(.separationEarlierStage, "\(actor) decided \(previous.stage) on \(id) and may not also decide \(stageName) (separation of duties)")
        }
        // A request for changes says what to change, and a rejection — final — says why: the requester and the audit
        // read it (the console and the CLI ask for it; the API refuses without it too).
        if (stage.gate.reasonRequired || decision != .approve) && comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let why: String =
                switch decision {
                case .changesRequested: "a request for changes says what to change (--comment)"
                case .reject: "a rejection says why (--reason): the requester and the audit export read it"
                case .approve: "stage \(stageName) requires a reason for every decision (--comment or --reason)"
                }
            throw Refusal(.decisionReason, why)
        }
        let signatureRequired = stage.gate.signaturesRequired || project?.regulated == true
        var fingerprint: String?
        var statementDigest: SHA256Digest?
        if let envelope {
            (fingerprint, statementDigest) = try verifyDecision(
                envelope, request: request, stage: stageName, decision: decision, comment: comment, onBehalfOf: onBehalfOf, state: state, actor: actor,
                now: now)
        } else if signatureRequired {
            throw Refusal(.signatureRequired,
                project?.regulated == true
                    ? "project \(request.project) is regulated: every decision must be signed with the approver's key (--key)"
                    : "stage \(stageName) requires signed decisions (--key)")
        }
        // After the signature checks, so that a replayed statement is named as a replay.
        if let previous = request.currentDecisions.first(where: { $0.stage == stageName && ($0.by == actor || $0.authority == authority || $0.by == authority) }) {
            throw Refusal(.decisionDuplicate, "\(previous.onBehalfOf.map { "\(previous.by) for \($0)" } ?? previous.by) has already decided \(stageName) on \(id) for this revision")
        }
        var recorded = Event.DecisionRecorded(
            request: id, stage: stageName, decision: decision, comment: comment, revision: request.revision, bundleDigest: request.digest,
            envelope: envelope, keyFingerprint: fingerprint, statementDigest: statementDigest)
        recorded.onBehalfOf = onBehalfOf
        switch decision {
        case .reject: return [.decisionRecorded(recorded), .requestRejected(.init(request: id, stage: stageName, revision: request.revision))]
        case .changesRequested: return [.decisionRecorded(recorded)]
        case .approve: return try advancing(id, after: [.decisionRecorded(recorded)], state: state, actor: actor, now: now)
        }
    }

    /// `to` may decide for `from` on `request` now: a delegation from `from` to `to` in force, for this project (or
    /// every project) and, when it names a role, one the stage asks for; `from` holds that authority themself (a
    /// delegation never passes on a delegation) and is enabled.
    static func requireDelegation(from: String, to: String, request: DeploymentRequest, roles: [String], state: SignoffState, now: Int64) throws {
        guard from != to else { throw Refusal(.delegationNone, "\(to) decides as themself: leave out --for") }
        guard let delegator = state.principals[from], !delegator.disabled else {
            throw Refusal(.delegationNone, "\(from) is not an enabled user; a delegation from them counts for nothing")
        }
        let inForce = state.delegations.values.filter { d in
            d.from == from && d.to == to && d.isInForce(at: now) && (d.project.map { $0 == request.project } ?? true)
        }
        guard !inForce.isEmpty else {
            throw Refusal(.delegationNone, "\(from) has no delegation to \(to) in force now for \(request.project) (`signoff delegate` records one)")
        }
        let usable = inForce.contains { d in
            roles.contains { role in
                (d.role.map { $0 == role } ?? true) && state.holds(from, role: role, project: request.project, environment: request.environment)
            }
        }
        guard usable else {
            throw Refusal(
                .decisionRole,
                "\(from)'s delegation to \(to) does not cover \(roles.joined(separator: " or ")) in \(request.project) on \(request.environment), or \(from) does not hold it")
        }
    }
}
