internal import Foundation
internal import GRDB
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

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
