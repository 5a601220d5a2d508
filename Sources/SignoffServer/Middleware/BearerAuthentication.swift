import Hummingbird
import Logging
import SignoffCore
import SignoffCrypto
import SignoffIdentity
import SignoffService

/// Every route behind this middleware needs `Authorization: Bearer <token>`: a valid, unexpired, unrevoked token of
/// an enabled principal — and, for a session, obtained with a key that is still valid: revoking a key or disabling a
/// principal ends their sessions at the next request, whatever the token table says. Missing or bad tokens get 401
/// with `WWW-Authenticate`; tokens are never logged, only their IDs.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let auth: Authenticator
    let service: SignoffService
    /// Verifies a pipeline's own OpenID Connect ID token, presented as the bearer token instead of a stored service token.
    let identity: IDTokenVerifier

    /// The console's origin check and CSRF token (``ConsoleController``) for requests a session cookie authenticates.
    let configuration: ServerConfiguration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token: String
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer "), header.count > 7 else { throw Problem.unauthorized("the Authorization header must be \"Bearer <token>\"") }
            token = String(header.dropFirst(7))
        } else if let cookie = ConsoleController.sessionCookie(from: request) {
            // The console calls the API with its session cookie. A cookie is sent by the browser on its own, so anything
            // that changes state must also come from this origin and carry the page's CSRF token (SameSite=Strict is the
            // third lock).
            if request.method != .get && request.method != .head {
                if let origin = request.headers[.origin], !configuration.isAcceptedOrigin(origin) {
                    throw Problem.forbidden("this request comes from another origin (\(origin.prefix(100)))")
                }
                guard request.headers[.xCSRFToken] == ConsoleController.csrfToken(forSession: cookie) else {
                    throw Problem.forbidden("this request lacks the page's CSRF token; reload the page and try again")
                }
            }
            token = cookie
        } else {
            throw Problem.unauthorized("this operation needs a bearer token: log in with `signoff login` (POST /v1/auth/challenge, then /v1/auth/token)")
        }
        if request.headers[.authorization] != nil, Self.looksLikeJWT(token) {
            return try await pipeline(token, request: request, context: context, next: next)
        }
        let record: TokenRecord
        switch try await Self.check(token: token, auth: auth, service: service) {
        case .valid(let valid): record = valid
        case .unknown: throw Problem.unauthorized("the token is unknown, expired or revoked; log in again")
        case .principalDisabled(let id):
            context.logger.notice("token refused", metadata: ["token_id": .string(id), "reason": "principal disabled or unknown"])
            throw Problem.unauthorized("the token's user is disabled; ask an administrator")
        case .keyRevoked(let id):
            context.logger.notice("token refused", metadata: ["token_id": .string(id), "reason": "its key was revoked"])
            throw Problem.unauthorized("the key this session was obtained with has been revoked; log in with a valid key")
        case .issuerDistrusted(let id):
            context.logger.notice("token refused", metadata: ["token_id": .string(id), "reason": "its single sign-on issuer is no longer trusted"])
            throw Problem.unauthorized("the identity provider this session signed in with is no longer trusted; log in again")
        }
        var context = context
        context.token = record
        context.identity.set(principal: record.principal, tokenID: record.id)
        context.logger[metadataKey: "user"] = .string(record.principal)
        context.logger[metadataKey: "token_id"] = .string(record.id)
        return try await next(request, context)
    }

    /// Signoff's own tokens start `so_`; a JWT is three base64url parts, its header a JSON object (`eyJ`).
    static func looksLikeJWT(_ token: String) -> Bool {
        token.hasPrefix("eyJ") && token.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    /// A CI job's ID token: verified against the issuers trusted for pipelines, its claims matched to a rule, which
    /// names the service account and the scopes it acts with until the token expires. Nothing is stored; the claims ride
    /// with the request (a filing or evidence records them as the bundle's verified source).
    func pipeline(_ token: String, request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let state = try await service.directory()
        let id = "oidc-" + Hex.encode(SHA256Digest.hash(Array(token.utf8)).bytes.prefix(8))
        func refuse(_ reason: String) -> Problem {
            context.logger.notice("ID token refused", metadata: ["token_id": .string(id), "reason": .string(reason)])
            return Problem.unauthorized("the ID token is not accepted: \(reason)")
        }
        let verified: VerifiedIDToken
        do {
            verified = try await identity.verify(token, use: .pipelines, issuers: state.issuers.values.map(\.spec))
        } catch {
            throw refuse(String(describing: error))
        }
        let rule: PipelineRule
        switch verified.issuer.pipelineRule(for: verified.claims) {
        case .failure(let refusal): throw refuse(refusal.description)
        case .success(let matched): rule = matched
        }
        guard let account = state.principals[rule.serviceAccount], account.kind == .serviceAccount, !account.disabled else {
            throw refuse("the rule's service account \(rule.serviceAccount) is disabled or gone")
        }
        var context = context
        context.token = TokenRecord(id: id, principal: rule.serviceAccount, kind: .service, scopes: rule.scopes, expiresAt: verified.expiresAt)
        context.pipeline = verified
        context.identity.set(principal: rule.serviceAccount, tokenID: id)
        context.logger[metadataKey: "user"] = .string(rule.serviceAccount)
        context.logger[metadataKey: "token_id"] = .string(id)
        context.logger[metadataKey: "issuer"] = .string(verified.issuer.name)
        return try await next(request, context)
    }

    enum Check {
        case valid(TokenRecord)
        case unknown
        case principalDisabled(tokenID: String)
        case keyRevoked(tokenID: String)
        case issuerDistrusted(tokenID: String)
    }

    /// Whether `token` authenticates now: known, unexpired, unrevoked, of an enabled principal and — for a session —
    /// obtained with a key that still counts. The one check for bearer tokens and the console's session cookie.
    static func check(token: String, auth: Authenticator, service: SignoffService) async throws -> Check {
        guard let record = try await auth.validate(token: token) else { return .unknown }
        // The directory as the database has it now (decoded again only when the ledger moved): revocations and disabling
        // also revoke the token rows in the same unit of work; this check covers a token row another path left behind.
        let state = try await service.directory()
        guard let principal = state.principals[record.principal], !principal.disabled else { return .principalDisabled(tokenID: record.id) }
        if let sso = record.singleSignOn {
            // A single sign-on session lasts while the trust it signed in under holds: its issuer trusted to sign people in
            // by the very `issuer.trusted` entry of then. Distrusted, and trusted again under the same name (the same
            // provider or another), it stays ended: sessions made while a provider was compromised do not come back. A row
            // that names no trust (written before it did) is refused: log in again.
            guard let trusted = state.issuers[sso.issuer], trusted.spec.uses.contains(.people), sso.trustedAt == trusted.trustedAt else {
                return .issuerDistrusted(tokenID: record.id)
            }
        } else if let fingerprint = record.keyFingerprint, !principal.keys.contains(where: { $0.fingerprint == fingerprint && $0.counts(signedAt: service.now) }) {
            return .keyRevoked(tokenID: record.id)
        }
        return .valid(record)
    }
}
