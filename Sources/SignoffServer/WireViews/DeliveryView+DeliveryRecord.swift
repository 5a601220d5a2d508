public import SignoffAPI
import SignoffCore
public import SignoffService

// Here, where both sides are: the wire contract (SignoffAPI) knows nothing of the webhook outbox. The CLI's local
// client uses it too.
extension DeliveryView {
    /// A message of the outbox as the delivery log shows it (`GET /v1/webhooks/deliveries`, `signoff webhook
    /// deliveries`), with every attempt when `log` is given (`signoff webhook show`).
    public init(_ r: DeliveryRecord, attempts log: [DeliveryAttempt]? = nil) {
        self.init(
            id: r.message.id, subscription: r.message.subscription, type: r.message.type, created_at: Timestamps.rfc3339(r.message.createdAt),
            status: r.status.rawValue, attempts: r.attempts, next_attempt_at: r.status == .pending ? Timestamps.rfc3339(r.nextAttemptAt) : nil,
            last_status_code: r.lastStatusCode, last_error: r.lastError, delivered_at: r.deliveredAt.map(Timestamps.rfc3339),
            summary: (try? SignoffCore.Notification(json: r.message.notification))?.summary ?? "",
            attempt_log: log?.map { Attempt(at: Timestamps.rfc3339($0.at), status_code: $0.statusCode, error: $0.error, duration_ms: $0.durationMilliseconds) })
    }
}
