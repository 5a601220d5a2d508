public import SignoffCrypto

/// What a full verification found wrong: the first failure, precisely.
public struct LedgerVerificationFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case sequenceGap, entryMalformed, entryMismatch, leafHashMismatch, chainMismatch
        case nodeMismatch, nodeMissing, nodeUnexpected
        case checkpointMalformed, checkpointSignature, checkpointRootMismatch, checkpointBeyondLedger
        case checkpointMissing, checkpointUnexpected
        case uncoveredEntries, projectionMismatch, metadataMismatch
        /// An entry's time is earlier than the entry before it: times never decrease along the ledger.
        case timeDecreased
        /// An entry's content does not hold as the export's checks read it on the whole log: its header is not its
        /// request's, a signature or binding fails, or an administrative change lacks the authority it needed.
        case entryContent
    }

    public let kind: Kind
    /// The first bad sequence number, where one can be named.
    public let sequence: UInt64?
    /// The tree size of the bad checkpoint, where the failure is a checkpoint's.
    public let checkpointSize: UInt64?
    public let message: String

    public init(_ kind: Kind, sequence: UInt64? = nil, checkpointSize: UInt64? = nil, _ message: String) {
        self.kind = kind
        self.sequence = sequence
        self.checkpointSize = checkpointSize
        self.message = message
    }

    public var description: String { message }
}

/// An entry as storage holds it: the row's own sequence number and columns next to the bytes and hashes.
public struct StoredEntry: Sendable {
    public let sequence: UInt64
    public let timeMilliseconds: Int64
    public let kind: String
    public let actor: String
    public let encoded: [UInt8]
    public let leafHash: [UInt8]
    public let chainHash: [UInt8]

    public init(sequence: UInt64, timeMilliseconds: Int64, kind: String, actor: String, encoded: [UInt8], leafHash: [UInt8], chainHash: [UInt8]) {
        self.sequence = sequence
        self.timeMilliseconds = timeMilliseconds
        self.kind = kind
        self.actor = actor
        self.encoded = encoded
        self.leafHash = leafHash
        self.chainHash = chainHash
    }
}

/// A stored complete-subtree hash.
public struct StoredNode: Sendable {
    public let id: MerkleNodeID
    public let hash: [UInt8]

    public init(id: MerkleNodeID, hash: [UInt8]) {
        self.id = id
        self.hash = hash
    }
}

/// Verifies a ledger as a stream, in constant memory: feed every entry in order with the stored nodes its
/// append closed, then ``finish()``. Recomputes leaf hashes, the chain and every subtree hash, and checks every
/// signed checkpoint against the recomputed root at its size.
public struct LedgerVerifier: Sendable {
    /// A ledger keeps a signed checkpoint at every multiple of this many entries (a milestone), and its newest one.
    public static let defaultMilestoneInterval: UInt64 = 1024

    public let ledgerKey: NoteVerifierKey
    /// Storage keeps complete subtrees of this level and above; lower ones are recomputed from leaves.
    public let storedNodeMinimumLevel: Int
    private var frontier = MerkleFrontier()
    private var chain = HashChain.genesis
    private var previousTime: Int64?
    /// Checkpoints by ascending size, not yet reached.
    private var pendingCheckpoints: [(size: UInt64, root: SHA256Digest)]
    private var checkpointIndex = 0
    public private(set) var newestCheckpointSize: UInt64 = 0
    public private(set) var checkpointsVerified = 0

    public var entriesVerified: UInt64 { frontier.size }

    /// `checkpoints` are the stored notes; each must parse and carry a valid signature by `ledgerKey`.
    /// `storedNodeMinimumLevel` is the lowest level of complete subtree that storage keeps. With `milestoneInterval`,
    /// the stored checkpoints must be exactly one at every multiple of it up to the newest, and the newest.
    public init(
        ledgerKey: NoteVerifierKey, checkpoints: [(size: UInt64, note: String)], storedNodeMinimumLevel: Int = 1,
        milestoneInterval: UInt64? = nil
    ) throws(LedgerVerificationFailure) {
        self.ledgerKey = ledgerKey
        self.storedNodeMinimumLevel = max(1, storedNodeMinimumLevel)
        var parsed: [(size: UInt64, root: SHA256Digest)] = []
        for stored in checkpoints.sorted(by: { $0.size < $1.size }) {
            let signed: SignedCheckpoint
            do { signed = try SignedCheckpoint(verifying: stored.note, with: ledgerKey) } catch {
                let kind: LedgerVerificationFailure.Kind = error.code == .noValidSignature ? .checkpointSignature : .checkpointMalformed
                throw LedgerVerificationFailure(kind, checkpointSize: stored.size, "checkpoint at size \(stored.size): \(error.message)")
            }
            guard signed.checkpoint.size == stored.size else {
                throw LedgerVerificationFailure(
                    .checkpointMalformed, checkpointSize: stored.size,
                    "checkpoint stored at size \(stored.size) says size \(signed.checkpoint.size)")
            }
            parsed.append((stored.size, signed.checkpoint.rootHash))
        }
        if let interval = milestoneInterval, interval > 0, let newest = parsed.last?.size {
            func missing(_ size: UInt64) -> LedgerVerificationFailure {
                LedgerVerificationFailure(
                    .checkpointMissing, checkpointSize: size,
                    "the checkpoint at size \(size) is missing (the ledger keeps one every \(interval) entries, and the newest); once the rest verifies, the ledger key's holder can sign it again with `signoff checkpoint --sign`")
            }
            var expected = interval
            for (size, _) in parsed.dropLast() {
                if size > expected { throw missing(expected) }
                guard size == expected else {
                    throw LedgerVerificationFailure(
                        .checkpointUnexpected, checkpointSize: size,
                        "a checkpoint at size \(size) is stored, but the ledger removes a checkpoint that is neither a multiple of \(interval) entries nor the newest once a newer one is signed (restored from an old copy? a ledger from before milestone checkpoints is brought to the kept set by `signoff checkpoint --sign`)")
                }
                expected += interval
            }
            if expected < newest { throw missing(expected) }
        }
        pendingCheckpoints = parsed
        // A checkpoint of size 0 (the empty tree) is checked at once.
        try checkReachedCheckpoints()
    }

    /// Feeds the next entry and the stored nodes whose last leaf it is.
    public mutating func verify(entry: StoredEntry, closedNodes stored: [StoredNode]) throws(LedgerVerificationFailure) {
        let expected = frontier.size
        guard entry.sequence == expected else {
            throw LedgerVerificationFailure(
                .sequenceGap, sequence: expected,
                entry.sequence > expected
                    ? "entry \(expected) is missing (the next stored entry is \(entry.sequence))"
                    : "entry \(entry.sequence) appears again after entry \(expected - 1)")
        }
        let decoded: LedgerEntry
        do { decoded = try LedgerEntry(decoding: entry.encoded) } catch where error.code == .payloadAltered {
            throw LedgerVerificationFailure(.leafHashMismatch, sequence: expected, "entry \(expected): its payload does not match the digest its leaf hash covers (content altered)")
        } catch {
            throw LedgerVerificationFailure(.entryMalformed, sequence: expected, "entry \(expected) is malformed: \(error.message)")
        }
        guard decoded.sequence == expected else {
            throw LedgerVerificationFailure(
                .entryMismatch, sequence: expected, "entry \(expected) holds the bytes of entry \(decoded.sequence) (rows moved or swapped)")
        }
        guard decoded.timeMilliseconds == entry.timeMilliseconds, decoded.kind == entry.kind, decoded.actor == entry.actor else {
            throw LedgerVerificationFailure(.entryMismatch, sequence: expected, "entry \(expected): its time, kind or actor column differs from its signed bytes")
        }
        if let previousTime, decoded.timeMilliseconds < previousTime {
            throw LedgerVerificationFailure(
                .timeDecreased, sequence: expected,
                "entry \(expected): its time \(decoded.timeMilliseconds) ms is earlier than entry \(expected - 1)'s \(previousTime) ms (entry times never decrease)")
        }
        previousTime = decoded.timeMilliseconds
        let leaf = decoded.leafHash
        guard leaf.bytes == entry.leafHash else {
            throw LedgerVerificationFailure(.leafHashMismatch, sequence: expected, "entry \(expected): its bytes do not match its leaf hash (content altered)")
        }
        chain = HashChain.next(previous: chain, leafHash: leaf)
        guard chain.bytes == entry.chainHash else {
            throw LedgerVerificationFailure(.chainMismatch, sequence: expected, "entry \(expected): the hash chain breaks here")
        }
        let closed = frontier.append(leaf).filter { $0.id.level >= storedNodeMinimumLevel }
        for node in stored where !closed.contains(where: { $0.id == node.id }) {
            throw LedgerVerificationFailure(.nodeUnexpected, sequence: node.id.firstLeaf, "stored subtree hash \(node.id) should not exist")
        }
        if stored.count > closed.count {
            throw LedgerVerificationFailure(.nodeUnexpected, sequence: stored[0].id.firstLeaf, "a stored subtree hash appears twice")
        }
        for (id, hash) in closed {
            guard let node = stored.first(where: { $0.id == id }) else {
                throw LedgerVerificationFailure(.nodeMissing, sequence: id.firstLeaf, "stored subtree hash \(id) is missing")
            }
            guard node.hash == hash.bytes else {
                throw LedgerVerificationFailure(.nodeMismatch, sequence: id.firstLeaf, "stored subtree hash \(id) is wrong")
            }
        }
        try checkReachedCheckpoints()
    }

    private mutating func checkReachedCheckpoints() throws(LedgerVerificationFailure) {
        while checkpointIndex < pendingCheckpoints.count, pendingCheckpoints[checkpointIndex].size == frontier.size {
            let checkpoint = pendingCheckpoints[checkpointIndex]
            guard frontier.rootHash == checkpoint.root else {
                throw LedgerVerificationFailure(
                    .checkpointRootMismatch, sequence: frontier.size == 0 ? nil : frontier.size - 1, checkpointSize: checkpoint.size,
                    "the signed checkpoint at size \(checkpoint.size) does not match the ledger's entries 0–\(Int64(checkpoint.size) - 1)")
            }
            newestCheckpointSize = checkpoint.size
            checkpointsVerified += 1
            checkpointIndex += 1
        }
    }

    /// After the last entry: every checkpoint must have been reached, and (unless `allowUncoveredTail`) every
    /// entry must be covered by a signed checkpoint.
    public func finish(allowUncoveredTail: Bool = false) throws(LedgerVerificationFailure) {
        if checkpointIndex < pendingCheckpoints.count {
            let size = pendingCheckpoints[checkpointIndex].size
            throw LedgerVerificationFailure(
                .checkpointBeyondLedger, sequence: frontier.size, checkpointSize: size,
                "a signed checkpoint covers \(size) entries but the ledger has only \(frontier.size): entries \(frontier.size)–\(size - 1) were removed")
        }
        if !allowUncoveredTail && newestCheckpointSize < frontier.size {
            throw LedgerVerificationFailure(
                .uncoveredEntries, sequence: newestCheckpointSize,
                "entries \(newestCheckpointSize)–\(frontier.size - 1) are not covered by any signed checkpoint (inserted without the ledger key, or not yet checkpointed)")
        }
    }

    /// The recomputed root of everything verified so far.
    public var rootHash: SHA256Digest { frontier.rootHash }
}
