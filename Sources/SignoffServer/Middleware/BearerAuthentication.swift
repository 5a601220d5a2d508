import Hummingbird
import Logging
import SignoffService

/// Every route behind this middleware needs `Authorization: Bearer <token>`: a valid, unexpired, unrevoked token.
/// Missing or bad tokens get 401 with `WWW-Authenticate`; tokens are never logged.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let auth: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("this operation needs a bearer token: log in with `signoff login` (POST /v1/auth/challenge, then /v1/auth/token)")
        }
        guard header.hasPrefix("Bearer "), header.count > 7 else { throw Problem.unauthorized("the Authorization header must be \"Bearer <token>\"") }
        guard let record = try await auth.validate(token: String(header.dropFirst(7))) else {
            throw Problem.unauthorized("the token is unknown, expired or revoked; log in again")
        }
        var context = context
        context.token = record
        context.logger[metadataKey: "user"] = .string(record.principal)
        context.logger[metadataKey: "token_id"] = .string(record.id)
        return try await next(request, context)
    }
}
