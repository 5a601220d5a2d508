import Foundation
import SignoffCrypto
import SignoffLedger
import SignoffTestSupport
import Testing

@Suite("Signed notes and checkpoints")
struct SignedNoteTests {
    static let goText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let goSignatureLine = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    static func goKey() throws -> Ed25519.SigningKey {
        let raw = try #require(Base64.decodeStandard("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"))
        var seed = Array(raw.dropFirst())
        return try Ed25519.SigningKey(seed: &seed)
    }

    @Test("Signing reproduces golang.org/x/mod/sumdb/note's example byte for byte")
    func goVector() throws {
        let note = try SignedNote.sign(text: Self.goText, name: "PeterNeumann", key: Self.goKey())
        #expect(note.serialized == Self.goText + "\n" + Self.goSignatureLine)
        let parsed = try SignedNote(parsing: Self.goText + "\n" + Self.goSignatureLine)
        let verifier = try NoteVerifierKey(parsing: "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        try parsed.verify(by: verifier)
    }

    @Test("Unknown signature lines are ignored; up to 100 signatures are accepted")
    func unknownSignatures() throws {
        let key = Ed25519.SigningKey()
        let note = try SignedNote.sign(text: "hello\n", name: "ledger", key: key)
        var text = "hello\n\n"
        for i in 0..<20 {
            text += "\u{2014} witness\(i) \(Base64.encode(SecureRandom.bytes(68)))\n"
        }
        text += note.signatures[0].line
        let parsed = try SignedNote(parsing: text)
        #expect(parsed.signatures.count == 21)
        try parsed.verify(by: try NoteVerifierKey(name: "ledger", publicKey: key.publicKey))
        let other = try NoteVerifierKey(name: "ledger", publicKey: Ed25519.SigningKey().publicKey)
        #expect(throws: LedgerError.self) { try parsed.verify(by: other) }
    }

    @Test(
        "Malformed notes are refused",
        arguments: [
            "hello\n",  // no signatures
            "hello\n\n",  // empty signature block
            "hello\n\n- ledger AAAAAAAA\n",  // hyphen instead of em dash
            "hello\n\n\u{2014} ledger\n",  // no signature
            "hello\n\n\u{2014} ledger !!!!\n",  // not base64
            "hello\n\n\u{2014} ledger AAAA\n",  // too short
            "hello\n\n\u{2014} ledger AAAAAAAA",  // no final newline
            "hel\u{7}lo\n\n\u{2014} ledger AAAAAAAA\n",  // control character
            "\n\n\u{2014} ledger AAAAAAAA\n",  // empty text
        ]
    )
    func malformed(_ text: String) {
        #expect(throws: LedgerError.self) { try SignedNote(parsing: text) }
    }

    @Test("More than 100 signature lines are refused")
    func tooManySignatures() {
        var text = "hello\n\n"
        for i in 0...100 { text += "\u{2014} w\(i) \(Base64.encode([UInt8](repeating: 1, count: 68)))\n" }
        #expect(throws: LedgerError.self) { try SignedNote(parsing: text) }
    }

    @Test("Checkpoint text round-trips and malformed checkpoints are refused")
    func checkpointFormat() throws {
        let checkpoint = try Checkpoint(origin: "signoff.example/ledger", size: 42, rootHash: SHA256Digest.hash("x"))
        #expect(checkpoint.text == "signoff.example/ledger\n42\n\(Base64.encode(SHA256Digest.hash("x").bytes))\n")
        #expect(try Checkpoint(parsing: checkpoint.text) == checkpoint)
        let root = Base64.encode(SHA256Digest.hash("x").bytes)
        for bad in ["o\n042\n\(root)\n", "o\n-1\n\(root)\n", "o\n1\n\(root)", "o\n1\nAAAA\n", "\n1\n\(root)\n", "o\n\(root)\n", "o\n1 \n\(root)\n"] {
            #expect(throws: LedgerError.self) { try Checkpoint(parsing: bad) }
        }
    }

    @Test("A signed checkpoint verifies with its key and is refused with another key or another origin")
    func signedCheckpoint() throws {
        let key = Ed25519.SigningKey()
        let checkpoint = try Checkpoint(origin: "ledger.test", size: 7, rootHash: SHA256Digest.hash("r"))
        let signed = try SignedCheckpoint(signing: checkpoint, with: key)
        let verifier = try NoteVerifierKey(name: "ledger.test", publicKey: key.publicKey)
        #expect(try SignedCheckpoint(verifying: signed.serialized, with: verifier).checkpoint == checkpoint)
        #expect(throws: LedgerError.self) {
            try SignedCheckpoint(verifying: signed.serialized, with: NoteVerifierKey(name: "ledger.test", publicKey: Ed25519.SigningKey().publicKey))
        }
        let tampered = signed.serialized.replacingFirst("\n7\n", with: "\n8\n")
        #expect(throws: LedgerError.self) { try SignedCheckpoint(verifying: tampered, with: verifier) }
    }

    @Test("A checkpoint signed here verifies with an independent Python implementation (PyNaCl + hashlib)")
    func pythonVerifier() async throws {
        let key = Ed25519.SigningKey()
        let store = MemoryNodes.filled(1000)
        let root = Merkle.rootHash(leaves: store.leaves)
        let signed = try SignedCheckpoint(signing: Checkpoint(origin: "signoff.test/ledger", size: 1000, rootHash: root), with: key)
        let verifierKey = try NoteVerifierKey(name: "signoff.test/ledger", publicKey: key.publicKey).description
        let good = try await TestSupport.runPython("checkpoint_verify.py", [verifierKey, "1000", root.hex], input: Array(signed.serialized.utf8))
        #expect(good.status == 0, "Python refused: \(good.stdout) \(good.stderr)")
        let bad = try await TestSupport.runPython(
            "checkpoint_verify.py", [verifierKey, "1000", root.hex], input: Array(signed.serialized.replacingFirst("\n1000\n", with: "\n1001\n").utf8))
        #expect(bad.status == 1, "Python accepted a tampered checkpoint: \(bad.stdout) \(bad.stderr)")
        let otherKey = try NoteVerifierKey(name: "signoff.test/ledger", publicKey: Ed25519.SigningKey().publicKey).description
        let wrongKey = try await TestSupport.runPython("checkpoint_verify.py", [otherKey, "1000", root.hex], input: Array(signed.serialized.utf8))
        #expect(wrongKey.status == 1)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
