/// Project administrators: the members of the groups a project binds to its `project-admins` role. They manage, for
/// their project only, the membership of groups no other project binds (never the project's own `project-admins` group,
/// never `auditors`), the project's freezes, the delegations given for it and its webhook subscriptions — signed with
/// their own trusted keys where administration is signed. Where a change needs the quorum, the project's
/// administrators and the organisation's count toward it together, as distinct people. Everything organisation-wide
/// (users, keys, workflows, projects and their bindings, issuers, the quorum) stays with administrators.
public enum ProjectAdministration {
    /// The role a project binds to the groups of its administrators.
    public static let role = "project-admins"

    /// The enabled members of the groups `project` binds to ``role`` (project-wide; the role is never bound per
    /// environment), sorted.
    public static func administrators(of project: String, state: SignoffState) -> [String] {
        guard let groups = state.projects[project]?.roles[role] else { return [] }
        return state.principals.keys.filter { state.matches($0, any: groups) && state.principals[$0]?.disabled != true }.sorted()
    }

    /// Whether `principal` administers `project`.
    public static func administers(_ principal: String, project: String, state: SignoffState) -> Bool {
        administrators(of: project, state: state).contains(principal)
    }

    /// The project whose administrators may make `command` (nil: only the organisation's administrators may). A group's
    /// membership belongs to a project when that project is the only one binding the group, and the group is neither
    /// `auditors` nor bound to that project's `project-admins` (who administers a project is the organisation's call).
    public static func project(of command: Command, state: SignoffState) -> String? {
        switch command {
        case .addMember(let group, _, _), .removeMember(let group, _, _):
            guard group != Access.auditorsGroup else { return nil }
            let binding = state.projects.values.filter { $0.boundGroups.contains(group) }
            guard binding.count == 1, let project = binding.first, !(project.roles[role] ?? []).contains(group) else { return nil }
            return project.key
        case .addFreeze(let spec, _): return spec.project
        case .liftFreeze(let id, _), .exemptFromFreeze(let id, _, _, _): return state.freezes[id]?.project
        // A subscription to private addresses is the organisation's to allow (it reaches inside the network).
        case .addWebhook(let spec, _): return spec.allowPrivate ? nil : spec.project
        case .removeWebhook(let id, _): return state.webhooks[id]?.spec.project
        case .revokeDelegation(let id, _): return state.delegations[id]?.project
        default: return nil
        }
    }

    /// Whether `actor` is an administrator of the project `command` concerns (``project(of:state:)``).
    public static func mayMake(_ command: Command, state: SignoffState, actor: String) -> Bool {
        guard let project = project(of: command, state: state) else { return false }
        return administers(actor, project: project, state: state)
    }
}

extension Engine {
    /// The maker of an administrative change: an enabled administrator, or — for the changes a project's
    /// administrators may make (``ProjectAdministration/project(of:state:)``) — one of that project's administrators.
    static func requireMaker(_ command: Command, state: SignoffState, actor: String) throws {
        if let principal = state.principals[actor], principal.isAdministrator, !principal.disabled { return }
        if ProjectAdministration.mayMake(command, state: state, actor: actor) { return }
        if let project = ProjectAdministration.project(of: command, state: state) {
            throw Refusal(.adminRequired, "only an administrator or an administrator of project \(project) (its \(ProjectAdministration.role) role) may do this; \(actor) is neither")
        }
        throw Refusal(.adminRequired, "only an administrator may do this; \(actor) is not one")
    }

    /// Who may sign `command` as administration: the enabled administrators, and the administrators of the project it
    /// concerns (for the changes they may make).
    static func signers(for command: Command, state: SignoffState) -> Set<String> {
        var names = Set(enabledAdministrators(state).map(\.name))
        if let project = ProjectAdministration.project(of: command, state: state) {
            names.formUnion(ProjectAdministration.administrators(of: project, state: state))
        }
        return names
    }
}
