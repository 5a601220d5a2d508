public import SignoffCore
public import SignoffCrypto
public import SignoffLedger

// Response bodies of the API and the CLI's `--json` output: one type for both, so that `--server` and `--db` print
// the same documents (`schema/vocabulary.md`: snake_case, RFC 3339 times, `sha256:<hex>` hashes, `actor`).

public struct ChallengeResponse: Codable, Sendable {
    public let challenge: String
    public let message: String
    public let expires_at: String
    public init(challenge: String, message: String, expires_at: String) {
        self.challenge = challenge
        self.message = message
        self.expires_at = expires_at
    }
}

public struct TokenResponse: Codable, Sendable {
    public let token: String
    public let token_id: String
    public let expires_at: String
    public init(token: String, token_id: String, expires_at: String) {
        self.token = token
        self.token_id = token_id
        self.expires_at = expires_at
    }
}

/// What a command appended: its ledger entries, and the request it concerns.
public struct RecordedResponse: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public let sequence: UInt64
        public let kind: String
    }
    public let entries: [Entry]
    public let request: String?

    /// The entries `command` appended, and the request it concerns (or filed).
    public init(entries: [LedgerEntry], command: Command) {
        self.entries = entries.map { Entry(sequence: $0.sequence, kind: $0.kind) }
        var request = command.request
        if request == nil, let first = entries.first, case .requestFiled(let filed)? = try? Event.decode(kind: first.kind, payload: first.payload) {
            request = filed.id
        }
        self.request = request
    }
}

/// The gate's answer for CI/CD: may this exact bundle be deployed to this environment now?
public struct GateResponse: Codable, Sendable {
    public struct Reason: Codable, Sendable {
        public let rule: String
        public let message: String
    }
    public let allowed: Bool
    public let request: String
    public let environment: String
    public let digest: String
    public let reasons: [Reason]

    /// Evaluates the gate: the engine's deploy rules with no actor, at `now`.
    public init(request: DeploymentRequest, environment: String, digest: SHA256Digest, state: SignoffState, now: Int64) {
        let refusals = Engine.deployRefusals(request, environment: environment, digest: digest, state: state, actor: nil, now: now)
        allowed = refusals.isEmpty
        self.request = request.id
        self.environment = environment
        self.digest = digest.description
        reasons = refusals.map { Reason(rule: $0.rule, message: $0.message) }
    }
}

/// One line of a request list.
public struct RequestSummary: Codable, Sendable {
    public let request: String
    public let project: String
    public let environment: String
    public let stage: String
    public let status: String
    public let bundle: String
    public let digest: String
    /// Present for an emergency request.
    public let emergency: Bool
    /// The retrospective an emergency deployment owes, when it is overdue (RFC 3339 of when it was due).
    public let retrospective_overdue_since: String?

    public init(_ r: DeploymentRequest, now: Int64) {
        request = r.id
        project = r.project
        environment = r.environment
        stage = r.stage
        status = r.status.rawValue
        bundle = r.bundle
        digest = r.digest.description
        emergency = r.emergency != nil
        retrospective_overdue_since = r.retrospectiveDue.flatMap { !r.retrospectiveDone && now > $0 ? Timestamps.rfc3339($0) : nil }
    }
}

public struct RequestList: Codable, Sendable {
    public let requests: [RequestSummary]
    public init(requests: [RequestSummary]) { self.requests = requests }
}

/// Which requests to list: the one filter and order the server and the local client share.
public struct RequestQuery: Sendable {
    public var project: String?
    /// `active`, `rejected`, `withdrawn`, `deployed`, or a stage name (active requests at that stage).
    public var state: String?
    /// Only requests whose next step this principal could take.
    public var waitingFor: String?

    public init(project: String? = nil, state: String? = nil, waitingFor: String? = nil) {
        self.project = project
        self.state = state
        self.waitingFor = waitingFor
    }

    public var queryString: String { WireCoding.query([("project", project), ("state", state), ("waiting_for", waitingFor)]) }

    /// The matching requests that `visible` admits, in filing order (REQ-1, REQ-2, …).
    public func select(from state: SignoffState, now: Int64, visible: (DeploymentRequest) -> Bool = { _ in true }) -> [RequestSummary] {
        state.requests.values.filter { r in
            (project == nil || r.project == project)
                && (self.state == nil || r.status.rawValue == self.state || (r.status == .active && r.stage == self.state))
                && visible(r)
                && (waitingFor.map { Self.waits(r, for: $0, state: state, now: now) } ?? true)
        }.sorted { (Int($0.id.dropFirst(4)) ?? 0, $0.id) < (Int($1.id.dropFirst(4)) ?? 0, $1.id) }.map { RequestSummary($0, now: now) }
    }

    /// Whether `request` waits for `person` (their inbox): they could supply what its next gate lacks, decide a stage
    /// ahead, or revise it after a request for changes — or it owes a retrospective they record (its role) or answer
    /// for (the requester, once it is overdue).
    public static func waits(_ request: DeploymentRequest, for person: String, state: SignoffState, now: Int64) -> Bool {
        if let due = request.retrospectiveDue, !request.retrospectiveDone, let workflow = state.workflow(for: request)?.workflow,
            let retrospective = workflow.retrospective(for: request)
        {
            if state.holds(person, role: retrospective.role.value, project: request.project, environment: request.environment)
                && person != request.requester && !request.deployments.contains(where: { $0.by == person })
            {
                return true
            }
            if person == request.requester && now > due { return true }
        }
        guard request.status == .active else { return false }
        if !Policy.awaiting(request, principal: person, state: state).isEmpty { return true }
        guard let gates = Engine.explain(request.id, state: state, now: now)?.gates else { return false }
        // The next gate: whoever can supply what it lacks. Any gate: the requester, when changes were requested there.
        if gates.first?.conditions.contains(where: { !$0.met && $0.whoCanSupply.contains(person) }) == true { return true }
        return gates.contains { $0.conditions.contains { !$0.met && $0.rule == "changes-requested" && $0.whoCanSupply.contains(person) } }
    }
}

public struct WorkflowResponse: Codable, Sendable {
    public let name: String
    public let digest: String
    public let source: String

    /// The applied version of workflow `name`, or nil.
    public init?(name: String, state: SignoffState) {
        guard let digest = state.currentWorkflows[name], let applied = state.workflows[digest] else { return nil }
        self.name = name
        self.digest = digest.description
        self.source = applied.source
    }
}

/// A checkpoint for people and machines: `root_hash` as `sha256:<hex>`, the note as signed.
public struct CheckpointResponse: Codable, Sendable {
    public let origin: String
    public let tree_size: UInt64
    public let root_hash: String
    public let note: String

    public init(_ signed: SignedCheckpoint) {
        origin = signed.checkpoint.origin
        tree_size = signed.checkpoint.size
        root_hash = signed.checkpoint.rootHash.description
        note = signed.serialized
    }
}
