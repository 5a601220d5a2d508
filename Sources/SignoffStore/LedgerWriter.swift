public import SignoffLedger

/// Group commit: appends from many concurrent tasks are gathered and written in one transaction each round.
/// While one transaction commits, new appends queue up; the next round takes them all. Nobody is acknowledged
/// before their transaction is durable, and the order of the chain is the order of commit.
public actor LedgerWriter {
    public let store: any LedgerStore
    /// The most entries written in one transaction.
    public let maximumBatch: Int
    private var pending: [(draft: EntryDraft, continuation: CheckedContinuation<LedgerEntry, any Error>)] = []
    private var flushing = false
    public private(set) var transactions = 0

    public init(store: any LedgerStore, maximumBatch: Int = 4096) {
        self.store = store
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Appends one entry; returns once it is durably committed.
    public func append(_ draft: EntryDraft) async throws -> LedgerEntry {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((draft, continuation))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maximumBatch))
            pending.removeFirst(batch.count)
            do {
                let entries = try await store.append(batch.map(\.draft))
                transactions += 1
                for (waiter, entry) in zip(batch, entries) { waiter.continuation.resume(returning: entry) }
            } catch {
                // One bad draft must not fail the others: retry them one by one so each gets its own answer.
                if batch.count > 1 {
                    for waiter in batch {
                        do { waiter.continuation.resume(returning: try await store.append([waiter.draft]).first!) } catch {
                            waiter.continuation.resume(throwing: error)
                        }
                    }
                } else {
                    batch[0].continuation.resume(throwing: error)
                }
            }
        }
        flushing = false
    }
}
