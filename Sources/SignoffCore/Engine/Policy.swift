internal import Foundation
public import SignoffCrypto

/// One condition of a gate, evaluated: met or not, and if not, what is missing and who could supply it.
public struct ConditionStatus: Hashable, Sendable, Codable {
    /// The rule, e.g. `evidence`, `approvals`, `window`, `freeze`, `actors`.
    public let rule: String
    public let met: Bool
    public let detail: String
    /// Principals who could supply what is missing (empty when met or when nobody can).
    public let whoCanSupply: [String]
}

/// A gate evaluated for a request at a time.
public struct GateStatus: Hashable, Sendable, Codable {
    public let stage: String
    public let conditions: [ConditionStatus]
    public var isSatisfied: Bool { conditions.allSatisfy(\.met) }
}

/// Gate evaluation: pure functions of state, request, workflow and time.
public enum Policy {
    /// Decisions that count toward `stage`'s approvals now: approvals of the current revision, not expired.
    static func countingApprovals(_ request: DeploymentRequest, stage: String, gate: Workflow.Gate, now: Int64) -> [Decision] {
        request.currentDecisions.filter { decision in
            decision.stage == stage && decision.decision == .approve
                && (gate.expirySeconds.map { now - decision.at <= $0 * 1000 } ?? true)
        }
    }

    /// Whether `decision` was signed with a key revoked as compromised since a time at or before the decision: such a
    /// decision no longer counts for a request not yet deployed.
    public static func isCompromised(_ decision: Decision, state: SignoffState) -> Bool {
        guard let fingerprint = decision.keyFingerprint,
            let key = state.principals[decision.by]?.keys.first(where: { $0.fingerprint == fingerprint }), let since = key.compromisedSince
        else { return false }
        return decision.at >= since
    }

    /// For each approval stage `request` passed in its current revision whose approvals no longer hold once decisions
    /// signed with compromised keys are set aside: a failed `compromised` condition naming them.
    public static func compromisedApprovals(_ request: DeploymentRequest, workflow: Workflow, state: SignoffState, now: Int64) -> [ConditionStatus] {
        var out: [ConditionStatus] = []
        for stage in workflow.stages.dropFirst() where !stage.gate.approvals.isEmpty {
            guard request.history.contains(where: { $0.stage == stage.name && $0.revision == request.revision }) else { continue }
            let tainted = request.currentDecisions.filter { $0.stage == stage.name && isCompromised($0, state: state) }
            guard !tainted.isEmpty else { continue }
            var cleaned = request
            cleaned.decisions.removeAll { tainted.contains($0) }
            let status = evaluate(cleaned, stage: stage, workflow: workflow, project: state.projects[request.project], state: state, now: now)
            for condition in status.conditions where condition.rule == "approvals" && !condition.met {
                out.append(ConditionStatus(
                    rule: "compromised", met: false,
                    detail: "the approvals of \(stage.name) no longer hold: \(tainted.map { "\($0.by)'s decision was signed with a key revoked as compromised" }.joined(separator: "; ")) — \(condition.detail) remain",
                    whoCanSupply: condition.whoCanSupply))
            }
        }
        return out
    }

    /// Assigns distinct approvers to rules (each person fills at most one slot per gate, even if in several
    /// groups) and returns how many slots of each rule are filled — a maximum bipartite matching.
    static func filledSlots(rules: [Workflow.ApprovalRule], approvers: [String], state: SignoffState) -> [Int] {
        var slots: [Int] = []  // slot → rule index
        for (index, rule) in rules.enumerated() { slots += Array(repeating: index, count: rule.count) }
        var slotOwner = [Int?](repeating: nil, count: slots.count)
        func eligible(_ approver: Int, _ slot: Int) -> Bool { state.isMember(approvers[approver], of: rules[slots[slot]].group.value) }
        func tryAssign(_ approver: Int, _ seen: inout [Bool]) -> Bool {
            for slot in slots.indices where !seen[slot] && eligible(approver, slot) {
                seen[slot] = true
                if slotOwner[slot] == nil || tryAssign(slotOwner[slot]!, &seen) {
                    slotOwner[slot] = approver
                    return true
                }
            }
            return false
        }
        for approver in approvers.indices {
            var seen = [Bool](repeating: false, count: slots.count)
            _ = tryAssign(approver, &seen)
        }
        var filled = [Int](repeating: 0, count: rules.count)
        for (slot, owner) in slotOwner.enumerated() where owner != nil { filled[slots[slot]] += 1 }
        return filled
    }

    /// Who may decide at `stage`: members of the approval groups, minus the requester (unless the workflow opted
    /// out) and anyone who decided an earlier stage named in `not_deciders_of`.
    static func eligibleDeciders(_ request: DeploymentRequest, stage: Workflow.Stage, workflow: Workflow, state: SignoffState) -> [String] {
        let excluded = Set(excludedDeciders(request, stage: stage, workflow: workflow))
        let members = stage.gate.approvals.flatMap { state.groups[$0.group.value]?.members ?? [] }
        return Array(Set(members).subtracting(excluded)).sorted()
    }

    static func excludedDeciders(_ request: DeploymentRequest, stage: Workflow.Stage, workflow: Workflow) -> [String] {
        var excluded: [String] = workflow.requesterMayDecide ? [] : [request.requester]
        let earlier = Set(stage.gate.notDecidersOf.map(\.value))
        excluded += request.currentDecisions.filter { earlier.contains($0.stage) }.map(\.by)
        return excluded
    }

    /// Evaluates the gate of `stage` for `request` at `now`. `actor` is checked against the gate's actors when given.
    public static func evaluate(
        _ request: DeploymentRequest, stage: Workflow.Stage, workflow: Workflow, project: Project?, state: SignoffState, now: Int64,
        actor: String? = nil
    ) -> GateStatus {
        let gate = stage.gate
        var conditions: [ConditionStatus] = []
        for requirement in gate.evidence {
            let allowed = requirement.attachedBy.map(\.value)
            let found = request.currentEvidence.contains {
                $0.kind == requirement.kind && $0.status == requirement.status && state.matches($0.attachedBy, any: allowed)
            }
            let suppliers = state.principals.keys.filter { state.matches($0, any: allowed) }.sorted()
            conditions.append(ConditionStatus(
                rule: "evidence", met: found,
                detail: found
                    ? "\(requirement.kind) with status \(requirement.status) attached"
                    : "needs \(requirement.kind) with status \(requirement.status), attached by \(allowed.joined(separator: " or "))",
                whoCanSupply: found ? [] : suppliers))
        }
        if !gate.approvals.isEmpty {
            let approvals = countingApprovals(request, stage: stage.name, gate: gate, now: now)
            let approvers = Array(Set(approvals.map(\.by))).sorted()
            let filled = filledSlots(rules: gate.approvals, approvers: approvers, state: state)
            let eligible = eligibleDeciders(request, stage: stage, workflow: workflow, state: state).filter { !approvers.contains($0) }
            for (rule, count) in zip(gate.approvals, filled) {
                let met = count >= rule.count
                let who = eligible.filter { state.isMember($0, of: rule.group.value) }
                conditions.append(ConditionStatus(
                    rule: "approvals", met: met,
                    detail: "\(count) of \(rule.count) approvals from \(rule.group.value)"
                        + (gate.expirySeconds.map { " (approvals count for \(formatDuration($0)))" } ?? ""),
                    whoCanSupply: met ? [] : who))
            }
        }
        if let actors = gate.actors {
            let allowed = allowedActors(actors.map(\.value), request: request, project: project)
            let candidates = state.principals.keys.filter { state.matches($0, any: allowed) }.sorted()
            if let actor {
                let ok = state.matches(actor, any: allowed)
                conditions.append(ConditionStatus(
                    rule: "actors", met: ok, detail: ok ? "\(actor) may record \(stage.name)" : "\(actor) is not among \(allowed.joined(separator: ", "))",
                    whoCanSupply: ok ? [] : candidates))
                // Separation of duties at the action itself: not the requester, not who decided the named stages.
                var separation: [String] = []
                if gate.notRequester && actor == request.requester { separation.append("\(actor) filed \(request.id)") }
                let decided = Set(gate.notDecidersOf.map(\.value))
                if let decision = request.currentDecisions.first(where: { $0.by == actor && decided.contains($0.stage) }) {
                    separation.append("\(actor) decided \(decision.stage) on \(request.id)")
                }
                if workflow.retrospective != nil && !workflow.requesterMayDeploy && actor == request.requester && !gate.notRequester {
                    separation.append("\(actor) filed the break-glass request \(request.id) and may not also deploy it")
                }
                if !separation.isEmpty {
                    conditions.append(ConditionStatus(
                        rule: "separation", met: false,
                        detail: separation.joined(separator: "; ") + ", and may not record \(stage.name) (separation of duties)",
                        whoCanSupply: candidates.filter { $0 != actor }))
                }
            } else {
                conditions.append(ConditionStatus(
                    rule: "actors", met: false, detail: "waits for one of \(allowed.joined(separator: ", ")) to record \(stage.name)",
                    whoCanSupply: candidates))
            }
        }
        if let window = gate.window {
            let open = isOpen(window, at: now)
            conditions.append(ConditionStatus(
                rule: "window", met: open,
                detail: (open ? "inside" : "outside") + " the deployment window (\(describe(window)))", whoCanSupply: []))
        }
        for freeze in gate.freezes where freeze.fromMilliseconds <= now && now < freeze.toMilliseconds {
            conditions.append(ConditionStatus(
                rule: "freeze", met: false,
                detail: "inside the freeze \"\(freeze.reason)\" until \(Timestamps.rfc3339(freeze.toMilliseconds))", whoCanSupply: []))
        }
        return GateStatus(stage: stage.name, conditions: conditions)
    }

    /// `deployers` in a workflow's actors means the project's deployers for the request's environment.
    static func allowedActors(_ actors: [String], request: DeploymentRequest, project: Project?) -> [String] {
        actors.flatMap { $0 == "deployers" ? (project?.deployers[request.environment] ?? []) : [$0] }
    }

    public static func isOpen(_ window: Workflow.DeploymentWindow, at now: Int64) -> Bool {
        guard let zone = TimeZone(identifier: window.timeZone) else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let date = Date(timeIntervalSince1970: Double(now) / 1000)
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        // Calendar weekday: 1 = Sunday … 7 = Saturday; ours: 1 = Monday … 7 = Sunday.
        let weekday = ((parts.weekday ?? 1) + 5) % 7 + 1
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        return window.days.contains(weekday) && window.startMinute <= minute && minute < window.endMinute
    }

    static func describe(_ window: Workflow.DeploymentWindow) -> String {
        let names = ["", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        func hm(_ m: Int) -> String { String(format: "%02d:%02d", m / 60, m % 60) }
        return window.days.sorted().map { names[$0] }.joined(separator: ",") + " \(hm(window.startMinute))-\(hm(window.endMinute)) \(window.timeZone)"
    }

    static func formatDuration(_ seconds: Int64) -> String {
        seconds % 86400 == 0 ? "\(seconds / 86400)d" : seconds % 3600 == 0 ? "\(seconds / 3600)h" : seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s"
    }
}
