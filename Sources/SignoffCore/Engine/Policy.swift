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

/// What stops a request that waiting alone will not end (``Policy/blockers(_:workflow:state:now:)``): the newest report of
/// a required kind did not pass, changes were requested, or a freeze holds — until a time, for a freeze; until someone
/// acts (a new report, a revision), for the others.
public struct GateBlocker: Hashable, Sendable {
    /// `evidence`, `changes-requested` or `freeze`.
    public let rule: String
    public let message: String
    /// When it ends by itself (a freeze's end), in milliseconds since the epoch; nil when only an action ends it.
    public let until: Int64?
}

/// Gate evaluation: pure functions of state, request, workflow and time. Every authority comes from the request's
/// project: the groups it binds to the roles the workflow names, on the request's environment.
public enum Policy {
    /// The newest report of `requirement`'s kind on the current revision, attached by a holder of one of its roles. The
    /// newest decides: a later failure is not outvoted by an earlier pass (no retrying until something passes).
    static func latestEvidence(_ request: DeploymentRequest, _ requirement: Workflow.EvidenceRequirement, state: SignoffState) -> Evidence? {
        let roles = requirement.attachedBy.map(\.value)
        return request.currentEvidence.last { evidence in
            evidence.kind == requirement.kind
                && roles.contains { state.holds(evidence.attachedBy, role: $0, project: request.project, environment: request.environment) }
        }
    }

    /// What stands between `request` and its deployment that waiting will not end — on every stage still ahead of it and
    /// at the deployment: a newest report that did not pass, changes requested, a freeze in force (until its end). A
    /// gate's `--wait` stops at once on these (``GateBlocker``); anything else (approvals to come, a window to open) may
    /// still come while it waits.
    public static func blockers(_ request: DeploymentRequest, workflow: Workflow, state: SignoffState, now: Int64) -> [GateBlocker] {
        guard request.status == .active else { return [] }
        let path = workflow.path(for: request)
        guard let current = path.firstIndex(where: { $0.name == request.stage }) else { return [] }
        var blockers: [GateBlocker] = []
        for stage in path[(current + 1)...] {
            for requirement in stage.gate.evidence {
                guard let latest = latestEvidence(request, requirement, state: state), latest.status != requirement.status else { continue }
                blockers.append(GateBlocker(
                    rule: "evidence",
                    message: "the newest \(requirement.kind) is \(latest.status.rawValue) and \(stage.name) needs \(requirement.status.rawValue): attach a new report (a new run)",
                    until: nil))
            }
            if !stage.gate.approvals.isEmpty {
                for change in request.currentDecisions where change.stage == stage.name && change.decision == .changesRequested {
                    let who = change.onBehalfOf.map { "\(change.by) for \($0)" } ?? change.by
                    blockers.append(GateBlocker(
                        rule: "changes-requested", message: "\(who) requested changes at \(stage.name): \(change.comment) — the requester revises the request", until: nil))
                }
            }
            for freeze in stage.gate.freezes where freeze.fromMilliseconds <= now && now < freeze.toMilliseconds {
                blockers.append(GateBlocker(
                    rule: "freeze", message: "\(stage.name) is inside the freeze \"\(freeze.reason)\" until \(Timestamps.rfc3339(freeze.toMilliseconds))",
                    until: freeze.toMilliseconds))
            }
        }
        for freeze in state.freezes(holding: request, at: now) {
            blockers.append(GateBlocker(
                rule: "freeze",
                message: "freeze \(freeze.id) on \(request.environment) of \(freeze.project ?? "every project") is in force until \(Timestamps.rfc3339(freeze.until)): \(freeze.reason)",
                until: freeze.until))
        }
        return blockers
    }

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
        for stage in workflow.path(for: request).dropFirst() where !stage.gate.approvals.isEmpty {
            guard request.history.contains(where: { $0.stage == stage.name && $0.revision == request.revision }) else { continue }
            let tainted = request.currentDecisions.filter { $0.stage == stage.name && isCompromised($0, state: state) }
            guard !tainted.isEmpty else { continue }
            var cleaned = request
            cleaned.decisions.removeAll { tainted.contains($0) }
            let status = evaluate(cleaned, stage: stage, workflow: workflow, state: state, now: now)
            for condition in status.conditions where condition.rule == "approvals" && !condition.met {
                out.append(ConditionStatus(
                    rule: "compromised", met: false,
                    detail: "the approvals of \(stage.name) no longer hold: \(tainted.map { "\($0.by)'s decision was signed with a key revoked as compromised" }.joined(separator: "; ")) — \(condition.detail) remain",
                    whoCanSupply: condition.whoCanSupply))
            }
        }
        return out
    }

    /// For each stage `request` passed in its current revision whose evidence no longer holds now — stale, or a newer
    /// report of the kind that does not pass: a failed `evidence` condition naming the stage.
    public static func lapsedEvidence(_ request: DeploymentRequest, workflow: Workflow, state: SignoffState, now: Int64) -> [ConditionStatus] {
        var out: [ConditionStatus] = []
        for stage in workflow.path(for: request).dropFirst().dropLast() where !stage.gate.evidence.isEmpty {
            guard request.history.contains(where: { $0.stage == stage.name && $0.revision == request.revision }) else { continue }
            var gate = Workflow.Gate()
            gate.evidence = stage.gate.evidence
            let evidenceOnly = Workflow.Stage(name: stage.name, location: stage.location, gate: gate, when: stage.when)
            for condition in evaluate(request, stage: evidenceOnly, workflow: workflow, state: state, now: now).conditions where !condition.met {
                out.append(ConditionStatus(
                    rule: "evidence", met: false, detail: "the evidence of \(stage.name) no longer holds: \(condition.detail)", whoCanSupply: condition.whoCanSupply))
            }
        }
        return out
    }

    /// Assigns distinct authorities to rules (each person fills at most one slot per gate, even if they hold several
    /// of its roles) and returns how many slots of each rule are filled — a maximum bipartite matching.
    static func filledSlots(rules: [Workflow.ApprovalRule], approvers: [String], request: DeploymentRequest, state: SignoffState) -> [Int] {
        var slots: [Int] = []  // slot → rule index
        for (index, rule) in rules.enumerated() { slots += Array(repeating: index, count: rule.count) }
        var slotOwner = [Int?](repeating: nil, count: slots.count)
        func eligible(_ approver: Int, _ slot: Int) -> Bool {
            state.holds(approvers[approver], role: rules[slots[slot]].role.value, project: request.project, environment: request.environment)
        }
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

    /// Who may decide at `stage`: holders of its approval roles in the request's project and environment, minus the
    /// requester (unless the workflow opted out) and whoever the workflow keeps apart from this stage.
    static func eligibleDeciders(_ request: DeploymentRequest, stage: Workflow.Stage, workflow: Workflow, state: SignoffState) -> [String] {
        let excluded = Set(excludedDeciders(request, stage: stage, workflow: workflow))
        let holders = stage.gate.approvals.flatMap { state.holders(of: $0.role.value, project: request.project, environment: request.environment) }
        return Array(Set(holders).subtracting(excluded)).sorted()
    }

    /// The stages whose deciders may not decide `stage`: those it names in `not_deciders_of`, and those that name it
    /// (a decision given early, for a stage ahead, must keep the same separation).
    static func keptApart(from stage: Workflow.Stage, workflow: Workflow) -> Set<String> {
        var apart = Set(stage.gate.notDecidersOf.map(\.value))
        for other in workflow.stages where other.gate.notDecidersOf.contains(where: { $0.value == stage.name }) { apart.insert(other.name) }
        return apart
    }

    static func excludedDeciders(_ request: DeploymentRequest, stage: Workflow.Stage, workflow: Workflow) -> [String] {
        var excluded: [String] = workflow.requesterMayDecide ? [] : [request.requester]
        let apart = keptApart(from: stage, workflow: workflow)
        for decision in request.currentDecisions where apart.contains(decision.stage) { excluded += [decision.by, decision.authority] }
        return excluded
    }

    /// The stages ahead of `request` (on its path) that `principal` may decide now and has not: what `decide` without
    /// `--stage` chooses from.
    public static func awaiting(_ request: DeploymentRequest, principal: String, state: SignoffState) -> [String] {
        guard request.status == .active, let workflow = state.workflow(for: request)?.workflow else { return [] }
        let path = workflow.path(for: request)
        guard let current = path.firstIndex(where: { $0.name == request.stage }) else { return [] }
        return path.dropFirst(current + 1).filter { stage in
            !stage.gate.approvals.isEmpty && eligibleDeciders(request, stage: stage, workflow: workflow, state: state).contains(principal)
                && !request.currentDecisions.contains { $0.stage == stage.name && ($0.by == principal || $0.authority == principal) }
        }.map(\.name)
    }

    /// A role list as a person reads it, with the groups the project binds: `approvers (fraud-leads)`.
    static func describe(roles: [String], request: DeploymentRequest, state: SignoffState) -> String {
        roles.map { role in
            let groups = state.groups(bound: role, project: request.project, environment: request.environment)
            return groups.isEmpty ? "\(role) (bound to no group in \(request.project))" : "\(role) (\(groups.joined(separator: ", ")))"
        }.joined(separator: " or ")
    }

    /// Evaluates the gate of `stage` for `request` at `now`. `actor` is checked against the gate's actors when given.
    /// On the request's last stage (the deployment), the freezes in force now for its project and environment count too.
    /// With `naming` false, no condition names who could supply it (`whoCanSupply` is empty) and nothing else differs:
    /// what deciding and the deploy gate need, without listing every holder of every role on each decision.
    public static func evaluate(
        _ request: DeploymentRequest, stage: Workflow.Stage, workflow: Workflow, state: SignoffState, now: Int64, actor: String? = nil,
        naming: Bool = true
    ) -> GateStatus {
        let gate = stage.gate
        let project = request.project, environment = request.environment
        var conditions: [ConditionStatus] = []
        for requirement in gate.evidence {
            let roles = requirement.attachedBy.map(\.value)
            let latest = latestEvidence(request, requirement, state: state)
            let met = latest.map { evidence in
                evidence.status == requirement.status && (requirement.maxAgeSeconds.map { now - evidence.at <= $0 * 1000 } ?? true)
            } ?? false
            let suppliers = naming && !met ? Array(Set(roles.flatMap { state.holders(of: $0, project: project, environment: environment) })).sorted() : []
            let age = requirement.maxAgeSeconds.map { ", at most \(formatDuration($0)) old" } ?? ""
            let detail: String
            if let latest, met {
                detail = "\(requirement.kind) with status \(requirement.status.rawValue) attached" + (latest.tests.map { " (\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped)" } ?? "")
            } else if let latest, latest.status == requirement.status {
                detail = "\(requirement.kind) is stale: attached \(Timestamps.rfc3339(latest.at))\(age); attach a fresh one"
            } else if let latest {
                detail = "needs \(requirement.kind) with status \(requirement.status.rawValue)\(age); the latest is \(latest.status.rawValue)"
            } else {
                detail = "needs \(requirement.kind) with status \(requirement.status.rawValue)\(age), attached by \(describe(roles: roles, request: request, state: state))"
            }
            conditions.append(ConditionStatus(rule: "evidence", met: met, detail: detail, whoCanSupply: met ? [] : suppliers))
        }
        if !gate.approvals.isEmpty {
            let decided = request.currentDecisions.filter { $0.stage == stage.name }
            for change in decided where change.decision == .changesRequested {
                let who = change.onBehalfOf.map { "\(change.by) for \($0)" } ?? change.by
                conditions.append(ConditionStatus(
                    rule: "changes-requested", met: false,
                    detail: "\(who) requested changes at \(stage.name): \(change.comment) — the requester revises the request", whoCanSupply: [request.requester]))
            }
            let approvals = countingApprovals(request, stage: stage.name, gate: gate, now: now)
            let approvers = Array(Set(approvals.map(\.authority))).sorted()
            let filled = filledSlots(rules: gate.approvals, approvers: approvers, request: request, state: state)
            let eligible = naming ? eligibleDeciders(request, stage: stage, workflow: workflow, state: state).filter { !approvers.contains($0) } : []
            for (rule, count) in zip(gate.approvals, filled) {
                let met = count >= rule.count
                let holders = met ? [] : eligible.filter { state.holds($0, role: rule.role.value, project: project, environment: environment) }
                // In a regulated project a decision is signed: who has no key that signs now (revoked, marked compromised)
                // cannot supply it. Delegates in force can, for the holder who delegated to them.
                let signs = { (name: String) in
                    state.projects[project]?.regulated != true || state.principals[name]?.keys.contains { $0.counts(signedAt: now) } == true
                }
                let delegates = holders.isEmpty ? [] : delegatesActing(for: holders, role: rule.role.value, request: request, state: state, now: now).filter { signs($0.to) }
                let who = Array(Set(holders.filter(signs) + delegates.map(\.to))).sorted()
                conditions.append(ConditionStatus(
                    rule: "approvals", met: met,
                    detail: "\(count) of \(rule.count) approvals from \(describe(roles: [rule.role.value], request: request, state: state))"
                        + (gate.expirySeconds.map { " (approvals count for \(formatDuration($0)))" } ?? ""),
                    whoCanSupply: met ? [] : who))
            }
        }
        if let actors = gate.actors {
            let roles = actors.map(\.value)
            let candidates = naming ? Array(Set(roles.flatMap { state.holders(of: $0, project: project, environment: environment) })).sorted() : []
            let described = describe(roles: roles, request: request, state: state)
            if let actor {
                let ok = roles.contains { state.holds(actor, role: $0, project: project, environment: environment) }
                conditions.append(ConditionStatus(
                    rule: "actors", met: ok,
                    detail: ok ? "\(actor) may record \(stage.name)" : "\(actor) is not among \(described) of \(project) on \(environment)",
                    whoCanSupply: ok ? [] : candidates))
                // Separation of duties at the action itself: not the requester, not who decided the named stages.
                var separation: [String] = []
                if gate.notRequester && actor == request.requester { separation.append("\(actor) filed \(request.id)") }
                let decided = Set(gate.notDecidersOf.map(\.value))
                if let decision = request.currentDecisions.first(where: { ($0.by == actor || $0.authority == actor) && decided.contains($0.stage) }) {
                    separation.append("\(actor) decided \(decision.stage) on \(request.id)")
                }
                let owesRetrospective = workflow.retrospective(for: request) != nil
                if owesRetrospective && !workflow.requesterMayDeploy && actor == request.requester && !gate.notRequester {
                    separation.append("\(actor) filed the emergency request \(request.id) and may not also deploy it")
                }
                if !separation.isEmpty {
                    conditions.append(ConditionStatus(
                        rule: "separation", met: false,
                        detail: separation.joined(separator: "; ") + ", and may not record \(stage.name) (separation of duties)",
                        whoCanSupply: candidates.filter { $0 != actor }))
                }
            } else {
                // Who could record it: the role's holders but those separation of duties keeps out.
                let decided = Set(gate.notDecidersOf.map(\.value))
                let keptOut = Set(request.currentDecisions.filter { decided.contains($0.stage) }.flatMap { [$0.by, $0.authority] })
                    .union(gate.notRequester || (workflow.retrospective(for: request) != nil && !workflow.requesterMayDeploy) ? [request.requester] : [])
                conditions.append(ConditionStatus(
                    rule: "actors", met: false, detail: "waits for one of \(described) to record \(stage.name)",
                    whoCanSupply: candidates.filter { !keptOut.contains($0) }))
            }
        }
        if let window = gate.window, !(request.emergency != nil && workflow.emergency?.outsideWindow == true) {
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
        if stage.name == workflow.stages.last?.name {
            // A freeze this request is exempted from: said, met (break-glass is visible on the request, never silent).
            for freeze in state.freezes(inForceFor: project, environment: environment, at: now) {
                guard let exemption = freeze.exemption(for: request) else { continue }
                conditions.append(ConditionStatus(
                    rule: "freeze", met: true,
                    detail: "exempted from freeze \(freeze.id) (\(freeze.reason)) by \(exemption.by) at \(Timestamps.rfc3339(exemption.at)): \(exemption.reason)",
                    whoCanSupply: []))
            }
            for freeze in state.freezes(holding: request, at: now) {
                conditions.append(ConditionStatus(
                    rule: "freeze", met: false,
                    detail: "freeze \(freeze.id) on \(environment) of \(freeze.project ?? "every project") is in force until \(Timestamps.rfc3339(freeze.until)): \(freeze.reason)",
                    whoCanSupply: []))
            }
        }
        return GateStatus(stage: stage.name, conditions: conditions)
    }

    /// The delegations in force now by which someone may decide `role` on `request` for one of `holders`: never a
    /// delegate or delegator who filed it, never a disabled one.
    static func delegatesActing(for holders: [String], role: String, request: DeploymentRequest, state: SignoffState, now: Int64) -> [(from: String, to: String)] {
        let holding = Set(holders)
        return state.delegations.values.filter { d in
            holding.contains(d.from) && d.isInForce(at: now) && (d.project.map { $0 == request.project } ?? true) && (d.role.map { $0 == role } ?? true)
                && d.to != request.requester && d.from != request.requester && state.principals[d.to]?.disabled == false && !holding.contains(d.to)
        }.map { (from: $0.from, to: $0.to) }.sorted { ($0.to, $0.from) < ($1.to, $1.from) }
    }

    /// Stages ahead that `delegate` may decide now for someone who delegated to them, by delegator: what
    /// `decide --for PERSON` without `--stage` chooses from.
    public static func awaiting(_ request: DeploymentRequest, delegate: String, state: SignoffState, now: Int64) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for d in state.delegations.values where d.to == delegate && d.isInForce(at: now) && (d.project.map { $0 == request.project } ?? true) {
            let stages = awaiting(request, principal: d.from, state: state).filter { stage in
                guard let role = d.role else { return true }
                return state.workflow(for: request)?.workflow.stages.first { $0.name == stage }?.gate.approvals.contains { $0.role.value == role } == true
            }
            if !stages.isEmpty { out[d.from, default: []] += stages }
        }
        return out.mapValues { Array(Set($0)).sorted() }
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
