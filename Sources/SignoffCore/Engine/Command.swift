public import SignoffCrypto

/// What someone asks the engine to do. The actor and the time come with it, from authentication and the clock.
public enum Command: Hashable, Sendable {
    /// The first entry of a new ledger: its origin and public key. Refused once the ledger has any entry.
    case initializeLedger(origin: String, ledgerKey: NoteVerifierKey)
    /// The first administrator of a new database; refused once anyone exists.
    case bootstrapAdministrator(name: String, key: NoteVerifierKey)
    case addUser(name: String, administrator: Bool, key: NoteVerifierKey?)
    case addServiceAccount(name: String, key: NoteVerifierKey?)
    /// `approval` is required when the principal is in a group a regulated project relies on.
    case enrollKey(principal: String, key: NoteVerifierKey, approval: DSSEEnvelope? = nil)
    case revokeKey(principal: String, fingerprint: String)
    case createGroup(name: String)
    /// `approval` is required when a regulated project relies on the group.
    case addMember(group: String, member: String, approval: DSSEEnvelope? = nil)
    case applyWorkflow(source: String, file: String)
    /// `approval`: a DSSE envelope by the acting administrator over the ``AdminApproval`` of this change;
    /// required when the project is regulated.
    case createProject(ProjectSpec, approval: DSSEEnvelope?)
    case fileRequest(project: String, environment: String, bundle: String, digest: SHA256Digest, description: String)
    case attachEvidence(request: String, kind: String, status: String, digest: SHA256Digest)
    /// `envelope`: the signed decision statement (``DecisionStatement``); required where the workflow or the
    /// project's regulated flag says so.
    case decide(request: String, stage: String, decision: DecisionKind, comment: String, envelope: DSSEEnvelope?)
    case revise(request: String, bundle: String?, digest: SHA256Digest)
    case withdraw(request: String, reason: String)
    case recordDeployment(request: String, outcome: Deployment.Outcome, note: String)
    case recordRetrospective(request: String, comment: String)
}

extension Command {
    /// The request this command is about, when it is about one (filing names none yet: the engine assigns its ID).
    public var request: String? {
        switch self {
        case .attachEvidence(let id, _, _, _), .decide(let id, _, _, _, _), .revise(let id, _, _), .withdraw(let id, _),
            .recordDeployment(let id, _, _), .recordRetrospective(let id, _):
            id
        default: nil
        }
    }

    /// The change an administrator signs for this command, for the commands that can need one.
    public var adminChange: AdminChange? {
        switch self {
        case .createProject(let spec, _): AdminChange(action: "project.create", project: spec)
        case .addMember(let group, let member, _): AdminChange(action: "group.add-member", group: group, member: member)
        case .enrollKey(let principal, let key, _): AdminChange(action: "key.enroll", principal: principal, verifierKey: key.description)
        default: nil
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
