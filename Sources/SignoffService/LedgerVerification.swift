internal import SignoffLedger
internal import Synchronization

/// The outcome of one full verification of the ledger by a running server (``SignoffService/verifyLedger()``): every
/// entry re-read, every hash recomputed, every stored checkpoint checked against the ledger's key — what
/// `signoff audit verify --db` does offline.
public struct LedgerVerificationRun: Sendable, Equatable {
    public let startedAt: Int64
    public let finishedAt: Int64
    public let entries: UInt64
    public let checkpoints: Int
    /// The first failure, or nil when everything verified.
    public let failure: String?

    public var passed: Bool { failure == nil }

    public init(startedAt: Int64, finishedAt: Int64, entries: UInt64, checkpoints: Int, failure: String?) {
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.entries = entries
        self.checkpoints = checkpoints
        self.failure = failure
    }
}

/// The newest full verification and whether one is running now.
public final class LedgerVerificationRecord: Sendable {
    private let state = Mutex<(last: LedgerVerificationRun?, running: Bool)>((nil, false))

    public init() {}

    public var last: LedgerVerificationRun? { state.withLock { $0.last } }
    public var isRunning: Bool { state.withLock { $0.running } }

    /// Marks a run started; false when one is already running (two would only compete for the same reads).
    func begin() -> Bool {
        state.withLock {
            if $0.running { return false }
            $0.running = true
            return true
        }
    }

    func end(_ run: LedgerVerificationRun?) {
        state.withLock {
            $0.running = false
            if let run { $0.last = run }
        }
    }
}

extension SignoffService {
    /// The newest full verification: this process's or, when newer, another instance's on the same database.
    public func latestVerification() async -> LedgerVerificationRun? {
        let local = verification.last
        guard let shared = try? await storage.coordination.latestVerification() else { return local }
        guard let local else { return shared }
        return shared.finishedAt > local.finishedAt ? shared : local
    }

    /// Verifies the whole ledger against its key (``LedgerStore/verifyAll(trustedKey:allowUncoveredTail:progress:)``),
    /// allowing a tail not yet checkpointed (a running server signs it within its interval), and records the outcome
    /// in ``verification``. Nil when a verification is already running.
    @discardableResult
    public func verifyLedger() async throws -> LedgerVerificationRun? {
        guard verification.begin() else { return nil }
        var run: LedgerVerificationRun?
        defer { verification.end(run) }
        let started = now
        let report = try await ledger.verifyAll(trustedKey: ledger.verifierKey, allowUncoveredTail: true, progress: nil)
        run = LedgerVerificationRun(
            startedAt: started, finishedAt: now, entries: report.entries, checkpoints: report.checkpoints, failure: report.failure.map { "\($0)" })
        // Recorded for every instance's audit page (the newest run by any of them).
        if let run { try await storage.coordination.recordVerification(run) }
        return run
    }
}
