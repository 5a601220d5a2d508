internal import CSodium

/// A private key sealed under a passphrase: Argon2id (`crypto_pwhash`) derives a key that encrypts the
/// Ed25519 seed with XChaCha20-Poly1305. The layout is specified byte by byte in `schema/key-file.md`.
public enum SealedKeyFile {
    public static let magic: [UInt8] = Array("SIGNOFFK".utf8)
    public static let currentVersion: UInt8 = 1
    /// libsodium's identifier for Argon2id v1.3.
    static let argon2id13: UInt8 = 2
    static let saltCount = 16
    static let nonceCount = 24
    static let tagCount = 16
    static let checksumCount = 32

    /// Argon2id cost. Files below libsodium's INTERACTIVE limits are refused when opened: a weak file is
    /// not made acceptable by being on disk.
    public struct KDFLimits: Hashable, Sendable {
        public var opsLimit: UInt32
        /// Memory in KiB.
        public var memLimitKiB: UInt32

        public init(opsLimit: UInt32, memLimitKiB: UInt32) {
            self.opsLimit = opsLimit
            self.memLimitKiB = memLimitKiB
        }

        public static var interactive: KDFLimits {
            Sodium.ensureInitialised()
            return KDFLimits(opsLimit: UInt32(crypto_pwhash_opslimit_interactive()), memLimitKiB: UInt32(crypto_pwhash_memlimit_interactive() / 1024))
        }

        public static var moderate: KDFLimits {
            Sodium.ensureInitialised()
            return KDFLimits(opsLimit: UInt32(crypto_pwhash_opslimit_moderate()), memLimitKiB: UInt32(crypto_pwhash_memlimit_moderate() / 1024))
        }

        /// 4 GiB: more than any sane file needs; a bigger figure is a denial-of-service attempt.
        static let maximumMemLimitKiB: UInt32 = 4 * 1024 * 1024
        static let maximumOpsLimit: UInt32 = 64

        func checkAcceptable() throws(CryptoError) {
            let floor = KDFLimits.interactive
            guard opsLimit >= floor.opsLimit, memLimitKiB >= floor.memLimitKiB else {
                throw CryptoError(
                    .weakParameters,
                    "the key file's Argon2id cost (ops \(opsLimit), \(memLimitKiB) KiB) is below libsodium's INTERACTIVE minimum (ops \(floor.opsLimit), \(floor.memLimitKiB) KiB); re-create the key"
                )
            }
            guard memLimitKiB <= Self.maximumMemLimitKiB, opsLimit <= Self.maximumOpsLimit else {
                throw CryptoError(.weakParameters, "the key file asks for an Argon2id cost above the 4 GiB / 64 passes this tool accepts")
            }
        }
    }

    /// What can be read from a sealed file without the passphrase.
    public struct Header: Hashable, Sendable {
        public let version: UInt8
        public let limits: KDFLimits
        public let name: String
        public let publicKey: Ed25519.PublicKey
        public var verifierKey: NoteVerifierKey { try! NoteVerifierKey(name: name, publicKey: publicKey) }
    }

    /// A key read back from a sealed file.
    public struct OpenedKey: Sendable {
        public let name: String
        public let signingKey: Ed25519.SigningKey
        public var verifierKey: NoteVerifierKey { try! NoteVerifierKey(name: name, publicKey: signingKey.publicKey) }
    }

    // MARK: Sealing

    /// Seals `key` under `passphrase`. An empty passphrase is refused unless `allowEmptyPassphrase`.
    public static func seal(
        _ key: Ed25519.SigningKey,
        name: String,
        passphrase: SecureBytes,
        limits: KDFLimits = .interactive,
        allowEmptyPassphrase: Bool = false
    ) throws(CryptoError) -> [UInt8] {
        try NoteVerifierKey.validate(name: name)
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 255 else { throw CryptoError(.invalidKeyName, "a key name is at most 255 bytes of UTF-8") }
        guard passphrase.count > 0 || allowEmptyPassphrase else {
            throw CryptoError(.emptyPassphrase, "an empty passphrase leaves the key unprotected; choose one, or pass --insecure-no-passphrase if you really mean it")
        }
        try limits.checkAcceptable()

        let salt = Sodium.randomBytes(saltCount)
        let nonce = Sodium.randomBytes(nonceCount)
        var header = magic
        header.append(currentVersion)
        header.append(argon2id13)
        header.append(contentsOf: bigEndian(limits.opsLimit))
        header.append(contentsOf: bigEndian(limits.memLimitKiB))
        header.append(contentsOf: salt)
        header.append(contentsOf: nonce)
        header.append(UInt8(nameBytes.count))
        header.append(contentsOf: nameBytes)
        header.append(contentsOf: key.publicKey.bytes)

        let wrappingKey = try deriveKey(passphrase: passphrase, salt: salt, limits: limits)
        var ciphertext = [UInt8](repeating: 0, count: Ed25519.seedByteCount + tagCount)
        key.withSeed { seed in
            wrappingKey.withUnsafeBytes { k in
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    &ciphertext, nil,
                    seed.bindMemory(to: UInt8.self).baseAddress!, UInt64(seed.count),
                    header, UInt64(header.count),
                    nil, nonce,
                    k.bindMemory(to: UInt8.self).baseAddress!
                )
            }
        }
        var file = header + ciphertext
        file.append(contentsOf: SHA256Digest.hash(file).bytes)
        return file
    }

    // MARK: Opening

    /// Reads the public part of a sealed file, checking its structure and checksum but not the passphrase.
    public static func header(of file: [UInt8]) throws(CryptoError) -> Header {
        try parse(file).header
    }

    /// Opens a sealed file. Each failure has its own code: ``CryptoError/Code/notAKeyFile``,
    /// ``CryptoError/Code/unsupportedVersion``, ``CryptoError/Code/truncated``, ``CryptoError/Code/corrupted``,
    /// ``CryptoError/Code/weakParameters`` and ``CryptoError/Code/wrongPassphrase``.
    public static func open(_ file: [UInt8], passphrase: SecureBytes) throws(CryptoError) -> OpenedKey {
        let parsed = try parse(file)
        try parsed.header.limits.checkAcceptable()
        let wrappingKey = try deriveKey(passphrase: passphrase, salt: parsed.salt, limits: parsed.header.limits)
        var seed = [UInt8](repeating: 0, count: Ed25519.seedByteCount)
        let status = wrappingKey.withUnsafeBytes { k in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                &seed, nil, nil,
                parsed.ciphertext, UInt64(parsed.ciphertext.count),
                parsed.aad, UInt64(parsed.aad.count),
                parsed.nonce,
                k.bindMemory(to: UInt8.self).baseAddress!
            )
        }
        guard status == 0 else {
            Sodium.zero(&seed)
            throw CryptoError(.wrongPassphrase, "wrong passphrase for key file of \"\(parsed.header.name)\"")
        }
        let key = try Ed25519.SigningKey(seed: &seed)
        guard key.publicKey == parsed.header.publicKey else {
            throw CryptoError(.corrupted, "the key file's public key does not match its private key")
        }
        return OpenedKey(name: parsed.header.name, signingKey: key)
    }

    private struct Parsed {
        let header: Header
        let salt: [UInt8]
        let nonce: [UInt8]
        let aad: [UInt8]
        let ciphertext: [UInt8]
    }

    private static func parse(_ file: [UInt8]) throws(CryptoError) -> Parsed {
        guard file.count >= magic.count else {
            if file.count > 0 && Array(magic.prefix(file.count)) == file {
                throw CryptoError(.truncated, "the key file is truncated (\(file.count) bytes)")
            }
            throw CryptoError(.notAKeyFile, "this is not a Signoff sealed key file (it does not start with \"SIGNOFFK\")")
        }
        guard Array(file.prefix(magic.count)) == magic else {
            throw CryptoError(.notAKeyFile, "this is not a Signoff sealed key file (it does not start with \"SIGNOFFK\")")
        }
        guard file.count > magic.count else { throw CryptoError(.truncated, "the key file is truncated (\(file.count) bytes)") }
        let version = file[magic.count]
        guard version == currentVersion else {
            throw CryptoError(.unsupportedVersion, "key file format version \(version) is not supported (this tool reads version \(currentVersion)); use a newer signoff")
        }
        let fixed = magic.count + 1 + 1 + 4 + 4 + saltCount + nonceCount + 1
        guard file.count >= fixed else { throw CryptoError(.truncated, "the key file is truncated (\(file.count) bytes)") }
        let nameCount = Int(file[fixed - 1])
        let expected = fixed + nameCount + Ed25519.publicKeyByteCount + Ed25519.seedByteCount + tagCount + checksumCount
        guard file.count >= expected else {
            throw CryptoError(.truncated, "the key file is truncated: \(file.count) of \(expected) bytes")
        }
        guard file.count == expected else {
            throw CryptoError(.corrupted, "the key file has \(file.count - expected) unexpected trailing bytes")
        }
        let body = Array(file[..<(expected - checksumCount)])
        guard Sodium.constantTimeEqual(SHA256Digest.hash(body).bytes, Array(file[(expected - checksumCount)...])) else {
            throw CryptoError(.corrupted, "the key file is corrupted (its checksum does not match); restore it from a backup")
        }
        var offset = magic.count + 1
        let kdf = file[offset]; offset += 1
        guard kdf == argon2id13 else {
            throw CryptoError(.corrupted, "the key file names key-derivation algorithm \(kdf), but only Argon2id (2) is defined")
        }
        let ops = readBigEndian(file, at: offset); offset += 4
        let mem = readBigEndian(file, at: offset); offset += 4
        let salt = Array(file[offset..<offset + saltCount]); offset += saltCount
        let nonce = Array(file[offset..<offset + nonceCount]); offset += nonceCount
        offset += 1
        guard let name = String(validating: file[offset..<offset + nameCount], as: UTF8.self) else {
            throw CryptoError(.corrupted, "the key name in the file is not valid UTF-8")
        }
        offset += nameCount
        let publicKey = try Ed25519.PublicKey(bytes: Array(file[offset..<offset + Ed25519.publicKeyByteCount]))
        offset += Ed25519.publicKeyByteCount
        let aad = Array(file[..<offset])
        let ciphertext = Array(file[offset..<offset + Ed25519.seedByteCount + tagCount])
        return Parsed(
            header: Header(version: version, limits: KDFLimits(opsLimit: ops, memLimitKiB: mem), name: name, publicKey: publicKey),
            salt: salt, nonce: nonce, aad: aad, ciphertext: ciphertext
        )
    }

    private static func deriveKey(passphrase: SecureBytes, salt: [UInt8], limits: KDFLimits) throws(CryptoError) -> SecureBytes {
        Sodium.ensureInitialised()
        var key = [UInt8](repeating: 0, count: Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES))
        let status: Int32 = passphrase.withUnsafeBytes { p in
            let ops = UInt64(limits.opsLimit)
            let mem = Int(limits.memLimitKiB) * 1024
            let alg = Int32(crypto_pwhash_ALG_ARGON2ID13)
            guard let pass = p.bindMemory(to: CChar.self).baseAddress, p.count > 0 else {
                return crypto_pwhash(&key, UInt64(key.count), "", 0, salt, ops, mem, alg)
            }
            return crypto_pwhash(&key, UInt64(key.count), pass, UInt64(p.count), salt, ops, mem, alg)
        }
        guard status == 0 else {
            Sodium.zero(&key)
            throw CryptoError(.libraryUnavailable, "Argon2id could not allocate \(limits.memLimitKiB) KiB; free memory and retry")
        }
        return SecureBytes(consuming: &key)
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private static func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
