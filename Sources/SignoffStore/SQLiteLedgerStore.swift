internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffAudit
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

/// The ledger in one SQLite file: WAL mode, `synchronous=FULL` (a committed append survives power loss),
/// and a busy timeout so the CLI and a server can share the file. It stores and reads; it never holds the ledger's
/// private key (the ``LogPublisher`` signs with a ``Signer``).
public final class SQLiteLedgerStore: LedgerStore, SynchronousLedgerAppends {
    /// The current time by the store's clock.
    public var now: Int64 { configuration.clock() }

    public struct Configuration: Sendable {
        public var checkpointPolicy = CheckpointPolicy()
        /// How long a writer waits for another process's transaction.
        public var busyTimeoutSeconds: Double = 30
        /// Milliseconds since the Unix epoch; injectable for tests.
        public var clock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
        /// Writes entries as round-1 ledgers did (encoding version 1, no header): only this package's tests set it,
        /// to build the ledgers a real round-1 Signoff left behind.
        package var writesRoundOneEntries = false

        public init() {}
    }

    public let origin: String
    public let verifierKey: NoteVerifierKey
    /// Complete subtrees of this level and above are stored (one row per 16 entries); lower ones are hashed
    /// from at most 8 leaves read in one range query. Storing every level doubled the rows written per append.
    public static let storedNodeMinimumLevel = 4
    let pool: DatabasePool
    let configuration: Configuration
    /// The head after our last append. Reused only when the database's newest entry still has the same sequence
    /// and chain hash (another process may have appended since), which saves O(log n) reads per transaction.
    let cachedHead = Mutex<Head?>(nil)

    /// Creates a new ledger database at `path` for the ledger whose public key is `ledgerKey` (named by its origin).
    /// Refuses an existing file.
    public static func create(path: String, ledgerKey verifierKey: NoteVerifierKey, configuration: Configuration = .init()) throws -> SQLiteLedgerStore {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.storage, "\(path) already exists; choose a new path (nothing was changed)")
        }
        let origin = verifierKey.name
        // Readable by its owner only: the file holds every project's trail. SQLite gives the WAL and shared-memory files
        // the database file's permissions.
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw LedgerError(.storage, "cannot create \(path); check the folder exists and is writable")
        }
        let pool = try openPool(path: path, configuration: configuration)
        try pool.write { db in
            try db.execute(sql: "INSERT INTO ledger_meta (key, value) VALUES ('origin', ?), ('verifier_key', ?)", arguments: [origin, verifierKey.description])
        }
        return SQLiteLedgerStore(pool: pool, origin: origin, verifierKey: verifierKey, configuration: configuration)
    }

    /// Opens an existing ledger.
    public static func open(path: String, configuration: Configuration = .init()) throws -> SQLiteLedgerStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.storage, "no ledger database at \(path); create one with `signoff init --db \(path) --origin NAME --admin NAME --admin-key KEY.pub`")
        }
        let pool = try openPool(path: path, configuration: configuration)
        // Read without trusting the types: a row changed by hand may hold a blob or a number where text belongs.
        let meta = try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM ledger_meta").reduce(into: [String: String]()) { meta, row in
                if let key = String.fromDatabaseValue(row[0]), let value = String.fromDatabaseValue(row[1]) { meta[key] = value }
            }
        }
        guard let origin = meta["origin"], let keyText = meta["verifier_key"] else {
            throw LedgerVerificationFailure(.metadataMismatch, "\(path) names no ledger origin or key in ledger_meta: it is not a Signoff ledger, or its metadata was altered")
        }
        let verifierKey: NoteVerifierKey
        do { verifierKey = try NoteVerifierKey(parsing: keyText) } catch {
            throw LedgerVerificationFailure(.metadataMismatch, "\(path): the ledger key recorded in ledger_meta is malformed (\(error.message)): its metadata was altered")
        }
        return SQLiteLedgerStore(pool: pool, origin: origin, verifierKey: verifierKey, configuration: configuration)
    }

    private init(pool: DatabasePool, origin: String, verifierKey: NoteVerifierKey, configuration: Configuration) {
        self.pool = pool
        self.origin = origin
        self.verifierKey = verifierKey
        self.configuration = configuration
    }

    static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        // A database (and its WAL and shared memory) that others may read is made its owner's alone.
        for file in [path, path + "-wal", path + "-shm"] {
            if let mode = (try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0 {
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
            }
        }
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
}
