public import SignoffLedger

/// A value of a row as both backends store it.
public enum SQLValue: Sendable, Hashable {
    case int(Int64)
    case text(String)
    case bytes([UInt8])
    case null
}

/// A table every backend has, with the same name and columns (`schema/sqlite/`, `schema/postgres/`), and the columns
/// that order its rows and page through them (none: read whole).
public struct CopiedTable: Sendable, Hashable {
    public let name: String
    public let columns: [String]
    public let key: [String]

    /// Every table `signoff migrate` copies, in an order that needs nothing later. Not copied: `lease` (the instances
    /// of the old database hold none in the new one) and the schema's own bookkeeping.
    public static let all: [CopiedTable] = [
        CopiedTable(name: "ledger_meta", columns: ["key", "value"], key: ["key"]),
        CopiedTable(name: "ledger_entry", columns: ["sequence", "time_ms", "kind", "actor", "entry", "leaf_hash", "chain_hash"], key: ["sequence"]),
        CopiedTable(name: "merkle_node", columns: ["last_sequence", "level", "hash"], key: ["last_sequence", "level"]),
        CopiedTable(name: "checkpoint", columns: ["tree_size", "note"], key: ["tree_size"]),
        CopiedTable(name: "projection", columns: ["key", "document"], key: ["key"]),
        CopiedTable(name: "projection_meta", columns: ["key", "value"], key: ["key"]),
        CopiedTable(name: "request_entry", columns: ["request", "sequence"], key: ["request", "sequence"]),
        CopiedTable(name: "used_statement", columns: ["digest", "until_ms"], key: ["digest"]),
        CopiedTable(name: "auth_challenge", columns: ["nonce_hash", "principal", "expires_ms", "used_ms"], key: ["nonce_hash"]),
        CopiedTable(
            name: "api_token", columns: ["token_hash", "token_id", "principal", "kind", "scopes", "created_ms", "expires_ms", "revoked_ms", "key_fingerprint"],
            key: ["token_hash"]),
        CopiedTable(
            name: "webhook_message",
            columns: ["id", "subscription", "type", "notification", "created_ms", "status", "attempts", "next_attempt_ms", "last_status", "last_error", "delivered_ms"],
            key: ["id"]),
        CopiedTable(name: "webhook_attempt", columns: ["message", "at_ms", "status_code", "error", "duration_ms"], key: []),
        CopiedTable(name: "webhook_endpoint", columns: ["subscription", "disabled_ms", "reason"], key: ["subscription"]),
        CopiedTable(name: "notification_sent", columns: ["key", "at_ms"], key: ["key"]),
        CopiedTable(name: "evidence_document", columns: ["project", "digest", "media_type", "content", "uploaded_by", "uploaded_ms"], key: ["project", "digest"]),
        CopiedTable(name: "verification_run", columns: ["id", "started_ms", "finished_ms", "entries", "checkpoints", "failure"], key: ["id"]),
        CopiedTable(
            name: "idempotency_key", columns: ["principal", "key", "fingerprint", "created_ms", "status", "media_type", "body"], key: ["principal", "key"]),
        CopiedTable(name: "sso_login", columns: ["state_hash", "issuer", "expires_ms", "used_ms"], key: ["state_hash"]),
        CopiedTable(name: "jwks_cache", columns: ["issuer", "jwks", "fetched_ms"], key: ["issuer"]),
        CopiedTable(
            name: "directory_resource", columns: ["directory", "type", "id", "attributes", "created_ms", "modified_ms", "version"],
            key: ["directory", "type", "id"]),
        CopiedTable(name: "chat_handle", columns: ["principal", "slack", "teams", "modified_ms", "modified_by"], key: ["principal"]),
    ]
}

/// Raw rows of the copied tables, for `signoff migrate` (``StorageMigration``): what a backend reads and writes of them,
/// nothing it decides.
public protocol TableCopying: Sendable {
    /// Whether the database holds no ledger yet (an empty `ledger_meta`): the only kind a copy goes into.
    func holdsNoLedger() async throws -> Bool
    /// Up to `limit` rows of `table` in its key's order, after the row whose key is `after` (nil: from the first).
    func rows(of table: CopiedTable, after: [SQLValue]?, limit: Int) async throws -> [[SQLValue]]
    /// Inserts rows into `table`, in one transaction.
    func insert(_ rows: [[SQLValue]], into table: CopiedTable) async throws
}

/// `signoff migrate`: copies one database's ledger with its projection, auth tables, outbox and evidence into an empty
/// database of either backend, then checks the copy entry by entry and root by root, and verifies it as `audit verify
/// --db` does.
public enum StorageMigration {
    public struct Report: Sendable {
        public var rows: [String: Int] = [:]
        public var entries: UInt64 = 0
        public var rootsCompared = 0
        public var rootHash = Merkle.emptyRoot
    }

    public static let page = 1_000

    /// Copies every table's rows; then open both as storage and ``check(source:target:report:)``.
    public static func copy(
        from source: any TableCopying, to target: any TableCopying, progress: (@Sendable (String, Int) -> Void)? = nil
    ) async throws -> Report {
        guard try await !source.holdsNoLedger() else { throw LedgerError(.invalidRequest, "the source holds no ledger: nothing to copy") }
        guard try await target.holdsNoLedger() else {
            throw LedgerError(.invalidRequest, "the target already holds a ledger: a copy goes only into an empty database (nothing was changed)")
        }
        var report = Report()
        for table in CopiedTable.all {
            var after: [SQLValue]? = nil
            var count = 0
            while true {
                let rows = try await source.rows(of: table, after: after, limit: table.key.isEmpty ? Int.max : page)
                if rows.isEmpty { break }
                try await target.insert(rows, into: table)
                count += rows.count
                progress?(table.name, count)
                guard !table.key.isEmpty, rows.count == page, let last = rows.last else { break }
                after = table.key.map { last[table.columns.firstIndex(of: $0)!] }
            }
            report.rows[table.name] = count
        }
        return report
    }

    /// The copy against its source: every entry's bytes, the root at every stored checkpoint's size and at the whole
    /// size, then the copy's full verification under the source's key and its projection's replay.
    public static func check(source: SignoffStorage, target: SignoffStorage, report: inout Report) async throws {
        let size = try await source.ledger.size()
        guard try await target.ledger.size() == size else { throw LedgerError(.inconsistent, "the copy has \(try await target.ledger.size()) entries, the source \(size)") }
        var next: UInt64 = 0
        while next < size {
            let a = try await source.ledger.entries(from: next, limit: page)
            let b = try await target.ledger.entries(from: next, limit: page)
            guard a == b, !a.isEmpty else { throw LedgerError(.inconsistent, "the copy's entries from \(next) differ from the source's") }
            next += UInt64(a.count)
        }
        report.entries = size
        for treeSize in try await source.ledger.checkpointSizes() + (size > 0 ? [size] : []) {
            guard try await source.ledger.rootHash(size: treeSize) == target.ledger.rootHash(size: treeSize) else {
                throw LedgerError(.inconsistent, "the copy's root at size \(treeSize) differs from the source's")
            }
            report.rootsCompared += 1
        }
        report.rootHash = size > 0 ? try await target.ledger.rootHash(size: size) : Merkle.emptyRoot
        let verified = try await target.ledger.verifyAll(trustedKey: source.ledger.verifierKey, allowUncoveredTail: true, progress: nil)
        if let failure = verified.failure { throw LedgerError(.inconsistent, "the copy does not verify: \(failure)") }
        if let failure = try await target.projection.verifyProjection() { throw LedgerError(.inconsistent, "the copy's projection does not verify: \(failure)") }
    }
}
