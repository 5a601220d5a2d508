internal import PostgresNIO
public import SignoffCrypto
public import SignoffService
public import SignoffCore

/// Leases and the newest full verification in PostgreSQL (tables `lease`, `verification_run`): one statement each, so
/// that two instances taking a lease at once cannot both get it.
public struct PostgresCoordinationStore: CoordinationStore {
    let database: PGDatabase

    public func acquireLease(_ name: String, holder: String, now: Int64, until: Int64) async throws -> Bool {
        try await database.run { session in
            try session.execute(
                """
                INSERT INTO lease (name, holder, expires_ms) VALUES ($1, $2, $3)
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                WHERE lease.holder = excluded.holder OR lease.expires_ms < $4
                """, [.text(name), .text(holder), .int(until), .int(now)]) == 1
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await database.run { session in try session.execute("DELETE FROM lease WHERE name = $1 AND holder = $2", [.text(name), .text(holder)]) }
    }

    public func recordVerification(_ run: LedgerVerificationRun) async throws {
        try await database.run { session in
            try session.execute(
                """
                INSERT INTO verification_run (id, started_ms, finished_ms, entries, checkpoints, failure) VALUES (1, $1, $2, $3, $4, $5)
                ON CONFLICT (id) DO UPDATE SET started_ms = excluded.started_ms, finished_ms = excluded.finished_ms, entries = excluded.entries,
                  checkpoints = excluded.checkpoints, failure = excluded.failure
                WHERE verification_run.finished_ms <= excluded.finished_ms
                """, [.int(run.startedAt), .int(run.finishedAt), .int(Int64(run.entries)), .int(Int64(run.checkpoints)), .optional(run.failure)])
        }
    }

    public func latestVerification() async throws -> LedgerVerificationRun? {
        try await database.run { session in
            guard let row = try session.query("SELECT started_ms, finished_ms, entries, checkpoints, failure FROM verification_run WHERE id = 1").rows.first else {
                return nil
            }
            let (started, finished, entries, checkpoints, failure) = try row.decode((Int64, Int64, Int64, Int32, String?).self)
            return LedgerVerificationRun(startedAt: started, finishedAt: finished, entries: UInt64(max(0, entries)), checkpoints: Int(checkpoints), failure: failure)
        }
    }

    public func recordRateEvent(_ key: String, at: Int64, forgetBefore: Int64) async throws {
        try await database.transaction { session in
            try session.execute("DELETE FROM rate_event WHERE at_ms < $1", [.int(forgetBefore)])
            try session.execute("INSERT INTO rate_event (key, at_ms) VALUES ($1, $2)", [.text(key), .int(at)])
        }
    }

    public func rateEvents(_ key: String, since: Int64) async throws -> (count: Int, oldest: Int64?) {
        try await database.run { session in
            guard let row = try session.query("SELECT COUNT(*), MIN(at_ms) FROM rate_event WHERE key = $1 AND at_ms >= $2", [.text(key), .int(since)]).rows.first
            else { return (0, nil) }
            let (count, oldest) = try row.decode((Int64, Int64?).self)
            return (Int(count), oldest)
        }
    }

    public func insertLogin(stateHash: SHA256Digest, issuer: String, expiresAt: Int64, forgetBefore: Int64) async throws {
        try await database.transaction { session in
            _ = try session.execute("DELETE FROM sso_login WHERE expires_ms < $1", [.int(forgetBefore)])
            _ = try session.execute("INSERT INTO sso_login (state_hash, issuer, expires_ms) VALUES ($1, $2, $3)", [.bytes(stateHash.bytes), .text(issuer), .int(expiresAt)])
        }
    }

    public func consumeLogin(stateHash: SHA256Digest, now: Int64) async throws -> String? {
        try await database.run { session in
            try session.query(
                "UPDATE sso_login SET used_ms = $1 WHERE state_hash = $2 AND used_ms IS NULL AND expires_ms >= $1 RETURNING issuer",
                [.int(now), .bytes(stateHash.bytes)]
            ).rows.first.map { try $0.decode(String.self) }
        }
    }

    public func cachedKeySet(issuer: String) async throws -> (jwks: String, fetchedAt: Int64)? {
        try await database.run { session in
            try session.query("SELECT jwks, fetched_ms FROM jwks_cache WHERE issuer = $1", [.text(issuer)]).rows.first.map {
                try $0.decode((String, Int64).self)
            }
        }
    }

    public func storeKeySet(issuer: String, jwks: String, fetchedAt: Int64) async throws {
        try await database.run { session in
            _ = try session.execute(
                """
                INSERT INTO jwks_cache (issuer, jwks, fetched_ms) VALUES ($1, $2, $3)
                ON CONFLICT (issuer) DO UPDATE SET jwks = excluded.jwks, fetched_ms = excluded.fetched_ms WHERE jwks_cache.fetched_ms <= excluded.fetched_ms
                """, [.text(issuer), .text(jwks), .int(fetchedAt)])
        }
    }

    public func directoryResources(directory: String, kind: DirectoryResource.Kind) async throws -> [DirectoryResource] {
        try await database.run { session in
            try session.query(
                "SELECT id, attributes, created_ms, modified_ms, version FROM directory_resource WHERE directory = $1 AND type = $2 ORDER BY id",
                [.text(directory), .text(kind.rawValue)]
            ).rows.map { row in
                let (id, attributes, created, modified, version) = try row.decode((String, String, Int64, Int64, Int64).self)
                return DirectoryResource(directory: directory, kind: kind, id: id, attributes: attributes, createdAt: created, modifiedAt: modified, version: version)
            }
        }
    }

    public func chatHandles() async throws -> [String: ChatHandles] {
        try await database.run { session in
            var out: [String: ChatHandles] = [:]
            for row in try session.query("SELECT principal, slack, teams FROM chat_handle").rows {
                let (principal, slack, teams) = try row.decode((String, String?, String?).self)
                out[principal] = ChatHandles(slack: slack, teams: teams)
            }
            return out
        }
    }

    public func setChatHandles(_ handles: ChatHandles, of principal: String, by actor: String, at: Int64) async throws {
        try await database.run { session in
            if handles.isEmpty {
                try session.execute("DELETE FROM chat_handle WHERE principal = $1", [.text(principal)])
            } else {
                try session.execute(
                    """
                    INSERT INTO chat_handle (principal, slack, teams, modified_ms, modified_by) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (principal) DO UPDATE SET slack = excluded.slack, teams = excluded.teams, modified_ms = excluded.modified_ms,
                      modified_by = excluded.modified_by
                    """, [.text(principal), .optional(handles.slack), .optional(handles.teams), .int(at), .text(actor)])
            }
        }
    }

    public func directoryResource(directory: String, kind: DirectoryResource.Kind, id: String) async throws -> DirectoryResource? {
        try await database.run { session in try Self.directoryResource(session, directory: directory, kind: kind, id: id) }
    }

    static func directoryResource(_ session: PGSession, directory: String, kind: DirectoryResource.Kind, id: String) throws -> DirectoryResource? {
        try session.query(
            "SELECT attributes, created_ms, modified_ms, version FROM directory_resource WHERE directory = $1 AND type = $2 AND id = $3",
            [.text(directory), .text(kind.rawValue), .text(id)]
        ).rows.first.map { row in
            let (attributes, created, modified, version) = try row.decode((String, Int64, Int64, Int64).self)
            return DirectoryResource(directory: directory, kind: kind, id: id, attributes: attributes, createdAt: created, modifiedAt: modified, version: version)
        }
    }

    static func writeDirectoryResource(_ session: PGSession, _ write: DirectoryResourceWrite) throws {
        switch write {
        case .put(let r):
            _ = try session.execute(
                """
                INSERT INTO directory_resource (directory, type, id, attributes, created_ms, modified_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (directory, type, id) DO UPDATE SET attributes = excluded.attributes, modified_ms = excluded.modified_ms, version = excluded.version
                """,
                [.text(r.directory), .text(r.kind.rawValue), .text(r.id), .text(r.attributes), .int(r.createdAt), .int(r.modifiedAt), .int(r.version)])
        case .delete(let directory, let kind, let id):
            _ = try session.execute(
                "DELETE FROM directory_resource WHERE directory = $1 AND type = $2 AND id = $3", [.text(directory), .text(kind.rawValue), .text(id)])
        }
    }

    public func idempotencyRecord(principal: String, key: String, now: Int64) async throws -> IdempotencyRecord? {
        try await database.run { session in try Self.idempotencyRecord(session, principal: principal, key: key, now: now) }
    }

    public func insertIdempotencyRecord(_ record: IdempotencyRecord) async throws -> Bool {
        try await database.transaction { session in
            try Self.forgetIdempotencyRecords(session, now: record.createdAt)
            return try Self.insertIdempotencyRecord(session, record, orIgnore: true) == 1
        }
    }

    static func idempotencyRecord(_ session: PGSession, principal: String, key: String, now: Int64) throws -> IdempotencyRecord? {
        guard
            let row = try session.query(
                "SELECT fingerprint, created_ms, status, media_type, body FROM idempotency_key WHERE principal = $1 AND key = $2 AND created_ms >= $3",
                [.text(principal), .text(key), .int(now - IdempotencyRecord.lifetimeMilliseconds)]
            ).rows.first
        else { return nil }
        let (fingerprint, createdAt, status, mediaType, body) = try row.decode((ByteBuffer, Int64, Int32, String, ByteBuffer).self)
        guard let digest = try? SHA256Digest(bytes: Array(buffer: fingerprint)) else { return nil }
        return IdempotencyRecord(
            principal: principal, key: key, fingerprint: digest, createdAt: createdAt,
            answer: IdempotentAnswer(status: Int(status), mediaType: mediaType, body: Array(buffer: body)))
    }

    static func forgetIdempotencyRecords(_ session: PGSession, now: Int64) throws {
        _ = try session.execute("DELETE FROM idempotency_key WHERE created_ms < $1", [.int(now - IdempotencyRecord.lifetimeMilliseconds)])
    }

    @discardableResult
    static func insertIdempotencyRecord(_ session: PGSession, _ record: IdempotencyRecord, orIgnore: Bool) throws -> Int {
        try session.execute(
            "INSERT INTO idempotency_key (principal, key, fingerprint, created_ms, status, media_type, body) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                + (orIgnore ? " ON CONFLICT (principal, key) DO NOTHING" : ""),
            [
                .text(record.principal), .text(record.key), .bytes(record.fingerprint.bytes), .int(record.createdAt), .int(Int64(record.answer.status)),
                .text(record.answer.mediaType), .bytes(record.answer.body),
            ])
    }
}
