internal import Foundation
public import SignoffCrypto

/// The in-toto Statement v1 a decision signs: subject = the bundle, predicate = what is decided, where and when.
public struct DecisionStatement: Hashable, Sendable, Codable {
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let predicateType = "https://signoff.dev/decision/v1"
    /// How old a signed decision may be when it reaches the engine.
    public static let maximumAgeMilliseconds: Int64 = 10 * 60 * 1000
    public static let maximumClockSkewMilliseconds: Int64 = 60 * 1000

    public struct Subject: Hashable, Sendable, Codable {
        public let name: String
        public let digest: [String: String]
    }

    public struct Predicate: Hashable, Sendable, Codable {
        public let request: String
        public let project: String
        public let environment: String
        public let stage: String
        public let decision: DecisionKind
        /// The person deciding: two approvers never sign the same bytes.
        public let approver: String
        public let revision: Int
        public let workflowDigest: String
        /// RFC 3339, UTC.
        public let time: String
        public let comment: String

        enum CodingKeys: String, CodingKey {
            case request, project, environment, stage, decision, approver, revision, time, comment
            case workflowDigest = "workflow_digest"
        }
    }

    public let type: String
    public let subject: [Subject]
    public let predicateType: String
    public let predicate: Predicate

    enum CodingKeys: String, CodingKey {
        case type = "_type"
        case subject, predicateType, predicate
    }

    /// The statement for deciding `decision` on `request` at `stage`, at `time` (milliseconds since the epoch).
    public init(request: DeploymentRequest, stage: String, decision: DecisionKind, approver: String, comment: String, time: Int64) {
        type = Self.statementType
        subject = [Subject(name: request.bundle, digest: ["sha256": request.digest.hex])]
        predicateType = Self.predicateType
        predicate = Predicate(
            request: request.id, project: request.project, environment: request.environment, stage: stage, decision: decision,
            approver: approver, revision: request.revision, workflowDigest: request.workflowDigest.description, time: Timestamps.rfc3339(time), comment: comment)
    }

    /// Canonical JSON bytes to sign.
    public var bytes: [UInt8] { [UInt8](try! Event.encoder.encode(self)) }

    /// Signs this statement as a DSSE envelope with `key`.
    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: bytes, payloadType: DSSE.inTotoPayloadType, with: key)
    }
}

/// An administrative change, as an administrator signs it when it touches a regulated project.
public struct AdminChange: Hashable, Sendable, Codable {
    public let action: String
    public var project: ProjectSpec?
    public var group: String?
    public var member: String?
    public var principal: String?
    public var verifierKey: String?

    public init(action: String, project: ProjectSpec? = nil, group: String? = nil, member: String? = nil, principal: String? = nil, verifierKey: String? = nil) {
        self.action = action
        self.project = project
        self.group = group
        self.member = member
        self.principal = principal
        self.verifierKey = verifierKey
    }
}

/// The statement an administrator signs to approve a change to a regulated project: creating it, adding a member
/// to one of the groups it relies on, or enrolling a key for one of their members.
public struct AdminApproval: Hashable, Sendable, Codable {
    public static let payloadType = "application/vnd.signoff.admin-approval+json"
    public let change: AdminChange
    public let time: String

    public init(change: AdminChange, time: Int64) {
        self.change = change
        self.time = Timestamps.rfc3339(time)
    }

    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: [UInt8](try! Event.encoder.encode(self)), payloadType: Self.payloadType, with: key)
    }
}

public enum Timestamps {
    /// RFC 3339 in UTC with millisecond precision.
    public static func rfc3339(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    public static func milliseconds(rfc3339 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }
}
