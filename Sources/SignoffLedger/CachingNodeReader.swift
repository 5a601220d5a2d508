public import SignoffCrypto

/// Remembers the subtree hashes it has read: consecutive entries' inclusion proofs share most of their nodes, so an
/// export reads each from storage about once instead of once per entry. Bounded: forgets everything past 65,536 nodes.
public final class CachingNodeReader<Base: MerkleNodeReader>: MerkleNodeReader {
    private let base: Base
    private var cache: [MerkleNodeID: SHA256Digest] = [:]

    public init(_ base: Base) { self.base = base }

    public func hash(of node: MerkleNodeID) throws -> SHA256Digest {
        if let hash = cache[node] { return hash }
        let hash = try base.hash(of: node)
        if cache.count >= 65_536 { cache.removeAll(keepingCapacity: true) }
        cache[node] = hash
        return hash
    }
}
