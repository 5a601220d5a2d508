import Hummingbird
import SignoffCore
import SignoffService

/// What a service token may call: one row per operation of `schema/openapi.yaml`. A route with no row refuses every
/// service token (``ServiceTokenScopes``), and the authorization matrix test fails on an operation of the spec without a
/// row or a row without an operation — so a new endpoint cannot forget its scope rule.
struct APIOperation: Sendable, Hashable {
    /// What a service token needs for the operation. (A session's authority is the engine's and the handlers'.)
    enum ServiceTokens: Sendable, Hashable {
        /// No token at all: health, the spec, logging in.
        case noTokenNeeded
        /// Any token: what a principal asks about itself (whoami, its own logout) or what is public to every principal
        /// (the ledger's key and checkpoint).
        case anyToken
        /// A scope with this action, `ACTION:PROJECT` (or `ACTION:*`); the handler checks the project.
        case scope(String)
        /// Never a service token: administration, keys, tokens, delegations, webhooks, retrospectives — what a person
        /// does with their own session.
        case sessionOnly
    }

    let method: HTTPRequest.Method
    /// The path as `schema/openapi.yaml` and the router name it, e.g. `/v1/requests/{id}/gate`.
    let path: String
    let operationID: String
    let serviceTokens: ServiceTokens

    init(_ method: HTTPRequest.Method, _ path: String, _ operationID: String, _ serviceTokens: ServiceTokens) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.serviceTokens = serviceTokens
    }

    static let all: [APIOperation] = [
        .init(.get, "/healthz", "health", .noTokenNeeded),
        .init(.get, "/readyz", "ready", .noTokenNeeded),
        .init(.get, "/openapi.yaml", "spec", .noTokenNeeded),
        .init(.get, "/metrics", "metrics", .scope("metrics")),
        .init(.get, "/tlog/checkpoint", "tlogCheckpoint", .anyToken),
        .init(.get, "/tlog/tile/**", "tlogTile", .scope("read")),
        .init(.post, "/v1/auth/challenge", "authChallenge", .noTokenNeeded),
        .init(.post, "/v1/auth/token", "authToken", .noTokenNeeded),
        .init(.post, "/v1/auth/revoke", "authRevoke", .anyToken),
        .init(.get, "/v1/whoami", "whoami", .anyToken),
        .init(.post, "/v1/service-tokens", "createServiceToken", .sessionOnly),
        .init(.get, "/v1/tokens", "listTokens", .sessionOnly),
        .init(.post, "/v1/tokens/{id}/revoke", "revokeToken", .sessionOnly),
        .init(.get, "/v1/users", "listUsers", .sessionOnly),
        .init(.post, "/v1/users", "addUser", .sessionOnly),
        .init(.post, "/v1/users/{name}/keys", "enrollKey", .sessionOnly),
        .init(.put, "/v1/users/{name}/chat", "setChatHandles", .sessionOnly),
        .init(.get, "/v1/users/{name}/chat", "getChatHandles", .sessionOnly),
        .init(.post, "/v1/users/{name}/keys/{fingerprint}/revoke", "revokeKey", .sessionOnly),
        .init(.get, "/v1/principals/{name}", "showPrincipal", .sessionOnly),
        .init(.post, "/v1/principals/{name}/disable", "disablePrincipal", .sessionOnly),
        .init(.post, "/v1/principals/{name}/enable", "enablePrincipal", .sessionOnly),
        .init(.get, "/v1/service-accounts", "listServiceAccounts", .sessionOnly),
        .init(.post, "/v1/service-accounts", "addServiceAccount", .sessionOnly),
        .init(.get, "/v1/groups", "listGroups", .sessionOnly),
        .init(.post, "/v1/groups", "createGroup", .sessionOnly),
        .init(.get, "/v1/groups/{name}", "showGroup", .sessionOnly),
        .init(.post, "/v1/groups/{name}/members", "addMember", .sessionOnly),
        .init(.post, "/v1/groups/{name}/directory", "linkGroup", .sessionOnly),
        .init(.get, "/v1/directories", "listDirectories", .sessionOnly),
        .init(.post, "/v1/directories", "connectDirectory", .sessionOnly),
        .init(.post, "/v1/directories/{name}/disconnect", "disconnectDirectory", .sessionOnly),
        .init(.post, "/v1/groups/{name}/members/remove", "removeMember", .sessionOnly),
        .init(.get, "/v1/workflows", "listWorkflows", .sessionOnly),
        .init(.post, "/v1/workflows", "applyWorkflow", .sessionOnly),
        .init(.get, "/v1/projects", "listProjects", .sessionOnly),
        .init(.post, "/v1/projects", "createProject", .sessionOnly),
        .init(.get, "/v1/projects/{key}", "showProject", .sessionOnly),
        .init(.get, "/v1/projects/{key}/access-review", "accessReview", .sessionOnly),
        .init(.post, "/v1/projects/{key}", "updateProject", .sessionOnly),
        .init(.get, "/v1/freezes", "listFreezes", .scope("read")),
        .init(.post, "/v1/freezes", "addFreeze", .sessionOnly),
        .init(.post, "/v1/freezes/{id}/lift", "liftFreeze", .sessionOnly),
        .init(.post, "/v1/freezes/{id}/exemptions", "exemptFromFreeze", .sessionOnly),
        .init(.get, "/v1/issuers", "listIssuers", .sessionOnly),
        .init(.post, "/v1/issuers", "trustIssuer", .sessionOnly),
        .init(.post, "/v1/issuers/{name}/distrust", "distrustIssuer", .sessionOnly),
        .init(.get, "/v1/delegations", "listDelegations", .sessionOnly),
        .init(.post, "/v1/delegations", "delegate", .sessionOnly),
        .init(.post, "/v1/delegations/{id}/revoke", "revokeDelegation", .sessionOnly),
        .init(.post, "/v1/admin-quorum", "setAdminQuorum", .sessionOnly),
        .init(.get, "/v1/requests", "listRequests", .scope("read")),
        .init(.post, "/v1/requests", "fileRequest", .scope("request")),
        .init(.get, "/v1/requests/{id}", "getRequest", .scope("read")),
        .init(.get, "/v1/requests/{id}/explain", "explainRequest", .scope("read")),
        .init(.get, "/v1/requests/{id}/gate", "gate", .scope("gate")),
        .init(.get, "/v1/gate", "gateByDigest", .scope("gate")),
        .init(.get, "/v1/deployments", "inventory", .scope("read")),
        .init(.get, "/v1/inbox", "inbox", .scope("read")),
        .init(.post, "/v1/requests/{id}/evidence", "attachEvidence", .scope("evidence")),
        .init(.put, "/v1/requests/{id}/evidence-documents/{digest}", "uploadEvidenceDocument", .scope("evidence")),
        .init(.get, "/v1/requests/{id}/evidence-documents/{digest}", "getEvidenceDocument", .scope("read")),
        .init(.post, "/v1/requests/{id}/decisions", "decide", .sessionOnly),
        .init(.post, "/v1/requests/{id}/revisions", "reviseRequest", .scope("request")),
        .init(.post, "/v1/requests/{id}/withdraw", "withdrawRequest", .scope("request")),
        .init(.post, "/v1/requests/{id}/deployments", "recordDeployment", .scope("deploy")),
        .init(.post, "/v1/requests/{id}/deployments/start", "startDeployment", .scope("deploy")),
        .init(.post, "/v1/requests/{id}/deployments/finish", "finishDeployment", .scope("deploy")),
        .init(.post, "/v1/requests/{id}/retrospective", "recordRetrospective", .sessionOnly),
        .init(.get, "/v1/workflows/{name}", "showWorkflow", .scope("read")),
        .init(.get, "/v1/ledger-key", "ledgerKey", .anyToken),
        .init(.get, "/v1/audit/export", "auditExport", .scope("read")),
        .init(.get, "/v1/audit/health", "auditHealth", .scope("read")),
        .init(.get, "/v1/checkpoint", "checkpoint", .anyToken),
        .init(.get, "/v1/webhooks", "listWebhooks", .sessionOnly),
        .init(.post, "/v1/webhooks", "addWebhook", .sessionOnly),
        .init(.post, "/v1/webhooks/{id}/remove", "removeWebhook", .sessionOnly),
        .init(.post, "/v1/webhooks/{id}/enable", "enableWebhook", .sessionOnly),
        .init(.get, "/v1/webhooks/signing-key", "webhookSigningKey", .sessionOnly),
        .init(.get, "/v1/webhooks/deliveries", "listWebhookDeliveries", .sessionOnly),
        .init(.get, "/v1/webhooks/deliveries/{id}", "showWebhookDelivery", .sessionOnly),
        .init(.post, "/v1/webhooks/deliveries/{id}/redeliver", "redeliverWebhook", .sessionOnly),
    ]

    private static let byRoute: [String: APIOperation] = Dictionary(uniqueKeysWithValues: all.map { ("\($0.method.rawValue) \($0.path)", $0) })

    /// The operation of a routed request (`endpoint`: the router's path, with `{parameter}` placeholders). A HEAD is its
    /// GET without the body (the router answers HEAD on every GET route), and needs what the GET needs.
    static func find(method: HTTPRequest.Method, endpoint: String) -> APIOperation? {
        byRoute["\(method == .head ? HTTPRequest.Method.get.rawValue : method.rawValue) \(endpoint)"]
    }
}

/// Service tokens may only do what their scopes name, on every endpoint: after authentication, the routed operation's
/// row of ``APIOperation/all`` decides; an operation without a row refuses every service token (`token.scope`). The
/// handlers then check the project (`ACTION:PROJECT`).
struct ServiceTokenScopes: RouterMiddleware {
    typealias Context = SignoffRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = context.token, token.kind == .service else { return try await next(request, context) }
        let endpoint = context.endpointPath ?? request.uri.path
        guard let operation = APIOperation.find(method: request.method, endpoint: endpoint) else {
            throw Problem.forbidden("no service token may call \(request.method.rawValue) \(endpoint.prefix(100))", rule: .tokenScope)
        }
        switch operation.serviceTokens {
        case .noTokenNeeded, .anyToken:
            break
        case .sessionOnly:
            throw Problem.forbidden(
                "\(operation.operationID) is for a person's session, never a service token (log in with your key: `signoff login`)", rule: .tokenScope)
        case .scope(let action):
            guard token.scopes.contains(where: { $0.hasPrefix(action + ":") }) else {
                throw Problem.forbidden(
                    "this service token may not \(action) (its scopes: \(token.scopes.joined(separator: ", "))); \(operation.method.rawValue) \(operation.path) needs the scope \(action):PROJECT for the project it concerns (an administrator issues such a token with `signoff token create --service-account NAME --scope \(action):PROJECT --as ADMIN`, adding --key ADMIN.key where administrative changes are signed)",
                    rule: .tokenScope)
            }
        }
        return try await next(request, context)
    }
}
