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
    /// For session tokens: the fingerprint (hex) of the key whose signature obtained it (revoking that key ends it), or
    /// `sso:ISSUER@TRUSTED_AT` for a single sign-on session (``singleSignOnMarker(issuer:trustedAt:)``: distrusting that
    /// issuer for people ends it, and trusting the name again does not bring it back).
    public let keyFingerprint: String?
    /// Set when the token was revoked (listing only: a revoked token never authenticates).
    public var revokedAt: Int64?

    public init(id: String, principal: String, kind: Kind, scopes: [String], expiresAt: Int64, keyFingerprint: String? = nil, revokedAt: Int64? = nil) {
        self.id = id
        self.principal = principal
        self.kind = kind
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.keyFingerprint = keyFingerprint
        self.revokedAt = revokedAt
    }
}

extension TokenRecord {
    /// The prefix of ``keyFingerprint`` for a session a trusted issuer's single sign-on obtained.
    public static let singleSignOnPrefix = "sso:"

    /// What a single sign-on session's row records of its issuer: `sso:ISSUER@TRUSTED_AT`, the issuer's name and the time
    /// (milliseconds) of the `issuer.trusted` entry under which it signed the person in.
    public static func singleSignOnMarker(issuer: String, trustedAt: Int64) -> String { "\(singleSignOnPrefix)\(issuer)@\(trustedAt)" }

    /// The issuer whose single sign-on obtained this session; nil for every other token.
    public var singleSignOnIssuer: String? { singleSignOn?.issuer }

    /// The issuer whose single sign-on obtained this session, and the time of the trust it signed in under (nil for a
    /// row written before 2026-12-07, which recorded only `sso:ISSUER`); nil for every other token.
    public var singleSignOn: (issuer: String, trustedAt: Int64?)? {
        guard kind == .session, let value = keyFingerprint, value.hasPrefix(Self.singleSignOnPrefix) else { return nil }
        let rest = value.dropFirst(Self.singleSignOnPrefix.count)
        guard let at = rest.lastIndex(of: "@") else { return (String(rest), nil) }
        return (String(rest[..<at]), Int64(rest[rest.index(after: at)...]))
    }

    /// A session no key of its principal obtained (single sign-on): it reads, and changes nothing unsigned.
    public var isKeyless: Bool { kind == .session && (keyFingerprint == nil || singleSignOnIssuer != nil) }
}

/// Where login challenges and bearer tokens are kept: only their SHA-256, never the secret itself, so that several
/// server instances over one database share them. ``Authenticator`` makes the secrets; a store only keeps hashes.
public protocol AuthStore: Sendable {
    /// Stores a challenge (by the hash of its nonce) for `principal`, forgetting those long expired.
    func insertChallenge(nonceHash: SHA256Digest, principal: String, expiresAt: Int64, forgetExpiredBefore: Int64) async throws
    /// Marks the challenge used at `now`; true only the first time, for its principal, before it expires.
    func consumeChallenge(nonceHash: SHA256Digest, principal: String, now: Int64) async throws -> Bool
    /// Stores a token by its hash.
    func insertToken(_ record: TokenRecord, tokenHash: SHA256Digest, createdAt: Int64) async throws
    /// The token's record if it is known, unexpired at `now` and unrevoked.
    func token(hash: SHA256Digest, now: Int64) async throws -> TokenRecord?
    /// Revokes a token by its id at `now`; true if it was active.
    func revokeToken(id: String, now: Int64) async throws -> Bool
    /// Revokes every active token of `principal` (only those obtained with the key `keyFingerprint`, when given); the count.
    func revokeTokens(principal: String, keyFingerprint: String?, now: Int64) async throws -> Int
    /// Unexpired tokens (revoked ones included, marked), of `principal` or of everyone, newest first.
    func tokens(principal: String?, now: Int64) async throws -> [TokenRecord]
    /// A token by its id, whatever its state.
    func token(id: String) async throws -> TokenRecord?
}
