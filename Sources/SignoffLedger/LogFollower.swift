public import SignoffCrypto

/// What a monitor keeps of a log it follows, without I/O: the compact range (frontier) of every leaf it has seen, and
/// the newest entry's time. Each entry record (C2SP tlog-tiles entry bundles carry records: a version-2 entry's header
/// with its payload digest, a version-1 entry whole) must be the next sequence, no earlier than the one before it, and
/// is folded into the frontier; the root at any size the monitor reaches is then the one of the leaves it saw — so a
/// checkpoint whose root it reproduces extends every checkpoint it verified before.
public struct LogFollower: Hashable, Sendable {
    public private(set) var frontier: MerkleFrontier
    /// The newest entry's time (milliseconds), nil before the first.
    public private(set) var lastTime: Int64?

    public init(frontier: MerkleFrontier = MerkleFrontier(), lastTime: Int64? = nil) {
        self.frontier = frontier
        self.lastTime = lastTime
    }

    public var size: UInt64 { frontier.size }
    public var rootHash: SHA256Digest { frontier.rootHash }

    /// Folds in the next entry's record; refuses one out of sequence, dated before the previous entry, or malformed.
    public mutating func append(record: [UInt8]) throws(LedgerError) {
        let header = try Self.header(ofRecord: record)
        guard header.sequence == frontier.size else {
            throw LedgerError(.inconsistent, "entry \(frontier.size) of the log says it is entry \(header.sequence)")
        }
        if let lastTime, header.timeMilliseconds < lastTime {
            throw LedgerError(.inconsistent, "entry \(header.sequence) is dated \(header.timeMilliseconds) ms, before the entry before it (\(lastTime) ms): entry times never decrease")
        }
        frontier.append(Merkle.leafHash(record))
        lastTime = header.timeMilliseconds
    }

    /// The header a record holds: a version-2 record is exactly its header and payload digest; a version-1 record is
    /// the whole entry.
    public static func header(ofRecord record: [UInt8]) throws(LedgerError) -> EntryHeader {
        if record.first == LedgerEntry.formatVersion {
            var reader = ByteReader(record)
            let header = try EntryHeader(reading: &reader)
            guard reader.isAtEnd else { throw LedgerError(.invalidEntry, "a record has \(reader.remaining) bytes after its payload digest") }
            return header
        }
        return try LedgerEntry(decoding: record).header
    }
}
