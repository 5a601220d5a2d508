internal import Foundation
internal import PostgresNIO
public import SignoffCore
public import SignoffLedger
internal import SignoffCrypto
public import SignoffService

/// The projection in PostgreSQL (table `projection`: one JSON document per key), changed in the same transaction as
/// the ledger's appends. What it must hold is judged by ``ProjectionVerification``, as on SQLite.
public final class PostgresProjectionStore: ProjectionStore {
    let ledger: PostgresLedgerStore

    init(ledger: PostgresLedgerStore) { self.ledger = ledger }

    var database: PGDatabase { ledger.database }

    public func prepare() async throws {
        try await database.write { session in
            try self.upgradeIfNeeded(session)
            try Self.indexRequestEntriesIfNeeded(session)
        }
    }

    public func entries(ofRequest id: String) async throws -> [UInt64] {
        try await database.run { session in
            try session.query("SELECT sequence FROM request_entry WHERE request = $1 ORDER BY sequence", [.text(id)]).rows.map { UInt64(try $0.decode(Int64.self)) }
        }
    }

    private static func indexRequestEntriesIfNeeded(_ session: PGSession) throws {
        guard try session.scalar(String.self, "SELECT value FROM projection_meta WHERE key = 'request-entry-index'") == nil else { return }
        for (request, sequence) in try requestEntries(session) {
            try session.execute("INSERT INTO request_entry (request, sequence) VALUES ($1, $2) ON CONFLICT DO NOTHING", [.text(request), .int(sequence)])
        }
        try session.execute("INSERT INTO projection_meta (key, value) VALUES ('request-entry-index', '1') ON CONFLICT (key) DO NOTHING")
    }

    /// Every ledger row in order, a page at a time: (sequence, kind, entry bytes).
    static func forEachEntry(_ session: PGSession, _ body: (Int64, String, [UInt8]) throws -> Void) throws {
        var after: Int64 = -1
        while true {
            let rows = try session.query("SELECT sequence, kind, entry FROM ledger_entry WHERE sequence > $1 ORDER BY sequence LIMIT 2000", [.int(after)]).rows
            for row in rows {
                let (sequence, kind, entry) = try row.decode((Int64, String, ByteBuffer).self)
                try body(sequence, kind, Array(buffer: entry))
                after = sequence
            }
            if rows.count < 2000 { return }
        }
    }

    static func requestEntries(_ session: PGSession) throws -> [(request: String, sequence: Int64)] {
        var rows: [(request: String, sequence: Int64)] = []
        try forEachEntry(session) { sequence, kind, entry in
            if let request = ProjectionVerification.request(kind: kind, entry: entry) { rows.append((request, sequence)) }
        }
        return rows
    }

    static func replay(_ session: PGSession) throws -> ProjectionVerification.Replay {
        var replay = ProjectionVerification.Replay()
        try forEachEntry(session) { sequence, _, entry in try replay.apply(sequence: sequence, entry: entry) }
        return replay
    }

    public func headMarker() async throws -> [UInt8] {
        // Every read through the service's cache asks: one statement, no thread hop.
        let rows = try await database.query("SELECT sequence, chain_hash FROM ledger_entry ORDER BY sequence DESC LIMIT 1").rows
        return try PostgresTransaction.marker(rows.first.map { row in
            let (sequence, chain) = try row.decode((Int64, ByteBuffer).self)
            return (sequence, Array(buffer: chain))
        })
    }

    public func state() async throws -> SignoffState {
        try await database.read { session in
            try self.hasCurrentFormat(session)
                ? Self.state(fromDocuments: Self.documents(DocumentRead(directory: true, requests: .all), session)) : Self.replay(session).state
        }
    }

    public func read(requests: ReadSet.Requests, directoryUnlessVersion known: Int64?) async throws -> ProjectionRead {
        try await database.read { session in
            let marker = try PostgresTransaction.headMarker(session)
            // The format and the directory's version in one round trip: this read runs on every cache miss.
            var meta: [String: String] = [:]
            for row in try session.query("SELECT key, value FROM projection_meta WHERE key IN ('format', 'directory-version')").rows {
                let (key, value) = try row.decode((String, String).self)
                meta[key] = value
            }
            guard try ProjectionFormat(stored: meta["format"]).isCurrent() else {
                let all = try Self.replay(session).state.documents()
                return ProjectionRead(
                    marker: marker, directoryVersion: -2, directory: DocumentRead(directory: true, requests: .none).select(from: all),
                    requests: DocumentRead(directory: false, requests: requests).select(from: all))
            }
            let version = meta["directory-version"].flatMap { Int64($0) } ?? -1
            return ProjectionRead(
                marker: marker, directoryVersion: version,
                directory: known == version ? nil : try Self.documents(DocumentRead(directory: true, requests: .none), session),
                requests: try Self.documents(DocumentRead(directory: false, requests: requests), session))
        }
    }

    static func directoryVersion(_ session: PGSession) throws -> Int64 {
        try session.scalar(String.self, "SELECT value FROM projection_meta WHERE key = 'directory-version'").flatMap { Int64($0) } ?? -1
    }

    public func state(focusedOn request: String) async throws -> SignoffState {
        try await database.read { session in
            guard try self.hasCurrentFormat(session) else { return try Self.replay(session).state }
            return try Self.state(fromDocuments: Self.documents(DocumentRead(directory: true, requests: .some([request])), session))
        }
    }

    static func documents(_ read: DocumentRead, _ session: PGSession) throws -> [String: String] {
        var documents: [String: String] = [:]
        func add(_ sql: String, _ binds: [PGBind] = []) throws {
            for row in try session.query(sql, binds).rows {
                let (key, document) = try row.decode((String, String).self)
                documents[key] = document
            }
        }
        if read.directory { try add("SELECT key, document FROM projection WHERE key < 'request/' OR key >= 'request0'") }
        switch read.requests {
        case .none: break
        case .all: try add("SELECT key, document FROM projection WHERE key >= 'request/' AND key < 'request0'")
        case .some(let ids):
            guard !ids.isEmpty else { break }
            let keys = ids.sorted().map { "request/" + $0 }
            try add(
                "SELECT key, document FROM projection WHERE key IN (" + keys.indices.map { "$\($0 + 1)" }.joined(separator: ", ") + ")", keys.map(PGBind.text))
        }
        return documents
    }

    private static func state(fromDocuments documents: [String: String]) throws -> SignoffState {
        do {
            return try SignoffState(documents: documents)
        } catch {
            throw LedgerError(.storage, "the stored projection cannot be read (\(error)); run `signoff audit verify --db`")
        }
    }

    public func verifyProjection() async throws -> LedgerVerificationFailure? {
        try await database.read { session in
            let replay: ProjectionVerification.Replay
            do { replay = try Self.replay(session) } catch let failure as LedgerVerificationFailure { return failure }
            guard try self.hasCurrentFormat(session) else {
                return LedgerVerificationFailure(
                    .projectionMismatch,
                    "the projection is not of format \(SignoffState.projectionFormat) (projection_meta); Signoff rebuilds it from the ledger at the next write, e.g. `signoff serve`")
            }
            var stored: [String: String] = [:]
            for row in try session.query("SELECT key, document FROM projection ORDER BY key").rows {
                let (key, document) = try row.decode((String, String).self)
                stored[key] = document
            }
            if let failure = ProjectionVerification.documents(expected: replay.state.documents(), stored: stored) { return failure }
            let used = try session.query("SELECT digest, until_ms FROM used_statement ORDER BY digest").rows.map { row in
                let (digest, until) = try row.decode((ByteBuffer, Int64).self)
                return ProjectionVerification.UsedStatementRow(
                    digest: Array(buffer: digest), until: until, shown: "(\(Hex.encode(Array(buffer: digest))), \(until))")
            }
            let newest = try PostgresLedgerStore.newestEntry(session)?.time ?? 0
            if let failure = ProjectionVerification.usedStatements(used, uses: replay.statementUses, newestTime: newest) { return failure }
            let meta = try session.query("SELECT key, value FROM projection_meta ORDER BY key").rows.map { row in
                let (key, value) = try row.decode((String, String).self)
                return "\(key)=\(value)"
            }
            let index = try session.query("SELECT request, sequence FROM request_entry ORDER BY sequence, request").rows.map { row in
                let (request, sequence) = try row.decode((String, Int64).self)
                return ProjectionVerification.IndexRow(request: request, sequence: sequence, shown: "(\(request), \(sequence))")
            }
            return ProjectionVerification.indexes(
                meta: meta, directoryVersion: replay.directoryVersion, index: index, requestEntries: try Self.requestEntries(session))
        }
    }

    // MARK: Projection format

    /// Whether the stored projection is of the current format; throws for a later version's (``ProjectionFormat``). Read
    /// in every transaction: another instance — a later Signoff's during an upgrade — may have rebuilt it meanwhile.
    private func hasCurrentFormat(_ session: PGSession) throws -> Bool {
        try ProjectionFormat(stored: session.scalar(String.self, "SELECT value FROM projection_meta WHERE key = 'format'")).isCurrent()
    }

    /// Inside a write transaction: a projection of another format (or none yet) is rebuilt from the ledger first.
    func upgradeIfNeeded(_ session: PGSession) throws {
        guard try !hasCurrentFormat(session) else { return }
        let replay = try Self.replay(session)
        try session.execute("DELETE FROM projection")
        try session.execute("DELETE FROM projection_meta WHERE key = 'directory-version'")
        if replay.directoryVersion >= 0 {
            try session.execute("INSERT INTO projection_meta (key, value) VALUES ('directory-version', $1)", [.text(String(replay.directoryVersion))])
        }
        try session.execute("DELETE FROM used_statement")
        let newest = try PostgresLedgerStore.newestEntry(session)?.time ?? 0
        for (digest, until) in replay.usedStatementsToKeep(newestTime: newest) {
            try session.execute("INSERT INTO used_statement (digest, until_ms) VALUES ($1, $2)", [.bytes(digest.bytes), .int(until)])
        }
        for (key, document) in replay.state.documents().sorted(by: { $0.key < $1.key }) {
            try session.execute("INSERT INTO projection (key, document) VALUES ($1, $2)", [.text(key), .text(document)])
        }
        try session.execute(
            "INSERT INTO projection_meta (key, value) VALUES ('format', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [.text(SignoffState.projectionFormat)])
        try Self.indexRequestEntriesIfNeeded(session)
        // Not cached as current here: the transaction may still roll back; the next read sees the committed format.
    }
}
