import Foundation

import Hummingbird
import NIOCore
import Prometheus
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffService
import SignoffTestSupport
import Synchronization
import Testing

/// Issue 23: a webhook is not delivered to a loopback, private or link-local address unless both the subscription
/// (`allow_private`) and the server (`--webhook-allow-private`) allow it — judged again at delivery, on the addresses the
/// host resolves to then (against DNS rebinding).
@Suite("Webhook targets at delivery")
struct WebhookTargetTests {
    final class Hits: Sendable {
        private let count = Mutex(0)
        func increment() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    @Test("A name that resolves to 127.0.0.1 at delivery is refused; allow_private to 127.0.0.1 is delivered only by a server run with --webhook-allow-private")
    func rebindingAndSwitches() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        // A receiver on loopback: it counts what reaches it.
        let hits = Hits()
        let router = Router()
        router.post("/hook") { _, _ -> HTTPResponse.Status in
            hits.increment()
            return .noContent
        }
        let listening = ListeningPort()
        let receiver = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { listening.set($0.localAddress?.port) },
            logger: quietLogger)
        // On a thread of its own: the cooperative pool may be held by CPU-heavy suites for over a minute.
        let executor = DedicatedThreadExecutor(name: "webhook-receiver")
        let running = Task(executorPreference: executor) { try await receiver.runService(gracefulShutdownSignals: []) }
        defer {
            running.cancel()
            executor.stop(after: running)
        }
        let deadline = ContinuousClock.now + .seconds(180)
        while listening.port == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let port = try #require(listening.port, "the receiver did not start")

        // At subscription the engine sees a public name, and a loopback address meant as such.
        let admin = Cast.administrator.name
        try await f.must(.addWebhook(WebhookSpec(url: "https://hooks.example.test:\(port)/hook", project: nil, events: ["request.filed"], format: .standard)), as: admin)
        try await f.must(
            .addWebhook(WebhookSpec(url: "http://127.0.0.1:\(port)/hook", project: nil, events: ["request.filed"], format: .standard, allowPrivate: true)), as: admin)
        guard case .failure(let refusal) = try await f.database.execute(
            .addWebhook(WebhookSpec(url: "http://127.0.0.1:\(port)/hook", project: nil, events: ["request.filed"], format: .standard)), as: admin)
        else { Issue.record("a loopback URL without allow_private was accepted"); return }
        #expect(refusal.rule == "webhook.private-target")

        let notification = SignoffCore.Notification(
            type: .requestFiled, project: Cast.project, environment: "qa", actor: "riley", summary: "filed", link: "/v1/requests/REQ-1", time: f.database.now)
        try await f.database.webhooks.enqueue(["WH-1", "WH-2"].map {
            OutboxMessage(id: OutboxMessage.newID(), subscription: $0, type: "request.filed", notification: notification.json, createdAt: f.database.now)
        })
        // In subscription order (the outbox orders by message id, which is random).
        let records = try await f.database.webhooks.due(now: f.database.now, limit: 10).sorted { $0.message.subscription < $1.message.subscription }
        try #require(records.map(\.message.subscription) == ["WH-1", "WH-2"])
        let state = try await f.database.state()
        let keys = try #require(try WebhookKeys(signer: f.database.storage.signer))
        // The attacker's DNS answers 127.0.0.1 at delivery time.
        var configuration = ServerConfiguration()
        configuration.webhookResolver = { host in host == "hooks.example.test" ? [[127, 0, 0, 1]] : try await SystemResolver.resolve(host) }
        func deliverAll(_ configuration: ServerConfiguration) async {
            let delivery = WebhookDeliveryService(service: f.database, configuration: configuration, metrics: SignoffMetrics(registry: .init()), logger: quietLogger)
            for record in records { await delivery.deliver(record, webhook: state.webhooks[record.message.subscription], keys: keys) }
        }

        // A server without --webhook-allow-private: neither is sent; each attempt says why, and nothing of the port.
        await deliverAll(configuration)
        #expect(hits.value == 0, "nothing reached the loopback receiver")
        for (id, record) in zip(["WH-1", "WH-2"], records) {
            let attempts = try await f.database.webhooks.attempts(of: record.message.id)
            #expect(attempts.count == 1 && attempts[0].statusCode == nil, "\(id): \(attempts)")
            let reason = attempts.first?.error ?? ""
            #expect(reason.hasPrefix("refused: the target resolves to a private address"), "\(id): \(reason)")
            #expect(!reason.contains(String(port)) && !reason.contains("HTTP") && !reason.contains("connect"), "no port status: \(reason)")
            #expect(try await f.database.webhooks.delivery(record.message.id)?.status == .pending, "retried later")
        }

        // With --webhook-allow-private: the subscription that says allow_private is delivered; the rebound name still not.
        configuration.webhookAllowPrivate = true
        await deliverAll(configuration)
        #expect(hits.value == 1)
        let meant = try await f.database.webhooks.attempts(of: records[1].message.id)
        #expect(try await f.database.webhooks.delivery(records[1].message.id)?.status == .delivered, "\(meant)")
        let rebound = try await f.database.webhooks.attempts(of: records[0].message.id)
        #expect(rebound.count == 2 && rebound.allSatisfy { $0.error?.contains("allow_private") == true }, "\(rebound)")
    }

    @Test("The system resolver reads numbers as addresses and names through getaddrinfo")
    func systemResolver() async throws {
        #expect(try await SystemResolver.resolve("127.0.0.1") == [[127, 0, 0, 1]])
        #expect(try await SystemResolver.resolve("2130706433").contains([127, 0, 0, 1]), "inet_aton's forms, as the HTTP client reads them")
        #expect(try await SystemResolver.resolve("localhost").allSatisfy { PrivateNetwork.range(of: $0) != nil })
        await #expect(throws: SystemResolver.Failure.self) { try await SystemResolver.resolve("no-such-host.invalid") }
    }
}
