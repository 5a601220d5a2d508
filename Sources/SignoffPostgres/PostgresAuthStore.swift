internal import Foundation
internal import PostgresNIO
public import SignoffCrypto
public import SignoffService

/// Login challenges and bearer tokens (their hashes only) in PostgreSQL: tables `auth_challenge` and `api_token`,
/// shared by every instance on the database.
public struct PostgresAuthStore: AuthStore {
    let database: PGDatabase

    /// The most challenges kept: beyond it the oldest are forgotten, so that the table stays small whatever arrives.
    static let maximumChallenges = 10_000

    public func insertChallenge(nonceHash: SHA256Digest, principal: String, expiresAt: Int64, forgetExpiredBefore: Int64) async throws {
        try await database.run { session in
            try session.execute("DELETE FROM auth_challenge WHERE expires_ms < $1", [.int(forgetExpiredBefore)])
            try session.execute(
                "DELETE FROM auth_challenge WHERE nonce_hash IN (SELECT nonce_hash FROM auth_challenge ORDER BY expires_ms DESC OFFSET $1)",
                [.int(Int64(Self.maximumChallenges - 1))])
            try session.execute(
                "INSERT INTO auth_challenge (nonce_hash, principal, expires_ms) VALUES ($1, $2, $3)", [.bytes(nonceHash.bytes), .text(principal), .int(expiresAt)])
        }
    }

    public func consumeChallenge(nonceHash: SHA256Digest, principal: String, now: Int64) async throws -> Bool {
        try await database.run { session in
            try session.execute(
                "UPDATE auth_challenge SET used_ms = $1 WHERE nonce_hash = $2 AND principal = $3 AND used_ms IS NULL AND expires_ms >= $1",
                [.int(now), .bytes(nonceHash.bytes), .text(principal)]) == 1
        }
    }

    public func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest, createdAt: Int64) async throws {
        try await database.run { session in try Self.insertToken(record, tokenHash: tokenHash, createdAt: createdAt, session) }
    }

    static func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest, createdAt: Int64, _ session: PGSession) throws {
        let scopesJSON = String(decoding: try JSONEncoder().encode(record.scopes), as: UTF8.self)
        try session.execute(
            """
            INSERT INTO api_token (token_hash, token_id, principal, kind, scopes, created_ms, expires_ms, key_fingerprint)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            [
                .bytes(tokenHash.bytes), .text(record.id), .text(record.principal), .text(record.kind.rawValue), .text(scopesJSON), .int(createdAt),
                .int(record.expiresAt), .optional(record.keyFingerprint),
            ])
    }

    static let columns = "token_id, principal, kind, scopes, expires_ms, revoked_ms, key_fingerprint"

    static func record(_ row: PostgresRow) throws -> TokenRecord? {
        let (id, principal, kindText, scopesText, expires, revoked, fingerprint) = try row.decode((String, String, String, String, Int64, Int64?, String?).self)
        guard let kind = TokenRecord.Kind(rawValue: kindText) else { return nil }
        let scopes = (try? JSONDecoder().decode([String].self, from: Data(scopesText.utf8))) ?? []
        return TokenRecord(id: id, principal: principal, kind: kind, scopes: scopes, expiresAt: expires, keyFingerprint: fingerprint, revokedAt: revoked)
    }

    public func token(hash: SHA256Digest, now: Int64) async throws -> TokenRecord? {
        // Every request asks: one statement, no thread hop.
        guard let row = try await database.query("SELECT \(Self.columns) FROM api_token WHERE token_hash = $1", [.bytes(hash.bytes)]).rows.first,
            let record = try Self.record(row), record.revokedAt == nil, record.expiresAt > now
        else { return nil }
        return record
    }

    public func token(id: String) async throws -> TokenRecord? {
        try await database.run { session in
            try session.query("SELECT \(Self.columns) FROM api_token WHERE token_id = $1", [.text(id)]).rows.first.flatMap(Self.record)
        }
    }

    public func tokens(principal: String?, now: Int64) async throws -> [TokenRecord] {
        try await database.run { session in
            try session.query(
                "SELECT \(Self.columns) FROM api_token WHERE ($1::text IS NULL OR principal = $1) AND expires_ms > $2 ORDER BY created_ms DESC",
                [.optional(principal), .int(now)]
            ).rows.compactMap(Self.record)
        }
    }

    public func revokeTokens(principal: String, keyFingerprint: String?, now: Int64) async throws -> Int {
        try await database.run { session in try Self.revokeTokens(principal: principal, keyFingerprint: keyFingerprint, now: now, session) }
    }

    static func revokeTokens(principal: String, keyFingerprint: String?, now: Int64, _ session: PGSession) throws -> Int {
        try session.execute(
            "UPDATE api_token SET revoked_ms = $1 WHERE principal = $2 AND ($3::text IS NULL OR key_fingerprint = $3) AND revoked_ms IS NULL",
            [.int(now), .text(principal), .optional(keyFingerprint)])
    }

    public func revokeToken(id: String, now: Int64) async throws -> Bool {
        try await database.run { session in try Self.revokeToken(id: id, now: now, session) }
    }

    static func revokeToken(id: String, now: Int64, _ session: PGSession) throws -> Bool {
        try session.execute("UPDATE api_token SET revoked_ms = $1 WHERE token_id = $2 AND revoked_ms IS NULL", [.int(now), .text(id)]) == 1
    }
}
