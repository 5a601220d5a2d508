public import SignoffCrypto
internal import Synchronization

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
///
/// A workflow names **roles** (`approvers`, `compliance`, `ci`, `deployers`, …), never groups: each project binds its
/// roles to groups (``Project/roles``), so one workflow serves every team without giving one team authority over
/// another's project.
public struct Workflow: Hashable, Sendable, Codable {
    /// Terminal states every workflow has besides its stages.
    public static let rejected = "rejected"
    public static let withdrawn = "withdrawn"
    public static let expired = "expired"
    public static let reservedNames: Set<String> = [rejected, withdrawn, expired]
    /// The role whose members may file requests for a project.
    public static let requestersRole = "requesters"

    public let name: String
    public let description: String
    public let stages: [Stage]
    /// Whether the requester may decide on their own request. Never the default; needs a recorded reason.
    public let requesterMayDecide: Bool
    /// Whether the requester may record the deployment of their own emergency request. Never the default; needs a
    /// recorded reason, and exports flag it.
    public var requesterMayDeploy = false
    public let separationOptOutReason: String?
    /// A review every deployment needs afterwards (round-1 break-glass workflows only; now ``Emergency/retrospective``).
    public let retrospective: Retrospective?
    /// How emergency requests on this workflow's environments are governed; nil: no emergencies.
    public var emergency: Emergency?
    /// An active request with no activity for this long expires.
    public var requestExpirySeconds: Int64?
    /// Whoever can move a request on and has not for this long gets a reminder (one digest per person).
    public var remindAfterSeconds: Int64?
    /// A request that has waited at a stage this long is escalated to the holders of ``escalateTo``.
    public var escalateAfterSeconds: Int64?
    public var escalateTo: Located<String>?
    /// Labels detected rather than declared: the labels that evidence of this kind carries (CI's inventory of a
    /// bundle), attached to the current revision by a holder of one of these roles, are added to the request's own
    /// for every `when:` — they can only add stages (``DeploymentRequest/effectiveLabels``).
    public var labelsFrom: LabelsFrom?

    public struct LabelsFrom: Hashable, Sendable, Codable {
        /// The evidence kind whose labels count, e.g. `bundle-inventory`.
        public let evidence: String
        /// Roles whose members' evidence of that kind counts.
        public let attachedBy: [Located<String>]
    }
    /// Parsed from a round-1 file, whose `group:` keys named groups: for such a workflow (in a ledger written then) a
    /// role a project does not bind is the group of the same name.
    public var namesGroups = false

    public struct Retrospective: Hashable, Sendable, Codable {
        public let role: Located<String>
        public let withinSeconds: Int64
    }

    /// An emergency is a mode of a request on the same environment: who may file one, which stages it skips, and the
    /// retrospective review it owes after deployment.
    public struct Emergency: Hashable, Sendable, Codable {
        /// Roles whose members may file an emergency request (besides being requesters).
        public let filedBy: [Located<String>]
        /// Stages an emergency request skips.
        public let waives: [Located<String>]
        /// Whether an emergency may deploy outside the deployment stage's window.
        public var outsideWindow = false
        public let retrospective: Retrospective
    }

    public struct Stage: Hashable, Sendable, Codable {
        public let name: String
        public let location: SourceLocation
        public let gate: Gate
        /// The stage applies only to requests whose labels match: for each label, one of the listed values.
        public var when: [String: [String]]?

        public func applies(to labels: [String: [String]]) -> Bool {
            guard let when else { return true }
            return when.allSatisfy { key, values in (labels[key] ?? []).contains { values.contains($0) } }
        }
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
        /// Roles whose members may perform the transition; when set, the stage is entered by an explicit action, not
        /// automatically.
        public var actors: [Located<String>]?
        public var window: DeploymentWindow?
        /// Round-1 workflows only: freezes are now their own objects (``Freeze``), consulted live.
        public var freezes: [WorkflowFreeze] = []

        public init() {}

        /// A stage with actors is entered by an explicit command (deploy); others as soon as the gate holds.
        public var isAction: Bool { actors != nil }
        public var isEmpty: Bool { evidence.isEmpty && approvals.isEmpty && actors == nil && window == nil && freezes.isEmpty }
    }

    public struct EvidenceRequirement: Hashable, Sendable, Codable {
        public let kind: String
        public let status: EvidenceStatus
        /// Roles whose members may attach it.
        public let attachedBy: [Located<String>]
        /// Evidence older than this no longer counts (checked again at the gate).
        public var maxAgeSeconds: Int64?
    }

    public struct ApprovalRule: Hashable, Sendable, Codable {
        public let role: Located<String>
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

    public struct WorkflowFreeze: Hashable, Sendable, Codable {
        /// Milliseconds since the Unix epoch, `from ..< to`.
        public let fromMilliseconds: Int64
        public let toMilliseconds: Int64
        public let reason: String
    }

    public func stage(named name: String) -> Stage? { stages.first { $0.name == name } }
    public func index(of stage: String) -> Int? { stages.firstIndex { $0.name == stage } }

    /// The stages a request with these labels goes through, in order: stages whose `when:` does not match are left
    /// out, and so are the stages an emergency waives. The first and the last stage are always there.
    public func path(labels: [String: [String]], emergency: Bool) -> [Stage] {
        let waived = emergency ? Set(self.emergency?.waives.map(\.value) ?? []) : []
        return stages.filter { $0.applies(to: labels) && !waived.contains($0.name) }
    }

    /// The stages `request` goes through.
    public func path(for request: DeploymentRequest) -> [Stage] { path(labels: request.effectiveLabels, emergency: request.emergency != nil) }

    /// The retrospective `request` owes after deployment: an emergency's, or (round-1 workflows) every request's.
    public func retrospective(for request: DeploymentRequest) -> Retrospective? {
        retrospective(emergency: request.emergency != nil, exempted: request.exemptedFrom != nil)
    }

    /// The retrospective review a request owes after its first deployment attempt: an emergency's, the workflow's
    /// ordinary one otherwise; a request let through a freeze (break-glass) owes the emergency's, or the ordinary one
    /// when the workflow has no emergency mode.
    public func retrospective(emergency isEmergency: Bool, exempted: Bool) -> Retrospective? {
        if isEmergency { return emergency?.retrospective }
        if exempted { return emergency?.retrospective ?? retrospective }
        return retrospective
    }

    /// Every role the workflow names, with where: a project using it must bind each one.
    public var roleReferences: [Located<String>] {
        var refs: [Located<String>] = []
        if let retrospective { refs.append(retrospective.role) }
        if let emergency { refs += emergency.filedBy + [emergency.retrospective.role] }
        for stage in stages {
            refs += stage.gate.approvals.map(\.role)
            refs += stage.gate.actors ?? []
            for requirement in stage.gate.evidence { refs += requirement.attachedBy }
        }
        if let escalateTo { refs.append(escalateTo) }
        return refs
    }

    /// The distinct role names, sorted, with `requesters` (every project binds it).
    public var roles: [String] { Array(Set(roleReferences.map(\.value) + [Self.requestersRole])).sorted() }
}

/// The closed vocabulary of evidence status: anything else is refused; case is normalised (`PASSED` is `passed`).
public enum EvidenceStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case passed, failed, errored, skipped, pending

    /// The status `text` names, case-insensitively; nil when it is not one of the vocabulary.
    public init?(normalising text: String) {
        self.init(rawValue: text.lowercased())
    }

    public static var vocabulary: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// A workflow as applied: its exact bytes and their digest, which requests pin.
public struct AppliedWorkflow: Hashable, Sendable, Codable {
    public let workflow: Workflow
    public let digest: SHA256Digest
    public let source: String
    /// 1 for the first text applied under its name, 2 for the next, …: set by the fold of the ledger (nil until then).
    public var version: Int? = nil

    /// A person's name for it: "regulated v2".
    public var title: String { version.map { "\(workflow.name) v\($0)" } ?? workflow.name }

    /// `recorded`: the bytes come from the ledger, where a round-1 workflow (naming groups) is still read.
    public init(source: String, file: String = "workflow.yaml", recorded: Bool = false) throws(WorkflowError) {
        self.workflow = try WorkflowParser.parse(source, file: file, recorded: recorded)
        self.digest = SHA256Digest.hash(source)
        self.source = source
    }
}

extension AppliedWorkflow {
    private static let parsed = Mutex<[SHA256Digest: AppliedWorkflow]>([:])

    /// A workflow version read back from the ledger or the projection, parsed once per process: a version never
    /// changes (its digest names its bytes), and reading the directory again must not parse every workflow again.
    public static func recorded(source: String) throws(WorkflowError) -> AppliedWorkflow {
        let digest = SHA256Digest.hash(source)
        if let hit = parsed.withLock({ $0[digest] }) { return hit }
        let applied = try AppliedWorkflow(source: source, recorded: true)
        parsed.withLock { if $0.count < 4096 { $0[digest] = applied } }
        return applied
    }
}
