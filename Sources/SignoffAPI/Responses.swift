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
    /// What the change leaves nobody (or too few) to act on (``Staffing``): said, not refused, unless `strict` was asked.
    public var warnings: [String]? = nil

    /// An answer that appended nothing about `request` (a reused request).
    public init(reusing request: String) {
        entries = []
        self.request = request
    }

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
    public let project: String
    public let environment: String
    public let digest: String
    /// The request's status: anything but `active` is final (a `--wait` stops).
    public let status: String
    public let reasons: [Reason]
    /// While the request is on its way: its next stage and what that stage's gate still lacks, with who can supply it.
    public let next_stage: String?
    public let waiting_for: [String]
    /// What waiting will not end (``GateBlocker``): a newest report that did not pass, changes requested, a freeze — with
    /// when it ends by itself (a freeze), if it does.
    public let blocked: [Blocked]

    public struct Blocked: Codable, Sendable {
        public let rule: String
        public let message: String
        /// RFC 3339; absent when only someone's action ends it (a new report, a revision).
        public let until: String?
    }

    /// Evaluates the gate: the engine's deploy rules with no actor, at `now`.
    public init(request: DeploymentRequest, environment: String, digest: SHA256Digest, state: SignoffState, now: Int64) {
        let refusals = Engine.deployRefusals(request, environment: environment, digest: digest, state: state, actor: nil, now: now)
        allowed = refusals.isEmpty
        self.request = request.id
        project = request.project
        self.environment = environment
        self.digest = digest.description
        status = request.status.rawValue
        reasons = refusals.map { Reason(rule: $0.rule, message: $0.message) }
        (next_stage, waiting_for) = allowed ? (nil, []) : Inventory.waitingFor(request, state: state, now: now)
        let blockers = allowed ? [] : state.workflow(for: request).map { Policy.blockers(request, workflow: $0.workflow, state: state, now: now) } ?? []
        blocked = blockers.map { Blocked(rule: $0.rule, message: $0.message, until: $0.until.map(Timestamps.rfc3339)) }
    }

    /// Whether waiting until `deadline` (milliseconds since the epoch) cannot change the answer: allowed, the request
    /// closed, asked about another environment or bundle than the request's (which no decision changes), or blocked by
    /// what only an action ends (a failed report, changes requested) or by a freeze that outlasts the wait.
    public func isFinal(waitingUntil deadline: Int64) -> Bool {
        if allowed || status != DeploymentRequest.Status.active.rawValue { return true }
        if reasons.contains(where: { $0.rule == RefusalRule.gateEnvironment.name || $0.rule == RefusalRule.gateDigest.name }) { return true }
        return blocked.contains { blocker in blocker.until.flatMap(Timestamps.milliseconds(rfc3339:)).map { $0 > deadline } ?? true }
    }
}

/// The gate's request found from what CI knows — project, environment and bundle digest — instead of its id.
public enum GateLookup {
    public enum Failure: Error, Sendable, Equatable {
        /// No open request matches (`message` says what does exist).
        case none(String)
        /// Several do (`message` lists them).
        case several(String)

        public var message: String {
            switch self {
            case .none(let m), .several(let m): m
            }
        }
    }

    /// The open requests of `project` on `environment` carrying `digest`, in filing order.
    public static func candidates(project: String, environment: String, digest: SHA256Digest, in state: SignoffState) -> [DeploymentRequest] {
        state.requests.values.filter { $0.status == .active && $0.project == project && $0.environment == environment && $0.digest == digest }
            .sorted(by: Inventory.byFiling)
    }

    /// The one open request of `project` on `environment` carrying `digest`.
    public static func find(project: String, environment: String, digest: SHA256Digest, in state: SignoffState) -> Result<DeploymentRequest, Failure> {
        let found = candidates(project: project, environment: environment, digest: digest, in: state)
        switch found.count {
        case 1:
            return .success(found[0])
        case 0:
            let closed = state.requests.values.filter { $0.project == project && $0.environment == environment && $0.digest == digest }
                .sorted(by: Inventory.byFiling).last
            let hint = closed.map { "; the newest with that digest, \($0.id), is \($0.status.rawValue)" } ?? ""
            return .failure(
                .none("no open request of \(project) on \(environment) carries \(digest)\(hint); file one with `signoff request create --project \(project) --env \(environment) --digest \(digest) --bundle NAME`"))
        default:
            let list = found.map { "\($0.id) (at \($0.stage), filed by \($0.requester))" }.joined(separator: ", ")
            return .failure(.several("several open requests of \(project) on \(environment) carry \(digest): \(list); name one: `signoff gate REQ-n --env \(environment) --digest \(digest)`"))
        }
    }

    /// What filing `command` (a `.fileRequest`) does instead of filing anew, for `caller`.
    public enum CarryOn: Sendable, Equatable {
        /// The open request for this digest: answered with, nothing recorded.
        case reuse(DeploymentRequest)
        /// The caller's open request for this bundle, whose current revision changes were requested on: revised to the
        /// new digest (a pipeline re-run after changes were requested).
        case revise(DeploymentRequest)

        public static func == (a: CarryOn, b: CarryOn) -> Bool {
            switch (a, b) {
            case (.reuse(let x), .reuse(let y)), (.revise(let x), .revise(let y)): x.id == y.id
            default: false
            }
        }
    }

    /// One open request per project, environment and digest (unless the filer asks for a new one), and a re-run after
    /// changes were requested revises: what filing `command` carries on with, if anything.
    ///
    /// - **Reuse**: the newest open request of the same project and environment for the same digest that `caller` may
    ///   read — whoever filed it (a person files, the pipeline carries on) and whatever its bundle was called — if it
    ///   declares at least the labels asked for (reusing must not drop a stage a label adds), and both or neither are
    ///   emergencies.
    /// - **Revise**: otherwise, the newest open request `caller` filed of the same project, environment and bundle name,
    ///   with another digest, on whose current revision changes were requested, with no deployment under way, declaring
    ///   at least the labels asked for, not an emergency and not asked as one. Only the requester revises (the engine's
    ///   rule): a pipeline never revises a person's request.
    public static func carryOn(_ command: Command, caller: String, in state: SignoffState, now: Int64) -> CarryOn? {
        guard case .fileRequest(let project, let environment, let bundle, let digest, _, let labels, let reason, _) = command,
            Access.mayRead(project: project, principal: caller, state: state, now: now)
        else { return nil }
        func declares(_ request: DeploymentRequest) -> Bool {
            labels.allSatisfy { key, values in Set(values).isSubset(of: Set(request.labels[key] ?? [])) }
        }
        if let reused = candidates(project: project, environment: environment, digest: digest, in: state).last(where: {
            declares($0) && ($0.emergency != nil) == (reason != nil)
        }) {
            return .reuse(reused)
        }
        guard reason == nil else { return nil }
        let revisable = state.requests.values.filter { request in
            request.status == .active && request.project == project && request.environment == environment && request.bundle == bundle
                && request.requester == caller && request.digest != digest && request.emergency == nil && request.deploymentInProgress == nil
                && request.currentDecisions.contains { $0.decision == .changesRequested } && declares(request)
        }
        return revisable.sorted(by: Inventory.byFiling).last.map { .revise($0) }
    }


}

/// Who the caller is: `GET /v1/whoami`, and how the CLI learns the account a service token acts as.
public struct WhoAmI: Codable, Sendable, Equatable {
    public let principal: String
    /// `session` or `service`.
    public let kind: String
    public let scopes: [String]
    public let expires_at: String

    public init(principal: String, kind: String, scopes: [String], expires_at: String) {
        self.principal = principal
        self.kind = kind
        self.scopes = scopes
        self.expires_at = expires_at
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
    public let requester: String
    public let filed_at: String
    /// Seconds since filing.
    public let age_seconds: Int64
    /// True for an emergency request.
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
        requester = r.requester
        filed_at = Timestamps.rfc3339(r.filedAt)
        age_seconds = max(0, (now - r.filedAt) / 1000)
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
    public var environment: String?
    /// `active`, `rejected`, `withdrawn`, `deployed`, `expired`, or a stage name (active requests at that stage).
    public var state: String?
    public var requester: String?
    /// Only requests filed at least this many seconds ago.
    public var olderThanSeconds: Int64?
    /// Only requests whose next step this principal could take (their inbox).
    public var waitingFor: String?

    public init(
        project: String? = nil, environment: String? = nil, state: String? = nil, requester: String? = nil, olderThanSeconds: Int64? = nil,
        waitingFor: String? = nil
    ) {
        self.project = project
        self.environment = environment
        self.state = state
        self.requester = requester
        self.olderThanSeconds = olderThanSeconds
        self.waitingFor = waitingFor
    }

    public var queryString: String {
        WireCoding.query([
            ("project", project), ("environment", environment), ("state", state), ("requester", requester),
            ("older_than", olderThanSeconds.map { "\($0)s" }), ("waiting_for", waitingFor),
        ])
    }

    /// The words `state` may be: a request status, or the name of a stage of an applied workflow.
    public static func states(in state: SignoffState) -> [String] {
        let statuses = ["active", "deployed", "expired", "rejected", "withdrawn"]
        let stages = Set(state.workflows.values.flatMap { $0.workflow.stages.map(\.name) })
        return statuses + stages.subtracting(statuses).sorted()
    }

    /// Why this query cannot be answered (an unknown state), or nil.
    public func problem(in state: SignoffState) -> String? {
        guard let wanted = self.state else { return nil }
        let known = Self.states(in: state)
        guard known.contains(wanted) else {
            return "unknown state \"\(oneLine(String(wanted.prefix(80))))\": one of \(known.joined(separator: ", "))"
        }
        return nil
    }

    /// The matching requests that `visible` admits, in filing order (REQ-1, REQ-2, …).
    public func select(from state: SignoffState, now: Int64, visible: (DeploymentRequest) -> Bool = { _ in true }) -> [RequestSummary] {
        state.requests.values.filter { r in
            (project == nil || r.project == project)
                && (environment == nil || r.environment == environment)
                && (requester == nil || r.requester == requester)
                && (olderThanSeconds.map { now - r.filedAt >= $0 * 1000 } ?? true)
                && (self.state == nil || r.status.rawValue == self.state || (r.status == .active && r.stage == self.state))
                && visible(r)
                && (waitingFor.map { Self.waits(r, for: $0, state: state, now: now) } ?? true)
        }.sorted { (Inventory.requestNumber($0.id), $0.id) < (Inventory.requestNumber($1.id), $1.id) }.map { RequestSummary($0, now: now) }
    }

    /// Whether `request` waits for `person`: something of it is in their inbox (``Inbox``).
    public static func waits(_ request: DeploymentRequest, for person: String, state: SignoffState, now: Int64) -> Bool {
        !Inbox.items(for: person, on: request, delegators: Inbox.delegations(to: person, in: state, now: now), state: state, now: now).isEmpty
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
