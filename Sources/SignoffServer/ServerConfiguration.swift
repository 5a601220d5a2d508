import Hummingbird
import Foundation
internal import Synchronization
public import SignoffService

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
    /// The witnesses each new checkpoint is submitted to (`--witness-policy`: the policy's witnesses that have a URL);
    /// none by default.
    public var witnesses: [WitnessEndpoint] = []
    /// How often the newest checkpoint is offered to the witnesses that have not cosigned it.
    public var witnessIntervalSeconds: Int64 = 10
    /// How often the server looks for requests idle longer than their workflow's `request_expiry`.
    public var expiryIntervalSeconds: Int64 = 60
    /// Connections idle this long are closed (slow or stuck clients do not hold the server).
    public var idleTimeoutSeconds: Int64 = 30
    /// The server's public origin (`--public-url`, e.g. https://signoff.example.com): links in notifications start with it.
    public var publicURL: String?
    /// The console's single sign-on (`--sso-issuer`, `--sso-client-id`, `--sso-client-secret-file`): nil, none.
    public var singleSignOn: SingleSignOnConfiguration?
    /// Load balancers and TLS terminators whose `X-Forwarded-For` is believed (`--trusted-proxy`): the client's address
    /// for the login limits and the access log comes from it only when the peer is one of these.
    public var trustedProxies: [IPNetwork] = []
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
    /// Deliver webhooks to loopback, private and link-local addresses (`--webhook-allow-private`) — only to subscriptions
    /// that also say `allow_private`. Off by default: a name that resolves inward at delivery is refused.
    public var webhookAllowPrivate = false
    /// How a webhook host is resolved just before delivery; a test maps a name it controls.
    public var webhookResolver: WebhookResolver = SystemResolver.resolve
    /// Gate long polls (`wait` > 0) one principal — a user, or a service account with all its tokens — may hold at once
    /// (`--max-waiters-per-principal`); beyond, 429. 64: more deployments than one team's CI waits on at once, and a
    /// pipeline turned away is not failed (`signoff gate --wait` waits out the `Retry-After` and looks again).
    public var maximumWaitersPerPrincipal = 64
    /// Gate long polls the server holds at once, all principals together (`--max-waiters`); beyond, 429. 1,024: a held
    /// poll costs about 44 KiB of the server's memory with its connection (BENCHMARKS.md: 15,668 held took 680 MiB), so
    /// a full server holds about 45 MiB of waiters, and 16 teams' CI at their own cap fit.
    public var maximumWaiters = 1_024
    /// Connections the kernel queues before the server accepts them (capped by `net.core.somaxconn`). A burst of
    /// connects beyond the queue is dropped and retried by the clients a second later — and so is a normal request
    /// that arrives in the burst (BENCHMARKS.md, the long-poll flood).
    public var listenBacklog = 4_096
    /// The port the server actually listens on, once it does (with port 0, the one the system chose).
    public let listening = ListeningPort()

    public init() {}

    /// The origins a browser may name in `Origin` for a state-changing console request: the `--public-url` origin when
    /// given, else those this server listens on — `http://127.0.0.1:PORT`, `http://localhost:PORT` and
    /// `http://[::1]:PORT` for a loopback (or every-address) bind, `http://HOST:PORT` otherwise. Never one taken from the
    /// request's `Host`: a DNS-rebinding page sends a `Host` and an `Origin` that agree.
    func acceptedOrigins() -> [String] {
        if let publicURL, let url = URL(string: publicURL), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() {
            let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            // A browser leaves a scheme's default port out of `Origin`.
            let port = url.port.flatMap { (scheme == "https" && $0 == 443) || (scheme == "http" && $0 == 80) ? nil : $0 }
            return [scheme + "://" + bracketed + (port.map { ":\($0)" } ?? "")]
        }
        let port = listening.port ?? port
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let loopback = name == "localhost" || name == "::1" || name.hasPrefix("127.") || name == "0.0.0.0" || name == "::"
        if loopback { return ["http://127.0.0.1:\(port)", "http://localhost:\(port)", "http://[::1]:\(port)"] }
        return ["http://" + (name.contains(":") ? "[\(name)]" : name) + ":\(port)"]
    }

    /// Whether `origin` (an `Origin` header) is one of ``acceptedOrigins()``.
    func isAcceptedOrigin(_ origin: String) -> Bool {
        acceptedOrigins().contains(origin.lowercased())
    }
}

/// The port a running server listens on, set when it starts (`onServerRunning`): shared by every copy of the
/// configuration, so that the console's origin check knows the port the system chose for `--port 0`.
public final class ListeningPort: Sendable {
    private let value = Mutex<Int?>(nil)

    public init() {}

    public var port: Int? { value.withLock { $0 } }
    func set(_ port: Int?) { value.withLock { $0 = port } }
}

/// Which trusted issuer signs people in to the console, as which OAuth client. The issuer itself — its URL, its audience
/// (this client ID), the claim naming users — is trusted by a signed change in the ledger; the client secret is server
/// configuration only (a file or an environment variable), never in the ledger and never logged.
public struct SingleSignOnConfiguration: Sendable {
    /// The trusted issuer's name (`signoff issuer trust`).
    public var issuer: String
    public var clientID: String
    /// nil: a public client (PKCE alone); else sent with HTTP basic authentication to the token endpoint.
    public var clientSecret: String?

    public init(issuer: String, clientID: String, clientSecret: String?) {
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
    }
}
