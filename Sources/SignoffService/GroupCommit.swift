public import SignoffLedger

/// Group commit: inputs from many concurrent tasks are gathered and handed to `flush` together, one durable
/// transaction per round. While one round commits, new inputs queue up; the next round takes them all (up to
/// `maximumBatch`). Nobody is answered before their round is durable, and the order of commit is the order of arrival.
///
/// The one writer of Signoff: ledger appends (``LedgerWriter``) and engine commands (``SignoffService``) both go
/// through it.
public actor GroupCommit<Input: Sendable, Output: Sendable> {
    /// Commits one round; returns one result per input, in order. Throwing fails the whole round.
    public typealias Flush = @Sendable ([Input]) async throws -> [Result<Output, any Error>]

    /// The most inputs committed in one round.
    public let maximumBatch: Int
    private let flush: Flush
    private var pending: [(input: Input, continuation: CheckedContinuation<Output, any Error>)] = []
    private var flushing = false
    /// Rounds committed so far.
    public private(set) var rounds = 0

    public init(maximumBatch: Int, flush: @escaping Flush) {
        self.maximumBatch = max(1, maximumBatch)
        self.flush = flush
    }

    /// Submits one input; returns its output once its round is durable.
    public func submit(_ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((input, continuation))
            if !flushing {
                flushing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maximumBatch))
            pending.removeFirst(batch.count)
            do {
                let results = try await flush(batch.map(\.input))
                rounds += 1
                precondition(results.count == batch.count, "a group-commit flush must answer every input")
                for (waiter, result) in zip(batch, results) { waiter.continuation.resume(with: result) }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}

/// Raw ledger appends through ``GroupCommit``: one transaction per round. A round that fails is retried entry by
/// entry, so that one bad draft does not fail the others.
public struct LedgerWriter: Sendable {
    public let store: any LedgerStore
    private let group: GroupCommit<EntryDraft, LedgerEntry>

    public init(store: any LedgerStore, maximumBatch: Int = 4096) {
        self.store = store
        group = GroupCommit(maximumBatch: maximumBatch) { drafts in
            do {
                return try await store.append(drafts).map { .success($0) }
            } catch where drafts.count > 1 {
                var results: [Result<LedgerEntry, any Error>] = []
                for draft in drafts {
                    do { results.append(.success(try await store.append([draft])[0])) } catch { results.append(.failure(error)) }
                }
                return results
            }
        }
    }

    /// Appends one entry; returns once it is durably committed.
    public func append(_ draft: EntryDraft) async throws -> LedgerEntry { try await group.submit(draft) }

    /// Transactions committed so far.
    public var transactions: Int { get async { await group.rounds } }
}
