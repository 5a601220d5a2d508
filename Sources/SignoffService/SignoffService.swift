public import Foundation
public import SignoffAudit
public import SignoffCore
public import SignoffCrypto
public import SignoffLedger

/// The engine over storage: every command's events are appended to the ledger and folded into the projection in
/// the same transaction. Concurrent commands are group-committed (``GroupCommit``): each is evaluated against the
/// state left by the ones before it in the round. Knows nothing of SQLite or PostgreSQL: only ``SignoffStorage``.
public final class SignoffService: Sendable {
    public let storage: SignoffStorage
    private let writer: GroupCommit<Submission, Outcome>
    /// Bumped after every command that appended something: what long polls wait on.
    public let changes = ChangeSignal()
    /// The newest full verification of the ledger by this process (``verifyLedger()``).
    public let verification = LedgerVerificationRecord()

    /// The outcome of one command: its ledger entries, or the engine's refusal.
    public typealias Outcome = Result<[LedgerEntry], Refusal>

    struct Submission: Sendable {
        let command: Command
        let actor: String
        let verified: Set<VerifiedSignature>
    }

    public init(storage: SignoffStorage, maximumBatch: Int = 1024) {
        self.storage = storage
        let projection = storage.projection
        let ledger = storage.ledger
        writer = GroupCommit(maximumBatch: maximumBatch) { submissions in
            try await Self.commit(submissions, projection: projection, now: ledger.now).map { .success($0) }
        }
    }

    public var ledger: any LedgerStore { storage.ledger }
    public var auth: any AuthStore { storage.auth }
    public var webhooks: any WebhookStore { storage.webhooks }
    public var evidence: any EvidenceStore { storage.evidence }

    /// Runs `command` as `actor` now; returns once its events are durable (or it was refused).
    public func execute(_ command: Command, as actor: String) async throws -> Outcome {
        // Signature arithmetic happens here, concurrently, not inside the single writer. A slightly older state is
        // good enough: the engine checks again, inside the writer, whatever this did not verify.
        let verified = Engine.preverify(command, state: try await storage.projection.recentState(), actor: actor)
        let outcome = try await writer.submit(Submission(command: command, actor: actor, verified: verified))
        if case .success(let entries) = outcome {
            try await endTokens(after: command, entries: entries)
            if !entries.isEmpty { changes.signal() }
        }
        return outcome
    }

    /// Revocation takes effect at once: revoking a key ends every session obtained with it, disabling a principal ends
    /// all their tokens. (The server also checks both on every request.)
    private func endTokens(after command: Command, entries: [LedgerEntry]) async throws {
        switch command {
        case .revokeKey:
            // The key, and what a compromised key vouched for (``Engine/compromiseReach``): every `key.revoked` entry.
            for entry in entries where entry.kind == "key.revoked" {
                guard case .keyRevoked(let e)? = try? Event.decode(kind: entry.kind, payload: entry.payload) else { continue }
                _ = try await storage.auth.revokeTokens(principal: e.principal, keyFingerprint: Ed25519.PublicKey.fingerprintHex(e.fingerprint), now: now)
            }
        case .disablePrincipal(let name, _):
            _ = try await storage.auth.revokeTokens(principal: name, keyFingerprint: nil, now: now)
        case .revokeToken(let id, _, _):
            _ = try await storage.auth.revokeToken(id: id, now: now)
        default: break
        }
    }

    /// One round of the writer: every command evaluated on the state the previous ones left, in one transaction.
    private static func commit(_ submissions: [Submission], projection: any ProjectionStore, now: Int64) async throws -> [Outcome] {
        let (entries, outcomes) = try await projection.commit(now: now) { state -> ProjectionChange<[Result<Int, Refusal>]> in
            var outcomes: [Result<Int, Refusal>] = []
            var drafts: [EntryDraft] = []
            var touched = Set<String>()
            var outbox: [OutboxMessage] = []
            for item in submissions {
                let result = Engine.execute(item.command, on: state, actor: item.actor, now: now, verified: item.verified)
                switch result {
                case .success(let events):
                    for event in events {
                        state.apply(event, actor: item.actor, at: now)
                        drafts.append(EntryDraft(event, actor: item.actor, on: state))
                        touched.formUnion(SignoffState.documentKeys(touchedBy: event))
                    }
                    // Who should hear of it: queued in this same transaction, so a rolled-back command sends nothing.
                    if !state.webhooks.isEmpty {
                        outbox += OutboxMessage.route(Notifications.of(events, actor: item.actor, state: state, now: now), state: state, now: now)
                    }
                    outcomes.append(.success(events.count))
                case .failure(let refusal):
                    outcomes.append(.failure(refusal))
                }
            }
            return ProjectionChange(drafts: drafts, touchedDocuments: touched, result: outcomes, outbox: outbox)
        }
        // Hand each command the entries of its own events.
        var cursor = 0
        return outcomes.map { outcome in
            outcome.map { count in
                defer { cursor += count }
                return Array(entries[cursor..<cursor + count])
            }
        }
    }

    /// The current state (users, projects, requests, …).
    public func state() async throws -> SignoffState { try await storage.projection.state() }

    /// The current state as far as one request is concerned (see ``ProjectionStore/state(focusedOn:)``).
    public func state(focusedOn request: String) async throws -> SignoffState { try await storage.projection.state(focusedOn: request) }

    /// The current time by the store's clock.
    public var now: Int64 { storage.ledger.now }

    /// Replays the whole ledger and compares it with the stored projection.
    public func verifyProjection() async throws -> LedgerVerificationFailure? { try await storage.projection.verifyProjection() }

    /// Exports the entries matching `filter` up to the newest signed checkpoint into `directory`.
    public func exportAudit(
        filter: AuditExportFilter, documents: Bool = false, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> AuditReport {
        try await storage.ledger.exportAudit(filter: filter, documents: documents, to: directory, progress: progress)
    }

    /// Appends events that ``Engine`` has already produced, command by command, on an in-memory copy of this
    /// service's state (`state` is that copy after the events), and updates the projection as ``execute(_:as:)``
    /// does; every event was folded at time `now`, which becomes the entries' time. It authorizes nothing itself, so it
    /// is for tools that build large ledgers (the benchmark), not the API.
    @_spi(Bench) public func appendDecided(_ events: [(event: Event, actor: String)], state: SignoffState, at now: Int64) async throws {
        let drafts = events.map { EntryDraft($0.event, actor: $0.actor, on: state) }
        var touched = Set<String>()
        for (event, _) in events { touched.formUnion(SignoffState.documentKeys(touchedBy: event)) }
        let change = ProjectionChange(drafts: drafts, touchedDocuments: touched, result: ())
        _ = try await storage.projection.commit(now: now) { current in
            current = state
            return change
        }
    }
}

extension SignoffService {
    /// The tokens `actor` may see: an administrator (acting with their own session, `asAdministrator`) every one,
    /// anyone else their own.
    public func tokens(visibleTo actor: String, asAdministrator: Bool) async throws -> [TokenRecord] {
        let isAdministrator = try await state().principals[actor]?.isAdministrator == true
        return try await auth.tokens(principal: asAdministrator && isAdministrator ? nil : actor, now: now)
    }

    /// Revokes token `id` for `actor`: their own plainly; another principal's only as an administrator (acting with
    /// their own session, `asAdministrator`), as an administrative change — recorded in the ledger and, in a regulated
    /// ledger, signed (`approval`). Nil when there is no such token `actor` may revoke; the engine's refusal when it
    /// refuses.
    public func revokeToken(_ id: String, by actor: String, asAdministrator: Bool, approval: DSSEEnvelope? = nil) async throws -> Result<TokenRecord, Refusal>? {
        guard let token = try await auth.token(id: id) else { return nil }
        if token.principal == actor {
            _ = try await auth.revokeToken(id: id, now: now)
            return .success(token)
        }
        guard asAdministrator, try await state().principals[actor]?.isAdministrator == true else { return nil }
        switch try await execute(.revokeToken(id: id, principal: token.principal, approval: approval), as: actor) {
        case .success: return .success(token)
        case .failure(let refusal): return .failure(refusal)
        }
    }
}

extension EntryDraft {
    /// The entry for `event`, its header naming the request's project and environment as `state` (after the event) has them.
    public init(_ event: Event, actor: String, on state: SignoffState) {
        let scope = state.entryScope(of: event)
        self.init(kind: event.kind, project: scope.project, environment: scope.environment, actor: actor, payload: event.payload)
        request = event.request
    }
}
