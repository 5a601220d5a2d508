internal import CSodium

/// The one place that makes sure libsodium is initialised before any call into it.
enum Sodium {
    /// `sodium_init()` is idempotent and thread-safe; a Swift `static let` runs it exactly once.
    private static let initResult: Int32 = sodium_init()

    static func ensureInitialised() {
        // 0 = initialised now, 1 = already initialised; -1 = failure, which leaves nothing safe to do.
        precondition(initResult >= 0, "libsodium failed to initialise (sodium_init returned \(initResult))")
    }

    /// Fills a new array with cryptographically secure random bytes.
    static func randomBytes(_ count: Int) -> [UInt8] {
        ensureInitialised()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    /// Constant-time equality of two byte strings of the same length (false when lengths differ).
    static func constantTimeEqual(_ a: some ContiguousBytes, _ b: some ContiguousBytes) -> Bool {
        ensureInitialised()
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                pa.count == pb.count && (pa.count == 0 || sodium_memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0)
            }
        }
    }

    /// Overwrites bytes with zeros in a way the optimiser cannot remove.
    static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
        }
    }
}

/// Raw access to contiguous bytes, so helpers accept arrays, slices and ``SecureBytes`` alike.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}

/// Public helpers that do not expose libsodium.
public enum SecureRandom {
    /// `count` bytes from libsodium's CSPRNG.
    public static func bytes(_ count: Int) -> [UInt8] { Sodium.randomBytes(count) }
}

/// Constant-time comparison for secrets such as token hashes.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool { Sodium.constantTimeEqual(a, b) }

/// Overwrites secret bytes with zeros (`sodium_memzero`), e.g. a passphrase read into an array.
public func secureZero(_ bytes: inout [UInt8]) { Sodium.zero(&bytes) }
