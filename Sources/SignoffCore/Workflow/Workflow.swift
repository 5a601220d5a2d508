public import SignoffCrypto

/// A position in a workflow file, for error messages and for references checked after parsing.
public struct SourceLocation: Hashable, Sendable, Codable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    public var description: String { "\(line):\(column)" }
}

/// A value together with where it was written.
public struct Located<Value: Hashable & Sendable & Codable>: Hashable, Sendable, Codable {
    public let value: Value
    public let location: SourceLocation
    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// A workflow: ordered stages, each with the gate that guards entry into it. Parsed from `workflows/*.yaml`;
/// the format is `schema/workflow.schema.json`, explained in `workflows/README.md`.
public struct Workflow: Hashable, Sendable, Codable {
    /// Terminal states every workflow has besides its stages.
    public static let rejected = "rejected"
    public static let withdrawn = "withdrawn"
    public static let reservedNames: Set<String> = [rejected, withdrawn]

    public let name: String
    public let description: String
    public let stages: [Stage]
    /// Whether the requester may decide on their own request. Never the default; needs a recorded reason.
    public let requesterMayDecide: Bool
    /// Whether the requester may record the deployment of their own break-glass request (a workflow with a
    /// retrospective). Never the default; needs a recorded reason, and exports flag it.
    public var requesterMayDeploy = false
    public let separationOptOutReason: String?
    /// A review every deployment needs afterwards, within a time limit (break-glass workflows).
    public let retrospective: Retrospective?

    public struct Retrospective: Hashable, Sendable, Codable {
        public let group: Located<String>
        public let withinSeconds: Int64
    }

    public struct Stage: Hashable, Sendable, Codable {
        public let name: String
        public let location: SourceLocation
        public let gate: Gate
    }

    /// What entering a stage requires. All present conditions must hold.
    public struct Gate: Hashable, Sendable, Codable {
        public var evidence: [EvidenceRequirement] = []
        public var approvals: [ApprovalRule] = []
        /// People who decided one of these earlier stages may not decide this one (approvals) or perform it (actions).
        public var notDecidersOf: [Located<String>] = []
        /// On an action stage: the request's requester may not perform it.
        public var notRequester = false
        public var signaturesRequired = false
        /// Approvals older than this no longer count.
        public var expirySeconds: Int64?
        /// Each decision must carry a comment giving its reason.
        public var reasonRequired = false
        /// Who may perform the transition; when set, the stage is entered by an explicit action, not automatically.
        public var actors: [Located<String>]?
        public var window: DeploymentWindow?
        public var freezes: [Freeze] = []

        public init() {}

        /// A stage with actors is entered by an explicit command (deploy); others as soon as the gate holds.
        public var isAction: Bool { actors != nil }
        public var isEmpty: Bool { evidence.isEmpty && approvals.isEmpty && actors == nil && window == nil && freezes.isEmpty }
    }

    public struct EvidenceRequirement: Hashable, Sendable, Codable {
        public let kind: String
        public let status: String
        /// Principals (users, service accounts) or groups allowed to attach it.
        public let attachedBy: [Located<String>]
    }

    public struct ApprovalRule: Hashable, Sendable, Codable {
        public let group: Located<String>
        public let count: Int
    }

    public struct DeploymentWindow: Hashable, Sendable, Codable {
        public let timeZone: String
        /// ISO weekday numbers, 1 = Monday … 7 = Sunday.
        public let days: Set<Int>
        /// Minutes after local midnight: `startMinute ..< endMinute`.
        public let startMinute: Int
        public let endMinute: Int
    }

    public struct Freeze: Hashable, Sendable, Codable {
        /// Milliseconds since the Unix epoch, `from ..< to`.
        public let fromMilliseconds: Int64
        public let toMilliseconds: Int64
        public let reason: String
    }

    public func stage(named name: String) -> Stage? { stages.first { $0.name == name } }
    public func index(of stage: String) -> Int? { stages.firstIndex { $0.name == stage } }

    /// Every group the workflow names, with where, so that applying it can check they exist.
    public var groupReferences: [Located<String>] {
        var refs: [Located<String>] = []
        if let retrospective { refs.append(retrospective.group) }
        for stage in stages {
            refs += stage.gate.approvals.map(\.group)
            refs += stage.gate.actors ?? []
        }
        return refs
    }
}

/// A workflow as applied: its exact bytes and their digest, which requests pin.
public struct AppliedWorkflow: Hashable, Sendable, Codable {
    public let workflow: Workflow
    public let digest: SHA256Digest
    public let source: String

    public init(source: String, file: String = "workflow.yaml") throws(WorkflowError) {
        self.workflow = try WorkflowParser.parse(source, file: file)
        self.digest = SHA256Digest.hash(source)
        self.source = source
    }
}
