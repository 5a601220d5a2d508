import Hummingbird
import Logging
import SignoffCore
import SignoffService

/// Every route behind this middleware needs `Authorization: Bearer <token>`: a valid, unexpired, unrevoked token of
/// an enabled principal — and, for a session, obtained with a key that is still valid: revoking a key or disabling a
/// principal ends their sessions at the next request, whatever the token table says. Missing or bad tokens get 401
/// with `WWW-Authenticate`; tokens are never logged, only their IDs.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let auth: Authenticator
    let service: SignoffService

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
        }
        var context = context
        context.token = record
        context.identity.set(principal: record.principal, tokenID: record.id)
        context.logger[metadataKey: "user"] = .string(record.principal)
        context.logger[metadataKey: "token_id"] = .string(record.id)
        return try await next(request, context)
    }

    enum Check {
        case valid(TokenRecord)
        case unknown
        case principalDisabled(tokenID: String)
        case keyRevoked(tokenID: String)
    }

    /// Whether `token` authenticates now: known, unexpired, unrevoked, of an enabled principal and — for a session —
    /// obtained with a key that still counts. The one check for bearer tokens and the console's session cookie.
    static func check(token: String, auth: Authenticator, service: SignoffService) async throws -> Check {
        guard let record = try await auth.validate(token: token) else { return .unknown }
        // The directory as the database has it now (decoded again only when the ledger moved): revocations and disabling
        // also revoke the token rows in the same unit of work; this check covers a token row another path left behind.
        let state = try await service.directory()
        guard let principal = state.principals[record.principal], !principal.disabled else { return .principalDisabled(tokenID: record.id) }
        if let fingerprint = record.keyFingerprint, !principal.keys.contains(where: { $0.fingerprint == fingerprint && $0.counts(signedAt: service.now) }) {
            return .keyRevoked(tokenID: record.id)
        }
        return .valid(record)
    }
}
