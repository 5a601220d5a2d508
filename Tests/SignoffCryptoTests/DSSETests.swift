import Foundation
import SignoffCrypto
import SignoffTestSupport
import Testing

@Suite("DSSE envelopes")
struct DSSETests {
    @Test("PAE matches the DSSE specification's vector")
    func paeVector() {
        let pae = DSSE.pae(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    @Test("PAE counts bytes, not characters")
    func paeCountsBytes() {
        let pae = DSSE.pae(payloadType: "t", payload: Array("é".utf8))
        #expect(pae == Array("DSSEv1 1 t 2 ".utf8) + Array("é".utf8))
    }

    @Test("Sign, encode, decode and verify; the payload bytes survive exactly")
    func roundTrip() throws {
        let key = Ed25519.SigningKey()
        let payload = Array("{\"b\": 1,  \"a\": 2}".utf8)  // deliberately not canonical JSON
        let envelope = DSSE.sign(payload: payload, payloadType: DSSE.inTotoPayloadType, with: key)
        let decoded = try DSSEEnvelope(json: envelope.jsonBytes())
        #expect(decoded.payload == payload)
        #expect(decoded == envelope)
        let signers = try decoded.verify(trustedKeys: [DSSETrustedKey(publicKey: key.publicKey)])
        #expect(signers.map(\.publicKey) == [key.publicKey])
    }

    @Test("URL-safe base64 without padding is accepted on input")
    func urlSafeInput() throws {
        let key = Ed25519.SigningKey()
        var payload = [UInt8](repeating: 0xFB, count: 31)  // encodes to '+' and '/' in standard base64
        payload.append(0xFF)
        let envelope = DSSE.sign(payload: payload, payloadType: "x", with: key)
        func urlSafe(_ b: [UInt8]) -> String {
            Base64.encode(b).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let json = "{\"payload\":\"\(urlSafe(payload))\",\"payloadType\":\"x\",\"signatures\":[{\"keyid\":\"\(key.publicKey.fingerprint)\",\"sig\":\"\(urlSafe(envelope.signatures[0].sig))\"}]}"
        let decoded = try DSSEEnvelope(json: Array(json.utf8))
        #expect(decoded.payload == payload)
        try decoded.verify(trustedKeys: [DSSETrustedKey(publicKey: key.publicKey)])
    }

    @Test("A changed payload, type or signature is refused")
    func tampering() throws {
        let key = Ed25519.SigningKey()
        let trusted = [DSSETrustedKey(publicKey: key.publicKey)]
        let envelope = DSSE.sign(payload: Array("approve".utf8), payloadType: DSSE.inTotoPayloadType, with: key)
        var payload = envelope
        payload.payload = Array("reject!".utf8)
        #expect(throws: CryptoError.self) { try payload.verify(trustedKeys: trusted) }
        var type = envelope
        type.payloadType = "application/json"
        #expect(throws: CryptoError.self) { try type.verify(trustedKeys: trusted) }
        var signature = envelope
        signature.signatures[0].sig[5] ^= 1
        #expect(throws: CryptoError.self) { try signature.verify(trustedKeys: trusted) }
        #expect(throws: CryptoError.self) { try envelope.verify(trustedKeys: [DSSETrustedKey(publicKey: Ed25519.SigningKey().publicKey)]) }
    }

    @Test("A threshold counts distinct trusted keys, never one key twice")
    func threshold() throws {
        let a = Ed25519.SigningKey(), b = Ed25519.SigningKey()
        let trusted = [DSSETrustedKey(publicKey: a.publicKey), DSSETrustedKey(publicKey: b.publicKey)]
        var envelope = DSSE.sign(payload: [1], payloadType: "x", with: a)
        envelope.addSignature(with: a)  // the same key twice
        #expect { try envelope.verify(trustedKeys: trusted, threshold: 2) } throws: { ($0 as? CryptoError)?.code == .thresholdNotMet }
        envelope.addSignature(with: b)
        #expect(try envelope.verify(trustedKeys: trusted, threshold: 2).count == 2)
        #expect(throws: CryptoError.self) { try envelope.verify(trustedKeys: trusted, threshold: 0) }
    }

    @Test("Malformed envelopes are refused with the field named")
    func malformed() {
        let cases = [
            "{}",
            "{\"payload\":\"aGk=\",\"payloadType\":\"x\"}",
            "{\"payload\":\"***\",\"payloadType\":\"x\",\"signatures\":[]}",
            "{\"payload\":\"aGk=\",\"payloadType\":\"x\",\"signatures\":[{\"sig\":\"%%\"}]}",
            "not json",
        ]
        for text in cases {
            #expect(throws: CryptoError.self) { try DSSEEnvelope(json: Array(text.utf8)) }
        }
        #expect { try DSSEEnvelope(json: Array("{\"payload\":\"aGk=\",\"payloadType\":\"x\"}".utf8)) } throws: {
            ($0 as? CryptoError)?.message.contains("signatures") == true
        }
    }

    @Test("An envelope signed here verifies with Python's securesystemslib")
    func verifiedBySecuresystemslib() async throws {
        let key = Ed25519.SigningKey()
        let statement = Array("{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[]}".utf8)
        let envelope = DSSE.sign(payload: statement, payloadType: DSSE.inTotoPayloadType, with: key)
        let good = try await TestSupport.runPython(
            "dsse_interop.py", ["verify", Hex.encode(key.publicKey.bytes), key.publicKey.keyFingerprint], input: envelope.jsonBytes())
        #expect(good.status == 0, "securesystemslib refused: \(good.stdout) \(good.stderr)")
        var tampered = envelope
        tampered.payload[3] ^= 1
        let bad = try await TestSupport.runPython(
            "dsse_interop.py", ["verify", Hex.encode(key.publicKey.bytes), key.publicKey.keyFingerprint], input: tampered.jsonBytes())
        #expect(bad.status == 1, "securesystemslib accepted a tampered envelope: \(bad.stdout) \(bad.stderr)")
    }

    @Test("An envelope signed by securesystemslib verifies here")
    func signedBySecuresystemslib() async throws {
        let result = try await TestSupport.runPython("dsse_interop.py", ["sign"])
        try #require(result.status == 0, "python failed: \(result.stderr)")
        struct Output: Decodable { let envelope: String; let public_key: String; let keyid: String }
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        let envelope = try DSSEEnvelope(json: Array(output.envelope.utf8))
        let publicKey = try Ed25519.PublicKey(bytes: try #require(Hex.decode(output.public_key)))
        #expect(envelope.payloadType == DSSE.inTotoPayloadType)
        let signers = try envelope.verify(trustedKeys: [DSSETrustedKey(keyID: output.keyid, publicKey: publicKey)])
        #expect(signers.count == 1)
        // The same envelope does not verify under a key ID that is not the signer's.
        #expect(throws: CryptoError.self) {
            try envelope.verify(trustedKeys: [DSSETrustedKey(keyID: "someone-else", publicKey: Ed25519.SigningKey().publicKey)])
        }
    }
}
