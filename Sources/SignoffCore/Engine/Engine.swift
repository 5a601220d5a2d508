internal import Foundation
public import SignoffCrypto

/// The engine: `(state, command, actor, time) → events | refusal`. Pure: no I/O, no clock, no randomness.
/// Storage appends the events to the ledger and folds them into the projection in one transaction.
public enum Engine {
    static let namePattern = "^[a-z0-9][a-z0-9._-]{0,62}$"

    /// `verified` lists signatures the caller already checked (with ``preverify(_:state:actor:)``, outside the
    /// database writer); the engine then skips only the Ed25519 arithmetic for them, never the key and statement checks.
    public static func execute(
        _ command: Command, on state: SignoffState, actor: String, now: Int64, verified: Set<VerifiedSignature> = []
    ) -> Result<[Event], Refusal> {
        do {
            return .success(try VerifiedSignature.$current.withValue(verified) { try events(for: command, state: state, actor: actor, now: now) })
        } catch let refusal as Refusal {
            return .failure(refusal)
        } catch {
            return .failure(Refusal(.internalError, "unexpected error: \(error)"))
        }
    }

    /// Whether `name` is a valid name of a principal, group or project.
    public static func isValidName(_ name: String) -> Bool { name.range(of: namePattern, options: .regularExpression) != nil }

    static func validName(_ name: String, what: String) throws {
        guard name.range(of: namePattern, options: .regularExpression) != nil else {
            throw Refusal(.inputName, "\(what) \"\(name.prefix(80))\" must be 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    static func requireAdministrator(_ state: SignoffState, _ actor: String) throws {
        guard state.principals[actor]?.isAdministrator == true else {
            throw Refusal(.adminRequired, "only an administrator may do this; \(actor) is not one")
        }
    }

    static func requireActive(_ state: SignoffState, _ id: String) throws -> DeploymentRequest {
        guard let request = state.requests[id] else { throw Refusal(.requestUnknown, "no request \(id); `signoff list` shows the requests") }
        guard request.status == .active else { throw Refusal(.requestClosed, "request \(id) is \(request.status.rawValue); nothing more can happen to it") }
        return request
    }

    /// Free text a person typed (comments, reasons, notes, descriptions, bundle names, evidence kinds): at most
    /// `maximumTextBytes`, and no control characters but newline and tab, nor the bidirectional-override characters
    /// that make text display differently from what it says — these reach terminals, CSV files and auditors.
    public static let maximumTextBytes = 4096

    static func validText(_ text: String, what: String) throws {
        guard text.utf8.count <= maximumTextBytes else {
            throw Refusal(.inputText, "\(what) is \(text.utf8.count) bytes; at most \(maximumTextBytes)")
        }
        if let bad = text.unicodeScalars.first(where: { scalar in
            (scalar.properties.generalCategory == .control && scalar != "\n" && scalar != "\t")
                || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
        }) {
            throw Refusal(.inputText, "\(what) contains the control character U+\(String(format: "%04X", bad.value)); only printable text, newlines and tabs are accepted")
        }
    }

    static func validTexts(_ command: Command) throws {
        switch command {
        case .fileRequest(_, _, let bundle, _, let description):
            try validText(bundle, what: "the bundle name")
            try validText(description, what: "the description")
        case .attachEvidence(_, let kind, let status, _):
            try validText(kind, what: "the evidence kind")
            try validText(status, what: "the evidence status")
        case .decide(_, _, _, let comment, _): try validText(comment, what: "the comment")
        case .revise(_, let bundle, _): try validText(bundle ?? "", what: "the bundle name")
        case .withdraw(_, let reason): try validText(reason, what: "the reason")
        case .recordDeployment(_, _, let note): try validText(note, what: "the note")
        case .recordRetrospective(_, let comment): try validText(comment, what: "the comment")
        default: break
        }
    }

    static func events(for command: Command, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try validTexts(command)
        switch command {
        case .initializeLedger(let origin, let ledgerKey):
            guard state.ledger == nil, state.principals.isEmpty else {
                throw Refusal(.adminBootstrap, "this ledger is already initialised")
            }
            guard ledgerKey.name == origin else { throw Refusal(.inputName, "the ledger key's name must be the origin \(origin)") }
            return [.ledgerInitialized(.init(origin: origin, ledgerKey: ledgerKey.description))]

        case .bootstrapAdministrator(let name, let key):
            guard state.principals.isEmpty else { throw Refusal(.adminBootstrap, "this database already has users; an administrator adds the next ones") }
            try validName(name, what: "a user name")
            return [.principalAdded(.init(name: name, kind: .user, administrator: true, verifierKey: key.description))]

        case .addUser(let name, let administrator, let key):
            try requireAdministrator(state, actor)
            try validName(name, what: "a user name")
            guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) already exists") }
            if let key { try requireUnusedKey(state, key) }
            return [.principalAdded(.init(name: name, kind: .user, administrator: administrator, verifierKey: key?.description))]

        case .addServiceAccount(let name, let key):
            try requireAdministrator(state, actor)
            try validName(name, what: "a service account name")
            guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) already exists") }
            if let key { try requireUnusedKey(state, key) }
            return [.principalAdded(.init(name: name, kind: .serviceAccount, administrator: false, verifierKey: key?.description))]

        case .enrollKey(let principal, let key, let approval):
            try requireAdministrator(state, actor)
            guard state.principals[principal] != nil else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
            try requireUnusedKey(state, key)
            let sensitive = state.groups.values.filter { $0.members.contains(principal) }.map(\.name).filter { regulatedProjects(relyingOn: $0, state).count > 0 }
            if let group = sensitive.first {
                try requireAdminApproval(approval, for: command, reason: "\(principal) is in \(group), which regulated projects rely on", state: state, actor: actor, now: now)
            }
            return [.keyEnrolled(.init(principal: principal, verifierKey: key.description, approval: approval))]

        case .revokeKey(let principal, let fingerprint):
            guard actor == principal || state.principals[actor]?.isAdministrator == true else {
                throw Refusal(.adminRequired, "only an administrator or the key's owner may revoke a key")
            }
            guard let owner = state.principals[principal] else { throw Refusal(.inputUnknown, "no user or service account \(principal)") }
            guard owner.keys.contains(where: { $0.fingerprint == fingerprint && $0.revokedAt == nil }) else {
                throw Refusal(.keyUnknown, "\(principal) has no unrevoked key with fingerprint \(fingerprint)")
            }
            return [.keyRevoked(.init(principal: principal, fingerprint: fingerprint))]

        case .createGroup(let name):
            try requireAdministrator(state, actor)
            try validName(name, what: "a group name")
            guard state.groups[name] == nil else { throw Refusal(.inputDuplicate, "group \(name) already exists") }
            guard state.principals[name] == nil else { throw Refusal(.inputDuplicate, "\(name) is already a user or service account name") }
            return [.groupCreated(.init(name: name))]

        case .addMember(let group, let member, let approval):
            try requireAdministrator(state, actor)
            guard let existing = state.groups[group] else { throw Refusal(.inputUnknown, "no group \(group); create it with `signoff group add \(group)`") }
            guard state.principals[member] != nil else { throw Refusal(.inputUnknown, "no user or service account \(member)") }
            guard !existing.members.contains(member) else { throw Refusal(.inputDuplicate, "\(member) is already in \(group)") }
            let projects = regulatedProjects(relyingOn: group, state)
            if !projects.isEmpty {
                try requireAdminApproval(approval, for: command, reason: "regulated project \(projects[0]) relies on \(group)", state: state, actor: actor, now: now)
            }
            return [.memberAdded(.init(group: group, member: member, approval: approval))]

        case .applyWorkflow(let source, let file):
            try requireAdministrator(state, actor)
            let applied: AppliedWorkflow
            do { applied = try AppliedWorkflow(source: source, file: file) } catch { throw Refusal(.workflowInvalid, error.description) }
            for reference in applied.workflow.groupReferences where reference.value != "deployers" && state.groups[reference.value] == nil {
                throw Refusal(.workflowInvalid,
                    WorkflowError(file: file, at: reference.location, "unknown group \"\(reference.value)\"; create it first with `signoff group add`").description)
            }
            if state.currentWorkflows[applied.workflow.name] == applied.digest {
                throw Refusal(.inputDuplicate, "workflow \(applied.workflow.name) is already applied with these exact bytes (\(applied.digest))")
            }
            return [.workflowApplied(.init(name: applied.workflow.name, digest: applied.digest, source: source))]

        case .createProject(let spec, let approval):
            try requireAdministrator(state, actor)
            try validName(spec.key, what: "a project key")
            guard state.projects[spec.key] == nil else { throw Refusal(.inputDuplicate, "project \(spec.key) already exists") }
            guard !spec.environments.isEmpty else { throw Refusal(.projectInvalid, "a project needs at least one environment, e.g. --env prod=regulated") }
            for (environment, workflow) in spec.environments {
                try validName(environment, what: "an environment name")
                guard state.currentWorkflows[workflow] != nil else {
                    throw Refusal(.projectInvalid, "environment \(environment) names workflow \(workflow), which is not applied; run `signoff workflow apply`")
                }
            }
            guard !spec.requesters.isEmpty else { throw Refusal(.projectInvalid, "a project needs at least one requesters group") }
            for group in spec.requesters + spec.deployers.values.flatMap({ $0 }) where state.groups[group] == nil {
                throw Refusal(.projectInvalid, "no group \(group); create it with `signoff group add \(group)`")
            }
            for environment in spec.deployers.keys where spec.environments[environment] == nil {
                throw Refusal(.projectInvalid, "deployers are given for \(environment), which is not one of the project's environments")
            }
            if spec.regulated {
                try requireAdminApproval(approval, for: command, reason: "\(spec.key) is regulated", state: state, actor: actor, now: now)
            }
            return [.projectCreated(.init(project: spec, approval: approval))]

        case .fileRequest(let projectKey, let environment, let bundle, let digest, let description):
            guard let project = state.projects[projectKey] else { throw Refusal(.inputUnknown, "no project \(projectKey)") }
            guard let workflowName = project.environments[environment] else {
                throw Refusal(.projectEnvironment, "project \(projectKey) has no environment \(environment) (it has \(project.environments.keys.sorted().joined(separator: ", ")))")
            }
            guard state.matches(actor, any: project.requesters) else {
                throw Refusal(.projectRequesters, "\(actor) may not file requests for \(projectKey): only members of \(project.requesters.joined(separator: ", "))")
            }
            guard !bundle.isEmpty, bundle.utf8.count <= 255, !bundle.contains("/") else {
                throw Refusal(.inputBundle, "a bundle name is 1–255 bytes without '/' (e.g. churn-model-v12.zip)")
            }
            guard let workflowDigest = state.currentWorkflows[workflowName] else { throw Refusal(.projectInvalid, "workflow \(workflowName) is not applied") }
            let id = "REQ-\(state.requestCounter + 1)"
            return [.requestFiled(.init(
                id: id, project: projectKey, environment: environment, bundle: bundle, digest: digest, description: description,
                workflowDigest: workflowDigest))]

        case .attachEvidence(let id, let kind, let status, let digest):
            let request = try requireActive(state, id)
            let workflow = try workflowOf(request, state)
            let requirements = workflow.stages.flatMap(\.gate.evidence).filter { $0.kind == kind }
            guard !requirements.isEmpty else {
                throw Refusal(.evidenceKind, "the \(workflow.name) workflow asks for no evidence of kind \(kind)")
            }
            guard requirements.contains(where: { state.matches(actor, any: $0.attachedBy.map(\.value)) }) else {
                let allowed = Set(requirements.flatMap { $0.attachedBy.map(\.value) }).sorted()
                throw Refusal(.evidenceAttachedBy, "\(actor) may not attach \(kind) evidence; only \(allowed.joined(separator: ", "))")
            }
            return try advancing(request.id, after: [.evidenceAttached(.init(request: id, kind: kind, status: status, digest: digest, revision: request.revision))],
                state: state, actor: actor, now: now)

        case .decide(let id, let stageName, let decision, let comment, let envelope):
            let request = try requireActive(state, id)
            let workflow = try workflowOf(request, state)
            let project = state.projects[request.project]
            guard let stageIndex = workflow.index(of: stageName) else {
                throw Refusal(.decisionStage, "the \(workflow.name) workflow has no stage \(stageName) (stages: \(workflow.stages.map(\.name).joined(separator: ", ")))")
            }
            let stage = workflow.stages[stageIndex]
            let current = workflow.index(of: request.stage) ?? 0
            guard stageIndex == current + 1 else {
                let next = current + 1 < workflow.stages.count ? workflow.stages[current + 1].name : "none"
                throw Refusal(.decisionStage, "request \(id) is at \(request.stage); decisions now are for \(next), not \(stageName)")
            }
            guard !stage.gate.approvals.isEmpty else {
                throw Refusal(.decisionStage, "stage \(stageName) is not entered by approvals; it needs \(stage.gate.isAction ? "an action by its actors" : "evidence")")
            }
            if !workflow.requesterMayDecide && actor == request.requester {
                throw Refusal(.separationRequester, "\(actor) filed \(id) and may not decide on it (separation of duties)")
            }
            let earlier = Set(stage.gate.notDecidersOf.map(\.value))
            if let previous = request.currentDecisions.first(where: { $0.by == actor && earlier.contains($0.stage) }) {
                throw Refusal(.separationEarlierStage, "\(actor) decided \(previous.stage) on \(id) and may not also decide \(stageName) (separation of duties)")
            }
            guard stage.gate.approvals.contains(where: { state.isMember(actor, of: $0.group.value) }) else {
                throw Refusal(.decisionGroup, "\(actor) is not in \(stage.gate.approvals.map(\.group.value).joined(separator: " or ")), who decide \(stageName)")
            }
            if stage.gate.reasonRequired && comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw Refusal(.decisionReason, "stage \(stageName) requires a reason for every decision (--comment or --reason)")
            }
            let signatureRequired = stage.gate.signaturesRequired || project?.regulated == true
            var fingerprint: String?
            var statementDigest: SHA256Digest?
            if let envelope {
                (fingerprint, statementDigest) = try verifyDecision(
                    envelope, request: request, stage: stageName, decision: decision, comment: comment, state: state, actor: actor, now: now)
            } else if signatureRequired {
                throw Refusal(.signatureRequired,
                    project?.regulated == true
                        ? "project \(request.project) is regulated: every decision must be signed with the approver's key (--key)"
                        : "stage \(stageName) requires signed decisions (--key)")
            }
            // After the signature checks, so that a replayed statement is named as a replay.
            if request.currentDecisions.contains(where: { $0.by == actor && $0.stage == stageName }) {
                throw Refusal(.decisionDuplicate, "\(actor) has already decided \(stageName) on \(id) for this revision")
            }
            let recorded = Event.decisionRecorded(.init(
                request: id, stage: stageName, decision: decision, comment: comment, revision: request.revision, bundleDigest: request.digest,
                envelope: envelope, keyFingerprint: fingerprint, statementDigest: statementDigest))
            if decision == .reject {
                return [recorded, .requestRejected(.init(request: id, stage: stageName, revision: request.revision))]
            }
            return try advancing(id, after: [recorded], state: state, actor: actor, now: now)

        case .revise(let id, let bundle, let digest):
            let request = try requireActive(state, id)
            guard actor == request.requester || state.principals[actor]?.isAdministrator == true else {
                throw Refusal(.requestOwner, "only the requester (\(request.requester)) or an administrator may revise \(id)")
            }
            guard digest != request.digest else { throw Refusal(.inputDigest, "\(id) already has bundle digest \(digest)") }
            return [.requestRevised(.init(request: id, bundle: bundle ?? request.bundle, digest: digest, revision: request.revision + 1))]

        case .withdraw(let id, let reason):
            let request = try requireActive(state, id)
            guard actor == request.requester || state.principals[actor]?.isAdministrator == true else {
                throw Refusal(.requestOwner, "only the requester (\(request.requester)) or an administrator may withdraw \(id)")
            }
            return [.requestWithdrawn(.init(request: id, reason: reason))]

        case .recordDeployment(let id, let outcome, let note):
            let request = try requireActive(state, id)
            let reasons = deployRefusals(request, environment: request.environment, digest: request.digest, state: state, actor: actor, now: now)
            if let first = reasons.first { throw first }
            return [.deploymentRecorded(.init(request: id, outcome: outcome, note: note, revision: request.revision))]

        case .recordRetrospective(let id, let comment):
            guard let request = state.requests[id] else { throw Refusal(.requestUnknown, "no request \(id)") }
            let workflow = try workflowOf(request, state)
            guard let retrospective = workflow.retrospective, let due = request.retrospectiveDue else {
                throw Refusal(.retrospectiveNone, "request \(id) needs no retrospective review")
            }
            guard !request.retrospectiveDone else { throw Refusal(.retrospectiveDone, "the retrospective of \(id) is already recorded") }
            guard state.isMember(actor, of: retrospective.group.value) else {
                throw Refusal(.retrospectiveGroup, "only members of \(retrospective.group.value) may record the retrospective")
            }
            guard actor != request.requester, !request.deployments.contains(where: { $0.by == actor }) else {
                throw Refusal(.separationRetrospective, "the retrospective must be done by someone other than the requester and the deployer")
            }
            guard !comment.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw Refusal(.retrospectiveReason, "a retrospective needs a comment saying what was reviewed")
            }
            return [.retrospectiveRecorded(.init(request: id, comment: comment, overdue: now > due))]
        }
    }

    static func workflowOf(_ request: DeploymentRequest, _ state: SignoffState) throws -> Workflow {
        guard let workflow = state.workflow(for: request)?.workflow else {
            throw Refusal(.internalError, "request \(request.id) pins workflow \(request.workflowDigest), which is not in the database")
        }
        return workflow
    }

    static func requireUnusedKey(_ state: SignoffState, _ key: NoteVerifierKey) throws {
        let fingerprint = key.publicKey.fingerprint
        if let owner = state.principals.values.first(where: { $0.keys.contains { $0.fingerprint == fingerprint } }) {
            throw Refusal(.keyDuplicate, "this key is already enrolled for \(owner.name); every person needs their own key")
        }
    }

    /// After `events`, enters every following stage whose gate now holds and that is entered automatically.
    static func advancing(_ id: String, after events: [Event], state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        // Only this request changes: fold the events into a copy of it, not into a copy of the whole state.
        guard var request = state.requests[id], let workflow = state.workflow(for: request)?.workflow else { return events }
        for event in events { request.apply(event, actor: actor, at: now, workflow: workflow) }
        var out = events
        while request.status == .active, let index = workflow.index(of: request.stage), index + 1 < workflow.stages.count {
            let stage = workflow.stages[index + 1]
            guard !stage.gate.isAction else { break }
            let status = Policy.evaluate(request, stage: stage, workflow: workflow, project: state.projects[request.project], state: state, now: now)
            guard status.isSatisfied else { break }
            let entered = Event.stageEntered(.init(request: id, stage: stage.name, revision: request.revision))
            request.apply(entered, actor: actor, at: now, workflow: workflow)
            out.append(entered)
        }
        return out
    }

    /// Everything that stops `actor` (or, with nil, anyone) from deploying `digest` of `request` to
    /// `environment` now. Empty means: go.
    public static func deployRefusals(
        _ request: DeploymentRequest, environment: String, digest: SHA256Digest, state: SignoffState, actor: String?, now: Int64
    ) -> [Refusal] {
        var reasons: [Refusal] = []
        guard request.status == .active else {
            return [Refusal(.requestClosed, "request \(request.id) is \(request.status.rawValue)")]
        }
        if environment != request.environment {
            reasons.append(Refusal(.gateEnvironment, "request \(request.id) is for \(request.environment), not \(environment)"))
        }
        if digest != request.digest {
            reasons.append(Refusal(.gateDigest, "request \(request.id) approves bundle \(request.digest), not \(digest)"))
        }
        guard let workflow = state.workflow(for: request)?.workflow else {
            return reasons + [Refusal(.internalError, "the workflow of \(request.id) is missing")]
        }
        let last = workflow.stages[workflow.stages.count - 1]
        let beforeLast = workflow.stages[workflow.stages.count - 2]
        if request.stage != beforeLast.name {
            reasons.append(Refusal(.gateStage, "request \(request.id) is at \(request.stage); it must reach \(beforeLast.name) before \(last.name)"))
        }
        // Approvals must still hold now: an expired approval no longer lets the bundle through.
        for stage in workflow.stages.dropFirst() where !stage.gate.approvals.isEmpty && stage.gate.expirySeconds != nil {
            guard request.history.contains(where: { $0.stage == stage.name && $0.revision == request.revision }) else { continue }
            let status = Policy.evaluate(request, stage: stage, workflow: workflow, project: state.projects[request.project], state: state, now: now)
            for condition in status.conditions where condition.rule == "approvals" && !condition.met {
                reasons.append(Refusal(.gateExpired, "the approvals of \(stage.name) have expired: \(condition.detail)"))
            }
        }
        let status = Policy.evaluate(request, stage: last, workflow: workflow, project: state.projects[request.project], state: state, now: now, actor: actor)
        for condition in status.conditions where !condition.met && (actor != nil || condition.rule != "actors") {
            reasons.append(Refusal(.gate(condition: condition.rule), condition.detail))
        }
        return reasons
    }

    // MARK: Signatures

    /// Checks a signed decision: signed by a key of `actor` enrolled and unrevoked now, over a statement that names
    /// exactly this request, bundle digest, stage, decision, revision and workflow, made recently, and never seen before.
    static func verifyDecision(
        _ envelope: DSSEEnvelope, request: DeploymentRequest, stage: String, decision: DecisionKind, comment: String, state: SignoffState,
        actor: String, now: Int64
    ) throws -> (String, SHA256Digest) {
        let key = try verifySigner(envelope, payloadType: DSSE.inTotoPayloadType, state: state, actor: actor, now: now)
        let statement: DecisionStatement
        do { statement = try JSONDecoder().decode(DecisionStatement.self, from: Data(envelope.payload)) } catch {
            throw Refusal(.signatureStatement, "the signed payload is not a Signoff decision statement")
        }
        let p = statement.predicate
        guard statement.type == DecisionStatement.statementType, statement.predicateType == DecisionStatement.predicateType else {
            throw Refusal(.signatureStatement, "the signed statement is not an in-toto Statement v1 with predicate \(DecisionStatement.predicateType)")
        }
        guard statement.subject.count == 1, statement.subject[0].digest["sha256"] == request.digest.hex else {
            throw Refusal(.signatureDigest, "the signature approves another bundle digest than \(request.id)'s \(request.digest)")
        }
        guard statement.subject[0].name == request.bundle else {
            throw Refusal(.signatureDigest, "the signature names bundle \(statement.subject[0].name), not \(request.bundle)")
        }
        guard p.request == request.id, p.project == request.project, p.environment == request.environment else {
            throw Refusal(.signatureRequest, "the signature is for \(p.request) (\(p.project), \(p.environment)), not \(request.id)")
        }
        guard p.approver == actor else {
            throw Refusal(.signatureApprover, "the signed statement names \(p.approver) as the approver, not \(actor)")
        }
        guard p.stage == stage, p.decision == decision else {
            throw Refusal(.signatureStage, "the signature decides \(p.decision.rawValue) at \(p.stage), not \(decision.rawValue) at \(stage)")
        }
        guard p.revision == request.revision, p.workflowDigest == request.workflowDigest.description else {
            throw Refusal(.signatureRevision, "the signature is for revision \(p.revision) under workflow \(p.workflowDigest); the request is at revision \(request.revision)")
        }
        guard p.comment == comment else { throw Refusal(.signatureStatement, "the comment differs from the signed comment") }
        let digest = try requireFreshAndUnused(envelope, signedTime: p.time, state: state, now: now)
        return (key.fingerprint, digest)
    }

    /// Regulated projects whose rules name `group`: as requesters or deployers, or in the workflows of their environments.
    static func regulatedProjects(relyingOn group: String, _ state: SignoffState) -> [String] {
        state.projects.values.filter { project in
            guard project.regulated else { return false }
            if project.requesters.contains(group) || project.deployers.values.contains(where: { $0.contains(group) }) { return true }
            return project.environments.values.contains { name in
                guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { return false }
                return workflow.groupReferences.contains { $0.value == group }
                    || workflow.stages.contains { $0.gate.evidence.contains { $0.attachedBy.contains { $0.value == group } } }
            }
        }.map(\.key).sorted()
    }

    /// An administrative change touching a regulated project must carry the acting administrator's signature over
    /// exactly this change, made recently and never used before.
    static func requireAdminApproval(_ envelope: DSSEEnvelope?, for command: Command, reason: String, state: SignoffState, actor: String, now: Int64) throws {
        guard let envelope else {
            throw Refusal(.adminSignatureRequired, "this change must be signed by an administrator's key (--key): \(reason)")
        }
        _ = try verifySigner(envelope, payloadType: AdminApproval.payloadType, state: state, actor: actor, now: now)
        guard let approval = try? JSONDecoder().decode(AdminApproval.self, from: Data(envelope.payload)), approval.change == command.adminChange else {
            throw Refusal(.adminSignature, "the administrator's signature is not over this exact change")
        }
        _ = try requireFreshAndUnused(envelope, signedTime: approval.time, state: state, now: now)
    }

    /// A signed statement counts only if made within the last 10 minutes (1 minute of clock skew allowed) and never
    /// used before. Returns its digest, which the ledger keeps to refuse replays.
    static func requireFreshAndUnused(_ envelope: DSSEEnvelope, signedTime: String, state: SignoffState, now: Int64) throws -> SHA256Digest {
        guard let time = Timestamps.milliseconds(rfc3339: signedTime) else { throw Refusal(.signatureStatement, "the signed time is not RFC 3339") }
        guard now - time <= DecisionStatement.maximumAgeMilliseconds, time - now <= DecisionStatement.maximumClockSkewMilliseconds else {
            throw Refusal(.signatureExpired, "the statement was signed at \(signedTime), outside the 10 minutes a signature stays fresh; sign again")
        }
        let digest = SHA256Digest.hash(envelope.payload)
        guard !state.usedStatements.contains(digest) else {
            throw Refusal(.signatureReplay, "this signed statement was already used; every decision or change needs a fresh signature")
        }
        return digest
    }

    /// The enrolled key of `actor` that signed `envelope`, valid now; otherwise a refusal naming what is wrong.
    static func verifySigner(_ envelope: DSSEEnvelope, payloadType: String, state: SignoffState, actor: String, now: Int64) throws -> EnrolledKey {
        guard envelope.payloadType == payloadType else {
            throw Refusal(.signatureInvalid, "the envelope's payloadType is \(envelope.payloadType), expected \(payloadType)")
        }
        guard let principal = state.principals[actor] else { throw Refusal(.inputUnknown, "no user \(actor)") }
        let message = envelope.signedBytes
        for signature in envelope.signatures {
            for key in principal.keys where key.fingerprint == signature.keyid {
                guard let publicKey = key.publicKey,
                    VerifiedSignature.current.contains(VerifiedSignature(fingerprint: key.fingerprint, message: message, signature: signature.sig))
                        || publicKey.isValidSignature(signature.sig, for: message)
                else { continue }
                guard key.isValid(at: now) else {
                    throw Refusal(.signatureRevokedKey, "the decision is signed with a key of \(actor) that was revoked")
                }
                return key
            }
        }
        for signature in envelope.signatures {
            if let other = state.principals.values.first(where: { $0.name != actor && $0.keys.contains { $0.fingerprint == signature.keyid } }) {
                throw Refusal(.signatureWrongKey, "the decision is signed with a key of \(other.name), not of \(actor)")
            }
        }
        if envelope.signatures.contains(where: { s in principal.keys.contains { $0.fingerprint == s.keyid } }) {
            throw Refusal(.signatureInvalid, "the signature does not verify: the signed bytes were changed")
        }
        throw Refusal(.signatureUnknownKey, "the decision is signed with a key that is not enrolled for \(actor)")
    }
}

/// A signature already verified with Ed25519, so that the expensive check can run before the write transaction.
public struct VerifiedSignature: Hashable, Sendable {
    public let fingerprint: String
    public let message: SHA256Digest
    public let signature: SHA256Digest

    public init(fingerprint: String, message: [UInt8], signature: [UInt8]) {
        self.fingerprint = fingerprint
        self.message = SHA256Digest.hash(message)
        self.signature = SHA256Digest.hash(signature)
    }

    @TaskLocal static var current: Set<VerifiedSignature> = []
}

extension Engine {
    /// Verifies the signatures a command carries against the actor's enrolled keys, without touching storage.
    /// Run it outside the database writer and pass the result to ``execute(_:on:actor:now:verified:)``.
    public static func preverify(_ command: Command, state: SignoffState, actor: String) -> Set<VerifiedSignature> {
        let envelope: DSSEEnvelope?
        switch command {
        case .decide(_, _, _, _, let e): envelope = e
        case .createProject(_, let e), .addMember(_, _, let e), .enrollKey(_, _, let e): envelope = e
        default: envelope = nil
        }
        guard let envelope, let principal = state.principals[actor] else { return [] }
        let message = envelope.signedBytes
        var out = Set<VerifiedSignature>()
        for signature in envelope.signatures {
            for key in principal.keys where key.fingerprint == signature.keyid {
                if key.publicKey?.isValidSignature(signature.sig, for: message) == true {
                    out.insert(VerifiedSignature(fingerprint: key.fingerprint, message: message, signature: signature.sig))
                }
            }
        }
        return out
    }
}
