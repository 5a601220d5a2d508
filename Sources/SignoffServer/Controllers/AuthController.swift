import Foundation
import Hummingbird
import Logging
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// Login (signed challenge), logout and service tokens.
struct AuthController {
    let handlers: Handlers

    /// The exact message a user signs to log in: domain-separated from every other signature Signoff uses.
    static func loginMessage(origin: String, user: String, challenge: String) -> [UInt8] {
        Array("signoff-login-v1\n\(origin)\n\(user)\n\(challenge)\n".utf8)
    }

    /// The two login endpoints, which need no token.
    var publicRoutes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.post("/auth/challenge") { request, context -> Response in
            let body = try await request.decode(as: ChallengeRequest.self, context: context)
            guard Engine.isValidName(body.user) else { throw Problem.badRequest("user must be a user name (1–63 lowercase letters, digits, '.', '_' or '-')") }
            let (nonce, expires) = try await h.auth.createChallenge(for: body.user)
            let challenge = Base64.encode(nonce)
            let message = String(decoding: Self.loginMessage(origin: h.ledger.origin, user: body.user, challenge: challenge), as: UTF8.self)
            return try h.json(ChallengeResponse(challenge: challenge, message: message, expires_at: Timestamps.rfc3339(expires)))
        }
        routes.post("/auth/token") { request, context -> Response in
            let body = try await request.decode(as: TokenRequest.self, context: context)
            guard let nonce = Base64.decodeStandard(body.challenge), let signature = Base64.decodeLenient(body.signature) else {
                throw Problem.badRequest("challenge and signature must be base64")
            }
            let failed = Problem.unauthorized("the challenge is unknown, used or expired, or the signature is not by a valid key of \(body.user)")
            guard try await h.auth.consumeChallenge(nonce, for: body.user) else { throw failed }
            let state = try await h.service.state()
            let now = h.service.now
            guard let person = state.principals[body.user], person.kind == .user else { throw failed }
            let message = Self.loginMessage(origin: h.ledger.origin, user: body.user, challenge: body.challenge)
            guard person.keys.contains(where: { $0.isValid(at: now) && ($0.publicKey?.isValidSignature(signature, for: message) ?? false) }) else {
                throw failed
            }
            let issued = try await h.auth.issueToken(
                for: body.user, kind: .session, scopes: [], lifetimeMilliseconds: h.configuration.sessionLifetimeMilliseconds)
            context.logger.info("login", metadata: ["user": .string(body.user), "token_id": .string(issued.record.id)])
            return try h.json(TokenResponse(token: issued.token, token_id: issued.record.id, expires_at: Timestamps.rfc3339(issued.record.expiresAt)))
        }
        return routes
    }

    /// Endpoints behind a token.
    var routes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.post("/auth/revoke") { _, context -> Response in
            if let id = context.token?.id { try await h.auth.revoke(tokenID: id) }
            return Response(status: .noContent)
        }
        routes.post("/service-tokens") { request, context -> Response in
            let body = try await request.decode(as: ServiceTokenRequest.self, context: context)
            let state = try await h.service.state()
            guard state.principals[try h.principal(context)]?.isAdministrator == true, context.token?.kind == .session else {
                throw Problem.forbidden("only an administrator, logged in, may create service tokens", rule: .adminRequired)
            }
            guard state.principals[body.service_account]?.kind == .serviceAccount else {
                throw Problem.notFound("no service account \(body.service_account)")
            }
            let actions = ["read", "request", "evidence", "deploy", "gate"]
            for scope in body.scopes {
                let parts = scope.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, actions.contains(parts[0]), parts[1] == "*" || state.projects[parts[1]] != nil else {
                    throw Problem.badRequest(
                        "scope \(scope) must be ACTION:PROJECT with ACTION one of \(actions.joined(separator: ", ")) and a known project (or *)")
                }
            }
            guard !body.scopes.isEmpty else { throw Problem.badRequest("a service token needs at least one scope") }
            let hours = min(max(body.ttl_hours ?? 24, 1), 24 * 90)
            let issued = try await h.auth.issueToken(
                for: body.service_account, kind: .service, scopes: body.scopes.sorted(), lifetimeMilliseconds: Int64(hours) * 3_600_000)
            return try h.json(TokenResponse(token: issued.token, token_id: issued.record.id, expires_at: Timestamps.rfc3339(issued.record.expiresAt)))
        }
        return routes
    }
}
