public import SignoffCrypto

/// An enrolled public key: usable from enrolment until revocation.
public struct EnrolledKey: Hashable, Sendable, Codable {
    /// The signed-note verifier key line, `NAME+KEYIDHEX+BASE64`.
    public let verifierKey: String
    /// Hex SHA-256 of the public key (shown as `sha256:<hex>`, the DSSE `keyid`).
    public let fingerprint: String
    public let enrolledAt: Int64
    public var revokedAt: Int64?
    /// Whether the key's own enrolment was signed by administrators (or it is the first administrator's key): only such
    /// a key counts for an administrative signature.
    public var trusted: Bool
    /// Set when the key was revoked as compromised: its signatures from this time on no longer count, even before the
    /// revocation.
    public var compromisedSince: Int64?
    /// Enrolled by its owner's proof (a signature by a key they had), not by administrators: it never signs administration.
    public var selfEnrolled = false
    /// The fingerprints of the keys whose signature on the proof vouched for a self-enrolled key: marking one of them
    /// compromised since the enrolment revokes this key too (whoever held the voucher made it).
    public var vouchedBy: [String] = []

    /// Parsed once, when the key is enrolled or its document read: every signature check needs it.
    public let publicKey: Ed25519.PublicKey?

    public init(verifierKey: String, fingerprint: String, enrolledAt: Int64, revokedAt: Int64?, trusted: Bool = false, compromisedSince: Int64? = nil) {
        self.verifierKey = verifierKey
        self.fingerprint = fingerprint
        self.enrolledAt = enrolledAt
        self.revokedAt = revokedAt
        self.trusted = trusted
        self.compromisedSince = compromisedSince
        self.publicKey = try? NoteVerifierKey(parsing: verifierKey).publicKey
    }

    enum CodingKeys: String, CodingKey { case verifierKey, fingerprint, enrolledAt, revokedAt, trusted, compromisedSince, selfEnrolled, vouchedBy }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            verifierKey: try c.decode(String.self, forKey: .verifierKey), fingerprint: try c.decode(String.self, forKey: .fingerprint),
            enrolledAt: try c.decode(Int64.self, forKey: .enrolledAt), revokedAt: try c.decodeIfPresent(Int64.self, forKey: .revokedAt),
            trusted: try c.decodeIfPresent(Bool.self, forKey: .trusted) ?? false,
            compromisedSince: try c.decodeIfPresent(Int64.self, forKey: .compromisedSince))
        selfEnrolled = try c.decodeIfPresent(Bool.self, forKey: .selfEnrolled) ?? false
        vouchedBy = try c.decodeIfPresent([String].self, forKey: .vouchedBy) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(verifierKey, forKey: .verifierKey)
        try c.encode(fingerprint, forKey: .fingerprint)
        try c.encode(enrolledAt, forKey: .enrolledAt)
        try c.encodeIfPresent(revokedAt, forKey: .revokedAt)
        try c.encode(trusted, forKey: .trusted)
        try c.encodeIfPresent(compromisedSince, forKey: .compromisedSince)
        if selfEnrolled { try c.encode(true, forKey: .selfEnrolled) }
        if !vouchedBy.isEmpty { try c.encode(vouchedBy, forKey: .vouchedBy) }
    }

    public func isValid(at time: Int64) -> Bool { time >= enrolledAt && (revokedAt.map { time < $0 } ?? true) }

    /// Whether a signature this key made at `time` still counts: valid then, and not made after the key was compromised.
    public func counts(signedAt time: Int64) -> Bool { isValid(at: time) && (compromisedSince.map { time < $0 } ?? true) }
}

/// A person or a service account: anyone who acts.
public struct Principal: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable { case user, serviceAccount = "service-account" }
    public let name: String
    public let kind: Kind
    public var isAdministrator: Bool
    public var keys: [EnrolledKey]
    /// A disabled principal can do nothing (offboarding); its tokens end when it is disabled.
    public var disabled: Bool
    /// The connected directory that added this user (it may disable them, and put them in its groups).
    public var directory: String? = nil
    /// Who disabled this principal, while disabled: a directory enables again only whom it disabled itself, never whom an
    /// administrator disabled (an offboarding for cause).
    public var disabledBy: String? = nil

    public init(name: String, kind: Kind, isAdministrator: Bool, keys: [EnrolledKey], disabled: Bool = false) {
        self.name = name
        self.kind = kind
        self.isAdministrator = isAdministrator
        self.keys = keys
        self.disabled = disabled
    }

    enum CodingKeys: String, CodingKey { case name, kind, isAdministrator, keys, disabled, directory, disabledBy }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), kind: try c.decode(Kind.self, forKey: .kind),
            isAdministrator: try c.decode(Bool.self, forKey: .isAdministrator), keys: try c.decode([EnrolledKey].self, forKey: .keys),
            disabled: try c.decodeIfPresent(Bool.self, forKey: .disabled) ?? false)
        directory = try c.decodeIfPresent(String.self, forKey: .directory)
        disabledBy = try c.decodeIfPresent(String.self, forKey: .disabledBy)
    }

    public func validKey(fingerprint: String, at time: Int64) -> EnrolledKey? {
        keys.first { $0.fingerprint == fingerprint && $0.isValid(at: time) }
    }
}

public struct Group: Hashable, Sendable, Codable {
    public let name: String
    public var members: [String]
    /// The connected directory whose changes keep this group's membership (``ConnectedDirectory``): it created the
    /// group, or administrators linked it (`group.link`). Administrators may still change it.
    public var directory: String? = nil

    public init(name: String, members: [String], directory: String? = nil) {
        self.name = name
        self.members = members
        self.directory = directory
    }
}

/// A project: its environments (each under a workflow) and the groups bound to the roles those workflows name, so its
/// team can move its own deployments without global admin rights and without any authority over other projects.
public struct Project: Hashable, Sendable, Codable {
    public let key: String
    public var regulated: Bool
    /// Target environment → workflow name (e.g. qa → standard, prod → regulated).
    public var environments: [String: String]
    /// Role bindings: `ROLE` or `ROLE@ENVIRONMENT` → groups whose members hold the role (the environment's binding wins).
    public var roles: [String: [String]]
    /// Created in round 1, before roles: a role it does not bind is the group of the same name (what round-1
    /// workflows meant). Never true for a project created or updated since.
    public var namesGroups: Bool

    public init(_ spec: ProjectSpec) {
        key = spec.key
        regulated = spec.regulated
        environments = spec.environments
        roles = spec.roles
        namesGroups = spec.namesGroups
    }

    /// The groups bound to `role` on `environment`: the environment's own binding, else the project-wide one.
    public func groups(bound role: String, environment: String) -> [String] {
        if let groups = roles[role + "@" + environment] { return groups }
        if let groups = roles[role] { return groups }
        return namesGroups ? [role] : []
    }

    /// Every group bound to any role, on any environment.
    public var boundGroups: Set<String> { Set(roles.values.flatMap { $0 }) }
}

/// A change freeze: while in force, no request deploys to its environment (of its project, or of every project).
public struct Freeze: Hashable, Sendable, Codable {
    public let id: String
    public let environment: String
    /// nil: every project.
    public let project: String?
    /// Milliseconds since the epoch, `from ..< until`.
    public let from: Int64
    public let until: Int64
    public let reason: String
    public let addedBy: String
    public var liftedAt: Int64?
    /// Requests that may deploy through this freeze, each by a signed exemption (break-glass for one request): request →
    /// the exemption. Nil when there is none.
    public var exemptions: [String: FreezeExemption]? = nil

    /// Whether the freeze holds `request` back now: in force for its project and environment, and not exempting it.
    public func holds(_ request: DeploymentRequest, at now: Int64) -> Bool {
        isInForce(project: request.project, environment: request.environment, at: now) && exemption(for: request) == nil
    }

    /// The exemption that lets `request` through, if it was granted for the request's current revision: administrators
    /// exempt the bundle before them, so a revision — another bundle — needs an exemption of its own. (Granted in the
    /// very millisecond of the revision, it is taken as earlier: refused rather than guessed.)
    public func exemption(for request: DeploymentRequest) -> FreezeExemption? {
        guard let exemption = exemptions?[request.id] else { return nil }
        if let revisedAt = request.earlierRevisions.last?.replacedAt, exemption.at <= revisedAt { return nil }
        return exemption
    }

    public func isInForce(project: String, environment: String, at now: Int64) -> Bool {
        self.environment == environment && (self.project.map { $0 == project } ?? true) && from <= now && now < until
            && (liftedAt.map { now < $0 } ?? true)
    }
}

/// One request let through a freeze: why, by whom, when (a signed administrative change, `freeze.exempt`).
public struct FreezeExemption: Hashable, Sendable, Codable {
    public let reason: String
    public let by: String
    public let at: Int64
}

/// A time-bounded delegation: `to` may decide in `from`'s place, with `from`'s own roles, inside the window. No
/// cascading (a delegate never passes on what was delegated), never on a request either of them filed.
public struct Delegation: Hashable, Sendable, Codable {
    public let id: String
    public let from: String
    public let to: String
    public let start: Int64
    public let end: Int64
    public let project: String?
    public let role: String?
    public var revokedAt: Int64?
    /// When it was granted (the entry's time), and the fingerprints of the keys that signed the delegator's statement:
    /// marking one of those keys compromised since then revokes it (projection format 5; nil in older documents).
    public var grantedAt: Int64? = nil
    public var signedWith: [String]? = nil

    public func isInForce(at now: Int64) -> Bool { start <= now && now < end && (revokedAt.map { now < $0 } ?? true) }
}

public struct TestCounts: Hashable, Sendable, Codable {
    /// The largest count accepted (a billion test cases): bounds every sum.
    public static let maximum = 1_000_000_000
    public let tests: Int
    public let failures: Int
    public let errors: Int
    public let skipped: Int

    public init(tests: Int, failures: Int, errors: Int, skipped: Int) {
        self.tests = tests
        self.failures = failures
        self.errors = errors
        self.skipped = skipped
    }

    /// The status these counts give: errors first, then failures; all skipped (or none run) is `skipped`.
    public var status: EvidenceStatus {
        if errors > 0 { return .errored }
        if failures > 0 { return .failed }
        if skipped >= tests { return .skipped }
        return .passed
    }
}

public struct Evidence: Hashable, Sendable, Codable {
    public let kind: String
    public let status: EvidenceStatus
    public let digest: SHA256Digest
    public let attachedBy: String
    public let at: Int64
    public let revision: Int
    /// The counts of a test report (JUnit XML), when the status was derived from one.
    public var tests: TestCounts? = nil
    /// Labels the evidence carries (the workflow's `labels_from` kind: what CI found in the bundle).
    public var labels: [String: [String]]? = nil
    /// The CI run that attached it.
    public var source: BundleSource? = nil
}

/// `approve` counts toward the stage; `reject` ends the request; `changes-requested` holds the stage until the
/// requester revises.
public enum DecisionKind: String, Hashable, Sendable, Codable, CaseIterable {
    case approve, reject
    case changesRequested = "changes-requested"
}

public struct Decision: Hashable, Sendable, Codable {
    public let stage: String
    public let decision: DecisionKind
    public let by: String
    public let at: Int64
    public let comment: String
    public let revision: Int
    /// The DSSE `keyid` of the signing key, when signed.
    public let keyFingerprint: String?
    /// SHA-256 of the signed statement, when signed: replay protection and the link to the exact bytes in the ledger.
    public let statementDigest: SHA256Digest?
    /// When decided under a delegation: the person whose roles were used (`by` for `onBehalfOf`).
    public var onBehalfOf: String? = nil
    public var isSigned: Bool { keyFingerprint != nil }
    /// Whose authority counts: the delegator's under a delegation, else the decider's.
    public var authority: String { onBehalfOf ?? by }
}

public struct StageEntry: Hashable, Sendable, Codable {
    public let stage: String
    public let at: Int64
    public let revision: Int
}

public struct Deployment: Hashable, Sendable, Codable {
    public enum Outcome: String, Hashable, Sendable, Codable { case succeeded, failed }
    public let outcome: Outcome
    public let by: String
    public let at: Int64
    public let note: String
    public let revision: Int
}

/// A revision a later one replaced (`request.revised`): what the request asked to deploy until then.
public struct EarlierRevision: Hashable, Sendable, Codable {
    public let revision: Int
    public let bundle: String
    public let digest: SHA256Digest
    /// When, and by whom, the next revision replaced it.
    public let replacedAt: Int64
    public let replacedBy: String
}

/// A deployment under way: started when the gate allowed it (`deployment.started`), until its outcome is recorded.
public struct DeploymentStart: Hashable, Sendable, Codable {
    public let by: String
    public let at: Int64
    public let note: String
    public let revision: Int
}

/// Request, freeze, delegation and webhook IDs: a prefix, `-`, a number.
public enum RequestID {
    /// The number of an ID such as `REQ-12` or `WH-3`, for ordering (0 when it has none): the decimal digits after
    /// the last `-`. Read in place, without splitting: sorts call it for every comparison.
    public static func number(_ id: String) -> Int {
        var value = 0
        var scale = 1
        var digits = 0
        for byte in id.utf8.reversed() {
            if byte == UInt8(ascii: "-") { break }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 18 else { return 0 }
            value += Int(byte - UInt8(ascii: "0")) * scale
            scale *= 10
            digits += 1
        }
        return value
    }
}

public struct DeploymentRequest: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable { case active, rejected, withdrawn, deployed, expired }

    /// An emergency request: its reason, given at filing.
    public struct Emergency: Hashable, Sendable, Codable {
        public let reason: String
    }

    public let id: String
    public let project: String
    public let environment: String
    public let requester: String
    public let description: String
    public let filedAt: Int64
    /// The workflow the request started under; later edits of the workflow never change its rules.
    public let workflowDigest: SHA256Digest
    public var bundle: String
    public var digest: SHA256Digest
    public var revision: Int
    public var stage: String
    public var status: Status
    public var history: [StageEntry]
    /// Evidence and decisions of every revision; only the current revision's count.
    public var evidence: [Evidence]
    public var decisions: [Decision]
    public var deployments: [Deployment]
    /// Set by the first deployment attempt (succeeded or failed) of a request that owes a retrospective.
    public var retrospectiveDue: Int64?
    public var retrospectiveDone: Bool
    /// Labels declared at filing (`touches: [connections, plugins]`, `risk: [high]`): they switch conditional stages on
    /// and are part of what deciders sign.
    public var labels: [String: [String]] = [:]
    public var emergency: Emergency? = nil
    /// The freezes that let it through, each by a signed exemption (break-glass): such a deployment owes the
    /// retrospective review an emergency owes. Nil when none (most).
    public var exemptedFrom: [String]? = nil
    /// Where the current revision's bundle came from, as its filer or reviser said — or, when they said nothing, the CI
    /// run that first attached evidence to the revision with a source (a pipeline carrying on with a person's request).
    /// Links; never evaluated.
    public var source: BundleSource? = nil
    /// Labels detected on the current revision: the union of those its `labels_from` evidence carries.
    public var detectedLabels: [String: [String]] = [:]

    /// The labels every `when:` reads: the requester's declaration and what was detected, merged — each can add
    /// stages, neither can remove one the other adds.
    public var effectiveLabels: [String: [String]] { Self.union(labels, detectedLabels) }

    static func union(_ a: [String: [String]], _ b: [String: [String]]) -> [String: [String]] {
        guard !b.isEmpty else { return a }
        return a.merging(b) { Array(Set($0).union($1)).sorted() }
    }
    /// The deployment started and not finished, if any: the gate's verdict at its start holds until its outcome.
    public var deploymentInProgress: DeploymentStart? = nil
    /// The revisions a revision replaced, oldest first: what changed since the previous revision.
    public var earlierRevisions: [EarlierRevision] = []

    /// The time of the request's last recorded activity — filing, a stage entered, evidence, a decision, a deployment
    /// attempt — what `request_expiry` counts from.
    public var lastActivity: Int64 {
        max(
            history.last?.at ?? filedAt, evidence.last?.at ?? filedAt, decisions.last?.at ?? filedAt, deployments.last?.at ?? filedAt,
            deploymentInProgress?.at ?? filedAt)
    }

    public var currentEvidence: [Evidence] { evidence.filter { $0.revision == revision } }
    public var currentDecisions: [Decision] { decisions.filter { $0.revision == revision } }
}

/// Everything the engine decides on: a fold of the ledger's events.
public struct SignoffState: Hashable, Sendable, Codable {
    public var principals: [String: Principal] = [:]
    public var groups: [String: Group] = [:]
    /// Workflow name → digest of the version currently applied.
    public var currentWorkflows: [String: SHA256Digest] = [:]
    /// Every workflow version ever applied, by digest (requests pin one).
    public var workflows: [SHA256Digest: AppliedWorkflow] = [:]
    public var projects: [String: Project] = [:]
    public var requests: [String: DeploymentRequest] = [:]
    /// Digests of signed statements already accepted: a statement counts once. A replay of the ledger holds every one;
    /// the state a command is decided on holds only those of the statements it carries (``Command/reads``), read from
    /// the store's `used_statement` rows, which are kept while a statement could still be fresh.
    public var usedStatements: Set<SHA256Digest> = []
    public var requestCounter = 0
    /// The ledger's identity, from its first entry, when this state was folded from it (not kept in the projection).
    public var ledger: Event.LedgerInitialized?
    /// How many distinct administrators must sign a change to what a regulated project relies on (at most the number
    /// of enabled administrators holding a trusted key).
    public var adminQuorum = 1
    /// Change freezes by ID (`FRZ-1`, …), lifted ones included.
    public var freezes: [String: Freeze] = [:]
    /// Delegations by ID (`DLG-1`, …), revoked and ended ones included.
    public var delegations: [String: Delegation] = [:]
    /// Webhook subscriptions by ID (`WH-1`, …), removed ones included.
    public var webhooks: [String: Webhook] = [:]
    /// OpenID Connect issuers administrators trust, by name (distrusted ones removed).
    public var issuers: [String: TrustedIssuer] = [:]
    /// Connected directories (SCIM clients), by name (disconnected ones removed).
    public var directories: [String: ConnectedDirectory] = [:]

    /// Derived from ``requests`` (kept by ``apply(_:actor:at:)`` and ``init(documents:)``; not a stored document): the
    /// requests an inbox or the inventory can show as waiting — active, or owing a retrospective — so that neither
    /// walks every request ever filed.
    public internal(set) var openRequests: Set<String> = []
    /// Derived likewise: per `project/environment`, the request whose successful deployment is the newest there
    /// (what runs now).
    public internal(set) var runningRequests: [String: String] = [:]

    /// The version of the projection's documents: a projection of another version is rebuilt from the ledger.
    /// 7: requests keep `detectedLabels`, and trusted issuers are documents (`issuer/NAME`).
    /// 8: connected directories are documents (`directory/NAME`); principals and groups may name their directory.
    /// 10: workflow documents keep their version (`regulated v2`).
    public static let projectionFormat = "10"

    public init() {}

    /// The key of ``runningRequests``.
    public static func slot(project: String, environment: String) -> String { project + "/" + environment }

    /// Brings the derived indexes up to date with request `id` after it changed.
    mutating func reindex(_ id: String) {
        guard let r = requests[id] else {
            openRequests.remove(id)
            return
        }
        if r.status == .active || (r.retrospectiveDue != nil && !r.retrospectiveDone) { openRequests.insert(id) } else { openRequests.remove(id) }
        guard let deployed = r.deployments.last(where: { $0.outcome == .succeeded }) else { return }
        let slot = Self.slot(project: r.project, environment: r.environment)
        // The newest successful deployment wins; at the same millisecond, the request filed later.
        if let current = runningRequests[slot], current != id, let other = requests[current]?.deployments.last(where: { $0.outcome == .succeeded }),
            (other.at, RequestID.number(current)) > (deployed.at, RequestID.number(id))
        {
            return
        }
        runningRequests[slot] = id
    }

    public func isMember(_ principal: String, of group: String) -> Bool {
        groups[group]?.members.contains(principal) ?? false
    }

    /// True when `principal` is named directly or is a member of a named group.
    public func matches(_ principal: String, any names: [String]) -> Bool {
        names.contains { $0 == principal || isMember(principal, of: $0) }
    }

    public func workflow(for request: DeploymentRequest) -> AppliedWorkflow? { workflows[request.workflowDigest] }

    /// The groups bound to `role` in `project` on `environment` (none when the project does not exist).
    public func groups(bound role: String, project: String, environment: String) -> [String] {
        projects[project]?.groups(bound: role, environment: environment) ?? []
    }

    /// Whether `principal` holds `role` in `project` on `environment` through the project's bindings.
    public func holds(_ principal: String, role: String, project: String, environment: String) -> Bool {
        matches(principal, any: groups(bound: role, project: project, environment: environment))
    }

    /// Everyone who holds `role` in `project` on `environment`, sorted.
    public func holders(of role: String, project: String, environment: String) -> [String] {
        let groups = self.groups(bound: role, project: project, environment: environment)
        return principals.keys.filter { matches($0, any: groups) && principals[$0]?.disabled != true }.sorted()
    }

    /// The freezes holding `request` back now: in force for its project and environment, without an exemption for it.
    public func freezes(holding request: DeploymentRequest, at now: Int64) -> [Freeze] {
        freezes.values.filter { $0.holds(request, at: now) }.sorted { $0.id < $1.id }
    }

    /// The freezes in force now for `environment` of `project`.
    public func freezes(inForceFor project: String, environment: String, at now: Int64) -> [Freeze] {
        freezes.values.filter { $0.isInForce(project: project, environment: environment, at: now) }.sorted { $0.id < $1.id }
    }
}
