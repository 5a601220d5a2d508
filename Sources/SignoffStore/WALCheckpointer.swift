internal import Foundation
internal import GRDB
internal import Synchronization

/// Copies the write-ahead log back into the database file on a connection of its own, beside the writer, instead of
/// in the writer's commit.
///
/// SQLite checkpoints the WAL in the commit that takes it past 1,000 pages: that commit copies the pages into the
/// database file and syncs it, and every caller of the group commit waiting on it waits for that too. Here the
/// writer's automatic checkpoint is moved out to ``walLimitPages`` (a bound, reached only if this one falls behind) and,
/// after the writer's commits, a passive checkpoint runs on this connection — never waiting for readers or the writer,
/// copying what it can (a later one copies the rest). A commit stays durable as before: `synchronous=FULL` syncs the WAL
/// in the commit itself; the checkpoint only moves committed pages into the file.
final class WALCheckpointer: Sendable {
    /// The writer's own automatic checkpoint, as a bound on the WAL (pages of 4 KiB: 64 MiB).
    static let walLimitPages = 16_384
    /// A checkpoint waits this long after a commit, so that pages written again by the next commits are copied once.
    static let gatherMilliseconds = 20

    private let path: String
    /// The connection that checkpoints (opened at the first checkpoint), whether one is scheduled, and whether commits
    /// arrived while it ran.
    private let state = Mutex<(queue: DatabaseQueue?, scheduled: Bool, again: Bool, idle: [CheckedContinuation<Void, Never>])>((nil, false, false, []))
    /// Checkpoints run so far, and the newest one's result (frames in the WAL, frames copied): for tests.
    let runs = Mutex<(count: Int, last: (walFrameCount: Int, checkpointedFrameCount: Int)?)>((0, nil))

    init(path: String) { self.path = path }

    /// The writer committed: a checkpoint runs soon (one at a time; commits during it make it run once more).
    func committed() {
        let start = state.withLock { state -> Bool in
            if state.scheduled {
                state.again = true
                return false
            }
            state.scheduled = true
            return true
        }
        guard start else { return }
        Task.detached(priority: .utility) { await self.run() }
    }

    /// Returns once no checkpoint is scheduled or running (tests).
    func idle() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if !state.scheduled { return true }
                state.idle.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func run() async {
        while true {
            try? await Task.sleep(for: .milliseconds(Self.gatherMilliseconds))
            state.withLock { $0.again = false }
            do {
                let queue = try connection()
                let result = try await queue.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                runs.withLock {
                    $0.count += 1
                    $0.last = result
                }
            } catch {
                // Another checkpointer at work, or the file gone: the writer's own bound still holds the WAL.
            }
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
                if state.again { return nil }
                state.scheduled = false
                defer { state.idle = [] }
                return state.idle
            }
            guard let waiters else { continue }
            for waiter in waiters { waiter.resume() }
            return
        }
    }

    private func connection() throws -> DatabaseQueue {
        if let queue = state.withLock({ $0.queue }) { return queue }
        var configuration = Configuration()
        configuration.label = "wal-checkpointer"
        configuration.busyMode = .immediateError
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return state.withLock { state in
            if let existing = state.queue { return existing }
            state.queue = queue
            return queue
        }
    }
}
