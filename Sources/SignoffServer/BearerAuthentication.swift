import Hummingbird
import Logging
import Foundation
import Metrics
import Prometheus
import SignoffStore

/// Every route behind this middleware needs `Authorization: Bearer <token>`: a valid, unexpired, unrevoked token.
/// Missing or bad tokens get 401 with `WWW-Authenticate`; tokens are never logged.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let auth: AuthStore

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

/// One structured log line per request: request id, user, route, status, latency. Never headers or bodies.
struct AccessLog: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        metrics.record(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: Int(response.status.code), elapsed: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? request.uri.path),
                "status": .stringConvertible(response.status.code),
                "latency_ms": .string(String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)),
            ])
        return response
    }
}

/// Metrics of the API through swift-metrics, exported by a Prometheus factory over the server's registry:
/// requests by route, method and status class, and their latency.
struct ServerMetrics: Sendable {
    let factory: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2)]
        self.factory = factory
    }

    func record(route: String, method: String, status: Int, elapsed: Duration) {
        Counter(label: "signoff_http_requests_total", dimensions: [("route", route), ("method", method), ("status", "\(status / 100)xx")], factory: factory)
            .increment()
        let nanoseconds = Int64(elapsed.components.seconds) * 1_000_000_000 + Int64(elapsed.components.attoseconds / 1_000_000_000)
        Metrics.Timer(label: "signoff_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
            .recordNanoseconds(nanoseconds)
    }
}
