import SignoffCrypto
import Testing

@Suite("SHA-256 digests")
struct DigestTests {
    @Test("Known answers: empty string and \"abc\"")
    func knownAnswers() {
        #expect(SHA256Digest.hash([UInt8]()).description == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hash("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("Incremental hashing equals one-shot hashing")
    func incremental() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var hasher = SHA256Hasher()
        for chunk in stride(from: 0, to: data.count, by: 777) { hasher.update(data[chunk..<min(chunk + 777, data.count)]) }
        #expect(hasher.finalize() == SHA256Digest.hash(data))
    }

    @Test("The text form round-trips")
    func roundTrip() throws {
        let digest = SHA256Digest.hash("bundle")
        #expect(try SHA256Digest(parsing: digest.description) == digest)
    }

    @Test(
        "Malformed digests are refused",
        arguments: [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  // no prefix
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",  // uppercase
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",  // 63 digits
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
            "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:",
            "",
        ]
    )
    func refused(_ text: String) {
        #expect(throws: CryptoError.self) { try SHA256Digest(parsing: text) }
    }
}
