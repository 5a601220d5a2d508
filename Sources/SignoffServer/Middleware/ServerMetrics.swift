import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import SignoffCore
import SignoffService

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

/// Signoff's own metrics beyond HTTP counts. Counters are counted as things happen (refusals by rule, gate verdicts,
/// webhook deliveries); gauges and the time-to-approval histogram are computed from the state when scraped, so they
/// are right after a restart and never drift from the ledger.
struct SignoffMetrics: Sendable {
    let factory: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry) { factory = PrometheusMetricsFactory(registry: registry) }

    func refusal(_ rule: String) {
        Counter(label: "signoff_refusals_total", dimensions: [("rule", rule)], factory: factory).increment()
    }

    func gateVerdict(project: String, environment: String, allowed: Bool) {
        Counter(
            label: "signoff_gate_verdicts_total", dimensions: [("project", project), ("environment", environment), ("verdict", allowed ? "allowed" : "denied")],
            factory: factory
        ).increment()
    }

    /// A gate long poll turned away (429) because its caller or the server held as many as allowed.
    /// One run of the reminder scheduler, done (what a test waits on instead of a fixed sleep).
    func schedulerRan() {
        Counter(label: "signoff_scheduler_runs_total", factory: factory).increment()
    }

    func waiterRefused() {
        Counter(label: "signoff_gate_waiters_refused_total", factory: factory).increment()
    }

    func webhookDelivery(outcome: DeliveryOutcome, type: String) {
        let name: String
        switch outcome {
        case .delivered: name = "delivered"
        case .retry: name = "retry"
        case .failed: name = "failed"
        case .disabled: name = "disabled"
        }
        Counter(label: "signoff_webhook_deliveries_total", dimensions: [("outcome", name), ("type", type)], factory: factory).increment()
        if outcome != .delivered { Counter(label: "signoff_webhook_failures_total", dimensions: [("type", type)], factory: factory).increment() }
    }

    /// Buckets of the time from filing to approval (every approval given): an hour to a week.
    static let approvalBuckets: [Int64] = [300, 3_600, 4 * 3_600, 24 * 3_600, 3 * 86_400, 7 * 86_400]

    /// The gauges and the histogram, in the Prometheus text format. Names and labels are ours or validated names
    /// (projects, environments, stages: `a-z 0-9 . _ -`), so nothing needs escaping.
    static func stateText(_ state: SignoffState, now: Int64, ledgerSize: UInt64, checkpointSize: UInt64, oldestUncheckpointed: Int64?, pendingWebhooks: Int, gateWaiters: Int,
        witnesses: [WitnessStatus] = []) -> String {
        var open: [String: Int] = [:]
        var approvals: [String: [Int64]] = [:]
        for r in state.requests.values {
            if r.status == .active { open["project=\"\(r.project)\",environment=\"\(r.environment)\",stage=\"\(r.stage)\"", default: 0] += 1 }
            guard let workflow = state.workflow(for: r)?.workflow else { continue }
            let path = workflow.path(for: r)
            guard path.count >= 2, let approved = r.history.first(where: { $0.stage == path[path.count - 2].name && $0.revision == r.revision }) else { continue }
            approvals["project=\"\(r.project)\",environment=\"\(r.environment)\"", default: []].append(max(0, (approved.at - r.filedAt) / 1000))
        }
        var out = "# HELP signoff_requests_open Open (active) requests by project, environment and stage.\n# TYPE signoff_requests_open gauge\n"
        for key in open.keys.sorted() { out += "signoff_requests_open{\(key)} \(open[key]!)\n" }
        out += "# HELP signoff_time_to_approval_seconds From filing to the last approval (the request may deploy), per request revision approved.\n"
        out += "# TYPE signoff_time_to_approval_seconds histogram\n"
        for key in approvals.keys.sorted() {
            let values = approvals[key]!
            for bucket in approvalBuckets { out += "signoff_time_to_approval_seconds_bucket{\(key),le=\"\(bucket)\"} \(values.filter { $0 <= bucket }.count)\n" }
            out += "signoff_time_to_approval_seconds_bucket{\(key),le=\"+Inf\"} \(values.count)\n"
            out += "signoff_time_to_approval_seconds_sum{\(key)} \(values.reduce(0, +))\n"
            out += "signoff_time_to_approval_seconds_count{\(key)} \(values.count)\n"
        }
        out += "# HELP signoff_ledger_entries Entries in the ledger.\n# TYPE signoff_ledger_entries gauge\nsignoff_ledger_entries \(ledgerSize)\n"
        out += "# HELP signoff_checkpoint_size Entries covered by the newest signed checkpoint.\n# TYPE signoff_checkpoint_size gauge\nsignoff_checkpoint_size \(checkpointSize)\n"
        out += "# HELP signoff_checkpoint_age_seconds How long the oldest entry not covered by a signed checkpoint has waited (0: all covered).\n"
        out += "# TYPE signoff_checkpoint_age_seconds gauge\nsignoff_checkpoint_age_seconds \(oldestUncheckpointed.map { max(0, (now - $0) / 1000) } ?? 0)\n"
        out += "# HELP signoff_webhook_pending Webhook messages waiting to be delivered.\n# TYPE signoff_webhook_pending gauge\nsignoff_webhook_pending \(pendingWebhooks)\n"
        out += "# HELP signoff_gate_waiters Gate long polls this instance holds now (pipelines waiting on a decision).\n"
        out += "# TYPE signoff_gate_waiters gauge\nsignoff_gate_waiters \(gateWaiters)\n"
        if !witnesses.isEmpty {
            // A witness's name is the policy's (octets, no space): escaped as a label value.
            func label(_ name: String) -> String { name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
            out += "# HELP signoff_witness_cosigned_size The newest checkpoint size each witness cosigned (0: none yet).\n# TYPE signoff_witness_cosigned_size gauge\n"
            for w in witnesses { out += "signoff_witness_cosigned_size{witness=\"\(label(w.name))\"} \(w.cosignedSize ?? 0)\n" }
            out += "# HELP signoff_witness_alarm 1 when the witness refused a checkpoint as inconsistent with one it cosigned (a fork alarm).\n# TYPE signoff_witness_alarm gauge\n"
            for w in witnesses { out += "signoff_witness_alarm{witness=\"\(label(w.name))\"} \(w.alarm == nil ? 0 : 1)\n" }
        }
        return out
    }
}
