internal import Foundation
public import SignoffCrypto

/// Stage advances and the gate: what lets a request move on and deploy.
extension Engine {
    /// After `events`, enters every following stage whose gate now holds and that is entered automatically.
    static func advancing(_ id: String, after events: [Event], state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        // Only this request changes: fold the events into a copy of it, not into a copy of the whole state.
        guard var request = state.requests[id], let workflow = state.workflow(for: request)?.workflow else { return events }
        for event in events { request.apply(event, actor: actor, at: now, workflow: workflow) }
        var out = events
        let path = workflow.path(for: request)
        while request.status == .active, let index = path.firstIndex(where: { $0.name == request.stage }), index + 1 < path.count {
            let stage = path[index + 1]
            guard !stage.gate.isAction else { break }
            let status = Policy.evaluate(request, stage: stage, workflow: workflow, state: state, now: now, naming: false)
            guard status.isSatisfied else { break }
            let entered = Event.stageEntered(.init(request: id, stage: stage.name, revision: request.revision))
            request.apply(entered, actor: actor, at: now, workflow: workflow)
            out.append(entered)
        }
        return out
    }

    /// Everything that stops `actor` (or, with nil, anyone) from deploying `digest` of `request` to
    /// `environment` now. Empty means: go.
    public static func deployRefusals(
        _ request: DeploymentRequest, environment: String, digest: SHA256Digest, state: SignoffState, actor: String?, now: Int64
    ) -> [Refusal] {
        var reasons: [Refusal] = []
        // Another environment's request is the wrong request, open or closed: said first.
        if environment != request.environment {
            reasons.append(Refusal(.gateEnvironment, "request \(request.id) is for \(request.environment), not \(environment)"))
        }
        guard request.status == .active else {
            // Why it closed, as a pipeline's log should say: the rejection's decider, stage and reason.
            let why = request.status == .rejected ? request.decisions.last { $0.decision == .reject }.map { " by \($0.by) at \($0.stage): \(oneLine($0.comment))" } ?? "" : ""
            return reasons + [Refusal(.requestClosed, "request \(request.id) is \(request.status.rawValue)\(why)")]
        }
        if digest != request.digest {
            reasons.append(Refusal(.gateDigest, "request \(request.id) approves bundle \(request.digest), not \(digest)"))
        }
        guard let workflow = state.workflow(for: request)?.workflow else {
            return reasons + [Refusal(.internalError, "the workflow of \(request.id) is missing")]
        }
        let path = workflow.path(for: request)
        let last = path[path.count - 1]
        let beforeLast = path[path.count - 2]
        if request.stage != beforeLast.name {
            reasons.append(Refusal(.gateStage, "request \(request.id) is at \(request.stage); it must reach \(beforeLast.name) before \(last.name)"))
        }
        // Approvals must still hold now: an expired approval no longer lets the bundle through.
        for stage in path.dropFirst().dropLast() where !stage.gate.approvals.isEmpty && stage.gate.expirySeconds != nil {
            guard request.history.contains(where: { $0.stage == stage.name && $0.revision == request.revision }) else { continue }
            let status = Policy.evaluate(request, stage: stage, workflow: workflow, state: state, now: now, naming: false)
            for condition in status.conditions where condition.rule == "approvals" && !condition.met {
                reasons.append(Refusal(.gateExpired, "the approvals of \(stage.name) have expired: \(condition.detail)"))
            }
        }
        // So must evidence: stale evidence, or a newer report that does not pass, stops the bundle.
        for condition in Policy.lapsedEvidence(request, workflow: workflow, state: state, now: now) {
            reasons.append(Refusal(.gateEvidence, condition.detail))
        }
        // Approvals signed with a key since revoked as compromised no longer let the bundle through.
        for condition in Policy.compromisedApprovals(request, workflow: workflow, state: state, now: now) {
            reasons.append(Refusal(.gate(condition: condition.rule), condition.detail))
        }
        let status = Policy.evaluate(request, stage: last, workflow: workflow, state: state, now: now, actor: actor, naming: false)
        for condition in status.conditions where !condition.met && (actor != nil || condition.rule != "actors") {
            reasons.append(Refusal(.gate(condition: condition.rule), condition.detail))
        }
        return reasons
    }
}
