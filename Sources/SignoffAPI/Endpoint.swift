public import SignoffCore
public import SignoffCrypto
internal import Foundation

/// Where each engine command goes on the wire: its method, path and body. The CLI's remote client sends commands
/// through this; the server decodes the same body types back into the same commands.
public struct Endpoint: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST", delete = "DELETE" }
    public let method: Method
    public let path: String
    public let body: (any Encodable & Sendable)?

    public init(_ method: Method, _ path: String, body: (any Encodable & Sendable)? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }

    /// The endpoint of `command`, or nil for the commands that have none (the first administrator is created by
    /// `signoff init` on the server's database; the server itself expires stale requests).
    public static func of(_ command: Command) -> Endpoint? {
        let p = WireCoding.pathSegment
        switch command {
        case .initializeLedger, .bootstrapAdministrator:
            return nil
        case .addUser(let name, let administrator, let key, let approval):
            return Endpoint(.post, "/v1/users", body: PrincipalBody(name: name, administrator: administrator, verifier_key: key?.description, approval: approval))
        case .addServiceAccount(let name, let key, let approval):
            return Endpoint(.post, "/v1/service-accounts", body: PrincipalBody(name: name, administrator: nil, verifier_key: key?.description, approval: approval))
        case .enrollOwnKey(let key, let proof):
            guard let principal = (try? JSONDecoder().decode(KeyEnrolmentStatement.self, from: Data(proof.payload)))?.principal else { return nil }
            return Endpoint(.post, "/v1/users/\(p(principal))/keys", body: KeyBody(verifier_key: key.description, approval: nil, proof: proof))
        case .enrollKey(let principal, let key, let approval):
            return Endpoint(.post, "/v1/users/\(p(principal))/keys", body: KeyBody(verifier_key: key.description, approval: approval))
        case .revokeKey(let principal, let fingerprint, let since, let approval):
            return Endpoint(
                .post, "/v1/users/\(p(principal))/keys/\(p(fingerprint))/revoke",
                body: RevokeKeyBody(compromised_since: since.map(Timestamps.rfc3339), approval: approval))
        case .createGroup(let name, let approval):
            return Endpoint(.post, "/v1/groups", body: GroupBody(name: name, approval: approval))
        case .addMember(let group, let member, let approval):
            return Endpoint(.post, "/v1/groups/\(p(group))/members", body: MemberBody(member: member, approval: approval))
        case .removeMember(let group, let member, let approval):
            return Endpoint(.post, "/v1/groups/\(p(group))/members/remove", body: MemberBody(member: member, approval: approval))
        case .applyWorkflow(let source, let file, let approval):
            return Endpoint(.post, "/v1/workflows", body: WorkflowBody(file: file, source: source, approval: approval))
        case .createProject(let spec, let approval):
            return Endpoint(.post, "/v1/projects", body: ProjectBody(spec, approval: approval))
        case .updateProject(let spec, let approval):
            return Endpoint(.post, "/v1/projects/\(p(spec.key))", body: ProjectBody(spec, approval: approval))
        case .disablePrincipal(let name, let approval):
            return Endpoint(.post, "/v1/principals/\(p(name))/disable", body: ApprovalBody(approval: approval))
        case .enablePrincipal(let name, let approval):
            return Endpoint(.post, "/v1/principals/\(p(name))/enable", body: ApprovalBody(approval: approval))
        case .setAdminQuorum(let quorum, let approval):
            return Endpoint(.post, "/v1/admin-quorum", body: QuorumBody(quorum: quorum, approval: approval))
        case .issueServiceToken(_, let principal, let scopes, let hours, let approval):
            return Endpoint(.post, "/v1/service-tokens", body: ServiceTokenRequest(service_account: principal, scopes: scopes, ttl_hours: hours, approval: approval))
        case .addFreeze(let f, let approval):
            return Endpoint(
                .post, "/v1/freezes",
                body: FreezeBody(
                    environment: f.environment, project: f.project, from: Timestamps.rfc3339(f.from), until: Timestamps.rfc3339(f.until), reason: f.reason,
                    approval: approval))
        case .addWebhook(let w, let approval):
            return Endpoint(.post, "/v1/webhooks", body: WebhookBody(url: w.url, project: w.project, events: w.events, format: w.format, allow_private: w.allowPrivate ? true : nil, approval: approval))
        case .removeWebhook(let id, let approval):
            return Endpoint(.post, "/v1/webhooks/\(p(id))/remove", body: ApprovalBody(approval: approval))
        case .trustIssuer(let spec, let approval):
            return Endpoint(.post, "/v1/issuers", body: IssuerBody(issuer: spec, approval: approval))
        case .distrustIssuer(let name, let approval):
            return Endpoint(.post, "/v1/issuers/\(p(name))/distrust", body: ApprovalBody(approval: approval))
        case .connectDirectory(let name, _, let approval):
            return Endpoint(.post, "/v1/directories", body: DirectoryBody(name: name, approval: approval))
        case .disconnectDirectory(let name, let approval):
            return Endpoint(.post, "/v1/directories/\(p(name))/disconnect", body: ApprovalBody(approval: approval))
        case .linkGroup(let group, let directory, let approval):
            return Endpoint(.post, "/v1/groups/\(p(group))/directory", body: GroupLinkBody(directory: directory, approval: approval))
        case .directoryChange:
            return nil
        case .exemptFromFreeze(let id, let request, let reason, let approval):
            return Endpoint(.post, "/v1/freezes/\(p(id))/exemptions", body: FreezeExemptionBody(request: request, reason: reason, approval: approval))
        case .liftFreeze(let id, let approval):
            return Endpoint(.post, "/v1/freezes/\(p(id))/lift", body: ApprovalBody(approval: approval))
        case .delegate(let d, let envelope):
            return Endpoint(
                .post, "/v1/delegations",
                body: DelegationBody(
                    delegate: d.delegate, from: Timestamps.rfc3339(d.start), until: Timestamps.rfc3339(d.end), project: d.project, role: d.role,
                    envelope: envelope))
        case .revokeDelegation(let id, let approval):
            return Endpoint(.post, "/v1/delegations/\(p(id))/revoke", body: ApprovalBody(approval: approval))
        case .revokeToken(let id, _, let approval):
            return Endpoint(.post, "/v1/tokens/\(p(id))/revoke", body: ApprovalBody(approval: approval))
        case .expireStale:
            return nil
        case .fileRequest(let project, let environment, let bundle, let digest, let description, let labels, let reason, let source):
            return Endpoint(
                .post, "/v1/requests",
                body: FileRequestBody(
                    project: project, environment: environment, bundle: bundle, digest: digest.description, description: description,
                    labels: labels.isEmpty ? nil : labels, emergency_reason: reason, source: source))
        case .attachEvidence(let id, let kind, let status, let digest, let tests, let labels, let source):
            return Endpoint(
                .post, "/v1/requests/\(p(id))/evidence",
                body: EvidenceBody(kind: kind, status: status, digest: digest.description, tests: tests, labels: labels.isEmpty ? nil : labels, source: source))
        case .decide(let id, let stage, let decision, let comment, let envelope, let onBehalfOf):
            return Endpoint(
                .post, "/v1/requests/\(p(id))/decisions",
                body: DecisionBody(stage: stage, decision: decision, comment: comment, envelope: envelope, on_behalf_of: onBehalfOf))
        case .revise(let id, let bundle, let digest, let source):
            return Endpoint(.post, "/v1/requests/\(p(id))/revisions", body: RevisionBody(digest: digest.description, bundle: bundle, source: source))
        case .withdraw(let id, let reason, let approval):
            return Endpoint(.post, "/v1/requests/\(p(id))/withdraw", body: WithdrawBody(reason: reason, approval: approval))
        case .recordDeployment(let id, let outcome, let note):
            return Endpoint(.post, "/v1/requests/\(p(id))/deployments", body: DeploymentBody(outcome: outcome, note: note))
        case .startDeployment(let id, let note):
            return Endpoint(.post, "/v1/requests/\(p(id))/deployments/start", body: DeploymentStartBody(note: note))
        case .finishDeployment(let id, let outcome, let note):
            return Endpoint(.post, "/v1/requests/\(p(id))/deployments/finish", body: DeploymentBody(outcome: outcome, note: note))
        case .recordRetrospective(let id, let comment, let envelope):
            return Endpoint(.post, "/v1/requests/\(p(id))/retrospective", body: RetrospectiveBody(comment: comment, envelope: envelope))
        }
    }
}
