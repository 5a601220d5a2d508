internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffCrypto
public import SignoffLedger

/// The ledger in one SQLite file: WAL mode, `synchronous=FULL` (a committed append survives power loss),
/// and a busy timeout so the CLI and a server can share the file.
public final class SQLiteLedgerStore: LedgerStore {
    public struct Configuration: Sendable {
        public var checkpointPolicy = CheckpointPolicy()
        /// How long a writer waits for another process's transaction.
        public var busyTimeoutSeconds: Double = 30
        /// Milliseconds since the Unix epoch; injectable for tests.
        public var clock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

        public init() {}
    }

    public let origin: String
    public let verifierKey: NoteVerifierKey
    /// Complete subtrees of this level and above are stored (one row per 16 entries); lower ones are hashed
    /// from at most 8 leaves read in one range query. Storing every level doubled the rows written per append.
    public static let storedNodeMinimumLevel = 4
    let pool: DatabasePool
    private let signingKey: Ed25519.SigningKey?
    private let configuration: Configuration
    /// The head after our last append. Reused only when the database's newest entry still has the same sequence
    /// and chain hash (another process may have appended since), which saves O(log n) reads per transaction.
    private let cachedHead = Mutex<Head?>(nil)

    /// Creates a new ledger database at `path` for `signingKey` (named `origin`). Refuses an existing file.
    public static func create(path: String, origin: String, signingKey: Ed25519.SigningKey, configuration: Configuration = .init()) throws
        -> SQLiteLedgerStore
    {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.storage, "\(path) already exists; choose a new path (nothing was changed)")
        }
        let verifierKey: NoteVerifierKey
        do { verifierKey = try NoteVerifierKey(name: origin, publicKey: signingKey.publicKey) } catch {
            throw LedgerError(.invalidRequest, "origin: \(error.message)")
        }
        let pool = try openPool(path: path, configuration: configuration)
        try pool.write { db in
            try db.execute(sql: "INSERT INTO ledger_meta (key, value) VALUES ('origin', ?), ('verifier_key', ?)", arguments: [origin, verifierKey.description])
        }
        let store = SQLiteLedgerStore(pool: pool, origin: origin, verifierKey: verifierKey, signingKey: signingKey, configuration: configuration)
        return store
    }

    /// Opens an existing ledger. Without `signingKey` it can append and read but not sign checkpoints.
    public static func open(path: String, signingKey: Ed25519.SigningKey? = nil, configuration: Configuration = .init()) throws -> SQLiteLedgerStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.storage, "no ledger database at \(path); create one with `signoff init --db \(path) --origin NAME`")
        }
        let pool = try openPool(path: path, configuration: configuration)
        let meta = try pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM ledger_meta").map { ($0[0] as String, $0[1] as String) })
        }
        guard let origin = meta["origin"], let keyText = meta["verifier_key"] else {
            throw LedgerError(.storage, "\(path) is not a Signoff ledger (no origin or ledger key recorded)")
        }
        let verifierKey: NoteVerifierKey
        do { verifierKey = try NoteVerifierKey(parsing: keyText) } catch {
            throw LedgerError(.storage, "\(path): the recorded ledger key is malformed: \(error.message)")
        }
        if let signingKey, signingKey.publicKey != verifierKey.publicKey {
            throw LedgerError(.invalidRequest, "the ledger key file does not belong to the ledger in \(path)")
        }
        return SQLiteLedgerStore(pool: pool, origin: origin, verifierKey: verifierKey, signingKey: signingKey, configuration: configuration)
    }

    private init(pool: DatabasePool, origin: String, verifierKey: NoteVerifierKey, signingKey: Ed25519.SigningKey?, configuration: Configuration) {
        self.pool = pool
        self.origin = origin
        self.verifierKey = verifierKey
        self.signingKey = signingKey
        self.configuration = configuration
    }

    static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeoutSeconds)
        config.prepareDatabase { db in
            // FULL: the WAL is synced at every commit, so an acknowledged append survives power loss.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        // GRDB sets synchronous=NORMAL on the pool's writer when it enables WAL, after prepareDatabase has run:
        // set FULL again on the writer connection (the one that commits) and check that it holds.
        let synchronous = try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        guard synchronous == 2 else {
            throw LedgerError(.storage, "SQLite refused synchronous=FULL on \(path); appends would not be durable")
        }
        var migrator = DatabaseMigrator()
        for migration in SQLiteSchema.migrations {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        try migrator.migrate(pool)
        return pool
    }

    // MARK: Appending

    public func append(_ drafts: [EntryDraft]) async throws -> [LedgerEntry] {
        guard !drafts.isEmpty else { return [] }
        let now = configuration.clock()
        return try await pool.write { db in try self.append(drafts, in: db, now: now) }
    }

    /// The current time by the store's clock.
    var now: Int64 { configuration.clock() }

    /// Appends inside the caller's write transaction, so that other tables (the projection) change atomically
    /// with the ledger. Call at most once per transaction.
    func append(_ drafts: [EntryDraft], in db: Database, now: Int64) throws -> [LedgerEntry] {
        guard !drafts.isEmpty else { return [] }
        var head = try self.currentHead(db)
        var appended: [LedgerEntry] = []
        appended.reserveCapacity(drafts.count)
        var entryRows: [(any DatabaseValueConvertible)?] = []
        entryRows.reserveCapacity(drafts.count * 7)
        var nodeRows: [(any DatabaseValueConvertible)?] = []
        for draft in drafts {
            let entry = try LedgerEntry(
                sequence: head.frontier.size, timeMilliseconds: now, kind: draft.kind, actor: draft.actor, payload: draft.payload)
            let leaf = entry.leafHash
            head.chain = HashChain.next(previous: head.chain, leafHash: leaf)
            entryRows += [Int64(entry.sequence), entry.timeMilliseconds, entry.kind, entry.actor, Data(entry.encoded), Data(leaf.bytes), Data(head.chain.bytes)]
            for (id, hash) in head.frontier.append(leaf) where id.level >= Self.storedNodeMinimumLevel {
                nodeRows += [Int64(id.lastLeaf), id.level, Data(hash.bytes)]
            }
            appended.append(entry)
        }
        try Self.insertEntries.execute(db, values: entryRows)
        try Self.insertNodes.execute(db, values: nodeRows)
        try self.checkpointIfDue(db, head: head, now: now, force: false)
        // Remember the head only once the transaction has committed.
        let committed = head
        db.afterNextTransaction { _ in self.cachedHead.withLock { $0 = committed } } onRollback: { _ in
            self.cachedHead.withLock { $0 = nil }
        }
        return appended
    }

    /// A multi-row INSERT of up to ``maximumRowsPerInsert`` rows: one statement step per chunk, not per row.
    struct MultiRowInsert: Sendable {
        static let maximumRowsPerInsert = 64
        let columns: Int
        /// `sql[n - 1]` inserts `n` rows; built once.
        let sql: [String]

        init(table: String, columns: [String]) {
            self.columns = columns.count
            let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
            sql = (1...Self.maximumRowsPerInsert).map {
                "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " + Array(repeating: row, count: $0).joined(separator: ", ")
            }
        }

        func execute(_ db: Database, values: [(any DatabaseValueConvertible)?]) throws {
            let rowCount = values.count / columns
            var row = 0
            while row < rowCount {
                let n = min(Self.maximumRowsPerInsert, rowCount - row)
                try db.cachedStatement(sql: sql[n - 1]).execute(arguments: StatementArguments(values[(row * columns)..<((row + n) * columns)]))
                row += n
            }
        }
    }

    static let insertEntries = MultiRowInsert(
        table: "ledger_entry", columns: ["sequence", "time_ms", "kind", "actor", "entry", "leaf_hash", "chain_hash"])
    static let insertNodes = MultiRowInsert(table: "merkle_node", columns: ["last_sequence", "level", "hash"])

    @discardableResult
    public func signCheckpoint() async throws -> SignedCheckpoint? {
        let now = configuration.clock()
        return try await pool.write { db in
            let head = try Self.head(db)
            try self.checkpointIfDue(db, head: head, now: now, force: true)
            return try Self.latestCheckpoint(db)
        }
    }

    /// The newest state, read inside the write transaction so that several processes sharing the file never fork.
    private struct Head: Sendable {
        var frontier: MerkleFrontier
        var chain: SHA256Digest
    }

    private func currentHead(_ db: Database) throws -> Head {
        guard let row = try Row.fetchOne(db, sql: "SELECT sequence, chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1") else {
            return Head(frontier: MerkleFrontier(), chain: HashChain.genesis)
        }
        if let cached = cachedHead.withLock({ $0 }), cached.frontier.size == UInt64(row[0] as Int64) + 1,
            cached.chain.bytes == [UInt8](row[1] as Data)
        {
            return cached
        }
        return try Self.head(db)
    }

    private static func head(_ db: Database) throws -> Head {
        guard let row = try Row.fetchOne(db, sql: "SELECT sequence, chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1") else {
            return Head(frontier: MerkleFrontier(), chain: HashChain.genesis)
        }
        let size = UInt64(row[0] as Int64) + 1
        let reader = SQLiteNodeReader(db: db)
        let hashes = try MerkleFrontier.nodeIDs(forSize: size).map { try reader.hash(of: $0) }
        return Head(frontier: try MerkleFrontier(size: size, hashes: hashes), chain: try digest(row[1]))
    }

    private func checkpointIfDue(_ db: Database, head: Head, now: Int64, force: Bool) throws {
        guard let signingKey else { return }
        let size = head.frontier.size
        let last = try Self.latestCheckpoint(db)?.checkpoint
        if let last, last.size >= size {
            // Nothing new to sign. Asked to sign anyway, bring a ledger from before milestones to the kept set.
            if force { try keepMilestones(db, below: last.size, signingKey: signingKey, fillingGaps: true) }
            return
        }
        if !force, let last {
            // Due when enough entries wait, or when the oldest entry no checkpoint covers has waited long enough.
            let policy = configuration.checkpointPolicy
            let dueByCount = size - last.size >= policy.everyEntries
            let oldestUncovered = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT time_ms FROM ledger_entry WHERE sequence = ?"), arguments: [Int64(last.size)]) ?? now
            let dueByTime = now - oldestUncovered >= policy.everySeconds * 1000
            guard dueByCount || dueByTime else { return }
        }
        let root = head.frontier.rootHash
        // Never sign two inconsistent checkpoints: prove the new tree extends the last signed one.
        if let last, last.size > 0 {
            let proof = try MerkleProofBuilder(reader: SQLiteNodeReader(db: db)).consistencyProof(from: last.size, to: size)
            try MerkleVerifier.verifyConsistency(
                oldSize: last.size, newSize: size, proof: proof.map(\.bytes), oldRoot: last.rootHash.bytes, newRoot: root.bytes)
        }
        let signed = try SignedCheckpoint(signing: Checkpoint(origin: origin, size: size, rootHash: root), with: signingKey)
        try db.execute(sql: "INSERT INTO checkpoint (tree_size, note) VALUES (?, ?)", arguments: [Int64(size), signed.serialized])
        try keepMilestones(db, below: size, signingKey: signingKey, fillingGaps: force)
    }

    /// Below the newest checkpoint (at `size`), keeps exactly the milestones (schema/ledger.md §4): signs the missing
    /// ones — the root of an earlier size comes from the same stored tree — and deletes every other checkpoint.
    /// Appends sign only the milestones passed since the last one; `fillingGaps` (asked-for signing) also fills any
    /// gap below it, as in a ledger written before milestones.
    private func keepMilestones(_ db: Database, below size: UInt64, signingKey: Ed25519.SigningKey, fillingGaps: Bool) throws {
        let every = configuration.checkpointPolicy.milestoneEvery
        let existing: Set<Int64>
        let first: UInt64
        if fillingGaps {
            existing = Set(try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT tree_size FROM checkpoint WHERE tree_size % ? = 0 AND tree_size > 0 AND tree_size < ?"),
                arguments: [Int64(every), Int64(size)]))
            first = every
        } else {
            let last = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT MAX(tree_size) FROM checkpoint WHERE tree_size % ? = 0 AND tree_size > 0 AND tree_size < ?"),
                arguments: [Int64(every), Int64(size)]) ?? 0
            existing = []
            first = UInt64(last) + every
        }
        let builder = MerkleProofBuilder(reader: SQLiteNodeReader(db: db))
        for milestone in stride(from: first, to: size, by: Int(every)) where !existing.contains(Int64(milestone)) {
            let signed = try SignedCheckpoint(
                signing: Checkpoint(origin: origin, size: milestone, rootHash: try builder.rootHash(size: milestone)), with: signingKey)
            try db.execute(sql: "INSERT INTO checkpoint (tree_size, note) VALUES (?, ?)", arguments: [Int64(milestone), signed.serialized])
        }
        try db.execute(
            sql: "DELETE FROM checkpoint WHERE tree_size < ? AND (tree_size % ? != 0 OR tree_size = 0)", arguments: [Int64(size), Int64(every)])
    }

    // MARK: Reading

    public func size() async throws -> UInt64 {
        try await pool.read { db in try Self.size(db) }
    }

    static func size(_ db: Database) throws -> UInt64 {
        try Int64.fetchOne(db, sql: "SELECT MAX(sequence) + 1 FROM ledger_entry").map(UInt64.init) ?? 0
    }

    public func entry(at sequence: UInt64) async throws -> LedgerEntry {
        try await pool.read { db in
            guard let data = try Data.fetchOne(db, sql: "SELECT entry FROM ledger_entry WHERE sequence = ?", arguments: [Int64(sequence)]) else {
                throw LedgerError(.invalidRequest, "no entry \(sequence) in the ledger")
            }
            return try LedgerEntry(decoding: [UInt8](data))
        }
    }

    public func rootHash(size: UInt64) async throws -> SHA256Digest {
        try await pool.read { db in
            try Self.checkSize(size, db)
            return try MerkleProofBuilder(reader: SQLiteNodeReader(db: db)).rootHash(size: size)
        }
    }

    public func inclusionProof(index: UInt64, size: UInt64) async throws -> [SHA256Digest] {
        try await pool.read { db in
            try Self.checkSize(size, db)
            return try MerkleProofBuilder(reader: SQLiteNodeReader(db: db)).inclusionProof(index: index, size: size)
        }
    }

    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64) async throws -> [SHA256Digest] {
        try await pool.read { db in
            try Self.checkSize(newSize, db)
            return try MerkleProofBuilder(reader: SQLiteNodeReader(db: db)).consistencyProof(from: oldSize, to: newSize)
        }
    }

    private static func checkSize(_ size: UInt64, _ db: Database) throws {
        let current = try Self.size(db)
        guard size <= current else { throw LedgerError(.invalidRequest, "the ledger has \(current) entries, not \(size)") }
    }

    public func latestCheckpoint() async throws -> SignedCheckpoint? {
        try await pool.read { db in try Self.latestCheckpoint(db) }
    }

    private static func latestCheckpoint(_ db: Database) throws -> SignedCheckpoint? {
        guard let note = try String.fetchOne(db, sql: "SELECT note FROM checkpoint ORDER BY tree_size DESC LIMIT 1") else { return nil }
        let parsed = try SignedNote(parsing: note)
        return try SignedCheckpoint(parsed: parsed)
    }

    static func digest(_ value: DatabaseValue) throws -> SHA256Digest {
        guard let data = Data.fromDatabaseValue(value) else { throw LedgerError(.storage, "a stored hash is not a blob") }
        do { return try SHA256Digest(bytes: [UInt8](data)) } catch { throw LedgerError(.storage, "a stored hash is not 32 bytes") }
    }

    // MARK: Verification

    public func verifyAll(
        trustedKey: NoteVerifierKey, allowUncoveredTail: Bool = false, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> VerificationReport {
        try await pool.read { db in
            let total = try Self.size(db)
            let empty = { (failure: LedgerVerificationFailure) in
                VerificationReport(entries: 0, storedNodes: 0, checkpoints: 0, rootHash: Merkle.emptyRoot, failure: failure)
            }
            // The metadata rows are checked, not trusted: exactly these two, naming the trusted key.
            let meta = try Row.fetchAll(db, sql: "SELECT key, value FROM ledger_meta ORDER BY key").map {
                (String.fromDatabaseValue($0[0]) ?? "?", String.fromDatabaseValue($0[1]) ?? "?")
            }
            let expectedMeta = [("origin", trustedKey.name), ("verifier_key", trustedKey.description)]
            if trustedKey != self.verifierKey || !meta.elementsEqual(expectedMeta, by: { $0 == $1 }) {
                return empty(LedgerVerificationFailure(
                    .metadataMismatch,
                    "ledger_meta does not name the trusted ledger key \(trustedKey.name) (key ID \(trustedKey.keyIDHex)): it holds \(meta.map { "\($0.0)=\($0.1)" }.joined(separator: ", "))"))
            }
            var checkpoints: [(size: UInt64, note: String)] = []
            do {
                for row in try Row.fetchAll(db, sql: "SELECT tree_size, note FROM checkpoint ORDER BY tree_size") {
                    let size: Int64 = try row.checked(0, "checkpoint.tree_size")
                    guard size >= 0 else {
                        throw LedgerVerificationFailure(.checkpointMalformed, "a checkpoint row has the negative tree_size \(size)")
                    }
                    checkpoints.append((UInt64(bitPattern: size), try row.checked(1, "checkpoint.note at tree_size \(size)")))
                }
            } catch let error as LedgerVerificationFailure {
                return empty(error)
            }
            var verifier: LedgerVerifier
            do {
                verifier = try LedgerVerifier(
                    ledgerKey: trustedKey, checkpoints: checkpoints, storedNodeMinimumLevel: Self.storedNodeMinimumLevel,
                    milestoneInterval: configuration.checkpointPolicy.milestoneEvery)
            } catch let error as LedgerVerificationFailure {
                return VerificationReport(entries: 0, storedNodes: 0, checkpoints: checkpoints.count, rootHash: Merkle.emptyRoot, failure: error)
            }
            let entries = try Row.fetchCursor(
                db, sql: "SELECT sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash FROM ledger_entry ORDER BY sequence")
            let nodes = try Row.fetchCursor(db, sql: "SELECT last_sequence, level, hash FROM merkle_node ORDER BY last_sequence, level")
            var nodeCount: UInt64 = 0
            var failure: LedgerVerificationFailure?
            do {
                var pendingNode: StoredNode? = try nodes.next().map(Self.storedNode)
                while let row = try entries.next() {
                    let sequence: Int64 = try row.checked(0, "ledger_entry.sequence")
                    func column(_ name: String) -> String { "ledger_entry row \(sequence): \(name)" }
                    let stored = StoredEntry(
                        sequence: UInt64(bitPattern: sequence), timeMilliseconds: try row.checked(1, column("time_ms"), sequence: sequence),
                        kind: try row.checked(2, column("kind"), sequence: sequence), actor: try row.checked(3, column("actor"), sequence: sequence),
                        encoded: [UInt8](try row.checked(4, column("entry"), sequence: sequence) as Data),
                        leafHash: [UInt8](try row.checked(5, column("leaf_hash"), sequence: sequence) as Data),
                        chainHash: [UInt8](try row.checked(6, column("chain_hash"), sequence: sequence) as Data))
                    var closed: [StoredNode] = []
                    while let node = pendingNode, node.id.lastLeaf <= stored.sequence {
                        closed.append(node)
                        nodeCount += 1
                        pendingNode = try nodes.next().map(Self.storedNode)
                    }
                    try verifier.verify(entry: stored, closedNodes: closed)
                    if let progress, verifier.entriesVerified % 65_536 == 0 { progress(verifier.entriesVerified, total) }
                }
                if let node = pendingNode {
                    throw LedgerVerificationFailure(.nodeUnexpected, sequence: node.id.firstLeaf, "stored subtree hash \(node.id) lies beyond the ledger's end")
                }
                try verifier.finish(allowUncoveredTail: allowUncoveredTail)
            } catch let error as LedgerVerificationFailure {
                failure = error
            }
            progress?(verifier.entriesVerified, total)
            return VerificationReport(
                entries: verifier.entriesVerified, storedNodes: nodeCount, checkpoints: verifier.checkpointsVerified,
                rootHash: verifier.rootHash, failure: failure)
        }
    }

    /// A `merkle_node` row as a node ID, refusing a row no complete subtree could have written.
    private static func storedNode(_ row: Row) throws(LedgerVerificationFailure) -> StoredNode {
        let lastSequence = UInt64(bitPattern: try row.checked(0, "merkle_node.last_sequence") as Int64)
        let level: Int = try row.checked(1, "merkle_node.level at last_sequence \(lastSequence)")
        let hash: Data = try row.checked(2, "merkle_node.hash at last_sequence \(lastSequence)")
        let width = level >= storedNodeMinimumLevel && level < 63 ? UInt64(1) << UInt64(level) : 0
        guard width > 0, lastSequence < UInt64.max, (lastSequence + 1) % width == 0 else {
            throw LedgerVerificationFailure(
                .nodeUnexpected, sequence: lastSequence,
                "a stored subtree hash at last_sequence \(lastSequence), level \(level) cannot exist: no such subtree ends at entry \(lastSequence)")
        }
        return StoredNode(id: MerkleNodeID(level: level, index: (lastSequence + 1) / width - 1), hash: [UInt8](hash))
    }
}

extension Row {
    /// Column `index` as `T`, or a verification failure naming the column: a tampered file may hold any type anywhere.
    func checked<T: DatabaseValueConvertible>(
        _ index: Int, _ column: @autoclosure () -> String, sequence: Int64? = nil
    ) throws(LedgerVerificationFailure) -> T {
        guard let value = T.fromDatabaseValue(self[index] as DatabaseValue) else {
            throw LedgerVerificationFailure(
                .entryMalformed, sequence: sequence.map { UInt64(bitPattern: $0) }, "\(column()) holds \(self[index] as DatabaseValue), not a value of its type")
        }
        return value
    }
}

/// Reads subtree hashes: level 0 from `ledger_entry.leaf_hash`, levels below
/// ``SQLiteLedgerStore/storedNodeMinimumLevel`` hashed from their leaves, higher levels from `merkle_node`.
struct SQLiteNodeReader: MerkleNodeReader {
    let db: Database

    func hash(of node: MerkleNodeID) throws -> SHA256Digest {
        if node.level == 0 {
            let value = try DatabaseValue.fetchOne(
                db.cachedStatement(sql: "SELECT leaf_hash FROM ledger_entry WHERE sequence = ?"), arguments: [Int64(node.index)])
            guard let value else { throw missing(node) }
            return try SQLiteLedgerStore.digest(value)
        }
        if node.level < SQLiteLedgerStore.storedNodeMinimumLevel {
            let rows = try DatabaseValue.fetchAll(
                db.cachedStatement(sql: "SELECT leaf_hash FROM ledger_entry WHERE sequence BETWEEN ? AND ? ORDER BY sequence"),
                arguments: [Int64(node.firstLeaf), Int64(node.lastLeaf)])
            guard rows.count == 1 << node.level else { throw missing(node) }
            var level = try rows.map(SQLiteLedgerStore.digest)
            while level.count > 1 {
                level = stride(from: 0, to: level.count, by: 2).map { Merkle.nodeHash(level[$0], level[$0 + 1]) }
            }
            return level[0]
        }
        let value = try DatabaseValue.fetchOne(
            db.cachedStatement(sql: "SELECT hash FROM merkle_node WHERE last_sequence = ? AND level = ?"),
            arguments: [Int64(node.lastLeaf), node.level])
        guard let value else { throw missing(node) }
        return try SQLiteLedgerStore.digest(value)
    }

    private func missing(_ node: MerkleNodeID) -> LedgerError {
        LedgerError(.storage, "stored subtree hash \(node) is missing; run `signoff audit verify --db`")
    }
}
