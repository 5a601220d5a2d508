public import SignoffCrypto

/// A C2SP `tlog-checkpoint`: origin, tree size and root hash, one per line.
public struct Checkpoint: Hashable, Sendable {
    public let origin: String
    public let size: UInt64
    public let rootHash: SHA256Digest
    /// Optional extension lines after the root (kept, not interpreted).
    public let extensions: [String]

    public init(origin: String, size: UInt64, rootHash: SHA256Digest, extensions: [String] = []) throws(LedgerError) {
        guard !origin.isEmpty, !origin.contains("\n") else {
            throw LedgerError(.malformedCheckpoint, "a checkpoint's origin must be one non-empty line")
        }
        guard extensions.allSatisfy({ !$0.isEmpty && !$0.contains("\n") }) else {
            throw LedgerError(.malformedCheckpoint, "checkpoint extension lines must be non-empty single lines")
        }
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.extensions = extensions
    }

    /// The note text: `origin\nsize\nbase64(root)\n` plus extension lines.
    public var text: String {
        "\(origin)\n\(size)\n\(Base64.encode(rootHash.bytes))\n" + extensions.map { $0 + "\n" }.joined()
    }

    /// Parses checkpoint text (the body of a signed note).
    public init(parsing text: String) throws(LedgerError) {
        guard text.hasSuffix("\n") else { throw LedgerError(.malformedCheckpoint, "checkpoint text must end in a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3 else { throw LedgerError(.malformedCheckpoint, "a checkpoint has at least three lines: origin, size, root hash") }
        let sizeText = lines[1]
        guard !sizeText.isEmpty, sizeText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            sizeText == "0" || !sizeText.hasPrefix("0"), let size = UInt64(sizeText)
        else { throw LedgerError(.malformedCheckpoint, "the checkpoint's tree size \"\(sizeText.prefix(40))\" is not a decimal number") }
        guard let root = Base64.decodeStandard(lines[2]), root.count == SHA256Digest.byteCount else {
            throw LedgerError(.malformedCheckpoint, "the checkpoint's root hash is not base64 of 32 bytes")
        }
        try self.init(origin: lines[0], size: size, rootHash: try! SHA256Digest(bytes: root), extensions: Array(lines[3...]))
    }
}

/// A checkpoint together with the signed note that carries it.
public struct SignedCheckpoint: Hashable, Sendable {
    public let checkpoint: Checkpoint
    public let note: SignedNote

    /// Signs `checkpoint` with the ledger key, whose name must be the checkpoint's origin.
    public init(signing checkpoint: Checkpoint, with key: Ed25519.SigningKey) throws(LedgerError) {
        self.checkpoint = checkpoint
        self.note = try SignedNote.sign(text: checkpoint.text, name: checkpoint.origin, key: key)
    }

    /// Parses a signed checkpoint note and verifies it with `key`; the origin must be `key`'s name.
    public init(verifying text: String, with key: NoteVerifierKey) throws(LedgerError) {
        let note = try SignedNote(parsing: text)
        try note.verify(by: key)
        let checkpoint = try Checkpoint(parsing: note.text)
        guard checkpoint.origin == key.name else {
            throw LedgerError(.malformedCheckpoint, "the checkpoint's origin \"\(checkpoint.origin)\" is not the ledger key's name \"\(key.name)\"")
        }
        self.checkpoint = checkpoint
        self.note = note
    }

    /// A checkpoint from a parsed note, without verifying its signature (storage reads back what it signed).
    public init(parsed note: SignedNote) throws(LedgerError) {
        self.checkpoint = try Checkpoint(parsing: note.text)
        self.note = note
    }

    public var serialized: String { note.serialized }
}
