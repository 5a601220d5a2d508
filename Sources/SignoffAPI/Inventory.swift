public import SignoffCore
public import SignoffCrypto

/// What runs where and what is on its way: for each project and environment, the newest successful deployment, the
/// deployment under way, and the open requests with what they wait for. `signoff deployments` and
/// `GET /v1/deployments` print this one document.
public struct EnvironmentInventory: Codable, Sendable, Equatable {
    /// The bundle in place: the newest deployment that succeeded.
    public struct Running: Codable, Sendable, Equatable {
        public let request: String
        public let bundle: String
        public let digest: String
        public let revision: Int
        public let deployed_at: String
        public let actor: String
        public let emergency: Bool
        /// For an emergency: `done`, `due` or `overdue`; absent when none is owed.
        public let retrospective: String?
    }

    /// A deployment started (`deploy --start`) and not finished.
    public struct Deploying: Codable, Sendable, Equatable {
        public let request: String
        public let bundle: String
        public let digest: String
        public let actor: String
        public let started_at: String
    }

    /// An open request: its stage, how long it has been open and at its stage, and what its next gate still lacks.
    public struct Pending: Codable, Sendable, Equatable {
        public let request: String
        public let bundle: String
        public let digest: String
        public let requester: String
        public let stage: String
        public let filed_at: String
        public let age_seconds: Int64
        /// When it reached its current stage (or was revised).
        public let at_stage_since: String
        public let emergency: Bool
        /// The next stage on its path, and each of its unmet conditions with who could supply it (from `explain`).
        public let next_stage: String?
        public let waiting_for: [String]
    }

    public let project: String
    public let environment: String
    public let workflow: String
    public let running: Running?
    public let deploying: [Deploying]
    /// Oldest first.
    public let pending: [Pending]
    /// The freezes in force on this environment of this project now.
    public let freezes: [String]
}

/// Who may see what of the inventory and the inbox is the caller's business (``Access``); these only compute.
public enum Inventory {
    /// The inventory of every project `visible` admits (restricted to `project` and `environment` when given), sorted
    /// by project and environment. One pass over the requests; `explain` only for the open ones.
    public static func deployments(
        in state: SignoffState, now: Int64, project: String? = nil, environment: String? = nil, visible: (String) -> Bool = { _ in true }
    ) -> [EnvironmentInventory] {
        // From the state's indexes of open requests and of what runs where: never a walk over every request.
        struct Slot {
            var running: String?
            var deploying: [String] = []
            var pending: [String] = []
        }
        let projects = state.projects.values.filter { p in (project.map { $0 == p.key } ?? true) && visible(p.key) }
        var slots: [String: [String: Slot]] = [:]
        for p in projects {
            for env in p.environments.keys where environment.map({ $0 == env }) ?? true {
                slots[p.key, default: [:]][env] = Slot(running: state.runningRequests[SignoffState.slot(project: p.key, environment: env)])
            }
        }
        for id in state.openRequests {
            guard let r = state.requests[id], r.status == .active, slots[r.project]?[r.environment] != nil else { continue }
            if r.deploymentInProgress != nil { slots[r.project]![r.environment]!.deploying.append(id) } else { slots[r.project]![r.environment]!.pending.append(id) }
        }
        var out: [EnvironmentInventory] = []
        for p in projects.sorted(by: { $0.key < $1.key }) {
            for env in p.environments.keys.sorted() {
                guard let slot = slots[p.key]?[env] else { continue }
                let running = slot.running.flatMap { state.requests[$0] }.flatMap { r -> EnvironmentInventory.Running? in
                    guard let d = r.deployments.last(where: { $0.outcome == .succeeded }) else { return nil }
                    return .init(
                        request: r.id, bundle: r.bundle, digest: r.digest.description, revision: d.revision, deployed_at: Timestamps.rfc3339(d.at),
                        actor: d.by, emergency: r.emergency != nil, retrospective: retrospectiveState(r, now: now))
                }
                let deploying = slot.deploying.compactMap { state.requests[$0] }.sorted(by: byFiling).compactMap { r in
                    r.deploymentInProgress.map {
                        EnvironmentInventory.Deploying(
                            request: r.id, bundle: r.bundle, digest: r.digest.description, actor: $0.by, started_at: Timestamps.rfc3339($0.at))
                    }
                }
                let pending = slot.pending.compactMap { state.requests[$0] }.sorted(by: byFiling).map { pendingView($0, state: state, now: now) }
                out.append(
                    EnvironmentInventory(
                        project: p.key, environment: env, workflow: p.environments[env] ?? "", running: running, deploying: deploying, pending: pending,
                        freezes: state.freezes(inForceFor: p.key, environment: env, at: now).map(\.id)))
            }
        }
        return out
    }

    /// The next stage on the request's path and each of its unmet conditions, with who could supply it.
    public static func waitingFor(_ r: DeploymentRequest, state: SignoffState, now: Int64) -> (stage: String?, conditions: [String]) {
        guard r.status == .active, let next = Engine.explain(r.id, state: state, now: now)?.gates.first else { return (nil, []) }
        return (next.stage, next.conditions.filter { !$0.met }.map { c in
            c.detail + (c.whoCanSupply.isEmpty ? "" : " (can supply: \(c.whoCanSupply.joined(separator: ", ")))")
        })
    }

    static func pendingView(_ r: DeploymentRequest, state: SignoffState, now: Int64) -> EnvironmentInventory.Pending {
        let (nextStage, waiting) = waitingFor(r, state: state, now: now)
        let since = r.history.last?.at ?? r.filedAt
        return .init(
            request: r.id, bundle: r.bundle, digest: r.digest.description, requester: r.requester, stage: r.stage, filed_at: Timestamps.rfc3339(r.filedAt),
            age_seconds: max(0, (now - r.filedAt) / 1000), at_stage_since: Timestamps.rfc3339(since), emergency: r.emergency != nil,
            next_stage: nextStage, waiting_for: waiting)
    }

    static func retrospectiveState(_ r: DeploymentRequest, now: Int64) -> String? {
        guard let due = r.retrospectiveDue else { return nil }
        return r.retrospectiveDone ? "done" : now > due ? "overdue" : "due"
    }

    /// Filing order: REQ-2 before REQ-10.
    public static func byFiling(_ a: DeploymentRequest, _ b: DeploymentRequest) -> Bool {
        (a.filedAt, requestNumber(a.id), a.id) < (b.filedAt, requestNumber(b.id), b.id)
    }

    /// The number of an ID such as `REQ-12` or `WH-3`, for ordering (0 when it has none).
    public static func requestNumber(_ id: String) -> Int { RequestID.number(id) }
}

/// One thing waiting for a person: a decision they can give, evidence they (or, on their requests, a service account)
/// owe, a retrospective due, a deployment they may record or finish, a revision asked of them. `signoff inbox` and
/// `GET /v1/inbox` list these, oldest first.
public struct InboxItem: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case decide, evidence, retrospective, deploy
        case finishDeployment = "finish-deployment"
        case revise
    }
    public let action: Action
    public let request: String
    public let project: String
    public let environment: String
    public let bundle: String
    /// The stage concerned (the one to decide, whose gate lacks the evidence, or the deployment stage).
    public let stage: String?
    /// Who the item is for when it is not the caller: the delegator (deciding for them) or the service account that owes evidence.
    public let on_behalf_of: String?
    public let detail: String
    /// Since when it waits, and for how long now.
    public let since: String
    public private(set) var age_seconds: Int64
    /// How long ago the request was filed.
    public private(set) var request_age_seconds: Int64
    /// The times the ages count from (not part of the JSON: `since` says the first).
    private(set) var sinceMilliseconds: Int64 = 0
    private var filedAtMilliseconds: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case action, request, project, environment, bundle, stage, on_behalf_of, detail, since, age_seconds, request_age_seconds
    }

    /// The same item with its ages as of `now` (an item kept for a few seconds, shown again).
    public func aged(at now: Int64) -> InboxItem {
        var item = self
        item.age_seconds = max(0, (now - sinceMilliseconds) / 1000)
        item.request_age_seconds = max(0, (now - filedAtMilliseconds) / 1000)
        return item
    }

    init(
        _ action: Action, _ r: DeploymentRequest, stage: String?, onBehalfOf: String? = nil, detail: String, since: Int64, now: Int64
    ) {
        self.action = action
        request = r.id
        project = r.project
        environment = r.environment
        bundle = r.bundle
        self.stage = stage
        on_behalf_of = onBehalfOf
        self.detail = detail
        self.since = Timestamps.rfc3339(since)
        sinceMilliseconds = since
        filedAtMilliseconds = r.filedAt
        age_seconds = max(0, (now - since) / 1000)
        request_age_seconds = max(0, (now - r.filedAt) / 1000)
    }
}

public enum Inbox {
    /// The requests an inbox can hold anything of: the open ones and those owing a retrospective (a server keeps this list
    /// per state, so that an inbox does not walk every request ever filed).
    public static func candidates(in state: SignoffState) -> [DeploymentRequest] {
        state.openRequests.compactMap { state.requests[$0] }
    }

    /// Everything waiting for `person` on the requests `visible` admits, oldest first; `among`: ``candidates(in:)`` when
    /// the caller has it.
    public static func items(
        for person: String, in state: SignoffState, now: Int64, among: [DeploymentRequest]? = nil, visible: (DeploymentRequest) -> Bool = { _ in true }
    ) -> [InboxItem] {
        let delegators = Self.delegations(to: person, in: state, now: now)
        var out: [InboxItem] = []
        for request in among ?? candidates(in: state) where visible(request) {
            out += items(for: person, on: request, delegators: delegators, state: state, now: now)
        }
        // Oldest first, then in filing order: each item's key computed once, not per comparison.
        return out.map { (key: ($0.sinceMilliseconds, Inventory.requestNumber($0.request), $0.action.rawValue), item: $0) }
            .sorted { $0.key < $1.key }.map(\.item)
    }

    /// The delegations in force to `person` from enabled principals: whose decisions also wait for them.
    public static func delegations(to person: String, in state: SignoffState, now: Int64) -> [Delegation] {
        state.delegations.values.filter { $0.to == person && $0.isInForce(at: now) && state.principals[$0.from]?.disabled != true }
    }

    /// What waits for `person` on one request.
    public static func items(
        for person: String, on request: DeploymentRequest, delegators: [Delegation] = [], state: SignoffState, now: Int64
    ) -> [InboxItem] {
        var out: [InboxItem] = []
        let atStage = request.history.last?.at ?? request.filedAt
        if let due = request.retrospectiveDue, !request.retrospectiveDone, let workflow = state.workflow(for: request)?.workflow,
            let retrospective = workflow.retrospective(for: request)
        {
            let firstAttempt = request.deployments.first?.at ?? due
            let when = now > due ? "overdue since \(Timestamps.rfc3339(due))" : "due by \(Timestamps.rfc3339(due))"
            if state.holds(person, role: retrospective.role.value, project: request.project, environment: request.environment)
                && person != request.requester && !request.deployments.contains(where: { $0.by == person })
            {
                out.append(.init(.retrospective, request, stage: nil, detail: "record the retrospective review of this emergency deployment, \(when)", since: firstAttempt, now: now))
            } else if person == request.requester && now > due {
                out.append(
                    .init(.retrospective, request, stage: nil, detail: "the retrospective of your emergency deployment is \(when); ask a \(retrospective.role.value) to record it", since: due, now: now))
            }
        }
        guard request.status == .active else { return out }
        for stage in Policy.awaiting(request, principal: person, state: state) {
            out.append(.init(.decide, request, stage: stage, detail: "decide \(stage) (approve, request changes or reject)", since: atStage, now: now))
        }
        for d in delegators where d.project.map({ $0 == request.project }) ?? true {
            for stage in Policy.awaiting(request, principal: d.from, state: state) where person != request.requester {
                out.append(.init(.decide, request, stage: stage, onBehalfOf: d.from, detail: "decide \(stage) for \(d.from), under \(d.id)", since: atStage, now: now))
            }
        }
        if let started = request.deploymentInProgress {
            if started.by == person {
                out.append(.init(.finishDeployment, request, stage: nil, detail: "you started deploying at \(Timestamps.rfc3339(started.at)): record the outcome", since: started.at, now: now))
            }
            return out
        }
        guard let explanation = Engine.explain(request.id, state: state, now: now), let next = explanation.gates.first else { return out }
        for condition in next.conditions where !condition.met && condition.rule == "evidence" {
            if condition.whoCanSupply.contains(person) {
                out.append(.init(.evidence, request, stage: next.stage, detail: condition.detail, since: atStage, now: now))
            } else if person == request.requester,
                let account = condition.whoCanSupply.first(where: { state.principals[$0]?.kind == .serviceAccount })
            {
                out.append(.init(.evidence, request, stage: next.stage, onBehalfOf: account, detail: condition.detail, since: atStage, now: now))
            }
        }
        if person == request.requester,
            let asked = request.currentDecisions.last(where: { $0.decision == .changesRequested })
        {
            out.append(.init(.revise, request, stage: asked.stage, detail: "\(asked.by) asked for changes at \(asked.stage): revise the request", since: asked.at, now: now))
        }
        if let workflow = state.workflow(for: request)?.workflow {
            let path = workflow.path(for: request)
            if path.count >= 2, request.stage == path[path.count - 2].name, state.principals[person] != nil,
                Engine.deployRefusals(request, environment: request.environment, digest: request.digest, state: state, actor: person, now: now).isEmpty
            {
                out.append(.init(.deploy, request, stage: path[path.count - 1].name, detail: "the gate allows you to deploy \(request.digest) now", since: atStage, now: now))
            }
        }
        return out
    }
}
