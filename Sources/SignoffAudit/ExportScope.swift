public import SignoffCore
public import SignoffLedger

/// What a project's export may name besides its requests: the people, groups, workflows, freezes and delegations that
/// concern that project — and nobody from another team. Found by a first pass over the ledger (``note(_:)`` on every
/// entry up to the checkpoint, in order, then ``finish()``), because a group bound later or a decision given later
/// makes an earlier entry relevant.
///
/// Relevant: the ledger's administrators; every group the project ever bound (a round-1 project: also the groups its
/// workflows named); everyone ever a member of one of them; everyone who acted on one of its requests (requester,
/// evidence, deciders and those they decided for, deployers, retrospectives); the workflows its environments ever
/// used; freezes of the project or of every project; delegations used on its requests.
public struct ExportScope: Sendable {
    public let project: String
    public private(set) var principals: Set<String> = []
    public private(set) var groups: Set<String> = []
    public private(set) var workflows: Set<String> = []
    public private(set) var freezes: Set<String> = []
    public private(set) var delegations: Set<String> = []

    private var requests: Set<String> = []
    private var administrators: Set<String> = []
    private var actors: Set<String> = []
    private var members: [String: Set<String>] = [:]
    /// (delegator, delegate) pairs used by decisions on the project's requests, and every grant by ID.
    private var usedDelegations: Set<[String]> = []
    private var grants: [String: [String]] = [:]
    /// Round-1 workflows (naming groups) by name: the groups each version named.
    private var legacyWorkflowGroups: [String: Set<String>] = [:]
    private var legacyProject = false

    public init(project: String) { self.project = project }

    /// The entry kinds the first pass reads; others are skipped without decoding their payload.
    public static let kinds: Set<String> = [
        "principal.added", "group.member-added", "project.created", "project.updated", "workflow.applied", "freeze.added", "delegation.granted",
        "request.filed", "evidence.attached", "decision.recorded", "deployment.recorded", "retrospective.recorded", "request.revised",
        "request.withdrawn",
    ]

    public mutating func note(_ entry: LedgerEntry) {
        guard Self.kinds.contains(entry.kind), let event = try? Event.decode(kind: entry.kind, payload: entry.payload) else { return }
        switch event {
        case .principalAdded(let e): if e.administrator { administrators.insert(e.name) }
        case .memberAdded(let e): members[e.group, default: []].insert(e.member)
        case .projectCreated(let e) where e.project.key == project: bind(e.project)
        case .projectUpdated(let e) where e.project.key == project: bind(e.project)
        case .workflowApplied(let e):
            // Usually applied before the project that uses it exists: kept by name, resolved in finish().
            if let applied = try? AppliedWorkflow(source: e.source, recorded: true), applied.workflow.namesGroups {
                legacyWorkflowGroups[e.name, default: []].formUnion(applied.workflow.roleReferences.map(\.value))
            }
        case .freezeAdded(let e): if e.freeze.project == nil || e.freeze.project == project { freezes.insert(e.id) }
        case .delegationGranted(let e): grants[e.id] = [entry.actor, e.delegation.delegate]
        case .requestFiled(let e):
            guard e.project == project else { return }
            requests.insert(e.id)
            actors.insert(entry.actor)
        case .decisionRecorded(let e):
            guard requests.contains(e.request) else { return }
            actors.insert(entry.actor)
            if let delegator = e.onBehalfOf {
                actors.insert(delegator)
                usedDelegations.insert([delegator, entry.actor])
            }
        case .evidenceAttached(let e): if requests.contains(e.request) { actors.insert(entry.actor) }
        case .deploymentRecorded(let e): if requests.contains(e.request) { actors.insert(entry.actor) }
        case .retrospectiveRecorded(let e): if requests.contains(e.request) { actors.insert(entry.actor) }
        case .requestRevised(let e): if requests.contains(e.request) { actors.insert(entry.actor) }
        case .requestWithdrawn(let e): if requests.contains(e.request) { actors.insert(entry.actor) }
        default: break
        }
    }

    private mutating func bind(_ spec: ProjectSpec) {
        groups.formUnion(spec.roles.values.flatMap { $0 })
        workflows.formUnion(spec.environments.values)
        legacyProject = legacyProject || spec.namesGroups
    }

    /// After the first pass: who is relevant.
    public mutating func finish() {
        // A round-1 project's roles are the groups (or principals) its workflows named.
        let legacyNames = legacyProject ? workflows.reduce(into: Set<String>()) { $0.formUnion(legacyWorkflowGroups[$1] ?? []) } : []
        groups.formUnion(legacyNames)
        principals = administrators.union(actors).union(legacyNames)
        for group in groups { principals.formUnion(members[group] ?? []) }
        delegations = Set(grants.filter { usedDelegations.contains($0.value) }.keys)
    }

    /// Whether the export includes this entry of a kind that is not about a request: administration, freezes, delegations.
    public func admits(_ event: Event) -> Bool {
        switch event {
        case .ledgerInitialized, .adminQuorumSet: true
        case .principalAdded(let e): principals.contains(e.name)
        case .keyEnrolled(let e): principals.contains(e.principal)
        case .keyRevoked(let e): principals.contains(e.principal)
        case .principalDisabled(let e), .principalEnabled(let e): principals.contains(e.principal)
        case .serviceTokenIssued(let e):
            // A shared service account's tokens for other projects are theirs.
            principals.contains(e.principal) && Access.scopes(e.scopes, concern: project)
        case .groupCreated(let e): groups.contains(e.name)
        case .memberAdded(let e): groups.contains(e.group)
        case .memberRemoved(let e): groups.contains(e.group)
        case .workflowApplied(let e): workflows.contains(e.name)
        case .projectCreated(let e): e.project.key == project
        case .projectUpdated(let e): e.project.key == project
        case .freezeAdded(let e): freezes.contains(e.id)
        case .freezeLifted(let e): freezes.contains(e.id)
        case .delegationGranted(let e): delegations.contains(e.id)
        case .delegationRevoked(let e): delegations.contains(e.id)
        default: false
        }
    }
}
