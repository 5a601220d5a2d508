/// Tells one process of the writes other processes commit to the same database, so that what waits for a change (a
/// `gate` long poll, the webhook outbox's deliverer) wakes within a second of it, whichever instance wrote. A backend
/// several `signoff serve` instances share has one (PostgreSQL: `LISTEN`/`NOTIFY`); SQLite, one machine's file, has none.
public protocol ChangeFeed: Sendable {
    /// Calls `changed` after every commit of another process (and once after a reconnection, when changes may have been
    /// missed), until the task is cancelled. Reconnects by itself; throws only what it cannot recover from.
    func run(_ changed: @escaping @Sendable () -> Void) async throws
}
