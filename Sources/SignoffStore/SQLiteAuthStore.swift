internal import Foundation
internal import GRDB
public import SignoffCrypto
public import SignoffService

/// Login challenges and bearer tokens (their hashes only) in the ledger's SQLite file: tables `auth_challenge` and
/// `api_token`.
public struct SQLiteAuthStore: AuthStore {
    let ledger: SQLiteLedgerStore

    init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    /// The most challenges kept: beyond it the oldest are forgotten, so that the table stays small whatever arrives.
    static let maximumChallenges = 10_000

    public func insertChallenge(nonceHash: SHA256Digest, principal: String, expiresAt: Int64, forgetExpiredBefore: Int64) async throws {
        try await ledger.pool.write { db in
            try db.execute(sql: "DELETE FROM auth_challenge WHERE expires_ms < ?", arguments: [forgetExpiredBefore])
            try db.execute(
                sql: "DELETE FROM auth_challenge WHERE nonce_hash IN (SELECT nonce_hash FROM auth_challenge ORDER BY expires_ms DESC LIMIT -1 OFFSET ?)",
                arguments: [Self.maximumChallenges - 1])
            try db.execute(
                sql: "INSERT INTO auth_challenge (nonce_hash, principal, expires_ms) VALUES (?, ?, ?)",
                arguments: [Data(nonceHash.bytes), principal, expiresAt])
        }
    }

    public func consumeChallenge(nonceHash: SHA256Digest, principal: String, now: Int64) async throws -> Bool {
        try await ledger.pool.write { db in
            try db.execute(
                sql: "UPDATE auth_challenge SET used_ms = ? WHERE nonce_hash = ? AND principal = ? AND used_ms IS NULL AND expires_ms >= ?",
                arguments: [now, Data(nonceHash.bytes), principal, now])
            return db.changesCount == 1
        }
    }

    public func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest, createdAt: Int64) async throws {
        try await ledger.pool.write { db in try Self.insertToken(record, tokenHash: tokenHash, createdAt: createdAt, db) }
    }

    static func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest, createdAt: Int64, _ db: Database) throws {
        let scopesJSON = String(decoding: try JSONEncoder().encode(record.scopes), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT INTO api_token (token_hash, token_id, principal, kind, scopes, created_ms, expires_ms, key_fingerprint)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Data(tokenHash.bytes), record.id, record.principal, record.kind.rawValue, scopesJSON, createdAt, record.expiresAt, record.keyFingerprint,
            ])
    }

    static let columns = "token_id, principal, kind, scopes, expires_ms, revoked_ms, key_fingerprint"

    static func record(_ row: Row) -> TokenRecord? {
        guard let kind = TokenRecord.Kind(rawValue: row[2]) else { return nil }
        let scopes = (try? JSONDecoder().decode([String].self, from: Data((row[3] as String).utf8))) ?? []
        return TokenRecord(id: row[0], principal: row[1], kind: kind, scopes: scopes, expiresAt: row[4], keyFingerprint: row[6], revokedAt: row[5])
    }

    public func token(hash: SHA256Digest, now: Int64) async throws -> TokenRecord? {
        try await ledger.pool.read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.columns) FROM api_token WHERE token_hash = ?"), arguments: [Data(hash.bytes)]),
                let record = Self.record(row), record.revokedAt == nil, record.expiresAt > now
            else { return nil }
            return record
        }
    }

    public func token(id: String) async throws -> TokenRecord? {
        try await ledger.pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.columns) FROM api_token WHERE token_id = ?"), arguments: [id]).flatMap(Self.record)
        }
    }

    public func tokens(principal: String?, now: Int64) async throws -> [TokenRecord] {
        try await ledger.pool.read { db in
            let rows =
                if let principal {
                    try Row.fetchAll(
                        db, sql: "SELECT \(Self.columns) FROM api_token WHERE principal = ? AND expires_ms > ? ORDER BY created_ms DESC", arguments: [principal, now])
                } else {
                    try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM api_token WHERE expires_ms > ? ORDER BY created_ms DESC", arguments: [now])
                }
            return rows.compactMap(Self.record)
        }
    }

    public func revokeTokens(principal: String, keyFingerprint: String?, now: Int64) async throws -> Int {
        try await ledger.pool.write { db in try Self.revokeTokens(principal: principal, keyFingerprint: keyFingerprint, now: now, db) }
    }

    static func revokeTokens(principal: String, keyFingerprint: String?, now: Int64, _ db: Database) throws -> Int {
        if let keyFingerprint {
            try db.execute(
                sql: "UPDATE api_token SET revoked_ms = ? WHERE principal = ? AND key_fingerprint = ? AND revoked_ms IS NULL",
                arguments: [now, principal, keyFingerprint])
        } else {
            try db.execute(sql: "UPDATE api_token SET revoked_ms = ? WHERE principal = ? AND revoked_ms IS NULL", arguments: [now, principal])
        }
        return db.changesCount
    }

    public func revokeToken(id: String, now: Int64) async throws -> Bool {
        try await ledger.pool.write { db in try Self.revokeToken(id: id, now: now, db) }
    }

    static func revokeToken(id: String, now: Int64, _ db: Database) throws -> Bool {
        try db.execute(sql: "UPDATE api_token SET revoked_ms = ? WHERE token_id = ? AND revoked_ms IS NULL", arguments: [now, id])
        return db.changesCount == 1
    }
}
