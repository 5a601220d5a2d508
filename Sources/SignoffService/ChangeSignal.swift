internal import Synchronization

/// Wakes whoever waits for the ledger to change (`gate --wait`'s long poll): a counter bumped after every commit,
/// and the continuations of the waiters. A waiter holds no thread, only a continuation, so a hundred CI jobs
/// waiting on their gates cost a hundred small allocations.
public final class ChangeSignal: Sendable {
    private struct Waiters {
        var version: UInt64 = 0
        var nextID: UInt64 = 0
        var continuations: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let waiters = Mutex(Waiters())

    public init() {}

    /// How many changes have been signalled so far.
    public var version: UInt64 { waiters.withLock { $0.version } }

    /// How many are waiting now.
    public var waiting: Int { waiters.withLock { $0.continuations.count } }

    /// Something changed: every waiter wakes.
    public func signal() {
        let woken = waiters.withLock { w -> [CheckedContinuation<Void, Never>] in
            w.version &+= 1
            defer { w.continuations.removeAll() }
            return Array(w.continuations.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once the version is past `version`, after `timeout`, or when the task is cancelled — whichever is first.
    public func wait(after version: UInt64, timeout: Duration) async {
        let id = waiters.withLock { w -> UInt64 in
            w.nextID &+= 1
            return w.nextID
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = self.waiters.withLock { w -> Bool in
                            if w.version != version || Task.isCancelled { return true }
                            w.continuations[id] = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    self.waiters.withLock { $0.continuations.removeValue(forKey: id) }?.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}
