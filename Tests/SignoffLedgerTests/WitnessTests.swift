import Foundation
import SignoffCrypto
@testable import SignoffLedger
import SignoffTestSupport
import Testing

/// Issue 32, part 1 and 2 without I/O: C2SP tlog-cosignature v1 lines, and the checks of tlog-witness v1's
/// `add-checkpoint` with the status the spec gives each refusal.
@Suite("Witness: cosignatures and add-checkpoint")
struct WitnessTests {
    static let logKey = Ed25519.SigningKey()
    static let origin = "example.test/ledger"
    static let logVerifier = try! NoteVerifierKey(name: origin, publicKey: logKey.publicKey)

    /// A log of `count` leaves: its signed checkpoint at `size`, and its nodes for proofs.
    static func log(_ count: Int, seed: String = "leaf") -> MemoryNodes {
        var nodes = MemoryNodes()
        for i in 0..<count { nodes.append(Merkle.leafHash(Array("\(seed) \(i)".utf8))) }
        return nodes
    }

    static func note(_ nodes: MemoryNodes, size: UInt64, key: Ed25519.SigningKey = logKey, origin: String = origin) throws -> SignedNote {
        let root = try MerkleProofBuilder(reader: nodes).rootHash(size: size)
        return try SignedNote.sign(text: try Checkpoint(origin: origin, size: size, rootHash: root).text, name: origin, key: key)
    }

    static func request(_ nodes: MemoryNodes, old: UInt64, size: UInt64, key: Ed25519.SigningKey = logKey) throws -> Witness.AddCheckpoint {
        let proof = old == 0 || old == size ? [] : try MerkleProofBuilder(reader: nodes).consistencyProof(from: old, to: size)
        return try Witness.AddCheckpoint(oldSize: old, proof: proof, note: try note(nodes, size: size, key: key))
    }

    static func latest(_ nodes: MemoryNodes, size: UInt64) throws -> Witness.Latest {
        Witness.Latest(size: size, rootHash: try MerkleProofBuilder(reader: nodes).rootHash(size: size))
    }

    @Test("A cosignature: key ID of type 0x04, time and signature over cosignature/v1, verified; another time, text or key fails")
    func cosignature() throws {
        let witness = Ed25519.SigningKey()
        let key = try CosignerKey(name: "witness.test/w1", publicKey: witness.publicKey)
        // The key ID is SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4], not the note key's (0x01).
        #expect(key.keyID == Array(SHA256Digest.hash(Array("witness.test/w1\n".utf8) + [0x04] + witness.publicKey.bytes).bytes.prefix(4)))
        #expect(key.keyID != NoteVerifierKey.keyID(name: "witness.test/w1", publicKey: witness.publicKey))
        // The verifier key's text round-trips; a note key's text (0x01) is not a cosigner key.
        #expect(try CosignerKey(parsing: key.description) == key)
        #expect(throws: CryptoError.self) { try CosignerKey(parsing: try NoteVerifierKey(name: "witness.test/w1", publicKey: witness.publicKey).description) }
        let checkpoint = try Self.note(Self.log(5), size: 5)
        let line = try Cosignature.sign(checkpointText: checkpoint.text, time: 1_700_000_000, name: key.name, key: witness)
        #expect(line.keyID == key.keyID && line.signature.count == 72)
        #expect(Array(line.signature.prefix(8)) == [0, 0, 0, 0, 0x65, 0x53, 0xF1, 0x00], "the time, big-endian")
        #expect(witness.publicKey.isValidSignature(Array(line.signature.dropFirst(8)), for: Array("cosignature/v1\ntime 1700000000\n\(checkpoint.text)".utf8)))
        let cosigned = checkpoint.adding([line])
        #expect(try Cosignature.verifiedTime(of: cosigned, by: key) == 1_700_000_000)
        // Reparsed from its text: the same.
        #expect(try Cosignature.verifiedTime(of: SignedNote(parsing: cosigned.serialized), by: key) == 1_700_000_000)
        // The log's own signature still verifies; the cosignature is not a note signature.
        #expect(cosigned.verifiedSignatures(by: [Self.logVerifier]) == [Self.logVerifier])
        // Absent: nil. Another key of the same name: not this key's line.
        #expect(try Cosignature.verifiedTime(of: checkpoint, by: key) == nil)
        let other = try CosignerKey(name: "witness.test/w1", publicKey: Ed25519.SigningKey().publicKey)
        #expect(try Cosignature.verifiedTime(of: cosigned, by: other) == nil)
        // A changed time or signature under the key's name and ID: refused, not ignored.
        var forged = line.signature
        forged[7] ^= 1
        let tampered = checkpoint.adding([SignedNote.Signature(name: key.name, keyID: key.keyID, signature: forged)])
        #expect(throws: LedgerError.self) { try Cosignature.verifiedTime(of: tampered, by: key) }
        // Over another checkpoint: refused.
        let elsewhere = try Self.note(Self.log(6), size: 6).adding([line])
        #expect(throws: LedgerError.self) { try Cosignature.verifiedTime(of: elsewhere, by: key) }
    }

    @Test("add-checkpoint bodies: read and written alike; malformed ones refused")
    func bodies() throws {
        let nodes = Self.log(9)
        let request = try Self.request(nodes, old: 4, size: 9)
        let parsed = try Witness.AddCheckpoint(parsing: request.body)
        #expect(parsed == request && parsed.proof.count == request.proof.count && !parsed.proof.isEmpty)
        #expect(request.body.hasPrefix("old 4\n"))
        let note = request.note.serialized
        for bad in [
            "old 04\n\n" + note, "old -1\n\n" + note, "old 4\n", "4\n\n" + note, "old 4\nnot base64!\n\n" + note, "old 4\nAAAA\n\n" + note,
            "old 0\n" + String(repeating: Base64.encode([UInt8](repeating: 0, count: 32)) + "\n", count: 64) + "\n" + note,
            "old 4\n\norigin\n9\nnot a root\n\n— x AAAA\n", "old 9223372036854775808\n\n" + note,
            "old 0\n\n" + (try Self.note(nodes, size: 9).serialized.replacingOccurrences(of: "\n9\n", with: "\n9223372036854775808\n")),
        ] {
            #expect(throws: LedgerError.self, "\(bad.prefix(30))") { try Witness.AddCheckpoint(parsing: bad) }
        }
    }

    @Test("Every answer of the spec: 200 for the first and each consistent checkpoint; 404, 403, 400, 409 (stale, split view), 422")
    func checks() throws {
        let nodes = Self.log(12)
        let trusted = [Self.logVerifier]
        // The first checkpoint, from old 0: cosigned.
        #expect(try Witness.check(Self.request(nodes, old: 0, size: 5), trusted: trusted, latest: nil).get().size == 5)
        let at5 = try Self.latest(nodes, size: 5)
        // Consistent growth: cosigned; the same checkpoint again: cosigned.
        #expect(try Witness.check(Self.request(nodes, old: 5, size: 12), trusted: trusted, latest: at5).get().size == 12)
        #expect(try Witness.check(Self.request(nodes, old: 5, size: 5), trusted: trusted, latest: at5).get().size == 5)
        func refusal(_ request: Witness.AddCheckpoint, _ latest: Witness.Latest?, trusted: [NoteVerifierKey] = trusted) -> Witness.Refusal? {
            if case .failure(let refusal) = Witness.check(request, trusted: trusted, latest: latest) { return refusal }
            return nil
        }
        // 404: a log it does not follow.
        #expect(refusal(try Self.request(nodes, old: 0, size: 5), nil, trusted: [])?.status == 404)
        // 403: signed by another key under the log's name.
        #expect(refusal(try Self.request(nodes, old: 5, size: 12, key: Ed25519.SigningKey()), at5)?.status == 403)
        // 400: an old size beyond the checkpoint's; a proof from 0 that is not empty.
        let beyond = try Witness.AddCheckpoint(oldSize: 13, proof: [], note: try Self.note(nodes, size: 12))
        #expect(refusal(beyond, at5)?.status == 400)
        let proofFromZero = try Witness.AddCheckpoint(oldSize: 0, proof: [Merkle.emptyRoot], note: try Self.note(nodes, size: 5))
        #expect(refusal(proofFromZero, nil)?.status == 400)
        // 409 with the latest size: the client's old size is not the witness's (stale, or a restore from backup).
        func conflict(_ refusal: Witness.Refusal?) -> UInt64? { if case .conflict(let size, _)? = refusal { size } else { nil } }
        func splitView(_ refusal: Witness.Refusal?) -> UInt64? { if case .splitView(let size, _)? = refusal { size } else { nil } }
        #expect(conflict(refusal(try Self.request(nodes, old: 3, size: 12), at5)) == 5)
        #expect(refusal(try Self.request(nodes, old: 0, size: 12), at5)?.status == 409, "a log that starts over from 0 (truncated and regrown)")
        // 409: a split view — another root at the cosigned size.
        let fork = Self.log(12, seed: "fork")
        #expect(splitView(refusal(try Self.request(fork, old: 5, size: 5), at5)) == 5)
        #expect(refusal(try Self.request(fork, old: 5, size: 5), at5)?.status == 409)
        // A stale old size that happens to name the witness's size as the checkpoint's is a plain 409, not a split view.
        #expect(conflict(refusal(try Self.request(nodes, old: 0, size: 5), at5)) == 5)
        // Size 0: only the empty tree's root, and once cosigned, the same again (an outsider found a second root accepted).
        let empty = try Witness.AddCheckpoint(oldSize: 0, proof: [], note: try Self.note(MemoryNodes(), size: 0))
        #expect(try Witness.check(empty, trusted: trusted, latest: nil).get().size == 0)
        let notEmpty = try SignedNote.sign(
            text: try Checkpoint(origin: Self.origin, size: 0, rootHash: SHA256Digest.hash("x")).text, name: Self.origin, key: Self.logKey)
        #expect(refusal(try Witness.AddCheckpoint(oldSize: 0, proof: [], note: notEmpty), nil)?.status == 400)
        let at0Other = Witness.Latest(size: 0, rootHash: SHA256Digest.hash("x"))
        #expect(splitView(refusal(empty, at0Other)) == 0, "a second root at size 0 is a split view")
        // 422: a forked log's growth does not extend what the witness cosigned.
        #expect(refusal(try Self.request(fork, old: 5, size: 12), at5)?.status == 422)
        // 422: a proof that does not fit.
        var proof = try MerkleProofBuilder(reader: nodes).consistencyProof(from: 5, to: 12)
        proof[0] = Merkle.emptyRoot
        #expect(refusal(try Witness.AddCheckpoint(oldSize: 5, proof: proof, note: try Self.note(nodes, size: 12)), at5)?.status == 422)
    }
}
