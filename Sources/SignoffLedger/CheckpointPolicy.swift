public import SignoffCrypto

/// When the ledger signs a checkpoint and which checkpoints it keeps: ledger policy, apart from the storage that
/// persists what it decides (as transparency-dev/tessera keeps its append lifecycle apart from its drivers).
///
/// A checkpoint is due once `everyEntries` entries wait uncovered, or once the oldest of them is `everySeconds` old,
/// whichever comes first. The ledger keeps one checkpoint at every multiple of `milestoneEvery` entries and the
/// newest; a checkpoint that is neither is removed when a newer one is signed, so that the set of stored checkpoints
/// follows from the ledger's size and the removal of any of them is detected (`schema/ledger.md` §4).
public struct CheckpointPolicy: Hashable, Sendable {
    public var everyEntries: UInt64
    public var everySeconds: Int64
    public var milestoneEvery: UInt64

    public init(everyEntries: UInt64 = 1000, everySeconds: Int64 = 10, milestoneEvery: UInt64 = LedgerVerifier.defaultMilestoneInterval) {
        precondition(
            everyEntries >= 1 && everySeconds >= 0 && milestoneEvery >= 1,
            "a checkpoint policy needs everyEntries ≥ 1, everySeconds ≥ 0 and milestoneEvery ≥ 1")
        self.everyEntries = everyEntries
        self.everySeconds = everySeconds
        self.milestoneEvery = milestoneEvery
    }

    /// Whether a checkpoint of a tree of `size` entries is due after an append. `lastSigned` is the newest signed
    /// checkpoint's size (nil: none yet, always due); `oldestUncoveredTime` reads the time of entry `lastSigned`, the
    /// oldest one no checkpoint covers, and is asked only when the count alone does not decide.
    public func isDue(size: UInt64, lastSigned: UInt64?, now: Int64, oldestUncoveredTime: () throws -> Int64?) rethrows -> Bool {
        guard let lastSigned else { return size > 0 }
        guard size > lastSigned else { return false }
        if size - lastSigned >= everyEntries { return true }
        let oldest = try oldestUncoveredTime() ?? now
        return now - oldest >= everySeconds * 1000
    }

    /// Whether the ledger keeps a checkpoint of `treeSize` entries once the newest one covers `newest` entries.
    public func keeps(treeSize: UInt64, newest: UInt64) -> Bool {
        treeSize == newest || (treeSize > 0 && treeSize < newest && treeSize % milestoneEvery == 0)
    }

    /// The milestone sizes to sign below `size`, given the largest milestone already signed (0 for none), in order.
    public func milestones(below size: UInt64, after lastMilestone: UInt64) -> [UInt64] {
        let first = (lastMilestone / milestoneEvery + 1) * milestoneEvery
        guard first < size else { return [] }
        return Array(stride(from: first, to: size, by: Int(milestoneEvery)))
    }

    /// The milestone sizes below `size` that a ledger must hold, whichever it already has.
    public func allMilestones(below size: UInt64) -> [UInt64] { milestones(below: size, after: 0) }

    /// The checkpoint to sign for a tree of `size` entries with root `root`, after proving that it extends the last
    /// signed one: the ledger never signs two inconsistent trees. `nodes` reads the stored tree.
    public static func nextCheckpoint(
        origin: String, size: UInt64, root: SHA256Digest, extending last: Checkpoint?, nodes: some MerkleNodeReader
    ) throws -> Checkpoint {
        if let last, last.size > 0 {
            let proof = try MerkleProofBuilder(reader: nodes).consistencyProof(from: last.size, to: size)
            try MerkleVerifier.verifyConsistency(
                oldSize: last.size, newSize: size, proof: proof.map(\.bytes), oldRoot: last.rootHash.bytes, newRoot: root.bytes)
        }
        return try Checkpoint(origin: origin, size: size, rootHash: root)
    }
}
