internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

extension SQLiteLedgerStore {
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
    struct Head: Sendable {
        var frontier: MerkleFrontier
        var chain: SHA256Digest
    }

    func currentHead(_ db: Database) throws -> Head {
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

    static func head(_ db: Database) throws -> Head {
        guard let row = try Row.fetchOne(db, sql: "SELECT sequence, chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1") else {
            return Head(frontier: MerkleFrontier(), chain: HashChain.genesis)
        }
        let size = UInt64(row[0] as Int64) + 1
        let reader = SQLiteNodeReader(db: db)
        let hashes = try MerkleFrontier.nodeIDs(forSize: size).map { try reader.hash(of: $0) }
        return Head(frontier: try MerkleFrontier(size: size, hashes: hashes), chain: try digest(row[1]))
    }

    /// Persists what ``CheckpointPolicy`` decides: whether a checkpoint is due (always when `force`), the checkpoint
    /// itself (proven consistent with the last one), the milestones it passes, and the removal of checkpoints the
    /// policy no longer keeps.
    func checkpointIfDue(_ db: Database, head: Head, now: Int64, force: Bool) throws {
        guard let signingKey else { return }
        let policy = configuration.checkpointPolicy
        let size = head.frontier.size
        let last = try Self.latestCheckpoint(db)?.checkpoint
        if let last, last.size >= size {
            // Nothing new to sign. Asked to sign anyway, bring a ledger from before milestones to the kept set.
            if force { try keepMilestones(db, below: last.size, signingKey: signingKey, fillingGaps: true) }
            return
        }
        let due = try force || policy.isDue(size: size, lastSigned: last?.size, now: now) {
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT time_ms FROM ledger_entry WHERE sequence = ?"), arguments: [Int64(last?.size ?? 0)])
        }
        guard due else { return }
        let checkpoint = try CheckpointPolicy.nextCheckpoint(
            origin: origin, size: size, root: head.frontier.rootHash, extending: last, nodes: SQLiteNodeReader(db: db))
        try insert(try SignedCheckpoint(signing: checkpoint, with: signingKey), db)
        try keepMilestones(db, below: size, signingKey: signingKey, fillingGaps: force)
    }

    private func insert(_ signed: SignedCheckpoint, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO checkpoint (tree_size, note) VALUES (?, ?)", arguments: [Int64(signed.checkpoint.size), signed.serialized])
    }

    /// Below the newest checkpoint (at `size`), keeps exactly the milestones the policy keeps: signs the missing ones —
    /// the root of an earlier size comes from the same stored tree — and deletes every other checkpoint. Appends sign
    /// only the milestones passed since the last one; `fillingGaps` (asked-for signing) also fills any gap below it,
    /// as in a ledger written before milestones.
    private func keepMilestones(_ db: Database, below size: UInt64, signingKey: Ed25519.SigningKey, fillingGaps: Bool) throws {
        let policy = configuration.checkpointPolicy
        let every = Int64(policy.milestoneEvery)
        let missing: [UInt64]
        if fillingGaps {
            let existing = Set(try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT tree_size FROM checkpoint WHERE tree_size % ? = 0 AND tree_size > 0 AND tree_size < ?"),
                arguments: [every, Int64(size)]).map { UInt64($0) })
            missing = policy.allMilestones(below: size).filter { !existing.contains($0) }
        } else {
            let last = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT MAX(tree_size) FROM checkpoint WHERE tree_size % ? = 0 AND tree_size > 0 AND tree_size < ?"),
                arguments: [every, Int64(size)]) ?? 0
            missing = policy.milestones(below: size, after: UInt64(last))
        }
        let builder = MerkleProofBuilder(reader: SQLiteNodeReader(db: db))
        for milestone in missing {
            try insert(try SignedCheckpoint(signing: Checkpoint(origin: origin, size: milestone, rootHash: try builder.rootHash(size: milestone)), with: signingKey), db)
        }
        // Every checkpoint below the newest that the policy does not keep (its `keeps(treeSize:newest:)`), in one statement.
        try db.execute(sql: "DELETE FROM checkpoint WHERE tree_size < ? AND (tree_size % ? != 0 OR tree_size = 0)", arguments: [Int64(size), every])
    }
}
