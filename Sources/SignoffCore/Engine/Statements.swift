internal import Foundation
public import SignoffCrypto

/// The in-toto Statement v1 a decision signs: subject = the bundle, predicate = what is decided, where and when.
public struct DecisionStatement: Hashable, Sendable, Codable {
    public static let statementType = "https://in-toto.io/Statement/v1"
    /// Version 3 adds the request's `labels` and `emergency` mode (what the decider agreed to) and, under a delegation,
    /// `on_behalf_of`. Version 2 (without them) and version 1 (`approver` for `actor`) are no longer accepted for new
    /// decisions; they stay valid in ledgers and exports.
    public static let predicateType = "https://signoff.dev/decision/v3"
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
        /// The person deciding: two deciders never sign the same bytes.
        public let actor: String
        public let revision: Int
        public let workflowDigest: String
        /// RFC 3339, UTC.
        public let time: String
        public let comment: String
        /// The request's labels, as filed.
        public let labels: [String: [String]]
        /// Whether the request is an emergency (which skips the stages its workflow's emergency waives).
        public let emergency: Bool
        /// Deciding under this person's delegation; absent otherwise.
        public let onBehalfOf: String?

        enum CodingKeys: String, CodingKey {
            case request, project, environment, stage, decision, actor, revision, time, comment, labels, emergency
            case workflowDigest = "workflow_digest"
            case onBehalfOf = "on_behalf_of"
        }

        /// The fields a predicate may have: anything else is refused.
        public static let fieldNames: Set<String> = [
            "request", "project", "environment", "stage", "decision", "actor", "revision", "workflow_digest", "time", "comment", "labels", "emergency",
            "on_behalf_of",
        ]
    }

    public let type: String
    public let subject: [Subject]
    public let predicateType: String
    public let predicate: Predicate

    enum CodingKeys: String, CodingKey {
        case type = "_type"
        case subject, predicateType, predicate
    }

    /// What of a request a decision binds: the bundle (name and digest) at one revision under one workflow version.
    public struct Binding: Hashable, Sendable {
        public var request: String
        public var project: String
        public var environment: String
        public var bundle: String
        public var digest: SHA256Digest
        public var revision: Int
        public var workflowDigest: SHA256Digest
        public var labels: [String: [String]] = [:]
        public var emergency = false

        public init(
            request: String, project: String, environment: String, bundle: String, digest: SHA256Digest, revision: Int, workflowDigest: SHA256Digest,
            labels: [String: [String]] = [:], emergency: Bool = false
        ) {
            self.labels = labels
            self.emergency = emergency
            self.request = request
            self.project = project
            self.environment = environment
            self.bundle = bundle
            self.digest = digest
            self.revision = revision
            self.workflowDigest = workflowDigest
        }

        public init(_ request: DeploymentRequest) {
            self.init(
                request: request.id, project: request.project, environment: request.environment, bundle: request.bundle, digest: request.digest,
                revision: request.revision, workflowDigest: request.workflowDigest, labels: request.labels, emergency: request.emergency != nil)
        }
    }

    /// The statement for deciding `decision` on `request` at `stage`, at `time` (milliseconds since the epoch).
    public init(
        request: DeploymentRequest, stage: String, decision: DecisionKind, actor: String, comment: String, time: Int64, onBehalfOf: String? = nil
    ) {
        self.init(binding: Binding(request), stage: stage, decision: decision, actor: actor, comment: comment, time: time, onBehalfOf: onBehalfOf)
    }

    /// The statement for deciding `decision` on the bound request at `stage`, at `time` (milliseconds since the epoch).
    public init(
        binding b: Binding, stage: String, decision: DecisionKind, actor: String, comment: String, time: Int64, onBehalfOf: String? = nil
    ) {
        type = Self.statementType
        subject = [Subject(name: b.bundle, digest: ["sha256": b.digest.hex])]
        predicateType = Self.predicateType
        predicate = Predicate(
            request: b.request, project: b.project, environment: b.environment, stage: stage, decision: decision,
            actor: actor, revision: b.revision, workflowDigest: b.workflowDigest.description, time: Timestamps.rfc3339(time), comment: comment,
            labels: b.labels, emergency: b.emergency, onBehalfOf: onBehalfOf)
    }

    /// Canonical JSON bytes to sign.
    public var bytes: [UInt8] { [UInt8](try! Event.encoder.encode(self)) }

    /// Signs this statement as a DSSE envelope with `key`.
    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: bytes, payloadType: DSSE.inTotoPayloadType, with: key)
    }
}

extension DecisionStatement {
    /// The statement a strictly parsed JSON value is, read by type: every field present with its type (strings,
    /// a 64-bit whole number, a boolean, labels as arrays of strings by name, a digest by algorithm); nil otherwise.
    init?(strict value: JSONValue) {
        func text(_ v: JSONValue?) -> String? { v?.string }
        guard let type = text(value["_type"]), let predicateType = text(value["predicateType"]), let items = value["subject"]?.array,
            let p = value["predicate"], p.objectKeys != nil
        else { return nil }
        var subject: [Subject] = []
        for item in items {
            guard let name = text(item["name"]), let digest = Self.strings(item["digest"]) else { return nil }
            subject.append(Subject(name: name, digest: digest))
        }
        guard let request = text(p["request"]), let project = text(p["project"]), let environment = text(p["environment"]),
            let stage = text(p["stage"]), let decision = text(p["decision"]).flatMap(DecisionKind.init(rawValue:)), let actor = text(p["actor"]),
            let revision = p["revision"]?.integer.flatMap({ Int(exactly: $0) }), let workflowDigest = text(p["workflow_digest"]), let time = text(p["time"]),
            let comment = text(p["comment"]), let labelsValue = p["labels"], case .object(let labelMembers) = labelsValue,
            let emergencyValue = p["emergency"], case .bool(let emergency) = emergencyValue
        else { return nil }
        var labels: [String: [String]] = [:]
        for member in labelMembers {
            guard let values = member.value.array else { return nil }
            var strings: [String] = []
            for v in values {
                guard let s = v.string else { return nil }
                strings.append(s)
            }
            labels[String(decoding: member.key, as: UTF8.self)] = strings
        }
        var onBehalfOf: String?
        switch p["on_behalf_of"] {
        case nil, .null?: onBehalfOf = nil
        case .string(let bytes)?: onBehalfOf = String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
        self.type = type
        self.subject = subject
        self.predicateType = predicateType
        predicate = Predicate(
            request: request, project: project, environment: environment, stage: stage, decision: decision, actor: actor, revision: revision,
            workflowDigest: workflowDigest, time: time, comment: comment, labels: labels, emergency: emergency, onBehalfOf: onBehalfOf)
    }

    /// An object of strings by name (nil: anything else).
    private static func strings(_ value: JSONValue?) -> [String: String]? {
        guard case .object(let members)? = value else { return nil }
        var out: [String: String] = [:]
        for member in members {
            guard let s = member.value.string else { return nil }
            out[String(decoding: member.key, as: UTF8.self)] = s
        }
        return out
    }
}

/// An administrative change, as administrators sign it: the action and exactly what it changes.
public struct AdminChange: Hashable, Sendable, Codable {
    /// The ``AdminAction``'s name (a string on the wire: signed bytes of every version stay readable).
    public let action: String
    public var project: ProjectSpec?
    public var group: String?
    public var member: String?
    public var principal: String?
    public var verifierKey: String?
    public var administrator: Bool?
    public var keyFingerprint: String?
    public var compromisedSince: String?
    public var workflowDigest: String?
    public var quorum: Int?
    public var scopes: [String]?
    public var lifetimeHours: Int?
    public var freeze: FreezeSpec?
    public var freezeID: String?
    public var webhook: WebhookSpec?
    public var webhookID: String?
    public var issuer: IssuerSpec?
    public var issuerName: String?
    public var directory: String?
    public var tokenID: String?
    public var delegationID: String?
    public var request: String?
    public var reason: String?

    public init(
        _ action: AdminAction, project: ProjectSpec? = nil, group: String? = nil, member: String? = nil, principal: String? = nil,
        verifierKey: String? = nil, administrator: Bool? = nil, keyFingerprint: String? = nil, compromisedSince: String? = nil,
        workflowDigest: String? = nil, quorum: Int? = nil, scopes: [String]? = nil, lifetimeHours: Int? = nil, freeze: FreezeSpec? = nil,
        freezeID: String? = nil, webhook: WebhookSpec? = nil, webhookID: String? = nil, tokenID: String? = nil, delegationID: String? = nil,
        request: String? = nil, reason: String? = nil, issuer: IssuerSpec? = nil, issuerName: String? = nil, directory: String? = nil
    ) {
        self.action = action.rawValue
        self.directory = directory
        self.issuer = issuer
        self.issuerName = issuerName
        self.webhook = webhook
        self.webhookID = webhookID
        self.freeze = freeze
        self.freezeID = freezeID
        self.project = project
        self.group = group
        self.member = member
        self.principal = principal
        self.verifierKey = verifierKey
        self.administrator = administrator
        self.keyFingerprint = keyFingerprint
        self.compromisedSince = compromisedSince
        self.workflowDigest = workflowDigest
        self.quorum = quorum
        self.scopes = scopes
        self.lifetimeHours = lifetimeHours
        self.tokenID = tokenID
        self.delegationID = delegationID
        self.request = request
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case action, project, group, member, principal, administrator, quorum, scopes, freeze, request, reason, directory
        case freezeID = "freeze_id"
        case webhook
        case webhookID = "webhook_id"
        case issuer
        case issuerName = "issuer_name"
        case verifierKey = "verifier_key"
        case keyFingerprint = "key_fingerprint"
        case compromisedSince = "compromised_since"
        case workflowDigest = "workflow_digest"
        case lifetimeHours = "lifetime_hours"
        case tokenID = "token_id"
        case delegationID = "delegation_id"
    }
}

/// The statement administrators sign to approve an administrative change. Once the ledger has a regulated project every
/// administrative change needs one; a quorum of administrators signs the same statement (one envelope, several
/// signatures) where `admin_quorum` applies.
public struct AdminApproval: Hashable, Sendable, Codable {
    /// Version 2 names the key `verifier_key` (version 1 said `verifierKey`).
    public static let payloadType = "application/vnd.signoff.admin-approval.v2+json"
    public let change: AdminChange
    public let time: String

    public init(change: AdminChange, time: Int64) {
        self.change = change
        self.time = Timestamps.rfc3339(time)
    }

    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: [UInt8](try! Event.encoder.encode(self)), payloadType: Self.payloadType, with: key)
    }

    /// Whether a signed payload states exactly `change`, as an offline verifier reads it (`schema/audit-export.md`,
    /// "Administrative authority"): a JSON object of exactly `change` and `time`, no key twice, whose `change` is the same
    /// JSON as this Signoff writes for it — no member more (an unknown one a decoder would skip), none `null`.
    public static func statesExactly(_ change: AdminChange, payload: [UInt8]) -> Bool {
        guard let statement = try? JSONValue.parse(payload), let keys = statement.objectKeys, keys.count == 2, Set(keys) == ["change", "time"],
            let stated = statement["change"], let encoded = try? Event.encoder.encode(change), let expected = try? JSONValue.parse(Array(encoded))
        else { return false }
        return stated.isSame(as: expected)
    }
}

/// The statement a reviewer signs to record an emergency's retrospective review: this request, this bundle, this
/// comment, now. Required in regulated projects, so that a stolen session cannot close the control an emergency owes.
public struct RetrospectiveStatement: Hashable, Sendable, Codable {
    public static let payloadType = "application/vnd.signoff.retrospective.v1+json"
    public let request: String
    public let project: String
    public let environment: String
    public let bundleDigest: String
    public let actor: String
    public let comment: String
    /// RFC 3339, UTC.
    public let time: String

    enum CodingKeys: String, CodingKey {
        case request, project, environment, actor, comment, time
        case bundleDigest = "bundle_digest"
    }

    public init(request: String, project: String, environment: String, bundleDigest: SHA256Digest, actor: String, comment: String, time: Int64) {
        self.request = request
        self.project = project
        self.environment = environment
        self.bundleDigest = bundleDigest.description
        self.actor = actor
        self.comment = comment
        self.time = Timestamps.rfc3339(time)
    }

    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: [UInt8](try! Event.encoder.encode(self)), payloadType: Self.payloadType, with: key)
    }

    /// Whether a signed payload states exactly `change`, as an offline verifier reads it (`schema/audit-export.md`,
    /// "Administrative authority"): a JSON object of exactly `change` and `time`, no key twice, whose `change` is the same
    /// JSON as this Signoff writes for it — no member more (an unknown one a decoder would skip), none `null`.
    public static func statesExactly(_ change: AdminChange, payload: [UInt8]) -> Bool {
        guard let statement = try? JSONValue.parse(payload), let keys = statement.objectKeys, keys.count == 2, Set(keys) == ["change", "time"],
            let stated = statement["change"], let encoded = try? Event.encoder.encode(change), let expected = try? JSONValue.parse(Array(encoded))
        else { return false }
        return stated.isSame(as: expected)
    }
}

/// The statement a person signs to add a key of their own (self-enrolment: proof of possession of a key they already
/// have, not an administrative change). The key it adds can sign decisions, never administration.
public struct KeyEnrolmentStatement: Hashable, Sendable, Codable {
    public static let payloadType = "application/vnd.signoff.key-enrolment.v1+json"
    public let principal: String
    /// The new key's verifier key line.
    public let verifierKey: String
    /// RFC 3339, UTC.
    public let time: String

    enum CodingKeys: String, CodingKey {
        case principal, time
        case verifierKey = "verifier_key"
    }

    public init(principal: String, verifierKey: NoteVerifierKey, time: Int64) {
        self.principal = principal
        self.verifierKey = verifierKey.description
        self.time = Timestamps.rfc3339(time)
    }

    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: [UInt8](try! Event.encoder.encode(self)), payloadType: Self.payloadType, with: key)
    }

    /// Whether a signed payload states exactly `change`, as an offline verifier reads it (`schema/audit-export.md`,
    /// "Administrative authority"): a JSON object of exactly `change` and `time`, no key twice, whose `change` is the same
    /// JSON as this Signoff writes for it — no member more (an unknown one a decoder would skip), none `null`.
    public static func statesExactly(_ change: AdminChange, payload: [UInt8]) -> Bool {
        guard let statement = try? JSONValue.parse(payload), let keys = statement.objectKeys, keys.count == 2, Set(keys) == ["change", "time"],
            let stated = statement["change"], let encoded = try? Event.encoder.encode(change), let expected = try? JSONValue.parse(Array(encoded))
        else { return false }
        return stated.isSame(as: expected)
    }
}

/// The statement a person signs to delegate their decisions: exactly this delegation, now. Required once the ledger has
/// a regulated project, so that a stolen session cannot hand its owner's authority to another account.
public struct DelegationStatement: Hashable, Sendable, Codable {
    public static let payloadType = "application/vnd.signoff.delegation.v1+json"
    public let delegation: DelegationSpec
    /// RFC 3339, UTC.
    public let time: String

    public init(delegation: DelegationSpec, time: Int64) {
        self.delegation = delegation
        self.time = Timestamps.rfc3339(time)
    }

    public func signed(with key: Ed25519.SigningKey) -> DSSEEnvelope {
        DSSE.sign(payload: [UInt8](try! Event.encoder.encode(self)), payloadType: Self.payloadType, with: key)
    }

    /// Whether a signed payload states exactly `change`, as an offline verifier reads it (`schema/audit-export.md`,
    /// "Administrative authority"): a JSON object of exactly `change` and `time`, no key twice, whose `change` is the same
    /// JSON as this Signoff writes for it — no member more (an unknown one a decoder would skip), none `null`.
    public static func statesExactly(_ change: AdminChange, payload: [UInt8]) -> Bool {
        guard let statement = try? JSONValue.parse(payload), let keys = statement.objectKeys, keys.count == 2, Set(keys) == ["change", "time"],
            let stated = statement["change"], let encoded = try? Event.encoder.encode(change), let expected = try? JSONValue.parse(Array(encoded))
        else { return false }
        return stated.isSame(as: expected)
    }
}
