import SignoffCrypto
@testable import SignoffLedger
import SignoffTestSupport
import Testing

/// An in-memory node store filled the way storage fills its table: from the frontier's closed nodes.
struct MemoryNodes: MerkleNodeReader {
    var leaves: [SHA256Digest] = []
    var nodes: [MerkleNodeID: SHA256Digest] = [:]
    var frontier = MerkleFrontier()

    mutating func append(_ leaf: SHA256Digest) {
        nodes[MerkleNodeID(level: 0, index: UInt64(leaves.count))] = leaf
        leaves.append(leaf)
        for (id, hash) in frontier.append(leaf) { nodes[id] = hash }
    }

    func hash(of node: MerkleNodeID) throws -> SHA256Digest {
        guard let hash = nodes[node] else { throw LedgerError(.storage, "no node \(node)") }
        return hash
    }

    static func filled(_ count: Int) -> MemoryNodes {
        var store = MemoryNodes()
        for i in 0..<count { store.append(Merkle.leafHash(Array("leaf \(i)".utf8))) }
        return store
    }
}

/// RFC 6962's definition, recursive, as a reference independent of the frontier.
func referenceRoot(_ leaves: ArraySlice<SHA256Digest>) -> SHA256Digest {
    if leaves.isEmpty { return Merkle.emptyRoot }
    if leaves.count == 1 { return leaves.first! }
    var k = 1
    while k * 2 < leaves.count { k *= 2 }
    return Merkle.nodeHash(referenceRoot(leaves.prefix(k)), referenceRoot(leaves.dropFirst(k)))
}

@Suite("Merkle tree")
struct MerkleTreeTests {
    @Test("Known answers: empty root and the 8-leaf tree of the vector files")
    func knownAnswers() throws {
        #expect(Merkle.emptyRoot.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // RFC 6962's test leaves (as in transparency-dev/merkle): "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, ...
        let leaves: [[UInt8]] = [
            [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
            [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
        ]
        let root = Merkle.rootHash(leaves: leaves.map { Merkle.leafHash($0) })
        #expect(root.hex == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        #expect(Base64.encode(root.bytes) == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
    }

    @Test("Frontier root, stored-node root and the recursive definition agree for every size up to 300")
    func rootsAgree() throws {
        let store = MemoryNodes.filled(300)
        let builder = MerkleProofBuilder(reader: store)
        for size in 0...300 {
            let expected = referenceRoot(store.leaves[..<size])
            #expect(try builder.rootHash(size: UInt64(size)) == expected)
            #expect(Merkle.rootHash(leaves: Array(store.leaves[..<size])) == expected)
        }
    }

    @Test("Every inclusion and consistency proof of trees up to 70 leaves verifies")
    func exhaustiveSmallTrees() throws {
        let store = MemoryNodes.filled(70)
        let builder = MerkleProofBuilder(reader: store)
        for size in UInt64(1)...70 {
            let root = try builder.rootHash(size: size).bytes
            for index in 0..<size {
                let proof = try builder.inclusionProof(index: index, size: size).map(\.bytes)
                try MerkleVerifier.verifyInclusion(leafHash: store.leaves[Int(index)].bytes, index: index, size: size, proof: proof, root: root)
            }
            for old in UInt64(1)...size {
                let proof = try builder.consistencyProof(from: old, to: size).map(\.bytes)
                try MerkleVerifier.verifyConsistency(
                    oldSize: old, newSize: size, proof: proof, oldRoot: try builder.rootHash(size: old).bytes, newRoot: root)
            }
        }
    }

    @Test("Random trees up to 4096 leaves: proofs verify, and any flipped bit, root or size is refused")
    func randomProperties() throws {
        var rng = SplitMix64(seed: 0x5167_0FF)
        let store = MemoryNodes.filled(4096)
        let builder = MerkleProofBuilder(reader: store)
        for _ in 0..<60 {
            let size = UInt64.random(in: 2...4096, using: &rng)
            let root = try builder.rootHash(size: size).bytes
            let index = UInt64.random(in: 0..<size, using: &rng)
            let leaf = store.leaves[Int(index)].bytes
            let inclusion = try builder.inclusionProof(index: index, size: size).map(\.bytes)
            try MerkleVerifier.verifyInclusion(leafHash: leaf, index: index, size: size, proof: inclusion, root: root)
            // Flip each bit of one random proof component, and bits of the root and leaf.
            if !inclusion.isEmpty {
                let component = Int.random(in: 0..<inclusion.count, using: &rng)
                for bit in 0..<256 {
                    var bad = inclusion
                    bad[component][bit / 8] ^= 1 << UInt8(bit % 8)
                    #expect(throws: LedgerError.self) { try MerkleVerifier.verifyInclusion(leafHash: leaf, index: index, size: size, proof: bad, root: root) }
                }
            }
            var badRoot = root
            badRoot[Int.random(in: 0..<32, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            #expect(throws: LedgerError.self) { try MerkleVerifier.verifyInclusion(leafHash: leaf, index: index, size: size, proof: inclusion, root: badRoot) }
            #expect(throws: LedgerError.self) { try MerkleVerifier.verifyInclusion(leafHash: leaf, index: index ^ 1, size: size, proof: inclusion, root: root) }
            #expect(throws: LedgerError.self) { try MerkleVerifier.verifyInclusion(leafHash: leaf, index: index, size: size * 2, proof: inclusion, root: root) }

            let old = UInt64.random(in: 1..<size, using: &rng)
            let oldRoot = try builder.rootHash(size: old).bytes
            let consistency = try builder.consistencyProof(from: old, to: size).map(\.bytes)
            try MerkleVerifier.verifyConsistency(oldSize: old, newSize: size, proof: consistency, oldRoot: oldRoot, newRoot: root)
            let component = Int.random(in: 0..<consistency.count, using: &rng)
            for bit in 0..<256 {
                var bad = consistency
                bad[component][bit / 8] ^= 1 << UInt8(bit % 8)
                #expect(throws: LedgerError.self) {
                    try MerkleVerifier.verifyConsistency(oldSize: old, newSize: size, proof: bad, oldRoot: oldRoot, newRoot: root)
                }
            }
            #expect(throws: LedgerError.self) {
                try MerkleVerifier.verifyConsistency(oldSize: old, newSize: size, proof: consistency, oldRoot: badRoot, newRoot: root)
            }
            #expect(throws: LedgerError.self) {
                try MerkleVerifier.verifyConsistency(oldSize: old, newSize: size, proof: consistency, oldRoot: oldRoot, newRoot: badRoot)
            }
            #expect(throws: LedgerError.self) {
                try MerkleVerifier.verifyConsistency(oldSize: old + 1, newSize: size + 1, proof: consistency, oldRoot: oldRoot, newRoot: root)
            }
        }
    }

    @Test("Proof requests outside the tree are refused")
    func badRequests() {
        let builder = MerkleProofBuilder(reader: MemoryNodes.filled(5))
        #expect(throws: LedgerError.self) { try builder.inclusionProof(index: 5, size: 5) }
        #expect(throws: LedgerError.self) { try builder.consistencyProof(from: 0, to: 5) }
        #expect(throws: LedgerError.self) { try builder.consistencyProof(from: 4, to: 3) }
    }
}
