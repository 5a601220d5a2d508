public import SignoffCrypto

/// The access review an auditor asks for each quarter: for each environment of a project, each duty — filing, filing an
/// emergency, each stage's evidence, approvals and recording, administering the project — who can do it and through
/// what (a group, the directory that keeps that group, a delegation, being an administrator), as the state says at a
/// time; and what was done in a period (decisions, on behalf of whom, counted or not). Pure: the state at a time is the
/// caller's (a replay of the ledger up to it).
public enum AccessReview {
    /// Who can do a duty, and through what.
    public struct Holder: Hashable, Sendable, Codable {
        public let principal: String
        /// e.g. `group release-managers`, `group churn-approvers (directory corp)`, `delegation DLG-2 from sam until …`,
        /// `administrator`.
        public let through: [String]
        /// In a regulated project a decision is signed: whether they hold a key that signs at the time.
        public let canSign: Bool
    }

    /// One duty of one environment.
    public struct Duty: Hashable, Sendable, Codable {
        public let environment: String
        /// The stage, or nil for filing and administering.
        public let stage: String?
        /// `files`, `files an emergency`, `attaches KIND`, `approves (N)`, `records`, `administers`.
        public let duty: String
        public let roles: [String]
        public let holders: [Holder]
    }

    /// A decision made in the period.
    public struct Action: Hashable, Sendable, Codable {
        public let time: Int64
        public let request: String
        public let environment: String
        public let stage: String
        public let decision: String
        public let by: String
        public let onBehalfOf: String?
        /// Whether it counts now: made on the request's current revision, with a key not marked compromised since.
        public let counted: Bool
        /// Why it does not count (superseded by a revision, its key marked compromised), or empty.
        public let note: String
    }

    /// Whether `principal` may review `project`'s access: an administrator, an auditor, or one of its administrators.
    public static func mayReview(project: String, principal: String, state: SignoffState) -> Bool {
        guard let person = state.principals[principal], !person.disabled else { return false }
        return person.isAdministrator || state.isMember(principal, of: Access.auditorsGroup)
            || ProjectAdministration.administers(principal, project: project, state: state)
    }

    /// Every duty of `project` (of `environment` only, when given) and who can do it, in `state` at `time`.
    public static func duties(project key: String, environment only: String? = nil, state: SignoffState, at time: Int64) -> [Duty] {
        guard let project = state.projects[key] else { return [] }
        var duties: [Duty] = []
        for (environment, name) in project.environments.sorted(by: { $0.key < $1.key }) where only.map({ $0 == environment }) ?? true {
            guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { continue }
            func holders(_ roles: [String], delegable: Bool) -> [Holder] {
                var through: [String: [String]] = [:]
                for role in roles {
                    for group in project.groups(bound: role, environment: environment) {
                        let label = "group \(group)" + (state.groups[group]?.directory.map { " (directory \($0))" } ?? "")
                        for member in state.groups[group]?.members ?? [] where state.principals[member]?.disabled == false {
                            through[member, default: []].append(label)
                        }
                        // Round-1 bindings may name a person directly.
                        if state.principals[group]?.disabled == false { through[group, default: []].append("named") }
                    }
                }
                if delegable {
                    for d in state.delegations.values.sorted(by: { $0.id < $1.id })
                    where d.isInForce(at: time) && (d.project.map { $0 == key } ?? true) && through[d.from] != nil
                        && (d.role.map { roles.contains($0) } ?? true) && state.principals[d.to]?.disabled == false
                    {
                        through[d.to, default: []].append("delegation \(d.id) from \(d.from) until \(Timestamps.rfc3339(d.end))")
                    }
                }
                return through.keys.sorted().map { name in
                    let signs = !project.regulated || state.principals[name]?.keys.contains { $0.counts(signedAt: time) } == true
                    return Holder(principal: name, through: Array(Set(through[name]!)).sorted(), canSign: signs)
                }
            }
            duties.append(Duty(environment: environment, stage: nil, duty: "files", roles: [Workflow.requestersRole], holders: holders([Workflow.requestersRole], delegable: false)))
            if let emergency = workflow.emergency {
                let requesters = Set(holders([Workflow.requestersRole], delegable: false).map(\.principal))
                let roles = emergency.filedBy.map(\.value)
                duties.append(Duty(
                    environment: environment, stage: nil, duty: "files an emergency", roles: roles,
                    holders: holders(roles, delegable: false).filter { requesters.contains($0.principal) }))
            }
            for stage in workflow.stages {
                for evidence in stage.gate.evidence where !evidence.attachedBy.isEmpty {
                    let roles = evidence.attachedBy.map(\.value)
                    duties.append(Duty(environment: environment, stage: stage.name, duty: "attaches \(evidence.kind)", roles: roles, holders: holders(roles, delegable: false)))
                }
                for rule in stage.gate.approvals {
                    duties.append(Duty(
                        environment: environment, stage: stage.name, duty: "approves (\(rule.count) needed)", roles: [rule.role.value],
                        holders: holders([rule.role.value], delegable: true)))
                }
                if let actors = stage.gate.actors {
                    let roles = actors.map(\.value)
                    duties.append(Duty(environment: environment, stage: stage.name, duty: "records", roles: roles, holders: holders(roles, delegable: true)))
                }
            }
            // Administering the project: the organisation's administrators and the project's own.
            var administrators: [String: [String]] = [:]
            for person in state.principals.values where person.isAdministrator && !person.disabled { administrators[person.name, default: []].append("administrator") }
            for group in project.roles[ProjectAdministration.role] ?? [] {
                for member in state.groups[group]?.members ?? [] where state.principals[member]?.disabled == false {
                    administrators[member, default: []].append(
                        "group \(group) (\(ProjectAdministration.role)" + (state.groups[group]?.directory.map { ", directory \($0)" } ?? "") + ")")
                }
            }
            duties.append(Duty(
                environment: environment, stage: nil, duty: "administers", roles: ["administrator", ProjectAdministration.role],
                holders: administrators.keys.sorted().map { name in
                    Holder(principal: name, through: administrators[name]!, canSign: state.principals[name]?.keys.contains { $0.trusted && $0.counts(signedAt: time) } == true)
                }))
        }
        return duties
    }

    /// The decisions on `project`'s requests (of `environment`, when given) made from `from` until before `to`, as the
    /// `state` now says: each counted or not, and why not.
    public static func actions(project key: String, environment only: String? = nil, state: SignoffState, from: Int64, to: Int64) -> [Action] {
        var actions: [Action] = []
        for request in state.requests.values where request.project == key && (only.map { $0 == request.environment } ?? true) {
            for decision in request.decisions where decision.at >= from && decision.at < to {
                var note = ""
                if decision.revision != request.revision {
                    note = "superseded: made on revision \(decision.revision), the request is at \(request.revision)"
                } else if let fingerprint = decision.keyFingerprint.map(Ed25519.PublicKey.fingerprintHex),
                    let key = state.principals[decision.by]?.keys.first(where: { $0.fingerprint == fingerprint }), let since = key.compromisedSince,
                    decision.at >= since
                {
                    note = "taken back: its key was marked compromised since \(Timestamps.rfc3339(since))"
                }
                actions.append(Action(
                    time: decision.at, request: request.id, environment: request.environment, stage: decision.stage, decision: decision.decision.rawValue,
                    by: decision.by, onBehalfOf: decision.onBehalfOf, counted: note.isEmpty, note: note))
            }
        }
        return actions.sorted { ($0.time, $0.request, $0.stage, $0.by) < ($1.time, $1.request, $1.stage, $1.by) }
    }
}

