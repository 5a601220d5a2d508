import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus

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

