/// The ledger's health as `GET /v1/audit/health` and the console's audit page show it: its size, the newest signed
/// checkpoint (what it covers, how long entries have waited for one), two checks made on every call, and the newest
/// full verification by the server.
public struct AuditHealth: Codable, Sendable, Equatable {
    public struct CheckpointView: Codable, Sendable, Equatable {
        public let size: UInt64
        public let root: String
        /// The time of the newest entry it covers (a checkpoint's note carries no time of its own; entry times are
        /// covered by the hash chain).
        public let covers_until: String?
        public let covers_until_age_seconds: Int64?
        /// Entries appended since, not yet covered by a signed checkpoint.
        public let uncovered_entries: UInt64
        /// How long the oldest of them has waited (0 when all are covered).
        public let oldest_uncovered_age_seconds: Int64
        /// The checkpoint exactly as signed (a C2SP signed note).
        public let note: String

        public init(
            size: UInt64, root: String, covers_until: String?, covers_until_age_seconds: Int64?, uncovered_entries: UInt64,
            oldest_uncovered_age_seconds: Int64, note: String
        ) {
            self.size = size
            self.root = root
            self.covers_until = covers_until
            self.covers_until_age_seconds = covers_until_age_seconds
            self.uncovered_entries = uncovered_entries
            self.oldest_uncovered_age_seconds = oldest_uncovered_age_seconds
            self.note = note
        }
    }
    /// One check of the newest checkpoint, made for this answer.
    public struct Check: Codable, Sendable, Equatable {
        public let check: String
        public let passed: Bool
        public let detail: String

        public init(check: String, passed: Bool, detail: String) {
            self.check = check
            self.passed = passed
            self.detail = detail
        }
    }
    public struct VerificationView: Codable, Sendable, Equatable {
        public let started_at: String
        public let finished_at: String
        public let seconds: Double
        public let entries: UInt64
        public let checkpoints: Int
        public let passed: Bool
        public let failure: String?

        public init(started_at: String, finished_at: String, seconds: Double, entries: UInt64, checkpoints: Int, passed: Bool, failure: String?) {
            self.started_at = started_at
            self.finished_at = finished_at
            self.seconds = seconds
            self.entries = entries
            self.checkpoints = checkpoints
            self.passed = passed
            self.failure = failure
        }
    }

    public let origin: String
    public let ledger_verifier_key: String
    public let ledger_size: UInt64
    public let checkpoint: CheckpointView?
    public let checks: [Check]
    /// The newest full verification (`signoff serve --verify-interval`); null before the first one finishes.
    public let last_verification: VerificationView?
    public let verification_running: Bool
    /// True when every check passed (with entries, there is a checkpoint to check) and the newest full verification
    /// (if any) passed.
    public let healthy: Bool

    /// The checks made on every call, in order (`entry-readable` is added when an entry at the checkpoint's edge cannot be read).
    public static let checkNames = ["checkpoint-signature", "checkpoint-root"]

    /// The answer for these findings; ``healthy`` follows from them.
    public init(
        origin: String, ledger_verifier_key: String, ledger_size: UInt64, checkpoint: CheckpointView?, checks: [Check],
        last_verification: VerificationView?, verification_running: Bool
    ) {
        self.origin = origin
        self.ledger_verifier_key = ledger_verifier_key
        self.ledger_size = ledger_size
        self.checkpoint = checkpoint
        self.checks = checks
        self.last_verification = last_verification
        self.verification_running = verification_running
        healthy = checks.allSatisfy(\.passed) && (last_verification?.passed ?? true)
    }
}
