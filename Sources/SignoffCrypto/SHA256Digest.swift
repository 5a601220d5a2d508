internal import CSodium

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
        Sodium.ensureInitialised()
        var out = [UInt8](repeating: 0, count: byteCount)
        message.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { o in
                _ = crypto_hash_sha256(o.baseAddress!, input.bindMemory(to: UInt8.self).baseAddress, UInt64(input.count))
            }
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
    private var state = crypto_hash_sha256_state()

    public init() {
        Sodium.ensureInitialised()
        crypto_hash_sha256_init(&state)
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { input in
            _ = crypto_hash_sha256_update(&state, input.bindMemory(to: UInt8.self).baseAddress, UInt64(input.count))
        }
    }

    public mutating func finalize() -> SHA256Digest {
        var out = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        out.withUnsafeMutableBufferPointer { _ = crypto_hash_sha256_final(&state, $0.baseAddress!) }
        return SHA256Digest(unchecked: out)
    }
}

extension SHA256Digest: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }
}
