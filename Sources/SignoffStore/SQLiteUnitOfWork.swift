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

    public func write<Result: Sendable>(_ body: @Sendable (any StorageTransaction) throws -> Result) async throws -> Result {
        try await ledger.pool.write { db in
            try projection.upgradeIfNeeded(db)
            return try body(SQLiteTransaction(db: db, ledger: ledger))
        }
    }
}

/// One SQLite write transaction as a ``StorageTransaction``.
final class SQLiteTransaction: StorageTransaction {
    let db: Database
    let ledger: SQLiteLedgerStore
    let now: Int64
    private var appended = false

    init(db: Database, ledger: SQLiteLedgerStore) throws {
        self.db = db
        self.ledger = ledger
        // The clock is read once the writer lock is held, and never before the newest entry: times never decrease.
        let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1"))
        now = max(ledger.configuration.clock(), newest ?? .min)
    }

    func headMarker() throws -> [UInt8] {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1")).map { [UInt8]($0) } ?? []
    }

    func documents(_ read: DocumentRead) throws -> [String: String] {
        try SQLiteProjectionStore.documents(read, db)
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
        return try ledger.append(drafts, in: db, now: now)
    }

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
