import Foundation
import Hummingbird
import Logging
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffIdentity
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
            let address = context.clientAddress ?? "unknown"
            if let wait = try await h.challengesPerAddress.retryAfter(address) {
                throw Problem.tooManyRequests("too many login challenges from this address; try again in \(wait) s", retryAfter: wait)
            }
            try await h.challengesPerAddress.record(address)
            // A name nobody has gets the same answer, but nothing is stored for it: challenges cannot fill the database.
            let known = try await h.service.state().principals[body.user]?.kind == .user
            let (nonce, expires) =
                known
                ? try await h.auth.createChallenge(for: body.user)
                : (SecureRandom.bytes(32), h.service.now + Authenticator.challengeLifetimeMilliseconds)
            let challenge = Base64.encode(nonce)
            let message = String(decoding: Self.loginMessage(origin: h.ledger.origin, user: body.user, challenge: challenge), as: UTF8.self)
            return try h.json(ChallengeResponse(challenge: challenge, message: message, expires_at: Timestamps.rfc3339(expires)))
        }
        routes.post("/auth/token") { request, context -> Response in
            let body = try await request.decode(as: TokenRequest.self, context: context)
            let issued = try await h.login(body, context: context)
            return try h.json(TokenResponse(token: issued.token, token_id: issued.record.id, expires_at: Timestamps.rfc3339(issued.record.expiresAt)))
        }
        return routes
    }

    /// Endpoints behind a token.
    var routes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.post("/auth/revoke") { _, context -> Response in
            if let pipeline = context.pipeline {
                throw Problem.badRequest(
                    "an ID token is not Signoff's to revoke: it ends at its expiry (\(Timestamps.rfc3339(pipeline.expiresAt))); to stop it sooner, distrust issuer \(pipeline.issuer.name) or disable the service account")
            }
            if let id = context.token?.id { try await h.auth.revoke(tokenID: id) }
            return Response(status: .noContent)
        }
        routes.post("/service-tokens") { request, context -> Response in
            let body = try await request.decode(as: ServiceTokenRequest.self, context: context)
            // A key login's session: a single sign-on session (no key behind it) does not mint the pipelines' secrets.
            guard let token = context.token, token.kind == .session, !token.isKeyless else {
                throw Problem.forbidden("service tokens are issued by an administrator logged in with their key, not by another service token", rule: .adminRequired)
            }
            // The scopes' rules are the engine's (one place); only their presence is checked here.
            guard !body.scopes.isEmpty else { throw Problem.badRequest("a service token needs at least one scope") }
            let hours = body.ttl_hours ?? 24
            guard (1...h.configuration.maximumServiceTokenHours).contains(hours) else {
                throw Problem.badRequest("ttl_hours must be 1 to \(h.configuration.maximumServiceTokenHours) (the server's maximum service-token lifetime), not \(hours)")
            }
            let scopes = body.scopes.sorted()
            // The ledger records the issue (signed by administrators where required) and the token is stored in the same
            // unit of work: both, or neither.
            let minted = h.auth.mint(for: body.service_account, kind: .service, scopes: scopes, lifetimeMilliseconds: Int64(hours) * 3_600_000)
            let command = Command.issueServiceToken(
                tokenID: minted.record.id, principal: body.service_account, scopes: scopes, lifetimeHours: hours, approval: body.approval)
            let id = minted.record.id
            _ = try await h.run(command, context, storing: minted) { _ in
                Handlers.secretShownOnce(
                    "service token \(id) was issued by the first call with this Idempotency-Key, and a token is shown once: revoke it (signoff token revoke \(id)) and issue another")
            }
            context.logger.info("service token issued", metadata: ["principal": .string(body.service_account), "issued_token_id": .string(minted.record.id)])
            return try h.json(TokenResponse(token: minted.token, token_id: minted.record.id, expires_at: Timestamps.rfc3339(minted.record.expiresAt)))
        }
        routes.get("/whoami") { _, context -> Response in
            guard let token = context.token else { throw Problem.unauthorized("this operation needs a bearer token") }
            return try h.json(WhoAmI(principal: token.principal, kind: token.kind.rawValue, scopes: token.scopes, expires_at: Timestamps.rfc3339(token.expiresAt)))
        }
        // Administrators see and revoke every token; everyone else their own.
        routes.get("/tokens") { _, context -> Response in
            let tokens = try await h.service.tokens(visibleTo: try h.principal(context), asAdministrator: context.token?.kind == .session)
            return try h.json(ItemList(tokens.map { TokenView($0) }))
        }
        // Another principal's token is an administrator's to revoke, as a recorded (in a regulated ledger, signed) change.
        routes.post("/tokens/{id}/revoke") { request, context -> Response in
            let id = try h.parameter("id", context)
            let body = try await request.decodeOptional(as: ApprovalBody.self, context: context)
            let outcome = try await h.service.revokeToken(
                id, by: try h.principal(context), asAdministrator: context.token?.kind == .session, approval: body?.approval)
            switch outcome {
            case nil: throw Problem.notFound("no token \(id) that you may revoke")
            case .failure(let refusal)?:
                h.metrics.refusal(refusal.rule)
                throw Problem.refused(refusal)
            case .success(let token)?:
                context.logger.info("token revoked", metadata: ["revoked_token_id": .string(id)])
                return try h.json(TokenView(token, revoked: true))
            }
        }
        return routes
    }
}

extension Handlers {
    /// A login: the signed challenge checked (single use, a valid key of an enabled user, failures limited per name and
    /// per address), then a session token. `POST /v1/auth/token` answers with the token; the console sets it as a cookie.
    func login(_ body: TokenRequest, context: SignoffRequestContext) async throws -> (token: String, record: TokenRecord) {
        let h = self
        guard let nonce = Base64.decodeStandard(body.challenge), let signature = Base64.decodeLenient(body.signature) else {
            throw Problem.badRequest("challenge and signature must be base64")
        }
        let failed = Problem.unauthorized("the challenge is unknown, used or expired, or the signature is not by a valid key of \(body.user)")
        let address = context.clientAddress ?? "unknown"
        // Failures count per name *from one address* (and per address): anyone can send bad signatures for a name, and
        // a limit per name alone would let them lock that person out; Ed25519 needs no protection from guessing.
        let nameFromAddress = body.user + "@" + address
        for (limiter, key) in [(h.failuresPerName, nameFromAddress), (h.failuresPerAddress, address)] {
            if let wait = try await limiter.retryAfter(key) {
                context.logger.notice("login refused", metadata: ["user": .string(body.user), "reason": "too many failed logins"])
                throw Problem.tooManyRequests("too many failed logins; try again in \(wait) s", retryAfter: wait)
            }
        }
        func failure(_ reason: String) async -> Problem {
            context.logger.notice("login failed", metadata: ["user": .string(body.user), "reason": .string(reason)])
            // A failure that cannot be counted is still a failure: the answer stays 401.
            try? await h.failuresPerName.record(nameFromAddress)
            try? await h.failuresPerAddress.record(address)
            return failed
        }
        guard try await h.auth.consumeChallenge(nonce, for: body.user) else { throw await failure("challenge unknown, used or expired") }
        let state = try await h.service.state()
        let now = h.service.now
        guard let person = state.principals[body.user], person.kind == .user else { throw await failure("no such user") }
        guard !person.disabled else { throw await failure("user disabled") }
        let message = AuthController.loginMessage(origin: h.ledger.origin, user: body.user, challenge: body.challenge)
        guard let key = person.keys.first(where: { $0.counts(signedAt: now) && ($0.publicKey?.isValidSignature(signature, for: message) ?? false) }) else {
            throw await failure("no valid key signed the challenge")
        }
        let issued = try await h.auth.issueToken(
            for: body.user, kind: .session, scopes: [], lifetimeMilliseconds: h.configuration.sessionLifetimeMilliseconds, keyFingerprint: key.fingerprint)
        context.logger.info("login", metadata: ["user": .string(body.user), "token_id": .string(issued.record.id)])
        return issued
    }
}
