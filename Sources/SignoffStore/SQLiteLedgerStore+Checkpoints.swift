internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

extension SQLiteLedgerStore {
    public func checkpointSizes() async throws -> [UInt64] {
        try await pool.read { db in try Int64.fetchAll(db, sql: "SELECT tree_size FROM checkpoint ORDER BY tree_size").map { UInt64($0) } }
    }

    public func storeCheckpoints(_ checkpoints: [SignedCheckpoint], milestoneEvery: UInt64) async throws {
        // Each verifies under the ledger key before anything is written: a store keeps only this ledger's signatures.
        let verified = try checkpoints.map { try SignedCheckpoint(verifying: $0.serialized, with: verifierKey) }
        let every = Int64(max(1, milestoneEvery))
        try await pool.write { db in
            let size = try Self.size(db)
            let builder = MerkleProofBuilder(reader: SQLiteNodeReader(db: db))
            var newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(tree_size) FROM checkpoint")) ?? -1
            for signed in verified.sorted(by: { $0.checkpoint.size < $1.checkpoint.size }) {
                let treeSize = signed.checkpoint.size
                guard treeSize > 0, treeSize <= size, try builder.rootHash(size: treeSize) == signed.checkpoint.rootHash else {
                    throw LedgerError(.inconsistent, "a checkpoint of size \(treeSize) does not hold the stored tree's root: not stored")
                }
                let isMilestone = Int64(treeSize) % every == 0
                guard isMilestone || Int64(treeSize) > newest else { continue }
                try db.execute(
                    sql: "INSERT INTO checkpoint (tree_size, note) VALUES (?, ?) ON CONFLICT (tree_size) DO NOTHING",
                    arguments: [Int64(treeSize), signed.serialized])
                newest = max(newest, Int64(treeSize))
            }
            // Every checkpoint below the newest that is not a milestone, in one statement.
            try db.execute(sql: "DELETE FROM checkpoint WHERE tree_size < ? AND (tree_size % ? != 0 OR tree_size = 0)", arguments: [newest, every])
        }
    }

    public func addCosignatures(_ lines: [SignedNote.Signature], size: UInt64) async throws -> Bool {
        try await pool.write { db in
            guard let stored = try String.fetchOne(db, sql: "SELECT note FROM checkpoint WHERE tree_size = ?", arguments: [Int64(size)]) else { return false }
            let cosigned = try SignedNote(parsing: stored).adding(lines).serialized
            if cosigned != stored { try db.execute(sql: "UPDATE checkpoint SET note = ? WHERE tree_size = ?", arguments: [cosigned, Int64(size)]) }
            return true
        }
    }

    public func subtreeHashes(level: Int, from index: UInt64, count: Int) async throws -> [SHA256Digest] {
        try await pool.read { db in
            let reader = SQLiteNodeReader(db: db)
            return try (0..<UInt64(max(0, count))).map { try reader.hash(of: MerkleNodeID(level: level, index: index + $0)) }
        }
    }

    /// The newest state, read inside the write transaction so that several processes sharing the file never fork.
    struct Head: Sendable {
        var frontier: MerkleFrontier
        var chain: SHA256Digest
    }

    /// The ledger's head in `db`: the cached one when it is of the newest entry (`newest`, its sequence and chain hash,
    /// as the caller read them in this transaction; read here when not given), else read from the stored nodes.
    func currentHead(_ db: Database, newest given: (sequence: Int64, chain: [UInt8])?? = nil) throws -> Head {
        let newest: (sequence: Int64, chain: [UInt8])?
        if let given { newest = given } else { newest = try Self.newestEntry(db).map { ($0.sequence, $0.chain) } }
        guard let newest else { return Head(frontier: MerkleFrontier(), chain: HashChain.genesis) }
        if let cached = cachedHead.withLock({ $0 }), cached.frontier.size == UInt64(newest.sequence) + 1, cached.chain.bytes == newest.chain {
            return cached
        }
        return try Self.head(db)
    }

    /// The newest entry's sequence number, chain hash and time: one indexed read (a cached statement).
    static func newestEntry(_ db: Database) throws -> (sequence: Int64, chain: [UInt8], time: Int64)? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT sequence, chain_hash, time_ms FROM ledger_entry ORDER BY sequence DESC LIMIT 1")) else {
            return nil
        }
        // Decoded with errors, never the trapping subscript: a value of the wrong type in an edited file is a thrown
        // error, not a crash of the process that writes.
        return (try row.decode(Int64.self, atIndex: 0), [UInt8](try row.decode(Data.self, atIndex: 1)), try row.decode(Int64.self, atIndex: 2))
    }

    static func head(_ db: Database) throws -> Head {
        guard let newest = try newestEntry(db) else { return Head(frontier: MerkleFrontier(), chain: HashChain.genesis) }
        let size = UInt64(newest.sequence) + 1
        let reader = SQLiteNodeReader(db: db)
        let hashes = try MerkleFrontier.nodeIDs(forSize: size).map { try reader.hash(of: $0) }
        return Head(frontier: try MerkleFrontier(size: size, hashes: hashes), chain: try digest(Data(newest.chain).databaseValue))
    }
}
