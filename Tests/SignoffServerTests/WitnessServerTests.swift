import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffCrypto
import SignoffLedger
import SignoffServer
import SignoffStore
import SignoffTestSupport
import Testing

/// Issue 32, part 2: `signoff witness serve`'s HTTP interface (C2SP tlog-witness v1) over its SQLite state, and its
/// cosignatures read by tlog-scales (PyPI), which nobody here wrote.
@Suite("Witness over HTTP")
struct WitnessServerTests {
    /// RFC 6962's definitions, recursive, from the leaves: independent of the ledger's proof builder.
    static func root(_ leaves: ArraySlice<SHA256Digest>) -> SHA256Digest {
        if leaves.isEmpty { return Merkle.emptyRoot }
        if leaves.count == 1 { return leaves.first! }
        let k = split(leaves.count)
        return Merkle.nodeHash(root(leaves.prefix(k)), root(leaves.dropFirst(k)))
    }

    static func split(_ n: Int) -> Int {
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }

    /// SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2.
    static func subproof(_ m: Int, _ leaves: ArraySlice<SHA256Digest>, _ complete: Bool) -> [SHA256Digest] {
        let n = leaves.count
        if m == n { return complete ? [] : [root(leaves)] }
        let k = split(n)
        if m <= k { return subproof(m, leaves.prefix(k), complete) + [root(leaves.dropFirst(k))] }
        return subproof(m - k, leaves.dropFirst(k), false) + [root(leaves.prefix(k))]
    }

    struct Log {
        let origin: String
        let key: Ed25519.SigningKey
        var leaves: [SHA256Digest]

        init(_ origin: String = "example.test/ledger", key: Ed25519.SigningKey = Ed25519.SigningKey(), count: Int, seed: String = "entry") {
            self.origin = origin
            self.key = key
            leaves = (0..<count).map { Merkle.leafHash(Array("\(seed) \($0)".utf8)) }
        }

        var verifier: NoteVerifierKey { try! NoteVerifierKey(name: origin, publicKey: key.publicKey) }

        func note(_ size: Int) throws -> SignedNote {
            let checkpoint = try Checkpoint(origin: origin, size: UInt64(size), rootHash: WitnessServerTests.root(leaves.prefix(size)))
            return try SignedNote.sign(text: checkpoint.text, name: origin, key: key)
        }

        func body(old: Int, size: Int) throws -> String {
            let proof = old == 0 || old == size ? [] : WitnessServerTests.subproof(old, leaves.prefix(size), true)
            return try Witness.AddCheckpoint(oldSize: UInt64(old), proof: proof, note: note(size)).body
        }
    }

    static func post(_ client: some TestClientProtocol, _ body: String, path: String = "/add-checkpoint") async throws -> (Int, String, String?) {
        try await client.execute(uri: path, method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: body)) {
            (Int($0.status.code), String(buffer: $0.body), $0.headers[.contentType])
        }
    }

    @Test("Every answer of tlog-witness v1 over HTTP; the cosignature verified by tlog-scales; split views, forks, a truncated log and a restored one refused; one winner of a race; the state survives a restart")
    func witness() async throws {
        let directory = try TestSupport.temporaryDirectory("signoff-witness")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("witness.sqlite").path
        let log = Log(count: 40)
        let witnessKey = Ed25519.SigningKey()
        var configuration = try WitnessConfiguration(name: "witness.test/w1", key: witnessKey, logs: [log.verifier])
        configuration.now = { 1_780_000_000 }
        let cosigner = configuration.cosignerKey
        let app = Application(router: buildWitnessRouter(store: try SQLiteWitnessStore(path: path), configuration: configuration), logger: quietLogger)
        try await app.test(.router) { client in
            // The first checkpoint, from 0: the cosignature line, over the note as sent.
            let (status, line, _) = try await Self.post(client, log.body(old: 0, size: 5))
            #expect(status == 200 && line.hasPrefix("— witness.test/w1 ") && line.hasSuffix("\n"), "\(status) \(line)")
            let cosigned = try SignedNote(parsing: log.note(5).serialized + line)
            #expect(try Cosignature.verifiedTime(of: cosigned, by: cosigner) == 1_780_000_000)
            // tlog-scales verifies both: the log's note signature (type 0x01) and the witness's cosignature (0x04).
            let scales = try await TestSupport.runPython(
                "cosignature_verify.py", [log.verifier.description, cosigner.description], input: Array(cosigned.serialized.utf8))
            #expect(scales.status == 0 && scales.stdout.contains("witness.test/w1 \(cosigner.keyIDHex) 1780000000"), "\(scales.stdout) \(scales.stderr)")
            let wrong = try await TestSupport.runPython(
                "cosignature_verify.py", [try CosignerKey(name: "witness.test/w1", publicKey: Ed25519.SigningKey().publicKey).description],
                input: Array(cosigned.serialized.utf8))
            #expect(wrong.status == 1, "another witness key does not verify it")

            // 409 with the size it cosigned, as text/x.tlog.size: a client that does not know starts from 0.
            let stale = try await Self.post(client, log.body(old: 0, size: 7))
            #expect(stale.0 == 409 && stale.1 == "5\n" && stale.2 == "text/x.tlog.size", "\(stale)")
            // Consistent growth, with the proof: cosigned.
            #expect(try await Self.post(client, log.body(old: 5, size: 9)).0 == 200)
            #expect(try await Self.post(client, log.body(old: 9, size: 9)).0 == 200, "the same checkpoint again")
            // A split view: another root at size 9.
            let fork = Log(log.origin, key: log.key, count: 40, seed: "forked")
            let split = try await Self.post(client, fork.body(old: 9, size: 9))
            #expect(split.0 == 409 && split.1 == "9\n", "\(split)")
            // A fork's growth: the proof does not lead from what the witness cosigned.
            let proof = try fork.body(old: 9, size: 12)
            #expect(try await Self.post(client, proof).0 == 422)
            // A truncated log that grew again from scratch, and a log restored from a backup of size 5 that grew
            // differently: neither extends size 9.
            #expect(try await Self.post(client, fork.body(old: 0, size: 12)).1 == "9\n")
            var restored = log
            restored.leaves = Array(log.leaves.prefix(5)) + (5..<40).map { Merkle.leafHash(Array("after the restore \($0)".utf8)) }
            #expect(try await Self.post(client, restored.body(old: 5, size: 12)).0 == 409)
            #expect(try await Self.post(client, restored.body(old: 9, size: 12)).0 == 422)
            // 404: a log it does not follow; 403: the log's name, another key; 400: malformed, or an old size beyond the new.
            #expect(try await Self.post(client, Log("other.test/log", count: 5).body(old: 0, size: 5)).0 == 404)
            #expect(try await Self.post(client, Log(log.origin, count: 40).body(old: 9, size: 12)).0 == 403)
            #expect(try await Self.post(client, "old 9\n").0 == 400)
            #expect(try await Self.post(client, "old 13\n\n" + log.note(12).serialized).0 == 400)
            #expect(try await Self.post(client, log.body(old: 9, size: 12), path: "/elsewhere/add-checkpoint").0 == 404)
            // Another method: 405 with Allow: POST, not the 404 of an unknown log.
            let get = try await client.execute(uri: "/add-checkpoint", method: .get) { ($0.status.code, $0.headers[.allow]) }
            #expect(get.0 == 405 && get.1 == "POST")
            // A size of 2^63 or more, validly signed: 400 (it used to stop the witness).
            let huge = try SignedNote.sign(
                text: "\(log.origin)\n9223372036854775808\n\(Base64.encode(SHA256Digest.hash("x").bytes))\n", name: log.origin, key: log.key)
            #expect(try await Self.post(client, "old 0\n\n" + huge.serialized).0 == 400)

            // Sixteen clients race from size 9 to sixteen sizes: one is cosigned, the others told the new size.
            let answers = try await withThrowingTaskGroup(of: (Int, Int, String).self) { group in
                for size in 20..<36 { group.addTask { let (s, b, _) = try await Self.post(client, log.body(old: 9, size: size)); return (size, s, b) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let won = answers.filter { $0.1 == 200 }
            #expect(won.count == 1, "\(answers.map { "\($0.0):\($0.1)" })")
            let winner = try #require(won.first).0
            #expect(answers.filter { $0.1 == 409 }.allSatisfy { $0.2 == "\(winner)\n" } && answers.count == 16)
            #expect(try await Self.post(client, log.body(old: winner, size: 40)).0 == 200)
        }
        // The state is in the file: a restarted witness knows size 40.
        let reopened = try SQLiteWitnessStore(path: path)
        #expect(try await reopened.latest(origin: log.origin)?.size == 40)
        let restarted = Application(router: buildWitnessRouter(store: reopened, configuration: configuration), logger: quietLogger)
        try await restarted.test(.router) { client in
            let answer = try await Self.post(client, log.body(old: 9, size: 40))
            #expect(answer.0 == 409 && answer.1 == "40\n")
        }
    }
}
