internal import Foundation
internal import GRDB
internal import Synchronization
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

extension SQLiteLedgerStore {
    // MARK: Appending

    public func append(_ drafts: [EntryDraft]) async throws -> [LedgerEntry] {
        guard !drafts.isEmpty else { return [] }
        return try await pool.write { db in try SQLiteTransaction(db: db, ledger: self).append(drafts) }
    }

    public func onWriterThread(_ body: @escaping @Sendable (_ append: ([EntryDraft]) throws -> [LedgerEntry]) -> Void) {
        pool.asyncWriteWithoutTransaction { db in
            body { drafts in
                guard !drafts.isEmpty else { return [] }
                var appended: [LedgerEntry] = []
                // The same transaction as `append(_:)`'s (GRDB's `write`): rolled back when the append throws.
                try db.inTransaction {
                    appended = try SQLiteTransaction(db: db, ledger: self).append(drafts)
                    return .commit
                }
                return appended
            }
        }
    }

    /// Appends inside the caller's write transaction, so that other tables (the projection) change atomically
    /// with the ledger. Call at most once per transaction; `newest` is the newest entry as read in it (nil inside:
    /// none), or nil to read it here.
    func append(_ drafts: [EntryDraft], in db: Database, now: Int64, newest: (sequence: Int64, chain: [UInt8])??) throws -> [LedgerEntry] {
        guard !drafts.isEmpty else { return [] }
        var head = try self.currentHead(db, newest: newest)
        var appended: [LedgerEntry] = []
        appended.reserveCapacity(drafts.count)
        var entryRows: [(any DatabaseValueConvertible)?] = []
        entryRows.reserveCapacity(drafts.count * 7)
        var nodeRows: [(any DatabaseValueConvertible)?] = []
        for draft in drafts {
            let entry = configuration.writesRoundOneEntries
                ? try LedgerEntry.payloadHashed(sequence: head.frontier.size, timeMilliseconds: now, kind: draft.kind, actor: draft.actor, payload: draft.payload)
                : try LedgerEntry(
                    sequence: head.frontier.size, timeMilliseconds: now, kind: draft.kind, project: draft.project, environment: draft.environment,
                    actor: draft.actor, payload: draft.payload)
            let leaf = entry.leafHash
            head.chain = HashChain.next(previous: head.chain, leafHash: leaf)
            entryRows += [Int64(entry.sequence), entry.timeMilliseconds, entry.kind, entry.actor, Data(entry.encoded), Data(leaf.bytes), Data(head.chain.bytes)]
            for (id, hash) in head.frontier.append(leaf) where id.level >= Self.storedNodeMinimumLevel {
                nodeRows += [Int64(id.lastLeaf), id.level, Data(hash.bytes)]
            }
            appended.append(entry)
        }
        try Self.insertEntries.execute(db, values: entryRows)
        try Self.insertNodes.execute(db, values: nodeRows)
        // Remember the head only once the transaction has committed.
        let committed = head
        db.afterNextTransaction { _ in self.cachedHead.withLock { $0 = committed } } onRollback: { _ in
            self.cachedHead.withLock { $0 = nil }
        }
        return appended
    }

    /// A multi-row INSERT of up to ``maximumRowsPerInsert`` rows: one statement step per chunk, not per row.
    struct MultiRowInsert: Sendable {
        static let maximumRowsPerInsert = 64
        let columns: Int
        /// `sql[n - 1]` inserts `n` rows; built once.
        let sql: [String]

        init(table: String, columns: [String]) {
            self.columns = columns.count
            let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
            sql = (1...Self.maximumRowsPerInsert).map {
                "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " + Array(repeating: row, count: $0).joined(separator: ", ")
            }
        }

        func execute(_ db: Database, values: [(any DatabaseValueConvertible)?]) throws {
            let rowCount = values.count / columns
            guard rowCount > Self.maximumRowsPerInsert else {
                // One statement: the arguments are the array itself, not a slice of it.
                if rowCount > 0 { try db.cachedStatement(sql: sql[rowCount - 1]).execute(arguments: StatementArguments(values)) }
                return
            }
            var row = 0
            while row < rowCount {
                let n = min(Self.maximumRowsPerInsert, rowCount - row)
                try db.cachedStatement(sql: sql[n - 1]).execute(arguments: StatementArguments(values[(row * columns)..<((row + n) * columns)]))
                row += n
            }
        }
    }

    static let insertEntries = MultiRowInsert(
        table: "ledger_entry", columns: ["sequence", "time_ms", "kind", "actor", "entry", "leaf_hash", "chain_hash"])
    static let insertNodes = MultiRowInsert(table: "merkle_node", columns: ["last_sequence", "level", "hash"])
}
