import Foundation

/// A task executor with a thread of its own, for a server a test starts in its own process (a local identity provider,
/// a webhook receiver): at the start of a run every suite begins at once, the CPU-heavy ones (Argon2id, thousands of
/// random values, Wycheproof) hold both threads of the cooperative pool for over a minute on a two-core machine, and
/// a server started there did not even bind within 60 s (CI, stop 40). Started with
/// `Task(executorPreference: executor)`, the server's task, its child tasks and the default actors it calls run here.
public final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    public init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Ends the thread once `task` has finished (a cancelled server still runs its shutdown here).
    public func stop<Success, Failure>(after task: Task<Success, Failure>) {
        Task {
            _ = await task.result
            self.stop()
        }
    }

    /// Ends the thread once the jobs enqueued so far have run.
    public func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
