public import SignoffCrypto
internal import Foundation

/// A C2SP `signed-note`: text, a blank line, then signature lines `— NAME BASE64(keyID ‖ signature)`.
public struct SignedNote: Hashable, Sendable {
    /// A signature line as written in the note.
    public struct Signature: Hashable, Sendable {
        public let name: String
        public let keyID: [UInt8]
        public let signature: [UInt8]

        public var line: String { "\u{2014} \(name) \(Base64.encode(keyID + signature))\n" }
    }

    /// Notes with more signature lines than this are refused (the spec asks verifiers to accept at least 16).
    public static let maximumSignatures = 100
    /// Notes larger than this are refused before parsing.
    public static let maximumBytes = 1 << 20

    /// The signed text, ending in a newline.
    public let text: String
    public let signatures: [Signature]

    /// Signs `text` with `key` under `name` (Ed25519, algorithm byte 0x01).
    public static func sign(text: String, name: String, key: Ed25519.SigningKey) throws(LedgerError) -> SignedNote {
        try validate(text: text)
        let verifierKey: NoteVerifierKey
        do { verifierKey = try NoteVerifierKey(name: name, publicKey: key.publicKey) } catch {
            throw LedgerError(.malformedNote, error.message)
        }
        let signature = key.signature(for: Array(text.utf8))
        return SignedNote(text: text, signatures: [Signature(name: name, keyID: verifierKey.keyID, signature: signature)])
    }

    /// The note as bytes on the wire.
    public var serialized: String { text + "\n" + signatures.map(\.line).joined() }

    /// Parses a note. Malformed notes are refused; signature lines for keys nobody asked about are kept
    /// (and ignored by ``verifiedSignatures(by:)``).
    public init(parsing note: String) throws(LedgerError) {
        guard note.utf8.count <= Self.maximumBytes else { throw LedgerError(.malformedNote, "the note is larger than 1 MiB") }
        guard let split = note.range(of: "\n\n", options: .backwards) else {
            throw LedgerError(.malformedNote, "a signed note needs a blank line between its text and its signatures")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        let signatureBlock = note[split.upperBound...]
        try Self.validate(text: text)
        guard signatureBlock.hasSuffix("\n") else { throw LedgerError(.malformedNote, "the note's last line must end in a newline") }
        var signatures: [Signature] = []
        for line in signatureBlock.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("\u{2014} ") else {
                throw LedgerError(.malformedNote, "a signature line must start with an em dash (U+2014) and a space")
            }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty else {
                throw LedgerError(.malformedNote, "a signature line is \"— NAME SIGNATURE\"")
            }
            let name = String(fields[0])
            do { try NoteVerifierKey.validate(name: name) } catch { throw LedgerError(.malformedNote, error.message) }
            guard let blob = Base64.decodeStandard(fields[1]), blob.count >= 5 else {
                throw LedgerError(.malformedNote, "the signature of \"\(name)\" is not base64 of a key ID and a signature")
            }
            signatures.append(Signature(name: name, keyID: Array(blob.prefix(4)), signature: Array(blob.dropFirst(4))))
            guard signatures.count <= Self.maximumSignatures else {
                throw LedgerError(.malformedNote, "the note has more than \(Self.maximumSignatures) signatures")
            }
        }
        guard !signatures.isEmpty else { throw LedgerError(.malformedNote, "the note has no signature lines") }
        self.text = text
        self.signatures = signatures
    }

    init(text: String, signatures: [Signature]) {
        self.text = text
        self.signatures = signatures
    }

    /// Text must be non-empty UTF-8 ending in a newline, without other control characters and without a blank line.
    static func validate(text: String) throws(LedgerError) {
        guard text.hasSuffix("\n"), text != "\n" else { throw LedgerError(.malformedNote, "note text must be non-empty and end in a newline") }
        guard !text.contains("\n\n") else { throw LedgerError(.malformedNote, "note text must not contain a blank line") }
        for scalar in text.unicodeScalars where scalar != "\n" && (scalar.value < 0x20 || scalar.value == 0x7F) {
            throw LedgerError(.malformedNote, "note text holds control character U+\(String(scalar.value, radix: 16, uppercase: true))")
        }
    }

    /// The keys among `keys` that signed this note. A key signed it when the note has at least one line with its name
    /// and key ID and every such line verifies; a line with a known name and key ID whose signature fails disqualifies
    /// the key (C2SP signed-note: such a note should be rejected). Lines for other names or key IDs (other keys,
    /// witnesses, a rotated key) are ignored.
    public func verifiedSignatures(by keys: [NoteVerifierKey]) -> [NoteVerifierKey] {
        let message = Array(text.utf8)
        return keys.filter { key in
            let lines = signatures.filter { $0.name == key.name && $0.keyID == key.keyID }
            return !lines.isEmpty && lines.allSatisfy { key.publicKey.isValidSignature($0.signature, for: message) }
        }
    }

    /// Throws unless `key` has signed this note, and every line under its name and key ID verifies.
    public func verify(by key: NoteVerifierKey) throws(LedgerError) {
        let lines = signatures.filter { $0.name == key.name && $0.keyID == key.keyID }
        guard !lines.isEmpty else {
            throw LedgerError(.noValidSignature, "the note carries no signature by \(key.name) (key ID \(key.keyIDHex))")
        }
        let message = Array(text.utf8)
        guard lines.allSatisfy({ key.publicKey.isValidSignature($0.signature, for: message) }) else {
            throw LedgerError(.noValidSignature, "the note carries a signature line by \(key.name) (key ID \(key.keyIDHex)) that does not verify")
        }
    }
}
