internal import CSodium

/// HMAC-SHA-256 (RFC 2104), libsodium's: webhook signatures (Standard Webhooks `v1`) and derived secrets.
public enum HMACSHA256 {
    public static func authenticate(_ message: some ContiguousBytes, key: some ContiguousBytes) -> [UInt8] {
        Sodium.ensureInitialised()
        var state = crypto_auth_hmacsha256_state()
        var out = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        let empty: [UInt8] = [0]
        key.withUnsafeBytes { k in
            empty.withUnsafeBufferPointer { fallback in
                _ = crypto_auth_hmacsha256_init(&state, k.bindMemory(to: UInt8.self).baseAddress ?? fallback.baseAddress!, k.count)
            }
        }
        message.withUnsafeBytes { m in
            if let base = m.bindMemory(to: UInt8.self).baseAddress { _ = crypto_auth_hmacsha256_update(&state, base, UInt64(m.count)) }
        }
        _ = crypto_auth_hmacsha256_final(&state, &out)
        return out
    }
}

extension Ed25519.SigningKey {
    /// A 32-byte secret for `purpose`, derived from this key's seed: HMAC-SHA-256 keyed by the seed over
    /// `signoff-derived-secret-v1\n` ‖ purpose. Whoever holds the key can derive it again; nobody else can, and it
    /// reveals nothing of the seed — so a derived secret needs no storage of its own.
    public func derivedSecret(purpose: String) -> [UInt8] {
        withSeed { seed in HMACSHA256.authenticate(Array("signoff-derived-secret-v1\n\(purpose)".utf8), key: RawBytes(buffer: seed)) }
    }
}

/// Bytes borrowed for the duration of a call (the seed stays in guarded memory, never copied into an array).
struct RawBytes: ContiguousBytes {
    let buffer: UnsafeRawBufferPointer
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(buffer) }
}
