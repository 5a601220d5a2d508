import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ServiceLifecycle
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffService

/// Delivers the outbox: every pending message, signed per Standard Webhooks (`v1` HMAC with the subscription's secret,
/// `v1a` Ed25519 with the server's webhook key, both derived from the ledger key), at least once — a message is marked
/// delivered only after a 2xx, so a server killed mid-delivery sends it again, with the same `webhook-id`. Failures
/// are retried with exponential backoff for a day; 410 Gone disables the endpoint.
struct WebhookDeliveryService: Service {
    let service: SignoffService
    let configuration: ServerConfiguration
    let metrics: SignoffMetrics
    let logger: Logger

    private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
            completionHandler: @escaping (URLRequest?) -> Void
        ) { completionHandler(nil) }
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 16
        return URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }()

    func run() async throws {
        guard let keys = WebhookKeys(ledger: service.ledger) else {
            logger.warning("webhooks are not delivered: this server does not hold the ledger key they are signed with (give its passphrase)")
            try? await gracefulShutdown()
            return
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let version = service.changes.version
            do {
                let due = try await service.webhooks.due(now: service.now, limit: configuration.webhookConcurrency * 4)
                if due.isEmpty {
                    let next = try await service.webhooks.nextDue()
                    let pause = next.map { max(10, min($0 - service.now, 1_000)) } ?? 1_000
                    try? await cancelWhenGracefulShutdown { await service.changes.wait(after: version, timeout: .milliseconds(pause)) }
                    continue
                }
                let state = try await service.state()
                await withTaskGroup(of: Void.self) { group in
                    var running = 0
                    for record in due {
                        if running == configuration.webhookConcurrency {
                            await group.next()
                            running -= 1
                        }
                        group.addTask { await deliver(record, webhook: state.webhooks[record.message.subscription], keys: keys) }
                        running += 1
                    }
                }
            } catch {
                logger.error("webhook outbox unreadable", metadata: ["error": .string("\(error)")])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
        }
    }

    /// One attempt: render, sign, POST, record.
    func deliver(_ record: DeliveryRecord, webhook: Webhook?, keys: WebhookKeys) async {
        let message = record.message
        let started = service.now
        guard let webhook, webhook.isActive else {
            try? await service.webhooks.record(
                DeliveryAttempt(at: started, statusCode: nil, error: "the subscription was removed", durationMilliseconds: 0), of: message.id, outcome: .failed)
            return
        }
        guard let notification = try? Notification(json: message.notification), let url = URL(string: webhook.spec.url) else {
            try? await service.webhooks.record(
                DeliveryAttempt(at: started, statusCode: nil, error: "the message cannot be read", durationMilliseconds: 0), of: message.id, outcome: .failed)
            return
        }
        let body = WebhookRendering.body(notification, format: webhook.spec.format, publicURL: configuration.publicURL)
        let timestamp = started / 1000
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.timeoutInterval = configuration.webhookTimeoutSeconds
        request.httpBody = Data(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("signoff/\(webhook.id)", forHTTPHeaderField: "User-Agent")
        request.setValue(message.id, forHTTPHeaderField: "webhook-id")
        request.setValue(String(timestamp), forHTTPHeaderField: "webhook-timestamp")
        request.setValue(
            StandardWebhooks.signature(id: message.id, timestamp: timestamp, body: body, secret: keys.secret(for: webhook.id), signingKey: keys.signingKey),
            forHTTPHeaderField: "webhook-signature")
        var statusCode: Int?
        var failure: String?
        do {
            let (_, response) = try await Self.session.data(for: request)
            statusCode = (response as? HTTPURLResponse)?.statusCode
        } catch {
            failure = "no answer: \(error.localizedDescription)"
        }
        let finished = service.now
        let attempt = DeliveryAttempt(
            at: started, statusCode: statusCode, error: failure ?? statusCode.flatMap { (200..<300).contains($0) ? nil : "HTTP \($0)" },
            durationMilliseconds: finished - started)
        let outcome: DeliveryOutcome
        switch statusCode {
        case let code? where (200..<300).contains(code): outcome = .delivered
        case 410?: outcome = .disabled
        default:
            let backoff = min(configuration.webhookMaximumBackoffMilliseconds, configuration.webhookFirstBackoffMilliseconds << min(record.attempts, 30))
            let next = finished + backoff
            outcome = next - message.createdAt > configuration.webhookRetryWindowMilliseconds ? .failed : .retry(at: next)
        }
        do {
            try await service.webhooks.record(attempt, of: message.id, outcome: outcome)
            if outcome == .disabled {
                try await service.webhooks.disable(subscription: webhook.id, at: finished, reason: "\(webhook.spec.url) answered 410 Gone")
                logger.warning("webhook endpoint disabled: it answered 410 Gone", metadata: ["webhook": .string(webhook.id)])
            }
        } catch {
            logger.error("could not record a webhook delivery", metadata: ["error": .string("\(error)"), "message": .string(message.id)])
        }
        metrics.webhookDelivery(outcome: outcome, type: message.type)
    }
}

/// The webhook secrets, derived from the ledger key: never stored, never logged.
struct WebhookKeys: Sendable {
    let ledger: any LedgerStore
    let signingKey: Ed25519.SigningKey

    init?(ledger: any LedgerStore) {
        guard var seed = ledger.derivedSecret(purpose: StandardWebhooks.signingKeyPurpose) else { return nil }
        signingKey = StandardWebhooks.signingKey(seed: seed)
        secureZero(&seed)
        self.ledger = ledger
    }

    func secret(for subscription: String) -> [UInt8] { ledger.derivedSecret(purpose: StandardWebhooks.secretPurpose(subscription)) ?? [] }
}

/// Sends, once each, the reminders and escalations the workflows ask for (one digest per person per subscription) and
/// the overdue retrospectives.
struct NotificationScheduler: Service {
    let service: SignoffService
    let intervalSeconds: Int64
    let logger: Logger

    func run() async throws {
        await repeatUntilShutdown(everySeconds: intervalSeconds) {
            do { try await Self.sendDue(service) } catch {
                logger.error("could not schedule reminders", metadata: ["error": .string("\(error)")])
            }
        }
    }

    /// Enqueues what is due now and not sent before; returns how many messages.
    @discardableResult
    static func sendDue(_ service: SignoffService) async throws -> Int {
        let state = try await service.state()
        let now = service.now
        let subscriptions = state.webhooks.values.filter(\.isActive).sorted { $0.id < $1.id }
        guard !subscriptions.isEmpty else { return 0 }
        let overdue = Reminders.overdueRetrospectives(in: state, now: now)
        let due = Reminders.due(in: state, now: now)
        // Marked sent and queued in one transaction: a crash between the two can neither lose a reminder nor repeat one.
        let count = try await service.webhooks.enqueueOnce(overdue.map(\.key) + due.map(\.key), at: now) { fresh in
            var messages: [OutboxMessage] = []
            for (key, notification) in overdue where fresh.contains(key) {
                messages += OutboxMessage.route([notification], state: state, now: now)
            }
            let send = due.filter { fresh.contains($0.key) }
            for kind in [Reminders.Due.Kind.reminder, .escalation] {
                let type = kind == .reminder ? NotificationType.reminder : .escalation
                for subscription in subscriptions where subscription.spec.events.contains(type.rawValue) {
                    let mine = send.filter { due in due.kind == kind && (subscription.spec.project.map { due.item.project == $0 } ?? true) }
                    for (person, items) in Dictionary(grouping: mine, by: \.person).sorted(by: { $0.key < $1.key }) {
                        let digest = Reminders.digest(kind, for: person, items: items.map(\.item), project: subscription.spec.project, now: now)
                        messages.append(OutboxMessage(id: OutboxMessage.newID(), subscription: subscription.id, type: type.rawValue, notification: digest.json, createdAt: now))
                    }
                }
            }
            return messages
        }
        if count > 0 { service.changes.signal() }
        return count
    }
}
