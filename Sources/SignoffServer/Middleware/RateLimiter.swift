import SignoffService

/// Counts events per key in a sliding window: login challenges per address, failed logins per name and per address.
/// Kept in the database (``CoordinationStore``), so that every instance behind a load balancer counts the same events:
/// a client whose attempts are spread over several instances meets one limit, not one per instance. Over the limit,
/// the caller answers 429 with `Retry-After`.
struct RateLimiter: Sendable {
    /// What the limit counts, the prefix of its keys (e.g. `login-failure-address`).
    let name: String
    let limit: Int
    let windowMilliseconds: Int64
    let store: any CoordinationStore
    let clock: @Sendable () -> Int64

    /// The longest window of any limit: events older than it are forgotten.
    static let forgetAfterMilliseconds: Int64 = 3_600_000

    /// Whether `key` is over its limit now; the seconds to wait when it is.
    func retryAfter(_ key: String) async throws -> Int? {
        let now = clock()
        let recent = try await store.rateEvents(name + "/" + key, since: now - windowMilliseconds)
        guard recent.count >= limit, let oldest = recent.oldest else { return nil }
        let wait = windowMilliseconds - (now - oldest)
        return max(1, Int(wait / 1000) + 1)
    }

    /// Records one event for `key`.
    func record(_ key: String) async throws {
        let now = clock()
        try await store.recordRateEvent(name + "/" + key, at: now, forgetBefore: now - Self.forgetAfterMilliseconds)
    }
}
