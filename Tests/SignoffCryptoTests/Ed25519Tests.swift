import Foundation
import SignoffCrypto
import SignoffTestSupport
import Testing

struct RFC8032Vector: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let secretKey: String
    let publicKey: String
    let message: String
    let signature: String
    var testDescription: String { name }
}

struct WycheproofCase: Sendable, CustomTestStringConvertible {
    let tcId: Int
    let comment: String
    let publicKey: [UInt8]
    let message: [UInt8]
    let signature: [UInt8]
    let valid: Bool
    var testDescription: String { "tcId \(tcId)\(comment.isEmpty ? "" : " (\(comment))")" }
}

enum Vectors {
    static func rfc8032() throws -> [RFC8032Vector] {
        struct File: Decodable { let vectors: [RFC8032Vector] }
        let url = TestSupport.projectRoot.appendingPathComponent("Tests/testdata/rfc8032-ed25519.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).vectors
    }

    static func wycheproof() throws -> [WycheproofCase] {
        struct File: Decodable {
            struct Group: Decodable {
                struct Key: Decodable { let pk: String }
                struct Case: Decodable { let tcId: Int; let comment: String; let msg: String; let sig: String; let result: String }
                let publicKey: Key
                let tests: [Case]
            }
            let numberOfTests: Int
            let testGroups: [Group]
        }
        let url = try TestSupport.sharedTestData("ed25519/wycheproof_ed25519_test.json")
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        let cases = file.testGroups.flatMap { group in
            group.tests.map { test in
                WycheproofCase(
                    tcId: test.tcId, comment: test.comment, publicKey: Hex.decode(group.publicKey.pk)!,
                    message: Hex.decode(test.msg)!, signature: Hex.decode(test.sig) ?? [], valid: test.result == "valid"
                )
            }
        }
        guard cases.count == file.numberOfTests else { throw TestSupportError("Wycheproof file lists \(file.numberOfTests) tests, read \(cases.count)") }
        return cases
    }
}

@Suite("Ed25519")
struct Ed25519Tests {
    @Test("RFC 8032 section 7.1 vectors: key derivation, signature and verification", arguments: try Vectors.rfc8032())
    func rfc8032(_ vector: RFC8032Vector) throws {
        var seed = try #require(Hex.decode(vector.secretKey))
        let key = try Ed25519.SigningKey(seed: &seed)
        #expect(seed.allSatisfy { $0 == 0 }, "the caller's seed copy is zeroed")
        #expect(Hex.encode(key.publicKey.bytes) == vector.publicKey)
        let message = try #require(Hex.decode(vector.message))
        let signature = key.signature(for: message)
        #expect(Hex.encode(signature) == vector.signature)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        var flipped = signature
        flipped[0] ^= 0x01
        #expect(!key.publicKey.isValidSignature(flipped, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: message + [0]))
    }

    @Test("The five RFC 8032 Ed25519 vectors are all present")
    func rfc8032Count() throws {
        #expect(try Vectors.rfc8032().map(\.name) == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"])
    }

    @Test("Wycheproof Ed25519: valid cases verify, invalid ones are refused", arguments: try Vectors.wycheproof())
    func wycheproof(_ test: WycheproofCase) throws {
        let publicKey = try Ed25519.PublicKey(bytes: test.publicKey)
        #expect(publicKey.isValidSignature(test.signature, for: test.message) == test.valid)
    }

    @Test("A public key of the wrong length is refused")
    func publicKeyLength() {
        #expect(throws: CryptoError.self) { try Ed25519.PublicKey(bytes: [UInt8](repeating: 1, count: 31)) }
    }

    @Test("Signing keys never print their secret")
    func redaction() {
        let key = Ed25519.SigningKey()
        let text = "\(key) \(String(reflecting: key))"
        #expect(text.contains("redacted"))
        let seedHex = key.withSeed { Hex.encode($0) }
        #expect(!text.contains(seedHex))
        var secret: [UInt8] = [1, 2, 3]
        let secure = SecureBytes(consuming: &secret)
        #expect(secret == [0, 0, 0])
        #expect("\(secure)" == "SecureBytes(3 bytes, redacted)")
    }
}
