internal import Foundation
internal import SignoffAudit
public import SignoffCore
public import SignoffCrypto
public import SignoffLedger
internal import Synchronization

/// The engine over storage: every command is decided on what it reads (``Command/reads``: the directory, its
/// request, the statements it carries) and everything it changes — entries, projection documents, used statements,
/// webhook messages, tokens — commits in one unit of work (``UnitOfWork``). Concurrent commands are group-committed
/// (``GroupCommit``): each is evaluated against the state left by the ones before it in the round. Checkpoints are
/// signed after the commit, by the ``LogPublisher``. Knows nothing of SQLite or PostgreSQL: only ``SignoffStorage``.
public final class SignoffService: Sendable {
    public let storage: SignoffStorage
    private let writer: GroupCommit<Submission, Outcome>
    private let committer: Committer
    /// Signs checkpoints as the policy says (when this process holds the ``Signer``).
    public let publisher: LogPublisher
    /// Bumped after every command that appended something: what long polls wait on.
    public let changes = ChangeSignal()
    /// What this process knows of the witnesses it submits checkpoints to (``WitnessClient``): empty without any.
    public let witnesses = WitnessStatusBoard()
    /// The newest full verification of the ledger by this process (``verifyLedger()``).
    public let verification = LedgerVerificationRecord()
    /// Whether this instance does the work done once (``Leadership``).
    public let leadership: Leadership

    /// The outcome of one command: its ledger entries, or the engine's refusal.
    public typealias Outcome = Result<[LedgerEntry], Refusal>

    struct Submission: Sendable {
        let command: Command
        let actor: String
        let verified: Preverified
        /// A token stored with the command's entries (a service token: its issue is recorded first, in the same unit).
        let token: Authenticator.MintedToken?
        /// The call's idempotency key, recorded with the command's entries and the answer made from them.
        let idempotency: IdempotentCall?
        /// A directory's SCIM resource written with the entries of its change.
        var directoryResource: DirectoryResourceWrite? = nil
    }

    /// Whether this process keeps the whole state for its reads (a server: its views and gates answer from memory, the
    /// state patched by its own commits); a command-line process reads what each command names instead.
    public let keepsWholeState: Bool

    /// The most commands one round of the writer takes (``GroupCommit``). A round is decided while the one before it is
    /// written, and its callers wait for both; rounds of at most 128 leave, under a burst, callers outside them verifying
    /// their signatures while a round's WAL is synced, instead of every caller waiting in two large rounds with a core
    /// idle (`BENCHMARKS.md`, issue 24: signed decisions 0.18 → 0.20 of raw verification with 256 callers).
    public static let defaultMaximumBatch = 128

    public init(storage: SignoffStorage, maximumBatch: Int = SignoffService.defaultMaximumBatch, keepsWholeState: Bool = false) {
        self.storage = storage
        self.keepsWholeState = keepsWholeState
        let committer = Committer(storage: storage, decidesAhead: keepsWholeState && storage.unitOfWork.takesProposedTimes)
        self.committer = committer
        publisher = LogPublisher(ledger: storage.ledger, signer: storage.signer, policy: storage.checkpointPolicy)
        let ledger = storage.ledger
        leadership = Leadership(coordination: storage.coordination) { ledger.now }
        // Rounds overlap only where they are decided ahead of their transaction.
        writer = GroupCommit(maximumBatch: maximumBatch, overlapsRounds: committer.decidesAhead) { round in
            try await committer.commit(round).map { .success($0) }
        }
    }

    public var ledger: any LedgerStore { storage.ledger }
    public var auth: any AuthStore { storage.auth }
    public var webhooks: any WebhookStore { storage.webhooks }
    public var evidence: any EvidenceStore { storage.evidence }

    /// Runs `command` as `actor` now; returns once its events are durable (or it was refused). With `token`, the token
    /// is stored in the same unit of work as the command's entries, and only if the command succeeds; so is the record
    /// of `idempotency` (a call with an `Idempotency-Key`), whose key another call of the same moment has already
    /// recorded makes the command refused (``RefusalRule/idempotencyInUse``).
    public func execute(
        _ command: Command, as actor: String, storing token: Authenticator.MintedToken? = nil, idempotency: IdempotentCall? = nil,
        directoryResource: DirectoryResourceWrite? = nil
    ) async throws -> Outcome {
        // Signature arithmetic happens here, concurrently, not inside the single writer. The directory read here may be
        // a moment old by the time the writer decides: the engine checks again, inside the writer, that each key counts.
        // The cached directory will do without a read: preverifying only saves the writer arithmetic, never decides.
        let known: SignoffState
        if let cached = committer.directory.withLock({ $0?.state }) { known = cached } else { known = try await directory() }
        let verified = Engine.preverify(command, state: known, actor: actor)
        let outcome = try await writer.submit(Submission(command: command, actor: actor, verified: verified, token: token, idempotency: idempotency, directoryResource: directoryResource))
        if case .success(let entries) = outcome, let last = entries.last {
            changes.signal()
            // The entries are durable whatever publishing does; a checkpoint that fails now is signed at the next due time.
            try? await publisher.appended(size: last.sequence + 1, at: last.timeMilliseconds)
        }
        return outcome
    }

    /// The directory (every principal, group, workflow, project, freeze, delegation and webhook — not the requests):
    /// its version read fresh, its documents decoded again only when an entry changed it since this process last read it.
    public func directory() async throws -> SignoffState {
        try await read(requests: .none)
    }

    /// The directory and the requests named, in one snapshot (the directory from the cache while its version holds).
    func read(requests: ReadSet.Requests) async throws -> SignoffState {
        // The whole state this process keeps answers when it is of the head now (directory and requests alike): one
        // query to know, where a snapshot takes several (a gate under load reads nothing else).
        if let full = committer.full.withLock({ $0 }) {
            let marker = try await storage.projection.headMarker()
            if marker == full.marker { return full.state }
            // Another instance (or a command beside the server) appended since: its entries, folded into what this
            // process keeps, instead of a snapshot now and a whole read later.
            if let caughtUp = try await caughtUp(full, to: marker) { return caughtUp }
        }
        let cached = committer.directory.withLock { $0 }
        let read = try await storage.projection.read(requests: requests, directoryUnlessVersion: cached?.version)
        if requests != .none {
            // The whole state this process keeps answers when it is of this head (commits here patch it); in a process that
            // keeps it, the first read builds it. Otherwise, or when another process moved the head, the read is focused
            // (one request decoded, not all).
            let full = committer.full.withLock { $0 }
            if let full, full.marker == read.marker { return full.state }
            if full == nil, keepsWholeState { return try await state() }
        }
        var state: SignoffState
        if let documents = read.directory {
            state = try SignoffState(documents: documents)
            if read.directoryVersion >= -1 { committer.directory.withLock { Committer.keepNewer(&$0, (read.directoryVersion, state)) } }
        } else {
            state = cached!.state
        }
        if !read.requests.isEmpty { try state.load(documents: read.requests) }
        return state
    }

    /// Rounds of the writer decided ahead of their transaction and written so (`written`), and decided again inside
    /// because the transaction found another head or a statement used meanwhile (`again`).
    @_spi(Testing) public var roundsDecidedAhead: (written: Int, again: Int) { committer.decidedAhead.withLock { $0 } }
    /// Rounds of the writer committed so far (each one unit of work).
    @_spi(Testing) public var roundsCommitted: Int { writer.rounds }

    /// Where tests inject a failure inside the unit of work (``UnitOfWorkStep``); nil in production.
    @_spi(Testing) public func injectFailure(_ failure: (@Sendable (UnitOfWorkStep) throws -> Void)?) {
        committer.failure.withLock { $0 = failure }
    }

    /// The current state (users, projects, requests, …): every document. This process keeps it, patched with what its
    /// own commits wrote, and reads it all again only when another process moved the ledger.
    public func state() async throws -> SignoffState {
        let cached = committer.full.withLock { $0 }
        let marker = try await storage.projection.headMarker()
        if let cached, cached.marker == marker { return cached.state }
        if let cached, let caughtUp = try await caughtUp(cached, to: marker) { return caughtUp }
        // The marker is read first: a commit between the two reads leaves a state newer than its marker, which the next
        // call finds stale and reads again — never a state older than its marker. Concurrent callers at the same head
        // share one read (a hundred requests arriving together decode the projection once, not a hundred times).
        let projection = storage.projection
        let load = committer.loading.withLock { loading -> Task<SignoffState, any Error> in
            if let current = loading, current.marker == marker { return current.task }
            let task = Task { try await projection.state() }
            loading = (marker, task)
            return task
        }
        let state = try await load.value
        committer.full.withLock { full in
            if let current = full, marker.prefix(8).lexicographicallyPrecedes(current.marker.prefix(8)) { return }
            full = (marker, state)
        }
        return state
    }

    /// The whole state this process keeps (`cached`, as of its marker) brought to the head `marker` by folding the
    /// entries appended since — each checked to extend the chain the cached head ended with, the last to end where the
    /// head does — or nil when that cannot be done (more than 4,096 entries, another history, an entry this version cannot
    /// read or of a kind it does not know: a full read then). The projection is the fold of the ledger's events
    /// (``ProjectionVerification``), so the fold here equals what the other writer stored.
    func caughtUp(_ cached: (marker: [UInt8], state: SignoffState), to marker: [UInt8]) async throws -> SignoffState? {
        try await committer.caughtUp(cached, to: marker)
    }

    /// The current state as far as one request is concerned: the directory and that request, in one snapshot — or the
    /// whole state this process keeps, when it is of the same ledger head (nothing to decode).
    public func state(focusedOn request: String) async throws -> SignoffState { try await read(requests: .some([request])) }

    /// The current time by the store's clock.
    public var now: Int64 { storage.ledger.now }

    /// Replays the whole ledger and compares it with the stored projection.
    public func verifyProjection() async throws -> LedgerVerificationFailure? { try await storage.projection.verifyProjection() }

    /// Signs a checkpoint of everything appended so far (when this process holds the ledger key) and returns the newest.
    @discardableResult
    public func signCheckpoint() async throws -> SignedCheckpoint? { try await publisher.publish(force: true) }

    /// Appends events that ``Engine`` has already produced, command by command, on an in-memory copy of this
    /// service's state (`state` is that copy after the events), and updates the projection as ``execute(_:as:storing:)``
    /// does. It authorizes nothing itself, so it is for tools that build large ledgers (the benchmark), not the API.
    /// Every event was folded at time `now`, which must be the unit of work's time (a tool drives the store's clock).
    @_spi(Bench) public func appendDecided(_ events: [(event: Event, actor: String)], state: SignoffState, at now: Int64) async throws {
        let entries = try await storage.unitOfWork.write { tx in
            guard tx.now == now else {
                throw LedgerError(.invalidRequest, "the events were folded at \(now), the store's time is \(tx.now): drive the store's clock")
            }
            let entries = try tx.append(events.map { EntryDraft($0.event, actor: $0.actor, on: state) })
            _ = try tx.recordProjection(of: events.map(\.event), entries: entries, state: state)
            return entries
        }
        committer.directory.withLock { $0 = nil }
        committer.full.withLock { $0 = nil }
        committer.ahead.withLock { $0 = nil }
        if let last = entries.last { try await publisher.appended(size: last.sequence + 1, at: last.timeMilliseconds) }
    }
}

extension StorageTransaction {
    /// What appended events change beside the ledger, in this unit: the request pages' index, the projection documents
    /// they touch (as `state`, after them, has them), the directory's version, and the signed statements they use.
    /// Returns the documents written and the directory's new version, if they changed it. `documents`, when given, are
    /// the touched documents already encoded from `state`. The one step the writer and
    /// ``SignoffService/appendDecided(_:state:at:)`` share.
    func recordProjection(
        of events: [Event], entries: [LedgerEntry], state: SignoffState, documents: [String: String?]? = nil
    ) throws -> (written: [String: String?], directoryVersion: Int64?) {
        var touched = Set<String>()
        var statements = Set<SHA256Digest>()
        for event in events {
            touched.formUnion(SignoffState.documentKeys(touchedBy: event))
            statements.formUnion(event.statementDigests)
        }
        try indexRequestEntries(zip(events, entries).compactMap { event, entry in event.request.map { ($0, entry.sequence) } })
        // Encoded ahead (outside the transaction) when given: they are the same documents of the same state.
        let written = documents ?? Dictionary(uniqueKeysWithValues: touched.map { ($0, state.document(for: $0)) })
        try writeDocuments(written)
        let changed = Array(zip(events, entries)).last(where: { event, _ in SignoffState.changesDirectory(event) })?.1.sequence
        if let changed { try setDirectoryVersion(changed) }
        try recordStatements(statements, until: now + DecisionStatement.replayWindowMilliseconds)
        return (written, changed.map(Int64.init))
    }
}

/// The writer's side of ``SignoffService``: one round of commands in one unit of work.
///
/// **Deciding ahead.** In a process that keeps the whole state (a server) over a store that takes a proposed time
/// (SQLite), a round's commands are decided *before* its transaction, on the state the round before it leaves, while
/// that round's transaction commits: the engine, the entries' payloads and the projection documents cost the writer no
/// time, and its transaction only stores them. The transaction then checks that what they were decided on is what it
/// finds — the ledger's head is the one the round before left (no other writer, nothing rolled back), none of the
/// round's signed statements was recorded meanwhile, its time is the one decided at — and otherwise decides the round
/// again inside, on what it reads, as a round that is not decided ahead always is. Rounds with a token, an idempotency
/// key or a directory's resource to store are never decided ahead.
final class Committer: Sendable {
    let storage: SignoffStorage
    /// Whether rounds may be decided ahead of their transaction (see the type's comment).
    let decidesAhead: Bool
    /// The directory as of its version (``StorageTransaction/directoryVersion()``): reused while no entry changed it.
    let directory = Mutex<(version: Int64, state: SignoffState)?>(nil)
    /// The whole state as of a ledger head, for queries (``SignoffService/state()``); patched by this process's commits.
    let full = Mutex<(marker: [UInt8], state: SignoffState)?>(nil)
    /// The read of the whole state under way, shared by the callers that ask at the same head.
    let loading = Mutex<(marker: [UInt8], task: Task<SignoffState, any Error>)?>(nil)
    let failure = Mutex<(@Sendable (UnitOfWorkStep) throws -> Void)?>(nil)
    /// The newest round decided ahead and not yet finished: what the next round is decided on.
    let ahead = Mutex<Basis?>(nil)
    /// Rounds written as decided ahead, and rounds decided ahead that had to be decided again inside.
    let decidedAhead = Mutex<(written: Int, again: Int)>((0, 0))
    /// Committed rounds waiting for the round before them to be patched into ``full`` (only touched under its lock).
    let waiting = Mutex<[[UInt8]: Round]>([:])

    init(storage: SignoffStorage, decidesAhead: Bool) {
        self.storage = storage
        self.decidesAhead = decidesAhead
    }

    /// Replaces the cached directory unless it is of a newer version than `candidate` (a slow reader finishing after a
    /// commit must not put an older directory back).
    static func keepNewer(_ cache: inout (version: Int64, state: SignoffState)?, _ candidate: (version: Int64, state: SignoffState)) {
        if let cached = cache, candidate.version < cached.version { return }
        cache = candidate
    }

    /// What a round is decided on: the directory and the requests the round before it wrote (its `overlay`, after
    /// it), over the committed whole state this process keeps, which answers for every other request (a request that
    /// round did not write is the same before and after it).
    final class Basis: Sendable {
        let overlay: SignoffState
        /// The time its entries have (the newest entry's time after them); `.min` when not known.
        let time: Int64
        /// The head it is of: known for a committed state; for a round decided ahead, set by its transaction (before
        /// it commits) once it wrote the round as decided. `failed` once the round was not written as decided. The
        /// basis it was decided on is kept until it is over (so a chain of them never grows past the rounds in flight).
        private let settled: Mutex<(marker: [UInt8]?, failed: Bool, parent: Basis?)>

        init(committed marker: [UInt8], directory: SignoffState) {
            overlay = directory
            time = .min
            settled = Mutex((marker, false, nil))
        }

        init(decided overlay: SignoffState, at time: Int64, on parent: Basis) {
            self.overlay = overlay
            self.time = time
            settled = Mutex((nil, false, parent))
        }

        var marker: [UInt8]? { settled.withLock { $0.failed ? nil : $0.marker } }
        var failed: Bool { settled.withLock { $0.failed } }
        /// The heads of which the whole state answers for the requests outside the overlay: the one this round is of (once
        /// written), and the one it was decided on (while the round before is not over).
        var heads: [[UInt8]] {
            let (marker, parent) = settled.withLock { ($0.failed ? nil : $0.marker, $0.parent) }
            return [marker, parent?.marker].compactMap { $0 }
        }
        /// Whether deciding on it is still worth it: neither it nor the round before failed.
        var usable: Bool {
            let (failed, parent) = settled.withLock { ($0.failed, $0.parent) }
            return !failed && !(parent?.failed ?? false)
        }
        func settle(_ marker: [UInt8]) { settled.withLock { $0.marker = marker } }
        /// The round is over: written as decided, or not (`failed`).
        func finish(failed: Bool) {
            settled.withLock {
                if failed { $0.failed = true }
                $0.parent = nil
            }
        }
    }

    struct Round: Sendable {
        var outcomes: [SignoffService.Outcome]
        var before: [UInt8]
        var marker: [UInt8]
        var directoryVersion: Int64
        var directory: SignoffState
        /// The round's state (its directory and the requests it read) and the documents it wrote.
        var state: SignoffState
        var written: Set<String>
    }

    /// A round's commands decided on a state: each command's events or refusal, and what they write.
    struct Decided: Sendable {
        var results: [Result<[Event], Refusal>] = []
        var drafts: [EntryDraft] = []
        var appended: [Event] = []
        var outbox: [OutboxMessage] = []
    }

    /// Decides `submissions` in order on `state` at `now`, each on the state the ones before it left; `admit` may refuse
    /// a command before the engine sees it (an idempotency key in use).
    static func decide(
        _ submissions: [SignoffService.Submission], on state: inout SignoffState, now: Int64, admit: (SignoffService.Submission) throws -> Refusal?
    ) rethrows -> Decided {
        var decided = Decided()
        for item in submissions {
            if let refusal = try admit(item) {
                decided.results.append(.failure(refusal))
                continue
            }
            let result = Engine.execute(item.command, on: state, actor: item.actor, now: now, verified: item.verified)
            if case .success(let events) = result {
                for event in events {
                    state.apply(event, actor: item.actor, at: now)
                    decided.drafts.append(EntryDraft(event, actor: item.actor, on: state))
                    decided.appended.append(event)
                }
                // Who should hear of it: queued in this same unit, so a rolled-back command sends nothing.
                if !state.webhooks.isEmpty {
                    decided.outbox += OutboxMessage.route(Notifications.of(events, actor: item.actor, state: state, now: now), state: state, now: now)
                }
            }
            decided.results.append(result)
        }
        return decided
    }

    /// Writes a decided round in `tx`: its entries, projection, messages and token changes; returns each command's
    /// outcome, the documents written and the directory's new version if it changed. `documents`, when given, are the
    /// touched documents already encoded from `state`.
    static func write(
        _ decided: Decided, of submissions: [SignoffService.Submission], state: SignoffState, documents: [String: String?]? = nil,
        in tx: any StorageTransaction, inject: (@Sendable (UnitOfWorkStep) throws -> Void)?
    ) throws -> (outcomes: [SignoffService.Outcome], written: Set<String>, changed: Int64?) {
        let entries = try tx.append(decided.drafts)
        let (written, changed) = try tx.recordProjection(of: decided.appended, entries: entries, state: state, documents: documents)
        try tx.enqueue(decided.outbox)
        try inject?(.appended)
        // Revocation takes effect with its entry: revoking a key ends the sessions obtained with it (a compromised
        // key's reach too: every `key.revoked`), disabling a principal ends all their tokens, a revoked token ends.
        // A service token is stored with the entry recording its issue.
        for (item, result) in zip(submissions, decided.results) {
            guard case .success(let events) = result else { continue }
            for event in events {
                switch event {
                case .keyRevoked(let e): _ = try tx.revokeTokens(principal: e.principal, keyFingerprint: Ed25519.PublicKey.fingerprintHex(e.fingerprint))
                case .principalDisabled(let e): _ = try tx.revokeTokens(principal: e.principal, keyFingerprint: nil)
                case .tokenRevoked(let e): _ = try tx.revokeToken(id: e.tokenID)
                // A disconnected directory's token ends with the entry.
                case .directoryDisconnected(let e): _ = try tx.revokeTokens(principal: ConnectedDirectory.actor(e.name), keyFingerprint: nil)
                default: break
                }
            }
            if let token = item.token { try tx.insertToken(token.record, tokenHash: token.hash) }
            if let write = item.directoryResource { try tx.writeDirectoryResource(write) }
        }
        try inject?(.tokensChanged)
        try inject?(.beforeCommit)
        // Hand each command the entries of its own events.
        var cursor = 0
        let outcomes = decided.results.map { result in
            result.map { events in
                defer { cursor += events.count }
                return Array(entries[cursor..<cursor + events.count])
            }
        }
        // Each key's answer, made from its command's entries, kept in the unit that records them.
        for (item, outcome) in zip(submissions, outcomes) {
            guard let call = item.idempotency, case .success(let entries) = outcome else { continue }
            try tx.insertIdempotencyRecord(
                IdempotencyRecord(principal: call.principal, key: call.key, fingerprint: call.fingerprint, createdAt: tx.now, answer: try call.answer(entries)))
        }
        return (outcomes, Set(written.keys), changed)
    }

    /// One round of the writer: decided ahead when it can be (see the type's comment), else inside its unit of work.
    func commit(_ submitted: GroupCommit<SignoffService.Submission, SignoffService.Outcome>.Round) async throws -> [SignoffService.Outcome] {
        if decidesAhead, let basis = basis() {
            let submissions = submitted.inputs()
            if submissions.allSatisfy({ $0.token == nil && $0.idempotency == nil && $0.directoryResource == nil }) {
                let before = decidedAhead.withLock { $0.again }
                if let outcomes = try await commitAhead(submissions, on: basis, releasing: submitted) { return outcomes }
                let outcomes = try await commitInside(submitted)
                // Decided ahead on a head another writer had moved: the whole state kept is brought to the head now, by
                // folding the entries since, so that the next rounds are decided ahead on it again (not only once a read
                // of the server's catches it up).
                if decidedAhead.withLock({ $0.again }) > before, let cached = full.withLock({ $0 }), let marker = try? await storage.projection.headMarker(),
                    marker != cached.marker
                {
                    _ = try? await caughtUp(cached, to: marker)
                }
                return outcomes
            }
        }
        return try await commitInside(submitted)
    }

    /// The whole state this process keeps (`cached`, as of its marker) brought to the head `marker` by folding the
    /// entries appended since (``SignoffService/caughtUp(_:to:)``).
    func caughtUp(_ cached: (marker: [UInt8], state: SignoffState), to marker: [UInt8]) async throws -> SignoffState? {
        guard cached.marker.count == 40, marker.count == 40 else { return nil }
        let from = cached.marker.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let to = marker.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard to > from, to - from <= 4096 else { return nil }
        let entries = try await storage.ledger.entries(from: from, limit: Int(to - from))
        guard entries.count == Int(to - from), entries.first?.sequence == from,
            var chain = try? SHA256Digest(bytes: Array(cached.marker.dropFirst(8)))
        else { return nil }
        var state = cached.state
        for entry in entries {
            chain = HashChain.next(previous: chain, leafHash: entry.leafHash)
            // An entry this version cannot read, or of a kind it does not know (a later Signoff's): not folded past, but read
            // afresh from the projection — which refuses a later version's (``ProjectionFormat``) instead of guessing.
            guard let event = try? Event.decode(kind: entry.kind, payload: entry.payload) else { return nil }
            state.apply(event, actor: entry.actor, at: entry.timeMilliseconds)
        }
        guard chain.bytes == Array(marker.dropFirst(8)) else { return nil }
        let caughtUp = state
        full.withLock { full in
            // Only over the head it started from: a newer one installed meanwhile stays.
            if full?.marker == cached.marker { full = (marker, caughtUp) }
        }
        return state
    }

    /// What the next round is decided on: the round decided ahead before it, or the committed whole state; nil when
    /// this process keeps neither.
    func basis() -> Basis? {
        if let ahead = ahead.withLock({ $0 }), ahead.usable { return ahead }
        return full.withLock { $0 }.map { Basis(committed: $0.marker, directory: $0.state.directory) }
    }

    /// Decides the round on `basis` outside the transaction, lets the next round start, and writes it as decided if
    /// the transaction finds what it was decided on; nil (nothing written) otherwise.
    func commitAhead(
        _ submissions: [SignoffService.Submission], on basis: Basis, releasing submitted: GroupCommit<SignoffService.Submission, SignoffService.Outcome>.Round
    ) async throws -> [SignoffService.Outcome]? {
        let reads = submissions.reduce(into: ReadSet()) { $0.formUnion($1.command.reads) }
        // The maintenance sweep reads every request: decided inside.
        if reads.requests == .all { return nil }
        let now = max(storage.ledger.now, basis.time)
        var state = basis.overlay
        // Statements used by earlier rounds are in the store, checked inside the transaction; within this round the
        // engine remembers the ones it uses.
        state.usedStatements = []
        if case .some(let ids) = reads.requests {
            let missing = ids.filter { state.requests[$0] == nil }.map { "request/" + $0 }
            if !missing.isEmpty {
                // Copied under the lock, so that no reference to the whole state outlives it (patching it after a commit
                // then copies nothing).
                // Only from a whole state of the head the round is decided on (or of the round before it, once patched in):
                // else, decided inside.
                let heads = basis.heads
                let copied = full.withLock { full -> Bool in
                    guard let full, heads.contains(full.marker) else { return false }
                    state.copy(missing, from: full.state)
                    return true
                }
                guard copied else { return nil }
            }
        }
        let decided = Self.decide(submissions, on: &state, now: now) { _ in nil }
        let keys = decided.appended.reduce(into: Set<String>()) { $0.formUnion(SignoffState.documentKeys(touchedBy: $1)) }
        let documents = Dictionary(uniqueKeysWithValues: keys.map { ($0, state.document(for: $0)) })
        let decidedState = state
        // The next round sees this one's directory and the requests it wrote; the whole state answers for the others.
        var overlay = state.directory
        overlay.copy(keys.filter { $0.hasPrefix("request/") }, from: state)
        let next = Basis(decided: overlay, at: now, on: basis)
        ahead.withLock { $0 = next }
        submitted.release()
        let inject = failure.withLock { $0 }
        let round: Round?
        do {
            round = try await storage.unitOfWork.write(at: now) { tx -> Round? in
                guard tx.now == now, let before = basis.marker, try tx.headMarker() == before, try tx.usedStatements(among: reads.statements).isEmpty else {
                    return nil
                }
                let (outcomes, written, changed) = try Self.write(decided, of: submissions, state: decidedState, documents: documents, in: tx, inject: inject)
                let marker = try tx.headMarker()
                next.settle(marker)
                return Round(
                    outcomes: outcomes, before: before, marker: marker, directoryVersion: try changed ?? tx.directoryVersion(),
                    directory: decidedState.directory, state: decidedState, written: written)
            }
        } catch {
            finish(next, failed: true)
            throw error
        }
        guard let round else {
            finish(next, failed: true)
            decidedAhead.withLock { $0.again += 1 }
            return nil
        }
        installed(round)
        finish(next, failed: false)
        decidedAhead.withLock { $0.written += 1 }
        return round.outcomes
    }

    /// A round decided ahead is over: it no longer stands for the next round's basis (the committed state does, or
    /// nothing when it failed).
    private func finish(_ basis: Basis, failed: Bool) {
        basis.finish(failed: failed)
        ahead.withLock { if $0 === basis { $0 = nil } }
    }

    /// One round decided inside its unit of work, on what it reads there. The round's commands are taken inside it
    /// (``GroupCommit/Round/inputs()``), once it holds the writers' lock.
    func commitInside(_ submitted: GroupCommit<SignoffService.Submission, SignoffService.Outcome>.Round) async throws -> [SignoffService.Outcome] {
        let cached = directory.withLock { $0 }
        let whole = full.withLock { $0 }
        let inject = failure.withLock { $0 }
        let round = try await storage.unitOfWork.write { tx -> Round in
            let submissions = submitted.inputs()
            let reads = submissions.reduce(into: ReadSet()) { $0.formUnion($1.command.reads) }
            let now = tx.now
            // Bounded reads: the directory (decoded again only if the head moved), the requests and statements named.
            var state: SignoffState
            let before = try tx.headMarker()
            var directoryVersion = try tx.directoryVersion()
            if let cached, cached.version == directoryVersion {
                state = cached.state
            } else {
                state = try SignoffState(documents: tx.documents(DocumentRead(directory: true, requests: .none)))
            }
            // The request counter is not part of the directory's version: read afresh (filing assigns the next ID).
            if let counter = try tx.document(SignoffState.requestCounterDocument) {
                try state.load(documents: [SignoffState.requestCounterDocument: counter])
            } else {
                state.requestCounter = 0
            }
            // The requests read: from the whole state this process keeps when it is of this very head (no decoding),
            // else from their documents.
            if let whole, whole.marker == before {
                switch reads.requests {
                case .none: break
                case .some(let ids): state.copy(ids.map { "request/" + $0 }, from: whole.state)
                case .all: state.copy(whole.state.requests.keys.map { "request/" + $0 }, from: whole.state)
                }
            } else if reads.requests != .none {
                try state.load(documents: tx.documents(DocumentRead(directory: false, requests: reads.requests)))
            }
            state.usedStatements = try tx.usedStatements(among: reads.statements)

            // Keys claimed in this round: two calls with one key never both run (the second is told to retry).
            var claimed: Set<[String]> = []
            let decided = try Self.decide(submissions, on: &state, now: now) { item in
                guard let call = item.idempotency else { return nil }
                guard claimed.insert([call.principal, call.key]).inserted, try tx.idempotencyRecord(principal: call.principal, key: call.key) == nil else {
                    return Refusal(
                        .idempotencyInUse, "another call with Idempotency-Key \(call.key) was recorded at the same moment; retry to get its answer")
                }
                return nil
            }
            let (outcomes, written, changed) = try Self.write(decided, of: submissions, state: state, in: tx, inject: inject)
            if let changed { directoryVersion = changed }
            return Round(
                outcomes: outcomes, before: before, marker: try tx.headMarker(), directoryVersion: directoryVersion, directory: state.directory, state: state,
                written: written)
        }
        installed(round)
        return round.outcomes
    }

    /// After a round committed: the directory it leaves cached, and the whole state this process keeps patched with
    /// what the round wrote — when it was current.
    ///
    /// Rounds are patched in in the order they committed: a round whose task resumes before the one that committed
    /// before it waits (`waiting`, keyed by the head it starts from) until that one is in, so that the whole state is
    /// never of a head with a round's writes missing.
    private func installed(_ round: Round) {
        directory.withLock { Committer.keepNewer(&$0, (round.directoryVersion, round.directory)) }
        full.withLock { full in
            guard var current = full else { return }
            guard current.marker == round.before else {
                // The round before it committed first and is not patched in yet: this one waits for it. Of an older head
                // otherwise (another instance or process wrote in between): kept, never served as it is — every read
                // compares its marker with the head — and brought up to date by the next read, which folds the entries
                // since, this round's among them (``SignoffService/caughtUp(_:to:)``).
                if current.marker.prefix(8).lexicographicallyPrecedes(round.before.prefix(8)) {
                    waiting.withLock { waiting in
                        if waiting.count >= 8 { waiting.removeAll() }
                        waiting[round.before] = round
                    }
                }
                return
            }
            // Patched in place: with the cache's own reference dropped first, the state's tables are not copied whole
            // (unless a reader still holds this version).
            full = nil
            var next: Round? = round
            while let patch = next {
                current.state.copy(patch.written, from: patch.state)
                current.marker = patch.marker
                next = waiting.withLock { $0.removeValue(forKey: patch.marker) }
            }
            full = current
        }
    }
}

extension SignoffService {
    /// The state as the ledger says at `time`: its entries up to and including that time, folded (a replay; the whole
    /// state at a past time is not kept).
    public func state(at time: Int64) async throws -> SignoffState {
        var state = SignoffState()
        var next: UInt64 = 0
        while true {
            let entries = try await ledger.entries(from: next, limit: 2048)
            for entry in entries {
                guard entry.timeMilliseconds <= time else { return state }
                if let event = try Event.decode(kind: entry.kind, payload: entry.payload) { state.apply(event, actor: entry.actor, at: entry.timeMilliseconds) }
            }
            guard let last = entries.last else { return state }
            next = last.sequence + 1
        }
    }

    /// The access review of `project` (``AccessReview``): who can act now, who could at `at`, what was done from
    /// `from` until before `to`.
    public func accessReview(project: String, environment: String?, at: Int64?, from: Int64?, to: Int64?) async throws -> (
        now: (Int64, [AccessReview.Duty]), then: (Int64, [AccessReview.Duty])?, period: (Int64, Int64, [AccessReview.Action])?
    ) {
        let current = try await state()
        let time = now
        var then: (Int64, [AccessReview.Duty])?
        if let at { then = (at, AccessReview.duties(project: project, environment: environment, state: try await state(at: at), at: at)) }
        var period: (Int64, Int64, [AccessReview.Action])?
        if from != nil || to != nil {
            let start = from ?? 0, end = to ?? time
            period = (start, end, AccessReview.actions(project: project, environment: environment, state: current, from: start, to: end))
        }
        return ((time, AccessReview.duties(project: project, environment: environment, state: current, at: time)), then, period)
    }

    /// What `command` by `actor` would leave nobody (or too few) to act on, decided on the state now (``Staffing``);
    /// empty for the commands that change no one's reach.
    public func staffingGaps(_ command: Command, as actor: String) async throws -> [Staffing.Gap] {
        switch command {
        case .createProject, .updateProject, .disablePrincipal, .removeMember:
            return Staffing.opened(by: command, state: try await state(), actor: actor, now: now) ?? []
        default: return []
        }
    }

    /// The tokens `actor` may see: an administrator (acting with their own session, `asAdministrator`) every one,
    /// anyone else their own.
    public func tokens(visibleTo actor: String, asAdministrator: Bool) async throws -> [TokenRecord] {
        let isAdministrator = try await state().principals[actor]?.isAdministrator == true
        return try await auth.tokens(principal: asAdministrator && isAdministrator ? nil : actor, now: now)
    }

    /// Revokes token `id` for `actor`: their own plainly; another principal's only as an administrator (acting with
    /// their own session, `asAdministrator`), as an administrative change — recorded in the ledger and, in a regulated
    /// ledger, signed (`approval`). Nil when there is no such token `actor` may revoke; the engine's refusal when it
    /// refuses.
    public func revokeToken(_ id: String, by actor: String, asAdministrator: Bool, approval: DSSEEnvelope? = nil) async throws -> Result<TokenRecord, Refusal>? {
        guard let token = try await auth.token(id: id) else { return nil }
        if token.principal == actor {
            _ = try await auth.revokeToken(id: id, now: now)
            return .success(token)
        }
        guard asAdministrator, try await state().principals[actor]?.isAdministrator == true else { return nil }
        // Revoked already: nothing to change, and nothing to record again.
        if token.revokedAt != nil { return .success(token) }
        switch try await execute(.revokeToken(id: id, principal: token.principal, approval: approval), as: actor) {
        case .success: return .success(token)
        case .failure(let refusal): return .failure(refusal)
        }
    }
}

extension EntryDraft {
    /// The entry for `event`, its header naming the request's project and environment as `state` (after the event) has them.
    public init(_ event: Event, actor: String, on state: SignoffState) {
        let scope = state.entryScope(of: event)
        self.init(kind: event.kind, project: scope.project, environment: scope.environment, actor: actor, payload: event.payload)
        request = event.request
    }
}
