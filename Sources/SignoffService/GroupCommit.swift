public import SignoffLedger
internal import Synchronization

/// Group commit: inputs from many concurrent tasks are gathered and handed to `flush` together, one durable
/// transaction per round. While one round commits, new inputs queue up; the next round takes them all (up to
/// `maximumBatch`). Nobody is answered before their round is durable, and the order of commit is the order of arrival.
/// A flush that has settled in memory what the next round depends on may let it start before its own commit
/// (``Round/release()``): then two rounds are under way at once, never more. (Such a round whose transaction finds it
/// must do its work again may then commit after the round it let start: both were concurrent, neither answered yet.)
///
/// A round's inputs are taken when the flush asks for them (``Round/inputs()``), as late as it can: inside its
/// transaction, once it holds the writers' lock. Where several instances take turns on one database (PostgreSQL), the
/// inputs that arrived while this instance waited for the other's commit join this round instead of waiting for the
/// next one, so that each instance's rounds stay as large as one instance's would be.
///
/// Where the store has a writer thread of its own on which a round commits synchronously (SQLite: GRDB's writer queue;
/// ``init(maximumBatch:onWriterThread:)``), the drain runs there instead: round after round, each round's callers answered
/// from that thread as it commits — no hop to the writer's thread and back, and no task, per round.
///
/// The one writer of Signoff: ledger appends (``LedgerWriter``) and engine commands (``SignoffService``) both go
/// through it.
public final class GroupCommit<Input: Sendable, Output: Sendable>: Sendable {
    /// Commits one round; returns one result per input of ``Round/inputs()``, in order. Throwing fails the whole round.
    public typealias Flush = @Sendable (Round) async throws -> [Result<Output, any Error>]
    /// Commits one round synchronously, on the writer's thread: one result per input, in order. Throwing fails the round.
    public typealias SynchronousFlush = ([Input]) throws -> [Result<Output, any Error>]
    /// Runs `drain` on the writer's own thread, after the work queued there before it, handing it the synchronous flush
    /// that commits one round there (valid only during the call).
    public typealias WriterThread = @Sendable (_ drain: @escaping @Sendable (_ flush: SynchronousFlush) -> Void) -> Void

    /// Rounds one turn of a drain on the writer's thread runs before it queues itself again behind the writer's other
    /// work (another writer's transaction waits at most this many rounds).
    public static var roundsPerTurn: Int { 32 }

    struct Waiter: Sendable {
        let input: Input
        let continuation: CheckedContinuation<Output, any Error>
    }

    final class Queue: Sendable {
        let maximumBatch: Int
        /// The inputs not yet taken, whether a drain is running, and the drain waiting for an input or for the round
        /// under way to finish (whichever comes first wakes it).
        let state = Mutex<(pending: [Waiter], draining: Bool, wake: CheckedContinuation<Void, Never>?)>(([], false, nil))

        /// Wakes the drain if it waits.
        func wakeDrain() {
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.wake = nil }
                return state.wake
            }?.resume()
        }

        init(maximumBatch: Int) { self.maximumBatch = maximumBatch }

        func take() -> [Waiter] {
            state.withLock { state in
                let batch = Array(state.pending.prefix(maximumBatch))
                state.pending.removeFirst(batch.count)
                return batch
            }
        }
    }

    /// One round of the writer.
    public final class Round: Sendable {
        private let queue: Queue
        fileprivate let taken = Mutex<[Waiter]?>(nil)
        /// Whether the round let the next one start (``release()``), and who waits for it.
        private let released = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

        fileprivate init(_ queue: Queue) { self.queue = queue }

        /// Lets the next round start before this one has finished: a flush calls it once what the next round depends
        /// on is settled in memory (``SignoffService`` decides a round's commands while the round before commits). The
        /// next round's flush may then run while this one's does; a third waits until this one has finished. Without a
        /// call, the next round starts when this one has finished.
        public func release() {
            let waiter = released.withLock { released -> CheckedContinuation<Void, Never>? in
                guard !released.done else { return nil }
                released.done = true
                defer { released.waiter = nil }
                return released.waiter
            }
            waiter?.resume()
        }

        private let finished = Mutex(false)
        fileprivate var isOver: Bool { finished.withLock { $0 } }
        fileprivate func over() { finished.withLock { $0 = true } }

        fileprivate func whenReleased() async {
            await withCheckedContinuation { continuation in
                let now = released.withLock { released -> Bool in
                    if released.done { return true }
                    released.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }

        /// The round's inputs: taken from the queue at the first call, the same at every later one (a transaction
        /// retried after a serialization failure runs its body again on the same inputs).
        public func inputs() -> [Input] {
            taken.withLock { taken in
                if taken == nil { taken = queue.take() }
                return taken!.map(\.input)
            }
        }

        fileprivate func waiters() -> [Waiter] {
            taken.withLock { taken in
                if taken == nil { taken = queue.take() }
                return taken!
            }
        }
    }

    /// The most inputs committed in one round.
    public let maximumBatch: Int
    /// Whether a flush may let the next round start early (``Round/release()``). Without, each round runs in the drain's
    /// own task, one after the other: a task and two switches fewer per round.
    public let overlapsRounds: Bool
    private let rounding: Rounds
    private let queue: Queue
    private let committed = Mutex(0)

    /// How rounds run: in tasks, each round's flush awaited; or synchronously on the writer's own thread.
    private enum Rounds: Sendable {
        case tasks(Flush)
        case writerThread(WriterThread)
    }

    public init(maximumBatch: Int, overlapsRounds: Bool, flush: @escaping Flush) {
        self.maximumBatch = max(1, maximumBatch)
        self.overlapsRounds = overlapsRounds
        rounding = .tasks(flush)
        queue = Queue(maximumBatch: max(1, maximumBatch))
    }

    /// Rounds that commit synchronously on the writer's own thread (`writerThread`): the drain runs there, one round after
    /// another, and answers each round's inputs as it commits. After ``roundsPerTurn`` rounds it queues itself again behind
    /// whatever else waits for that thread. Rounds never overlap.
    public init(maximumBatch: Int, onWriterThread writerThread: @escaping WriterThread) {
        self.maximumBatch = max(1, maximumBatch)
        overlapsRounds = false
        rounding = .writerThread(writerThread)
        queue = Queue(maximumBatch: max(1, maximumBatch))
    }

    /// Rounds committed so far.
    public var rounds: Int { committed.withLock { $0 } }

    /// Submits one input; returns its output once its round is durable.
    public func submit(_ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let (start, wake) = queue.state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                state.pending.append(Waiter(input: input, continuation: continuation))
                guard !state.draining else {
                    defer { state.wake = nil }
                    return (false, state.wake)
                }
                state.draining = true
                return (true, nil)
            }
            wake?.resume()
            guard start else { return }
            switch rounding {
            case .tasks: Task { await self.drain() }
            case .writerThread(let writerThread): writerThread { flush in self.drain(flushing: flush) }
            }
        }
    }

    /// One turn of the drain on the writer's thread: rounds until nothing is pending (the drain then ends; the next input
    /// starts another) or ``roundsPerTurn`` rounds have run (it then queues itself again, still draining).
    private func drain(flushing flush: SynchronousFlush) {
        guard case .writerThread(let writerThread) = rounding else { preconditionFailure("a synchronous drain without a writer thread") }
        for _ in 0..<Self.roundsPerTurn {
            let waiters = queue.state.withLock { state -> [Waiter] in
                let batch = Array(state.pending.prefix(maximumBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            guard !waiters.isEmpty else { return }
            answer(waiters, with: Result { try flush(waiters.map(\.input)) })
        }
        writerThread { flush in self.drain(flushing: flush) }
    }

    /// Answers a round's inputs with its flush's outcome.
    private func answer(_ waiters: [Waiter], with outcome: Result<[Result<Output, any Error>], any Error>) {
        switch outcome {
        case .success(let results):
            committed.withLock { $0 += 1 }
            precondition(results.count == waiters.count, "a group-commit flush must answer every input of its round")
            for (waiter, result) in zip(waiters, results) { waiter.continuation.resume(with: result) }
        case .failure(let error):
            for waiter in waiters { waiter.continuation.resume(throwing: error) }
        }
    }

    private func drain() async {
        // At most two rounds at once: the one finishing, and the next, started once the first released it.
        var running: (round: Round, task: Task<Void, Never>)?
        while true {
            if let (round, task) = running, round.isOver {
                await task.value
                running = nil
            }
            if running != nil {
                // A round under way: the next starts as soon as an input arrives, or once this one is over.
                await withCheckedContinuation { continuation in
                    let now = queue.state.withLock { state -> Bool in
                        if !state.pending.isEmpty || running!.round.isOver { return true }
                        state.wake = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
                if let (round, task) = running, round.isOver {
                    await task.value
                    running = nil
                }
            }
            let idle = running == nil
            let proceed = queue.state.withLock { state -> Bool in
                guard state.pending.isEmpty else { return true }
                // Nothing to take: the drain ends once no round is under way (the next input starts another).
                if idle { state.draining = false }
                return false
            }
            guard proceed else {
                if idle { return } else { continue }
            }
            let round = Round(queue)
            guard overlapsRounds else {
                await run(round)
                continue
            }
            let task = Task { await self.run(round) }
            await round.whenReleased()
            await running?.task.value
            running = (round, task)
        }
    }

    private func run(_ round: Round) async {
        defer {
            round.release()
            round.over()
            queue.wakeDrain()
        }
        guard case .tasks(let flush) = rounding else { preconditionFailure("a round in a task without an asynchronous flush") }
        let outcome: Result<[Result<Output, any Error>], any Error>
        do { outcome = .success(try await flush(round)) } catch { outcome = .failure(error) }
        // A flush that failed before it asked for its inputs fails the inputs waiting now.
        answer(round.waiters(), with: outcome)
    }
}

/// Raw ledger appends through ``GroupCommit``: one transaction per round. A round that fails is retried entry by
/// entry, so that one bad draft does not fail the others.
public struct LedgerWriter: Sendable {
    public let store: any LedgerStore
    private let group: GroupCommit<EntryDraft, LedgerEntry>

    /// Over a store with a writer thread of its own (``SynchronousLedgerAppends``: SQLite), rounds run on that thread.
    public init(store: any LedgerStore, maximumBatch: Int = 4096) {
        self.store = store
        if let synchronous = store as? any SynchronousLedgerAppends {
            group = GroupCommit(maximumBatch: maximumBatch) { drain in
                synchronous.onWriterThread { append in
                    drain { drafts in
                        do {
                            return try append(drafts).map { .success($0) }
                        } catch where drafts.count > 1 {
                            return drafts.map { draft in Result { try append([draft])[0] } }
                        }
                    }
                }
            }
            return
        }
        group = GroupCommit(maximumBatch: maximumBatch, overlapsRounds: false) { round in
            do {
                return try await store.append(drafting: round.inputs).map { .success($0) }
            } catch where round.inputs().count > 1 {
                var results: [Result<LedgerEntry, any Error>] = []
                for draft in round.inputs() {
                    do { results.append(.success(try await store.append([draft])[0])) } catch { results.append(.failure(error)) }
                }
                return results
            }
        }
    }

    /// Appends one entry; returns once it is durably committed.
    public func append(_ draft: EntryDraft) async throws -> LedgerEntry { try await group.submit(draft) }

    /// Transactions committed so far.
    public var transactions: Int { group.rounds }
}
