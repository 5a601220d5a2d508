public import SignoffCrypto
public import SignoffCore

/// What several `signoff serve` instances on one database agree on: who does the work that must be done once (a
/// lease: reminders, escalations, expiry, full verification, checkpoint publishing), and the newest full verification
/// of the ledger, which every instance's audit page shows whichever instance ran it.
public protocol CoordinationStore: Sendable {
    /// Takes the lease `name` for `holder` until `until` when it is free, expired at `now`, or already `holder`'s
    /// (a renewal); true when `holder` holds it after the call.
    func acquireLease(_ name: String, holder: String, now: Int64, until: Int64) async throws -> Bool
    /// Gives the lease up, if `holder` holds it (a clean shutdown: another instance takes over at once).
    func releaseLease(_ name: String, holder: String) async throws
    /// Records a full verification, unless a newer one (by its end) is recorded.
    func recordVerification(_ run: LedgerVerificationRun) async throws
    /// The newest full verification recorded by any instance.
    func latestVerification() async throws -> LedgerVerificationRun?

    /// Records one event counted by a rate limit (a login challenge, a failed login) under `key` at `at`, forgetting
    /// every event older than `forgetBefore`.
    func recordRateEvent(_ key: String, at: Int64, forgetBefore: Int64) async throws
    /// How many events `key` has had since `since`, and the time of the oldest of them.
    func rateEvents(_ key: String, since: Int64) async throws -> (count: Int, oldest: Int64?)
    /// The unexpired record of `key` for `principal` at `now`, if any (``IdempotencyRecord``).
    func idempotencyRecord(principal: String, key: String, now: Int64) async throws -> IdempotencyRecord?
    /// Keeps the answer of a call that recorded no entries, unless a record of its key exists (then false), forgetting
    /// records past their lifetime.
    func insertIdempotencyRecord(_ record: IdempotencyRecord) async throws -> Bool

    /// Records a single sign-on login under way by the hash of its `state`, forgetting those expired before `forgetBefore`.
    func insertLogin(stateHash: SHA256Digest, issuer: String, expiresAt: Int64, forgetBefore: Int64) async throws
    /// Marks the login used at `now`: its issuer's name the first time, before it expires; nil otherwise (unknown, used
    /// or expired).
    func consumeLogin(stateHash: SHA256Digest, now: Int64) async throws -> String?
    /// An issuer's key set as last fetched by any instance, and when.
    func cachedKeySet(issuer: String) async throws -> (jwks: String, fetchedAt: Int64)?
    /// Keeps an issuer's key set as fetched at `fetchedAt`, unless a newer fetch is kept.
    func storeKeySet(issuer: String, jwks: String, fetchedAt: Int64) async throws
    /// The resources of `kind` a directory provisioned, by id.
    func directoryResources(directory: String, kind: DirectoryResource.Kind) async throws -> [DirectoryResource]
    /// One resource a directory provisioned, if it is kept.
    func directoryResource(directory: String, kind: DirectoryResource.Kind, id: String) async throws -> DirectoryResource?

    /// Every person's chat handles (``ChatHandles``), by name.
    func chatHandles() async throws -> [String: ChatHandles]
    /// Sets `principal`'s chat handles (empty: forgets them), as `actor` did at `at`.
    func setChatHandles(_ handles: ChatHandles, of principal: String, by actor: String, at: Int64) async throws
}
