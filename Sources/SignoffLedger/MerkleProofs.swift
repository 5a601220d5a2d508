public import SignoffCrypto

/// Reads the hash of a stored complete subtree. Storage implements this with one indexed lookup, so the
/// proofs below cost O(log n) reads and never rebuild the tree.
public protocol MerkleNodeReader {
    func hash(of node: MerkleNodeID) throws -> SHA256Digest
}

/// Builds RFC 6962 roots and proofs from stored complete subtrees.
public struct MerkleProofBuilder<Reader: MerkleNodeReader> {
    public let reader: Reader

    public init(reader: Reader) { self.reader = reader }

    /// `MTH(D[0:size])`.
    public func rootHash(size: UInt64) throws -> SHA256Digest {
        size == 0 ? Merkle.emptyRoot : try subtreeHash(start: 0, count: size)
    }

    /// `MTH(D[start:start+count])`, where `start` is a multiple of the largest power of two ≤ `count`
    /// (always true for the ranges RFC 6962's recursion visits).
    func subtreeHash(start: UInt64, count: UInt64) throws -> SHA256Digest {
        if Merkle.isPowerOfTwo(count) {
            let level = count.trailingZeroBitCount
            return try reader.hash(of: MerkleNodeID(level: level, index: start >> UInt64(level)))
        }
        let k = Merkle.largestPowerOfTwo(below: count)
        return Merkle.nodeHash(try subtreeHash(start: start, count: k), try subtreeHash(start: start + k, count: count - k))
    }

    /// RFC 9162 §2.1.3.1: the inclusion proof of leaf `index` in the tree of `size` leaves.
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [SHA256Digest] {
        guard index < size else {
            throw LedgerError(.invalidRequest, "no entry \(index) in a tree of \(size) entries")
        }
        var proof: [SHA256Digest] = []
        try path(index: index, start: 0, count: size, into: &proof)
        return proof
    }

    private func path(index: UInt64, start: UInt64, count: UInt64, into proof: inout [SHA256Digest]) throws {
        guard count > 1 else { return }
        let k = Merkle.largestPowerOfTwo(below: count)
        if index < k {
            try path(index: index, start: start, count: k, into: &proof)
            proof.append(try subtreeHash(start: start + k, count: count - k))
        } else {
            try path(index: index - k, start: start + k, count: count - k, into: &proof)
            proof.append(try subtreeHash(start: start, count: k))
        }
    }

    /// RFC 9162 §2.1.4.1: the consistency proof between the trees of `oldSize` and `newSize` leaves.
    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64) throws -> [SHA256Digest] {
        guard oldSize > 0, oldSize <= newSize else {
            throw LedgerError(.invalidRequest, "a consistency proof needs 0 < old size ≤ new size (got \(oldSize) and \(newSize))")
        }
        var proof: [SHA256Digest] = []
        if oldSize < newSize { try subproof(m: oldSize, start: 0, count: newSize, complete: true, into: &proof) }
        return proof
    }

    private func subproof(m: UInt64, start: UInt64, count: UInt64, complete: Bool, into proof: inout [SHA256Digest]) throws {
        if m == count {
            if !complete { proof.append(try subtreeHash(start: start, count: count)) }
            return
        }
        let k = Merkle.largestPowerOfTwo(below: count)
        if m <= k {
            try subproof(m: m, start: start, count: k, complete: complete, into: &proof)
            proof.append(try subtreeHash(start: start + k, count: count - k))
        } else {
            try subproof(m: m - k, start: start + k, count: count - k, complete: false, into: &proof)
            proof.append(try subtreeHash(start: start, count: k))
        }
    }
}

/// Proof verification as specified in RFC 9162 §2.1.3.2 and §2.1.4.2, with transparency-dev/merkle's
/// conventions: a leaf hash must be 32 bytes, and a consistency proof from size 0 is refused as meaningless.
/// Hashes are raw bytes so that a verifier can be handed anything an attacker sends.
public enum MerkleVerifier {
    /// Checks that `leafHash` is leaf `index` of the tree of `size` leaves with root `root`.
    public static func verifyInclusion(
        leafHash: [UInt8], index: UInt64, size: UInt64, proof: [[UInt8]], root: [UInt8]
    ) throws(LedgerError) {
        guard index < size else { throw LedgerError(.invalidProof, "index \(index) is not below tree size \(size)") }
        guard leafHash.count == SHA256Digest.byteCount else {
            throw LedgerError(.invalidProof, "a leaf hash is 32 bytes, got \(leafHash.count)")
        }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw LedgerError(.invalidProof, "the inclusion proof is longer than a tree of size \(size) needs") }
            if fn & 1 == 1 || fn == sn {
                r = Merkle.nodeHash(p, r).bytes
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = Merkle.nodeHash(r, p).bytes
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw LedgerError(.invalidProof, "the inclusion proof is shorter than a tree of size \(size) needs") }
        guard r == root else { throw LedgerError(.invalidProof, "the inclusion proof leads to another root") }
    }

    /// Checks that the tree of `oldSize` leaves with root `oldRoot` is a prefix of the tree of `newSize`
    /// leaves with root `newRoot`.
    public static func verifyConsistency(
        oldSize: UInt64, newSize: UInt64, proof: [[UInt8]], oldRoot: [UInt8], newRoot: [UInt8]
    ) throws(LedgerError) {
        guard oldSize <= newSize else { throw LedgerError(.invalidProof, "old size \(oldSize) is greater than new size \(newSize)") }
        guard oldSize > 0 else { throw LedgerError(.invalidProof, "a consistency proof from size 0 is meaningless") }
        if oldSize == newSize {
            guard proof.isEmpty else { throw LedgerError(.invalidProof, "equal sizes need an empty proof") }
            guard oldRoot == newRoot else { throw LedgerError(.invalidProof, "equal sizes but different roots") }
            return
        }
        guard !proof.isEmpty else { throw LedgerError(.invalidProof, "the consistency proof is empty") }
        var path = proof
        if Merkle.isPowerOfTwo(oldSize) { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw LedgerError(.invalidProof, "the consistency proof is longer than needed") }
            if fn & 1 == 1 || fn == sn {
                fr = Merkle.nodeHash(c, fr).bytes
                sr = Merkle.nodeHash(c, sr).bytes
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = Merkle.nodeHash(sr, c).bytes
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw LedgerError(.invalidProof, "the consistency proof is shorter than needed") }
        guard fr == oldRoot else { throw LedgerError(.invalidProof, "the consistency proof does not lead to the old root") }
        guard sr == newRoot else { throw LedgerError(.invalidProof, "the consistency proof does not lead to the new root") }
    }
}
