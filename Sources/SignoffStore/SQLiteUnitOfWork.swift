internal import Foundation
internal import GRDB
public import SignoffCore
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

/// The unit of work on SQLite: one write transaction (`BEGIN IMMEDIATE` under GRDB's single writer, and SQLite's lock
/// across processes), so `body` runs exactly once per call. The projection is brought to the current format first.
public struct SQLiteUnitOfWork: UnitOfWork {
    let ledger: SQLiteLedgerStore
    let projection: SQLiteProjectionStore

    public func write<Result: Sendable>(at proposed: Int64?, _ body: @escaping @Sendable (any StorageTransaction) throws -> Result) async throws -> Result {
        try await ledger.pool.write { db in
            WriterPriority.raise { restore in db.afterNextTransaction { _ in restore() } onRollback: { _ in restore() } }
            try projection.upgradeIfNeeded(db)
            return try body(SQLiteTransaction(db: db, ledger: ledger, proposed: proposed))
        }
    }

    /// One process's clock serves every writer of an SQLite file that matters (the server's); a time proposed from it
    /// is as good as one read inside.
    public var takesProposedTimes: Bool { true }
}

/// One SQLite write transaction as a ``StorageTransaction``.
final class SQLiteTransaction: StorageTransaction {
    let db: Database
    let ledger: SQLiteLedgerStore
    let now: Int64
    private var appended = false

    /// The newest entry when the transaction began (its sequence and chain hash): what the append starts from.
    private let newest: (sequence: Int64, chain: [UInt8])?

    init(db: Database, ledger: SQLiteLedgerStore, proposed: Int64? = nil) throws {
        self.db = db
        self.ledger = ledger
        // The clock is read once the writer lock is held (or was read by the caller that proposes its time), and never
        // before the newest entry: times never decrease.
        let newest = try SQLiteLedgerStore.newestEntry(db)
        self.newest = newest.map { ($0.sequence, $0.chain) }
        now = max(proposed ?? ledger.configuration.clock(), newest?.time ?? .min)
    }

    func headMarker() throws -> [UInt8] { try Self.headMarker(db) }

    /// The ledger's size (8 bytes, big-endian: markers order as their ledgers grow) and the newest entry's chain hash.
    static func headMarker(_ db: Database) throws -> [UInt8] {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT sequence, chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1")) else {
            return [UInt8](repeating: 0, count: 8)
        }
        let size = UInt64(bitPattern: Int64.fromDatabaseValue(row[0]) ?? -1) &+ 1
        return withUnsafeBytes(of: size.bigEndian, Array.init) + [UInt8](Data.fromDatabaseValue(row[1]) ?? Data())
    }

    func documents(_ read: DocumentRead) throws -> [String: String] {
        try SQLiteProjectionStore.documents(read, db)
    }

    func document(_ key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT document FROM projection WHERE key = ?"), arguments: [key])
    }

    func writeDocuments(_ documents: [String: String?]) throws {
        for (key, document) in documents.sorted(by: { $0.key < $1.key }) {
            if let document {
                try db.cachedStatement(
                    sql: "INSERT INTO projection (key, document) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET document = excluded.document"
                ).execute(arguments: [key, document])
            } else {
                try db.cachedStatement(sql: "DELETE FROM projection WHERE key = ?").execute(arguments: [key])
            }
        }
    }

    func directoryVersion() throws -> Int64 { try SQLiteProjectionStore.directoryVersion(db) }

    func setDirectoryVersion(_ sequence: UInt64) throws {
        try db.cachedStatement(
            sql: "INSERT INTO projection_meta (key, value) VALUES ('directory-version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ).execute(arguments: [String(sequence)])
    }

    func indexRequestEntries(_ rows: [(request: String, sequence: UInt64)]) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO request_entry (request, sequence) VALUES (?, ?) ON CONFLICT DO NOTHING")
        for row in rows { try statement.execute(arguments: [row.request, Int64(row.sequence)]) }
    }

    func usedStatements(among digests: Set<SHA256Digest>) throws -> Set<SHA256Digest> {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM used_statement WHERE digest = ?")
        return try digests.filter { try Int.fetchOne(statement, arguments: [Data($0.bytes)]) != nil }
    }

    func recordStatements(_ digests: Set<SHA256Digest>, until: Int64) throws {
        guard !digests.isEmpty else { return }
        try db.cachedStatement(sql: "DELETE FROM used_statement WHERE until_ms < ?").execute(arguments: [now])
        let insert = try db.cachedStatement(sql: "INSERT INTO used_statement (digest, until_ms) VALUES (?, ?)")
        for digest in digests.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            try insert.execute(arguments: [Data(digest.bytes), until])
        }
    }

    func append(_ drafts: [EntryDraft]) throws -> [LedgerEntry] {
        precondition(!appended, "a unit of work appends once")
        appended = true
        return try ledger.append(drafts, in: db, now: now, newest: newest)
    }

    func idempotencyRecord(principal: String, key: String) throws -> IdempotencyRecord? {
        try SQLiteCoordinationStore.idempotencyRecord(db, principal: principal, key: key, now: now)
    }

    func insertIdempotencyRecord(_ record: IdempotencyRecord) throws {
        try SQLiteCoordinationStore.forgetIdempotencyRecords(db, now: now)
        try SQLiteCoordinationStore.insertIdempotencyRecord(db, record, orIgnore: false)
    }

    func directoryResource(directory: String, kind: DirectoryResource.Kind, id: String) throws -> DirectoryResource? {
        try SQLiteCoordinationStore.directoryResource(db, directory: directory, kind: kind, id: id)
    }

    func writeDirectoryResource(_ write: DirectoryResourceWrite) throws { try SQLiteCoordinationStore.writeDirectoryResource(db, write) }

    func enqueue(_ messages: [OutboxMessage]) throws { try SQLiteWebhookStore.insert(messages, in: db) }

    func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest) throws {
        try SQLiteAuthStore.insertToken(record, tokenHash: tokenHash, createdAt: now, db)
    }

    func revokeToken(id: String) throws -> Bool { try SQLiteAuthStore.revokeToken(id: id, now: now, db) }

    func revokeTokens(principal: String, keyFingerprint: String?) throws -> Int {
        try SQLiteAuthStore.revokeTokens(principal: principal, keyFingerprint: keyFingerprint, now: now, db)
    }

    func putEvidence(_ document: EvidenceDocument) throws -> Bool { try SQLiteEvidenceStore.put(document, db) }
}
