internal import Foundation
internal import GRDB
public import SignoffCrypto
public import SignoffService
public import SignoffCore

/// Leases and the newest full verification in the ledger's SQLite file (tables `lease`, `verification_run`).
public struct SQLiteCoordinationStore: CoordinationStore {
    let ledger: SQLiteLedgerStore

    public func acquireLease(_ name: String, holder: String, now: Int64, until: Int64) async throws -> Bool {
        try await ledger.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO lease (name, holder, expires_ms) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                    WHERE lease.holder = excluded.holder OR lease.expires_ms < ?
                    """, arguments: [name, holder, until, now])
            return db.changesCount == 1
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await ledger.pool.write { db in try db.execute(sql: "DELETE FROM lease WHERE name = ? AND holder = ?", arguments: [name, holder]) }
    }

    public func recordVerification(_ run: LedgerVerificationRun) async throws {
        try await ledger.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO verification_run (id, started_ms, finished_ms, entries, checkpoints, failure) VALUES (1, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET started_ms = excluded.started_ms, finished_ms = excluded.finished_ms, entries = excluded.entries,
                      checkpoints = excluded.checkpoints, failure = excluded.failure
                    WHERE verification_run.finished_ms <= excluded.finished_ms
                    """, arguments: [run.startedAt, run.finishedAt, Int64(run.entries), run.checkpoints, run.failure])
        }
    }

    public func latestVerification() async throws -> LedgerVerificationRun? {
        try await ledger.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT started_ms, finished_ms, entries, checkpoints, failure FROM verification_run WHERE id = 1").map {
                LedgerVerificationRun(startedAt: $0[0], finishedAt: $0[1], entries: UInt64(max(0, $0[2] as Int64)), checkpoints: $0[3], failure: $0[4])
            }
        }
    }

    public func recordRateEvent(_ key: String, at: Int64, forgetBefore: Int64) async throws {
        try await ledger.pool.write { db in
            try db.execute(sql: "DELETE FROM rate_event WHERE at_ms < ?", arguments: [forgetBefore])
            try db.execute(sql: "INSERT INTO rate_event (key, at_ms) VALUES (?, ?)", arguments: [key, at])
        }
    }

    public func rateEvents(_ key: String, since: Int64) async throws -> (count: Int, oldest: Int64?) {
        try await ledger.pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), MIN(at_ms) FROM rate_event WHERE key = ? AND at_ms >= ?", arguments: [key, since])
            return (row?[0] ?? 0, row?[1])
        }
    }

    public func insertLogin(stateHash: SHA256Digest, issuer: String, expiresAt: Int64, forgetBefore: Int64) async throws {
        try await ledger.pool.write { db in
            try db.execute(sql: "DELETE FROM sso_login WHERE expires_ms < ?", arguments: [forgetBefore])
            try db.execute(sql: "INSERT INTO sso_login (state_hash, issuer, expires_ms) VALUES (?, ?, ?)", arguments: [Data(stateHash.bytes), issuer, expiresAt])
        }
    }

    public func consumeLogin(stateHash: SHA256Digest, now: Int64) async throws -> String? {
        try await ledger.pool.write { db in
            try String.fetchOne(
                db, sql: "UPDATE sso_login SET used_ms = ? WHERE state_hash = ? AND used_ms IS NULL AND expires_ms >= ? RETURNING issuer",
                arguments: [now, Data(stateHash.bytes), now])
        }
    }

    public func cachedKeySet(issuer: String) async throws -> (jwks: String, fetchedAt: Int64)? {
        try await ledger.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT jwks, fetched_ms FROM jwks_cache WHERE issuer = ?", arguments: [issuer]).map { ($0[0], $0[1]) }
        }
    }

    public func storeKeySet(issuer: String, jwks: String, fetchedAt: Int64) async throws {
        try await ledger.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO jwks_cache (issuer, jwks, fetched_ms) VALUES (?, ?, ?)
                    ON CONFLICT (issuer) DO UPDATE SET jwks = excluded.jwks, fetched_ms = excluded.fetched_ms WHERE jwks_cache.fetched_ms <= excluded.fetched_ms
                    """, arguments: [issuer, jwks, fetchedAt])
        }
    }

    public func directoryResources(directory: String, kind: DirectoryResource.Kind) async throws -> [DirectoryResource] {
        try await ledger.pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, attributes, created_ms, modified_ms, version FROM directory_resource WHERE directory = ? AND type = ? ORDER BY id",
                arguments: [directory, kind.rawValue]
            ).map { DirectoryResource(directory: directory, kind: kind, id: $0[0], attributes: $0[1], createdAt: $0[2], modifiedAt: $0[3], version: $0[4]) }
        }
    }

    public func chatHandles() async throws -> [String: ChatHandles] {
        try await ledger.pool.read { db in
            var out: [String: ChatHandles] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT principal, slack, teams FROM chat_handle") {
                out[row[0]] = ChatHandles(slack: row[1], teams: row[2])
            }
            return out
        }
    }

    public func setChatHandles(_ handles: ChatHandles, of principal: String, by actor: String, at: Int64) async throws {
        try await ledger.pool.write { db in
            if handles.isEmpty {
                try db.execute(sql: "DELETE FROM chat_handle WHERE principal = ?", arguments: [principal])
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO chat_handle (principal, slack, teams, modified_ms, modified_by) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (principal) DO UPDATE SET slack = excluded.slack, teams = excluded.teams, modified_ms = excluded.modified_ms,
                          modified_by = excluded.modified_by
                        """, arguments: [principal, handles.slack, handles.teams, at, actor])
            }
        }
    }

    public func directoryResource(directory: String, kind: DirectoryResource.Kind, id: String) async throws -> DirectoryResource? {
        try await ledger.pool.read { db in try Self.directoryResource(db, directory: directory, kind: kind, id: id) }
    }

    static func directoryResource(_ db: Database, directory: String, kind: DirectoryResource.Kind, id: String) throws -> DirectoryResource? {
        try Row.fetchOne(
            db, sql: "SELECT attributes, created_ms, modified_ms, version FROM directory_resource WHERE directory = ? AND type = ? AND id = ?",
            arguments: [directory, kind.rawValue, id]
        ).map { DirectoryResource(directory: directory, kind: kind, id: id, attributes: $0[0], createdAt: $0[1], modifiedAt: $0[2], version: $0[3]) }
    }

    static func writeDirectoryResource(_ db: Database, _ write: DirectoryResourceWrite) throws {
        switch write {
        case .put(let r):
            try db.execute(
                sql: """
                    INSERT INTO directory_resource (directory, type, id, attributes, created_ms, modified_ms, version) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (directory, type, id) DO UPDATE SET attributes = excluded.attributes, modified_ms = excluded.modified_ms, version = excluded.version
                    """, arguments: [r.directory, r.kind.rawValue, r.id, r.attributes, r.createdAt, r.modifiedAt, r.version])
        case .delete(let directory, let kind, let id):
            try db.execute(sql: "DELETE FROM directory_resource WHERE directory = ? AND type = ? AND id = ?", arguments: [directory, kind.rawValue, id])
        }
    }

    public func idempotencyRecord(principal: String, key: String, now: Int64) async throws -> IdempotencyRecord? {
        try await ledger.pool.read { db in try Self.idempotencyRecord(db, principal: principal, key: key, now: now) }
    }

    public func insertIdempotencyRecord(_ record: IdempotencyRecord) async throws -> Bool {
        try await ledger.pool.write { db in
            try Self.forgetIdempotencyRecords(db, now: record.createdAt)
            try Self.insertIdempotencyRecord(db, record, orIgnore: true)
            return db.changesCount == 1
        }
    }

    static func idempotencyRecord(_ db: Database, principal: String, key: String, now: Int64) throws -> IdempotencyRecord? {
        let row = try Row.fetchOne(
            db, sql: "SELECT fingerprint, created_ms, status, media_type, body FROM idempotency_key WHERE principal = ? AND key = ? AND created_ms >= ?",
            arguments: [principal, key, now - IdempotencyRecord.lifetimeMilliseconds])
        guard let row, let fingerprint = try? SHA256Digest(bytes: [UInt8](row[0] as Data)) else { return nil }
        return IdempotencyRecord(
            principal: principal, key: key, fingerprint: fingerprint, createdAt: row[1],
            answer: IdempotentAnswer(status: row[2], mediaType: row[3], body: [UInt8](row[4] as Data)))
    }

    static func forgetIdempotencyRecords(_ db: Database, now: Int64) throws {
        try db.execute(sql: "DELETE FROM idempotency_key WHERE created_ms < ?", arguments: [now - IdempotencyRecord.lifetimeMilliseconds])
    }

    static func insertIdempotencyRecord(_ db: Database, _ record: IdempotencyRecord, orIgnore: Bool) throws {
        try db.execute(
            sql: "INSERT \(orIgnore ? "OR IGNORE " : "")INTO idempotency_key (principal, key, fingerprint, created_ms, status, media_type, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                record.principal, record.key, Data(record.fingerprint.bytes), record.createdAt, record.answer.status, record.answer.mediaType, Data(record.answer.body),
            ])
    }
}
