internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

extension SQLiteLedgerStore {
    // MARK: Reading

    public func size() async throws -> UInt64 {
        try await pool.read { db in try Self.size(db) }
    }

    static func size(_ db: Database) throws -> UInt64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(sequence) + 1 FROM ledger_entry")).map(UInt64.init) ?? 0
    }

    public func entry(at sequence: UInt64) async throws -> LedgerEntry {
        try await pool.read { db in
            guard let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT entry FROM ledger_entry WHERE sequence = ?"), arguments: [Int64(sequence)]) else {
                throw LedgerError(.invalidRequest, "no entry \(sequence) in the ledger")
            }
            return try LedgerEntry(decoding: [UInt8](data))
        }
    }

    public func entries(from start: UInt64, limit: Int) async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Data.fetchAll(db, sql: "SELECT entry FROM ledger_entry WHERE sequence >= ? ORDER BY sequence LIMIT ?", arguments: [Int64(start), limit])
                .map { try LedgerEntry(decoding: [UInt8]($0)) }
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

    static func latestCheckpoint(_ db: Database) throws -> SignedCheckpoint? {
        guard let note = try String.fetchOne(db.cachedStatement(sql: "SELECT note FROM checkpoint ORDER BY tree_size DESC LIMIT 1")) else { return nil }
        let parsed = try SignedNote(parsing: note)
        return try SignedCheckpoint(parsed: parsed)
    }

    static func digest(_ value: DatabaseValue) throws -> SHA256Digest {
        guard let data = Data.fromDatabaseValue(value) else { throw LedgerError(.storage, "a stored hash is not a blob") }
        do { return try SHA256Digest(bytes: [UInt8](data)) } catch { throw LedgerError(.storage, "a stored hash is not 32 bytes") }
    }
}
