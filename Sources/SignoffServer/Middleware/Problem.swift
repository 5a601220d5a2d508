public import Foundation
public import HTTPTypes
public import Hummingbird
public import SignoffCore
import Logging
import NIOHTTP1

/// An RFC 9457 problem details response. `detail` says what was wrong and what to do; internal and database
/// error text never reaches a client.
public struct Problem: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let type: String
    public let title: String
    public let detail: String
    /// The engine rule that refused, when there is one.
    public let rule: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, type: String, title: String, detail: String, rule: String? = nil) {
        self.status = status
        self.type = "https://signoff.dev/problems/" + type
        self.title = title
        self.detail = detail
        self.rule = rule
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var object: [String: Any] = ["type": type, "title": title, "status": Int(status.code), "detail": detail]
        if let rule { object["rule"] = rule }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func unauthorized(_ detail: String) -> Problem {
        var problem = Problem(.unauthorized, type: "unauthorized", title: "Authentication required", detail: detail)
        problem.headers[.wwwAuthenticate] = "Bearer realm=\"signoff\""
        return problem
    }

    public static func forbidden(_ detail: String, rule: RefusalRule? = nil) -> Problem {
        if let rule { return refused(rule, detail) }
        return Problem(.forbidden, type: "forbidden", title: "Not allowed", detail: detail)
    }

    public static func badRequest(_ detail: String) -> Problem {
        Problem(.badRequest, type: "bad-request", title: "Bad request", detail: detail)
    }

    /// 429 with `Retry-After`: a limit on challenges or failed logins was reached.
    public static func tooManyRequests(_ detail: String, retryAfter seconds: Int) -> Problem {
        var problem = Problem(.tooManyRequests, type: "too-many-requests", title: "Too many requests", detail: detail)
        problem.headers[.retryAfter] = String(seconds)
        return problem
    }

    /// 409 for what the caller must disambiguate (several requests match).
    public static func conflict(_ detail: String) -> Problem {
        Problem(.conflict, type: "conflict", title: "Ambiguous", detail: detail)
    }

    public static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, type: "not-found", title: "Not found", detail: detail)
    }

    /// The HTTP form of a refusal: the status comes from its rule's category (``RefusalRule/Category/httpStatus``).
    public static func refused(_ refusal: Refusal) -> Problem {
        refused(refusal.code, refusal.message)
    }

    public static func refused(_ rule: RefusalRule, _ detail: String) -> Problem {
        let title =
            switch rule.category {
            case .permission, .conflict, .gate: "Refused by policy"
            case .notFound: "Not found"
            case .invalidInput: "Invalid"
            case .signature: "Signature refused"
            case .internal: "Internal error"
            }
        return Problem(HTTPResponse.Status(code: rule.category.httpStatus), type: "refused", title: title, detail: detail, rule: rule.name)
    }
}

/// Turns every error into problem details, and never lets internal error text out.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Problem(error.status, type: "http", title: error.status.reasonPhrase, detail: error.body ?? error.status.reasonPhrase)
                .response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            // Framework errors with a status, e.g. a body over the size limit (413).
            let detail = error.status == .contentTooLarge ? "the request body is larger than 1 MiB" : error.status.reasonPhrase
            return try Problem(error.status, type: "http", title: error.status.reasonPhrase, detail: detail).response(from: request, context: context)
        } catch is HTTPParserError {
            // Malformed framing (e.g. `Transfer-Encoding: xchunked`) is the client's error, not the server's.
            return try Problem.badRequest("the request is not well-formed HTTP/1.1 (its framing cannot be read)").response(from: request, context: context)
        } catch let error as DecodingError {
            return try Problem.badRequest("the request body is not the JSON this operation takes: \(describe(error))").response(from: request, context: context)
        } catch {
            context.logger.error("internal error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return try Problem(.internalServerError, type: "internal", title: "Internal error", detail: "the server failed; the request id is \(context.id)")
                .response(from: request, context: context)
        }
    }

    func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let c), .valueNotFound(_, let c): "wrong type at \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\""
        case .dataCorrupted(let c): c.codingPath.isEmpty ? "invalid JSON" : "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        @unknown default: "invalid JSON"
        }
    }
}
