internal import Foundation
internal import GRDB
public import SignoffCrypto

/// A bearer token as the server knows it: never the token itself, only who it is for and what it may do.
public struct TokenRecord: Hashable, Sendable {
    public enum Kind: String, Sendable { case session, service }
    public let id: String
    public let principal: String
    public let kind: Kind
    /// For service tokens: what the token may do, e.g. `evidence:churn-model`. Session tokens have none and rely on
    /// the engine's rules alone.
    public let scopes: [String]
    public let expiresAt: Int64
}

/// Login challenges and bearer tokens, stored hashed in the ledger's database so that several server instances
/// share them.
public struct AuthStore: Sendable {
    let ledger: SQLiteLedgerStore
    public static let challengeLifetimeMilliseconds: Int64 = 60_000

    public init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    /// A fresh single-use nonce (256 random bits) for `principal`, valid for 60 seconds.
    public func createChallenge(for principal: String) async throws -> (nonce: [UInt8], expiresAt: Int64) {
        let nonce = SecureRandom.bytes(32)
        let expires = ledger.now + Self.challengeLifetimeMilliseconds
        try await ledger.pool.write { db in
            try db.execute(sql: "DELETE FROM auth_challenge WHERE expires_ms < ?", arguments: [expires - 10 * Self.challengeLifetimeMilliseconds])
            try db.execute(
                sql: "INSERT INTO auth_challenge (nonce_hash, principal, expires_ms) VALUES (?, ?, ?)",
                arguments: [Data(SHA256Digest.hash(nonce).bytes), principal, expires])
        }
        return (nonce, expires)
    }

    /// Marks the challenge used; true only the first time, for its principal, before it expires.
    public func consumeChallenge(_ nonce: [UInt8], for principal: String) async throws -> Bool {
        let now = ledger.now
        return try await ledger.pool.write { db in
            try db.execute(
                sql: "UPDATE auth_challenge SET used_ms = ? WHERE nonce_hash = ? AND principal = ? AND used_ms IS NULL AND expires_ms >= ?",
                arguments: [now, Data(SHA256Digest.hash(nonce).bytes), principal, now])
            return db.changesCount == 1
        }
    }

    /// Issues a bearer token: 256 random bits, returned once, stored only as its SHA-256.
    public func issueToken(for principal: String, kind: TokenRecord.Kind, scopes: [String], lifetimeMilliseconds: Int64) async throws
        -> (token: String, record: TokenRecord)
    {
        let raw = SecureRandom.bytes(32)
        let token = "so_" + Base64.encode(raw).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let hash = SHA256Digest.hash(Array(token.utf8))
        let now = ledger.now
        let record = TokenRecord(
            id: Hex.encode(hash.bytes.prefix(8)), principal: principal, kind: kind, scopes: scopes, expiresAt: now + lifetimeMilliseconds)
        let scopesJSON = String(decoding: try JSONEncoder().encode(scopes), as: UTF8.self)
        try await ledger.pool.write { db in
            try db.execute(
                sql: "INSERT INTO api_token (token_hash, token_id, principal, kind, scopes, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [Data(hash.bytes), record.id, principal, kind.rawValue, scopesJSON, now, record.expiresAt])
        }
        return (token, record)
    }

    /// The token's record if it is known, unexpired and unrevoked.
    public func validate(token: String) async throws -> TokenRecord? {
        let hash = SHA256Digest.hash(Array(token.utf8))
        let now = ledger.now
        return try await ledger.pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT token_id, principal, kind, scopes, expires_ms, revoked_ms FROM api_token WHERE token_hash = ?",
                arguments: [Data(hash.bytes)])
            else { return nil }
            guard (row[5] as Int64?) == nil, (row[4] as Int64) > now, let kind = TokenRecord.Kind(rawValue: row[2]) else { return nil }
            let scopes = (try? JSONDecoder().decode([String].self, from: Data((row[3] as String).utf8))) ?? []
            return TokenRecord(id: row[0], principal: row[1], kind: kind, scopes: scopes, expiresAt: row[4])
        }
    }

    /// Revokes a token by its id; true if it was active.
    @discardableResult
    public func revoke(tokenID: String) async throws -> Bool {
        let now = ledger.now
        return try await ledger.pool.write { db in
            try db.execute(sql: "UPDATE api_token SET revoked_ms = ? WHERE token_id = ? AND revoked_ms IS NULL", arguments: [now, tokenID])
            return db.changesCount == 1
        }
    }
}
