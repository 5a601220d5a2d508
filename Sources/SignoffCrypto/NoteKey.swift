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
        VerifierKeyText.keyID(name: name, algorithm: ed25519AlgorithmByte, publicKey: publicKey)
    }

    /// The key ID as 8 lowercase hex digits.
    public var keyIDHex: String { Hex.encode(keyID) }

    /// `NAME+KEYIDHEX+BASE64(0x01 ‖ pubkey)`.
    public var description: String {
        "\(name)+\(keyIDHex)+\(Base64.encode([Self.ed25519AlgorithmByte] + publicKey.bytes))"
    }

    /// Parses a verifier key line; the embedded key ID must match the one computed from name and key.
    public init(parsing text: String) throws(CryptoError) {
        (name, publicKey) = try VerifierKeyText.parse(text, algorithm: Self.ed25519AlgorithmByte, what: "a verifier key")
    }
}

/// A witness's (cosigner's) Ed25519 public key with its name, as C2SP `tlog-cosignature` v1 defines it: the key ID is
/// the first 4 bytes of `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)`, and the text form is the verifier key
/// `NAME+KEYIDHEX+BASE64(0x04 ‖ public key)`. A cosignature signs another message than a note signature
/// (`cosignature/v1`, a time, then the checkpoint), so the same key is never both.
public struct CosignerKey: Hashable, Sendable, CustomStringConvertible {
    /// The signature type of Ed25519 cosignatures (`cosignature/v1`).
    public static let cosignatureAlgorithmByte: UInt8 = 0x04

    public let name: String
    public let publicKey: Ed25519.PublicKey

    public init(name: String, publicKey: Ed25519.PublicKey) throws(CryptoError) {
        try NoteVerifierKey.validate(name: name)
        self.name = name
        self.publicKey = publicKey
    }

    /// Parses `NAME+KEYIDHEX+BASE64(0x04 ‖ public key)`; the key ID must match the name and key.
    public init(parsing text: String) throws(CryptoError) {
        (name, publicKey) = try VerifierKeyText.parse(text, algorithm: Self.cosignatureAlgorithmByte, what: "a witness's verifier key")
    }

    public var keyID: [UInt8] { VerifierKeyText.keyID(name: name, algorithm: Self.cosignatureAlgorithmByte, publicKey: publicKey) }

    public var keyIDHex: String { Hex.encode(keyID) }

    public var description: String { "\(name)+\(keyIDHex)+\(Base64.encode([Self.cosignatureAlgorithmByte] + publicKey.bytes))" }
}

/// The verifier-key text form both key kinds share: `NAME+KEYIDHEX+BASE64(ALGORITHM ‖ public key)`.
enum VerifierKeyText {
    static func keyID(name: String, algorithm: UInt8, publicKey: Ed25519.PublicKey) -> [UInt8] {
        Array(SHA256Digest.hash(Array(name.utf8) + [0x0A, algorithm] + publicKey.bytes).bytes.prefix(4))
    }

    static func parse(_ text: String, algorithm: UInt8, what: String) throws(CryptoError) -> (String, Ed25519.PublicKey) {
        let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
        let parts = trimmed.split(separator: "+", omittingEmptySubsequences: false)
        // Base64 may itself contain '+', so split into name, key ID and the rest.
        guard parts.count >= 3 else {
            throw CryptoError(.invalidEncoding, "\(what) has the form NAME+KEYIDHEX+BASE64KEY")
        }
        let name = String(parts[0])
        let idHex = parts[1]
        let keyText = parts[2...].joined(separator: "+")
        try NoteVerifierKey.validate(name: name)
        guard idHex.utf8.count == 8, let id = Hex.decodeLowercase(idHex) else {
            throw CryptoError(.invalidEncoding, "the key ID in \(what) is 8 lowercase hex digits (got \"\(idHex)\")")
        }
        guard let raw = Base64.decodeStandard(keyText) else {
            throw CryptoError(.invalidEncoding, "the key in \(what) must be standard base64")
        }
        guard raw.count == 33, raw[0] == algorithm else {
            throw CryptoError(
                .invalidEncoding, "\(what) must hold 0x\(Hex.encode([algorithm])) followed by a 32-byte Ed25519 key")
        }
        let publicKey = try Ed25519.PublicKey(bytes: Array(raw[1...]))
        guard id == keyID(name: name, algorithm: algorithm, publicKey: publicKey) else {
            throw CryptoError(.corrupted, "the key ID \(idHex) does not match the name and key: \(what) was altered")
        }
        return (name, publicKey)
    }
}
