internal import Foundation
public import SignoffCrypto

/// How a subscription's messages are shaped: the Standard Webhooks JSON envelope, or a chat message body.
public enum WebhookFormat: String, Hashable, Sendable, Codable, CaseIterable {
    /// `{"type", "timestamp", "data"}` (standardwebhooks.com).
    case standard
    /// A Slack-compatible incoming-webhook body (`text` and `blocks`).
    case slack
    /// A Microsoft Teams-compatible body (a message with one Adaptive Card).
    case teams
}

/// What an administrator asks for: where to send which notifications, of one project or of every project.
public struct WebhookSpec: Hashable, Sendable, Codable {
    public let url: String
    /// nil: organisation-wide (every project's notifications, and those of no project).
    public let project: String?
    /// Notification types (``NotificationType``), sorted.
    public let events: [String]
    public let format: WebhookFormat
    /// The administrators mean a receiver on a loopback, private or link-local address (``PrivateNetwork``): without
    /// it such a URL is refused (`webhook.private-target`), and `signoff serve` also needs `--webhook-allow-private`
    /// to deliver to one. Part of what administrators sign; `allow_private` in JSON, left out when false so that
    /// subscriptions recorded before it existed keep their bytes.
    public let allowPrivate: Bool

    public init(url: String, project: String?, events: [String], format: WebhookFormat, allowPrivate: Bool = false) {
        self.url = url
        self.project = project
        self.events = events.sorted()
        self.format = format
        self.allowPrivate = allowPrivate
    }

    enum CodingKeys: String, CodingKey {
        case url, project, events, format
        case allowPrivate = "allow_private"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        project = try c.decodeIfPresent(String.self, forKey: .project)
        events = try c.decode([String].self, forKey: .events)
        format = try c.decode(WebhookFormat.self, forKey: .format)
        allowPrivate = try c.decodeIfPresent(Bool.self, forKey: .allowPrivate) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(url, forKey: .url)
        try c.encodeIfPresent(project, forKey: .project)
        try c.encode(events, forKey: .events)
        try c.encode(format, forKey: .format)
        if allowPrivate { try c.encode(true, forKey: .allowPrivate) }
    }
}

/// A webhook subscription as the state holds it. Its signing secret is never stored: the server derives it from its
/// ledger key and the subscription's ID, and shows it once, when the subscription is added.
public struct Webhook: Hashable, Sendable, Codable {
    public let id: String
    public let spec: WebhookSpec
    public let addedBy: String
    public let addedAt: Int64
    public var removedAt: Int64?

    public var isActive: Bool { removedAt == nil }

    /// Whether this subscription receives `notification`.
    public func receives(_ notification: Notification) -> Bool {
        guard isActive, spec.events.contains(notification.type.rawValue) else { return false }
        // Heard already, in the message of the same command this one repeats.
        if let besides = notification.besides, spec.events.contains(besides.rawValue) { return false }
        guard let project = spec.project else { return true }
        // A key revocation concerns every project; everything else, its own.
        return notification.project == project || (notification.project == nil && notification.type == .keyRevoked)
    }
}

/// The kinds of notification a subscription may ask for.
public enum NotificationType: String, Hashable, Sendable, Codable, CaseIterable {
    /// What a channel of people acts on (`signoff webhook add --events people`): who must act now, what went wrong,
    /// freezes, revoked keys, reminders — not every filing, approval and deployment, which machines and the console
    /// record. Over a 30-request week of a team whose pipelines deploy, fewer than 2 messages per request
    /// (NotificationVolumeTests).
    public static let people: [NotificationType] = [
        .requestWaiting, .changesRequested, .requestRejected, .deploymentFailed, .requestExpired, .retrospectiveDue, .retrospectiveOverdue,
        .freezeAdded, .freezeLifted, .keyRevoked, .reminder, .escalation,
    ]

    case requestFiled = "request.filed"
    /// A request came to rest at a stage whose next gate waits for someone: names who can act next.
    case requestWaiting = "request.waiting"
    /// Every approval is in: the request may be deployed.
    case requestApproved = "request.approved"
    case requestRejected = "request.rejected"
    case changesRequested = "request.changes-requested"
    /// A successful deployment was recorded (`data.outcome`: succeeded).
    case requestDeployed = "request.deployed"
    /// A deployment was recorded as failed (`data.outcome`: failed).
    case deploymentFailed = "request.deployment-failed"
    /// The requester (or an administrator) withdrew the request.
    case requestWithdrawn = "request.withdrawn"
    /// The request expired: nothing happened to it for the workflow's `expire_after`.
    case requestExpired = "request.expired"
    case retrospectiveDue = "retrospective.due"
    case retrospectiveOverdue = "retrospective.overdue"
    case freezeAdded = "freeze.added"
    case freezeLifted = "freeze.lifted"
    case keyRevoked = "key.revoked"
    /// One digest per person of what has waited for them longer than their workflows' `remind_after`.
    case reminder
    /// One digest per person of what has waited longer than `escalate_after`, sent to the `escalate_to` role.
    case escalation
}

extension Engine {
    /// A webhook URL: https, or http to a loopback address only (a local receiver, a test); no credentials in it; not
    /// to a loopback, private or link-local host (``PrivateNetwork``) unless the subscription says `allow_private`.
    /// The host is judged as written (a name is judged again, resolved, when `signoff serve` delivers).
    static func validWebhookURL(_ text: String, allowPrivate: Bool = false) throws {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw Refusal(.inputText, "the webhook URL must be an absolute https:// URL of at most 2048 bytes")
        }
        guard url.user == nil, url.password == nil else { throw Refusal(.inputText, "a webhook URL may not carry credentials") }
        // Percent-escapes and non-ASCII in a host are read differently by different parsers: a name is written plainly
        // (punycode for an international one).
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]_".contains($0)) }) else {
            throw Refusal(.inputText, "the webhook URL's host must be written in plain ASCII (an international name in punycode, xn--…)")
        }
        let range = PrivateNetwork.range(ofHost: host)
        if let range, !allowPrivate {
            throw Refusal(
                .webhookPrivateTarget,
                "the webhook URL's host \(host) is \(range): webhooks are not sent to internal services; if this receiver is truly meant, "
                    + "add it with --allow-private (API: \"allow_private\": true) and run the server with --webhook-allow-private")
        }
        let loopback = range.map { $0.contains("loopback") } ?? false
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw Refusal(.inputText, "a webhook URL must be https:// (plain http only to a loopback address)")
        }
    }

    static func addWebhook(_ spec: WebhookSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.addWebhook(spec), state: state, actor: actor)
        try validWebhookURL(spec.url, allowPrivate: spec.allowPrivate)
        if let key = spec.project, state.projects[key] == nil { throw Refusal(.inputUnknown, "no project \(key)") }
        let known = Set(NotificationType.allCases.map(\.rawValue))
        guard !spec.events.isEmpty, spec.events.allSatisfy(known.contains), Set(spec.events).count == spec.events.count else {
            throw Refusal(.inputText, "events must be one or more of \(NotificationType.allCases.map(\.rawValue).joined(separator: ", ")), each once")
        }
        return [.webhookAdded(.init(id: "WH-\(state.webhooks.count + 1)", webhook: spec, approval: approval))]
    }

    static func removeWebhook(id: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireMaker(.removeWebhook(id: id), state: state, actor: actor)
        guard let webhook = state.webhooks[id] else { throw Refusal(.inputUnknown, "no webhook \(id); `signoff webhook list` shows them") }
        guard webhook.isActive else { throw Refusal(.inputDuplicate, "\(id) is already removed") }
        return [.webhookRemoved(.init(id: id, approval: approval))]
    }
}
