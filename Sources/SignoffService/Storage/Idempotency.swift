public import SignoffCrypto
public import SignoffLedger

/// The first answer to a mutating API call made with an `Idempotency-Key` header (IETF
/// draft-ietf-httpapi-idempotency-key-header), kept per principal and key for ``lifetimeMilliseconds``: a retry with the
/// same key and the same call gets this answer again, and changes nothing; the same key with another call is refused.
public struct IdempotencyRecord: Hashable, Sendable {
    /// How long a key is remembered: retries come within minutes; a day covers a pipeline re-run by hand.
    public static let lifetimeMilliseconds: Int64 = 24 * 3_600_000

    public let principal: String
    public let key: String
    /// SHA-256 of the call: its method, path with query, and body (``fingerprint(method:target:body:)``).
    public let fingerprint: SHA256Digest
    public let createdAt: Int64
    public let answer: IdempotentAnswer

    public init(principal: String, key: String, fingerprint: SHA256Digest, createdAt: Int64, answer: IdempotentAnswer) {
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
        self.createdAt = createdAt
        self.answer = answer
    }

    /// What identifies a call for its key: `METHOD`, LF, the request target (path and query), LF, the body's bytes.
    public static func fingerprint(method: String, target: String, body: [UInt8]) -> SHA256Digest {
        SHA256Digest.hash(Array(method.utf8) + [0x0A] + Array(target.utf8) + [0x0A] + body)
    }

    /// A key as the header gives it: 1–255 visible ASCII characters, optionally quoted (the draft's sf-string form).
    public static func key(fromHeader value: String) -> String? {
        var text = Substring(value)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        guard (1...255).contains(text.utf8.count), text.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x22 && $0 != 0x5C }) else { return nil }
        return String(text)
    }
}

/// An HTTP answer as kept: its status, media type and body.
public struct IdempotentAnswer: Hashable, Sendable {
    public let status: Int
    public let mediaType: String
    public let body: [UInt8]

    public init(status: Int, mediaType: String, body: [UInt8]) {
        self.status = status
        self.mediaType = mediaType
        self.body = body
    }
}

/// A command's call made with an idempotency key: its record is written in the unit of work that records the command's
/// entries, with the answer made from them (``answer``), so that a retry never finds the entries without the answer.
public struct IdempotentCall: Sendable {
    public let principal: String
    public let key: String
    public let fingerprint: SHA256Digest
    /// The answer to keep, made from the command's entries inside the unit of work.
    public let answer: @Sendable ([LedgerEntry]) throws -> IdempotentAnswer

    public init(principal: String, key: String, fingerprint: SHA256Digest, answer: @escaping @Sendable ([LedgerEntry]) throws -> IdempotentAnswer) {
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
        self.answer = answer
    }
}
