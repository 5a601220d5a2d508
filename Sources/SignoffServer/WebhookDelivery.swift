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
        guard let keys = try WebhookKeys(signer: service.storage.signer) else {
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
        // Against DNS rebinding: the addresses the host has now, judged as the engine judged the URL, just before connecting.
        if let refused = await refusedTarget(url, allowPrivate: webhook.spec.allowPrivate) {
            let outcome = await recordFailure(
                record, attempt: DeliveryAttempt(at: started, statusCode: nil, error: refused, durationMilliseconds: service.now - started))
            logger.warning("webhook delivery refused", metadata: ["webhook": .string(webhook.id), "reason": .string(refused)])
            metrics.webhookDelivery(outcome: outcome, type: message.type)
            return
        }
        let secret: [UInt8]
        do { secret = try keys.secret(for: webhook.id) } catch {
            let outcome = await recordFailure(
                record, attempt: DeliveryAttempt(at: started, statusCode: nil, error: "the webhook secret cannot be derived", durationMilliseconds: 0))
            logger.error("webhook secret cannot be derived", metadata: ["webhook": .string(webhook.id)])
            metrics.webhookDelivery(outcome: outcome, type: message.type)
            return
        }
        // People named by the message are mentioned by their chat handles (read now: a handle set since the event counts).
        let handles = webhook.spec.format == .standard ? [:] : ((try? await service.allChatHandles()) ?? [:])
        let body = WebhookRendering.body(notification, format: webhook.spec.format, publicURL: configuration.publicURL, handles: handles, webhook: webhook.id)
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
            StandardWebhooks.signature(id: message.id, timestamp: timestamp, body: body, secret: secret, signingKey: keys.signingKey),
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

    /// Why `url` may not be connected to now, or nil: its host resolves (``ServerConfiguration/webhookResolver``) to a
    /// loopback, private or link-local address (``PrivateNetwork``) and not both the subscription (`allow_private`) and
    /// the server (`--webhook-allow-private`) allow that. The reason names no port and no status: a refused target
    /// must not tell whether anything listens there.
    func refusedTarget(_ url: URL, allowPrivate: Bool) async -> String? {
        guard var host = url.host, !host.isEmpty else { return "refused: the URL has no host" }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let addresses: [[UInt8]]
        do { addresses = try await configuration.webhookResolver(host) } catch { return "no answer: the host name does not resolve" }
        guard !addresses.isEmpty else { return "no answer: the host name does not resolve" }
        let inward = PrivateNetwork.range(ofHost: host) != nil || addresses.contains { PrivateNetwork.range(of: $0) != nil }
        guard inward else { return nil }
        if allowPrivate && configuration.webhookAllowPrivate { return nil }
        return allowPrivate
            ? "refused: the target resolves to a private address, and this server was not started with --webhook-allow-private"
            : "refused: the target resolves to a private address (the subscription does not say allow_private)"
    }

    /// Records a failed attempt: retried with backoff for the retry window, then failed.
    private func recordFailure(_ record: DeliveryRecord, attempt: DeliveryAttempt) async -> DeliveryOutcome {
        let backoff = min(configuration.webhookMaximumBackoffMilliseconds, configuration.webhookFirstBackoffMilliseconds << min(record.attempts, 30))
        let next = service.now + backoff
        let outcome: DeliveryOutcome = next - record.message.createdAt > configuration.webhookRetryWindowMilliseconds ? .failed : .retry(at: next)
        do { try await service.webhooks.record(attempt, of: record.message.id, outcome: outcome) } catch {
            logger.error("could not record a webhook delivery", metadata: ["error": .string("\(error)"), "message": .string(record.message.id)])
        }
        return outcome
    }
}

/// Resolves a webhook's host to the addresses a connection would use: 4 bytes (IPv4) or 16 (IPv6) each.
public typealias WebhookResolver = @Sendable (_ host: String) async throws -> [[UInt8]]

/// The system's resolver (`getaddrinfo`, as the HTTP client resolves), on a thread of its own: it blocks, and the
/// cooperative pool must not.
public enum SystemResolver {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    @Sendable public static func resolve(_ host: String) async throws -> [[UInt8]] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try lookup(host) }) }
        }
    }

    static func lookup(_ host: String) throws -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else { throw Failure(description: String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(list) }
        var addresses: [[UInt8]] = []
        var next = list
        while let info = next {
            if let address = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var inAddr = v4.pointee.sin_addr
                        addresses.append(withUnsafeBytes(of: &inAddr) { Array($0) })
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var in6Addr = v6.pointee.sin6_addr
                        addresses.append(withUnsafeBytes(of: &in6Addr) { Array($0) })
                    }
                default: break
                }
            }
            next = info.pointee.ai_next
        }
        return addresses
    }
}

/// The webhook secrets, derived from the ledger key: never stored, never logged.
struct WebhookKeys: Sendable {
    let signer: any Signer
    let signingKey: Ed25519.SigningKey

    init?(signer: (any Signer)?) throws {
        guard let signer else { return nil }
        var seed = try signer.derivedSecret(purpose: StandardWebhooks.signingKeyPurpose)
        signingKey = StandardWebhooks.signingKey(seed: seed)
        secureZero(&seed)
        self.signer = signer
    }

    func secret(for subscription: String) throws -> [UInt8] { try signer.derivedSecret(purpose: StandardWebhooks.secretPurpose(subscription)) }
}

/// Sends, once each, the reminders and escalations the workflows ask for (one digest per person per subscription) and
/// the overdue retrospectives.
struct NotificationScheduler: Service {
    let service: SignoffService
    let intervalSeconds: Int64
    let metrics: SignoffMetrics
    let logger: Logger

    func run() async throws {
        await repeatUntilShutdown(everySeconds: intervalSeconds) {
            guard await service.leadership.isLeader() else { return }
            do {
                try await Self.sendDue(service)
                metrics.schedulerRan()
            } catch {
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
