internal import Foundation
internal import GRDB
public import SignoffService

/// The webhook outbox and its delivery log in the ledger's SQLite file (tables `webhook_message`, `webhook_attempt`,
/// `webhook_endpoint`, `notification_sent`).
public struct SQLiteWebhookStore: WebhookStore {
    let ledger: SQLiteLedgerStore

    init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    /// Inserts `messages` in the caller's transaction (the projection's commit: the outbox).
    static func insert(_ messages: [OutboxMessage], in db: Database) throws {
        for m in messages {
            try db.execute(
                sql: """
                    INSERT INTO webhook_message (id, subscription, type, notification, created_ms, status, attempts, next_attempt_ms)
                    VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)
                    """,
                arguments: [m.id, m.subscription, m.type, String(decoding: m.notification, as: UTF8.self), m.createdAt, m.createdAt])
        }
    }

    public func enqueue(_ messages: [OutboxMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await ledger.pool.write { db in try Self.insert(messages, in: db) }
    }

    static let columns = "id, subscription, type, notification, created_ms, status, attempts, next_attempt_ms, last_status, last_error, delivered_ms"

    static func record(_ row: Row) -> DeliveryRecord {
        DeliveryRecord(
            message: OutboxMessage(
                id: row["id"], subscription: row["subscription"], type: row["type"], notification: Array((row["notification"] as String).utf8),
                createdAt: row["created_ms"]),
            status: DeliveryRecord.Status(rawValue: row["status"]) ?? .failed, attempts: row["attempts"], nextAttemptAt: row["next_attempt_ms"],
            lastStatusCode: row["last_status"], lastError: row["last_error"], deliveredAt: row["delivered_ms"])
    }

    public func due(now: Int64, limit: Int) async throws -> [DeliveryRecord] {
        try await ledger.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.columns) FROM webhook_message
                    WHERE status = 'pending' AND next_attempt_ms <= ?
                      AND subscription NOT IN (SELECT subscription FROM webhook_endpoint)
                    ORDER BY next_attempt_ms, created_ms LIMIT ?
                    """, arguments: [now, limit]
            ).map(Self.record)
        }
    }

    public func nextDue() async throws -> Int64? {
        try await ledger.pool.read { db in
            try Int64.fetchOne(
                db,
                sql: "SELECT MIN(next_attempt_ms) FROM webhook_message WHERE status = 'pending' AND subscription NOT IN (SELECT subscription FROM webhook_endpoint)")
        }
    }

    public func record(_ attempt: DeliveryAttempt, of message: String, outcome: DeliveryOutcome) async throws {
        try await ledger.pool.write { db in
            try db.execute(
                sql: "INSERT INTO webhook_attempt (message, at_ms, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?)",
                arguments: [message, attempt.at, attempt.statusCode, attempt.error, attempt.durationMilliseconds])
            let (status, next, delivered): (String, Int64?, Int64?) =
                switch outcome {
                case .delivered: ("delivered", nil, attempt.at)
                case .retry(let at): ("pending", at, nil)
                case .failed: ("failed", nil, nil)
                case .disabled: ("disabled", nil, nil)
                }
            try db.execute(
                sql: """
                    UPDATE webhook_message SET status = ?, attempts = attempts + 1, next_attempt_ms = COALESCE(?, next_attempt_ms),
                      last_status = ?, last_error = ?, delivered_ms = COALESCE(?, delivered_ms) WHERE id = ?
                    """,
                arguments: [status, next, attempt.statusCode, attempt.error, delivered, message])
        }
    }

    public func disable(subscription: String, at: Int64, reason: String) async throws {
        try await ledger.pool.write { db in
            try db.execute(
                sql: "INSERT INTO webhook_endpoint (subscription, disabled_ms, reason) VALUES (?, ?, ?) ON CONFLICT (subscription) DO NOTHING",
                arguments: [subscription, at, reason])
            try db.execute(sql: "UPDATE webhook_message SET status = 'disabled' WHERE subscription = ? AND status = 'pending'", arguments: [subscription])
        }
    }

    public func enable(subscription: String, now: Int64) async throws -> Bool {
        try await ledger.pool.write { db in
            try db.execute(sql: "DELETE FROM webhook_endpoint WHERE subscription = ?", arguments: [subscription])
            guard db.changesCount == 1 else { return false }
            try db.execute(
                sql: "UPDATE webhook_message SET status = 'pending', next_attempt_ms = ? WHERE subscription = ? AND status = 'disabled'",
                arguments: [now, subscription])
            return true
        }
    }

    public func disabledSubscriptions() async throws -> [String: String] {
        try await ledger.pool.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT subscription, reason FROM webhook_endpoint").map { ($0[0] as String, $0[1] as String) })
        }
    }

    public func deliveries(subscription: String?, status: DeliveryRecord.Status?, limit: Int) async throws -> [DeliveryRecord] {
        try await ledger.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.columns) FROM webhook_message
                    WHERE (? IS NULL OR subscription = ?) AND (? IS NULL OR status = ?)
                    ORDER BY created_ms DESC, id LIMIT ?
                    """, arguments: [subscription, subscription, status?.rawValue, status?.rawValue, limit]
            ).map(Self.record)
        }
    }

    public func attempts(of message: String) async throws -> [DeliveryAttempt] {
        try await ledger.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT at_ms, status_code, error, duration_ms FROM webhook_attempt WHERE message = ? ORDER BY at_ms", arguments: [message]).map {
                DeliveryAttempt(at: $0[0], statusCode: $0[1], error: $0[2], durationMilliseconds: $0[3])
            }
        }
    }

    public func delivery(_ message: String) async throws -> DeliveryRecord? {
        try await ledger.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.columns) FROM webhook_message WHERE id = ?", arguments: [message]).map(Self.record)
        }
    }

    public func redeliver(_ message: String, now: Int64) async throws -> Bool {
        try await ledger.pool.write { db in
            try db.execute(sql: "UPDATE webhook_message SET status = 'pending', next_attempt_ms = ? WHERE id = ?", arguments: [now, message])
            return db.changesCount == 1
        }
    }

    public func enqueueOnce(_ keys: [String], at: Int64, messages: @escaping @Sendable (_ fresh: Set<String>) -> [OutboxMessage]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await ledger.pool.write { db in
            var fresh = Set<String>()
            for key in keys {
                try db.execute(sql: "INSERT INTO notification_sent (key, at_ms) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", arguments: [key, at])
                if db.changesCount == 1 { fresh.insert(key) }
            }
            let queued = messages(fresh)
            try Self.insert(queued, in: db)
            return queued.count
        }
    }
}
