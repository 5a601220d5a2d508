internal import Foundation
internal import GRDB
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

/// A witness's state (`signoff witness serve`): for each log it follows, the latest checkpoint it cosigned, in an
/// SQLite file of its own. The size moves only by compare-and-set (C2SP tlog-witness: checking the old size and
/// storing the new checkpoint are one atomic step, or two concurrent requests could roll the log back).
public final class SQLiteWitnessStore: WitnessStore {
    let queue: DatabaseQueue

    /// Opens (creating when missing) the witness database at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS witness_checkpoint (
                        origin TEXT PRIMARY KEY NOT NULL,
                        size INTEGER NOT NULL CHECK (size >= 0),
                        root BLOB NOT NULL CHECK (length(root) = 32),
                        note TEXT NOT NULL,
                        cosigned_ms INTEGER NOT NULL
                    ) STRICT
                    """)
        }
    }

    public func latest(origin: String) async throws -> Witness.Latest? {
        try await queue.read { db in
            try Row.fetchOne(db, sql: "SELECT size, root FROM witness_checkpoint WHERE origin = ?", arguments: [origin]).map { row in
                let root: Data = row[1]
                return Witness.Latest(size: UInt64(row[0] as Int64), rootHash: try SHA256Digest(bytes: [UInt8](root)))
            }
        }
    }

    public func advance(from oldSize: UInt64, to checkpoint: Checkpoint, note: String, at milliseconds: Int64) async throws -> Bool {
        // One IMMEDIATE transaction (the queue runs one at a time; SQLite's write lock, taken at its start, keeps other
        // processes out): the read of the size and the write are atomic.
        try await queue.writeWithoutTransaction { db in
            var moved = false
            try db.inTransaction(.immediate) {
                moved = try Self.compareAndSet(db, from: oldSize, to: checkpoint, note: note, at: milliseconds)
                return .commit
            }
            return moved
        }
    }

    static func compareAndSet(_ db: Database, from oldSize: UInt64, to checkpoint: Checkpoint, note: String, at milliseconds: Int64) throws -> Bool {
        guard let old = Int64(exactly: oldSize), let size = Int64(exactly: checkpoint.size) else {
            throw LedgerError(.invalidRequest, "a tree size must be below 2^63")
        }
        let stored = try Int64.fetchOne(db, sql: "SELECT size FROM witness_checkpoint WHERE origin = ?", arguments: [checkpoint.origin]) ?? 0
        guard stored == old else { return false }
        try db.execute(
            sql: """
                INSERT INTO witness_checkpoint (origin, size, root, note, cosigned_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note,
                    cosigned_ms = excluded.cosigned_ms
                """,
            arguments: [checkpoint.origin, size, Data(checkpoint.rootHash.bytes), note, milliseconds])
        return true
    }
}
