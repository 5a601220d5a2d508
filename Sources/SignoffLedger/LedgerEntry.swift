public import SignoffCrypto

/// One event in the ledger. ``encoded`` is the exact byte string that is stored and hashed; it is never
/// re-serialised (see `schema/ledger.md`, "Entry encoding").
public struct LedgerEntry: Hashable, Sendable {
    /// Format byte at the start of every encoded entry.
    public static let formatVersion: UInt8 = 1
    public static let maximumPayloadBytes = 16 * 1024 * 1024
    public static let maximumTextBytes = Int(UInt16.max)

    /// Position in the ledger, from 0.
    public let sequence: UInt64
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let timeMilliseconds: Int64
    /// What happened, e.g. `request.filed`.
    public let kind: String
    /// Who did it (a user, service account or `system`).
    public let actor: String
    /// The event's data, usually JSON; opaque to the ledger.
    public let payload: [UInt8]
    /// The exact bytes hashed into the ledger.
    public let encoded: [UInt8]

    public init(sequence: UInt64, timeMilliseconds: Int64, kind: String, actor: String, payload: [UInt8]) throws(LedgerError) {
        let kindBytes = Array(kind.utf8), actorBytes = Array(actor.utf8)
        guard !kindBytes.isEmpty, kindBytes.count <= Self.maximumTextBytes else {
            throw LedgerError(.invalidEntry, "an entry's kind must be 1 to \(Self.maximumTextBytes) bytes")
        }
        guard !actorBytes.isEmpty, actorBytes.count <= Self.maximumTextBytes else {
            throw LedgerError(.invalidEntry, "an entry's actor must be 1 to \(Self.maximumTextBytes) bytes")
        }
        guard payload.count <= Self.maximumPayloadBytes else {
            throw LedgerError(.invalidEntry, "an entry's payload is at most \(Self.maximumPayloadBytes) bytes (got \(payload.count))")
        }
        var out = [UInt8]()
        out.reserveCapacity(1 + 8 + 8 + 2 + kindBytes.count + 2 + actorBytes.count + 4 + payload.count)
        out.append(Self.formatVersion)
        out.appendBigEndian(sequence)
        out.appendBigEndian(UInt64(bitPattern: timeMilliseconds))
        out.appendBigEndian(UInt16(kindBytes.count))
        out.append(contentsOf: kindBytes)
        out.appendBigEndian(UInt16(actorBytes.count))
        out.append(contentsOf: actorBytes)
        out.appendBigEndian(UInt32(payload.count))
        out.append(contentsOf: payload)
        self.sequence = sequence
        self.timeMilliseconds = timeMilliseconds
        self.kind = kind
        self.actor = actor
        self.payload = payload
        self.encoded = out
    }

    /// Decodes stored bytes, refusing anything that is not exactly one well-formed entry.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        var reader = ByteReader(bytes)
        guard let version = reader.readByte() else { throw LedgerError(.invalidEntry, "empty entry") }
        guard version == Self.formatVersion else {
            throw LedgerError(.invalidEntry, "entry format version \(version) is unknown (expected \(Self.formatVersion))")
        }
        guard let sequence = reader.readUInt64(), let time = reader.readUInt64(),
            let kindCount = reader.readUInt16(), let kind = reader.readUTF8(count: Int(kindCount)),
            let actorCount = reader.readUInt16(), let actor = reader.readUTF8(count: Int(actorCount)),
            let payloadCount = reader.readUInt32(), let payload = reader.read(count: Int(payloadCount))
        else { throw LedgerError(.invalidEntry, "entry is truncated or holds invalid UTF-8") }
        guard reader.isAtEnd else { throw LedgerError(.invalidEntry, "entry has \(reader.remaining) trailing bytes") }
        try self.init(sequence: sequence, timeMilliseconds: Int64(bitPattern: time), kind: kind, actor: actor, payload: payload)
    }

    /// RFC 6962 leaf hash of ``encoded``.
    public var leafHash: SHA256Digest { Merkle.leafHash(encoded) }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { append(contentsOf: $0) }
    }
}

struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func readByte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func read(count: Int) -> [UInt8]? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard let raw = read(count: MemoryLayout<T>.size) else { return nil }
        return raw.reduce(T.zero) { $0 << 8 | T($1) }
    }

    mutating func readUInt16() -> UInt16? { readInteger(UInt16.self) }
    mutating func readUInt32() -> UInt32? { readInteger(UInt32.self) }
    mutating func readUInt64() -> UInt64? { readInteger(UInt64.self) }

    mutating func readUTF8(count: Int) -> String? {
        guard let raw = read(count: count) else { return nil }
        return String(validating: raw, as: UTF8.self)
    }
}
