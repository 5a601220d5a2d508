import SignoffCrypto
import Testing

@Suite("Signed-note verifier keys")
struct NoteVerifierKeyTests {
    /// golang.org/x/mod/sumdb/note's example key pair: the signer key is `PRIVATE+KEY+NAME+ID+BASE64(0x01 ‖ seed)`.
    static let goSignerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let goVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

    static func goSigningKey() throws -> Ed25519.SigningKey {
        let raw = try #require(Base64.decodeStandard(goSignerKey.dropFirst("PRIVATE+KEY+PeterNeumann+c74f20a3+".count)))
        var seed = Array(raw.dropFirst())
        return try Ed25519.SigningKey(seed: &seed)
    }

    @Test("Key ID and text form match golang.org/x/mod/sumdb/note")
    func matchesGo() throws {
        let key = try NoteVerifierKey(name: "PeterNeumann", publicKey: Self.goSigningKey().publicKey)
        #expect(key.keyIDHex == "c74f20a3")
        #expect(key.description == Self.goVerifierKey)
        #expect(try NoteVerifierKey(parsing: Self.goVerifierKey) == key)
    }

    @Test(
        "Mangled verifier keys are refused",
        arguments: [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // wrong key ID
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",  // key changed
            "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // bad base64
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // uppercase ID
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3",
            "",
        ]
    )
    func refused(_ text: String) {
        #expect(throws: CryptoError.self) { try NoteVerifierKey(parsing: text) }
    }

    @Test("A key of another signature algorithm (not 0x01) is refused")
    func otherAlgorithm() throws {
        let key = try Self.goSigningKey().publicKey
        let text = "PeterNeumann+c74f20a3+" + Base64.encode([0x02] + key.bytes)
        #expect(throws: CryptoError.self) { try NoteVerifierKey(parsing: text) }
    }
}
