internal import CSHA256

/// A SHA-256 digest. Its text form is `sha256:<64 lowercase hex digits>`, parsed strictly.
public struct SHA256Digest: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible, Codable {
    public static let byteCount = 32
    /// The text prefix, the same in YAML, JSON, SQL and the CLI.
    public static let prefix = "sha256:"

    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; refuses any other length.
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidLength, "a SHA-256 digest is \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// Hashes `message` in one call.
    public static func hash(_ message: some ContiguousBytes) -> SHA256Digest {
        let out = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, count in
            message.withUnsafeBytes { input in
                signoff_sha256(buffer.baseAddress!, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count)
            }
            count = byteCount
        }
        return SHA256Digest(unchecked: out)
    }

    public static func hash(_ message: String) -> SHA256Digest { hash(Array(message.utf8)) }

    /// Parses `sha256:<64 lowercase hex>`. Anything else — another algorithm, uppercase, a wrong length —
    /// is refused with a message naming what is wrong.
    public init(parsing text: String) throws(CryptoError) {
        guard text.hasPrefix(Self.prefix) else {
            throw CryptoError(.invalidEncoding, "a digest must start with \"sha256:\" (got \"\(text.prefix(80))\")")
        }
        let hex = text.dropFirst(Self.prefix.count)
        guard hex.utf8.count == 64 else {
            throw CryptoError(.invalidLength, "a sha256 digest has 64 hex digits after \"sha256:\", got \(hex.utf8.count)")
        }
        guard let bytes = Hex.decodeLowercase(hex) else {
            throw CryptoError(.invalidEncoding, "a sha256 digest must be lowercase hex digits 0-9a-f after \"sha256:\"")
        }
        self.bytes = bytes
    }

    public init?(_ description: String) { try? self.init(parsing: description) }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { Self.prefix + hex }

    public static func < (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Incremental SHA-256 for data that arrives in pieces (files, streams).
public struct SHA256Hasher: Sendable {
    private var state = signoff_sha256_ctx()

    public init() { signoff_sha256_init(&state) }

    /// Always with the portable compression function, even where the processor's SHA extensions are used otherwise:
    /// for tests that compare the two.
    public static func portable() -> SHA256Hasher {
        var hasher = SHA256Hasher()
        signoff_sha256_init_portable(&hasher.state)
        return hasher
    }

    /// Whether this process hashes with the processor's SHA extensions.
    public static var usesHardware: Bool { signoff_sha256_has_hardware() != 0 }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { input in
            signoff_sha256_update(&state, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count)
        }
    }

    public mutating func finalize() -> SHA256Digest {
        let out = [UInt8](unsafeUninitializedCapacity: SHA256Digest.byteCount) { buffer, count in
            signoff_sha256_final(&state, buffer.baseAddress!)
            count = SHA256Digest.byteCount
        }
        return SHA256Digest(unchecked: out)
    }
}

extension SHA256Digest: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }
}
