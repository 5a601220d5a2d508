public import SignoffLedger
internal import SignoffCrypto

/// Publishes the ledger: signs checkpoints as ``CheckpointPolicy`` says, outside the transactions that append, with
/// the ``Signer`` — where witnesses' cosignatures will be gathered too (a round trip that cannot sit inside a
/// transaction). Three steps, as transparency-dev/tessera's publisher: read the tree (its size and root, proven to
/// extend the newest checkpoint), sign outside any transaction, store — unless a newer checkpoint was stored meanwhile
/// (another instance published: both are checkpoints of the same append-only tree, and the newer one is kept).
public actor LogPublisher {
    public nonisolated let ledger: any LedgerStore
    public nonisolated let signer: (any Signer)?
    public nonisolated let policy: CheckpointPolicy
    /// What this process knows of the newest checkpoint's size and of the time of the oldest entry it does not cover;
    /// a hint for ``appended(size:at:)`` only: publishing reads the ledger again.
    private var knownSigned: UInt64?
    private var oldestUncovered: Int64?
    /// Whether a publish started by ``appended(size:at:)`` is under way: the appends that arrive meanwhile leave it to
    /// that one (which reads the ledger's size afresh when it signs) instead of each signing a checkpoint of its own.
    private var publishing = false

    public init(ledger: any LedgerStore, signer: (any Signer)?, policy: CheckpointPolicy) {
        self.ledger = ledger
        self.signer = signer
        self.policy = policy
    }

    /// Whether this publisher signs (it holds a ``Signer``).
    public nonisolated var signs: Bool { signer != nil }

    /// Called after this process appended entries, the newest making the tree `size` entries, at `time`: publishes
    /// when the policy says a checkpoint is due by what this process knows. Cheap when none is due.
    public func appended(size: UInt64, at time: Int64) async throws {
        guard signer != nil else { return }
        if let known = knownSigned {
            guard known < size else { return }
            if oldestUncovered == nil { oldestUncovered = time }
            let due = policy.isDue(size: size, lastSigned: known, now: ledger.now) { oldestUncovered }
            guard due else { return }
        }
        // One at a time: while it awaits the store, this actor takes other appends (a hundred callers crossing the
        // threshold together would otherwise sign a hundred checkpoints). Entries it does not cover are due again at
        // the next append, or at the checkpoint service's next tick.
        guard !publishing else { return }
        publishing = true
        defer { publishing = false }
        try await publish(force: false)
    }

    /// Signs a checkpoint of the current tree when one is due (`force`: whenever the newest does not cover every entry)
    /// and brings the kept set of milestones up to date. Returns the newest checkpoint. Without a signer, only reads it.
    @discardableResult
    public func publish(force: Bool = true) async throws -> SignedCheckpoint? {
        guard let signer else { return try await ledger.latestCheckpoint() }
        let size = try await ledger.size()
        let latest = try await ledger.latestCheckpoint()
        let lastSize = latest?.checkpoint.size
        let now = ledger.now
        let due: Bool
        if let lastSize, lastSize >= size {
            due = false
        } else if force || lastSize == nil {
            due = size > 0
        } else {
            let oldest = try await ledger.entry(at: lastSize ?? 0).timeMilliseconds
            due = policy.isDue(size: size, lastSigned: lastSize, now: now) { oldest }
        }
        var signed: [SignedCheckpoint] = []
        var newest = latest
        if due {
            let root = try await ledger.rootHash(size: size)
            // The ledger never signs two inconsistent trees: the new root must extend the newest signed one.
            if let last = latest?.checkpoint, last.size > 0 {
                let proof = try await ledger.consistencyProof(from: last.size, to: size)
                try MerkleVerifier.verifyConsistency(
                    oldSize: last.size, newSize: size, proof: proof.map(\.bytes), oldRoot: last.rootHash.bytes, newRoot: root.bytes)
            }
            let checkpoint = try signer.sign(try Checkpoint(origin: ledger.origin, size: size, rootHash: root))
            signed.append(checkpoint)
            newest = checkpoint
        }
        // The milestones below the newest checkpoint that the ledger lacks (all of them in a ledger from before milestones).
        if let top = newest?.checkpoint.size {
            let existing = Set(try await ledger.checkpointSizes())
            for milestone in policy.allMilestones(below: top) where !existing.contains(milestone) {
                signed.append(try signer.sign(try Checkpoint(origin: ledger.origin, size: milestone, rootHash: try await ledger.rootHash(size: milestone))))
            }
        }
        // Stored (with nothing new, still bringing the stored set back to the newest and the milestones).
        try await ledger.storeCheckpoints(signed, milestoneEvery: policy.milestoneEvery)
        let stored = try await ledger.latestCheckpoint()
        knownSigned = stored?.checkpoint.size
        oldestUncovered = nil
        return stored
    }
}
