import Foundation
import Hummingbird
import Logging
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// Webhook subscriptions (ledger entries, administrators), their deliveries (the outbox's log) and the key that
/// verifies `v1a` signatures.
struct WebhooksController {
    let handlers: Handlers

    var routes: RouteCollection<SignoffRequestContext> {
        let routes = RouteCollection(context: SignoffRequestContext.self)
        let h = handlers
        routes.get("/webhooks") { _, context -> Response in
            let state = try await h.directoryReader(context)
            let disabled = try await h.service.webhooks.disabledSubscriptions()
            return try h.json(ItemList(Directory.webhooks(in: state, disabled: disabled)))
        }
        routes.post("/webhooks") { request, context -> Response in
            let b = try await request.decode(as: WebhookBody.self, context: context)
            let subscription = WebhookSpec(url: b.url, project: b.project, events: b.events, format: b.format ?? .standard, allowPrivate: b.allow_private ?? false)
            // An administrator, or one of the project's administrators for their project's own subscription (the engine
            // decides the rest, signatures included).
            try await h.requireAdministratorSession(context, orProjectAdministratorFor: .addWebhook(subscription))
            // The secret is derived from the ledger key: a server without it could not sign what it sends.
            guard let keys = try WebhookKeys(signer: h.service.storage.signer) else {
                throw Problem(.serviceUnavailable, type: "unavailable", title: "Cannot sign webhooks",
                    detail: "this server does not hold the ledger key, which webhook secrets are derived from; start it with the ledger passphrase")
            }
            let spec = subscription
            let command = Command.addWebhook(spec, approval: b.approval)
            let entries: [LedgerEntry]
            let call = context.idempotency?.call { entries in
                Handlers.secretShownOnce(
                    "the subscription was added by the first call with this Idempotency-Key (entry \(entries.first.map { "#\($0.sequence)" } ?? "")), and its secret is shown once: remove it and add it again"
                )
            }
            switch try await h.service.execute(command, as: try h.principal(context), idempotency: call) {
            case .success(let appended): entries = appended
            case .failure(let refusal):
                h.metrics.refusal(refusal.rule)
                throw Problem.refused(refusal)
            }
            let recorded = RecordedResponse(entries: entries, command: command)
            // The subscription this command added (not one added at the same moment by another).
            guard let first = entries.first, case .webhookAdded(let added)? = try? Event.decode(kind: first.kind, payload: first.payload),
                let webhook = try await h.service.state().webhooks[added.id]
            else { throw Problem.refused(.internalError, "the subscription was recorded but cannot be read back") }
            let id = webhook.id
            context.logger.info("webhook added", metadata: ["webhook": .string(id)])
            return try h.json(
                WebhookCreated(
                    webhook: WebhookView(webhook), secret: StandardWebhooks.secretText(keys.secret(for: id)),
                    public_key: StandardWebhooks.publicKeyText(keys.signingKey), entries: recorded.entries),
                status: .created)
        }
        routes.post("/webhooks/{id}/remove") { request, context -> Response in
            let b = try await request.decode(as: ApprovalBody.self, context: context)
            return try await h.respond(.removeWebhook(id: try h.parameter("id", context), approval: b.approval), context)
        }
        routes.post("/webhooks/{id}/enable") { _, context -> Response in
            try await h.requireAdministratorSession(context)
            let id = try h.parameter("id", context)
            guard try await h.service.state().webhooks[id] != nil else { throw Problem.notFound("no webhook \(id)") }
            guard try await h.service.webhooks.enable(subscription: id, now: h.service.now) else { throw Problem.conflict("webhook \(id) is not disabled") }
            h.service.changes.signal()
            context.logger.info("webhook enabled", metadata: ["webhook": .string(id)])
            return try h.json(["enabled": id])
        }
        routes.get("/webhooks/signing-key") { _, context -> Response in
            _ = try h.principal(context)
            guard let keys = try WebhookKeys(signer: h.service.storage.signer) else { throw Problem.notFound("this server does not sign webhooks (it does not hold the ledger key)") }
            return try h.json(["public_key": StandardWebhooks.publicKeyText(keys.signingKey)])
        }
        routes.get("/webhooks/deliveries") { request, context -> Response in
            _ = try await h.directoryReader(context)
            let q = request.uri.queryParameters
            var status: DeliveryRecord.Status?
            if let text = q.get("status") {
                guard let parsed = DeliveryRecord.Status(rawValue: text) else {
                    throw Problem.badRequest("status must be one of \(DeliveryRecord.Status.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                status = parsed
            }
            let limit = min(1000, max(1, q.get("limit").flatMap { Int($0) } ?? 100))
            let records = try await h.service.webhooks.deliveries(subscription: q.get("subscription"), status: status, limit: limit)
            return try h.json(ItemList(records.map { DeliveryView($0) }))
        }
        routes.get("/webhooks/deliveries/{id}") { _, context -> Response in
            _ = try await h.directoryReader(context)
            let id = try h.parameter("id", context)
            guard let record = try await h.service.webhooks.delivery(id) else {
                throw Problem.notFound("no delivery \(id)")
            }
            return try h.json(DeliveryView(record, attempts: try await h.service.webhooks.attempts(of: id)))
        }
        routes.post("/webhooks/deliveries/{id}/redeliver") { _, context -> Response in
            try await h.requireAdministratorSession(context)
            let id = try h.parameter("id", context)
            guard try await h.service.webhooks.redeliver(id, now: h.service.now) else { throw Problem.notFound("no delivery \(id)") }
            h.service.changes.signal()
            context.logger.info("webhook redelivery", metadata: ["message": .string(id)])
            return try h.json(["redelivering": id])
        }
        return routes
    }
}

extension Handlers {
    /// Operational changes outside the ledger (redelivering, enabling an endpoint): an administrator's own session.
    func requireAdministratorSession(_ context: SignoffRequestContext, orProjectAdministratorFor command: Command? = nil) async throws {
        let caller = try principal(context)
        let state = try await service.state()
        let projectAdministrator = command.map { ProjectAdministration.mayMake($0, state: state, actor: caller) } ?? false
        guard context.token?.kind == .session, state.principals[caller]?.isAdministrator == true || projectAdministrator else {
            throw Problem.forbidden("only an administrator, logged in with their key, may do this", rule: .adminRequired)
        }
    }
}
