import Foundation
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffServer
import SignoffService

/// The CLI on a local database: the engine runs here, through ``SignoffService``.
struct LocalClient: SignoffClient {
    var evidenceDocumentLimit: Int? { EvidenceDocument.defaultMaximumBytes }
    let service: SignoffService

    init(storage: SignoffStorage) { service = SignoffService(storage: storage) }

    var now: Int64 { service.now }

    func run(_ command: Command, as actor: String, strict: Bool) async throws -> RecordedResponse {
        // A command that writes signs a checkpoint after: a wrong ledger passphrase is refused before anything is written.
        try service.storage.signer?.open()
        // Locally there is no server to expire stale requests: the next command does, as the system, first.
        if Engine.hasStaleRequests(try await service.state(), now: now),
            case .success(let entries) = try await service.execute(.expireStale, as: Engine.systemActor), !entries.isEmpty
        {
            printNotice("expired \(entries.count) request(s) idle longer than their workflow's request_expiry")
        }
        let gaps = try await service.staffingGaps(command, as: actor)
        if strict, !gaps.isEmpty {
            let refusal = Staffing.refusal(gaps)
            throw CLIError.refused(refusal.rule, refusal.message)
        }
        switch try await service.execute(command, as: actor) {
        case .success(let entries):
            try await finish()
            var recorded = RecordedResponse(entries: entries, command: command)
            if !gaps.isEmpty { recorded.warnings = gaps.map(\.description) }
            return recorded
        case .failure(let refusal):
            throw CLIError.refused(refusal.rule, refusal.message)
        }
    }

    /// Signs a checkpoint over what a command appended, when the ledger key is available.
    private func finish() async throws {
        let ledger = service.ledger
        if service.publisher.signs {
            try await service.signCheckpoint()
        } else if let checkpoint = try await ledger.latestCheckpoint(), checkpoint.checkpoint.size < (try await ledger.size()) {
            printNotice("entries after \(checkpoint.checkpoint.size) await a signed checkpoint; the ledger's operator runs `signoff checkpoint --sign`")
        }
    }

    /// The request and the state around it (read in time that does not grow with the ledger).
    private func focused(_ id: String) async throws -> (DeploymentRequest, SignoffState) {
        let state = try await service.state(focusedOn: id)
        guard let request = state.requests[id] else { throw CLIError.badInput("no request \(id); `signoff list` shows the requests") }
        return (request, state)
    }

    func request(_ id: String) async throws -> RequestView { RequestView(try await focused(id).0) }

    func explain(_ id: String, as actor: String) async throws -> ExplanationView {
        let (request, state) = try await focused(id)
        guard let explanation = Engine.explain(request.id, state: state, now: now) else {
            throw CLIError.failure("the workflow of \(id) is missing from the database; run `signoff audit verify --db`")
        }
        return ExplanationView(
            explanation, awaitingCaller: Policy.awaiting(request, principal: actor, state: state), awaitingFor: Policy.awaiting(request, delegate: actor, state: state, now: now))
    }

    func accessReview(project: String, environment: String?, at: Int64?, from: Int64?, to: Int64?, as actor: String) async throws -> AccessReviewView {
        let state = try await service.state()
        guard AccessReview.mayReview(project: project, principal: actor, state: state) else {
            throw CLIError.refused("admin.required", "only administrators, auditors and \(project)'s administrators review its access")
        }
        guard let definition = state.projects[project] else { throw CLIError.badInput("no project \(project)") }
        if let environment, definition.environments[environment] == nil { throw CLIError.badInput("\(project) has no environment \(environment)") }
        let review = try await service.accessReview(project: project, environment: environment, at: at, from: from, to: to)
        return AccessReviewView(project: project, environment: environment, now: review.now, then: review.then, period: review.period)
    }

    func directories() async throws -> [DirectoryView] {
        let state = try await service.state()
        return state.directories.values.sorted { $0.name < $1.name }.map { DirectoryView($0, state: state) }
    }

    func issuers() async throws -> [IssuerView] {
        try await service.state().issuers.values.sorted { $0.spec.name < $1.spec.name }.map(IssuerView.init)
    }

    func freezes() async throws -> [FreezeView] { Directory.freezes(in: try await service.state(), now: now) }

    func delegations() async throws -> [DelegationView] { Directory.delegations(in: try await service.state(), now: now) }

    func requests(_ query: RequestQuery) async throws -> [RequestSummary] {
        let state = try await service.state()
        if let problem = query.problem(in: state) { throw CLIError.badInput(problem) }
        return query.select(from: state, now: now)
    }

    var longPolls: Bool { false }

    func gate(_ target: GateTarget, environment: String, digest: SHA256Digest, wait: Int) async throws -> GateResponse {
        switch target {
        case .request(let id):
            let (request, state) = try await focused(id)
            return GateResponse(request: request, environment: environment, digest: digest, state: state, now: now)
        case .project(let project):
            let state = try await service.state()
            switch GateLookup.find(project: project, environment: environment, digest: digest, in: state) {
            case .success(let request): return GateResponse(request: request, environment: environment, digest: digest, state: state, now: now)
            case .failure(let failure): throw CLIError.badInput(failure.message)
            }
        }
    }

    func file(_ command: Command, reuse: Bool, as actor: String) async throws -> RecordedResponse {
        guard reuse, case .fileRequest(_, _, let bundle, let digest, _, _, _, let source) = command else { return try await run(command, as: actor) }
        switch GateLookup.carryOn(command, caller: actor, in: try await service.state(), now: now) {
        case .reuse(let reused)?: return RecordedResponse(reusing: reused.id)
        case .revise(let revised)?: return try await run(.revise(request: revised.id, bundle: bundle, digest: digest, source: source), as: actor)
        case nil: return try await run(command, as: actor)
        }
    }

    func deployments(project: String?, environment: String?) async throws -> [EnvironmentInventory] {
        Inventory.deployments(in: try await service.state(), now: now, project: project, environment: environment)
    }

    func uploadEvidence(_ request: String, digest: SHA256Digest, mediaType: String, content: [UInt8], as actor: String) async throws {
        let state = try await service.state()
        guard let r = state.requests[request], r.evidence.contains(where: { $0.digest == digest }) else {
            throw CLIError.badInput("\(request) has no evidence with digest \(digest)")
        }
        guard r.evidence.contains(where: { $0.digest == digest && $0.attachedBy == actor }) || state.principals[actor]?.isAdministrator == true else {
            throw CLIError.refused("evidence.attached-by", "only who attached this evidence (or an administrator) uploads its document")
        }
        guard SHA256Digest.hash(content) == digest, EvidenceDocument.mediaTypes.contains(mediaType) else { throw CLIError.badInput("not the document of \(digest)") }
        guard content.count <= EvidenceDocument.defaultMaximumBytes else {
            throw CLIError.badInput("the document is larger than \(EvidenceDocument.defaultMaximumBytes >> 20) MiB, the most an evidence document may be (the evidence is attached; keep the file elsewhere)")
        }
        _ = try await service.evidence.put(
            EvidenceDocument(project: r.project, digest: digest, mediaType: mediaType, content: content, uploadedBy: actor, uploadedAt: now))
    }

    func webhooks() async throws -> [WebhookView] {
        let disabled = try await service.webhooks.disabledSubscriptions()
        return Directory.webhooks(in: try await service.state(), disabled: disabled)
    }

    /// The webhook keys, derived from the ledger key: locally that needs the ledger's passphrase.
    private func webhookKeys() throws -> (secret: (String) -> [UInt8], signing: Ed25519.SigningKey) {
        guard let signer = service.storage.signer else {
            throw CLIError.badInput(
                "webhook secrets are derived from the ledger key: give its passphrase (--ledger-passphrase-file or SIGNOFF_LEDGER_PASSPHRASE), or use the server")
        }
        var seed = try signer.derivedSecret(purpose: StandardWebhooks.signingKeyPurpose)
        defer { secureZero(&seed) }
        // The key is open once the seed was derived: deriving a subscription's secret cannot fail after it.
        return ({ (try? signer.derivedSecret(purpose: StandardWebhooks.secretPurpose($0))) ?? [] }, StandardWebhooks.signingKey(seed: seed))
    }

    func addWebhook(_ command: Command, as actor: String) async throws -> WebhookCreated {
        let keys = try webhookKeys()
        let recorded = try await run(command, as: actor)
        let state = try await service.state()
        // The entry names the subscription it added.
        guard let sequence = recorded.entries.first?.sequence, let entry = try? await service.ledger.entry(at: sequence),
            case .webhookAdded(let added)? = try? Event.decode(kind: entry.kind, payload: entry.payload), let webhook = state.webhooks[added.id]
        else { throw CLIError.failure("the subscription was recorded but cannot be read back") }
        return WebhookCreated(
            webhook: WebhookView(webhook), secret: StandardWebhooks.secretText(keys.secret(webhook.id)), public_key: StandardWebhooks.publicKeyText(keys.signing),
            entries: recorded.entries)
    }

    func deliveries(subscription: String?, status: String?, limit: Int) async throws -> [DeliveryView] {
        var wanted: DeliveryRecord.Status?
        if let status {
            guard let parsed = DeliveryRecord.Status(rawValue: status) else {
                throw CLIError.badInput("--status must be one of \(DeliveryRecord.Status.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            wanted = parsed
        }
        return try await service.webhooks.deliveries(subscription: subscription, status: wanted, limit: limit).map { DeliveryView($0) }
    }

    func delivery(_ id: String) async throws -> DeliveryView {
        guard let record = try await service.webhooks.delivery(id) else {
            throw CLIError.badInput("no delivery \(id); `signoff webhook deliveries` lists them")
        }
        return DeliveryView(record, attempts: try await service.webhooks.attempts(of: id))
    }

    func redeliver(_ id: String, as actor: String) async throws {
        guard try await service.state().principals[actor]?.isAdministrator == true else { throw CLIError.refused("admin.required", "only an administrator may redeliver") }
        guard try await service.webhooks.redeliver(id, now: now) else { throw CLIError.badInput("no delivery \(id)") }
    }

    func enableWebhook(_ id: String, as actor: String) async throws {
        guard try await service.state().principals[actor]?.isAdministrator == true else { throw CLIError.refused("admin.required", "only an administrator may enable a webhook") }
        guard try await service.webhooks.enable(subscription: id, now: now) else { throw CLIError.badInput("webhook \(id) is not disabled") }
    }

    func webhookPublicKey() async throws -> String { StandardWebhooks.publicKeyText(try webhookKeys().signing) }

    func setChatHandles(_ handles: ChatHandles, of name: String, as actor: String) async throws -> ChatHandlesView {
        switch try await service.setChatHandles(handles, of: name, as: actor) {
        case .success(let set): return ChatHandlesView(principal: name, set)
        case .failure(let refusal): throw CLIError.refused(refusal.rule, refusal.message)
        }
    }

    func inbox(as actor: String) async throws -> [InboxItem] {
        Inbox.items(for: actor, in: try await service.state(), now: now)
    }

    func workflow(_ name: String) async throws -> WorkflowResponse {
        let state = try await service.state()
        guard let workflow = WorkflowResponse(name: name, state: state) else {
            throw CLIError.badInput("no workflow \(name) is applied (applied: \(state.currentWorkflows.keys.sorted().joined(separator: ", ")))")
        }
        return workflow
    }

    func checkpoint(sign: Bool) async throws -> SignedCheckpoint {
        if sign {
            guard let signer = service.storage.signer else {
                throw CLIError.badInput("signing a checkpoint needs the ledger key's passphrase (--ledger-passphrase-file or SIGNOFF_LEDGER_PASSPHRASE)")
            }
            // The key is opened (its passphrase checked) even when nothing new needs a signature.
            try signer.open()
            try await service.signCheckpoint()
        }
        guard let checkpoint = try await service.ledger.latestCheckpoint() else {
            throw CLIError.failure("the ledger has no signed checkpoint yet; run `signoff checkpoint --sign`")
        }
        return checkpoint
    }

    func ledgerKey() async throws -> NoteVerifierKey { service.ledger.verifierKey }

    func exportAudit(_ filter: AuditExportFilter, documents: Bool, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)?) async throws -> AuditReport {
        guard let signer = service.storage.signer else {
            throw CLIError.badInput(
                "an export's manifest is signed with the ledger key: give its passphrase (SIGNOFF_LEDGER_PASSPHRASE or --ledger-passphrase-file), or export through the server")
        }
        try signer.open()
        try await service.signCheckpoint()
        return try await service.exportAudit(filter: filter, documents: documents, to: directory, progress: progress)
    }

    // MARK: Directory and tokens

    func principals(kind: Principal.Kind) async throws -> [PrincipalView] { Directory.principals(kind, in: try await service.state()) }

    func principal(_ name: String) async throws -> PrincipalView {
        let state = try await service.state()
        guard let principal = state.principals[name] else { throw CLIError.badInput("no user or service account \(name)") }
        return PrincipalView(principal, state: state)
    }

    func groups() async throws -> [GroupView] { Directory.groups(in: try await service.state()) }

    func group(_ name: String) async throws -> GroupView {
        guard let group = Directory.group(name, in: try await service.state()) else { throw CLIError.badInput("no group \(name)") }
        return group
    }

    func projects() async throws -> [ProjectView] { Directory.projects(in: try await service.state()) }

    func project(_ key: String) async throws -> ProjectView {
        guard let project = try await service.state().projects[key] else { throw CLIError.badInput("no project \(key)") }
        return ProjectView(project)
    }

    func workflows() async throws -> [WorkflowResponse] { Directory.workflows(in: try await service.state()) }

    func tokens(as actor: String) async throws -> [TokenView] {
        try await service.tokens(visibleTo: actor, asAdministrator: true).map { TokenView($0) }
    }

    func revokeToken(_ id: String, approval: DSSEEnvelope?, as actor: String) async throws -> TokenView {
        switch try await service.revokeToken(id, by: actor, asAdministrator: true, approval: approval) {
        case nil: throw CLIError.badInput("no token \(id) that \(actor) may revoke")
        case .failure(let refusal)?: throw CLIError.refused(refusal.rule, refusal.message)
        case .success(let token)?:
            try await finish()
            return TokenView(token, revoked: true)
        }
    }

    func createServiceToken(_ command: Command, as actor: String) async throws -> TokenResponse {
        if case .connectDirectory(let name, _, let approval) = command {
            let authenticator = Authenticator(store: service.auth, clock: { service.now })
            let minted = authenticator.mintDirectoryToken(for: name)
            switch try await service.execute(.connectDirectory(name: name, tokenID: minted.record.id, approval: approval), as: actor, storing: minted) {
            case .failure(let refusal): throw CLIError.refused(refusal.rule, refusal.message)
            case .success: try await finish()
            }
            return TokenResponse(token: minted.token, token_id: minted.record.id, expires_at: Timestamps.rfc3339(minted.record.expiresAt))
        }
        guard case .issueServiceToken(_, let principal, let scopes, let hours, let approval) = command else {
            throw CLIError.failure("not a service token issue")
        }
        guard (1...Authenticator.maximumServiceTokenHours).contains(hours) else {
            throw CLIError.badInput("--ttl is at most \(Authenticator.maximumServiceTokenHours / 24) days")
        }
        let authenticator = Authenticator(store: service.auth, clock: { service.now })
        let minted = authenticator.mint(for: principal, kind: .service, scopes: scopes, lifetimeMilliseconds: Int64(hours) * 3_600_000)
        _ = try await run(.issueServiceToken(tokenID: minted.record.id, principal: principal, scopes: scopes, lifetimeHours: hours, approval: approval), as: actor)
        try await authenticator.store(minted)
        return TokenResponse(token: minted.token, token_id: minted.record.id, expires_at: Timestamps.rfc3339(minted.record.expiresAt))
    }
}
