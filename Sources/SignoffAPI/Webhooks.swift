public import Foundation
public import SignoffCore
public import SignoffCrypto

/// `POST /v1/webhooks`: a subscription (administrators; signed like every administrative change once a regulated
/// project exists).
public struct WebhookBody: Codable, Sendable {
    public let url: String
    public let project: String?
    public let events: [String]
    public let format: WebhookFormat?
    /// The receiver is meant to be on a loopback, private or link-local address (``WebhookSpec/allowPrivate``).
    public let allow_private: Bool?
    public let approval: DSSEEnvelope?

    public init(url: String, project: String?, events: [String], format: WebhookFormat?, allow_private: Bool? = nil, approval: DSSEEnvelope?) {
        self.url = url
        self.project = project
        self.events = events
        self.format = format
        self.allow_private = allow_private
        self.approval = approval
    }
}

public struct WebhookView: Codable, Sendable, Equatable {
    public let id: String
    public let url: String
    public let project: String?
    public let events: [String]
    public let format: String
    /// The administrators allowed a loopback, private or link-local receiver (shown only when true).
    public let allow_private: Bool?
    public let added_by: String
    public let added_at: String
    public let removed_at: String?
    /// Set when the endpoint answered 410 Gone: deliveries stop until `signoff webhook enable`.
    public let disabled: String?

    public init(_ w: Webhook, disabled: String? = nil) {
        id = w.id
        url = w.spec.url
        project = w.spec.project
        events = w.spec.events
        format = w.spec.format.rawValue
        allow_private = w.spec.allowPrivate ? true : nil
        added_by = w.addedBy
        added_at = Timestamps.rfc3339(w.addedAt)
        removed_at = w.removedAt.map(Timestamps.rfc3339)
        self.disabled = disabled
    }
}

extension Directory {
    /// Every subscription in number order, with its endpoint's disabled reason.
    public static func webhooks(in state: SignoffState, disabled: [String: String]) -> [WebhookView] {
        state.webhooks.values.sorted { Inventory.requestNumber($0.id) < Inventory.requestNumber($1.id) }.map { WebhookView($0, disabled: disabled[$0.id]) }
    }
}

/// The answer to adding a subscription: its signing secret, shown this once (it is derived again by the server when it
/// signs, never stored), and the public key that verifies `v1a` signatures.
public struct WebhookCreated: Codable, Sendable {
    public let webhook: WebhookView
    public let secret: String
    public let public_key: String
    public let entries: [RecordedResponse.Entry]

    public init(webhook: WebhookView, secret: String, public_key: String, entries: [RecordedResponse.Entry]) {
        self.webhook = webhook
        self.secret = secret
        self.public_key = public_key
        self.entries = entries
    }
}

public struct DeliveryView: Codable, Sendable, Equatable {
    public struct Attempt: Codable, Sendable, Equatable {
        public let at: String
        public let status_code: Int?
        public let error: String?
        public let duration_ms: Int64

        public init(at: String, status_code: Int?, error: String?, duration_ms: Int64) {
            self.at = at
            self.status_code = status_code
            self.error = error
            self.duration_ms = duration_ms
        }
    }
    public let id: String
    public let subscription: String
    public let type: String
    public let created_at: String
    public let status: String
    public let attempts: Int
    public let next_attempt_at: String?
    public let last_status_code: Int?
    public let last_error: String?
    public let delivered_at: String?
    public let summary: String
    public let attempt_log: [Attempt]?

    public init(
        id: String, subscription: String, type: String, created_at: String, status: String, attempts: Int, next_attempt_at: String?,
        last_status_code: Int?, last_error: String?, delivered_at: String?, summary: String, attempt_log: [Attempt]?
    ) {
        self.id = id
        self.subscription = subscription
        self.type = type
        self.created_at = created_at
        self.status = status
        self.attempts = attempts
        self.next_attempt_at = next_attempt_at
        self.last_status_code = last_status_code
        self.last_error = last_error
        self.delivered_at = delivered_at
        self.summary = summary
        self.attempt_log = attempt_log
    }
}

/// Standard Webhooks (standardwebhooks.com): the headers of a message and its signatures — `v1` (HMAC-SHA-256 with
/// the subscription's secret) and `v1a` (Ed25519 with the server's webhook key) — over `id.timestamp.body`.
public enum StandardWebhooks {
    /// The purpose of a subscription's derived HMAC secret.
    public static func secretPurpose(_ subscription: String) -> String { "webhook-secret/\(subscription)" }
    public static let signingKeyPurpose = "webhook-signing-key"

    /// `whsec_` + base64 of a subscription's secret.
    public static func secretText(_ secret: [UInt8]) -> String { "whsec_" + Base64.encode(secret) }

    /// The server's webhook signing key, derived from the ledger key's seed.
    public static func signingKey(seed: [UInt8]) -> Ed25519.SigningKey {
        var bytes = seed
        return try! Ed25519.SigningKey(seed: &bytes)  // 32 bytes: cannot fail
    }

    /// `whpk_` + base64 of the public key that verifies `v1a` signatures.
    public static func publicKeyText(_ key: Ed25519.SigningKey) -> String { "whpk_" + Base64.encode(key.publicKey.bytes) }

    /// The signed content: `id.timestamp.body`.
    public static func signedContent(id: String, timestamp: Int64, body: [UInt8]) -> [UInt8] { Array("\(id).\(timestamp).".utf8) + body }

    /// The `webhook-signature` header: `v1,<base64 HMAC> v1a,<base64 Ed25519>`.
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secret: [UInt8], signingKey: Ed25519.SigningKey) -> String {
        let content = signedContent(id: id, timestamp: timestamp, body: body)
        return "v1," + Base64.encode(HMACSHA256.authenticate(content, key: secret)) + " v1a," + Base64.encode(signingKey.signature(for: content))
    }
}

/// A notification as each format's receiver reads it. Free text (names, bundles, comments) is escaped for the medium:
/// Slack's `&`, `<`, `>` (so that `<!channel>` or a link cannot be smuggled in), Teams' Markdown.
public enum WebhookRendering {
    /// Without the server's public URL a link is relative: the standard body keeps it (its receiver knows where it came
    /// from); a chat message leaves it out — Slack and Teams cannot open a relative link, and a button with one is refused.
    ///
    /// `webhook`, the subscription the body is for, is named in the standard body: the `v1a` key is the same for every
    /// subscription of a ledger, so a receiver that checks `v1a` also checks that the body is meant for its own
    /// subscription (`schema/webhooks.md`).
    public static func body(
        _ n: SignoffCore.Notification, format: WebhookFormat, publicURL: String?, handles: [String: ChatHandles] = [:], webhook: String? = nil
    ) -> [UInt8] {
        var n = n
        if publicURL == nil, format != .standard {
            n = SignoffCore.Notification(
                type: n.type, project: n.project, environment: n.environment, actor: n.actor, summary: n.summary, request: n.request, comment: n.comment,
                outcome: n.outcome, recipient: n.recipient,
                items: n.items?.map { item in
                    var item = item
                    item.link = nil
                    return item
                }, link: nil, time: n.time)
        }
        let link = n.link.map { (publicURL ?? "") + $0 }
        // Each item of a digest links its request's page too.
        if let items = n.items {
            n = SignoffCore.Notification(
                type: n.type, project: n.project, environment: n.environment, actor: n.actor, summary: n.summary, request: n.request, comment: n.comment,
                outcome: n.outcome, recipient: n.recipient,
                items: items.map { item in
                    var item = item
                    item.link = item.link.map { (publicURL ?? "") + $0 }
                    return item
                }, link: n.link, time: n.time)
        }
        switch format {
        case .standard: return standard(n, link: link, webhook: webhook)
        case .slack: return encode(slack(n, link: link, handles: handles))
        case .teams: return encode(teams(n, link: link, handles: handles))
        }
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try! encoder.encode(value))
    }

    /// `{"type", "timestamp", "data"}`: `data` is the notification, with the request's link made absolute.
    static func standard(_ n: SignoffCore.Notification, link: String?, webhook: String?) -> [UInt8] {
        struct Envelope: Encodable {
            let type: String
            let timestamp: String
            let data: Data
            /// The subscription this body was sent to (absent only where none is known).
            let webhook: String?
            struct Data: Encodable {
                let summary: String
                let project: String?
                let environment: String?
                let actor: String?
                let request: SignoffCore.Notification.Request?
                let comment: String?
                let outcome: String?
                let recipient: String?
                let items: [SignoffCore.Notification.Item]?
                let link: String?
            }
        }
        return encode(
            Envelope(
                type: n.type.rawValue, timestamp: Timestamps.rfc3339(n.time),
                data: .init(
                    summary: n.summary, project: n.project, environment: n.environment, actor: n.actor, request: n.request, comment: n.comment,
                    outcome: n.outcome, recipient: n.recipient, items: n.items, link: link),
                webhook: webhook))
    }

    /// Lines for people, each escaped for its medium by `escape`: the summary, who can act next (each person as
    /// `person` renders them: a mention where they have a chat handle), the comment, the digest's items.
    static func lines(_ n: SignoffCore.Notification, escape: (String) -> String = { $0 }, person given: ((String) -> String)? = nil) -> [String] {
        func person(_ name: String) -> String { given?(name) ?? escape(name) }
        var lines = [escape(n.summary)]
        if let recipient = n.recipient, person(recipient) != escape(recipient) { lines.append("For " + person(recipient)) }
        if let r = n.request, !r.who_can_act.isEmpty, let next = r.next_stage {
            lines.append(escape("Next: \(next) — ") + r.who_can_act.map(person).joined(separator: ", ") + escape(" can act"))
        }
        if let comment = n.comment, !comment.isEmpty, !n.summary.hasSuffix(comment) { lines.append(escape("“\(comment)”")) }
        for item in n.items ?? [] {
            lines.append(escape("• \(item.request) (\(item.project) \(item.environment)) waiting for \(item.stage) for \(duration(item.waiting_seconds)): \(item.detail)"))
        }
        return lines
    }

    /// A wait in words people read: "45 s", "12 min", "3 h 5 min", "2 days 4 h".
    public static func duration(_ seconds: Int64) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return s % 3600 / 60 == 0 ? "\(s / 3600) h" : "\(s / 3600) h \(s % 3600 / 60) min" }
        let days = s / 86_400
        return "\(days) day\(days == 1 ? "" : "s")" + (s % 86_400 / 3600 == 0 ? "" : " \(s % 86_400 / 3600) h")
    }

    /// Slack's mrkdwn control characters, escaped as Slack asks: `&`, `<`, `>`.
    public static func slackEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    struct SlackMessage: Encodable {
        struct Text: Encodable {
            let type: String
            let text: String
        }
        struct Button: Encodable {
            let type = "button"
            let text: Text
            let url: String
            let action_id: String
        }
        /// A `section` (with `text`) or an `actions` block (with `elements`).
        struct Block: Encodable {
            let type: String
            var text: Text? = nil
            var elements: [Button]? = nil
        }
        let text: String
        let blocks: [Block]
    }

    /// Slack allows 3,000 characters in a section's text: longer text is cut, with an ellipsis.
    static let slackSectionLimit = 3000

    static func slack(_ n: SignoffCore.Notification, link: String?, handles: [String: ChatHandles] = [:]) -> SlackMessage {
        // A person with a Slack member ID (validated: U/W and upper-case letters and digits) is mentioned: `<@U…>`.
        var text = lines(n, escape: slackEscape) { name in handles[name]?.slack.map { "<@\($0)>" } ?? slackEscape(name) }.joined(separator: "\n")
        // Items link their requests' pages (links are ours: public URL + /requests/ID, an ID the engine made).
        for item in n.items ?? [] {
            if let itemLink = item.link { text = text.replacingOccurrences(of: "• \(slackEscape(item.request)) ", with: "• <\(slackEscape(itemLink))|\(slackEscape(item.request))> ") }
        }
        if let link { text += "\n<\(slackEscape(link))|\(slackEscape(n.request?.request ?? "open in Signoff"))>" }
        if text.count > slackSectionLimit { text = String(text.prefix(slackSectionLimit - 1)) + "…" }
        var blocks = [SlackMessage.Block(type: "section", text: .init(type: "mrkdwn", text: text))]
        // A button that opens the console page: the reviewer decides there, signed in.
        if let link {
            blocks.append(.init(type: "actions", elements: [.init(text: .init(type: "plain_text", text: n.items == nil ? "Review" : "Open inbox"), url: link, action_id: "signoff-review")]))
        }
        return SlackMessage(text: slackEscape(n.summary), blocks: blocks)
    }

    /// Teams' Markdown (in Adaptive Card TextBlocks): every character that could start markup or a link, escaped.
    public static func teamsEscape(_ text: String) -> String {
        var out = ""
        for c in text {
            if "\\`*_{}[]()#+-.!<>|~&".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    struct TeamsMessage: Encodable {
        struct Attachment: Encodable {
            let contentType: String
            let content: Card
        }
        struct Card: Encodable {
            let type: String
            let version: String
            let body: [TextBlock]
            let actions: [Action]?
            var msteams: Entities? = nil
            enum CodingKeys: String, CodingKey {
                case type, version, body, actions, msteams
                case schema = "$schema"
            }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode("http://adaptivecards.io/schemas/adaptive-card.json", forKey: .schema)
                try c.encode(type, forKey: .type)
                try c.encode(version, forKey: .version)
                try c.encode(body, forKey: .body)
                try c.encodeIfPresent(actions, forKey: .actions)
                try c.encodeIfPresent(msteams, forKey: .msteams)
            }
        }
        struct Entities: Encodable {
            let entities: [Mention]
        }
        struct Mention: Encodable {
            let type = "mention"
            let text: String
            let mentioned: Person
            struct Person: Encodable {
                let id: String
                let name: String
            }
        }
        struct TextBlock: Encodable {
            let type = "TextBlock"
            let text: String
            let wrap = true
        }
        struct Action: Encodable {
            let type = "Action.OpenUrl"
            let title: String
            let url: String
        }
        let type: String
        let attachments: [Attachment]
    }

    static func teams(_ n: SignoffCore.Notification, link: String?, handles: [String: ChatHandles] = [:]) -> TeamsMessage {
        // A person with a Teams user is mentioned: `<at>NAME</at>` in the text, an entity naming their id in `msteams`.
        var mentioned: [TeamsMessage.Mention] = []
        let blocks = lines(n, escape: teamsEscape) { name in
            guard let id = handles[name]?.teams else { return teamsEscape(name) }
            if !mentioned.contains(where: { $0.mentioned.id == id }) { mentioned.append(.init(text: "<at>\(name)</at>", mentioned: .init(id: id, name: name))) }
            return "<at>\(name)</at>"
        }.map { TeamsMessage.TextBlock(text: $0) }
        let actions = link.map { [TeamsMessage.Action(title: n.items == nil ? "Review" : "Open inbox", url: $0)] }
        return TeamsMessage(
            type: "message",
            attachments: [
                .init(
                    contentType: "application/vnd.microsoft.card.adaptive",
                    content: .init(
                        type: "AdaptiveCard", version: "1.4", body: blocks, actions: actions,
                        msteams: mentioned.isEmpty ? nil : .init(entities: mentioned)))
            ])
    }
}
