internal import Foundation
public import SignoffCrypto

/// Administration: the ledger, principals and their keys, groups, workflows and projects.
extension Engine {
    static func initializeLedger(origin: String, ledgerKey: NoteVerifierKey, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard state.ledger == nil, state.principals.isEmpty else {
            throw Refusal(.adminBootstrap, "this ledger is already initialised")
        }
        guard ledgerKey.name == origin else { throw Refusal(.inputName, "the ledger key's name must be the origin \(origin)") }
        return [.ledgerInitialized(.init(origin: origin, ledgerKey: ledgerKey.description))]
    }

    static func bootstrapAdministrator(name: String, key: NoteVerifierKey, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard state.principals.isEmpty else { throw Refusal(.adminBootstrap, "this database already has users; an administrator adds the next ones") }
        try validName(name, what: "a user name")
        return [.principalAdded(.init(name: name, kind: .user, administrator: true, verifierKey: key.description))]
    }

    static func addUser(name: String, administrator: Bool, key: NoteVerifierKey?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a user name")
        guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) already exists") }
        if let key { try requireUnusedKey(state, key) }
        return [.principalAdded(.init(name: name, kind: .user, administrator: administrator, verifierKey: key?.description))]
    }

    static func addServiceAccount(name: String, key: NoteVerifierKey?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a service account name")
        guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) already exists") }
        if let key { try requireUnusedKey(state, key) }
        return [.principalAdded(.init(name: name, kind: .serviceAccount, administrator: false, verifierKey: key?.description))]
    }

    static func enrollKey(principal: String, key: NoteVerifierKey, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard state.principals[principal] != nil else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
        try requireUnusedKey(state, key)
        let sensitive = state.groups.values.filter { $0.members.contains(principal) }.map(\.name).filter { regulatedProjects(relyingOn: $0, state).count > 0 }
        if let group = sensitive.first {
            try requireAdminApproval(approval, for: .enrollKey(principal: principal, key: key, approval: approval), reason: "\(principal) is in \(group), which regulated projects rely on", state: state, actor: actor, now: now)
        }
        return [.keyEnrolled(.init(principal: principal, verifierKey: key.description, approval: approval))]
    }

    static func revokeKey(principal: String, fingerprint: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard actor == principal || state.principals[actor]?.isAdministrator == true else {
            throw Refusal(.adminRequired, "only an administrator or the key's owner may revoke a key")
        }
        guard let owner = state.principals[principal] else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
        let fingerprint = Ed25519.PublicKey.fingerprintHex(fingerprint)
        guard owner.keys.contains(where: { $0.fingerprint == fingerprint && $0.revokedAt == nil }) else {
            throw Refusal(.keyUnknown, "\(principal) has no unrevoked key with fingerprint \(fingerprint)")
        }
        return [.keyRevoked(.init(principal: principal, fingerprint: fingerprint))]
    }

    static func createGroup(name: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a group name")
        guard state.groups[name] == nil else { throw Refusal(.inputDuplicate, "group \(name) already exists") }
        guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) is already a user or service account name") }
        return [.groupCreated(.init(name: name))]
    }

    static func addMember(group: String, member: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard let existing = state.groups[group] else { throw Refusal(.inputUnknown, "no group \(group); create it with `signoff group add \(group)`") }
        guard state.principals[member] != nil else { throw Refusal(.inputUnknown, "no user or service account \(member)") }
        guard !existing.members.contains(member) else { throw Refusal(.inputDuplicate, "\(member) is already in \(group)") }
        let projects = regulatedProjects(relyingOn: group, state)
        if !projects.isEmpty {
            try requireAdminApproval(approval, for: .addMember(group: group, member: member, approval: approval), reason: "regulated project \(projects[0]) relies on \(group)", state: state, actor: actor, now: now)
        }
        return [.memberAdded(.init(group: group, member: member, approval: approval))]
    }

    static func applyWorkflow(source: String, file: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        let applied: AppliedWorkflow
        do { applied = try AppliedWorkflow(source: source, file: file) } catch { throw Refusal(.workflowInvalid, error.description) }
        for reference in applied.workflow.groupReferences where reference.value != "deployers" && state.groups[reference.value] == nil {
            throw Refusal(.workflowInvalid,
                WorkflowError(file: file, at: reference.location, "unknown group \"\(reference.value)\"; create it first with `signoff group add`").description)
        }
        if state.currentWorkflows[applied.workflow.name] == applied.digest {
            throw Refusal(.inputDuplicate, "workflow \(applied.workflow.name) is already applied with these exact bytes (\(applied.digest))")
        }
        return [.workflowApplied(.init(name: applied.workflow.name, digest: applied.digest, source: source))]
    }

    static func createProject(spec: ProjectSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(spec.key, what: "a project key")
        guard state.projects[spec.key] == nil else { throw Refusal(.inputDuplicate, "project \(spec.key) already exists") }
        guard !spec.environments.isEmpty else { throw Refusal(.projectInvalid, "a project needs at least one environment, e.g. --env prod=regulated") }
        for (environment, workflow) in spec.environments {
            try validName(environment, what: "an environment name")
            guard state.currentWorkflows[workflow] != nil else {
                throw Refusal(.projectInvalid, "environment \(environment) names workflow \(workflow), which is not applied; run `signoff workflow apply`")
            }
        }
        guard !spec.requesters.isEmpty else { throw Refusal(.projectInvalid, "a project needs at least one requesters group") }
        for group in spec.requesters + spec.deployers.values.flatMap({ $0 }) where state.groups[group] == nil {
            throw Refusal(.projectInvalid, "no group \(group); create it with `signoff group add \(group)`")
        }
        for environment in spec.deployers.keys where spec.environments[environment] == nil {
            throw Refusal(.projectInvalid, "deployers are given for \(environment), which is not one of the project's environments")
        }
        if spec.regulated {
            try requireAdminApproval(approval, for: .createProject(spec, approval: approval), reason: "\(spec.key) is regulated", state: state, actor: actor, now: now)
        }
        return [.projectCreated(.init(project: spec, approval: approval))]
    }
}
