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

    public init(url: String, project: String?, events: [String], format: WebhookFormat) {
        self.url = url
        self.project = project
        self.events = events.sorted()
        self.format = format
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
        guard let project = spec.project else { return true }
        // A key revocation concerns every project; everything else, its own.
        return notification.project == project || (notification.project == nil && notification.type == .keyRevoked)
    }
}

/// The kinds of notification a subscription may ask for.
public enum NotificationType: String, Hashable, Sendable, Codable, CaseIterable {
    case requestFiled = "request.filed"
    /// A request came to rest at a stage whose next gate waits for someone: names who can act next.
    case requestWaiting = "request.waiting"
    /// Every approval is in: the request may be deployed.
    case requestApproved = "request.approved"
    case requestRejected = "request.rejected"
    case changesRequested = "request.changes-requested"
    /// A deployment's outcome was recorded (`data.outcome`: succeeded or failed).
    case requestDeployed = "request.deployed"
    case retrospectiveDue = "retrospective.due"
    case retrospectiveOverdue = "retrospective.overdue"
    case freezeAdded = "freeze.added"
    case keyRevoked = "key.revoked"
    /// One digest per person of what has waited for them longer than their workflows' `remind_after`.
    case reminder
    /// One digest per person of what has waited longer than `escalate_after`, sent to the `escalate_to` role.
    case escalation
}

extension Engine {
    /// A webhook URL: https, or http to a loopback address only (a local receiver, a test); no credentials in it.
    static func validWebhookURL(_ text: String) throws {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw Refusal(.inputText, "the webhook URL must be an absolute https:// URL of at most 2048 bytes")
        }
        guard url.user == nil, url.password == nil else { throw Refusal(.inputText, "a webhook URL may not carry credentials") }
        let loopback = ["127.0.0.1", "localhost"].contains(host.lowercased())
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw Refusal(.inputText, "a webhook URL must be https:// (plain http only to a loopback address)")
        }
    }

    static func addWebhook(_ spec: WebhookSpec, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validWebhookURL(spec.url)
        if let key = spec.project, state.projects[key] == nil { throw Refusal(.inputUnknown, "no project \(key)") }
        let known = Set(NotificationType.allCases.map(\.rawValue))
        guard !spec.events.isEmpty, spec.events.allSatisfy(known.contains), Set(spec.events).count == spec.events.count else {
            throw Refusal(.inputText, "events must be one or more of \(NotificationType.allCases.map(\.rawValue).joined(separator: ", ")), each once")
        }
        return [.webhookAdded(.init(id: "WH-\(state.webhooks.count + 1)", webhook: spec, approval: approval))]
    }

    static func removeWebhook(id: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard let webhook = state.webhooks[id] else { throw Refusal(.inputUnknown, "no webhook \(id); `signoff webhook list` shows them") }
        guard webhook.isActive else { throw Refusal(.inputDuplicate, "\(id) is already removed") }
        return [.webhookRemoved(.init(id: id, approval: approval))]
    }
}
