/// Who may read a project's requests and trail: administrators, members of the groups the project names (requesters,
/// deployers) or that its environments' workflows name, and members of the `auditors` group.
public enum Access {
    /// The group whose members may read every project's trail.
    public static let auditorsGroup = "auditors"

    public static func mayRead(project key: String, principal: String, state: SignoffState) -> Bool {
        guard let person = state.principals[principal] else { return false }
        if person.isAdministrator || state.isMember(principal, of: auditorsGroup) { return true }
        guard let project = state.projects[key] else { return false }
        var groups = Set(project.requesters)
        for list in project.deployers.values { groups.formUnion(list) }
        for name in project.environments.values {
            guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { continue }
            groups.formUnion(workflow.groupReferences.map(\.value))
            for stage in workflow.stages { for requirement in stage.gate.evidence { groups.formUnion(requirement.attachedBy.map(\.value)) } }
        }
        return groups.contains { $0 == principal || state.isMember(principal, of: $0) }
    }
}
