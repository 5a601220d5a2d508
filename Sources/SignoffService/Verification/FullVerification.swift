public import SignoffCrypto
public import SignoffLedger

/// The stored ledger as its rows, for full verification: what a backend reads, in one snapshot, and hands over as it
/// stores it — nothing trusted, every value checked by ``FullVerification``. A backend turns a value of the wrong type
/// into a ``LedgerVerificationFailure`` naming the row (a tampered database may hold anything anywhere).
public protocol LedgerScan {
    /// The ledger's metadata rows (origin and verifier key), by key order.
    func metadata() throws -> [(key: String, value: String)]
    /// Every stored checkpoint, by tree size.
    func checkpoints() throws -> [(size: UInt64, note: String)]
    /// The number of entries, for progress.
    func entryCount() throws -> UInt64
    /// The next entry row by sequence order; nil after the last.
    mutating func nextEntry() throws -> StoredEntry?
    /// The next stored subtree hash by (last sequence, level); nil after the last.
    mutating func nextNode() throws -> StoredNode?
}

/// Full verification of a stored ledger, the same for every backend: the metadata must name the trusted key, the
/// stored checkpoints must be exactly the kept set and verify, and every entry, hash-chain link and stored subtree hash
/// is recomputed by ``LedgerVerifier`` while the rows stream past (`schema/ledger.md` §6).
public enum FullVerification {
    public static func run(
        _ scan: inout some LedgerScan, trustedKey: NoteVerifierKey, storedKey: NoteVerifierKey, storedNodeMinimumLevel: Int, milestoneInterval: UInt64,
        allowUncoveredTail: Bool, progress: (@Sendable (UInt64, UInt64) -> Void)?
    ) throws -> VerificationReport {
        let total = try scan.entryCount()
        let empty = { (failure: LedgerVerificationFailure) in
            VerificationReport(entries: 0, storedNodes: 0, checkpoints: 0, rootHash: Merkle.emptyRoot, failure: failure)
        }
        // The metadata rows are checked, not trusted: exactly these two, naming the trusted key.
        let meta = try scan.metadata()
        let expectedMeta = [("origin", trustedKey.name), ("verifier_key", trustedKey.description)]
        if trustedKey != storedKey || !meta.elementsEqual(expectedMeta, by: { $0.key == $1.0 && $0.value == $1.1 }) {
            return empty(LedgerVerificationFailure(
                .metadataMismatch,
                "ledger_meta does not name the trusted ledger key \(trustedKey.name) (key ID \(trustedKey.keyIDHex)): it holds \(meta.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))"))
        }
        let checkpoints: [(size: UInt64, note: String)]
        do { checkpoints = try scan.checkpoints() } catch let error as LedgerVerificationFailure { return empty(error) }
        let made = Result { () throws(LedgerVerificationFailure) -> LedgerVerifier in
            try LedgerVerifier(
                ledgerKey: trustedKey, checkpoints: checkpoints, storedNodeMinimumLevel: storedNodeMinimumLevel, milestoneInterval: milestoneInterval)
        }
        var verifier: LedgerVerifier
        switch made {
        case .success(let made): verifier = made
        case .failure(let error):
            return VerificationReport(entries: 0, storedNodes: 0, checkpoints: checkpoints.count, rootHash: Merkle.emptyRoot, failure: error)
        }
        var nodeCount: UInt64 = 0
        var failure: LedgerVerificationFailure?
        do {
            var pendingNode = try scan.nextNode()
            while let stored = try scan.nextEntry() {
                var closed: [StoredNode] = []
                while let node = pendingNode, node.id.lastLeaf <= stored.sequence {
                    closed.append(node)
                    nodeCount += 1
                    pendingNode = try scan.nextNode()
                }
                try verifier.verify(entry: stored, closedNodes: closed)
                if let progress, verifier.entriesVerified % 65_536 == 0 { progress(verifier.entriesVerified, total) }
            }
            if let node = pendingNode {
                throw LedgerVerificationFailure(.nodeUnexpected, sequence: node.id.firstLeaf, "stored subtree hash \(node.id) lies beyond the ledger's end")
            }
            try verifier.finish(allowUncoveredTail: allowUncoveredTail)
        } catch let error as LedgerVerificationFailure {
            failure = error
        }
        progress?(verifier.entriesVerified, total)
        return VerificationReport(
            entries: verifier.entriesVerified, storedNodes: nodeCount, checkpoints: verifier.checkpointsVerified,
            rootHash: verifier.rootHash, failure: failure)
    }
}
