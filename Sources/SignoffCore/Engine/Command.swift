public import SignoffCrypto

/// What someone asks the engine to do. The actor and the time come with it, from authentication and the clock.
public enum Command: Hashable, Sendable {
    /// The first entry of a new ledger: its origin and public key. Refused once the ledger has any entry.
    case initializeLedger(origin: String, ledgerKey: NoteVerifierKey)
    /// The first administrator of a new database; refused once anyone exists.
    case bootstrapAdministrator(name: String, key: NoteVerifierKey)

    // Administration. `approval` is a DSSE envelope over the ``AdminApproval`` of exactly this change, signed by the
    // acting administrator (and, where a quorum applies, by more administrators): required for every administrative
    // change once the ledger has a regulated project (`schema/refusals.md`, `admin.signature-required`).
    case addUser(name: String, administrator: Bool, key: NoteVerifierKey?, approval: DSSEEnvelope? = nil)
    case addServiceAccount(name: String, key: NoteVerifierKey?, approval: DSSEEnvelope? = nil)
    case enrollKey(principal: String, key: NoteVerifierKey, approval: DSSEEnvelope? = nil)
    /// Self-enrolment: the actor adds a key of their own, with their ``KeyEnrolmentStatement`` signed by a key they already
    /// have (proof of possession, not administration; the new key never signs administration).
    case enrollOwnKey(key: NoteVerifierKey, proof: DSSEEnvelope)
    /// With `compromisedSince`, signatures made with the key from that time on stop counting for requests not yet deployed.
    case revokeKey(principal: String, fingerprint: String, compromisedSince: Int64? = nil, approval: DSSEEnvelope? = nil)
    case createGroup(name: String, approval: DSSEEnvelope? = nil)
    case addMember(group: String, member: String, approval: DSSEEnvelope? = nil)
    case removeMember(group: String, member: String, approval: DSSEEnvelope? = nil)
    case applyWorkflow(source: String, file: String, approval: DSSEEnvelope? = nil)
    case createProject(ProjectSpec, approval: DSSEEnvelope?)
    /// Replaces a project's environments, requesters and deployers; a regulated project stays regulated.
    case updateProject(ProjectSpec, approval: DSSEEnvelope? = nil)
    case disablePrincipal(name: String, approval: DSSEEnvelope? = nil)
    case enablePrincipal(name: String, approval: DSSEEnvelope? = nil)
    case setAdminQuorum(Int, approval: DSSEEnvelope? = nil)
    /// Records a service token an administrator issues (the token itself never reaches the ledger; its ID names it).
    /// The administrators sign the account, the scopes and the lifetime; the ID is the server's.
    case issueServiceToken(tokenID: String, principal: String, scopes: [String], lifetimeHours: Int, approval: DSSEEnvelope? = nil)

    /// A change freeze on an environment (of one project, or every project), in force from `from` until `until`.
    case addFreeze(FreezeSpec, approval: DSSEEnvelope? = nil)
    case liftFreeze(id: String, approval: DSSEEnvelope? = nil)
    /// Lets one request deploy through a freeze (break-glass), with a reason; signed as lifting the freeze is.
    case exemptFromFreeze(id: String, request: String, reason: String, approval: DSSEEnvelope? = nil)
    /// A webhook subscription (administrators): where to send which notifications.
    case addWebhook(WebhookSpec, approval: DSSEEnvelope? = nil)
    case removeWebhook(id: String, approval: DSSEEnvelope? = nil)
    /// Trusts an OpenID Connect issuer (or changes how one is trusted, under its name): always signed.
    case trustIssuer(IssuerSpec, approval: DSSEEnvelope? = nil)
    case distrustIssuer(name: String, approval: DSSEEnvelope? = nil)
    /// Connects a directory (SCIM): `tokenID` names the token stored with the entry (filled by whoever mints it).
    case connectDirectory(name: String, tokenID: String, approval: DSSEEnvelope? = nil)
    case disconnectDirectory(name: String, approval: DSSEEnvelope? = nil)
    /// Links a group to a directory (nil: unlinks it).
    case linkGroup(group: String, directory: String?, approval: DSSEEnvelope? = nil)
    /// What a connected directory changes (its actor is `directory:NAME`); never administration, never signed.
    case directoryChange(DirectoryChange)

    /// `labels` switch conditional stages on; `emergencyReason` files an emergency request (the workflow's `emergency:`);
    /// `source`: where the bundle came from (links, never evaluated).
    case fileRequest(
        project: String, environment: String, bundle: String, digest: SHA256Digest, description: String, labels: [String: [String]] = [:],
        emergencyReason: String? = nil, source: BundleSource? = nil)
    /// `status` is one of the evidence vocabulary, in any case; `tests`, the counts of a JUnit report.
    /// `labels`: what CI detected in the bundle, for the workflow's `when:` (only evidence of its `labels_from` kind).
    /// `source`: the CI run attaching it (what a pipeline carrying on with a person's request knows of the bundle).
    case attachEvidence(
        request: String, kind: String, status: String, digest: SHA256Digest, tests: TestCounts? = nil, labels: [String: [String]] = [:],
        source: BundleSource? = nil)
    /// `envelope`: the signed decision statement (``DecisionStatement``); required where the workflow or the
    /// project's regulated flag says so. `onBehalfOf`: deciding under that person's delegation.
    case decide(request: String, stage: String, decision: DecisionKind, comment: String, envelope: DSSEEnvelope?, onBehalfOf: String? = nil)
    /// The actor lets `delegate` decide in their place for a while. `envelope`: the actor's signed
    /// ``DelegationStatement`` of exactly this delegation, required once the ledger has a regulated project.
    case delegate(DelegationSpec, envelope: DSSEEnvelope? = nil)
    /// Ends a delegation. Who gave it revokes it plainly; anyone else is an administrator making an administrative change
    /// (`approval`: signed once the ledger has a regulated project).
    case revokeDelegation(id: String, approval: DSSEEnvelope? = nil)
    /// An administrator ends another principal's token (`principal`: the token's owner, as the token store says). A
    /// token's owner ends their own without the engine (`POST /v1/auth/revoke`, or `/v1/tokens/{id}/revoke`).
    case revokeToken(id: String, principal: String, approval: DSSEEnvelope? = nil)
    /// Expires the active requests idle for longer than their workflow's `request_expiry` (the system runs it).
    case expireStale
    /// `source`: where the new bundle came from (none: the revision has no source, whatever the earlier one had).
    case revise(request: String, bundle: String?, digest: SHA256Digest, source: BundleSource? = nil)
    /// The requester withdraws their request; an administrator withdrawing another person's makes an administrative
    /// change (`approval`: signed once the ledger has a regulated project).
    case withdraw(request: String, reason: String, approval: DSSEEnvelope? = nil)
    /// Records a deployment's outcome in one step (when the gate allows it now), or — when a start is under way —
    /// finishes that deployment under the verdict its start held.
    case recordDeployment(request: String, outcome: Deployment.Outcome, note: String)
    /// `deploy --start`: the deployment begins, when the gate allows it now; the verdict holds until it finishes.
    case startDeployment(request: String, note: String)
    /// `deploy --finish`: the outcome of the deployment under way (refused when none was started).
    case finishDeployment(request: String, outcome: Deployment.Outcome, note: String)
    /// `envelope`: the reviewer's signed ``RetrospectiveStatement``, required in regulated projects.
    case recordRetrospective(request: String, comment: String, envelope: DSSEEnvelope? = nil)
}

extension Command {
    /// The request this command is about, when it is about one (filing names none yet: the engine assigns its ID).
    public var request: String? {
        switch self {
        case .attachEvidence(let id, _, _, _, _, _, _), .decide(let id, _, _, _, _, _), .revise(let id, _, _, _), .withdraw(let id, _, _),
            .recordDeployment(let id, _, _), .recordRetrospective(let id, _, _), .startDeployment(let id, _), .finishDeployment(let id, _, _),
            .exemptFromFreeze(_, let id, _, _):
            id
        default: nil
        }
    }

    /// The change administrators sign for this command; nil for the commands that are never administration. For
    /// withdrawing a request and revoking a delegation it is administration only when the actor is not their owner
    /// (``Engine/isAdministrative(_:state:actor:)``); the change is the same either way.
    public var adminChange: AdminChange? {
        switch self {
        case .initializeLedger, .bootstrapAdministrator, .fileRequest, .attachEvidence, .decide, .revise, .recordDeployment,
            .startDeployment, .finishDeployment, .enrollOwnKey,
            .recordRetrospective, .delegate, .expireStale, .directoryChange:
            nil
        case .connectDirectory(let name, _, _): AdminChange(.directoryConnect, directory: name)
        case .disconnectDirectory(let name, _): AdminChange(.directoryDisconnect, directory: name)
        case .linkGroup(let group, let directory, _): AdminChange(directory == nil ? .groupUnlink : .groupLink, group: group, directory: directory)
        case .addFreeze(let spec, _): AdminChange(.freezeAdd, freeze: spec)
        case .liftFreeze(let id, _): AdminChange(.freezeLift, freezeID: id)
        case .exemptFromFreeze(let id, let request, let reason, _): AdminChange(.freezeExempt, freezeID: id, request: request, reason: reason)
        case .addWebhook(let spec, _): AdminChange(.webhookAdd, webhook: spec)
        case .removeWebhook(let id, _): AdminChange(.webhookRemove, webhookID: id)
        case .trustIssuer(let spec, _): AdminChange(.issuerTrust, issuer: spec)
        case .distrustIssuer(let name, _): AdminChange(.issuerDistrust, issuerName: name)
        case .addUser(let name, let administrator, let key, _):
            AdminChange(.userAdd, principal: name, verifierKey: key?.description, administrator: administrator)
        case .addServiceAccount(let name, let key, _): AdminChange(.serviceAccountAdd, principal: name, verifierKey: key?.description)
        case .enrollKey(let principal, let key, _): AdminChange(.keyEnroll, principal: principal, verifierKey: key.description)
        case .revokeKey(let principal, let fingerprint, let since, _):
            AdminChange(
                .keyRevoke, principal: principal, keyFingerprint: "sha256:" + Ed25519.PublicKey.fingerprintHex(fingerprint),
                compromisedSince: since.map(Timestamps.rfc3339))
        case .createGroup(let name, _): AdminChange(.groupCreate, group: name)
        case .addMember(let group, let member, _): AdminChange(.groupAddMember, group: group, member: member)
        case .removeMember(let group, let member, _): AdminChange(.groupRemoveMember, group: group, member: member)
        case .applyWorkflow(let source, _, _): AdminChange(.workflowApply, workflowDigest: SHA256Digest.hash(Array(source.utf8)).description)
        case .createProject(let spec, _): AdminChange(.projectCreate, project: spec)
        case .updateProject(let spec, _): AdminChange(.projectUpdate, project: spec)
        case .disablePrincipal(let name, _): AdminChange(.principalDisable, principal: name)
        case .enablePrincipal(let name, _): AdminChange(.principalEnable, principal: name)
        case .setAdminQuorum(let quorum, _): AdminChange(.adminQuorum, quorum: quorum)
        case .issueServiceToken(_, let principal, let scopes, let hours, _):
            AdminChange(.tokenIssue, principal: principal, scopes: scopes, lifetimeHours: hours)
        case .revokeToken(let id, _, _): AdminChange(.tokenRevoke, tokenID: id)
        case .revokeDelegation(let id, _): AdminChange(.delegationRevoke, delegationID: id)
        case .withdraw(let request, let reason, _): AdminChange(.requestWithdraw, request: request, reason: reason)
        }
    }

    /// The administrators' signed approval the command carries.
    public var approval: DSSEEnvelope? {
        switch self {
        case .addUser(_, _, _, let a), .addServiceAccount(_, _, let a), .enrollKey(_, _, let a), .revokeKey(_, _, _, let a), .createGroup(_, let a),
            .addMember(_, _, let a), .removeMember(_, _, let a), .applyWorkflow(_, _, let a), .createProject(_, let a), .updateProject(_, let a),
            .disablePrincipal(_, let a), .enablePrincipal(_, let a), .setAdminQuorum(_, let a), .issueServiceToken(_, _, _, _, let a),
            .addFreeze(_, let a), .liftFreeze(_, let a), .exemptFromFreeze(_, _, _, let a), .addWebhook(_, let a), .removeWebhook(_, let a), .revokeToken(_, _, let a),
            .revokeDelegation(_, let a), .withdraw(_, _, let a), .trustIssuer(_, let a), .distrustIssuer(_, let a),
            .connectDirectory(_, _, let a), .disconnectDirectory(_, let a), .linkGroup(_, _, let a):
            a
        default: nil
        }
    }

    /// The same command carrying `approval`.
    public func approved(by approval: DSSEEnvelope?) -> Command {
        switch self {
        case .addUser(let n, let a, let k, _): .addUser(name: n, administrator: a, key: k, approval: approval)
        case .addServiceAccount(let n, let k, _): .addServiceAccount(name: n, key: k, approval: approval)
        case .enrollKey(let p, let k, _): .enrollKey(principal: p, key: k, approval: approval)
        case .revokeKey(let p, let f, let s, _): .revokeKey(principal: p, fingerprint: f, compromisedSince: s, approval: approval)
        case .createGroup(let n, _): .createGroup(name: n, approval: approval)
        case .addMember(let g, let m, _): .addMember(group: g, member: m, approval: approval)
        case .removeMember(let g, let m, _): .removeMember(group: g, member: m, approval: approval)
        case .applyWorkflow(let s, let f, _): .applyWorkflow(source: s, file: f, approval: approval)
        case .createProject(let p, _): .createProject(p, approval: approval)
        case .updateProject(let p, _): .updateProject(p, approval: approval)
        case .disablePrincipal(let n, _): .disablePrincipal(name: n, approval: approval)
        case .enablePrincipal(let n, _): .enablePrincipal(name: n, approval: approval)
        case .setAdminQuorum(let q, _): .setAdminQuorum(q, approval: approval)
        case .issueServiceToken(let i, let p, let s, let h, _): .issueServiceToken(tokenID: i, principal: p, scopes: s, lifetimeHours: h, approval: approval)
        case .addFreeze(let f, _): .addFreeze(f, approval: approval)
        case .liftFreeze(let i, _): .liftFreeze(id: i, approval: approval)
        case .exemptFromFreeze(let i, let r, let why, _): .exemptFromFreeze(id: i, request: r, reason: why, approval: approval)
        case .addWebhook(let w, _): .addWebhook(w, approval: approval)
        case .trustIssuer(let s, _): .trustIssuer(s, approval: approval)
        case .connectDirectory(let n, let t, _): .connectDirectory(name: n, tokenID: t, approval: approval)
        case .disconnectDirectory(let n, _): .disconnectDirectory(name: n, approval: approval)
        case .linkGroup(let g, let d, _): .linkGroup(group: g, directory: d, approval: approval)
        case .distrustIssuer(let n, _): .distrustIssuer(name: n, approval: approval)
        case .removeWebhook(let i, _): .removeWebhook(id: i, approval: approval)
        case .revokeToken(let i, let p, _): .revokeToken(id: i, principal: p, approval: approval)
        case .revokeDelegation(let i, _): .revokeDelegation(id: i, approval: approval)
        case .withdraw(let r, let reason, _): .withdraw(request: r, reason: reason, approval: approval)
        default: self
        }
    }
}

/// Why the engine said no: the rule that failed and a sentence for a person, saying what to do next.
public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that refused, from the catalogue (``RefusalRule/all``).
    public let code: RefusalRule
    public let message: String

    public init(_ code: RefusalRule, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The rule's stable name, e.g. `separation.requester`, `signature.required`, `gate.window`.
    public var rule: String { code.name }

    public var description: String { "refused (\(rule)): \(message)" }
}
