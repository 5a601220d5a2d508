internal import CSodium

/// Secret bytes held in libsodium's guarded memory, zeroed when released.
///
/// `description` never shows the content, comparisons run in constant time, and the only way to read
/// the bytes is a scoped closure.
public final class SecureBytes: @unchecked Sendable, ContiguousBytes, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    // Immutable after init: written once, then only read, so sharing across tasks is safe.
    private let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Copies `bytes` into guarded memory and zeroes the caller's array.
    public init(consuming bytes: inout [UInt8]) {
        Sodium.ensureInitialised()
        count = bytes.count
        guard let p = sodium_malloc(max(bytes.count, 1)) else {
            fatalError("sodium_malloc failed: out of memory for \(bytes.count) secret bytes")
        }
        pointer = p
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { pointer.copyMemory(from: base, byteCount: src.count) }
        }
        Sodium.zero(&bytes)
    }

    /// `count` random bytes.
    public convenience init(randomCount count: Int) {
        var bytes = Sodium.randomBytes(count)
        self.init(consuming: &bytes)
    }

    deinit {
        // sodium_free zeroes the region before releasing it.
        sodium_free(pointer)
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool { Sodium.constantTimeEqual(lhs, rhs) }

    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
}
