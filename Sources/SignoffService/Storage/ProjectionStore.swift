public import SignoffCore
public import SignoffLedger

/// What one write transaction of the engine decided: the entries to append, the projection documents they touch
/// (``SignoffState/documentKeys(touchedBy:)``), and a result for the caller.
public struct ProjectionChange<Result: Sendable>: Sendable {
    public var drafts: [EntryDraft]
    public var touchedDocuments: Set<String>
    public var result: Result
    /// Webhook messages of these events, inserted in the same transaction (the outbox).
    public var outbox: [OutboxMessage]

    public init(drafts: [EntryDraft], touchedDocuments: Set<String>, result: Result, outbox: [OutboxMessage] = []) {
        self.drafts = drafts
        self.touchedDocuments = touchedDocuments
        self.result = result
        self.outbox = outbox
    }
}

/// The projection: the engine's state as documents kept beside the ledger and changed in the same transaction as
/// its appends, so that a reader never sees one without the other.
public protocol ProjectionStore: Sendable {
    /// One durable write transaction: `body` receives the current state, folds its events into it and says what to
    /// append; the entries and the touched documents of the state `body` leaves are written atomically. `now` is the
    /// time of the appended entries.
    func commit<Result: Sendable>(
        now: Int64, _ body: @Sendable (inout SignoffState) throws -> ProjectionChange<Result>
    ) async throws -> (entries: [LedgerEntry], result: Result)

    /// The current state (users, projects, requests, …).
    func state() async throws -> SignoffState
    /// A state at most a few commits old, cheaply (for work done before the single writer, which checks again).
    func recentState() async throws -> SignoffState
    /// The current state as far as one request is concerned: everything but the other requests and the used
    /// statement digests. What `gate`, `status` and `explain` need, read in time that does not grow with the ledger.
    func state(focusedOn request: String) async throws -> SignoffState
    /// Brings a projection written by an earlier Signoff to the current format (rebuilding it from the ledger), so that
    /// reads need not replay the ledger. Servers and writing commands call it once when they open the storage.
    func prepare() async throws
    /// The sequence numbers of the entries about request `id`, in order.
    func entries(ofRequest id: String) async throws -> [UInt64]

    /// Replays the whole ledger from empty and compares the result with the stored projection, document by document.
    func verifyProjection() async throws -> LedgerVerificationFailure?
}
