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
    /// Gates of the stages after the current one on the request's path, in order.
    public let gates: [GateStatus]
    public let retrospective: Retrospective?
    /// The request's labels, and the stages they (or its emergency mode) leave out of its path, with why.
    public var labels: [String: [String]] = [:]
    public var emergency: DeploymentRequest.Emergency? = nil
    public var skipped: [SkippedStage] = []

    public struct SkippedStage: Hashable, Sendable, Codable {
        public let stage: String
        public let reason: String
    }
}


extension Engine {
    public static func explain(_ id: String, state: SignoffState, now: Int64) -> Explanation? {
        guard let request = state.requests[id], let workflow = state.workflow(for: request)?.workflow else { return nil }
        var gates: [GateStatus] = []
        let path = workflow.path(for: request)
        if request.status == .active, let index = path.firstIndex(where: { $0.name == request.stage }) {
            for stage in path.dropFirst(index + 1) {
                gates.append(Policy.evaluate(request, stage: stage, workflow: workflow, state: state, now: now))
            }
            // Approvals given with a compromised key: the next gate cannot open on them.
            // And evidence of passed stages that no longer holds (stale, or a newer report that fails).
            let lapsed = Policy.compromisedApprovals(request, workflow: workflow, state: state, now: now)
                + Policy.lapsedEvidence(request, workflow: workflow, state: state, now: now)
            if !lapsed.isEmpty, let first = gates.first {
                gates[0] = GateStatus(stage: first.stage, conditions: lapsed + first.conditions)
            }
        }
        let retrospective = request.retrospectiveDue.map {
            Explanation.Retrospective(due: $0, done: request.retrospectiveDone, overdue: !request.retrospectiveDone && now > $0)
        }
        var explanation = Explanation(
            request: id, status: request.status, stage: request.stage, revision: request.revision, digest: request.digest,
            workflow: workflow.name, gates: gates, retrospective: retrospective)
        explanation.labels = request.labels
        explanation.emergency = request.emergency
        explanation.skipped = skippedStages(request, workflow: workflow)
        return explanation
    }

    /// The stages of `workflow` that `request` does not go through, with why: a `when:` its labels do not match, or an
    /// emergency waiver.
    public static func skippedStages(_ request: DeploymentRequest, workflow: Workflow) -> [Explanation.SkippedStage] {
        let waived = request.emergency != nil ? Set(workflow.emergency?.waives.map(\.value) ?? []) : []
        return workflow.stages.compactMap { stage in
            if waived.contains(stage.name) { return .init(stage: stage.name, reason: "waived for an emergency") }
            guard !stage.applies(to: request.effectiveLabels), let when = stage.when else { return nil }
            let wanted = when.keys.sorted().map { "\($0) is one of \(when[$0]!.joined(separator: ", "))" }.joined(separator: " and ")
            return .init(stage: stage.name, reason: "applies only when \(wanted)")
        }
    }
}
