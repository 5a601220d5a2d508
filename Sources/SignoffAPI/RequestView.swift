public import SignoffCore
public import SignoffCrypto

/// A request as the API and `signoff status --json` show it (not the projection's storage document).
public struct RequestView: Codable, Sendable, Equatable {
    public struct StageEntryView: Codable, Sendable, Equatable {
        public let stage: String
        public let at: String
        public let revision: Int
    }
    public struct EvidenceView: Codable, Sendable, Equatable {
        public let kind: String
        public let status: String
        public let digest: String
        public let actor: String
        public let at: String
        public let revision: Int
        public let tests: TestCounts?
    }
    public struct DecisionView: Codable, Sendable, Equatable {
        public let stage: String
        public let decision: String
        public let actor: String
        public let at: String
        public let comment: String
        public let revision: Int
        public let signed: Bool
        /// The SHA-256 fingerprint of the signing key, `sha256:<hex>`.
        public let key_fingerprint: String?
        public let statement_digest: String?
        /// Decided under this person's delegation ("actor for on_behalf_of").
        public let on_behalf_of: String?
    }
    public struct DeploymentStartView: Codable, Sendable, Equatable {
        public let actor: String
        public let at: String
        public let note: String
        public let revision: Int
    }
    /// A revision a later one replaced: what the request asked to deploy until `replaced_at`.
    public struct EarlierRevisionView: Codable, Sendable, Equatable {
        public let revision: Int
        public let bundle: String
        public let digest: String
        public let replaced_at: String
        public let replaced_by: String
    }
    public struct DeploymentView: Codable, Sendable, Equatable {
        public let outcome: String
        public let actor: String
        public let at: String
        public let note: String
        public let revision: Int
    }

    public let request: String
    public let project: String
    public let environment: String
    public let requester: String
    public let description: String
    public let filed_at: String
    public let workflow_digest: String
    public let bundle: String
    public let digest: String
    public let revision: Int
    /// The revisions this one replaced, oldest first (empty at revision 1).
    public let earlier_revisions: [EarlierRevisionView]
    public let stage: String
    public let status: String
    public let history: [StageEntryView]
    public let evidence: [EvidenceView]
    public let decisions: [DecisionView]
    public let deployments: [DeploymentView]
    /// A deployment started (`deploy --start`) whose outcome is not recorded yet.
    public let deployment_started: DeploymentStartView?
    public let retrospective_due: String?
    public let retrospective_done: Bool
    public let labels: [String: [String]]
    /// Present for an emergency request: its reason.
    public let emergency_reason: String?
    /// Where the current revision's bundle came from (the CI's run, commit, ref, merge request), when its filer or
    /// reviser said.
    public let source: BundleSource?
    /// Labels detected on the current revision (its `labels_from` evidence), which `when:` reads beside `labels`.
    public let detected_labels: [String: [String]]?

    public init(_ r: DeploymentRequest) {
        source = r.source
        detected_labels = r.detectedLabels.isEmpty ? nil : r.detectedLabels
        let time = Timestamps.rfc3339
        request = r.id
        project = r.project
        environment = r.environment
        requester = r.requester
        description = r.description
        filed_at = time(r.filedAt)
        workflow_digest = r.workflowDigest.description
        bundle = r.bundle
        digest = r.digest.description
        revision = r.revision
        earlier_revisions = r.earlierRevisions.map {
            EarlierRevisionView(revision: $0.revision, bundle: $0.bundle, digest: $0.digest.description, replaced_at: time($0.replacedAt), replaced_by: $0.replacedBy)
        }
        stage = r.stage
        status = r.status.rawValue
        history = r.history.map { StageEntryView(stage: $0.stage, at: time($0.at), revision: $0.revision) }
        evidence = r.evidence.map {
            EvidenceView(
                kind: $0.kind, status: $0.status.rawValue, digest: $0.digest.description, actor: $0.attachedBy, at: time($0.at), revision: $0.revision,
                tests: $0.tests)
        }
        decisions = r.decisions.map {
            DecisionView(
                stage: $0.stage, decision: $0.decision.rawValue, actor: $0.by, at: time($0.at), comment: $0.comment, revision: $0.revision,
                signed: $0.isSigned, key_fingerprint: $0.keyFingerprint.map { "sha256:" + $0 }, statement_digest: $0.statementDigest?.description,
                on_behalf_of: $0.onBehalfOf)
        }
        deployments = r.deployments.map {
            DeploymentView(outcome: $0.outcome.rawValue, actor: $0.by, at: time($0.at), note: $0.note, revision: $0.revision)
        }
        deployment_started = r.deploymentInProgress.map { DeploymentStartView(actor: $0.by, at: time($0.at), note: $0.note, revision: $0.revision) }
        retrospective_due = r.retrospectiveDue.map(time)
        retrospective_done = r.retrospectiveDone
        labels = r.labels
        emergency_reason = r.emergency?.reason
    }

    public var currentEvidence: [EvidenceView] { evidence.filter { $0.revision == revision } }
    public var currentDecisions: [DecisionView] { decisions.filter { $0.revision == revision } }
}

/// What a request still needs, as the API and `signoff explain --json` show it.
public struct ExplanationView: Codable, Sendable, Equatable {
    public struct Condition: Codable, Sendable, Equatable {
        public let rule: String
        public let met: Bool
        public let detail: String
        public let who_can_supply: [String]
    }
    public struct Gate: Codable, Sendable, Equatable {
        public let stage: String
        public let satisfied: Bool
        public let conditions: [Condition]
    }
    public struct Retrospective: Codable, Sendable, Equatable {
        public let due: String
        public let done: Bool
        public let overdue: Bool
    }
    public let request: String
    public let status: String
    public let stage: String
    public let revision: Int
    public let digest: String
    public let workflow: String
    public let gates: [Gate]
    public let retrospective: Retrospective?
    public let labels: [String: [String]]
    public let emergency_reason: String?
    /// Stages of the workflow the request does not go through, with why (a `when:` or an emergency waiver).
    public let skipped: [SkippedStage]
    /// The stages ahead that the caller may decide and has not: what `signoff decide` without `--stage` picks from.
    public let awaiting_you: [String]
    /// The stages ahead the caller may decide for each person who delegated to them: what `decide --for PERSON`
    /// without `--stage` picks from.
    public let awaiting_for: [String: [String]]?

    public struct SkippedStage: Codable, Sendable, Equatable {
        public let stage: String
        public let reason: String
    }

    public init(_ e: Explanation, awaitingCaller: [String] = [], awaitingFor: [String: [String]] = [:]) {
        awaiting_for = awaitingFor.isEmpty ? nil : awaitingFor
        labels = e.labels
        emergency_reason = e.emergency?.reason
        skipped = e.skipped.map { SkippedStage(stage: $0.stage, reason: $0.reason) }
        awaiting_you = awaitingCaller
        request = e.request
        status = e.status.rawValue
        stage = e.stage
        revision = e.revision
        digest = e.digest.description
        workflow = e.workflow
        gates = e.gates.map { g in
            Gate(
                stage: g.stage, satisfied: g.isSatisfied,
                conditions: g.conditions.map { Condition(rule: $0.rule, met: $0.met, detail: $0.detail, who_can_supply: $0.whoCanSupply) })
        }
        retrospective = e.retrospective.map { Retrospective(due: Timestamps.rfc3339($0.due), done: $0.done, overdue: $0.overdue) }
    }
}

/// A user or service account, for `list`/`show` (administrators and auditors).
public struct PrincipalView: Codable, Sendable, Equatable {
    public struct Key: Codable, Sendable, Equatable {
        public let key_id: String
        public let key_fingerprint: String
        public let verifier_key: String
        public let enrolled_at: String
        public let revoked_at: String?
        public let compromised_since: String?
        /// Whether its enrolment was signed, so that it may sign administration.
        public let trusted: Bool
        /// Added by its owner with a signature by a key they had (never signs administration).
        public let self_enrolled: Bool
    }
    public let name: String
    public let kind: String
    public let administrator: Bool
    public let disabled: Bool
    public let groups: [String]
    public let keys: [Key]

    public init(_ p: Principal, state: SignoffState) {
        name = p.name
        kind = p.kind.rawValue
        administrator = p.isAdministrator
        disabled = p.disabled
        groups = state.groups.values.filter { $0.members.contains(p.name) }.map(\.name).sorted()
        keys = p.keys.map { k in
            Key(
                key_id: (try? NoteVerifierKey(parsing: k.verifierKey))?.keyIDHex ?? "", key_fingerprint: "sha256:" + k.fingerprint,
                verifier_key: k.verifierKey, enrolled_at: Timestamps.rfc3339(k.enrolledAt), revoked_at: k.revokedAt.map(Timestamps.rfc3339),
                compromised_since: k.compromisedSince.map(Timestamps.rfc3339), trusted: k.trusted, self_enrolled: k.selfEnrolled)
        }
    }
}

public struct GroupView: Codable, Sendable, Equatable {
    public let name: String
    public let members: [String]
    /// Regulated projects that rely on the group (changing it is signed, under the administrators' quorum).
    public let regulated_projects: [String]
    /// Members who are disabled (nil when none).
    public let disabled_members: [String]?
    /// The connected directory that keeps the group's membership.
    public let directory: String?

    public init(_ g: Group, regulatedProjects: [String], disabledMembers: [String] = []) {
        name = g.name
        members = g.members
        regulated_projects = regulatedProjects
        disabled_members = disabledMembers.isEmpty ? nil : disabledMembers
        directory = g.directory
    }
}

public struct ProjectView: Codable, Sendable, Equatable {
    public let key: String
    public let regulated: Bool
    public let environments: [String: String]
    /// `ROLE` or `ROLE@ENVIRONMENT` → groups.
    public let roles: [String: [String]]

    public init(_ p: Project) {
        key = p.key
        regulated = p.regulated
        environments = p.environments
        roles = p.roles
    }
}

public struct DelegationView: Codable, Sendable, Equatable {
    public let id: String
    public let from: String
    public let delegate: String
    public let valid_from: String
    public let valid_until: String
    public let project: String?
    public let role: String?
    public let revoked_at: String?
    public let in_force: Bool

    public init(_ d: Delegation, now: Int64) {
        id = d.id
        from = d.from
        delegate = d.to
        valid_from = Timestamps.rfc3339(d.start)
        valid_until = Timestamps.rfc3339(d.end)
        project = d.project
        role = d.role
        revoked_at = d.revokedAt.map(Timestamps.rfc3339)
        in_force = d.isInForce(at: now)
    }
}

public struct FreezeView: Codable, Sendable, Equatable {
    public let id: String
    public let environment: String
    public let project: String?
    public let from: String
    public let until: String
    public let reason: String
    public let added_by: String
    public let lifted_at: String?
    public let in_force: Bool

    public init(_ f: Freeze, now: Int64) {
        id = f.id
        environment = f.environment
        project = f.project
        from = Timestamps.rfc3339(f.from)
        until = Timestamps.rfc3339(f.until)
        reason = f.reason
        added_by = f.addedBy
        lifted_at = f.liftedAt.map(Timestamps.rfc3339)
        in_force = f.from <= now && now < f.until && (f.liftedAt.map { now < $0 } ?? true)
    }
}

/// A bearer token as `signoff token list` shows it: never the token itself.
public struct TokenView: Codable, Sendable, Equatable {
    public let token_id: String
    public let principal: String
    public let kind: String
    public let scopes: [String]
    public let expires_at: String
    public let revoked: Bool
    public let key_fingerprint: String?

    public init(token_id: String, principal: String, kind: String, scopes: [String], expires_at: String, revoked: Bool, key_fingerprint: String?) {
        self.token_id = token_id
        self.principal = principal
        self.kind = kind
        self.scopes = scopes
        self.expires_at = expires_at
        self.revoked = revoked
        self.key_fingerprint = key_fingerprint
    }
}

/// One list of a kind of thing, for `list` endpoints: `{"items": [...]}`.
public struct ItemList<Item: Codable & Sendable>: Codable, Sendable {
    public let items: [Item]
    public init(_ items: [Item]) { self.items = items }
}

/// The directory views the API and the local client both give: who exists and the rules, from one state.
public enum Directory {
    public static func principals(_ kind: Principal.Kind, in state: SignoffState) -> [PrincipalView] {
        state.principals.values.filter { $0.kind == kind }.sorted { $0.name < $1.name }.map { PrincipalView($0, state: state) }
    }

    public static func group(_ name: String, in state: SignoffState) -> GroupView? {
        state.groups[name].map { g in
            GroupView(g, regulatedProjects: Engine.regulatedProjects(relyingOn: name, state), disabledMembers: g.members.filter { state.principals[$0]?.disabled == true })
        }
    }

    public static func groups(in state: SignoffState) -> [GroupView] {
        state.groups.keys.sorted().compactMap { group($0, in: state) }
    }

    public static func projects(in state: SignoffState) -> [ProjectView] {
        state.projects.values.sorted { $0.key < $1.key }.map(ProjectView.init)
    }

    public static func delegations(in state: SignoffState, now: Int64) -> [DelegationView] {
        state.delegations.values.sorted { $0.start < $1.start || ($0.start == $1.start && $0.id < $1.id) }.map { DelegationView($0, now: now) }
    }

    public static func freezes(in state: SignoffState, now: Int64) -> [FreezeView] {
        state.freezes.values.sorted { $0.from < $1.from || ($0.from == $1.from && $0.id < $1.id) }.map { FreezeView($0, now: now) }
    }

    public static func workflows(in state: SignoffState) -> [WorkflowResponse] {
        state.currentWorkflows.keys.sorted().compactMap { WorkflowResponse(name: $0, state: state) }
    }
}
