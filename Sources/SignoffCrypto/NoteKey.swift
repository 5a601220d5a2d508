/// An Ed25519 public key with a name, in the form C2SP `signed-note` tools read.
///
/// Key ID = first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`; the text form (the *verifier key*)
/// is `NAME+KEYIDHEX+BASE64(0x01 ‖ public key)`, as in golang.org/x/mod/sumdb/note.
public struct NoteVerifierKey: Hashable, Sendable, CustomStringConvertible {
    /// The signature-algorithm byte for Ed25519 in signed notes.
    public static let ed25519AlgorithmByte: UInt8 = 0x01

    public let name: String
    public let publicKey: Ed25519.PublicKey

    public init(name: String, publicKey: Ed25519.PublicKey) throws(CryptoError) {
        try Self.validate(name: name)
        self.name = name
        self.publicKey = publicKey
    }

    /// A key name is non-empty UTF-8 without Unicode spaces or `+` (the signed-note rule).
    public static func validate(name: String) throws(CryptoError) {
        guard !name.isEmpty else { throw CryptoError(.invalidKeyName, "a key name must not be empty") }
        guard !name.contains("+") else { throw CryptoError(.invalidKeyName, "a key name must not contain '+' (got \"\(name)\")") }
        guard !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) else {
            throw CryptoError(.invalidKeyName, "a key name must not contain spaces or control characters (got \"\(name)\")")
        }
    }

    /// The 4-byte key ID of the signed-note spec.
    public var keyID: [UInt8] {
        Self.keyID(name: name, publicKey: publicKey)
    }

    public static func keyID(name: String, publicKey: Ed25519.PublicKey) -> [UInt8] {
        Array(SHA256Digest.hash(Array(name.utf8) + [0x0A, ed25519AlgorithmByte] + publicKey.bytes).bytes.prefix(4))
    }

    /// The key ID as 8 lowercase hex digits.
    public var keyIDHex: String { Hex.encode(keyID) }

    /// `NAME+KEYIDHEX+BASE64(0x01 ‖ pubkey)`.
    public var description: String {
        "\(name)+\(keyIDHex)+\(Base64.encode([Self.ed25519AlgorithmByte] + publicKey.bytes))"
    }

    /// Parses a verifier key line; the embedded key ID must match the one computed from name and key.
    public init(parsing text: String) throws(CryptoError) {
        let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
        let parts = trimmed.split(separator: "+", omittingEmptySubsequences: false)
        // Base64 may itself contain '+', so split into name, key ID and the rest.
        guard parts.count >= 3 else {
            throw CryptoError(.invalidEncoding, "a verifier key has the form NAME+KEYIDHEX+BASE64KEY")
        }
        let name = String(parts[0])
        let idHex = parts[1]
        let keyText = parts[2...].joined(separator: "+")
        try Self.validate(name: name)
        guard idHex.utf8.count == 8, let id = Hex.decodeLowercase(idHex) else {
            throw CryptoError(.invalidEncoding, "the key ID in a verifier key is 8 lowercase hex digits (got \"\(idHex)\")")
        }
        guard let raw = Base64.decodeStandard(keyText) else {
            throw CryptoError(.invalidEncoding, "the key in a verifier key must be standard base64")
        }
        guard raw.count == 33, raw[0] == Self.ed25519AlgorithmByte else {
            throw CryptoError(.invalidEncoding, "a verifier key must hold 0x01 followed by a 32-byte Ed25519 key")
        }
        let publicKey = try Ed25519.PublicKey(bytes: Array(raw[1...]))
        guard id == Self.keyID(name: name, publicKey: publicKey) else {
            throw CryptoError(.corrupted, "the key ID \(idHex) does not match the name and key: the verifier key was altered")
        }
        self.name = name
        self.publicKey = publicKey
    }
}
