import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus

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
