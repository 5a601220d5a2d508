internal import SignoffCore
public import SignoffCrypto

/// Login challenges and bearer tokens: the secrets are made here, 256 random bits each, and only their SHA-256 is
/// handed to the ``AuthStore``.
public struct Authenticator: Sendable {
    public let store: any AuthStore
    /// The clock, in milliseconds since the Unix epoch.
    public let clock: @Sendable () -> Int64
    public static let challengeLifetimeMilliseconds: Int64 = 60_000
    /// The longest lifetime of a service token unless a server is configured otherwise: 30 days.
    public static let maximumServiceTokenHours = 30 * 24
    /// A connected directory's token: valid a year (rotated by disconnecting and connecting again), for `/scim/v2` only.
    public static let directoryTokenMilliseconds: Int64 = 365 * 86_400_000
    /// The one scope of a directory's token: no `/v1` operation accepts it.
    public static let directoryScope = "scim"

    public init(store: any AuthStore, clock: @escaping @Sendable () -> Int64) {
        self.store = store
        self.clock = clock
    }

    /// A fresh single-use nonce for `principal`, valid for 60 seconds.
    public func createChallenge(for principal: String) async throws -> (nonce: [UInt8], expiresAt: Int64) {
        let nonce = SecureRandom.bytes(32)
        let expires = clock() + Self.challengeLifetimeMilliseconds
        try await store.insertChallenge(
            nonceHash: SHA256Digest.hash(nonce), principal: principal, expiresAt: expires,
            forgetExpiredBefore: expires - 10 * Self.challengeLifetimeMilliseconds)
        return (nonce, expires)
    }

    /// Marks the challenge used; true only the first time, for its principal, before it expires.
    public func consumeChallenge(_ nonce: [UInt8], for principal: String) async throws -> Bool {
        try await store.consumeChallenge(nonceHash: SHA256Digest.hash(nonce), principal: principal, now: clock())
    }

    /// A token made but not yet stored: for service tokens, the ledger records its issue first.
    public struct MintedToken: Sendable {
        public let token: String
        public let record: TokenRecord
        let hash: SHA256Digest
        let createdAt: Int64
    }

    /// Issues a bearer token (`so_` and 43 base64url characters), returned once, stored only as its SHA-256.
    public func issueToken(
        for principal: String, kind: TokenRecord.Kind, scopes: [String], lifetimeMilliseconds: Int64, keyFingerprint: String? = nil
    ) async throws -> (token: String, record: TokenRecord) {
        let minted = mint(for: principal, kind: kind, scopes: scopes, lifetimeMilliseconds: lifetimeMilliseconds, keyFingerprint: keyFingerprint)
        try await store(minted)
        return (minted.token, minted.record)
    }

    /// Stores a minted token: from now on it authenticates.
    public func store(_ minted: MintedToken) async throws {
        try await store.insertToken(minted.record, tokenHash: minted.hash, createdAt: minted.createdAt)
    }

    /// Makes a token without storing it.
    /// A connected directory's token (``directoryScope``, ``directoryTokenMilliseconds``), to store with its
    /// `directory.connected` entry.
    public func mintDirectoryToken(for directory: String) -> MintedToken {
        mint(for: ConnectedDirectory.actor(directory), kind: .service, scopes: [Self.directoryScope], lifetimeMilliseconds: Self.directoryTokenMilliseconds)
    }

    public func mint(for principal: String, kind: TokenRecord.Kind, scopes: [String], lifetimeMilliseconds: Int64, keyFingerprint: String? = nil)
        -> MintedToken
    {
        let raw = SecureRandom.bytes(32)
        let token = "so_" + String(Base64.encode(raw).compactMap { c -> Character? in
            switch c {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: c
            }
        })
        let hash = SHA256Digest.hash(Array(token.utf8))
        let now = clock()
        let record = TokenRecord(
            id: Hex.encode(hash.bytes.prefix(8)), principal: principal, kind: kind, scopes: scopes, expiresAt: now + lifetimeMilliseconds,
            keyFingerprint: keyFingerprint)
        return MintedToken(token: token, record: record, hash: hash, createdAt: now)
    }

    /// The token's record if it is known, unexpired and unrevoked.
    public func validate(token: String) async throws -> TokenRecord? {
        try await store.token(hash: SHA256Digest.hash(Array(token.utf8)), now: clock())
    }

    /// Revokes a token by its id; true if it was active.
    @discardableResult
    public func revoke(tokenID: String) async throws -> Bool {
        try await store.revokeToken(id: tokenID, now: clock())
    }
}
