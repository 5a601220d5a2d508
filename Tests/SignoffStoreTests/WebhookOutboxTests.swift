import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
@testable import SignoffStore
import SignoffService
import SignoffTestSupport
import Testing

/// The outbox is written in the transaction of the entries it tells of: both or neither.
@Suite("Webhook outbox")
struct WebhookOutboxTests {
    static func message(_ id: String) -> OutboxMessage {
        OutboxMessage(id: id, subscription: "WH-raw", type: "request.filed", notification: Array("{}".utf8), createdAt: 1)
    }

    @Test("A transaction that fails after its entries and messages were written leaves neither; a refused command queues nothing")
    func rolledBackCommandEnqueuesNothing() async throws {
        let f = try LedgerFixture()
        defer { try? FileManager.default.removeItem(at: f.directory) }
        let storage = f.storage
        let draft = EntryDraft(kind: "test.event", actor: "ada", payload: Array("{}".utf8))
        _ = try await storage.unitOfWork.write { tx in
            _ = try tx.append([draft])
            try tx.enqueue([Self.message("msg_a")])
        }
        #expect(try await storage.ledger.size() == 1)
        #expect(try await storage.webhooks.deliveries(subscription: nil, status: nil, limit: 100).map(\.message.id) == ["msg_a"])
        // The second transaction's message collides with the first (a primary key): it fails after appending.
        await #expect(throws: (any Error).self) {
            _ = try await storage.unitOfWork.write { tx in
                _ = try tx.append([draft, draft])
                try tx.enqueue([Self.message("msg_b"), Self.message("msg_a")])
            }
        }
        #expect(try await storage.ledger.size() == 1, "the entries rolled back")
        #expect(try await storage.webhooks.deliveries(subscription: nil, status: nil, limit: 100).map(\.message.id) == ["msg_a"], "and so did the messages")

        // Through the service: a subscription, then a refused command and an accepted one in the same writer.
        let service = SignoffService(storage: storage)
        let ada = Ed25519.SigningKey()
        _ = try await service.execute(.initializeLedger(origin: "signoff.test/ledger", ledgerKey: f.store.verifierKey), as: Engine.systemActor)
        _ = try await service.execute(.bootstrapAdministrator(name: "ada", key: try NoteVerifierKey(name: "ada", publicKey: ada.publicKey)), as: Engine.systemActor)
        guard case .success = try await service.execute(.addWebhook(WebhookSpec(url: "https://hooks.example/", project: nil, events: ["key.revoked"], format: .standard)), as: "ada")
        else { Issue.record("subscription refused"); return }
        async let refused = service.execute(.revokeKey(principal: "ada", fingerprint: ada.publicKey.fingerprint), as: "nobody")
        async let group = service.execute(.createGroup(name: "ops"), as: "ada")
        let (refusedOutcome, groupOutcome) = try await (refused, group)
        #expect(refusedOutcome.isFailure && !groupOutcome.isFailure)
        #expect(try await storage.webhooks.deliveries(subscription: "WH-1", status: nil, limit: 100).isEmpty, "a refused revocation tells nobody")
        let bob = Ed25519.SigningKey()
        _ = try await service.execute(.addUser(name: "bob", administrator: false, key: try NoteVerifierKey(name: "bob", publicKey: bob.publicKey)), as: "ada")
        guard case .success = try await service.execute(.revokeKey(principal: "bob", fingerprint: bob.publicKey.fingerprint), as: "bob") else {
            Issue.record("revocation refused"); return
        }
        let queued = try await storage.webhooks.deliveries(subscription: "WH-1", status: .pending, limit: 100)
        #expect(queued.map(\.message.type) == ["key.revoked"])
    }

    @Test("Scheduled notifications are marked sent and queued in one transaction: each key once, and a failed queueing marks nothing")
    func scheduledOnce() async throws {
        let f = try LedgerFixture()
        defer { try? FileManager.default.removeItem(at: f.directory) }
        let webhooks = f.storage.webhooks
        let first = try await webhooks.enqueueOnce(["reminder/a", "reminder/b"], at: 1) { fresh in
            fresh.sorted().map { Self.message("msg_\($0.dropFirst("reminder/".count))") }
        }
        #expect(first == 2)
        // The same keys again: nothing fresh, nothing queued.
        let again = try await webhooks.enqueueOnce(["reminder/a", "reminder/b"], at: 2) { fresh in fresh.map { _ in Self.message("msg_never") } }
        #expect(again == 0)
        // A queueing that fails (a message ID already taken) rolls back the marks: the next run sends it.
        await #expect(throws: (any Error).self) {
            _ = try await webhooks.enqueueOnce(["reminder/c"], at: 3) { _ in [Self.message("msg_a")] }
        }
        let retried = try await webhooks.enqueueOnce(["reminder/c"], at: 4) { fresh in fresh.map { _ in Self.message("msg_c") } }
        #expect(retried == 1)
        #expect(try await webhooks.deliveries(subscription: nil, status: nil, limit: 100).map(\.message.id).sorted() == ["msg_a", "msg_b", "msg_c"])
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { true } else { false } }
}
