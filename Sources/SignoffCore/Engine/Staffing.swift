/// Who is left to act: for each environment of a project, whether every stage of its workflow — and filing, and filing
/// an emergency — still has enough people who can supply it. A person counts when enabled and holding the role; in a
/// regulated project, where decisions are signed, a decider counts only with a key that can sign now (enrolled, not
/// revoked, not marked compromised). `project create`/`update`, `user disable` and `group remove-member` say what their
/// change would leave unstaffed (and refuse it with `--strict`): after an offboarding, nobody noticed that nobody could
/// file an emergency any more.
public enum Staffing {
    /// One place nobody (or too few) can act.
    public struct Gap: Hashable, Sendable, CustomStringConvertible {
        public let project: String
        public let environment: String
        /// The stage, or `filing` / `emergency filing`.
        public let what: String
        public let roles: [String]
        public let needed: Int
        public let available: [String]

        public var description: String {
            let who = available.isEmpty ? "nobody can" : "only \(available.joined(separator: ", ")) can"
            // An emergency is filed by a requester who also holds one of its roles: members of those roles alone are not enough.
            let also = what == Self.emergencyFiling ? " who is also one of \(Workflow.requestersRole)" : ""
            return "\(project) on \(environment): \(what) needs \(needed) of \(roles.joined(separator: " or "))\(also); \(who)"
        }

        static let emergencyFiling = "emergency filing"
    }

    /// The refusal of a change that would open `gaps` when strictness was asked: what it leaves, and what to do.
    public static func refusal(_ gaps: [Gap]) -> Refusal {
        Refusal(
            .staffingGap,
            "this change would leave " + gaps.map(\.description).joined(separator: "; ")
                + ": add someone who can act first (a member of a bound group, with a key in a regulated project), or run it without --strict to record it with this warning")
    }

    /// The gaps of `project` in `state` at `now`.
    public static func gaps(of key: String, state: SignoffState, now: Int64) -> [Gap] {
        guard let project = state.projects[key] else { return [] }
        var gaps: [Gap] = []
        for (environment, name) in project.environments.sorted(by: { $0.key < $1.key }) {
            guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { continue }
            func able(_ roles: [String], signing: Bool) -> [String] {
                Set(roles.flatMap { state.holders(of: $0, project: key, environment: environment) }).filter { name in
                    guard signing && project.regulated else { return true }
                    return state.principals[name]?.keys.contains { $0.counts(signedAt: now) } == true
                }.sorted()
            }
            func check(_ what: String, roles: [String], needed: Int, signing: Bool) {
                let available = able(roles, signing: signing)
                if available.count < needed {
                    gaps.append(Gap(project: key, environment: environment, what: what, roles: roles, needed: needed, available: available))
                }
            }
            check("filing", roles: [Workflow.requestersRole], needed: 1, signing: false)
            if let emergency = workflow.emergency {
                // An emergency is filed by a requester who also holds one of its roles.
                let requesters = Set(able([Workflow.requestersRole], signing: false))
                let filers = able(emergency.filedBy.map(\.value), signing: false).filter(requesters.contains)
                if filers.isEmpty {
                    gaps.append(Gap(project: key, environment: environment, what: Gap.emergencyFiling, roles: emergency.filedBy.map(\.value), needed: 1, available: []))
                }
            }
            for stage in workflow.stages {
                for evidence in stage.gate.evidence where !evidence.attachedBy.isEmpty {
                    check("\(stage.name) (\(evidence.kind) evidence)", roles: evidence.attachedBy.map(\.value), needed: 1, signing: false)
                }
                for rule in stage.gate.approvals {
                    check("\(stage.name) (approvals)", roles: [rule.role.value], needed: rule.count, signing: true)
                }
                if let actors = stage.gate.actors {
                    check("\(stage.name) (who records it)", roles: actors.map(\.value), needed: 1, signing: false)
                }
            }
        }
        return gaps
    }

    /// The gaps `command` would open: those after it that were not there before (a project created has none before).
    /// Nil when the command is refused or concerns no project's staffing.
    public static func opened(by command: Command, state: SignoffState, actor: String, now: Int64) -> [Gap]? {
        let projects: [String]
        switch command {
        case .createProject(let spec, _), .updateProject(let spec, _): projects = [spec.key]
        case .disablePrincipal(let name, _):
            projects = state.projects.keys.filter { Access.holdsRole(in: $0, principal: name, state: state) }.sorted()
        case .removeMember(let group, _, _):
            projects = state.projects.values.filter { $0.boundGroups.contains(group) }.map(\.key).sorted()
        default: return nil
        }
        guard case .success(let events) = Engine.execute(command, on: state, actor: actor, now: now) else { return nil }
        var after = state
        for event in events { after.apply(event, actor: actor, at: now) }
        var opened: [Gap] = []
        for key in projects {
            let before = Set(gaps(of: key, state: state, now: now).map { [$0.environment, $0.what] })
            opened += gaps(of: key, state: after, now: now).filter { !before.contains([$0.environment, $0.what]) }
        }
        return opened
    }
}
