import ArgumentParser
import Foundation
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// What the CLI's verbs need, whether they work on a local database (``LocalClient``) or a server (``RemoteClient``):
/// every verb has one code path and calls this. Both answer with the wire types of `SignoffAPI`, so `--json` prints
/// the same documents either way.
protocol SignoffClient: Sendable {
    /// Milliseconds since the epoch, for the time inside signed statements.
    var now: Int64 { get }
    /// The largest evidence document this client stores, when it knows it before sending (a server says 413).
    var evidenceDocumentLimit: Int? { get }
    /// Runs a command as `actor`; a refusal throws a ``CLIError`` naming the rule, with the rule's exit code.
    /// Runs `command`; with `strict`, a change that would leave a project's stage with nobody to act is refused
    /// (`staffing.gap`) instead of only said in the answer's warnings.
    func run(_ command: Command, as actor: String, strict: Bool) async throws -> RecordedResponse
    func request(_ id: String) async throws -> RequestView
    /// `actor`: whose `awaiting_you` (remotely, the logged-in user's).
    func explain(_ id: String, as actor: String) async throws -> ExplanationView
    func requests(_ query: RequestQuery) async throws -> [RequestSummary]
    /// Files a request (`command` is `.fileRequest`); with `reuse`, carries on with an open one instead when there is
    /// one (``GateLookup/carryOn(_:caller:in:now:)``: the open request for the digest, or the caller's request for the
    /// bundle revised after changes were requested).
    func file(_ command: Command, reuse: Bool, as actor: String) async throws -> RecordedResponse
    /// The gate for a request, or for the one open request of a project and environment carrying `digest`. `wait`:
    /// how long the server may hold the answer while it is not final (a long poll; locally it answers at once).
    func gate(_ target: GateTarget, environment: String, digest: SHA256Digest, wait: Int) async throws -> GateResponse
    /// What runs where, and what is on its way.
    func deployments(project: String?, environment: String?) async throws -> [EnvironmentInventory]
    /// What waits for `actor` (remotely: the caller).
    func inbox(as actor: String) async throws -> [InboxItem]
    /// True when `gate`'s `wait` holds the answer on the server; false when the caller must poll.
    var longPolls: Bool { get }
    /// Uploads the document behind evidence `digest` of `request` (the server checks its SHA-256).
    func uploadEvidence(_ request: String, digest: SHA256Digest, mediaType: String, content: [UInt8], as actor: String) async throws
    /// Webhook subscriptions (administrators and auditors).
    func webhooks() async throws -> [WebhookView]
    /// Adds a subscription (`command` is `.addWebhook`, approved); its secret is in the answer, once.
    func addWebhook(_ command: Command, as actor: String) async throws -> WebhookCreated
    func deliveries(subscription: String?, status: String?, limit: Int) async throws -> [DeliveryView]
    func delivery(_ id: String) async throws -> DeliveryView
    func redeliver(_ id: String, as actor: String) async throws
    func enableWebhook(_ id: String, as actor: String) async throws
    /// Sets a person's chat handles (their own, or anyone's for an administrator).
    func setChatHandles(_ handles: ChatHandles, of name: String, as actor: String) async throws -> ChatHandlesView
    func webhookPublicKey() async throws -> String
    func workflow(_ name: String) async throws -> WorkflowResponse
    /// The newest checkpoint (signing one first when `sign` and this client holds the ledger key).
    func checkpoint(sign: Bool) async throws -> SignedCheckpoint
    func ledgerKey() async throws -> NoteVerifierKey
    /// Who exists and the rules (administrators and auditors; locally, whoever can read the database).
    func principals(kind: Principal.Kind) async throws -> [PrincipalView]
    func principal(_ name: String) async throws -> PrincipalView
    func groups() async throws -> [GroupView]
    func group(_ name: String) async throws -> GroupView
    func projects() async throws -> [ProjectView]
    func project(_ key: String) async throws -> ProjectView
    func workflows() async throws -> [WorkflowResponse]
    /// Freezes (remotely: of the projects the caller may read, and organisation-wide ones).
    func freezes() async throws -> [FreezeView]
    /// The trusted OpenID Connect issuers.
    func issuers() async throws -> [IssuerView]
    /// Connected directories (SCIM clients).
    func directories() async throws -> [DirectoryView]
    /// The access review of a project (administrators, auditors, its administrators).
    func accessReview(project: String, environment: String?, at: Int64?, from: Int64?, to: Int64?, as actor: String) async throws -> AccessReviewView
    /// Delegations (remotely: those the caller gave or received, or all for administrators and auditors).
    func delegations() async throws -> [DelegationView]
    /// Tokens `actor` may see (an administrator: all).
    func tokens(as actor: String) async throws -> [TokenView]
    func revokeToken(_ id: String, approval: DSSEEnvelope?, as actor: String) async throws -> TokenView
    /// Issues a service token: `command` is `.issueServiceToken` (its token ID is filled by whoever mints the token).
    func createServiceToken(_ command: Command, as actor: String) async throws -> TokenResponse
    /// Exports into `directory` (new or empty).
    func exportAudit(_ filter: AuditExportFilter, documents: Bool, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)?) async throws -> AuditReport
}

/// What `gate` asks about: a request by id, or the one open request of a project that the digest finds.
enum GateTarget: Sendable {
    case request(String)
    case project(String)
}

extension SignoffClient {
    func run(_ command: Command, as actor: String) async throws -> RecordedResponse { try await run(command, as: actor, strict: false) }
}

extension CLIError {
    /// A refusal as the CLI reports it: the rule's name and its category's exit code.
    static func refused(_ rule: String, _ message: String) -> CLIError {
        CLIError(message: "refused (\(rule)): \(message)", exitCode: RefusalRule.named(rule)?.category.exitCode ?? ExitStatus.refused, rule: rule)
    }
}

extension RequestView {
    /// What a decision on this request binds, for signing.
    var binding: DecisionStatement.Binding {
        get throws {
            do {
                return DecisionStatement.Binding(
                    request: request, project: project, environment: environment, bundle: bundle, digest: try SHA256Digest(parsing: digest),
                    revision: revision, workflowDigest: try SHA256Digest(parsing: workflow_digest), labels: labels, emergency: emergency_reason != nil)
            } catch {
                throw CLIError.failure("request \(request) carries a malformed digest; run `signoff audit verify --db`")
            }
        }
    }
}

/// `--db` or `--server`, and who acts: the options every verb takes to reach Signoff.
struct ClientOptions: ParsableArguments {
    @OptionGroup var ledger: LedgerOptions
    @OptionGroup var remote: RemoteOptions
    @OptionGroup var actor: ActorOptions

    /// The client: a server when `--server` (or `SIGNOFF_SERVER`) is given, else the local database. Locally, the
    /// ledger key signs checkpoints when its passphrase is configured (`--ledger-passphrase-file` or
    /// `SIGNOFF_LEDGER_PASSPHRASE`); users without it append and leave checkpointing to the ledger's operator.
    func client() async throws -> any SignoffClient {
        if let remote = try await remote.client(actor: actor) { return remote }
        let canSign = ledger.ledgerPassphraseFile != nil || ProcessInfo.processInfo.environment["SIGNOFF_LEDGER_PASSPHRASE"] != nil
        let storage = canSign ? try await ledger.openForWriting() : try await ledger.openForReading()
        try await storage.projection.prepare()
        return LocalClient(storage: storage)
    }
}
