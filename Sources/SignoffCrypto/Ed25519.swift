internal import CSodium

/// Ed25519 signatures (RFC 8032) through libsodium.
public enum Ed25519 {
    public static let publicKeyByteCount = 32
    public static let seedByteCount = 32
    public static let signatureByteCount = 64

    /// A public key: 32 bytes.
    public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws(CryptoError) {
            guard bytes.count == Ed25519.publicKeyByteCount else {
                throw CryptoError(.invalidLength, "an Ed25519 public key is 32 bytes, got \(bytes.count)")
            }
            self.bytes = bytes
        }

        /// Strict verification with libsodium's `crypto_sign_verify_detached`: refuses non-canonical
        /// scalars, small-order points and signatures of the wrong length.
        public func isValidSignature(_ signature: some ContiguousBytes, for message: some ContiguousBytes) -> Bool {
            Sodium.ensureInitialised()
            return signature.withUnsafeBytes { sig in
                guard sig.count == Ed25519.signatureByteCount else { return false }
                return message.withUnsafeBytes { msg in
                    bytes.withUnsafeBufferPointer { pk in
                        crypto_sign_verify_detached(
                            sig.bindMemory(to: UInt8.self).baseAddress!,
                            msg.bindMemory(to: UInt8.self).baseAddress,
                            UInt64(msg.count),
                            pk.baseAddress!
                        ) == 0
                    }
                }
            }
        }

        /// Lowercase hex of SHA-256 of the 32 key bytes: how Signoff's state and storage identify a key.
        public var fingerprint: String { SHA256Digest.hash(bytes).hex }

        /// The key fingerprint as every document shows it (`key_fingerprint` in JSON and CSV, the DSSE `keyid` of the
        /// envelopes Signoff signs): `sha256:` and ``fingerprint`` (`schema/vocabulary.md`).
        public var keyFingerprint: String { "sha256:" + fingerprint }

        /// The bare hex of a fingerprint written either way (`sha256:<hex>`, or format 1's bare hex); other text unchanged.
        public static func fingerprintHex(_ text: String) -> String {
            text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        }

        public var description: String { "Ed25519.PublicKey(\(Hex.encode(bytes)))" }
    }

    /// A private signing key. The 32-byte seed and libsodium's 64-byte expanded key live in guarded memory.
    public struct SigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        /// libsodium's secret key: seed ‖ public key.
        private let secretKey: SecureBytes
        public let publicKey: PublicKey

        /// A fresh random key pair.
        public init() {
            var seed = Sodium.randomBytes(Ed25519.seedByteCount)
            let secure = SecureBytes(consuming: &seed)
            self = try! SigningKey(seed: secure)  // a 32-byte seed cannot fail
        }

        /// The key pair derived from a 32-byte seed (RFC 8032's private key).
        public init(seed: SecureBytes) throws(CryptoError) {
            guard seed.count == Ed25519.seedByteCount else {
                throw CryptoError(.invalidLength, "an Ed25519 seed is 32 bytes, got \(seed.count)")
            }
            Sodium.ensureInitialised()
            var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
            var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
            seed.withUnsafeBytes { s in
                _ = crypto_sign_seed_keypair(&pk, &sk, s.bindMemory(to: UInt8.self).baseAddress!)
            }
            secretKey = SecureBytes(consuming: &sk)
            publicKey = try PublicKey(bytes: pk)
        }

        /// Convenience for test vectors and key files: takes ownership of and zeroes `seed`.
        public init(seed: inout [UInt8]) throws(CryptoError) {
            try self.init(seed: SecureBytes(consuming: &seed))
        }

        /// The 32-byte seed, for sealing into a key file. Hand it straight to ``SecureBytes``.
        public func withSeed<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try secretKey.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(Ed25519.seedByteCount))) }
        }

        /// A detached 64-byte signature over `message`.
        public func signature(for message: some ContiguousBytes) -> [UInt8] {
            var sig = [UInt8](repeating: 0, count: Ed25519.signatureByteCount)
            message.withUnsafeBytes { msg in
                secretKey.withUnsafeBytes { sk in
                    _ = crypto_sign_detached(
                        &sig, nil,
                        msg.bindMemory(to: UInt8.self).baseAddress, UInt64(msg.count),
                        sk.bindMemory(to: UInt8.self).baseAddress!
                    )
                }
            }
            return sig
        }

        public var description: String { "Ed25519.SigningKey(public: \(Hex.encode(publicKey.bytes)), secret: redacted)" }
        public var debugDescription: String { description }
    }
}
