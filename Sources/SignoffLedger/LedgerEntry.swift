public import SignoffCrypto

/// One event in the ledger. ``encoded`` is the exact byte string that is stored; ``record`` (its header and the
/// SHA-256 of its payload) is what the Merkle tree hashes, so that an export can prove an entry it does not disclose
/// (see `schema/ledger.md`, "Entry encoding").
public struct LedgerEntry: Hashable, Sendable {
    /// The encoding every new entry is written in: a header, the payload's digest, then the payload.
    public static let formatVersion: UInt8 = 2
    /// Round-1 ledgers' encoding (before 2026-11-28), still read: the tree hashed the whole entry, payload included.
    public static let payloadHashedVersion: UInt8 = 1
    public static let maximumPayloadBytes = 16 * 1024 * 1024
    public static let maximumTextBytes = Int(UInt16.max)
    /// Entry times are within years 1970–9999, so that RFC 3339 with milliseconds writes every one exactly.
    public static let maximumTimeMilliseconds: Int64 = 253_402_300_799_999

    /// Sequence, time, kind, project, environment, actor and the payload's digest (computed once, when the entry is
    /// made or decoded). A version-1 entry's project and environment are empty.
    public let header: EntryHeader
    /// Position in the ledger, from 0.
    public var sequence: UInt64 { header.sequence }
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var timeMilliseconds: Int64 { header.timeMilliseconds }
    /// What happened, e.g. `request.filed`.
    public var kind: String { header.kind }
    /// The project and environment of the request the entry is about; empty for every other entry (and in version 1).
    public var project: String { header.project }
    public var environment: String { header.environment }
    /// Who did it (a user, service account or `system`).
    public var actor: String { header.actor }
    /// The event's data, usually JSON; opaque to the ledger.
    public let payload: [UInt8]
    /// 2, or 1 for an entry of a round-1 ledger.
    public let version: UInt8
    /// The exact bytes stored.
    public let encoded: [UInt8]
    /// What the leaf hash covers: the header and payload digest (version 2), or every byte (version 1).
    public let record: [UInt8]

    /// A new entry (version 2).
    public init(
        sequence: UInt64, timeMilliseconds: Int64, kind: String, project: String = "", environment: String = "", actor: String, payload: [UInt8]
    ) throws(LedgerError) {
        guard payload.count <= Self.maximumPayloadBytes else {
            throw LedgerError(.invalidEntry, "an entry's payload is at most \(Self.maximumPayloadBytes) bytes (got \(payload.count))")
        }
        let header = try EntryHeader(
            sequence: sequence, timeMilliseconds: timeMilliseconds, kind: kind, project: project, environment: environment, actor: actor,
            payloadDigest: SHA256Digest.hash(payload))
        // The record and the payload written into one buffer of the right size at once; the record is its prefix.
        var out = [UInt8]()
        out.reserveCapacity(header.recordCount + 4 + payload.count)
        header.appendRecord(to: &out)
        let recordCount = out.count
        out.appendBigEndian(UInt32(payload.count))
        out.append(contentsOf: payload)
        self.init(header: header, payload: payload, version: Self.formatVersion, encoded: out, record: Array(out[..<recordCount]))
    }

    /// An entry as round-1 ledgers wrote it (version 1: no project or environment; the leaf hash covers the payload
    /// itself). Only for tests and tools that read or build such ledgers.
    public static func payloadHashed(sequence: UInt64, timeMilliseconds: Int64, kind: String, actor: String, payload: [UInt8]) throws(LedgerError) -> LedgerEntry {
        let kindBytes = Array(kind.utf8), actorBytes = Array(actor.utf8)
        try EntryHeader.check(kindCount: kindBytes.count, actorCount: actorBytes.count)
        guard payload.count <= Self.maximumPayloadBytes else { throw LedgerError(.invalidEntry, "an entry's payload is at most \(Self.maximumPayloadBytes) bytes") }
        var out = [UInt8]()
        out.append(Self.payloadHashedVersion)
        out.appendBigEndian(sequence)
        out.appendBigEndian(UInt64(bitPattern: timeMilliseconds))
        out.appendBigEndian(UInt16(kindBytes.count))
        out.append(contentsOf: kindBytes)
        out.appendBigEndian(UInt16(actorBytes.count))
        out.append(contentsOf: actorBytes)
        out.appendBigEndian(UInt32(payload.count))
        out.append(contentsOf: payload)
        let header = EntryHeader(
            unchecked: sequence, timeMilliseconds, kind, "", "", actor, SHA256Digest.hash(payload))
        return LedgerEntry(header: header, payload: payload, version: Self.payloadHashedVersion, encoded: out, record: out)
    }

    private init(header: EntryHeader, payload: [UInt8], version: UInt8, encoded: [UInt8], record: [UInt8]) {
        self.header = header
        self.payload = payload
        self.version = version
        self.encoded = encoded
        self.record = record
    }

    /// Decodes stored bytes, refusing anything that is not exactly one well-formed entry.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        guard let version = bytes.first else { throw LedgerError(.invalidEntry, "empty entry") }
        switch version {
        case Self.formatVersion:
            var reader = ByteReader(bytes)
            let header = try EntryHeader(reading: &reader)
            let recordCount = bytes.count - reader.remaining
            guard let payloadCount = reader.readUInt32(), let payload = reader.read(count: Int(payloadCount)) else {
                throw LedgerError(.invalidEntry, "entry is truncated")
            }
            guard reader.isAtEnd else { throw LedgerError(.invalidEntry, "entry has \(reader.remaining) trailing bytes") }
            guard SHA256Digest.hash(payload) == header.payloadDigest else {
                throw LedgerError(.payloadAltered, "entry \(header.sequence): its payload does not match the payload digest in its header (content altered)")
            }
            self.init(header: header, payload: payload, version: version, encoded: bytes, record: Array(bytes.prefix(recordCount)))
        case Self.payloadHashedVersion:
            var reader = ByteReader(bytes)
            _ = reader.readByte()
            guard let sequence = reader.readUInt64(), let time = reader.readUInt64(),
                let kindCount = reader.readUInt16(), let kind = reader.readUTF8(count: Int(kindCount)),
                let actorCount = reader.readUInt16(), let actor = reader.readUTF8(count: Int(actorCount)),
                let payloadCount = reader.readUInt32(), let payload = reader.read(count: Int(payloadCount))
            else { throw LedgerError(.invalidEntry, "entry is truncated or holds invalid UTF-8") }
            guard reader.isAtEnd else { throw LedgerError(.invalidEntry, "entry has \(reader.remaining) trailing bytes") }
            self = try Self.payloadHashed(sequence: sequence, timeMilliseconds: Int64(bitPattern: time), kind: kind, actor: actor, payload: payload)
        default:
            throw LedgerError(.invalidEntry, "entry format version \(version) is unknown (expected \(Self.formatVersion) or \(Self.payloadHashedVersion))")
        }
    }

    /// RFC 6962 leaf hash of ``record``.
    public var leafHash: SHA256Digest { Merkle.leafHash(record) }
}

/// An entry's header (version 2): sequence, time, kind, project, environment, actor and the SHA-256 of the payload.
/// Its ``record`` is what the leaf hash covers, so a verifier given only the header proves the entry's place in the
/// tree without seeing its payload.
public struct EntryHeader: Hashable, Sendable {
    public let sequence: UInt64
    public let timeMilliseconds: Int64
    public let kind: String
    public let project: String
    public let environment: String
    public let actor: String
    public let payloadDigest: SHA256Digest

    public init(
        sequence: UInt64, timeMilliseconds: Int64, kind: String, project: String, environment: String, actor: String, payloadDigest: SHA256Digest
    ) throws(LedgerError) {
        try Self.check(kindCount: kind.utf8.count, actorCount: actor.utf8.count)
        guard project.utf8.count <= LedgerEntry.maximumTextBytes, environment.utf8.count <= LedgerEntry.maximumTextBytes else {
            throw LedgerError(.invalidEntry, "an entry's project and environment are at most \(LedgerEntry.maximumTextBytes) bytes")
        }
        guard (0...LedgerEntry.maximumTimeMilliseconds).contains(timeMilliseconds) else {
            throw LedgerError(.invalidEntry, "an entry's time must be within 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z")
        }
        self.init(unchecked: sequence, timeMilliseconds, kind, project, environment, actor, payloadDigest)
    }

    init(unchecked sequence: UInt64, _ time: Int64, _ kind: String, _ project: String, _ environment: String, _ actor: String, _ digest: SHA256Digest) {
        self.sequence = sequence
        self.timeMilliseconds = time
        self.kind = kind
        self.project = project
        self.environment = environment
        self.actor = actor
        self.payloadDigest = digest
    }

    static func check(kindCount: Int, actorCount: Int) throws(LedgerError) {
        guard (1...LedgerEntry.maximumTextBytes).contains(kindCount) else {
            throw LedgerError(.invalidEntry, "an entry's kind must be 1 to \(LedgerEntry.maximumTextBytes) bytes")
        }
        guard (1...LedgerEntry.maximumTextBytes).contains(actorCount) else {
            throw LedgerError(.invalidEntry, "an entry's actor must be 1 to \(LedgerEntry.maximumTextBytes) bytes")
        }
    }

    /// Reads a version-2 header (version byte included) and its payload digest.
    init(reading reader: inout ByteReader) throws(LedgerError) {
        guard reader.readByte() == LedgerEntry.formatVersion else { throw LedgerError(.invalidEntry, "not a version-2 entry") }
        guard let sequence = reader.readUInt64(), let time = reader.readUInt64(),
            let kindCount = reader.readUInt16(), let kind = reader.readUTF8(count: Int(kindCount)),
            let projectCount = reader.readUInt16(), let project = reader.readUTF8(count: Int(projectCount)),
            let environmentCount = reader.readUInt16(), let environment = reader.readUTF8(count: Int(environmentCount)),
            let actorCount = reader.readUInt16(), let actor = reader.readUTF8(count: Int(actorCount)),
            let digest = reader.read(count: 32)
        else { throw LedgerError(.invalidEntry, "entry is truncated or holds invalid UTF-8") }
        try self.init(
            sequence: sequence, timeMilliseconds: Int64(bitPattern: time), kind: kind, project: project, environment: environment, actor: actor,
            payloadDigest: try! SHA256Digest(bytes: digest))
    }

    /// The bytes the leaf hash covers: `0x02 ‖ u64 sequence ‖ i64 time ‖ u16+kind ‖ u16+project ‖ u16+environment ‖
    /// u16+actor ‖ payload digest (32 bytes)`.
    public var record: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(recordCount)
        appendRecord(to: &out)
        return out
    }

    /// The length of ``record``.
    var recordCount: Int { 1 + 8 + 8 + 8 + kind.utf8.count + project.utf8.count + environment.utf8.count + actor.utf8.count + 32 }

    /// Appends ``record`` to `out`.
    func appendRecord(to out: inout [UInt8]) {
        out.append(LedgerEntry.formatVersion)
        out.appendBigEndian(sequence)
        out.appendBigEndian(UInt64(bitPattern: timeMilliseconds))
        func text(_ text: String) {
            out.appendBigEndian(UInt16(text.utf8.count))
            out.append(contentsOf: text.utf8)
        }
        text(kind)
        text(project)
        text(environment)
        text(actor)
        out.append(contentsOf: payloadDigest.bytes)
    }

    /// RFC 6962 leaf hash of ``record``.
    public var leafHash: SHA256Digest { Merkle.leafHash(record) }
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
