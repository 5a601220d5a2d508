internal import Foundation
public import SignoffCrypto

/// Requests: filing, evidence, revisions, withdrawal, deployments and retrospectives.
extension Engine {
    static func fileRequest(projectKey: String, environment: String, bundle: String, digest: SHA256Digest, description: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard let project = state.projects[projectKey] else { throw Refusal(.inputUnknown, "no project \(projectKey)") }
        guard let workflowName = project.environments[environment] else {
            throw Refusal(.projectEnvironment, "project \(projectKey) has no environment \(environment) (it has \(project.environments.keys.sorted().joined(separator: ", ")))")
        }
        guard state.matches(actor, any: project.requesters) else {
            throw Refusal(.projectRequesters, "\(actor) may not file requests for \(projectKey): only members of \(project.requesters.joined(separator: ", "))")
        }
        guard let workflowDigest = state.currentWorkflows[workflowName] else { throw Refusal(.projectInvalid, "workflow \(workflowName) is not applied") }
        let id = "REQ-\(state.requestCounter + 1)"
        return [.requestFiled(.init(
            id: id, project: projectKey, environment: environment, bundle: bundle, digest: digest, description: description,
            workflowDigest: workflowDigest))]
    }

    static func attachEvidence(id: String, kind: String, status: String, digest: SHA256Digest, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
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
    }

    static func revise(id: String, bundle: String?, digest: SHA256Digest, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        guard actor == request.requester || state.principals[actor]?.isAdministrator == true else {
            throw Refusal(.requestOwner, "only the requester (\(request.requester)) or an administrator may revise \(id)")
        }
        guard digest != request.digest else { throw Refusal(.inputDigest, "\(id) already has bundle digest \(digest)") }
        return [.requestRevised(.init(request: id, bundle: bundle ?? request.bundle, digest: digest, revision: request.revision + 1))]
    }

    static func withdraw(id: String, reason: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        guard actor == request.requester || state.principals[actor]?.isAdministrator == true else {
            throw Refusal(.requestOwner, "only the requester (\(request.requester)) or an administrator may withdraw \(id)")
        }
        return [.requestWithdrawn(.init(request: id, reason: reason))]
    }

    static func recordDeployment(id: String, outcome: Deployment.Outcome, note: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        let request = try requireActive(state, id)
        let reasons = deployRefusals(request, environment: request.environment, digest: request.digest, state: state, actor: actor, now: now)
        if let first = reasons.first { throw first }
        return [.deploymentRecorded(.init(request: id, outcome: outcome, note: note, revision: request.revision))]
    }

    static func recordRetrospective(id: String, comment: String, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
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
