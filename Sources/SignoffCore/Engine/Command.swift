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
    /// A webhook subscription (administrators): where to send which notifications.
    case addWebhook(WebhookSpec, approval: DSSEEnvelope? = nil)
    case removeWebhook(id: String, approval: DSSEEnvelope? = nil)

    /// `labels` switch conditional stages on; `emergencyReason` files an emergency request (the workflow's `emergency:`).
    case fileRequest(
        project: String, environment: String, bundle: String, digest: SHA256Digest, description: String, labels: [String: [String]] = [:],
        emergencyReason: String? = nil)
    /// `status` is one of the evidence vocabulary, in any case; `tests`, the counts of a JUnit report.
    case attachEvidence(request: String, kind: String, status: String, digest: SHA256Digest, tests: TestCounts? = nil)
    /// `envelope`: the signed decision statement (``DecisionStatement``); required where the workflow or the
    /// project's regulated flag says so. `onBehalfOf`: deciding under that person's delegation.
    case decide(request: String, stage: String, decision: DecisionKind, comment: String, envelope: DSSEEnvelope?, onBehalfOf: String? = nil)
    /// The actor lets `delegate` decide in their place for a while. `envelope`: the actor's signed
    /// ``DelegationStatement`` of exactly this delegation, required once the ledger has a regulated project.
    case delegate(DelegationSpec, envelope: DSSEEnvelope? = nil)
    case revokeDelegation(id: String)
    /// Expires the active requests idle for longer than their workflow's `request_expiry` (the system runs it).
    case expireStale
    case revise(request: String, bundle: String?, digest: SHA256Digest)
    case withdraw(request: String, reason: String)
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
        case .attachEvidence(let id, _, _, _, _), .decide(let id, _, _, _, _, _), .revise(let id, _, _), .withdraw(let id, _),
            .recordDeployment(let id, _, _), .recordRetrospective(let id, _, _), .startDeployment(let id, _), .finishDeployment(let id, _, _):
            id
        default: nil
        }
    }

    /// The change administrators sign for this command; nil for the commands that are not administration.
    public var adminChange: AdminChange? {
        switch self {
        case .initializeLedger, .bootstrapAdministrator, .fileRequest, .attachEvidence, .decide, .revise, .withdraw, .recordDeployment,
            .startDeployment, .finishDeployment, .enrollOwnKey,
            .recordRetrospective, .delegate, .revokeDelegation, .expireStale:
            nil
        case .addFreeze(let spec, _): AdminChange(action: "freeze.add", freeze: spec)
        case .liftFreeze(let id, _): AdminChange(action: "freeze.lift", freezeID: id)
        case .addWebhook(let spec, _): AdminChange(action: "webhook.add", webhook: spec)
        case .removeWebhook(let id, _): AdminChange(action: "webhook.remove", webhookID: id)
        case .addUser(let name, let administrator, let key, _):
            AdminChange(action: "user.add", principal: name, verifierKey: key?.description, administrator: administrator)
        case .addServiceAccount(let name, let key, _): AdminChange(action: "service-account.add", principal: name, verifierKey: key?.description)
        case .enrollKey(let principal, let key, _): AdminChange(action: "key.enroll", principal: principal, verifierKey: key.description)
        case .revokeKey(let principal, let fingerprint, let since, _):
            AdminChange(
                action: "key.revoke", principal: principal, keyFingerprint: "sha256:" + Ed25519.PublicKey.fingerprintHex(fingerprint),
                compromisedSince: since.map(Timestamps.rfc3339))
        case .createGroup(let name, _): AdminChange(action: "group.create", group: name)
        case .addMember(let group, let member, _): AdminChange(action: "group.add-member", group: group, member: member)
        case .removeMember(let group, let member, _): AdminChange(action: "group.remove-member", group: group, member: member)
        case .applyWorkflow(let source, _, _): AdminChange(action: "workflow.apply", workflowDigest: SHA256Digest.hash(Array(source.utf8)).description)
        case .createProject(let spec, _): AdminChange(action: "project.create", project: spec)
        case .updateProject(let spec, _): AdminChange(action: "project.update", project: spec)
        case .disablePrincipal(let name, _): AdminChange(action: "principal.disable", principal: name)
        case .enablePrincipal(let name, _): AdminChange(action: "principal.enable", principal: name)
        case .setAdminQuorum(let quorum, _): AdminChange(action: "admin.quorum", quorum: quorum)
        case .issueServiceToken(_, let principal, let scopes, let hours, _):
            AdminChange(action: "token.issue", principal: principal, scopes: scopes, lifetimeHours: hours)
        }
    }

    /// The administrators' signed approval the command carries.
    public var approval: DSSEEnvelope? {
        switch self {
        case .addUser(_, _, _, let a), .addServiceAccount(_, _, let a), .enrollKey(_, _, let a), .revokeKey(_, _, _, let a), .createGroup(_, let a),
            .addMember(_, _, let a), .removeMember(_, _, let a), .applyWorkflow(_, _, let a), .createProject(_, let a), .updateProject(_, let a),
            .disablePrincipal(_, let a), .enablePrincipal(_, let a), .setAdminQuorum(_, let a), .issueServiceToken(_, _, _, _, let a),
            .addFreeze(_, let a), .liftFreeze(_, let a), .addWebhook(_, let a), .removeWebhook(_, let a):
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
        case .addWebhook(let w, _): .addWebhook(w, approval: approval)
        case .removeWebhook(let i, _): .removeWebhook(id: i, approval: approval)
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
