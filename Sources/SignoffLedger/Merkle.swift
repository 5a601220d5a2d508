public import SignoffCrypto

/// RFC 6962 / RFC 9162 Merkle tree hashing.
public enum Merkle {
    /// `SHA-256("")`, the root of the empty tree.
    public static let emptyRoot = SHA256Digest.hash([UInt8]())

    /// `SHA-256(0x00 ‖ entry)`.
    public static func leafHash(_ entry: some ContiguousBytes) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update([0x00])
        hasher.update(entry)
        return hasher.finalize()
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func nodeHash(_ left: some ContiguousBytes, _ right: some ContiguousBytes) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update([0x01])
        hasher.update(left)
        hasher.update(right)
        return hasher.finalize()
    }

    /// The largest power of two strictly less than `n` (n ≥ 2).
    static func largestPowerOfTwo(below n: UInt64) -> UInt64 {
        precondition(n >= 2)
        return 1 << (63 - (n - 1).leadingZeroBitCount)
    }

    static func isPowerOfTwo(_ n: UInt64) -> Bool { n != 0 && n & (n - 1) == 0 }

    /// The root of `leaves` computed in memory (for tests and small trees).
    public static func rootHash(leaves: [SHA256Digest]) -> SHA256Digest {
        guard !leaves.isEmpty else { return emptyRoot }
        var frontier = MerkleFrontier()
        for leaf in leaves { frontier.append(leaf) }
        return frontier.rootHash
    }
}

/// A complete subtree of the Merkle tree: `level` 0 is a leaf; node `index` at `level` covers leaves
/// `index·2^level ..< (index+1)·2^level`.
public struct MerkleNodeID: Hashable, Sendable, CustomStringConvertible {
    public let level: Int
    public let index: UInt64

    public init(level: Int, index: UInt64) {
        self.level = level
        self.index = index
    }

    public var firstLeaf: UInt64 { index << UInt64(level) }
    /// The sequence number of the leaf whose append completes this node.
    public var lastLeaf: UInt64 { ((index + 1) << UInt64(level)) - 1 }
    public var description: String { "level \(level) index \(index) (entries \(firstLeaf)–\(lastLeaf))" }
}

/// The compact range `[0, size)`: one hash per set bit of `size`, enough to append and to compute the root.
/// Appending returns the complete subtrees the new leaf closes, which storage keeps so that roots and
/// proofs never need a rebuild.
public struct MerkleFrontier: Hashable, Sendable {
    public private(set) var size: UInt64 = 0
    /// Hashes of the perfect subtrees that make up `[0, size)`, largest (leftmost) first.
    public private(set) var hashes: [SHA256Digest] = []

    public init() {}

    /// A frontier from stored nodes: `hashes[i]` is the node for the i-th set bit of `size`, from the highest.
    public init(size: UInt64, hashes: [SHA256Digest]) throws(LedgerError) {
        guard hashes.count == size.nonzeroBitCount else {
            throw LedgerError(.inconsistent, "a tree of size \(size) has \(size.nonzeroBitCount) frontier hashes, got \(hashes.count)")
        }
        self.size = size
        self.hashes = hashes
    }

    /// The nodes whose hashes make up the frontier of a tree of `size` leaves, largest first.
    public static func nodeIDs(forSize size: UInt64) -> [MerkleNodeID] {
        var ids: [MerkleNodeID] = []
        var start: UInt64 = 0
        for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
            ids.append(MerkleNodeID(level: level, index: start >> UInt64(level)))
            start += 1 << UInt64(level)
        }
        return ids
    }

    /// Appends a leaf hash; returns the complete subtrees of level ≥ 1 that it closes, lowest first.
    @discardableResult
    public mutating func append(_ leaf: SHA256Digest) -> [(id: MerkleNodeID, hash: SHA256Digest)] {
        var closed: [(id: MerkleNodeID, hash: SHA256Digest)] = []
        var node = leaf
        var index = size
        var level = 0
        while index & 1 == 1 {
            node = Merkle.nodeHash(hashes.removeLast(), node)
            index >>= 1
            level += 1
            closed.append((MerkleNodeID(level: level, index: index), node))
        }
        hashes.append(node)
        size += 1
        return closed
    }

    /// The RFC 6962 root of `[0, size)`.
    public var rootHash: SHA256Digest {
        guard var root = hashes.last else { return Merkle.emptyRoot }
        for hash in hashes.dropLast().reversed() { root = Merkle.nodeHash(hash, root) }
        return root
    }
}
