import Foundation
import SignoffCrypto
import SignoffLedger
import SignoffTestSupport
import Testing

struct InclusionVector: Sendable, CustomTestStringConvertible {
    let file: String
    let leafIndex: UInt64, treeSize: UInt64
    let root: [UInt8], leafHash: [UInt8], proof: [[UInt8]]
    let wantErr: Bool
    var testDescription: String { file }
}

struct ConsistencyVector: Sendable, CustomTestStringConvertible {
    let file: String
    let size1: UInt64, size2: UInt64
    let root1: [UInt8], root2: [UInt8], proof: [[UInt8]]
    let wantErr: Bool
    var testDescription: String { file }
}

/// transparency-dev/merkle's vector files under ../shared/testdata/merkle.
enum MerkleVectors {
    static func files(_ kind: String) throws -> [(name: String, json: [String: Any])] {
        let root = try TestSupport.sharedTestData("merkle/\(kind)")
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        var out: [(String, [String: Any])] = []
        for case let url as URL in enumerator where url.pathExtension == "json" {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            out.append((String(url.path.dropFirst(root.path.count + 1)), json))
        }
        guard !out.isEmpty else { throw TestSupportError("no vector files under \(root.path)") }
        return out.sorted { $0.0 < $1.0 }
    }

    static func bytes(_ value: Any?) -> [UInt8] {
        guard let text = value as? String else { return [] }
        return Base64.decodeLenient(text) ?? Array(text.utf8)
    }

    static func proof(_ value: Any?) -> [[UInt8]] { (value as? [String] ?? []).map { bytes($0) } }

    static func inclusion() throws -> [InclusionVector] {
        try files("inclusion").map { name, j in
            InclusionVector(
                file: name, leafIndex: (j["leafIdx"] as! NSNumber).uint64Value, treeSize: (j["treeSize"] as! NSNumber).uint64Value,
                root: bytes(j["root"]), leafHash: bytes(j["leafHash"]), proof: proof(j["proof"]), wantErr: j["wantErr"] as! Bool)
        }
    }

    static func consistency() throws -> [ConsistencyVector] {
        try files("consistency").map { name, j in
            ConsistencyVector(
                file: name, size1: (j["size1"] as! NSNumber).uint64Value, size2: (j["size2"] as! NSNumber).uint64Value,
                root1: bytes(j["root1"]), root2: bytes(j["root2"]), proof: proof(j["proof"]), wantErr: j["wantErr"] as! Bool)
        }
    }
}

@Suite("Merkle proofs against transparency-dev/merkle vectors")
struct MerkleVectorTests {
    @Test("Inclusion vectors: happy paths verify, every wantErr case is refused", arguments: try MerkleVectors.inclusion())
    func inclusion(_ v: InclusionVector) {
        let result = Result { () throws(LedgerError) in
            try MerkleVerifier.verifyInclusion(leafHash: v.leafHash, index: v.leafIndex, size: v.treeSize, proof: v.proof, root: v.root)
        }
        switch result {
        case .success: #expect(!v.wantErr, "accepted a proof that must be refused")
        case .failure(let error): #expect(v.wantErr, "refused a valid proof: \(error.message)")
        }
    }

    @Test("Consistency vectors: happy paths verify, every wantErr case is refused", arguments: try MerkleVectors.consistency())
    func consistency(_ v: ConsistencyVector) {
        let result = Result { () throws(LedgerError) in
            try MerkleVerifier.verifyConsistency(oldSize: v.size1, newSize: v.size2, proof: v.proof, oldRoot: v.root1, newRoot: v.root2)
        }
        switch result {
        case .success: #expect(!v.wantErr, "accepted a proof that must be refused")
        case .failure(let error): #expect(v.wantErr, "refused a valid proof: \(error.message)")
        }
    }

    @Test("All 196 vector files are read, and both kinds include happy paths")
    func counts() throws {
        let inclusion = try MerkleVectors.inclusion(), consistency = try MerkleVectors.consistency()
        #expect(inclusion.count + consistency.count == 196)
        #expect(inclusion.contains { !$0.wantErr } && consistency.contains { !$0.wantErr })
    }
}
