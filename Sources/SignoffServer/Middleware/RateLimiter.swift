import Foundation

/// Counts events per key in a sliding window, in memory: login challenges per address, failed logins per name and per
/// address. Over the limit, the caller answers 429 with `Retry-After`. Bounded: the oldest keys are forgotten first.
actor RateLimiter {
    let limit: Int
    let window: Duration
    private var events: [String: [ContinuousClock.Instant]] = [:]
    private static let maximumKeys = 50_000

    init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// Whether `key` is over its limit now; the seconds to wait when it is.
    func retryAfter(_ key: String) -> Int? {
        let now = ContinuousClock.now
        let recent = (events[key] ?? []).filter { now - $0 < window }
        events[key] = recent.isEmpty ? nil : recent
        guard recent.count >= limit, let oldest = recent.first else { return nil }
        let wait = window - (now - oldest)
        return max(1, Int(wait.components.seconds) + 1)
    }

    /// Records one event for `key`.
    func record(_ key: String) {
        if events.count >= Self.maximumKeys { events.removeAll(keepingCapacity: true) }
        events[key, default: []].append(ContinuousClock.now)
    }
}
