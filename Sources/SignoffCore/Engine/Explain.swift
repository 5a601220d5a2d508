public import SignoffCrypto

/// What a request still needs: for every stage ahead, each gate condition met or unmet, what is missing and who
/// could supply it.
public struct Explanation: Hashable, Sendable, Codable {
    public struct Retrospective: Hashable, Sendable, Codable {
        public let due: Int64
        public let done: Bool
        public let overdue: Bool
    }

    public let request: String
    public let status: DeploymentRequest.Status
    public let stage: String
    public let revision: Int
    public let digest: SHA256Digest
    public let workflow: String
    /// Gates of the stages after the current one, in order.
    public let gates: [GateStatus]
    public let retrospective: Retrospective?
}


extension Engine {
    public static func explain(_ id: String, state: SignoffState, now: Int64) -> Explanation? {
        guard let request = state.requests[id], let workflow = state.workflow(for: request)?.workflow else { return nil }
        var gates: [GateStatus] = []
        if request.status == .active, let index = workflow.index(of: request.stage) {
            for stage in workflow.stages.dropFirst(index + 1) {
                gates.append(Policy.evaluate(request, stage: stage, workflow: workflow, project: state.projects[request.project], state: state, now: now))
            }
            // Approvals given with a compromised key: the next gate cannot open on them.
            let compromised = Policy.compromisedApprovals(request, workflow: workflow, state: state, now: now)
            if !compromised.isEmpty, let first = gates.first {
                gates[0] = GateStatus(stage: first.stage, conditions: compromised + first.conditions)
            }
        }
        let retrospective = request.retrospectiveDue.map {
            Explanation.Retrospective(due: $0, done: request.retrospectiveDone, overdue: !request.retrospectiveDone && now > $0)
        }
        return Explanation(
            request: id, status: request.status, stage: request.stage, revision: request.revision, digest: request.digest,
            workflow: workflow.name, gates: gates, retrospective: retrospective)
    }
}
