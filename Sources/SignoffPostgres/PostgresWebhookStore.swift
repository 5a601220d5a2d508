internal import Foundation
internal import PostgresNIO
public import SignoffService

/// The webhook outbox and its delivery log in PostgreSQL (tables `webhook_message`, `webhook_attempt`,
/// `webhook_endpoint`, `notification_sent`), shared by every instance: ``due(now:limit:)`` claims the messages it
/// returns (`FOR UPDATE SKIP LOCKED`, then a lease), so that two instances never attempt one message at once.
public struct PostgresWebhookStore: WebhookStore {
    let database: PGDatabase

    /// How long a claimed message is left to the instance that claimed it before another may attempt it (the instance
    /// records its attempt long before: the delivery's own timeout is far shorter).
    static let claimLeaseMilliseconds: Int64 = 300_000

    static func insert(_ messages: [OutboxMessage], _ session: PGSession) throws {
        for m in messages {
            try session.execute(
                """
                INSERT INTO webhook_message (id, subscription, type, notification, created_ms, status, attempts, next_attempt_ms)
                VALUES ($1, $2, $3, $4, $5, 'pending', 0, $5)
                """,
                [.text(m.id), .text(m.subscription), .text(m.type), .text(String(decoding: m.notification, as: UTF8.self)), .int(m.createdAt)])
        }
    }

    public func enqueue(_ messages: [OutboxMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await database.run { session in try Self.insert(messages, session) }
    }

    static let columns = "id, subscription, type, notification, created_ms, status, attempts, next_attempt_ms, last_status, last_error, delivered_ms"

    static func record(_ row: PostgresRow) throws -> DeliveryRecord {
        let (id, subscription, type, notification, created, status, attempts, next, lastStatus, lastError, delivered) = try row.decode(
            (String, String, String, String, Int64, String, Int32, Int64, Int32?, String?, Int64?).self)
        return DeliveryRecord(
            message: OutboxMessage(id: id, subscription: subscription, type: type, notification: Array(notification.utf8), createdAt: created),
            status: DeliveryRecord.Status(rawValue: status) ?? .failed, attempts: Int(attempts), nextAttemptAt: next, lastStatusCode: lastStatus.map(Int.init),
            lastError: lastError, deliveredAt: delivered)
    }

    public func due(now: Int64, limit: Int) async throws -> [DeliveryRecord] {
        try await database.run { session in
            // Claimed in one statement: rows another instance is claiming are skipped, and the claimed ones are not due
            // again until their lease ends. The records keep the attempt time they were due at.
            try session.query(
                """
                WITH due AS (
                    SELECT id, next_attempt_ms FROM webhook_message
                    WHERE status = 'pending' AND next_attempt_ms <= $1
                      AND subscription NOT IN (SELECT subscription FROM webhook_endpoint)
                    ORDER BY next_attempt_ms, created_ms LIMIT $2 FOR UPDATE SKIP LOCKED
                )
                UPDATE webhook_message m SET next_attempt_ms = $1 + $3 FROM due WHERE m.id = due.id
                RETURNING m.id, m.subscription, m.type, m.notification, m.created_ms, m.status, m.attempts, due.next_attempt_ms, m.last_status,
                  m.last_error, m.delivered_ms
                """, [.int(now), .int(Int64(limit)), .int(Self.claimLeaseMilliseconds)]
            ).rows.map(Self.record).sorted { ($0.nextAttemptAt, $0.message.createdAt) < ($1.nextAttemptAt, $1.message.createdAt) }
        }
    }

    public func nextDue() async throws -> Int64? {
        try await database.run { session in
            try session.scalar(
                Int64.self,
                "SELECT MIN(next_attempt_ms) FROM webhook_message WHERE status = 'pending' AND subscription NOT IN (SELECT subscription FROM webhook_endpoint)")
        }
    }

    public func record(_ attempt: DeliveryAttempt, of message: String, outcome: DeliveryOutcome) async throws {
        try await database.transaction { session in
            try session.execute(
                "INSERT INTO webhook_attempt (message, at_ms, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
                [.text(message), .int(attempt.at), .optional(attempt.statusCode.map(Int64.init)), .optional(attempt.error), .int(attempt.durationMilliseconds)])
            let (status, next, delivered): (String, Int64?, Int64?) =
                switch outcome {
                case .delivered: ("delivered", nil, attempt.at)
                case .retry(let at): ("pending", at, nil)
                case .failed: ("failed", nil, nil)
                case .disabled: ("disabled", nil, nil)
                }
            try session.execute(
                """
                UPDATE webhook_message SET status = $1, attempts = attempts + 1, next_attempt_ms = COALESCE($2, next_attempt_ms),
                  last_status = $3, last_error = $4, delivered_ms = COALESCE($5, delivered_ms) WHERE id = $6
                """,
                [.text(status), .optional(next), .optional(attempt.statusCode.map(Int64.init)), .optional(attempt.error), .optional(delivered), .text(message)])
        }
    }

    public func disable(subscription: String, at: Int64, reason: String) async throws {
        try await database.transaction { session in
            try session.execute(
                "INSERT INTO webhook_endpoint (subscription, disabled_ms, reason) VALUES ($1, $2, $3) ON CONFLICT (subscription) DO NOTHING",
                [.text(subscription), .int(at), .text(reason)])
            try session.execute("UPDATE webhook_message SET status = 'disabled' WHERE subscription = $1 AND status = 'pending'", [.text(subscription)])
        }
    }

    public func enable(subscription: String, now: Int64) async throws -> Bool {
        try await database.transaction { session in
            guard try session.execute("DELETE FROM webhook_endpoint WHERE subscription = $1", [.text(subscription)]) == 1 else {
                return false
            }
            try session.execute(
                "UPDATE webhook_message SET status = 'pending', next_attempt_ms = $1 WHERE subscription = $2 AND status = 'disabled'",
                [.int(now), .text(subscription)])
            return true
        }
    }

    public func disabledSubscriptions() async throws -> [String: String] {
        try await database.run { session in
            Dictionary(uniqueKeysWithValues: try session.query("SELECT subscription, reason FROM webhook_endpoint").rows.map { try $0.decode((String, String).self) })
        }
    }

    public func deliveries(subscription: String?, status: DeliveryRecord.Status?, limit: Int) async throws -> [DeliveryRecord] {
        try await database.run { session in
            try session.query(
                """
                SELECT \(Self.columns) FROM webhook_message
                WHERE ($1::text IS NULL OR subscription = $1) AND ($2::text IS NULL OR status = $2)
                ORDER BY created_ms DESC, id LIMIT $3
                """, [.optional(subscription), .optional(status?.rawValue), .int(Int64(limit))]
            ).rows.map(Self.record)
        }
    }

    public func attempts(of message: String) async throws -> [DeliveryAttempt] {
        try await database.run { session in
            try session.query("SELECT at_ms, status_code, error, duration_ms FROM webhook_attempt WHERE message = $1 ORDER BY at_ms", [.text(message)]).rows.map {
                let (at, status, error, duration) = try $0.decode((Int64, Int32?, String?, Int64).self)
                return DeliveryAttempt(at: at, statusCode: status.map(Int.init), error: error, durationMilliseconds: duration)
            }
        }
    }

    public func delivery(_ message: String) async throws -> DeliveryRecord? {
        try await database.run { session in
            try session.query("SELECT \(Self.columns) FROM webhook_message WHERE id = $1", [.text(message)]).rows.first.map(Self.record)
        }
    }

    public func redeliver(_ message: String, now: Int64) async throws -> Bool {
        try await database.run { session in
            try session.execute("UPDATE webhook_message SET status = 'pending', next_attempt_ms = $1 WHERE id = $2", [.int(now), .text(message)]) == 1
        }
    }

    public func enqueueOnce(_ keys: [String], at: Int64, messages: @escaping @Sendable (_ fresh: Set<String>) -> [OutboxMessage]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await database.transaction { session in
            var fresh = Set<String>()
            for key in keys where try session.execute(
                "INSERT INTO notification_sent (key, at_ms) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [.text(key), .int(at)]) == 1 {
                fresh.insert(key)
            }
            let queued = messages(fresh)
            try Self.insert(queued, session)
            return queued.count
        }
    }
}
