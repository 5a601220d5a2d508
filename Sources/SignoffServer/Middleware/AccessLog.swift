import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus

/// One structured log line per request: request id, principal and token ID (never the token), route, status,
/// latency. Never headers or bodies.
struct AccessLog: RouterMiddleware {
    typealias Context = SignoffRequestContext
    let metrics: ServerMetrics
    /// Whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    let trustedProxies: [IPNetwork]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        context.clientAddress = ClientAddress.resolve(peer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor], trusted: trustedProxies)
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            log(request, context, status: (error as? any HTTPResponseError)?.status.code ?? 500, started: started)
            throw error
        }
        log(request, context, status: response.status.code, started: started)
        return response
    }

    private func log(_ request: Request, _ context: Context, status: Int, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        metrics.record(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status, elapsed: elapsed)
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? request.uri.path),
            "status": .stringConvertible(status),
            "latency_ms": .string(String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)),
        ]
        if let principal = context.identity.principal { metadata["principal"] = .string(principal) }
        if let tokenID = context.identity.tokenID { metadata["token_id"] = .string(tokenID) }
        if let address = context.clientAddress { metadata["remote_address"] = .string(address) }
        if context.clientAddress != context.remoteAddress, let peer = context.remoteAddress { metadata["proxy_address"] = .string(peer) }
        context.logger.info("request", metadata: metadata)
    }
}

