internal import Foundation
public import SignoffCrypto

/// Administration: the ledger, principals and their keys, groups, workflows, projects, the administrators' quorum and
/// service tokens. Who may sign an administrative change, and how many must, is ``verifyAdministration(_:state:actor:now:)``.
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

    static func addUser(name: String, administrator: Bool, key: NoteVerifierKey?, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a user name")
        guard state.principals[name] == nil, state.groups[name] == nil, name != systemActor else { throw Refusal(.inputDuplicate, "\(name) already exists") }
        if let key { try requireUnusedKey(state, key) }
        return [.principalAdded(.init(name: name, kind: .user, administrator: administrator, verifierKey: key?.description, approval: approval))]
    }

    static func addServiceAccount(name: String, key: NoteVerifierKey?, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a service account name")
        guard state.principals[name] == nil, state.groups[name] == nil, name != systemActor else { throw Refusal(.inputDuplicate, "\(name) already exists") }
        if let key { try requireUnusedKey(state, key) }
        return [.principalAdded(.init(name: name, kind: .serviceAccount, administrator: false, verifierKey: key?.description, approval: approval))]
    }

    static func enrollKey(principal: String, key: NoteVerifierKey, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard state.principals[principal] != nil else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
        try requireUnusedKey(state, key)
        return [.keyEnrolled(.init(principal: principal, verifierKey: key.description, approval: approval))]
    }

    /// Self-enrolment: a person adds a key of their own with a statement signed by one of their current keys (one that
    /// still counts: enrolled, not revoked, not compromised), fresh and used once. Service accounts' keys are an
    /// administrator's to enrol.
    static func enrollOwnKey(key: NoteVerifierKey, proof: DSSEEnvelope, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard let person = state.principals[actor], person.kind == .user else {
            throw Refusal(.adminRequired, "only a user adds a key of their own; an administrator enrols a service account's keys")
        }
        try requireUnusedKey(state, key)
        try verifyActorStatement(
            proof, as: KeyEnrolmentStatement.self, payloadType: KeyEnrolmentStatement.payloadType, signedTime: \.time,
            describing: "\(actor)'s enrolment of this key", state: state, actor: actor, now: now
        ) { $0.principal == actor && $0.verifierKey == key.description }
        return [.keyEnrolled(.init(principal: actor, verifierKey: key.description, approval: nil, proof: proof))]
    }

    static func revokeKey(
        principal: String, fingerprint: String, compromisedSince: Int64?, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64
    ) throws -> [Event] {
        guard actor == principal || state.principals[actor]?.isAdministrator == true else {
            throw Refusal(.adminRequired, "only an administrator or the key's owner may revoke a key")
        }
        guard let owner = state.principals[principal] else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
        let fingerprint = Ed25519.PublicKey.fingerprintHex(fingerprint)
        guard let key = owner.keys.first(where: { $0.fingerprint == fingerprint && $0.revokedAt == nil }) else {
            throw Refusal(.keyUnknown, "\(principal) has no unrevoked key with fingerprint sha256:\(fingerprint)")
        }
        if let compromisedSince {
            guard compromisedSince <= now else {
                throw Refusal(.keyCompromisedSince, "--compromised-since \(Timestamps.rfc3339(compromisedSince)) is in the future")
            }
            // Before its enrolment the key signed nothing that counted: such a time would only reach further back.
            guard compromisedSince >= key.enrolledAt else {
                throw Refusal(
                    .keyCompromisedSince,
                    "--compromised-since \(Timestamps.rfc3339(compromisedSince)) is before the key was enrolled (\(Timestamps.rfc3339(key.enrolledAt))); give a time since then")
            }
        }
        var events: [Event] = [.keyRevoked(.init(principal: principal, fingerprint: key.fingerprint, compromisedSince: compromisedSince, approval: approval))]
        if let compromisedSince {
            events += compromiseReach(of: key.fingerprint, owner: owner, since: compromisedSince, approval: approval, state: state, now: now)
        }
        return events
    }

    /// What a key compromised since `since` vouched for from then on, taken back with it in the same change (the same
    /// approval): the keys its owner self-enrolled with a proof it signed (and, in turn, what those vouched for) —
    /// revoked as compromised since their own enrolment — and the delegations its owner granted with a statement it
    /// signed. Whoever held the key could make both; neither may outlive the marking.
    static func compromiseReach(of fingerprint: String, owner: Principal, since: Int64, approval: DSSEEnvelope?, state: SignoffState, now: Int64) -> [Event] {
        var events: [Event] = []
        var compromised: [(fingerprint: String, since: Int64)] = [(fingerprint, since)]
        var revoked: Set<String> = [fingerprint]
        while let (voucher, from) = compromised.popLast() {
            for key in owner.keys where key.revokedAt == nil && !revoked.contains(key.fingerprint) && key.vouchedBy.contains(voucher) && key.enrolledAt >= from {
                revoked.insert(key.fingerprint)
                compromised.append((key.fingerprint, key.enrolledAt))
                events.append(.keyRevoked(.init(principal: owner.name, fingerprint: key.fingerprint, compromisedSince: key.enrolledAt, approval: approval)))
            }
        }
        let reach = Dictionary(uniqueKeysWithValues: owner.keys.filter { revoked.contains($0.fingerprint) }.map { key in
            (key.fingerprint, key.fingerprint == fingerprint ? since : key.enrolledAt)
        })
        for delegation in state.delegations.values.sorted(by: { $0.id < $1.id })
        where delegation.from == owner.name && delegation.revokedAt == nil && delegation.end > now {
            guard let grantedAt = delegation.grantedAt,
                (delegation.signedWith ?? []).contains(where: { reach[$0].map { grantedAt >= $0 } ?? false })
            else { continue }
            events.append(.delegationRevoked(.init(id: delegation.id, approval: approval)))
        }
        return events
    }

    static func createGroup(name: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a group name")
        guard state.groups[name] == nil else { throw Refusal(.inputDuplicate, "group \(name) already exists") }
        guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) is already a user or service account name") }
        return [.groupCreated(.init(name: name, approval: approval))]
    }

    static func addMember(group: String, member: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.addMember(group: group, member: member), state: state, actor: actor)
        guard let existing = state.groups[group] else { throw Refusal(.inputUnknown, createGroups([group], state: state)) }
        guard state.principals[member] != nil else { throw Refusal(.inputUnknown, "no user or service account \(member)") }
        guard !existing.members.contains(member) else { throw Refusal(.inputDuplicate, "\(member) is already in \(group)") }
        return [.memberAdded(.init(group: group, member: member, approval: approval))]
    }

    static func removeMember(group: String, member: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.removeMember(group: group, member: member), state: state, actor: actor)
        guard let existing = state.groups[group] else { throw Refusal(.inputUnknown, "no group \(group)") }
        guard existing.members.contains(member) else { throw Refusal(.inputUnknown, "\(member) is not in \(group)") }
        return [.memberRemoved(.init(group: group, member: member, approval: approval))]
    }

    static func applyWorkflow(source: String, file: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        let applied: AppliedWorkflow
        do { applied = try AppliedWorkflow(source: source, file: file) } catch { throw Refusal(.workflowInvalid, error.description) }
        // A new version of a workflow in use must not name a role a project using it leaves unbound: nobody would hold it.
        for project in state.projects.values.sorted(by: { $0.key < $1.key }) {
            for (environment, name) in project.environments.sorted(by: { $0.key < $1.key }) where name == applied.workflow.name {
                for reference in applied.workflow.roleReferences where project.groups(bound: reference.value, environment: environment).isEmpty {
                    throw Refusal(.workflowInvalid, WorkflowError(
                        file: file, at: reference.location,
                        "role \"\(reference.value)\" is not bound by project \(project.key) (environment \(environment)), which uses this workflow; bind it first with `signoff project update \(project.key) --role \(reference.value)=GROUP`").description)
                }
            }
        }
        if state.currentWorkflows[applied.workflow.name] == applied.digest {
            throw Refusal(.inputDuplicate, "workflow \(applied.workflow.name) is already applied with these exact bytes (\(applied.digest))")
        }
        return [.workflowApplied(.init(name: applied.workflow.name, digest: applied.digest, source: source, approval: approval))]
    }

    /// Groups that do not exist, and how to create them: by an administrator, with their key where a regulated project
    /// makes every administrative change a signed one.
    static func createGroups(_ missing: some Collection<String>, state: SignoffState) -> String {
        let names = missing.sorted()
        let key = hasRegulatedProject(state) ? " --key ADMIN.key" : ""
        return names.count == 1
            ? "no group \(names[0]); create it with `signoff group add \(names[0]) --as ADMIN\(key)`"
            : "no groups \(names.joined(separator: ", ")); create each with `signoff group add NAME --as ADMIN\(key)`"
    }

    /// The checks a project definition must pass, new or updated.
    static func validProject(_ spec: ProjectSpec, state: SignoffState) throws {
        try validName(spec.key, what: "a project key")
        guard !spec.environments.isEmpty else { throw Refusal(.projectInvalid, "a project needs at least one environment, e.g. --env prod=regulated") }
        for (environment, workflow) in spec.environments {
            try validName(environment, what: "an environment name")
            guard state.currentWorkflows[workflow] != nil else {
                throw Refusal(.projectInvalid, "environment \(environment) names workflow \(workflow), which is not applied; run `signoff workflow apply`")
            }
        }
        for (binding, groups) in spec.roles {
            let parts = binding.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2 else { throw Refusal(.projectInvalid, "role binding \(binding.prefix(80)) must be ROLE or ROLE@ENVIRONMENT") }
            try validName(parts[0], what: "a role")
            if parts[0] == ProjectAdministration.role, parts.count == 2 {
                throw Refusal(.projectInvalid, "\(ProjectAdministration.role) is bound for the whole project, not per environment")
            }
            if parts.count == 2, spec.environments[parts[1]] == nil {
                throw Refusal(.projectInvalid, "role \(parts[0]) is bound for \(parts[1]), which is not one of the project's environments")
            }
            guard !groups.isEmpty else { throw Refusal(.projectInvalid, "role \(binding) must be bound to at least one group") }
        }
        // Every missing group at once, not one per attempt.
        let missing = Set(spec.roles.values.joined()).filter { state.groups[$0] == nil }
        if !missing.isEmpty { throw Refusal(.projectInvalid, createGroups(missing, state: state)) }
        // Every role the environment's workflow names must be bound there: an unbound role would silently let nobody in.
        let project = Project(spec)
        for (environment, name) in spec.environments.sorted(by: { $0.key < $1.key }) {
            guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { continue }
            for role in workflow.roles where project.groups(bound: role, environment: environment).isEmpty {
                throw Refusal(
                    .projectInvalid,
                    "the \(name) workflow of \(environment) names the role \(role), which \(spec.key) does not bind: add --role \(role)=GROUP (or \(role)@\(environment)=GROUP)")
            }
        }
    }

    static func createProject(spec: ProjectSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validProject(spec, state: state)
        guard state.projects[spec.key] == nil else { throw Refusal(.inputDuplicate, "project \(spec.key) already exists") }
        return [.projectCreated(.init(project: spec, approval: approval))]
    }

    static func updateProject(spec: ProjectSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard let existing = state.projects[spec.key] else { throw Refusal(.inputUnknown, "no project \(spec.key)") }
        try validProject(spec, state: state)
        guard spec.regulated || !existing.regulated else {
            throw Refusal(.projectInvalid, "\(spec.key) is regulated and stays regulated: a project's audit trail does not lose its protections")
        }
        return [.projectUpdated(.init(project: spec, approval: approval))]
    }

    static func addFreeze(_ spec: FreezeSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.addFreeze(spec), state: state, actor: actor)
        try validName(spec.environment, what: "an environment name")
        if let key = spec.project {
            guard let project = state.projects[key] else { throw Refusal(.inputUnknown, "no project \(key)") }
            guard project.environments[spec.environment] != nil else {
                throw Refusal(.projectEnvironment, "project \(key) has no environment \(spec.environment)")
            }
        } else if !state.projects.values.contains(where: { $0.environments[spec.environment] != nil }) {
            throw Refusal(.projectEnvironment, "no project has an environment \(spec.environment)")
        }
        guard spec.from < spec.until, spec.until > now else {
            throw Refusal(.freezeInvalid, "a freeze must end after it starts, and in the future (--from … --until …)")
        }
        try validText(spec.reason, what: "the reason")
        guard !spec.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw Refusal(.freezeInvalid, "a freeze needs a reason (--reason): requesters and auditors read it")
        }
        return [.freezeAdded(.init(id: "FRZ-\(state.freezes.count + 1)", freeze: spec, approval: approval))]
    }

    static func liftFreeze(id: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.liftFreeze(id: id), state: state, actor: actor)
        guard let freeze = state.freezes[id] else { throw Refusal(.inputUnknown, "no freeze \(id); `signoff freeze list` shows them") }
        guard freeze.liftedAt == nil, freeze.until > now else { throw Refusal(.freezeInvalid, "\(id) is already over") }
        return [.freezeLifted(.init(id: id, approval: approval))]
    }

    /// Break-glass through a freeze, for one request: made and signed as lifting the freeze would be; the request must
    /// be open and of the freeze's project and environment, and the freeze not over. Nothing else passes the freeze.
    static func exemptFromFreeze(id: String, request: String, reason: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.exemptFromFreeze(id: id, request: request, reason: reason), state: state, actor: actor)
        guard let freeze = state.freezes[id] else { throw Refusal(.inputUnknown, "no freeze \(id); `signoff freeze list` shows them") }
        guard freeze.liftedAt == nil, freeze.until > now else { throw Refusal(.freezeInvalid, "\(id) is already over") }
        let target = try requireActive(state, request)
        guard freeze.environment == target.environment, freeze.project.map({ $0 == target.project }) ?? true else {
            throw Refusal(.freezeInvalid, "\(id) freezes \(freeze.environment) of \(freeze.project ?? "every project"), not \(target.environment) of \(target.project), where \(request) deploys")
        }
        // An exemption of an earlier revision no longer counts (``Freeze/exemption(for:)``): the revision may be exempted anew.
        guard freeze.exemption(for: target) == nil else { throw Refusal(.inputDuplicate, "\(request) is already exempted from \(id)") }
        try validText(reason, what: "the reason")
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw Refusal(.freezeInvalid, "an exemption needs a reason (--reason): the retrospective and the auditors read it")
        }
        return [.freezeExempted(.init(id: id, request: request, reason: reason, approval: approval))]
    }

    static func setEnabled(_ enabled: Bool, name: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard let principal = state.principals[name] else { throw Refusal(.inputUnknown, "no user or service account \(name)") }
        guard principal.disabled == enabled else { throw Refusal(.inputDuplicate, "\(name) is already \(enabled ? "enabled" : "disabled")") }
        if !enabled, principal.isAdministrator, enabledAdministrators(state).count <= 1 {
            throw Refusal(.adminRequired, "\(name) is the last enabled administrator; add another administrator first")
        }
        let status = Event.PrincipalStatus(principal: name, approval: approval)
        return [enabled ? .principalEnabled(status) : .principalDisabled(status)]
    }

    static func setAdminQuorum(_ quorum: Int, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard (1...5).contains(quorum) else { throw Refusal(.inputText, "the administrators' quorum is 1 to 5, not \(quorum)") }
        guard quorum != state.adminQuorum else { throw Refusal(.inputDuplicate, "the administrators' quorum is already \(quorum)") }
        return [.adminQuorumSet(.init(quorum: quorum, approval: approval))]
    }

    static func issueServiceToken(
        tokenID: String, principal: String, scopes: [String], lifetimeHours: Int, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64
    ) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard let account = state.principals[principal], account.kind == .serviceAccount else {
            throw Refusal(.inputUnknown, "no service account \(principal)")
        }
        guard !account.disabled else { throw Refusal(.principalDisabled, "\(principal) is disabled") }
        try validScopes(scopes, state: state)
        guard lifetimeHours >= 1 else { throw Refusal(.inputText, "a service token needs a lifetime of an hour or more") }
        return [.serviceTokenIssued(.init(tokenID: tokenID, principal: principal, scopes: scopes, lifetimeHours: lifetimeHours, approval: approval))]
    }

    /// A service token's scopes (and a pipeline rule's): one or more `ACTION:PROJECT`, a known project or `*`.
    static func validScopes(_ scopes: [String], state: SignoffState) throws {
        guard !scopes.isEmpty else { throw Refusal(.inputText, "a service token needs at least one scope") }
        let actions: Set<String> = ["read", "request", "evidence", "deploy", "gate", "metrics"]
        for scope in scopes {
            let parts = scope.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, actions.contains(parts[0]), parts[1] == "*" || (parts[0] != "metrics" && state.projects[parts[1]] != nil) else {
                throw Refusal(.inputText, "scope \(scope) must be ACTION:PROJECT with ACTION one of \(actions.sorted().joined(separator: ", ")) and a known project (or *; metrics:* only)")
            }
        }
    }

    /// An administrator ends another principal's token: recorded, and signed like every administrative change in a
    /// regulated ledger. (Its owner ends their own without the engine.)
    static func revokeToken(id: String, principal: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard state.principals[principal] != nil else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
        guard principal != actor else {
            throw Refusal(.inputText, "your own token is yours to revoke without administration (POST /v1/auth/revoke or /v1/tokens/{id}/revoke)")
        }
        return [.tokenRevoked(.init(tokenID: id, principal: principal, approval: approval))]
    }

    // MARK: Who signs administration

    /// Enabled administrators.
    static func enabledAdministrators(_ state: SignoffState) -> [Principal] {
        state.principals.values.filter { $0.isAdministrator && !$0.disabled }
    }

    /// Enabled administrators holding a trusted key valid at `now`: those who could sign.
    static func signingAdministrators(_ state: SignoffState, now: Int64) -> Int {
        enabledAdministrators(state).filter { $0.keys.contains { $0.trusted && $0.counts(signedAt: now) } }.count
    }

    /// Whether the ledger holds a regulated project: from then on every administrative change is signed.
    static func hasRegulatedProject(_ state: SignoffState) -> Bool { state.projects.values.contains { $0.regulated } }

    /// Whether `command` needs `admin_quorum` administrators' signatures: its row of the catalogue
    /// (``AdminAction/rule``) says never, always, or when it touches what a regulated project relies on — decided here,
    /// per command, as the row's words say.
    static func quorumApplies(_ command: Command, state: SignoffState) -> Bool {
        guard let action = command.adminAction else { return false }
        switch action.rule.quorum {
        case .never: return false
        case .always: return true
        case .whenReliedOn: break
        }
        func isAdministrator(_ name: String) -> Bool { state.principals[name]?.isAdministrator == true }
        func reliedOn(_ member: String) -> Bool {
            isAdministrator(member) || state.groups.values.contains { $0.members.contains(member) && !regulatedProjects(relyingOn: $0.name, state).isEmpty }
        }
        func coversRegulated(environment: String, project: String?) -> Bool {
            if let project { return state.projects[project]?.regulated == true }
            return state.projects.values.contains { $0.regulated && $0.environments[environment] != nil }
        }
        switch command {
        case .addUser(_, let administrator, _, _): return administrator
        case .enrollKey(let p, _, _), .enablePrincipal(let p, _), .issueServiceToken(_, let p, _, _, _): return reliedOn(p)
        // Revoking plainly only takes authority away — but an administrator's key, revoked or disabled by one stolen
        // key, would shrink who can sign until that one key alone met the quorum. Marking a key compromised takes back
        // what it signed, whoever holds it now: removing its owner from their groups first (one signature) must not
        // bring it under one key.
        case .revokeKey(let p, _, let since, _): return isAdministrator(p) || since != nil
        case .disablePrincipal(let p, _): return isAdministrator(p)
        case .addMember(let group, _, _): return group == Access.auditorsGroup || !regulatedProjects(relyingOn: group, state).isEmpty
        case .applyWorkflow(let source, let file, _):
            guard let name = (try? AppliedWorkflow(source: source, file: file))?.workflow.name else { return false }
            return state.projects.values.contains { $0.regulated && $0.environments.values.contains(name) }
        case .createProject(let spec, _): return spec.regulated
        case .updateProject(let spec, _): return spec.regulated || state.projects[spec.key]?.regulated == true
        case .addFreeze(let spec, _): return coversRegulated(environment: spec.environment, project: spec.project)
        case .liftFreeze(let id, _), .exemptFromFreeze(let id, _, _, _):
            return state.freezes[id].map { coversRegulated(environment: $0.environment, project: $0.project) } ?? false
        case .addWebhook(let spec, _): return spec.project.map { state.projects[$0]?.regulated == true } ?? true
        // Removing the subscription that carries a regulated project's trail out silences its live audit feed.
        case .removeWebhook(let id, _): return state.webhooks[id].map { $0.spec.project.map { state.projects[$0]?.regulated == true } ?? true } ?? false
        // Linking a group a regulated project binds hands its membership to the directory.
        case .linkGroup(let group, let directory, _): return directory != nil && !regulatedProjects(relyingOn: group, state).isEmpty
        default: return false
        }
    }

    /// Whether `command`, made by `actor`, is administration. Withdrawing a request, revoking a delegation and a token
    /// are their owner's to do plainly; an administrator doing it to someone else's makes an administrative change.
    /// (Anyone else is refused by the command's own rule.)
    public static func isAdministrative(_ command: Command, state: SignoffState, actor: String) -> Bool {
        let administrator = state.principals[actor]?.isAdministrator == true
        switch command {
        case .withdraw(let id, _, _):
            guard let request = state.requests[id] else { return false }
            return request.requester != actor && administrator
        case .revokeDelegation(let id, _):
            guard let delegation = state.delegations[id] else { return false }
            return delegation.from != actor && (administrator || ProjectAdministration.mayMake(command, state: state, actor: actor))
        default:
            return command.adminChange != nil
        }
    }

    /// Administration is signed: once the ledger has a regulated project (or the change creates one), every
    /// administrative change carries an ``AdminApproval`` of exactly this change, fresh and never used, signed by the
    /// acting administrator — and, where ``quorumApplies(_:state:)``, by `admin_quorum` distinct administrators (at most
    /// as many as could sign). A signature counts only with an administrator's key that is valid now and whose own
    /// enrolment was signed (or that is the first administrator's). A principal revoking their own key needs no
    /// administrator: plainly with a session, but marking it compromised — which takes back what it signed — is signed
    /// by another current key of theirs. Marking a key compromised is always signed, regulated ledger or not. An
    /// approval that is given is always checked, required or not.
    static func verifyAdministration(_ command: Command, state: SignoffState, actor: String, now: Int64) throws {
        guard let change = command.adminChange, isAdministrative(command, state: state, actor: actor) else { return }
        // A principal may revoke their own key without an administrator (a lost laptop) — except an administrator,
        // whose key signs administration: a stolen administrator's session must not be able to revoke it (a lockout).
        var ownKey: String?
        var markedCompromised = false
        if case .revokeKey(let principal, let fingerprint, let since, _) = command {
            markedCompromised = since != nil
            if principal == actor, state.principals[actor]?.isAdministrator != true { ownKey = Ed25519.PublicKey.fingerprintHex(fingerprint) }
        }
        // Who may is decided first: a refusal for a non-administrator names the permission, not a missing signature.
        if ownKey == nil { try requireMaker(command, state: state, actor: actor) }
        let creatingRegulated: Bool = { if case .createProject(let spec, _) = command { return spec.regulated } else { return false } }()
        // Trusting an issuer or connecting a directory opens a door (who signs in, which jobs act as a service account, who
        // is added and disabled): signed, regulated ledger or not.
        let trustsIssuer: Bool = {
            switch command {
            case .trustIssuer, .connectDirectory: return true
            default: return false
            }
        }()
        let required = ((hasRegulatedProject(state) || creatingRegulated || trustsIssuer) && ownKey == nil) || markedCompromised
        guard let envelope = command.approval else {
            if markedCompromised {
                throw Refusal(
                    .keyCompromiseSignature,
                    ownKey != nil
                        ? "marking your key compromised takes back what it signed: sign it with another of your current keys (--key OTHER.key), never the key marked, or ask an administrator"
                        : "marking a key compromised takes back what it signed: sign the change with your administrator key (--key)")
            }
            if trustsIssuer {
                throw Refusal(.adminSignatureRequired, "trusting an issuer or connecting a directory is always signed with an administrator's key (--key)")
            }
            if required {
                throw Refusal(
                    .adminSignatureRequired,
                    "this ledger has a regulated project: every administrative change must be signed with an administrator's key (--key)")
            }
            return
        }
        guard envelope.payloadType == AdminApproval.payloadType else {
            throw Refusal(.signatureInvalid, "the envelope's payloadType is \(envelope.payloadType), expected \(AdminApproval.payloadType)")
        }
        guard envelope.signatures.count <= DSSEEnvelope.maximumSignatures else {
            throw Refusal(.signatureInvalid, "an approval carries at most \(DSSEEnvelope.maximumSignatures) signatures, not \(envelope.signatures.count)")
        }
        guard StrictJSON.duplicateKey(in: envelope.payload) == nil,
            let approval = try? JSONDecoder().decode(AdminApproval.self, from: Data(envelope.payload)), approval.change == change,
            AdminApproval.statesExactly(change, payload: envelope.payload)
        else {
            throw Refusal(.adminSignature, "the administrators' signature is not over this exact change")
        }
        _ = try requireFreshAndUnused(SHA256Digest.hash(envelope.payload), signedTime: approval.time, state: state, now: now)
        let message = envelope.signedBytes
        if let marked = ownKey {
            try verifyOwnRevocation(envelope, message: message, marked: marked, compromised: markedCompromised, state: state, actor: actor, now: now)
            return
        }
        var signers = Set<String>()
        // The organisation's administrators, and the project's for the changes its administrators may make.
        let maySign = Engine.signers(for: command, state: state)
        for signature in envelope.signatures {
            let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
            guard let owner = state.principals.values.first(where: { $0.keys.contains { $0.fingerprint == fingerprint } }),
                let key = owner.keys.first(where: { $0.fingerprint == fingerprint })
            else { throw Refusal(.signatureUnknownKey, "the approval is signed with a key no principal has enrolled") }
            guard verifies(signature.sig, by: key, over: message) else {
                throw Refusal(.signatureInvalid, "a signature on the approval does not verify: the signed bytes were changed")
            }
            guard maySign.contains(owner.name), !owner.disabled else {
                throw Refusal(.adminSignature, "the approval is signed by \(owner.name), who is not an enabled administrator\(maySign.count > enabledAdministrators(state).count ? " or an administrator of the project" : "")")
            }
            guard key.counts(signedAt: now) else { throw Refusal(.signatureRevokedKey, "the approval is signed with a revoked key of \(owner.name)") }
            guard key.trusted else {
                throw Refusal(
                    .adminUntrustedKey,
                    "the key of \(owner.name) that signed was enrolled without administrators' signature, so it cannot sign administration; enrol a key with a signed change")
            }
            signers.insert(owner.name)
        }
        if !signers.contains(actor) {
            throw Refusal(.adminSignature, "the approval must be signed by the acting administrator \(actor) (signed by \(signers.sorted().joined(separator: ", ")))")
        }
        if quorumApplies(command, state: state) {
            let able = maySign.filter { name in state.principals[name]?.keys.contains { $0.trusted && $0.counts(signedAt: now) } == true }.count
            let needed = max(1, min(state.adminQuorum, able))
            guard signers.count >= needed else {
                throw Refusal(
                    .adminQuorum,
                    "this change touches what a regulated project relies on and needs \(needed) administrators' signatures; it has \(signers.count) (\(signers.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// A person's own revocation of their key, signed: every signature by a current key of theirs. Marking the key
    /// compromised is never signed by the key marked (whoever stole it holds it).
    static func verifyOwnRevocation(
        _ envelope: DSSEEnvelope, message: [UInt8], marked: String, compromised: Bool, state: SignoffState, actor: String, now: Int64
    ) throws {
        guard let owner = state.principals[actor] else { throw Refusal(.inputUnknown, "no user or service account \(actor)") }
        guard !envelope.signatures.isEmpty else { throw Refusal(.keyCompromiseSignature, "the approval carries no signature") }
        for signature in envelope.signatures {
            let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
            guard let key = owner.keys.first(where: { $0.fingerprint == fingerprint }) else {
                throw Refusal(.signatureWrongKey, "your own revocation is signed with your keys only; this signature is not by a key of \(actor)")
            }
            if compromised && fingerprint == marked {
                throw Refusal(
                    .keyCompromiseSignature,
                    "the key being marked compromised cannot vouch for it (whoever stole it holds it): sign with another of your current keys, or ask an administrator")
            }
            guard verifies(signature.sig, by: key, over: message) else {
                throw Refusal(.signatureInvalid, "a signature on the revocation does not verify: the signed bytes were changed")
            }
            guard key.counts(signedAt: now) else { throw Refusal(.signatureRevokedKey, "the revocation is signed with a revoked key of \(actor)") }
        }
    }
}
