internal import Foundation
internal import PostgresNIO
public import SignoffCore
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

/// The unit of work on PostgreSQL: one transaction that takes the writers' advisory lock first, so that writers of
/// every instance take turns as SQLite's single writer does; `body` may run again after a serialization failure or a
/// deadlock (``UnitOfWork`` allows it). The projection is brought to the current format first.
public struct PostgresUnitOfWork: UnitOfWork {
    let ledger: PostgresLedgerStore
    let projection: PostgresProjectionStore

    /// The instances share the database server's clock, read inside the transaction: a time proposed from one
    /// instance's clock is not used (``takesProposedTimes`` is false), so commands are never decided ahead here.
    public var takesProposedTimes: Bool { false }

    public func write<Result: Sendable>(at proposed: Int64?, _ body: @escaping @Sendable (any StorageTransaction) throws -> Result) async throws -> Result {
        // The body runs on a thread of the pool while this task waits for it.
        try await ledger.database.write { [ledger, projection] session in
            try projection.upgradeIfNeeded(session)
            let result = try body(PostgresTransaction(session: session, ledger: ledger))
            // Delivered to every instance's change feed when this transaction commits, and never if it does not.
            try session.query("SELECT pg_notify($1, '')", [.text(PostgresChangeFeed.channel)])
            return result
        }
    }
}

/// One PostgreSQL write transaction as a ``StorageTransaction``.
final class PostgresTransaction: StorageTransaction {
    let session: PGSession
    let ledger: PostgresLedgerStore
    let now: Int64
    private var appended = false
    private let newest: (sequence: Int64, chain: [UInt8])?

    init(session: PGSession, ledger: PostgresLedgerStore) throws {
        self.session = session
        self.ledger = ledger
        // Read once the writers' lock is held: the newest entry, and the clock (the database server's unless the
        // store was given one), never earlier than that entry's time.
        let newest = try PostgresLedgerStore.newestEntry(session)
        self.newest = newest.map { ($0.sequence, $0.chain) }
        let clock = try ledger.configuration.clock?() ?? session.scalar(Int64.self, "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint") ?? 0
        now = max(clock, newest?.time ?? .min)
    }

    func headMarker() throws -> [UInt8] { try Self.headMarker(session) }

    static func headMarker(_ session: PGSession) throws -> [UInt8] {
        marker(try PostgresLedgerStore.newestEntry(session).map { ($0.sequence, $0.chain) })
    }

    /// The ledger's size (8 bytes, big-endian) and the newest entry's chain hash, as on SQLite.
    static func marker(_ newest: (sequence: Int64, chain: [UInt8])?) -> [UInt8] {
        guard let newest else { return [UInt8](repeating: 0, count: 8) }
        return withUnsafeBytes(of: (UInt64(bitPattern: newest.sequence) &+ 1).bigEndian, Array.init) + newest.chain
    }

    func documents(_ read: DocumentRead) throws -> [String: String] { try PostgresProjectionStore.documents(read, session) }

    func document(_ key: String) throws -> String? {
        try session.scalar(String.self, "SELECT document FROM projection WHERE key = $1", [.text(key)])
    }

    func writeDocuments(_ documents: [String: String?]) throws {
        for (key, document) in documents.sorted(by: { $0.key < $1.key }) {
            if let document {
                try session.execute(
                    "INSERT INTO projection (key, document) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET document = excluded.document", [.text(key), .text(document)])
            } else {
                try session.execute("DELETE FROM projection WHERE key = $1", [.text(key)])
            }
        }
    }

    func directoryVersion() throws -> Int64 { try PostgresProjectionStore.directoryVersion(session) }

    func setDirectoryVersion(_ sequence: UInt64) throws {
        try session.execute(
            "INSERT INTO projection_meta (key, value) VALUES ('directory-version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [.text(String(sequence))])
    }

    func indexRequestEntries(_ rows: [(request: String, sequence: UInt64)]) throws {
        for row in rows {
            try session.execute(
                "INSERT INTO request_entry (request, sequence) VALUES ($1, $2) ON CONFLICT DO NOTHING", [.text(row.request), .int(Int64(row.sequence))])
        }
    }

    func usedStatements(among digests: Set<SHA256Digest>) throws -> Set<SHA256Digest> {
        try digests.filter { try session.scalar(Int32.self, "SELECT 1 FROM used_statement WHERE digest = $1", [.bytes($0.bytes)]) != nil }
    }

    func recordStatements(_ digests: Set<SHA256Digest>, until: Int64) throws {
        guard !digests.isEmpty else { return }
        try session.execute("DELETE FROM used_statement WHERE until_ms < $1", [.int(now)])
        for digest in digests.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            try session.execute("INSERT INTO used_statement (digest, until_ms) VALUES ($1, $2)", [.bytes(digest.bytes), .int(until)])
        }
    }

    func append(_ drafts: [EntryDraft]) throws -> [LedgerEntry] {
        precondition(!appended, "a unit of work appends once")
        appended = true
        return try ledger.append(drafts, in: session, now: now, newest: newest)
    }

    func idempotencyRecord(principal: String, key: String) throws -> IdempotencyRecord? {
        try PostgresCoordinationStore.idempotencyRecord(session, principal: principal, key: key, now: now)
    }

    func insertIdempotencyRecord(_ record: IdempotencyRecord) throws {
        try PostgresCoordinationStore.forgetIdempotencyRecords(session, now: now)
        try PostgresCoordinationStore.insertIdempotencyRecord(session, record, orIgnore: false)
    }

    func directoryResource(directory: String, kind: DirectoryResource.Kind, id: String) throws -> DirectoryResource? {
        try PostgresCoordinationStore.directoryResource(session, directory: directory, kind: kind, id: id)
    }

    func writeDirectoryResource(_ write: DirectoryResourceWrite) throws { try PostgresCoordinationStore.writeDirectoryResource(session, write) }

    func enqueue(_ messages: [OutboxMessage]) throws { try PostgresWebhookStore.insert(messages, session) }

    func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest) throws {
        try PostgresAuthStore.insertToken(record, tokenHash: tokenHash, createdAt: now, session)
    }

    func revokeToken(id: String) throws -> Bool { try PostgresAuthStore.revokeToken(id: id, now: now, session) }

    func revokeTokens(principal: String, keyFingerprint: String?) throws -> Int {
        try PostgresAuthStore.revokeTokens(principal: principal, keyFingerprint: keyFingerprint, now: now, session)
    }

    func putEvidence(_ document: EvidenceDocument) throws -> Bool { try PostgresEvidenceStore.put(document, session) }
}
