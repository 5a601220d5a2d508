#if canImport(Glibc)
    internal import Glibc
#endif

/// While it runs and commits a unit of work, the writer's thread is given a higher priority (nice −10) than the threads
/// verifying signatures and deciding the next round: on a machine with few cores the single writer is the stage every
/// command waits for, and at equal priority those threads took a third of its core (`BENCHMARKS.md`, issue 24: signed
/// decisions +10–15 %).
///
/// Best effort: where the process may not raise a thread's priority (not root, no `CAP_SYS_NICE`, `RLIMIT_NICE` 0 — a
/// systemd unit grants it with `LimitNICE=-10` or `AmbientCapabilities=CAP_SYS_NICE`), nothing changes and nothing fails.
/// Linux keeps the nice value per thread (`setpriority(PRIO_PROCESS, 0, …)` acts on the calling thread) and GRDB's writer
/// queue runs on pooled threads: raised for one transaction, restored when it commits or rolls back.
enum WriterPriority {
    /// The nice value of a committing writer.
    static let raised: Int32 = -10

    /// Raises the calling thread's priority unless it is as high already; hands `restore`, which puts it back, to
    /// `registerRestore` (the transaction's end). Returns whether it raised it.
    @discardableResult
    static func raise(registerRestore: (_ restore: @escaping @Sendable () -> Void) -> Void) -> Bool {
        #if os(Linux)
            errno = 0
            let before = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            guard errno == 0, before > raised, setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, raised) == 0 else { return false }
            // Lowering it back is always permitted.
            registerRestore { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, before) }
            return true
        #else
            return false
        #endif
    }

    /// The calling thread's nice value (for tests).
    static var current: Int32 {
        #if os(Linux)
            getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
            0
        #endif
    }
}
