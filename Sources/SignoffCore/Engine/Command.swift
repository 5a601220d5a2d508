public import SignoffCrypto

/// What someone asks the engine to do. The actor and the time come with it, from authentication and the clock.
public enum Command: Hashable, Sendable {
    /// The first administrator of a new database; refused once anyone exists.
    case bootstrapAdministrator(name: String, key: NoteVerifierKey)
    case addUser(name: String, administrator: Bool, key: NoteVerifierKey?)
    case addServiceAccount(name: String, key: NoteVerifierKey?)
    case enrollKey(principal: String, key: NoteVerifierKey)
    case revokeKey(principal: String, fingerprint: String)
    case createGroup(name: String)
    case addMember(group: String, member: String)
    case applyWorkflow(source: String, file: String)
    /// `approval`: a DSSE envelope by the acting administrator over the ``AdminApproval`` statement of this
    /// change; required when the project is regulated.
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

/// Why the engine said no: the rule that failed and a sentence for a person, saying what to do next.
public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier of the rule, e.g. `separation.requester`, `signature.required`, `gate.window`.
    public let rule: String
    public let message: String

    public init(_ rule: String, _ message: String) {
        self.rule = rule
        self.message = message
    }

    public var description: String { "refused (\(rule)): \(message)" }
}
