internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

extension SQLiteLedgerStore {
    // MARK: Verification

    public func verifyAll(
        trustedKey: NoteVerifierKey, allowUncoveredTail: Bool = false, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> VerificationReport {
        try await pool.read { db in
            var scan = try SQLiteLedgerScan(db)
            return try FullVerification.run(
                &scan, trustedKey: trustedKey, storedKey: self.verifierKey, storedNodeMinimumLevel: Self.storedNodeMinimumLevel,
                milestoneInterval: self.configuration.checkpointPolicy.milestoneEvery, allowUncoveredTail: allowUncoveredTail, progress: progress)
        }
    }

    /// A `merkle_node` row as a node ID, refusing a row no complete subtree could have written.
    static func storedNode(_ row: Row) throws(LedgerVerificationFailure) -> StoredNode {
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

/// The SQLite tables as a ``LedgerScan``: each row's columns checked for their type, nothing else (``FullVerification``
/// judges the values).
struct SQLiteLedgerScan: LedgerScan {
    let db: Database
    let entries: RowCursor
    let nodes: RowCursor

    init(_ db: Database) throws {
        self.db = db
        entries = try Row.fetchCursor(db, sql: "SELECT sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash FROM ledger_entry ORDER BY sequence")
        nodes = try Row.fetchCursor(db, sql: "SELECT last_sequence, level, hash FROM merkle_node ORDER BY last_sequence, level")
    }

    func metadata() throws -> [(key: String, value: String)] {
        try Row.fetchAll(db, sql: "SELECT key, value FROM ledger_meta ORDER BY key").map {
            (String.fromDatabaseValue($0[0]) ?? "?", String.fromDatabaseValue($0[1]) ?? "?")
        }
    }

    func checkpoints() throws -> [(size: UInt64, note: String)] {
        try Row.fetchAll(db, sql: "SELECT tree_size, note FROM checkpoint ORDER BY tree_size").map { row in
            let size: Int64 = try row.checked(0, "checkpoint.tree_size")
            guard size >= 0 else { throw LedgerVerificationFailure(.checkpointMalformed, "a checkpoint row has the negative tree_size \(size)") }
            return (UInt64(bitPattern: size), try row.checked(1, "checkpoint.note at tree_size \(size)"))
        }
    }

    func entryCount() throws -> UInt64 { try SQLiteLedgerStore.size(db) }

    mutating func nextEntry() throws -> StoredEntry? {
        guard let row = try entries.next() else { return nil }
        let sequence: Int64 = try row.checked(0, "ledger_entry.sequence")
        func column(_ name: String) -> String { "ledger_entry row \(sequence): \(name)" }
        return StoredEntry(
            sequence: UInt64(bitPattern: sequence), timeMilliseconds: try row.checked(1, column("time_ms"), sequence: sequence),
            kind: try row.checked(2, column("kind"), sequence: sequence), actor: try row.checked(3, column("actor"), sequence: sequence),
            encoded: [UInt8](try row.checked(4, column("entry"), sequence: sequence) as Data),
            leafHash: [UInt8](try row.checked(5, column("leaf_hash"), sequence: sequence) as Data),
            chainHash: [UInt8](try row.checked(6, column("chain_hash"), sequence: sequence) as Data))
    }

    mutating func nextNode() throws -> StoredNode? {
        try nodes.next().map(SQLiteLedgerStore.storedNode)
    }
}
