public import SignoffCrypto

/// C2SP `tlog-cosignature` v1 (Ed25519): a witness's statement that, as of its time, the checkpoint is the largest
/// consistent tree head it has seen for the log. The line is a note signature
/// `— NAME base64(keyID ‖ u64 big-endian time ‖ Ed25519 signature)` with the key ID of type 0x04
/// (``CosignerKey``), over `cosignature/v1\ntime T\n` followed by the checkpoint's note body (its text, extension lines
/// included, without signature lines).
public enum Cosignature {
    /// The message a v1 cosignature signs.
    public static func message(checkpointText: String, time: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(time)\n".utf8) + Array(checkpointText.utf8)
    }

    /// A cosignature line by `key` under `name` on `checkpointText`, made at `time` (POSIX seconds).
    public static func sign(checkpointText: String, time: UInt64, name: String, key: Ed25519.SigningKey) throws(LedgerError) -> SignedNote.Signature {
        guard time <= UInt64(Int64.max) else { throw LedgerError(.invalidRequest, "a cosignature's time must not exceed 2^63 - 1") }
        let cosigner: CosignerKey
        do { cosigner = try CosignerKey(name: name, publicKey: key.publicKey) } catch { throw LedgerError(.malformedNote, error.message) }
        let signature = key.signature(for: message(checkpointText: checkpointText, time: time))
        return SignedNote.Signature(name: name, keyID: cosigner.keyID, signature: bigEndian(time) + signature)
    }

    /// The time of `key`'s cosignature on `note` when the note carries one that verifies; nil when it carries none.
    /// A line under the key's name and key ID that does not verify (or is not 72 bytes) is refused: such a note is
    /// not to be trusted, as for note signatures.
    public static func verifiedTime(of note: SignedNote, by key: CosignerKey) throws(LedgerError) -> UInt64? {
        let lines = note.signatures.filter { $0.name == key.name && $0.keyID == key.keyID }
        guard !lines.isEmpty else { return nil }
        var newest: UInt64 = 0
        for line in lines {
            guard line.signature.count == 8 + Ed25519.signatureByteCount else {
                throw LedgerError(.noValidSignature, "the cosignature of \(key.name) (key ID \(key.keyIDHex)) is not a time and an Ed25519 signature")
            }
            let time = line.signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard time <= UInt64(Int64.max),
                key.publicKey.isValidSignature(Array(line.signature.dropFirst(8)), for: message(checkpointText: note.text, time: time))
            else {
                throw LedgerError(.noValidSignature, "the cosignature of \(key.name) (key ID \(key.keyIDHex)) does not verify")
            }
            newest = max(newest, time)
        }
        return newest
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
}

extension SignedNote {
    /// This note with `more` signature lines after its own (a line already present is not repeated).
    public func adding(_ more: [Signature]) -> SignedNote {
        SignedNote(text: text, signatures: signatures + more.filter { !signatures.contains($0) })
    }
}
