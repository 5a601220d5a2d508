public import SignoffCore
public import SignoffCrypto

/// A message to deliver: one notification for one subscription.
public struct OutboxMessage: Hashable, Sendable {
    /// `msg_` and 32 hex digits: the `webhook-id` header, the same on every attempt (receivers deduplicate by it).
    public let id: String
    public let subscription: String
    public let type: String
    /// The notification's canonical JSON (``Notification/json``).
    public let notification: [UInt8]
    public let createdAt: Int64

    public init(id: String, subscription: String, type: String, notification: [UInt8], createdAt: Int64) {
        self.id = id
        self.subscription = subscription
        self.type = type
        self.notification = notification
        self.createdAt = createdAt
    }

    /// A fresh message id.
    public static func newID() -> String { "msg_" + Hex.encode(SecureRandom.bytes(16)) }

    /// The messages of `notifications` for the subscriptions of `state` that receive them.
    public static func route(_ notifications: [Notification], state: SignoffState, now: Int64) -> [OutboxMessage] {
        let subscriptions = state.webhooks.values.filter(\.isActive).sorted { $0.id < $1.id }
        guard !subscriptions.isEmpty else { return [] }
        return notifications.flatMap { notification in
            subscriptions.filter { $0.receives(notification) }.map {
                OutboxMessage(id: newID(), subscription: $0.id, type: notification.type.rawValue, notification: notification.json, createdAt: now)
            }
        }
    }
}

/// A message's delivery as the outbox records it.
public struct DeliveryRecord: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable, CaseIterable { case pending, delivered, failed, disabled }
    public let message: OutboxMessage
    public let status: Status
    public let attempts: Int
    public let nextAttemptAt: Int64
    public let lastStatusCode: Int?
    public let lastError: String?
    public let deliveredAt: Int64?

    public init(message: OutboxMessage, status: Status, attempts: Int, nextAttemptAt: Int64, lastStatusCode: Int?, lastError: String?, deliveredAt: Int64?) {
        self.message = message
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.deliveredAt = deliveredAt
    }
}

/// One attempt to deliver a message.
public struct DeliveryAttempt: Hashable, Sendable {
    public let at: Int64
    public let statusCode: Int?
    public let error: String?
    public let durationMilliseconds: Int64

    public init(at: Int64, statusCode: Int?, error: String?, durationMilliseconds: Int64) {
        self.at = at
        self.statusCode = statusCode
        self.error = error
        self.durationMilliseconds = durationMilliseconds
    }
}

/// What an attempt decided for its message.
public enum DeliveryOutcome: Hashable, Sendable {
    case delivered
    /// Try again at this time.
    case retry(at: Int64)
    /// Retries are over (24 hours after the message was created).
    case failed
    /// The endpoint answered 410 Gone: it is disabled, with every pending message of its subscription.
    case disabled
}

/// The outbox and its delivery log. Messages of ledger events are inserted by ``ProjectionStore/commit(now:_:)``, in
/// the same transaction as the entries; the scheduler's (reminders) through ``enqueue(_:)``.
public protocol WebhookStore: Sendable {
    func enqueue(_ messages: [OutboxMessage]) async throws
    /// Pending messages due at `now` whose endpoint is not disabled, oldest first.
    func due(now: Int64, limit: Int) async throws -> [DeliveryRecord]
    /// When the next pending message is due, if any.
    func nextDue() async throws -> Int64?
    func record(_ attempt: DeliveryAttempt, of message: String, outcome: DeliveryOutcome) async throws
    /// Disables a subscription's endpoint (410 Gone); its pending messages are marked disabled.
    func disable(subscription: String, at: Int64, reason: String) async throws
    /// Enables it again; its disabled messages become pending, due now. False when it was not disabled.
    func enable(subscription: String, now: Int64) async throws -> Bool
    func disabledSubscriptions() async throws -> [String: String]
    /// Newest first.
    func deliveries(subscription: String?, status: DeliveryRecord.Status?, limit: Int) async throws -> [DeliveryRecord]
    func attempts(of message: String) async throws -> [DeliveryAttempt]
    /// One message's delivery, if there is such a message.
    func delivery(_ message: String) async throws -> DeliveryRecord?
    /// Queues a message again (whatever its status), due now; false when there is no such message.
    func redeliver(_ message: String, now: Int64) async throws -> Bool
    /// Records scheduled notifications as sent and queues their messages, in one transaction: `messages` is given the
    /// keys not sent before and returns what to queue for them, so that a crash neither loses a reminder (marked but
    /// not queued) nor sends one twice. Returns how many messages were queued.
    func enqueueOnce(_ keys: [String], at: Int64, messages: @escaping @Sendable (_ fresh: Set<String>) -> [OutboxMessage]) async throws -> Int
}
