internal import Foundation
public import SignoffCrypto

extension SignoffState {
    /// Applies one recorded event. Pure and total: the engine only records events it has checked, and replaying
    /// the ledger calls this for every entry in order.
    public mutating func apply(_ event: Event, actor: String, at time: Int64) {
        switch event {
        case .ledgerInitialized(let e):
            ledger = e
        case .principalAdded(let e):
            noteApproval(e.approval)
            var keys: [EnrolledKey] = []
            if let text = e.verifierKey, let key = try? NoteVerifierKey(parsing: text) {
                // The first administrator's key (added by the system at `signoff init`) and keys whose enrolment
                // administrators signed may sign administration.
                let trusted = actor == Engine.systemActor || e.approval != nil
                keys.append(EnrolledKey(verifierKey: text, fingerprint: key.publicKey.fingerprint, enrolledAt: time, revokedAt: nil, trusted: trusted))
            }
            principals[e.name] = Principal(name: e.name, kind: e.kind, isAdministrator: e.administrator, keys: keys)
            principals[e.name]?.directory = e.directory
        case .keyEnrolled(let e):
            noteApproval(e.approval)
            noteApproval(e.proof)
            if let key = try? NoteVerifierKey(parsing: e.verifierKey) {
                var enrolled = EnrolledKey(verifierKey: e.verifierKey, fingerprint: key.publicKey.fingerprint, enrolledAt: time, revokedAt: nil, trusted: e.approval != nil)
                enrolled.selfEnrolled = e.proof != nil
                enrolled.vouchedBy = e.proof?.signatures.map { Ed25519.PublicKey.fingerprintHex($0.keyid) } ?? []
                principals[e.principal]?.keys.append(enrolled)
            }
        case .keyRevoked(let e):
            noteApproval(e.approval)
            if let index = principals[e.principal]?.keys.firstIndex(where: { $0.fingerprint == e.fingerprint && $0.revokedAt == nil }) {
                principals[e.principal]?.keys[index].revokedAt = time
                principals[e.principal]?.keys[index].compromisedSince = e.compromisedSince
            }
        case .groupCreated(let e):
            noteApproval(e.approval)
            groups[e.name] = Group(name: e.name, members: [], directory: e.directory)
        case .memberRemoved(let e):
            noteApproval(e.approval)
            groups[e.group]?.members.removeAll { $0 == e.member }
        case .projectUpdated(let e):
            noteApproval(e.approval)
            projects[e.project.key] = Project(e.project)
        case .principalDisabled(let e):
            noteApproval(e.approval)
            principals[e.principal]?.disabled = true
            principals[e.principal]?.disabledBy = actor
        case .principalEnabled(let e):
            noteApproval(e.approval)
            principals[e.principal]?.disabled = false
            principals[e.principal]?.disabledBy = nil
        case .adminQuorumSet(let e):
            noteApproval(e.approval)
            adminQuorum = e.quorum
        case .serviceTokenIssued(let e):
            noteApproval(e.approval)
        case .freezeAdded(let e):
            noteApproval(e.approval)
            let f = e.freeze
            freezes[e.id] = Freeze(
                id: e.id, environment: f.environment, project: f.project, from: f.from, until: f.until, reason: f.reason, addedBy: actor, liftedAt: nil)
        case .freezeExempted(let e):
            noteApproval(e.approval)
            if var freeze = freezes[e.id] {
                freeze.exemptions = (freeze.exemptions ?? [:]).merging([e.request: FreezeExemption(reason: e.reason, by: actor, at: time)]) { _, new in new }
                freezes[e.id] = freeze
            }
            // Break-glass is reviewed afterwards: the request owes the retrospective an emergency owes.
            if var request = requests[e.request], !(request.exemptedFrom ?? []).contains(e.id) {
                request.exemptedFrom = (request.exemptedFrom ?? []) + [e.id]
                requests[e.request] = request
            }
        case .freezeLifted(let e):
            noteApproval(e.approval)
            freezes[e.id]?.liftedAt = time
        case .webhookAdded(let e):
            noteApproval(e.approval)
            webhooks[e.id] = Webhook(id: e.id, spec: e.webhook, addedBy: actor, addedAt: time, removedAt: nil)
        case .webhookRemoved(let e):
            noteApproval(e.approval)
            webhooks[e.id]?.removedAt = time
        case .issuerTrusted(let e):
            noteApproval(e.approval)
            issuers[e.issuer.name] = TrustedIssuer(spec: e.issuer, trustedBy: actor, trustedAt: time)
        case .issuerDistrusted(let e):
            noteApproval(e.approval)
            issuers[e.name] = nil
        case .directoryConnected(let e):
            noteApproval(e.approval)
            directories[e.name] = ConnectedDirectory(name: e.name, tokenID: e.tokenID, connectedBy: actor, connectedAt: time)
        case .directoryDisconnected(let e):
            noteApproval(e.approval)
            directories[e.name] = nil
        case .groupLinked(let e):
            noteApproval(e.approval)
            groups[e.group]?.directory = e.directory
        case .delegationGranted(let e):
            noteApproval(e.envelope)
            let d = e.delegation
            delegations[e.id] = Delegation(
                id: e.id, from: actor, to: d.delegate, start: d.start, end: d.end, project: d.project, role: d.role, revokedAt: nil, grantedAt: time,
                signedWith: e.envelope?.signatures.map { Ed25519.PublicKey.fingerprintHex($0.keyid) } ?? [])
        case .delegationRevoked(let e):
            noteApproval(e.approval)
            delegations[e.id]?.revokedAt = time
        case .tokenRevoked(let e):
            noteApproval(e.approval)
        case .requestExpired(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .memberAdded(let e):
            if let envelope = e.approval { usedStatements.insert(SHA256Digest.hash(envelope.payload)) }
            groups[e.group]?.members.append(e.member)
            groups[e.group]?.members.sort()
        case .workflowApplied(let e):
            noteApproval(e.approval)
            if var applied = try? AppliedWorkflow(source: e.source, recorded: true) {
                // Its version: the how-manyth distinct text applied under this name (applying the same text again is no
                // new version). People read "regulated v2", not a digest.
                applied.version = workflows[e.digest]?.version ?? (workflows.values.filter { $0.workflow.name == applied.workflow.name }.count + 1)
                workflows[e.digest] = applied
                currentWorkflows[e.name] = e.digest
            }
        case .projectCreated(let e):
            projects[e.project.key] = Project(e.project)
            if let envelope = e.approval { usedStatements.insert(SHA256Digest.hash(envelope.payload)) }
        case .requestFiled(let e):
            requestCounter += 1
            let first = workflows[e.workflowDigest]?.workflow.stages.first?.name ?? "requested"
            requests[e.id] = DeploymentRequest(
                id: e.id, project: e.project, environment: e.environment, requester: actor, description: e.description, filedAt: time,
                workflowDigest: e.workflowDigest, bundle: e.bundle, digest: e.digest, revision: 1, stage: first, status: .active,
                history: [StageEntry(stage: first, at: time, revision: 1)], evidence: [], decisions: [], deployments: [],
                retrospectiveDue: nil, retrospectiveDone: false, labels: e.labels, emergency: e.emergencyReason.map { .init(reason: $0) }, source: e.source)
            reindex(e.id)
        case .decisionRecorded(let e):
            if let digest = e.statementDigest { usedStatements.insert(digest) }
            applyToRequest(e.request, event, actor: actor, at: time)
        case .evidenceAttached(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .stageEntered(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .requestRejected(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .requestWithdrawn(let e):
            noteApproval(e.approval)
            applyToRequest(e.request, event, actor: actor, at: time)
        case .requestRevised(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .deploymentStarted(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .deploymentRecorded(let e): applyToRequest(e.request, event, actor: actor, at: time)
        case .retrospectiveRecorded(let e):
            noteApproval(e.envelope)
            applyToRequest(e.request, event, actor: actor, at: time)
        }
    }

    /// A signed approval counts once: its statement is remembered like a decision's.
    private mutating func noteApproval(_ envelope: DSSEEnvelope?) {
        if let envelope { usedStatements.insert(SHA256Digest.hash(envelope.payload)) }
    }

    private mutating func applyToRequest(_ id: String, _ event: Event, actor: String, at time: Int64) {
        guard let digest = requests[id]?.workflowDigest else { return }
        let workflow = workflows[digest]?.workflow
        requests[id]?.apply(event, actor: actor, at: time, workflow: workflow)
        reindex(id)
    }

    /// The projection documents an event changes, as `kind/id` keys (see ``documents()``). The signed statements it
    /// uses are not documents: see ``Event/statementDigests``.
    public static func documentKeys(touchedBy event: Event) -> [String] {
        switch event {
        // Not kept in the projection: a ledger from before this event kind was the engine's has no such document.
        case .ledgerInitialized: []
        case .principalAdded(let e): ["principal/\(e.name)"]
        case .keyEnrolled(let e): ["principal/\(e.principal)"]
        case .keyRevoked(let e): ["principal/\(e.principal)"]
        case .groupCreated(let e): ["group/\(e.name)"]
        case .memberRemoved(let e): ["group/\(e.group)"]
        case .projectUpdated(let e): ["project/\(e.project.key)"]
        case .principalDisabled(let e), .principalEnabled(let e): ["principal/\(e.principal)"]
        case .adminQuorumSet(let e): ["meta/admin-quorum"]
        case .serviceTokenIssued: []
        case .webhookAdded(let e): ["webhook/\(e.id)"]
        case .webhookRemoved(let e): ["webhook/\(e.id)"]
        case .issuerTrusted(let e): ["issuer/\(e.issuer.name)"]
        case .issuerDistrusted(let e): ["issuer/\(e.name)"]
        case .directoryConnected(let e): ["directory/\(e.name)"]
        case .directoryDisconnected(let e): ["directory/\(e.name)"]
        case .groupLinked(let e): ["group/\(e.group)"]
        case .freezeAdded(let e): ["freeze/\(e.id)"]
        case .freezeLifted(let e): ["freeze/\(e.id)"]
        case .freezeExempted(let e): ["freeze/\(e.id)", "request/\(e.request)"]
        case .delegationGranted(let e): ["delegation/\(e.id)"]
        case .delegationRevoked(let e): ["delegation/\(e.id)"]
        case .tokenRevoked: []
        case .requestExpired(let e): ["request/\(e.request)"]
        case .memberAdded(let e): ["group/\(e.group)"]
        case .workflowApplied(let e): ["workflow/\(e.digest.hex)", "workflow-current/\(e.name)"]
        case .projectCreated(let e): ["project/\(e.project.key)"]
        case .requestFiled(let e): ["request/\(e.id)", "meta/request-counter"]
        case .evidenceAttached(let e): ["request/\(e.request)"]
        case .decisionRecorded(let e): ["request/\(e.request)"]
        case .stageEntered(let e): ["request/\(e.request)"]
        case .requestRejected(let e): ["request/\(e.request)"]
        case .requestWithdrawn(let e): ["request/\(e.request)"]
        case .requestRevised(let e): ["request/\(e.request)"]
        case .deploymentStarted(let e): ["request/\(e.request)"]
        case .deploymentRecorded(let e): ["request/\(e.request)"]
        case .retrospectiveRecorded(let e): ["request/\(e.request)"]
        }
    }


    /// The projection as documents: `kind/id` → canonical JSON. Storage keeps exactly these; replaying the ledger
    /// must give exactly the same set.
    public func documents() -> [String: String] {
        var out: [String: String] = [:]
        for key in principals.keys { out["principal/\(key)"] = document(for: "principal/\(key)") }
        for key in groups.keys { out["group/\(key)"] = document(for: "group/\(key)") }
        for digest in workflows.keys { out["workflow/\(digest.hex)"] = document(for: "workflow/\(digest.hex)") }
        for name in currentWorkflows.keys { out["workflow-current/\(name)"] = document(for: "workflow-current/\(name)") }
        for key in projects.keys { out["project/\(key)"] = document(for: "project/\(key)") }
        for key in requests.keys { out["request/\(key)"] = document(for: "request/\(key)") }
        for key in freezes.keys { out["freeze/\(key)"] = document(for: "freeze/\(key)") }
        for key in delegations.keys { out["delegation/\(key)"] = document(for: "delegation/\(key)") }
        for key in webhooks.keys { out["webhook/\(key)"] = document(for: "webhook/\(key)") }
        for key in issuers.keys { out["issuer/\(key)"] = document(for: "issuer/\(key)") }
        for key in directories.keys { out["directory/\(key)"] = document(for: "directory/\(key)") }
        if requestCounter > 0 { out["meta/request-counter"] = document(for: "meta/request-counter") }
        if adminQuorum != 1 { out["meta/admin-quorum"] = document(for: "meta/admin-quorum") }
        return out
    }

    /// One document by key, or nil when the entity does not exist.
    public func document(for key: String) -> String? { document(for: key, encoding: { try CanonicalJSON.encode($0) }) }

    /// One document encoded by `encoder`: canonical JSON in ``document(for:)``; Foundation's encoder where tests compare.
    func document(for key: String, encoding encoder: (any Encodable) throws -> [UInt8]) -> String? {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        func json(_ value: (some Encodable)?) -> String? {
            value.map { String(decoding: try! encoder($0), as: UTF8.self) }  // strings, numbers and containers cannot fail
        }
        switch parts[0] {
        case "principal": return json(principals[parts[1]])
        case "group": return json(groups[parts[1]])
        case "workflow":
            guard let digest = try? SHA256Digest(parsing: "sha256:" + parts[1]) else { return nil }
            return json(workflows[digest].map { WorkflowDocument(digest: digest, source: $0.source, version: $0.version) })
        case "workflow-current": return json(currentWorkflows[parts[1]])
        case "project": return json(projects[parts[1]])
        case "request": return json(requests[parts[1]])
        case "freeze": return json(freezes[parts[1]])
        case "delegation": return json(delegations[parts[1]])
        case "webhook": return json(webhooks[parts[1]])
        case "issuer": return json(issuers[parts[1]])
        case "directory": return json(directories[parts[1]])
        case "meta":
            switch parts[1] {
            case "request-counter": return json(requestCounter)
            case "admin-quorum": return adminQuorum == 1 ? nil : json(adminQuorum)
            default: return nil
            }
        default: return nil
        }
    }

    /// Takes the entities `keys` name (projection document keys, ``documentKeys(touchedBy:)``) from `other`, removing
    /// those `other` lacks: how a state kept for queries follows a commit without decoding what it wrote.
    public mutating func copy(_ keys: some Sequence<String>, from other: SignoffState) {
        for key in keys {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let id = parts[1]
            switch parts[0] {
            case "principal": principals[id] = other.principals[id]
            case "group": groups[id] = other.groups[id]
            case "workflow":
                guard let digest = try? SHA256Digest(parsing: "sha256:" + id) else { continue }
                workflows[digest] = other.workflows[digest]
            case "workflow-current": currentWorkflows[id] = other.currentWorkflows[id]
            case "project": projects[id] = other.projects[id]
            case "request":
                requests[id] = other.requests[id]
                reindex(id)
            case "freeze": freezes[id] = other.freezes[id]
            case "delegation": delegations[id] = other.delegations[id]
            case "webhook": webhooks[id] = other.webhooks[id]
            case "issuer": issuers[id] = other.issuers[id]
            case "directory": directories[id] = other.directories[id]
            case "meta":
                if id == "request-counter" { requestCounter = other.requestCounter }
                if id == "admin-quorum" { adminQuorum = other.adminQuorum }
            default: continue
            }
        }
    }

    /// Rebuilds the state from stored documents.
    public init(documents: [String: String]) throws {
        self.init()
        try load(documents: documents)
    }

    /// Adds stored documents to this state (a bounded read: the directory, then the requests a command reads).
    public mutating func load(documents: [String: String]) throws {
        let decoder = JSONDecoder()
        for (key, text) in documents {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let data = Data(text.utf8)
            switch parts[0] {
            case "principal": principals[parts[1]] = try decoder.decode(Principal.self, from: data)
            case "group": groups[parts[1]] = try decoder.decode(Group.self, from: data)
            case "workflow":
                let document = try decoder.decode(WorkflowDocument.self, from: data)
                var applied = try AppliedWorkflow.recorded(source: document.source)
                applied.version = document.version
                workflows[document.digest] = applied
            case "workflow-current": currentWorkflows[parts[1]] = try decoder.decode(SHA256Digest.self, from: data)
            case "project": projects[parts[1]] = try decoder.decode(Project.self, from: data)
            case "request":
                requests[parts[1]] = try decoder.decode(DeploymentRequest.self, from: data)
                reindex(parts[1])
            case "freeze": freezes[parts[1]] = try decoder.decode(Freeze.self, from: data)
            case "delegation": delegations[parts[1]] = try decoder.decode(Delegation.self, from: data)
            case "webhook": webhooks[parts[1]] = try decoder.decode(Webhook.self, from: data)
            case "issuer": issuers[parts[1]] = try decoder.decode(TrustedIssuer.self, from: data)
            case "directory": directories[parts[1]] = try decoder.decode(ConnectedDirectory.self, from: data)
            case "meta":
                if parts[1] == "request-counter" { requestCounter = try decoder.decode(Int.self, from: data) }
                if parts[1] == "admin-quorum" { adminQuorum = try decoder.decode(Int.self, from: data) }
            default: continue
            }
        }
    }
}

/// A workflow version as stored: its exact source; the parsed form is derived.
struct WorkflowDocument: Codable {
    let digest: SHA256Digest
    let source: String
    /// Projection format 10; absent before.
    let version: Int?
}

extension DeploymentRequest {
    /// Folds one event about this request into it. The engine uses this on a single request while it decides, so
    /// that deciding never copies the whole state.
    public mutating func apply(_ event: Event, actor: String, at time: Int64, workflow: Workflow?) {
        switch event {
        case .evidenceAttached(let e):
            // The engine records only the vocabulary; a round-1 entry with another word reads as `errored`, which no gate accepts.
            let status = EvidenceStatus(normalising: e.status) ?? .errored
            evidence.append(
                Evidence(kind: e.kind, status: status, digest: e.digest, attachedBy: actor, at: time, revision: e.revision, tests: e.tests, labels: e.labels, source: e.source))
            if source == nil, e.revision == revision, let given = e.source { source = given }
            // Only labels the engine admitted (the workflow's labels_from kind, by its roles) are ever recorded.
            if let labels = e.labels, e.revision == revision { detectedLabels = Self.union(detectedLabels, labels) }
        case .decisionRecorded(let e):
            decisions.append(
                Decision(
                    stage: e.stage, decision: e.decision, by: actor, at: time, comment: e.comment, revision: e.revision,
                    keyFingerprint: e.keyFingerprint, statementDigest: e.statementDigest, onBehalfOf: e.onBehalfOf))
        case .stageEntered(let e):
            stage = e.stage
            history.append(StageEntry(stage: e.stage, at: time, revision: e.revision))
        case .requestRejected(let e):
            status = .rejected
            history.append(StageEntry(stage: Workflow.rejected, at: time, revision: e.revision))
        case .requestWithdrawn:
            status = .withdrawn
            history.append(StageEntry(stage: Workflow.withdrawn, at: time, revision: revision))
        case .requestRevised(let e):
            guard let workflow else { return }
            earlierRevisions.append(EarlierRevision(revision: revision, bundle: bundle, digest: digest, replacedAt: time, replacedBy: actor))
            bundle = e.bundle
            digest = e.digest
            source = e.source
            detectedLabels = [:]
            revision = e.revision
            stage = workflow.stages[0].name
            history.append(StageEntry(stage: stage, at: time, revision: e.revision))
        case .deploymentStarted(let e):
            deploymentInProgress = DeploymentStart(by: actor, at: time, note: e.note, revision: e.revision)
        case .deploymentRecorded(let e):
            deploymentInProgress = nil
            deployments.append(Deployment(outcome: e.outcome, by: actor, at: time, note: e.note, revision: e.revision))
            // A failed rollout touched production too: the retrospective is owed from the first attempt.
            if retrospectiveDue == nil, let retrospective = workflow?.retrospective(for: self) {
                retrospectiveDue = time + retrospective.withinSeconds * 1000
            }
            if e.outcome == .succeeded, let workflow {
                status = .deployed
                stage = workflow.stages[workflow.stages.count - 1].name
                history.append(StageEntry(stage: stage, at: time, revision: e.revision))
            }
        case .retrospectiveRecorded:
            retrospectiveDone = true
        case .requestExpired:
            status = .expired
            history.append(StageEntry(stage: Workflow.expired, at: time, revision: revision))
        default:
            break
        }
    }
}

extension Event {
    /// The request this event is about, for the events of a request's life (`request.filed` … `request.expired`).
    public var request: String? {
        switch self {
        case .requestFiled(let e): e.id
        case .evidenceAttached(let e): e.request
        case .decisionRecorded(let e): e.request
        case .stageEntered(let e): e.request
        case .requestRejected(let e): e.request
        case .requestWithdrawn(let e): e.request
        case .requestRevised(let e): e.request
        case .deploymentStarted(let e): e.request
        case .deploymentRecorded(let e): e.request
        case .retrospectiveRecorded(let e): e.request
        case .requestExpired(let e): e.request
        default: nil
        }
    }

    /// The kinds of the events of a request's life: the entries an audit export may show as a header only when they
    /// are outside its filter. Every other kind is administrative and always exported in full.
    public static let requestKinds: Set<String> = [
        "request.filed", "evidence.attached", "decision.recorded", "stage.entered", "request.rejected", "request.withdrawn", "request.revised",
        "deployment.started", "deployment.recorded", "retrospective.recorded", "request.expired",
    ]
}

extension SignoffState {
    /// The project and environment an entry's header names: its request's, for an event of a request's life (on the
    /// state once the event is applied); empty for every other event.
    public func entryScope(of event: Event) -> (project: String, environment: String) {
        if case .requestFiled(let e) = event { return (e.project, e.environment) }
        guard let id = event.request, let request = requests[id] else { return ("", "") }
        return (request.project, request.environment)
    }
}
