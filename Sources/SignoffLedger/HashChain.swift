public import SignoffCrypto

/// The hash chain: `chain[i] = SHA-256(chain[i-1] ‖ leaf[i])`, `chain[-1]` = 32 zero bytes. A sequential scan
/// finds the first edited, inserted, deleted or reordered entry without any tree.
public enum HashChain {
    public static let genesis = try! SHA256Digest(bytes: [UInt8](repeating: 0, count: 32))

    public static func next(previous: SHA256Digest, leafHash: SHA256Digest) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update(previous)
        hasher.update(leafHash)
        return hasher.finalize()
    }
}
