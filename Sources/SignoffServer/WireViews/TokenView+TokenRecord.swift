public import SignoffAPI
import SignoffCore
public import SignoffService

// Here, where both sides are: the wire contract (SignoffAPI) knows nothing of the service's records. The CLI's local
// client uses it too.
extension TokenView {
    /// A stored token as `GET /v1/tokens` and `signoff token list` show it; `revoked` overrides the record's own state
    /// (an answer to a revocation shows it revoked).
    public init(_ record: TokenRecord, revoked: Bool? = nil) {
        self.init(
            token_id: record.id, principal: record.principal, kind: record.kind.rawValue, scopes: record.scopes,
            expires_at: Timestamps.rfc3339(record.expiresAt), revoked: revoked ?? (record.revokedAt != nil),
            key_fingerprint: record.keyFingerprint.map { "sha256:" + $0 })
    }
}
