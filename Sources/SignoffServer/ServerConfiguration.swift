import Hummingbird
import SignoffService

/// How `signoff serve` runs. Every field has a safe default.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// How long a login token lives.
    public var sessionLifetimeMilliseconds: Int64 = 8 * 3_600_000
    /// The longest lifetime a service token may be given (default 30 days); longer requests are refused.
    public var maximumServiceTokenHours = Authenticator.maximumServiceTokenHours
    /// Login challenges one address may ask for in a minute; beyond, 429 with `Retry-After`.
    public var challengesPerAddressPerMinute = 30
    /// Failed logins for one user name, and from one address, in five minutes before logins are refused (429).
    public var failedLoginsPerNamePerFiveMinutes = 10
    public var failedLoginsPerAddressPerFiveMinutes = 30
    /// How often the ledger signs a checkpoint when entries are waiting (the "T seconds" of the checkpoint policy).
    public var checkpointIntervalSeconds: Int64 = 10
    /// How often the server looks for requests idle longer than their workflow's `request_expiry`.
    public var expiryIntervalSeconds: Int64 = 60
    /// Connections idle this long are closed (slow or stuck clients do not hold the server).
    public var idleTimeoutSeconds: Int64 = 30
    /// The server's public origin (`--public-url`, e.g. https://signoff.example.com): links in notifications start with it.
    public var publicURL: String?
    /// Webhook retries: the first after this long, each next one twice as long, at most ``webhookMaximumBackoffMilliseconds``,
    /// for ``webhookRetryWindowMilliseconds`` after the message was created (Standard Webhooks suggests about a day).
    public var webhookFirstBackoffMilliseconds: Int64 = 5_000
    public var webhookMaximumBackoffMilliseconds: Int64 = 3_600_000
    public var webhookRetryWindowMilliseconds: Int64 = 24 * 3_600_000
    /// How long one delivery attempt may take.
    public var webhookTimeoutSeconds: Double = 10
    /// Deliveries in flight at once.
    public var webhookConcurrency = 8
    /// The largest evidence document accepted (`--evidence-max-bytes`).
    public var evidenceMaximumBytes = EvidenceDocument.defaultMaximumBytes
    /// How often reminders, escalations and overdue retrospectives are looked for.
    public var reminderIntervalSeconds: Int64 = 60
    /// How often the whole ledger is verified (at start, then every interval; 0: never): the audit page's verification status.
    public var verifyIntervalSeconds: Int64 = 3_600

    public init() {}

    /// The origin browsers name in `Origin` for this server: `--public-url` when given, else the request's own scheme-less
    /// `http://` + `Host` (a server behind TLS is given its public URL).
    func expectedOrigin(_ request: Request) -> String {
        if let publicURL { return publicURL }
        return "http://" + (request.head.authority ?? "\(host):\(port)")
    }
}
