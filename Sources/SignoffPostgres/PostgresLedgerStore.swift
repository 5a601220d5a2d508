internal import Foundation
internal import PostgresNIO
public import SignoffCrypto
public import SignoffLedger
public import SignoffService
internal import Synchronization

/// The ledger in PostgreSQL: the tables of `schema/postgres/` (the same as SQLite's, `schema/ledger.md`). Appends take
/// the writers' advisory lock inside their transaction, read the newest entry there and compute every hash there; the
/// primary keys refuse a second entry at a sequence number, so two instances never fork the ledger. It stores and
/// reads; it never holds the ledger's private key (the ``LogPublisher`` signs with a ``Signer``).
public final class PostgresLedgerStore: LedgerStore {
    public struct Configuration: Sendable {
        public var checkpointPolicy = CheckpointPolicy()
        /// Milliseconds since the Unix epoch. Nil (the default): the database server's clock, read inside the
        /// transaction, so that every instance's entries take their time from one clock.
        public var clock: (@Sendable () -> Int64)? = nil
        /// Threads (and connections) of this process's pool.
        public var connections = 8

        public init() {}
    }

    public let origin: String
    public let verifierKey: NoteVerifierKey
    let database: PGDatabase
    let configuration: Configuration
    /// The head after this process's last append: reused only while the newest entry is still the one it ended with.
    let cachedHead = Mutex<Head?>(nil)

    /// Complete subtrees of this level and above are stored, as on SQLite (``SignoffStore``'s same constant).
    public static let storedNodeMinimumLevel = 4

    init(database: PGDatabase, origin: String, verifierKey: NoteVerifierKey, configuration: Configuration) {
        self.database = database
        self.origin = origin
        self.verifierKey = verifierKey
        self.configuration = configuration
    }

    public var now: Int64 { configuration.clock?() ?? Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    // MARK: Appending

    public func append(_ drafts: [EntryDraft]) async throws -> [LedgerEntry] {
        guard !drafts.isEmpty else { return [] }
        return try await database.write { session in try PostgresTransaction(session: session, ledger: self).append(drafts) }
    }

    /// The drafts drawn inside the transaction, after the writers' lock: those that arrived while this instance waited
    /// for another's commit join this round.
    public func append(drafting: @escaping @Sendable () -> [EntryDraft]) async throws -> [LedgerEntry] {
        try await database.write { session in
            let drafts = drafting()
            guard !drafts.isEmpty else { return [] }
            return try PostgresTransaction(session: session, ledger: self).append(drafts)
        }
    }

    struct Head: Sendable {
        var frontier: MerkleFrontier
        var chain: SHA256Digest
    }

    /// The newest entry's sequence number, chain hash and time.
    static func newestEntry(_ session: PGSession) throws -> (sequence: Int64, chain: [UInt8], time: Int64)? {
        guard let row = try session.query("SELECT sequence, chain_hash, time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1").rows.first else { return nil }
        let (sequence, chain, time) = try row.decode((Int64, ByteBuffer, Int64).self)
        return (sequence, Array(buffer: chain), time)
    }

    /// Appends inside the caller's write transaction (which holds the writers' lock), from `newest` as read in it.
    func append(_ drafts: [EntryDraft], in session: PGSession, now: Int64, newest: (sequence: Int64, chain: [UInt8])?) throws -> [LedgerEntry] {
        guard !drafts.isEmpty else { return [] }
        var head = try currentHead(session, newest: newest)
        var appended: [LedgerEntry] = []
        var entryRows: [[PGBind]] = []
        var nodeRows: [[PGBind]] = []
        for draft in drafts {
            let entry = try LedgerEntry(
                sequence: head.frontier.size, timeMilliseconds: now, kind: draft.kind, project: draft.project, environment: draft.environment,
                actor: draft.actor, payload: draft.payload)
            let leaf = entry.leafHash
            head.chain = HashChain.next(previous: head.chain, leafHash: leaf)
            entryRows.append([
                .int(Int64(entry.sequence)), .int(entry.timeMilliseconds), .text(entry.kind), .text(entry.actor), .bytes(entry.encoded), .bytes(leaf.bytes),
                .bytes(head.chain.bytes),
            ])
            for (id, hash) in head.frontier.append(leaf) where id.level >= Self.storedNodeMinimumLevel {
                nodeRows.append([.int(Int64(id.lastLeaf)), .int(Int64(id.level)), .bytes(hash.bytes)])
            }
            appended.append(entry)
        }
        try Self.insert(into: "ledger_entry (sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash)", rows: entryRows, session)
        try Self.insert(into: "merkle_node (last_sequence, level, hash)", rows: nodeRows, session)
        // The head is remembered for the next append; it is used only if the newest entry then is the one it ends with
        // (checked by sequence and chain hash), so a rolled-back transaction leaves nothing wrong behind.
        let committed = head
        cachedHead.withLock { $0 = committed }
        return appended
    }

    /// A multi-row INSERT, 64 rows a statement.
    static func insert(into table: String, rows: [[PGBind]], _ session: PGSession) throws {
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(start + 64, rows.count)]
            var binds: [PGBind] = []
            var tuples: [String] = []
            for row in chunk {
                tuples.append("(" + row.indices.map { "$\(binds.count + $0 + 1)" }.joined(separator: ", ") + ")")
                binds += row
            }
            try session.execute("INSERT INTO \(table) VALUES " + tuples.joined(separator: ", "), binds)
            start += chunk.count
        }
    }

    func currentHead(_ session: PGSession, newest: (sequence: Int64, chain: [UInt8])?) throws -> Head {
        guard let newest else { return Head(frontier: MerkleFrontier(), chain: HashChain.genesis) }
        let size = UInt64(newest.sequence) + 1
        if let cached = cachedHead.withLock({ $0 }), cached.frontier.size <= size {
            if cached.frontier.size == size, cached.chain.bytes == newest.chain { return cached }
            // Another instance appended since this one's last round: extend the cached head by the leaves it wrote,
            // checking each step's chain hash against the stored one (a head that was rolled back fails the check,
            // and the head is then read from the stored subtree hashes).
            if cached.frontier.size < size, size - cached.frontier.size <= 4096, let extended = try extend(cached, to: size, session),
                extended.chain.bytes == newest.chain
            {
                return extended
            }
        }
        let reader = PostgresNodeReader(session: session)
        let hashes = try MerkleFrontier.nodeIDs(forSize: size).map { try reader.hash(of: $0) }
        return Head(frontier: try MerkleFrontier(size: size, hashes: hashes), chain: try Self.digest(newest.chain))
    }

    /// `head` extended by the stored entries from its size to `size`, or nil when a stored chain hash disagrees.
    private func extend(_ head: Head, to size: UInt64, _ session: PGSession) throws -> Head? {
        var head = head
        let rows = try session.query(
            "SELECT sequence, leaf_hash, chain_hash FROM ledger_entry WHERE sequence >= $1 ORDER BY sequence", [.int(Int64(head.frontier.size))]
        ).rows
        for row in rows {
            let (sequence, leaf, chain) = try row.decode((Int64, ByteBuffer, ByteBuffer).self)
            guard UInt64(sequence) == head.frontier.size else { return nil }
            let leafHash = try Self.digest(Array(buffer: leaf))
            head.chain = HashChain.next(previous: head.chain, leafHash: leafHash)
            guard head.chain.bytes == Array(buffer: chain) else { return nil }
            _ = head.frontier.append(leafHash)
        }
        return head.frontier.size == size ? head : nil
    }

    static func digest(_ bytes: [UInt8]) throws -> SHA256Digest {
        do { return try SHA256Digest(bytes: bytes) } catch { throw LedgerError(.storage, "a stored hash is not 32 bytes") }
    }

    // MARK: Reading

    static func size(_ session: PGSession) throws -> UInt64 {
        try session.scalar(Int64.self, "SELECT MAX(sequence) + 1 FROM ledger_entry").map(UInt64.init) ?? 0
    }

    public func size() async throws -> UInt64 {
        try await database.run { session in try Self.size(session) }
    }

    public func entry(at sequence: UInt64) async throws -> LedgerEntry {
        try await database.run { session in
            guard let bytes = try session.scalar(ByteBuffer.self, "SELECT entry FROM ledger_entry WHERE sequence = $1", [.int(Int64(sequence))]) else {
                throw LedgerError(.invalidRequest, "no entry \(sequence) in the ledger")
            }
            return try LedgerEntry(decoding: Array(buffer: bytes))
        }
    }

    public func entries(from start: UInt64, limit: Int) async throws -> [LedgerEntry] {
        try await database.run { session in
            try session.query("SELECT entry FROM ledger_entry WHERE sequence >= $1 ORDER BY sequence LIMIT $2", [.int(Int64(start)), .int(Int64(limit))]).rows
                .map { try LedgerEntry(decoding: Array(buffer: try $0.decode(ByteBuffer.self))) }
        }
    }

    public func rootHash(size: UInt64) async throws -> SHA256Digest {
        try await database.read { session in
            try Self.checkSize(size, session)
            return try MerkleProofBuilder(reader: PostgresNodeReader(session: session)).rootHash(size: size)
        }
    }

    public func inclusionProof(index: UInt64, size: UInt64) async throws -> [SHA256Digest] {
        try await database.read { session in
            try Self.checkSize(size, session)
            return try MerkleProofBuilder(reader: PostgresNodeReader(session: session)).inclusionProof(index: index, size: size)
        }
    }

    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64) async throws -> [SHA256Digest] {
        try await database.read { session in
            try Self.checkSize(newSize, session)
            return try MerkleProofBuilder(reader: PostgresNodeReader(session: session)).consistencyProof(from: oldSize, to: newSize)
        }
    }

    private static func checkSize(_ size: UInt64, _ session: PGSession) throws {
        let current = try Self.size(session)
        guard size <= current else { throw LedgerError(.invalidRequest, "the ledger has \(current) entries, not \(size)") }
    }

    public func latestCheckpoint() async throws -> SignedCheckpoint? {
        try await database.run { session in
            guard let note = try session.scalar(String.self, "SELECT note FROM checkpoint ORDER BY tree_size DESC LIMIT 1") else { return nil }
            return try SignedCheckpoint(parsed: try SignedNote(parsing: note))
        }
    }

    // MARK: Checkpoints

    public func checkpointSizes() async throws -> [UInt64] {
        try await database.run { session in
            try session.query("SELECT tree_size FROM checkpoint ORDER BY tree_size").rows.map { UInt64(try $0.decode(Int64.self)) }
        }
    }

    public func storeCheckpoints(_ checkpoints: [SignedCheckpoint], milestoneEvery: UInt64) async throws {
        // Each verifies under the ledger key before anything is written: a store keeps only this ledger's signatures.
        let verified = try checkpoints.map { try SignedCheckpoint(verifying: $0.serialized, with: verifierKey) }
        let every = Int64(max(1, milestoneEvery))
        try await database.write { session in
            let size = try Self.size(session)
            let builder = MerkleProofBuilder(reader: PostgresNodeReader(session: session))
            var newest = try session.scalar(Int64.self, "SELECT MAX(tree_size) FROM checkpoint") ?? -1
            for signed in verified.sorted(by: { $0.checkpoint.size < $1.checkpoint.size }) {
                let treeSize = signed.checkpoint.size
                guard treeSize > 0, treeSize <= size, try builder.rootHash(size: treeSize) == signed.checkpoint.rootHash else {
                    throw LedgerError(.inconsistent, "a checkpoint of size \(treeSize) does not hold the stored tree's root: not stored")
                }
                let isMilestone = Int64(treeSize) % every == 0
                guard isMilestone || Int64(treeSize) > newest else { continue }
                try session.execute(
                    "INSERT INTO checkpoint (tree_size, note) VALUES ($1, $2) ON CONFLICT (tree_size) DO NOTHING", [.int(Int64(treeSize)), .text(signed.serialized)])
                newest = max(newest, Int64(treeSize))
            }
            try session.execute("DELETE FROM checkpoint WHERE tree_size < $1 AND (tree_size % $2 != 0 OR tree_size = 0)", [.int(newest), .int(every)])
        }
    }

    public func addCosignatures(_ lines: [SignedNote.Signature], size: UInt64) async throws -> Bool {
        try await database.write { session in
            // FOR UPDATE: two instances adding lines at once each add theirs to the other's.
            guard let stored = try session.scalar(String.self, "SELECT note FROM checkpoint WHERE tree_size = $1 FOR UPDATE", [.int(Int64(size))]) else {
                return false
            }
            let cosigned = try SignedNote(parsing: stored).adding(lines).serialized
            if cosigned != stored { try session.execute("UPDATE checkpoint SET note = $1 WHERE tree_size = $2", [.text(cosigned), .int(Int64(size))]) }
            return true
        }
    }

    public func subtreeHashes(level: Int, from index: UInt64, count: Int) async throws -> [SHA256Digest] {
        try await database.read { session in
            let reader = PostgresNodeReader(session: session)
            return try (0..<UInt64(max(0, count))).map { try reader.hash(of: MerkleNodeID(level: level, index: index + $0)) }
        }
    }

    // MARK: Verification

    public func verifyAll(
        trustedKey: NoteVerifierKey, allowUncoveredTail: Bool = false, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> VerificationReport {
        let storedKey = verifierKey
        let milestones = configuration.checkpointPolicy.milestoneEvery
        return try await database.read { session in
            var scan = PostgresLedgerScan(session: session)
            return try FullVerification.run(
                &scan, trustedKey: trustedKey, storedKey: storedKey, storedNodeMinimumLevel: Self.storedNodeMinimumLevel, milestoneInterval: milestones,
                allowUncoveredTail: allowUncoveredTail, progress: progress)
        }
    }
}

/// Subtree hashes as on SQLite: level 0 from `ledger_entry.leaf_hash`, levels below the stored minimum hashed from
/// their leaves, higher ones from `merkle_node`.
struct PostgresNodeReader: MerkleNodeReader {
    let session: PGSession

    func hash(of node: MerkleNodeID) throws -> SHA256Digest {
        if node.level < PostgresLedgerStore.storedNodeMinimumLevel {
            let rows = try session.query(
                "SELECT leaf_hash FROM ledger_entry WHERE sequence BETWEEN $1 AND $2 ORDER BY sequence", [.int(Int64(node.firstLeaf)), .int(Int64(node.lastLeaf))]
            ).rows
            guard rows.count == 1 << node.level else { throw missing(node) }
            var level = try rows.map { try PostgresLedgerStore.digest(Array(buffer: try $0.decode(ByteBuffer.self))) }
            while level.count > 1 {
                level = stride(from: 0, to: level.count, by: 2).map { Merkle.nodeHash(level[$0], level[$0 + 1]) }
            }
            return level[0]
        }
        guard
            let bytes = try session.scalar(
                ByteBuffer.self, "SELECT hash FROM merkle_node WHERE last_sequence = $1 AND level = $2", [.int(Int64(node.lastLeaf)), .int(Int64(node.level))])
        else { throw missing(node) }
        return try PostgresLedgerStore.digest(Array(buffer: bytes))
    }

    private func missing(_ node: MerkleNodeID) -> LedgerError {
        LedgerError(.storage, "stored subtree hash \(node) is missing; run `signoff audit verify --db`")
    }
}

/// The PostgreSQL tables as a ``LedgerScan``, a page of rows at a time inside one read-only snapshot.
struct PostgresLedgerScan: LedgerScan {
    let session: PGSession
    static let page = 2_000
    private var entryPage: [PostgresRow] = []
    private var entryPosition = 0
    private var nextSequence: Int64 = -1
    private var entriesDone = false
    private var nodePage: [PostgresRow] = []
    private var nodePosition = 0
    private var afterNode: (Int64, Int32) = (-1, 0)
    private var nodesDone = false

    init(session: PGSession) { self.session = session }

    func metadata() throws -> [(key: String, value: String)] {
        try session.query("SELECT key, value FROM ledger_meta ORDER BY key").rows.map { try $0.decode((String, String).self) }.map { ($0.0, $0.1) }
    }

    func checkpoints() throws -> [(size: UInt64, note: String)] {
        try session.query("SELECT tree_size, note FROM checkpoint ORDER BY tree_size").rows.map { row in
            let (size, note) = try row.decode((Int64, String).self)
            guard size >= 0 else { throw LedgerVerificationFailure(.checkpointMalformed, "a checkpoint row has the negative tree_size \(size)") }
            return (UInt64(size), note)
        }
    }

    func entryCount() throws -> UInt64 { try PostgresLedgerStore.size(session) }

    mutating func nextEntry() throws -> StoredEntry? {
        if entryPosition == entryPage.count {
            guard !entriesDone else { return nil }
            entryPage = try session.query(
                "SELECT sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash FROM ledger_entry WHERE sequence > $1 ORDER BY sequence LIMIT $2",
                [.int(nextSequence), .int(Int64(Self.page))]
            ).rows
            entryPosition = 0
            entriesDone = entryPage.count < Self.page
            guard !entryPage.isEmpty else { return nil }
        }
        let row = entryPage[entryPosition]
        entryPosition += 1
        let (sequence, time, kind, actor, entry, leaf, chain) = try row.decode((Int64, Int64, String, String, ByteBuffer, ByteBuffer, ByteBuffer).self)
        nextSequence = sequence
        return StoredEntry(
            sequence: UInt64(bitPattern: sequence), timeMilliseconds: time, kind: kind, actor: actor, encoded: Array(buffer: entry), leafHash: Array(buffer: leaf),
            chainHash: Array(buffer: chain))
    }

    mutating func nextNode() throws -> StoredNode? {
        if nodePosition == nodePage.count {
            guard !nodesDone else { return nil }
            nodePage = try session.query(
                "SELECT last_sequence, level, hash FROM merkle_node WHERE (last_sequence, level) > ($1, $2) ORDER BY last_sequence, level LIMIT $3",
                [.int(afterNode.0), .int(Int64(afterNode.1)), .int(Int64(Self.page))]
            ).rows
            nodePosition = 0
            nodesDone = nodePage.count < Self.page
            guard !nodePage.isEmpty else { return nil }
        }
        let row = nodePage[nodePosition]
        nodePosition += 1
        let (lastSequence, level, hash) = try row.decode((Int64, Int32, ByteBuffer).self)
        afterNode = (lastSequence, level)
        let width = level >= PostgresLedgerStore.storedNodeMinimumLevel && level < 63 ? UInt64(1) << UInt64(level) : 0
        let last = UInt64(bitPattern: lastSequence)
        guard width > 0, last < UInt64.max, (last + 1) % width == 0 else {
            throw LedgerVerificationFailure(
                .nodeUnexpected, sequence: last,
                "a stored subtree hash at last_sequence \(last), level \(level) cannot exist: no such subtree ends at entry \(last)")
        }
        return StoredNode(id: MerkleNodeID(level: Int(level), index: (last + 1) / width - 1), hash: Array(buffer: hash))
    }
}
