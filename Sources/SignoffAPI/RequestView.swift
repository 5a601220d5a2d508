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
    public let stage: String
    public let status: String
    public let history: [StageEntryView]
    public let evidence: [EvidenceView]
    public let decisions: [DecisionView]
    public let deployments: [DeploymentView]
    public let retrospective_due: String?
    public let retrospective_done: Bool

    public init(_ r: DeploymentRequest) {
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
        stage = r.stage
        status = r.status.rawValue
        history = r.history.map { StageEntryView(stage: $0.stage, at: time($0.at), revision: $0.revision) }
        evidence = r.evidence.map {
            EvidenceView(kind: $0.kind, status: $0.status, digest: $0.digest.description, actor: $0.attachedBy, at: time($0.at), revision: $0.revision)
        }
        decisions = r.decisions.map {
            DecisionView(
                stage: $0.stage, decision: $0.decision.rawValue, actor: $0.by, at: time($0.at), comment: $0.comment, revision: $0.revision,
                signed: $0.isSigned, key_fingerprint: $0.keyFingerprint.map { "sha256:" + $0 }, statement_digest: $0.statementDigest?.description)
        }
        deployments = r.deployments.map {
            DeploymentView(outcome: $0.outcome.rawValue, actor: $0.by, at: time($0.at), note: $0.note, revision: $0.revision)
        }
        retrospective_due = r.retrospectiveDue.map(time)
        retrospective_done = r.retrospectiveDone
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

    public init(_ e: Explanation) {
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
