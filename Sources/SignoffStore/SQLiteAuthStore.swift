internal import Foundation
internal import GRDB
public import SignoffCrypto
public import SignoffService

/// Login challenges and bearer tokens (their hashes only) in the ledger's SQLite file: tables `auth_challenge` and
/// `api_token`.
public struct SQLiteAuthStore: AuthStore {
    let ledger: SQLiteLedgerStore

    init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    public func insertChallenge(nonceHash: SHA256Digest, principal: String, expiresAt: Int64, forgetExpiredBefore: Int64) async throws {
        try await ledger.pool.write { db in
            try db.execute(sql: "DELETE FROM auth_challenge WHERE expires_ms < ?", arguments: [forgetExpiredBefore])
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
        let scopesJSON = String(decoding: try JSONEncoder().encode(record.scopes), as: UTF8.self)
        try await ledger.pool.write { db in
            try db.execute(
                sql: "INSERT INTO api_token (token_hash, token_id, principal, kind, scopes, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [Data(tokenHash.bytes), record.id, record.principal, record.kind.rawValue, scopesJSON, createdAt, record.expiresAt])
        }
    }

    public func token(hash: SHA256Digest, now: Int64) async throws -> TokenRecord? {
        try await ledger.pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT token_id, principal, kind, scopes, expires_ms, revoked_ms FROM api_token WHERE token_hash = ?",
                arguments: [Data(hash.bytes)])
            else { return nil }
            guard (row[5] as Int64?) == nil, (row[4] as Int64) > now, let kind = TokenRecord.Kind(rawValue: row[2]) else { return nil }
            let scopes = (try? JSONDecoder().decode([String].self, from: Data((row[3] as String).utf8))) ?? []
            return TokenRecord(id: row[0], principal: row[1], kind: kind, scopes: scopes, expiresAt: row[4])
        }
    }

    public func revokeToken(id: String, now: Int64) async throws -> Bool {
        try await ledger.pool.write { db in
            try db.execute(sql: "UPDATE api_token SET revoked_ms = ? WHERE token_id = ? AND revoked_ms IS NULL", arguments: [now, id])
            return db.changesCount == 1
        }
    }
}
