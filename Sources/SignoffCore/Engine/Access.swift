/// Who may read a project's requests and trail: administrators, members of the `auditors` group, holders of any of
/// the project's roles (members of the groups it binds), and their delegates while a delegation is in force.
public enum Access {
    /// The group whose members may read every project's trail.
    public static let auditorsGroup = "auditors"

    /// Whether `principal` may read `key`'s requests: an administrator, an auditor, a holder of any of the project's
    /// roles, or (given `now`) the delegate of such a holder under a delegation in force for the project.
    public static func mayRead(project key: String, principal: String, state: SignoffState, now: Int64? = nil) -> Bool {
        guard let person = state.principals[principal] else { return false }
        if person.isAdministrator || state.isMember(principal, of: auditorsGroup) { return true }
        if holdsRole(in: key, principal: principal, state: state) { return true }
        guard let now else { return false }
        // A delegation passes on the delegator's roles in the project — never their administrator's or auditor's reach.
        return state.delegations.values.contains { d in
            d.to == principal && d.isInForce(at: now) && (d.project.map { $0 == key } ?? true) && state.principals[d.from]?.disabled != true
                && holdsRole(in: key, principal: d.from, state: state)
        }
    }

    /// Whether service-token scopes (`ACTION:PROJECT`, `ACTION:*`) concern `project` at all.
    public static func scopes(_ scopes: [String], concern project: String) -> Bool {
        scopes.contains { $0.hasSuffix(":" + project) || $0.hasSuffix(":*") }
    }

    /// Whether `principal` holds any of the project's roles, on any environment.
    static func holdsRole(in key: String, principal: String, state: SignoffState) -> Bool {
        guard let project = state.projects[key] else { return false }
        // Whoever holds any role of the project — on any environment — reads its requests; nobody else but
        // administrators and auditors. (Round-1 projects: also the groups their workflows name.)
        var groups = project.boundGroups
        if project.namesGroups {
            for name in project.environments.values {
                guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { continue }
                groups.formUnion(workflow.roleReferences.map(\.value))
            }
        }
        return groups.contains { $0 == principal || state.isMember(principal, of: $0) }
    }
}
