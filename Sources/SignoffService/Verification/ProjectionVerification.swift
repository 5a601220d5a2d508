public import SignoffCore
public import SignoffCrypto
public import SignoffLedger

/// What the projection and its indexes must be, judged from rows a backend reads: the same for every backend (SQLite,
/// PostgreSQL), which only reads its tables and hands the rows here. A row is given as read, with the text a failure
/// shows of it, so that a value of the wrong type (a tampered database) is judged too, not trusted.
public enum ProjectionVerification {
    /// What replaying the ledger gives.
    public struct Replay: Sendable {
        public var state = SignoffState()
        /// When each signed statement was used: the time of the entry that used it.
        public var statementUses: [SHA256Digest: Int64] = [:]
        /// The sequence number of the newest entry whose event changed a directory document, -1 before any.
        public var directoryVersion: Int64 = -1

        public init() {}

        /// Folds one ledger row (its sequence and stored bytes, nil when of the wrong type); a failure names the entry.
        public mutating func apply(sequence stored: Int64?, entry bytes: [UInt8]?) throws {
            guard let stored, let bytes else {
                throw LedgerVerificationFailure(.entryMalformed, "a ledger_entry row holds a value of the wrong type")
            }
            let sequence = UInt64(bitPattern: stored)
            let entry: LedgerEntry
            do { entry = try LedgerEntry(decoding: bytes) } catch {
                throw LedgerVerificationFailure(.entryMalformed, sequence: sequence, "entry \(sequence) cannot be decoded")
            }
            let event: Event?
            do { event = try Event.decode(kind: entry.kind, payload: entry.payload) } catch {
                throw LedgerVerificationFailure(.projectionMismatch, sequence: sequence, "entry \(sequence) (\(entry.kind)) holds an event that cannot be read")
            }
            guard let event else { return }
            state.apply(event, actor: entry.actor, at: entry.timeMilliseconds)
            for digest in event.statementDigests { statementUses[digest] = entry.timeMilliseconds }
            if SignoffState.changesDirectory(event) { directoryVersion = Int64(sequence) }
            // The header names the request's project and environment (what an export's filter reads of an entry it does
            // not disclose); a round-1 entry (version 1) has no header to check.
            let scope = state.entryScope(of: event)
            if entry.version == LedgerEntry.formatVersion, (entry.project, entry.environment) != (scope.project, scope.environment) {
                throw LedgerVerificationFailure(
                    .projectionMismatch, sequence: sequence,
                    "entry \(sequence): its header names project \(entry.project.debugDescription) environment \(entry.environment.debugDescription), its event \(scope.project.debugDescription) \(scope.environment.debugDescription)")
            }
        }

        /// The used statements a projection built now must hold: those that could still be fresh at the newest entry's
        /// time, each until it no longer could (``DecisionStatement/replayWindowMilliseconds``).
        public func usedStatementsToKeep(newestTime: Int64) -> [(digest: SHA256Digest, until: Int64)] {
            statementUses.filter { $0.value + DecisionStatement.replayWindowMilliseconds >= newestTime }
                .map { ($0.key, $0.value + DecisionStatement.replayWindowMilliseconds) }
                .sorted { $0.digest.bytes.lexicographicallyPrecedes($1.digest.bytes) }
        }
    }

    /// The request an entry is about, when its event is of a request's life (what `request_entry` indexes).
    public static func request(kind: String?, entry bytes: [UInt8]?) -> String? {
        guard let kind, Event.requestKinds.contains(kind), let bytes, let entry = try? LedgerEntry(decoding: bytes),
            let request = (try? Event.decode(kind: entry.kind, payload: entry.payload))??.request
        else { return nil }
        return request
    }

    /// The stored documents against the replay's, key by key.
    public static func documents(expected: [String: String], stored: [String: String]) -> LedgerVerificationFailure? {
        for key in Set(expected.keys).union(stored.keys).sorted() where expected[key] != stored[key] {
            let what = stored[key] == nil ? "is missing" : expected[key] == nil ? "should not exist" : "differs from the ledger's replay"
            return LedgerVerificationFailure(.projectionMismatch, "projection document \(key) \(what)")
        }
        return nil
    }

    /// A row of the request pages' index as read: its values (nil when of the wrong type) and how to show it.
    public struct IndexRow: Sendable {
        public let request: String?
        public let sequence: Int64?
        public let shown: String

        public init(request: String?, sequence: Int64?, shown: String) {
            self.request = request
            self.sequence = sequence
            self.shown = shown
        }
    }

    /// The request pages' index and the projection's own metadata, against the ledger: `request_entry` holds exactly
    /// the entries of each request's life (a row deleted by hand would hide an entry from its request page and
    /// timeline), and `projection_meta` exactly its rows with their values. `meta` is `key=value` per row, by key.
    public static func indexes(
        meta: [String], directoryVersion: Int64, index rows: [IndexRow], requestEntries: [(request: String, sequence: Int64)]
    ) -> LedgerVerificationFailure? {
        let expectedMeta = (directoryVersion >= 0 ? ["directory-version=\(directoryVersion)"] : [])
            + ["format=\(SignoffState.projectionFormat)", "request-entry-index=1"]
        guard meta == expectedMeta else {
            return LedgerVerificationFailure(
                .projectionMismatch, "projection_meta holds \(meta.joined(separator: ", ").prefix(200)), not \(expectedMeta.joined(separator: ", ")): it was altered")
        }
        struct Indexed: Hashable { let request: String; let sequence: Int64 }
        var expected = Set(requestEntries.map { Indexed(request: $0.request, sequence: $0.sequence) })
        for row in rows {
            guard let request = row.request, let sequence = row.sequence, expected.remove(Indexed(request: request, sequence: sequence)) != nil else {
                return LedgerVerificationFailure(.projectionMismatch, "request_entry holds a row \(row.shown) that is not an entry of that request's life")
            }
        }
        if let missing = expected.min(by: { $0.sequence < $1.sequence }) {
            return LedgerVerificationFailure(
                .projectionMismatch,
                "request_entry lacks entry \(missing.sequence) of \(missing.request): its request page and timeline would not show it")
        }
        return nil
    }

    /// A row of `used_statement` as read.
    public struct UsedStatementRow: Sendable {
        public let digest: [UInt8]?
        public let until: Int64?
        public let shown: String

        public init(digest: [UInt8]?, until: Int64?, shown: String) {
            self.digest = digest
            self.until = until
            self.shown = shown
        }
    }

    /// `used_statement` against the ledger: every row is a statement an entry used, kept exactly until that entry's
    /// time plus the replay window; every statement still within its window at the newest entry is there (a row
    /// deleted by hand would let the statement be used again).
    public static func usedStatements(_ rows: [UsedStatementRow], uses: [SHA256Digest: Int64], newestTime: Int64) -> LedgerVerificationFailure? {
        let window = DecisionStatement.replayWindowMilliseconds
        var present = Set<SHA256Digest>()
        for row in rows {
            guard let bytes = row.digest, let digest = try? SHA256Digest(bytes: bytes), let until = row.until, let time = uses[digest], until == time + window else {
                return LedgerVerificationFailure(.projectionMismatch, "used_statement holds a row \(row.shown) that no ledger entry's statement explains")
            }
            present.insert(digest)
        }
        if let missing = uses.filter({ $0.value + window >= newestTime && !present.contains($0.key) }).min(by: { $0.value < $1.value }) {
            return LedgerVerificationFailure(
                .projectionMismatch, "used_statement lacks \(missing.key), used at \(Timestamps.rfc3339(missing.value)): the statement could be used again")
        }
        return nil
    }
}
