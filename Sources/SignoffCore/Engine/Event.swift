internal import Foundation
public import SignoffCrypto

/// Everything that happens, as recorded in the ledger: the entry's `kind` is ``kind`` and its payload is the
/// event's JSON. Time and actor are the ledger entry's own.
public enum Event: Hashable, Sendable {
    case ledgerInitialized(LedgerInitialized)
    case principalAdded(PrincipalAdded)
    case keyEnrolled(KeyEnrolled)
    case keyRevoked(KeyRevoked)
    case groupCreated(GroupCreated)
    case memberAdded(MemberAdded)
    case workflowApplied(WorkflowApplied)
    case projectCreated(ProjectCreated)
    case requestFiled(RequestFiled)
    case evidenceAttached(EvidenceAttached)
    case decisionRecorded(DecisionRecorded)
    case stageEntered(StageEntered)
    case requestRejected(RequestRejected)
    case requestWithdrawn(RequestWithdrawn)
    case requestRevised(RequestRevised)
    case deploymentStarted(DeploymentStarted)
    case deploymentRecorded(DeploymentRecorded)
    case retrospectiveRecorded(RetrospectiveRecorded)
    case memberRemoved(MemberRemoved)
    case projectUpdated(ProjectUpdated)
    case principalDisabled(PrincipalStatus)
    case principalEnabled(PrincipalStatus)
    case adminQuorumSet(AdminQuorumSet)
    case serviceTokenIssued(ServiceTokenIssued)
    case freezeAdded(FreezeAdded)
    case freezeLifted(FreezeLifted)
    /// One request let through a freeze (break-glass), signed like lifting it.
    case freezeExempted(FreezeExempted)
    case delegationGranted(DelegationGranted)
    case delegationRevoked(DelegationRevoked)
    /// An administrator ended another principal's token.
    case tokenRevoked(TokenRevoked)
    case requestExpired(RequestExpired)
    case webhookAdded(WebhookAdded)
    case webhookRemoved(WebhookRemoved)
    case issuerTrusted(IssuerTrusted)
    case issuerDistrusted(IssuerDistrusted)
    case directoryConnected(DirectoryConnected)
    case directoryDisconnected(DirectoryDisconnected)
    case groupLinked(GroupLinked)

    /// The first entry of every ledger: its origin, its public key and the format of its entries' payloads.
    public struct LedgerInitialized: Hashable, Sendable, Codable {
        /// The payload vocabulary of this ledger's events (`schema/ledger.md`).
        /// Format 2: snake_case field names and `sha256:` fingerprints (format 1, camelCase, is still read).
        public static let currentFormat = "signoff-ledger/2"
        public let origin: String
        public let ledgerKey: String
        public let format: String

        public init(origin: String, ledgerKey: String, format: String = Self.currentFormat) {
            self.origin = origin
            self.ledgerKey = ledgerKey
            self.format = format
        }

        enum CodingKeys: String, CodingKey {
            case origin, format
            case ledgerKey = "ledger_verifier_key"
        }
        enum LegacyKeys: String, CodingKey { case ledgerKey = "ledger_key" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            origin = try c.decode(String.self, forKey: .origin)
            format = try c.decode(String.self, forKey: .format)
            ledgerKey = try c.decodeIfPresent(String.self, forKey: .ledgerKey)
                ?? decoder.container(keyedBy: LegacyKeys.self).decode(String.self, forKey: .ledgerKey)
        }
    }
    public struct PrincipalAdded: Hashable, Sendable, Codable {
        public let name: String
        public let kind: Principal.Kind
        public let administrator: Bool
        public let verifierKey: String?
        /// The administrators' signed approval (every administrative change once a regulated project exists).
        public var approval: DSSEEnvelope? = nil
        /// Set when a connected directory added the user (then without a key, never an administrator).
        public var directory: String? = nil

        enum CodingKeys: String, CodingKey {
            case name, kind, administrator, approval, directory
            case verifierKey = "verifier_key"
        }
    }
    public struct KeyEnrolled: Hashable, Sendable, Codable {
        public let principal: String
        public let verifierKey: String
        /// The administrator's signed approval, when a regulated project relies on the principal.
        public var approval: DSSEEnvelope?
        /// Self-enrolment: the principal's own ``KeyEnrolmentStatement``, signed with a key they already have.
        public var proof: DSSEEnvelope? = nil

        enum CodingKeys: String, CodingKey {
            case principal, approval, proof
            case verifierKey = "verifier_key"
        }
    }
    public struct KeyRevoked: Hashable, Sendable, Codable {
        public let principal: String
        /// The revoked key's fingerprint, `sha256:<hex>`.
        public let fingerprint: String
        /// When the key is revoked as compromised: from this time on its signatures no longer count.
        public var compromisedSince: Int64? = nil
        public var approval: DSSEEnvelope? = nil

        enum CodingKeys: String, CodingKey {
            case principal, approval
            case fingerprint = "key_fingerprint"
            case compromisedSince = "compromised_since"
        }
    }
    public struct GroupCreated: Hashable, Sendable, Codable {
        public let name: String
        public var approval: DSSEEnvelope? = nil
        /// Set when a connected directory created the group: its membership is that directory's to keep.
        public var directory: String? = nil
    }
    public struct MemberRemoved: Hashable, Sendable, Codable {
        public let group: String
        public let member: String
        public var approval: DSSEEnvelope? = nil
    }
    public struct ProjectUpdated: Hashable, Sendable, Codable {
        /// The project's whole new definition (environments, requesters, deployers); `regulated` cannot be lowered.
        public let project: ProjectSpec
        public var approval: DSSEEnvelope? = nil
    }
    /// `principal.disabled` and `principal.enabled`: offboarding and its reversal.
    public struct PrincipalStatus: Hashable, Sendable, Codable {
        public let principal: String
        public var approval: DSSEEnvelope? = nil
    }
    public struct AdminQuorumSet: Hashable, Sendable, Codable {
        public let quorum: Int
        public var approval: DSSEEnvelope? = nil
    }
    /// A service token an administrator issued (the token itself is never recorded; its ID names it).
    public struct ServiceTokenIssued: Hashable, Sendable, Codable {
        public let tokenID: String
        public let principal: String
        public let scopes: [String]
        /// The token expires this many hours after the entry's time.
        public let lifetimeHours: Int
        public var approval: DSSEEnvelope? = nil

        enum CodingKeys: String, CodingKey {
            case principal, scopes, approval
            case tokenID = "token_id"
            case lifetimeHours = "lifetime_hours"
        }
    }
    public struct MemberAdded: Hashable, Sendable, Codable {
        public let group: String
        public let member: String
        /// The administrator's signed approval, when a regulated project relies on the group.
        public var approval: DSSEEnvelope?
    }
    public struct WorkflowApplied: Hashable, Sendable, Codable {
        public let name: String
        public let digest: SHA256Digest
        /// The exact bytes of the file, as applied.
        public let source: String
        public var approval: DSSEEnvelope? = nil
    }
    public struct ProjectCreated: Hashable, Sendable, Codable {
        public let project: ProjectSpec
        /// The administrator's signed approval of this change (required for regulated projects), exact bytes kept.
        public let approval: DSSEEnvelope?
    }
    public struct RequestFiled: Hashable, Sendable, Codable {
        public let id: String
        public let project: String
        public let environment: String
        public let bundle: String
        public let digest: SHA256Digest
        public let description: String
        public let workflowDigest: SHA256Digest
        /// Written only when the request has labels.
        public var labels: [String: [String]] = [:]
        /// An emergency request's reason; absent for every other request.
        public var emergencyReason: String? = nil
        /// Where the bundle came from (``BundleSource``); absent when the filer gave none.
        public var source: BundleSource? = nil

        enum CodingKeys: String, CodingKey {
            case id, project, environment, bundle, digest, description, labels, source
            case workflowDigest = "workflow_digest"
            case emergencyReason = "emergency_reason"
        }

        public init(
            id: String, project: String, environment: String, bundle: String, digest: SHA256Digest, description: String, workflowDigest: SHA256Digest,
            labels: [String: [String]] = [:], emergencyReason: String? = nil, source: BundleSource? = nil
        ) {
            self.source = source
            self.id = id
            self.project = project
            self.environment = environment
            self.bundle = bundle
            self.digest = digest
            self.description = description
            self.workflowDigest = workflowDigest
            self.labels = labels
            self.emergencyReason = emergencyReason
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(project, forKey: .project)
            try c.encode(environment, forKey: .environment)
            try c.encode(bundle, forKey: .bundle)
            try c.encode(digest, forKey: .digest)
            try c.encode(description, forKey: .description)
            try c.encode(workflowDigest, forKey: .workflowDigest)
            if !labels.isEmpty { try c.encode(labels, forKey: .labels) }
            try c.encodeIfPresent(emergencyReason, forKey: .emergencyReason)
            try c.encodeIfPresent(source, forKey: .source)
        }
    }
    public struct EvidenceAttached: Hashable, Sendable, Codable {
        public let request: String
        public let kind: String
        /// One of the evidence status vocabulary (``EvidenceStatus``).
        public let status: String
        public let digest: SHA256Digest
        public let revision: Int
        /// The counts of a JUnit report the status was derived from.
        public var tests: TestCounts? = nil
        /// Labels detected in the bundle (the workflow's `labels_from` kind only); absent when none.
        public var labels: [String: [String]]? = nil
        /// The CI run that attached it, when it said (``BundleSource``); absent otherwise.
        public var source: BundleSource? = nil
    }
    public struct WebhookAdded: Hashable, Sendable, Codable {
        public let id: String
        public let webhook: WebhookSpec
        public var approval: DSSEEnvelope? = nil
    }
    public struct WebhookRemoved: Hashable, Sendable, Codable {
        public let id: String
        public var approval: DSSEEnvelope? = nil
    }
    public struct IssuerTrusted: Hashable, Sendable, Codable {
        public let issuer: IssuerSpec
        public var approval: DSSEEnvelope? = nil
    }
    public struct IssuerDistrusted: Hashable, Sendable, Codable {
        public let name: String
        public var approval: DSSEEnvelope? = nil
    }
    public struct DirectoryConnected: Hashable, Sendable, Codable {
        public let name: String
        /// The id of the directory's token (stored hashed beside the ledger, never in it).
        public let tokenID: String
        public var approval: DSSEEnvelope? = nil

        enum CodingKeys: String, CodingKey {
            case name, approval
            case tokenID = "token_id"
        }
    }
    public struct DirectoryDisconnected: Hashable, Sendable, Codable {
        public let name: String
        public var approval: DSSEEnvelope? = nil
    }
    /// A group linked to a directory (its membership is then the directory's to keep), or unlinked (`directory` null).
    public struct GroupLinked: Hashable, Sendable, Codable {
        public let group: String
        public let directory: String?
        public var approval: DSSEEnvelope? = nil

        enum CodingKeys: String, CodingKey { case group, directory, approval }

        public init(group: String, directory: String?, approval: DSSEEnvelope? = nil) {
            self.group = group
            self.directory = directory
            self.approval = approval
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(group, forKey: .group)
            try c.encode(directory, forKey: .directory)
            try c.encodeIfPresent(approval, forKey: .approval)
        }
    }
    public struct FreezeAdded: Hashable, Sendable, Codable {
        public let id: String
        public let freeze: FreezeSpec
        public var approval: DSSEEnvelope? = nil
    }
    public struct FreezeLifted: Hashable, Sendable, Codable {
        public let id: String
        public var approval: DSSEEnvelope? = nil
    }
    public struct FreezeExempted: Hashable, Sendable, Codable {
        public let id: String
        public let request: String
        public let reason: String
        public var approval: DSSEEnvelope? = nil
    }
    /// The entry's actor delegates their own roles to `delegate`.
    public struct DelegationGranted: Hashable, Sendable, Codable {
        public let id: String
        public let delegation: DelegationSpec
        /// The delegator's signed ``DelegationStatement`` (required once the ledger has a regulated project).
        public var envelope: DSSEEnvelope? = nil
    }
    public struct DelegationRevoked: Hashable, Sendable, Codable {
        public let id: String
        /// When an administrator revoked someone else's delegation: their signed approval (a regulated ledger).
        public var approval: DSSEEnvelope? = nil
    }
    /// An administrator ended another principal's token (the token itself never reaches the ledger; its ID names it).
    public struct TokenRevoked: Hashable, Sendable, Codable {
        public let tokenID: String
        public let principal: String
        public var approval: DSSEEnvelope? = nil

        enum CodingKeys: String, CodingKey {
            case principal, approval
            case tokenID = "token_id"
        }
    }
    /// Recorded by the system when an active request has had no activity for its workflow's `request_expiry`.
    public struct RequestExpired: Hashable, Sendable, Codable {
        public let request: String
        /// RFC 3339: the last activity the expiry counted from.
        public let lastActivity: String

        enum CodingKeys: String, CodingKey {
            case request
            case lastActivity = "last_activity"
        }
    }
    public struct DecisionRecorded: Hashable, Sendable, Codable {
        public let request: String
        public let stage: String
        public let decision: DecisionKind
        public let comment: String
        public let revision: Int
        public let bundleDigest: SHA256Digest
        /// The DSSE envelope exactly as the approver signed it.
        public let envelope: DSSEEnvelope?
        public let keyFingerprint: String?
        public let statementDigest: SHA256Digest?
        /// Decided under a delegation from this person.
        public var onBehalfOf: String? = nil

        enum CodingKeys: String, CodingKey {
            case request, stage, decision, comment, revision, envelope
            case bundleDigest = "bundle_digest"
            case keyFingerprint = "key_fingerprint"
            case statementDigest = "statement_digest"
            case onBehalfOf = "on_behalf_of"
        }
    }
    public struct StageEntered: Hashable, Sendable, Codable { public let request: String; public let stage: String; public let revision: Int }
    public struct RequestRejected: Hashable, Sendable, Codable { public let request: String; public let stage: String; public let revision: Int }
    public struct RequestWithdrawn: Hashable, Sendable, Codable {
        public let request: String
        public let reason: String
        /// When an administrator withdrew another person's request: their signed approval (a regulated ledger).
        public var approval: DSSEEnvelope? = nil
    }
    public struct RequestRevised: Hashable, Sendable, Codable {
        public let request: String
        public let bundle: String
        public let digest: SHA256Digest
        public let revision: Int
        /// Where the new bundle came from; absent when the reviser gave none.
        public var source: BundleSource? = nil
    }
    /// A deployment begins: the gate allowed it when this was recorded, and that verdict holds until its outcome is
    /// recorded (`deploy --start`, then `deploy --finish`).
    public struct DeploymentStarted: Hashable, Sendable, Codable {
        public let request: String
        public let digest: SHA256Digest
        public let note: String
        public let revision: Int
    }
    public struct DeploymentRecorded: Hashable, Sendable, Codable {
        public let request: String
        public let outcome: Deployment.Outcome
        public let note: String
        public let revision: Int
    }
    public struct RetrospectiveRecorded: Hashable, Sendable, Codable {
        public let request: String
        public let comment: String
        public let overdue: Bool
        /// The reviewer's signed ``RetrospectiveStatement`` (required in regulated projects).
        public var envelope: DSSEEnvelope? = nil
    }

    /// The ledger entry kind: the same name in the ledger, the export and the docs.
    public var kind: String {
        switch self {
        case .ledgerInitialized: "ledger.initialized"
        case .principalAdded: "principal.added"
        case .keyEnrolled: "key.enrolled"
        case .keyRevoked: "key.revoked"
        case .groupCreated: "group.created"
        case .memberAdded: "group.member-added"
        case .workflowApplied: "workflow.applied"
        case .projectCreated: "project.created"
        case .requestFiled: "request.filed"
        case .evidenceAttached: "evidence.attached"
        case .decisionRecorded: "decision.recorded"
        case .stageEntered: "stage.entered"
        case .requestRejected: "request.rejected"
        case .requestWithdrawn: "request.withdrawn"
        case .requestRevised: "request.revised"
        case .deploymentStarted: "deployment.started"
        case .deploymentRecorded: "deployment.recorded"
        case .retrospectiveRecorded: "retrospective.recorded"
        case .memberRemoved: "group.member-removed"
        case .projectUpdated: "project.updated"
        case .principalDisabled: "principal.disabled"
        case .principalEnabled: "principal.enabled"
        case .adminQuorumSet: "admin.quorum-set"
        case .serviceTokenIssued: "token.issued"
        case .webhookAdded: "webhook.added"
        case .webhookRemoved: "webhook.removed"
        case .issuerTrusted: "issuer.trusted"
        case .issuerDistrusted: "issuer.distrusted"
        case .directoryConnected: "directory.connected"
        case .directoryDisconnected: "directory.disconnected"
        case .groupLinked: "group.linked"
        case .freezeAdded: "freeze.added"
        case .freezeLifted: "freeze.lifted"
        case .freezeExempted: "freeze.exempted"
        case .delegationGranted: "delegation.granted"
        case .delegationRevoked: "delegation.revoked"
        case .tokenRevoked: "token.revoked"
        case .requestExpired: "request.expired"
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Canonical JSON (sorted keys) of the event's data (``CanonicalJSON``).
    public var payload: [UInt8] { payload(encoding: { try CanonicalJSON.encode($0) }) }

    /// The event's data encoded by `encode`: canonical JSON in ``payload``; Foundation's encoder where tests compare.
    func payload(encoding encoder: (any Encodable) throws -> [UInt8]) -> [UInt8] {
        func encode(_ value: some Encodable) -> [UInt8] { try! encoder(value) }  // strings, numbers and containers cannot fail
        switch self {
        case .ledgerInitialized(let e): return encode(e)
        case .principalAdded(let e): return encode(e)
        case .keyEnrolled(let e): return encode(e)
        case .keyRevoked(let e): return encode(e)
        case .groupCreated(let e): return encode(e)
        case .memberAdded(let e): return encode(e)
        case .workflowApplied(let e): return encode(e)
        case .projectCreated(let e): return encode(e)
        case .requestFiled(let e): return encode(e)
        case .evidenceAttached(let e): return encode(e)
        case .decisionRecorded(let e): return encode(e)
        case .stageEntered(let e): return encode(e)
        case .requestRejected(let e): return encode(e)
        case .requestWithdrawn(let e): return encode(e)
        case .requestRevised(let e): return encode(e)
        case .deploymentStarted(let e): return encode(e)
        case .deploymentRecorded(let e): return encode(e)
        case .retrospectiveRecorded(let e): return encode(e)
        case .memberRemoved(let e): return encode(e)
        case .projectUpdated(let e): return encode(e)
        case .principalDisabled(let e), .principalEnabled(let e): return encode(e)
        case .adminQuorumSet(let e): return encode(e)
        case .serviceTokenIssued(let e): return encode(e)
        case .webhookAdded(let e): return encode(e)
        case .webhookRemoved(let e): return encode(e)
        case .issuerTrusted(let e): return encode(e)
        case .issuerDistrusted(let e): return encode(e)
        case .directoryConnected(let e): return encode(e)
        case .directoryDisconnected(let e): return encode(e)
        case .groupLinked(let e): return encode(e)
        case .freezeAdded(let e): return encode(e)
        case .freezeLifted(let e): return encode(e)
        case .freezeExempted(let e): return encode(e)
        case .delegationGranted(let e): return encode(e)
        case .delegationRevoked(let e): return encode(e)
        case .tokenRevoked(let e): return encode(e)
        case .requestExpired(let e): return encode(e)
        }
    }

    /// Decodes a ledger entry's kind and payload. Kinds the engine does not know give nil.
    public static func decode(kind: String, payload: [UInt8]) throws -> Event? {
        let decoder = JSONDecoder()
        let data = Data(payload)
        switch kind {
        case "ledger.initialized": return .ledgerInitialized(try decoder.decode(LedgerInitialized.self, from: data))
        case "principal.added": return .principalAdded(try decoder.decode(PrincipalAdded.self, from: data))
        case "key.enrolled": return .keyEnrolled(try decoder.decode(KeyEnrolled.self, from: data))
        case "key.revoked": return .keyRevoked(try decoder.decode(KeyRevoked.self, from: data))
        case "group.created": return .groupCreated(try decoder.decode(GroupCreated.self, from: data))
        case "group.member-added": return .memberAdded(try decoder.decode(MemberAdded.self, from: data))
        case "workflow.applied": return .workflowApplied(try decoder.decode(WorkflowApplied.self, from: data))
        case "project.created": return .projectCreated(try decoder.decode(ProjectCreated.self, from: data))
        case "request.filed": return .requestFiled(try decoder.decode(RequestFiled.self, from: data))
        case "evidence.attached": return .evidenceAttached(try decoder.decode(EvidenceAttached.self, from: data))
        case "decision.recorded": return .decisionRecorded(try decoder.decode(DecisionRecorded.self, from: data))
        case "stage.entered": return .stageEntered(try decoder.decode(StageEntered.self, from: data))
        case "request.rejected": return .requestRejected(try decoder.decode(RequestRejected.self, from: data))
        case "request.withdrawn": return .requestWithdrawn(try decoder.decode(RequestWithdrawn.self, from: data))
        case "request.revised": return .requestRevised(try decoder.decode(RequestRevised.self, from: data))
        case "deployment.started": return .deploymentStarted(try decoder.decode(DeploymentStarted.self, from: data))
        case "deployment.recorded": return .deploymentRecorded(try decoder.decode(DeploymentRecorded.self, from: data))
        case "retrospective.recorded": return .retrospectiveRecorded(try decoder.decode(RetrospectiveRecorded.self, from: data))
        case "group.member-removed": return .memberRemoved(try decoder.decode(MemberRemoved.self, from: data))
        case "project.updated": return .projectUpdated(try decoder.decode(ProjectUpdated.self, from: data))
        case "principal.disabled": return .principalDisabled(try decoder.decode(PrincipalStatus.self, from: data))
        case "principal.enabled": return .principalEnabled(try decoder.decode(PrincipalStatus.self, from: data))
        case "admin.quorum-set": return .adminQuorumSet(try decoder.decode(AdminQuorumSet.self, from: data))
        case "token.issued": return .serviceTokenIssued(try decoder.decode(ServiceTokenIssued.self, from: data))
        case "webhook.added": return .webhookAdded(try decoder.decode(WebhookAdded.self, from: data))
        case "webhook.removed": return .webhookRemoved(try decoder.decode(WebhookRemoved.self, from: data))
        case "issuer.trusted": return .issuerTrusted(try decoder.decode(IssuerTrusted.self, from: data))
        case "issuer.distrusted": return .issuerDistrusted(try decoder.decode(IssuerDistrusted.self, from: data))
        case "directory.connected": return .directoryConnected(try decoder.decode(DirectoryConnected.self, from: data))
        case "directory.disconnected": return .directoryDisconnected(try decoder.decode(DirectoryDisconnected.self, from: data))
        case "group.linked": return .groupLinked(try decoder.decode(GroupLinked.self, from: data))
        case "freeze.added": return .freezeAdded(try decoder.decode(FreezeAdded.self, from: data))
        case "freeze.lifted": return .freezeLifted(try decoder.decode(FreezeLifted.self, from: data))
        case "freeze.exempted": return .freezeExempted(try decoder.decode(FreezeExempted.self, from: data))
        case "delegation.granted": return .delegationGranted(try decoder.decode(DelegationGranted.self, from: data))
        case "delegation.revoked": return .delegationRevoked(try decoder.decode(DelegationRevoked.self, from: data))
        case "token.revoked": return .tokenRevoked(try decoder.decode(TokenRevoked.self, from: data))
        case "request.expired": return .requestExpired(try decoder.decode(RequestExpired.self, from: data))
        default: return nil
        }
    }
}

/// A project's settings, as an administrator states them: environments under workflows, and the groups bound to the
/// roles those workflows name (`ROLE` or `ROLE@ENVIRONMENT` → groups).
public struct ProjectSpec: Hashable, Sendable, Codable {
    public let key: String
    public let regulated: Bool
    public let environments: [String: String]
    public let roles: [String: [String]]
    /// Read from a round-1 entry (requesters and deployers, no roles): see ``Project/namesGroups``. Never written.
    public private(set) var namesGroups = false

    public init(key: String, regulated: Bool, environments: [String: String], roles: [String: [String]]) {
        self.key = key
        self.regulated = regulated
        self.environments = environments
        self.roles = roles
    }

    enum CodingKeys: String, CodingKey { case key, regulated, environments, roles, requesters, deployers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.decode(String.self, forKey: .key)
        regulated = try c.decode(Bool.self, forKey: .regulated)
        environments = try c.decode([String: String].self, forKey: .environments)
        if let roles = try c.decodeIfPresent([String: [String]].self, forKey: .roles) {
            self.roles = roles
        } else {
            // Round 1: requesters and per-environment deployers were the project's only bindings.
            var roles = ["requesters": try c.decode([String].self, forKey: .requesters)]
            for (environment, groups) in try c.decodeIfPresent([String: [String]].self, forKey: .deployers) ?? [:] {
                roles["deployers@" + environment] = groups
            }
            self.roles = roles
            namesGroups = true
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(regulated, forKey: .regulated)
        try c.encode(environments, forKey: .environments)
        try c.encode(roles, forKey: .roles)
    }
}

/// A change freeze, as an administrator states it. Times are RFC 3339 in JSON.
public struct FreezeSpec: Hashable, Sendable, Codable {
    public let environment: String
    public let project: String?
    public let from: Int64
    public let until: Int64
    public let reason: String

    public init(environment: String, project: String?, from: Int64, until: Int64, reason: String) {
        self.environment = environment
        self.project = project
        self.from = from
        self.until = until
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case environment, project, from, until, reason }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        environment = try c.decode(String.self, forKey: .environment)
        project = try c.decodeIfPresent(String.self, forKey: .project)
        from = try Timestamps.decode(c, .from)
        until = try Timestamps.decode(c, .until)
        reason = try c.decode(String.self, forKey: .reason)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(environment, forKey: .environment)
        try c.encodeIfPresent(project, forKey: .project)
        try c.encode(Timestamps.rfc3339(from), forKey: .from)
        try c.encode(Timestamps.rfc3339(until), forKey: .until)
        try c.encode(reason, forKey: .reason)
    }
}

/// A delegation, as the delegator states it. Times are RFC 3339 in JSON.
public struct DelegationSpec: Hashable, Sendable, Codable {
    public let delegate: String
    public let start: Int64
    public let end: Int64
    public let project: String?
    public let role: String?

    public init(delegate: String, start: Int64, end: Int64, project: String?, role: String?) {
        self.delegate = delegate
        self.start = start
        self.end = end
        self.project = project
        self.role = role
    }

    enum CodingKeys: String, CodingKey { case delegate, start = "from", end = "until", project, role }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        delegate = try c.decode(String.self, forKey: .delegate)
        start = try Timestamps.decode(c, .start)
        end = try Timestamps.decode(c, .end)
        project = try c.decodeIfPresent(String.self, forKey: .project)
        role = try c.decodeIfPresent(String.self, forKey: .role)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(delegate, forKey: .delegate)
        try c.encode(Timestamps.rfc3339(start), forKey: .start)
        try c.encode(Timestamps.rfc3339(end), forKey: .end)
        try c.encodeIfPresent(project, forKey: .project)
        try c.encodeIfPresent(role, forKey: .role)
    }
}

// Format 1 (round 1's ledgers) named these fields in camelCase and wrote fingerprints as bare hex: they are still read.
// Format 2 writes fingerprints as `sha256:<hex>`; in memory (and in the projection) a fingerprint is its bare hex.

extension Event.PrincipalAdded {
    enum LegacyKeys: String, CodingKey { case verifierKey }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), kind: try c.decode(Principal.Kind.self, forKey: .kind),
            administrator: try c.decode(Bool.self, forKey: .administrator),
            verifierKey: try c.decodeIfPresent(String.self, forKey: .verifierKey) ?? legacy.decodeIfPresent(String.self, forKey: .verifierKey),
            approval: try c.decodeIfPresent(DSSEEnvelope.self, forKey: .approval))
    }
}

extension Event.KeyEnrolled {
    enum LegacyKeys: String, CodingKey { case verifierKey }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        self.init(
            principal: try c.decode(String.self, forKey: .principal),
            verifierKey: try c.decodeIfPresent(String.self, forKey: .verifierKey) ?? legacy.decode(String.self, forKey: .verifierKey),
            approval: try c.decodeIfPresent(DSSEEnvelope.self, forKey: .approval), proof: try c.decodeIfPresent(DSSEEnvelope.self, forKey: .proof))
    }
}

extension Event.KeyRevoked {
    enum LegacyKeys: String, CodingKey { case fingerprint }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        let fingerprint = try c.decodeIfPresent(String.self, forKey: .fingerprint) ?? legacy.decode(String.self, forKey: .fingerprint)
        let compromised = try c.decodeIfPresent(String.self, forKey: .compromisedSince)
        self.init(
            principal: try c.decode(String.self, forKey: .principal), fingerprint: Ed25519.PublicKey.fingerprintHex(fingerprint),
            compromisedSince: try compromised.map {
                guard let ms = Timestamps.milliseconds(rfc3339: $0) else {
                    throw DecodingError.dataCorruptedError(forKey: .compromisedSince, in: c, debugDescription: "not an RFC 3339 time")
                }
                return ms
            },
            approval: try c.decodeIfPresent(DSSEEnvelope.self, forKey: .approval))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(principal, forKey: .principal)
        try c.encode("sha256:" + fingerprint, forKey: .fingerprint)
        try c.encodeIfPresent(compromisedSince.map(Timestamps.rfc3339), forKey: .compromisedSince)
        try c.encodeIfPresent(approval, forKey: .approval)
    }
}

extension Event.RequestFiled {
    enum LegacyKeys: String, CodingKey { case workflowDigest }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), project: try c.decode(String.self, forKey: .project),
            environment: try c.decode(String.self, forKey: .environment), bundle: try c.decode(String.self, forKey: .bundle),
            digest: try c.decode(SHA256Digest.self, forKey: .digest), description: try c.decode(String.self, forKey: .description),
            workflowDigest: try c.decodeIfPresent(SHA256Digest.self, forKey: .workflowDigest) ?? legacy.decode(SHA256Digest.self, forKey: .workflowDigest),
            labels: try c.decodeIfPresent([String: [String]].self, forKey: .labels) ?? [:],
            emergencyReason: try c.decodeIfPresent(String.self, forKey: .emergencyReason))
    }
}

extension Event.DecisionRecorded {
    enum LegacyKeys: String, CodingKey { case bundleDigest, keyFingerprint, statementDigest }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        let fingerprint = try c.decodeIfPresent(String.self, forKey: .keyFingerprint) ?? legacy.decodeIfPresent(String.self, forKey: .keyFingerprint)
        self.init(
            request: try c.decode(String.self, forKey: .request), stage: try c.decode(String.self, forKey: .stage),
            decision: try c.decode(DecisionKind.self, forKey: .decision), comment: try c.decode(String.self, forKey: .comment),
            revision: try c.decode(Int.self, forKey: .revision),
            bundleDigest: try c.decodeIfPresent(SHA256Digest.self, forKey: .bundleDigest) ?? legacy.decode(SHA256Digest.self, forKey: .bundleDigest),
            envelope: try c.decodeIfPresent(DSSEEnvelope.self, forKey: .envelope),
            keyFingerprint: fingerprint.map(Ed25519.PublicKey.fingerprintHex),
            statementDigest: try c.decodeIfPresent(SHA256Digest.self, forKey: .statementDigest)
                ?? legacy.decodeIfPresent(SHA256Digest.self, forKey: .statementDigest),
            onBehalfOf: try c.decodeIfPresent(String.self, forKey: .onBehalfOf))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(request, forKey: .request)
        try c.encode(stage, forKey: .stage)
        try c.encode(decision, forKey: .decision)
        try c.encode(comment, forKey: .comment)
        try c.encode(revision, forKey: .revision)
        try c.encode(bundleDigest, forKey: .bundleDigest)
        try c.encodeIfPresent(envelope, forKey: .envelope)
        try c.encodeIfPresent(keyFingerprint.map { "sha256:" + $0 }, forKey: .keyFingerprint)
        try c.encodeIfPresent(statementDigest, forKey: .statementDigest)
        try c.encodeIfPresent(onBehalfOf, forKey: .onBehalfOf)
    }
}
