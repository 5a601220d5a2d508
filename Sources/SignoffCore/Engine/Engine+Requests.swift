internal import Foundation
public import SignoffCrypto

/// Requests: filing, evidence, revisions, withdrawal, deployments and retrospectives.
extension Engine {
    /// Labels: at most 16, each with 1–16 values; label names and values are names.
    static let maximumLabels = 16

    static func fileRequest(
        projectKey: String, environment: String, bundle: String, digest: SHA256Digest, description: String, labels: [String: [String]],
        emergencyReason: String?, source: BundleSource?, state: SignoffState, actor: String, now: Int64
    ) throws -> [Event] {
        // Someone with no part in a project learns nothing of it (not even that it exists) from a refusal.
        guard let project = state.projects[projectKey], Access.mayRead(project: projectKey, principal: actor, state: state, now: now) else {
            throw Refusal(.projectRequesters, "\(actor) may not file requests for \(projectKey): no such project, or not one you have a part in")
        }
        guard let workflowName = project.environments[environment] else {
            throw Refusal(.projectEnvironment, "project \(projectKey) has no environment \(environment) (it has \(project.environments.keys.sorted().joined(separator: ", ")))")
        }
        guard state.holds(actor, role: Workflow.requestersRole, project: projectKey, environment: environment) else {
            throw Refusal(
                .projectRequesters,
                "\(actor) may not file requests for \(projectKey) on \(environment): only its requesters (\(project.groups(bound: Workflow.requestersRole, environment: environment).joined(separator: ", ")))")
        }
        guard let workflowDigest = state.currentWorkflows[workflowName], let workflow = state.workflows[workflowDigest]?.workflow else {
            throw Refusal(.projectInvalid, "workflow \(workflowName) is not applied")
        }
        try validLabels(labels)
        if let emergencyReason {
            guard let emergency = workflow.emergency else {
                throw Refusal(.emergencyNone, "the \(workflow.name) workflow of \(projectKey) on \(environment) allows no emergency requests")
            }
            let roles = emergency.filedBy.map(\.value)
            guard roles.contains(where: { state.holds(actor, role: $0, project: projectKey, environment: environment) }) else {
                throw Refusal(.emergencyFiledBy, "\(actor) may not file an emergency for \(projectKey) on \(environment): only \(roles.joined(separator: " or "))")
            }
            guard !emergencyReason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw Refusal(.emergencyReason, "an emergency request needs a reason (--reason) saying why it cannot wait")
            }
        }
        let id = "REQ-\(state.requestCounter + 1)"
        return [.requestFiled(.init(
            id: id, project: projectKey, environment: environment, bundle: bundle, digest: digest, description: description,
            workflowDigest: workflowDigest, labels: labels.mapValues { $0.sorted() }, emergencyReason: emergencyReason,
            source: source.flatMap { $0.isEmpty ? nil : $0 }))]
    }

    static func attachEvidence(
        id: String, kind: String, status text: String, digest: SHA256Digest, tests: TestCounts?, labels: [String: [String]], source: BundleSource?,
        state: SignoffState, actor: String, now: Int64
    ) throws -> [Event] {
        let request = try requireActive(state, id)
        let workflow = try workflowOf(request, state)
        guard let status = EvidenceStatus(normalising: text) else {
            throw Refusal(.evidenceStatus, "evidence status \"\(text.prefix(40))\" is not one of \(EvidenceStatus.vocabulary)")
        }
        // The kinds a gate asks for, and the kind whose labels the workflow reads (labels_from), by their roles.
        let requirements = workflow.path(for: request).flatMap(\.gate.evidence).filter { $0.kind == kind }
        let detecting = workflow.labelsFrom.flatMap { $0.evidence == kind ? $0 : nil }
        guard !requirements.isEmpty || detecting != nil else {
            throw Refusal(.evidenceKind, "the \(workflow.name) workflow asks \(id) for no evidence of kind \(kind)")
        }
        if !labels.isEmpty {
            guard detecting != nil else {
                throw Refusal(
                    .evidenceLabels,
                    "\(kind) evidence carries no labels in the \(workflow.name) workflow: only \(workflow.labelsFrom.map { "\($0.evidence) evidence (its labels_from)" } ?? "none (it has no labels_from)") does")
            }
            try validLabels(labels)
        }
        let roles = Array(Set(requirements.flatMap { $0.attachedBy.map(\.value) } + (detecting?.attachedBy.map(\.value) ?? []))).sorted()
        guard roles.contains(where: { state.holds(actor, role: $0, project: request.project, environment: request.environment) }) else {
            throw Refusal(
                .evidenceAttachedBy,
                "\(actor) may not attach \(kind) evidence to \(id); only \(Policy.describe(roles: roles, request: request, state: state))")
        }
        // Counts checked after who may: bounded first, so that no sum can overflow.
        if let tests {
            let counts = [tests.tests, tests.failures, tests.errors, tests.skipped]
            guard counts.allSatisfy({ (0...TestCounts.maximum).contains($0) }), tests.failures + tests.errors + tests.skipped <= tests.tests else {
                throw Refusal(
                    .evidenceStatus, "test counts must be whole numbers from 0 to \(TestCounts.maximum), with failures + errors + skipped at most the tests run")
            }
            guard tests.status == status else {
                throw Refusal(.evidenceStatus, "the test counts say \(tests.status.rawValue), not \(status.rawValue)")
            }
        }
        // The same report attached twice is one fact: nothing to record. The same digest with another status is a contradiction.
        if let same = request.currentEvidence.first(where: { $0.kind == kind && $0.digest == digest }) {
            guard same.status == status else {
                throw Refusal(.evidenceConflict, "\(kind) \(digest) is already attached to \(id) with status \(same.status.rawValue), not \(status.rawValue)")
            }
            return []
        }
        var attached = Event.EvidenceAttached(request: id, kind: kind, status: status.rawValue, digest: digest, revision: request.revision)
        attached.tests = tests
        attached.source = source
        var events: [Event] = [.evidenceAttached(attached)]
        if !labels.isEmpty {
            attached.labels = labels.mapValues { $0.sorted() }
            events = [.evidenceAttached(attached)]
            // A stage the detected labels add before where the request stands: the request goes back to the stage before
            // it, so that the added stage is passed before deployment (later stages' approvals, still valid, carry it on).
            // The request as the fold will leave it (one rule for what detected labels add).
            var detected = request
            detected.apply(.evidenceAttached(attached), actor: actor, at: now, workflow: workflow)
            let before = Set(workflow.path(for: request).map(\.name))
            let after = workflow.path(for: detected)
            if let current = after.firstIndex(where: { $0.name == request.stage }),
                let added = after[..<current].firstIndex(where: { !before.contains($0.name) }), added > 0
            {
                try requireNoDeploymentInProgress(request, doing: "add the stage \(after[added].name) that its labels call for")
                events.append(.stageEntered(.init(request: id, stage: after[added - 1].name, revision: request.revision)))
            }
        }
        return try advancing(request.id, after: events, state: state, actor: actor, now: now)
    }

    /// Labels as a request or an evidence carries them: at most 16, each a name with 1–16 distinct name values.
    static func validLabels(_ labels: [String: [String]]) throws {
        guard labels.count <= maximumLabels else { throw Refusal(.inputLabel, "at most \(maximumLabels) labels, not \(labels.count)") }
        for (label, values) in labels {
            try validName(label, what: "a label")
            guard !values.isEmpty, values.count <= maximumLabels, Set(values).count == values.count else {
                throw Refusal(.inputLabel, "label \(label) needs 1–\(maximumLabels) distinct values")
            }
            for value in values { try validName(value, what: "a value of label \(label)") }
        }
    }

    /// Only the requester revises: a revision puts another bundle under their name and voids the approvals given, so
    /// nobody else — an administrator neither (a stolen administrator's session swapped the bundle of another person's
    /// regulated request, unsigned) — may. An administrator withdraws another person's request (an administrative change,
    /// signed in a regulated ledger) and files anew.
    static func revise(id: String, bundle: String?, digest: SHA256Digest, source: BundleSource?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        guard actor == request.requester else {
            throw Refusal(
                .requestOwner,
                "only the requester (\(request.requester)) may revise \(id): a revision puts another bundle under their name; an administrator may withdraw it (`signoff withdraw`) and file it anew")
        }
        guard digest != request.digest else { throw Refusal(.inputDigest, "\(id) already has bundle digest \(digest)") }
        try requireNoDeploymentInProgress(request, doing: "revise it")
        return [
            .requestRevised(
                .init(request: id, bundle: bundle ?? request.bundle, digest: digest, revision: request.revision + 1, source: source.flatMap { $0.isEmpty ? nil : $0 }))
        ]
    }

    /// The requester withdraws plainly; an administrator withdrawing another person's request makes an administrative
    /// change (``verifyAdministration(_:state:actor:now:)``), whose approval the entry keeps.
    static func withdraw(id: String, reason: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        guard actor == request.requester || state.principals[actor]?.isAdministrator == true else {
            throw Refusal(.requestOwner, "only the requester (\(request.requester)) or an administrator may withdraw \(id)")
        }
        try requireNoDeploymentInProgress(request, doing: "withdraw it")
        return [.requestWithdrawn(.init(request: id, reason: reason, approval: actor == request.requester ? nil : approval))]
    }

    /// The outcome of a deployment. Without a start under way, the gate must allow it now (one step). With one, the
    /// verdict its start held stands — a freeze, a closing window or an approval expiring during the rollout does not
    /// stop its outcome being recorded — and only who started it, or another principal the deployment stage admits,
    /// records it.
    static func recordDeployment(
        id: String, outcome: Deployment.Outcome, note: String, requireStarted: Bool, state: SignoffState, actor: String, now: Int64
    ) throws -> [Event] {
        let request = try requireActive(state, id)
        if let started = request.deploymentInProgress {
            if actor != started.by {
                let reasons = deployRefusals(request, environment: request.environment, digest: request.digest, state: state, actor: actor, now: now)
                if let refusal = reasons.first(where: { $0.code == .gateActors || $0.code == .gateSeparation }) { throw refusal }
            }
            return [.deploymentRecorded(.init(request: id, outcome: outcome, note: note, revision: started.revision))]
        }
        if requireStarted {
            throw Refusal(.deploymentNotStarted, "no deployment of \(id) is under way; start one with `signoff deploy \(id) --start`, or record the outcome in one step without --finish")
        }
        let reasons = deployRefusals(request, environment: request.environment, digest: request.digest, state: state, actor: actor, now: now)
        if let first = reasons.first { throw first }
        return [.deploymentRecorded(.init(request: id, outcome: outcome, note: note, revision: request.revision))]
    }

    /// A deployment begins: refused unless the gate allows `actor` to deploy the request's bundle now, and refused while
    /// another start of it is under way.
    static func startDeployment(id: String, note: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        if let started = request.deploymentInProgress {
            throw Refusal(.deploymentInProgress, "\(started.by) started deploying \(id) at \(Timestamps.rfc3339(started.at)); record its outcome with `signoff deploy \(id) --finish` first")
        }
        let reasons = deployRefusals(request, environment: request.environment, digest: request.digest, state: state, actor: actor, now: now)
        if let first = reasons.first { throw first }
        return [.deploymentStarted(.init(request: id, digest: request.digest, note: note, revision: request.revision))]
    }

    /// Revising or withdrawing a request while its deployment is under way would change what is being deployed.
    static func requireNoDeploymentInProgress(_ request: DeploymentRequest, doing what: String) throws {
        if let started = request.deploymentInProgress {
            throw Refusal(
                .deploymentInProgress,
                "\(started.by) is deploying \(request.id) (started \(Timestamps.rfc3339(started.at))); record its outcome with `signoff deploy \(request.id) --finish` before you \(what)")
        }
    }

    static func recordRetrospective(id: String, comment: String, envelope: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard let request = state.requests[id] else { throw Refusal(.requestUnknown, "no request \(id)") }
        let workflow = try workflowOf(request, state)
        guard let retrospective = workflow.retrospective(for: request), let due = request.retrospectiveDue else {
            throw Refusal(.retrospectiveNone, "request \(id) needs no retrospective review")
        }
        guard !request.retrospectiveDone else { throw Refusal(.retrospectiveDone, "the retrospective of \(id) is already recorded") }
        let role = retrospective.role.value
        guard state.holds(actor, role: role, project: request.project, environment: request.environment) else {
            throw Refusal(.retrospectiveRole, "only the \(Policy.describe(roles: [role], request: request, state: state)) of \(request.project) may record the retrospective of \(id)")
        }
        guard actor != request.requester, !request.deployments.contains(where: { $0.by == actor }) else {
            throw Refusal(.separationRetrospective, "the retrospective must be done by someone other than the requester and the deployer")
        }
        guard !comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw Refusal(.retrospectiveReason, "a retrospective needs a comment saying what was reviewed")
        }
        // The review closes the one control an emergency still owes: in a regulated project, signed by the reviewer's key.
        if let envelope {
            try verifyActorStatement(
                envelope, as: RetrospectiveStatement.self, payloadType: RetrospectiveStatement.payloadType, signedTime: \.time,
                describing: "the retrospective of \(id) with this comment by \(actor)", state: state, actor: actor, now: now
            ) { s in
                s.request == id && s.project == request.project && s.environment == request.environment
                    && s.bundleDigest == request.digest.description && s.actor == actor && s.comment == comment
            }
        } else if state.projects[request.project]?.regulated == true {
            throw Refusal(.signatureRequired, "project \(request.project) is regulated: the retrospective must be signed with the reviewer's key (--key)")
        }
        var recorded = Event.RetrospectiveRecorded(request: id, comment: comment, overdue: now > due)
        recorded.envelope = envelope
        return [.retrospectiveRecorded(recorded)]
    }
}

/// Delegations and request expiry.
extension Engine {
    /// The longest delegation: a holiday, not a standing transfer of authority.
    public static let maximumDelegationDays: Int64 = 92

    static func delegate(_ spec: DelegationSpec, envelope: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard let delegator = state.principals[actor], delegator.kind == .user else {
            throw Refusal(.delegationInvalid, "only a user may delegate their decisions")
        }
        try validName(spec.delegate, what: "the delegate")
        guard let delegate = state.principals[spec.delegate], delegate.kind == .user, !delegate.disabled else {
            throw Refusal(.inputUnknown, "no enabled user \(spec.delegate)")
        }
        guard spec.delegate != actor else { throw Refusal(.delegationInvalid, "\(actor) cannot delegate to themself") }
        guard spec.start < spec.end, spec.end > now else {
            throw Refusal(.delegationInvalid, "a delegation must end after it starts, and in the future")
        }
        guard spec.end - spec.start <= maximumDelegationDays * 86_400_000 else {
            throw Refusal(.delegationInvalid, "a delegation lasts at most \(maximumDelegationDays) days")
        }
        if let project = spec.project {
            guard state.projects[project] != nil else { throw Refusal(.inputUnknown, "no project \(project)") }
        }
        if let role = spec.role { try validName(role, what: "a role") }
        // A delegation hands on the power to decide: in a ledger with a regulated project, only the delegator's key
        // (not a session, which may be stolen) may do so.
        if let envelope {
            try verifyActorStatement(
                envelope, as: DelegationStatement.self, payloadType: DelegationStatement.payloadType, signedTime: \.time,
                describing: "this exact delegation", state: state, actor: actor, now: now
            ) { $0.delegation == spec }
        } else if hasRegulatedProject(state) {
            throw Refusal(.signatureRequired, "this ledger has a regulated project: a delegation must be signed with the delegator's key (--key)")
        }
        let id = "DLG-\(state.delegations.count + 1)"
        return [.delegationGranted(.init(id: id, delegation: spec, envelope: envelope))]
    }

    /// Who delegated revokes plainly; an administrator revoking someone else's delegation makes an administrative change.
    static func revokeDelegation(id: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard let delegation = state.delegations[id] else { throw Refusal(.inputUnknown, "no delegation \(id)") }
        guard delegation.from == actor || state.principals[actor]?.isAdministrator == true
            || ProjectAdministration.mayMake(.revokeDelegation(id: id), state: state, actor: actor)
        else {
            throw Refusal(.requestOwner, "only who delegated, an administrator, or an administrator of the delegation's project may revoke \(id)")
        }
        guard delegation.revokedAt == nil, delegation.end > now else { throw Refusal(.delegationInvalid, "\(id) is already over") }
        return [.delegationRevoked(.init(id: id, approval: delegation.from == actor ? nil : approval))]
    }

    /// The active requests idle longer than their workflow's `request_expiry`, as `request.expired` events, oldest filing
    /// first and, between requests filed in the same millisecond, in the order of their numbers (REQ-2 before REQ-10): the
    /// same events whatever order the state's dictionary holds them in.
    static func expireStale(state: SignoffState, now: Int64) -> [Event] {
        state.requests.values.filter { $0.status == .active && $0.deploymentInProgress == nil }.sorted {
            ($0.filedAt, $0.id.count, $0.id) < ($1.filedAt, $1.id.count, $1.id)
        }.compactMap { request in
            guard let expiry = state.workflow(for: request)?.workflow.requestExpirySeconds, now - request.lastActivity > expiry * 1000 else { return nil }
            return .requestExpired(.init(request: request.id, lastActivity: Timestamps.rfc3339(request.lastActivity)))
        }
    }

    /// Whether any active request is due to expire now (cheap enough to ask before every local command).
    public static func hasStaleRequests(_ state: SignoffState, now: Int64) -> Bool { !expireStale(state: state, now: now).isEmpty }
}
