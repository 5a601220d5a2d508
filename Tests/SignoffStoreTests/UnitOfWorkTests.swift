import Foundation
import GRDB
import SignoffCore
import SignoffCrypto
import SignoffLedger
@_spi(Testing) import SignoffService
@testable import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Synchronization
import Testing

/// One unit of work (issue 24): everything a command changes commits, or none of it does — shown by failing it on
/// purpose at each step, on a real SQLite file and a real PostgreSQL database.
@Suite("Unit of work")
struct UnitOfWorkTests {
    struct Injected: Error {}

    /// A session token of `principal` obtained with `key`, stored as login stores it.
    static func session(_ f: EngineFixture, _ principal: String, key: Ed25519.SigningKey) async throws -> (token: String, record: TokenRecord) {
        let auth = Authenticator(store: f.database.auth, clock: { f.clock.value })
        return try await auth.issueToken(
            for: principal, kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000, keyFingerprint: key.publicKey.fingerprint)
    }

    @Test("A failure after a revocation's entry is written leaves neither the entry nor the token change; without it, both", arguments: TestBackend.allCases)
    func revocationIsAtomic(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let person = Cast.requester.name
        let key = f.keys[person]!
        let (token, record) = try await Self.session(f, person, key: key)
        let hash = SHA256Digest.hash(Array(token.utf8))
        #expect(try await f.database.auth.token(hash: hash, now: f.clock.value)?.id == record.id)
        let command = Command.revokeKey(principal: person, fingerprint: key.publicKey.fingerprint)
        for step in UnitOfWorkStep.allCases {
            let size = try await f.store.storage.ledger.size()
            f.database.injectFailure { if $0 == step { throw Injected() } }
            await #expect(throws: Injected.self, "failed at \(step)") { _ = try await f.database.execute(command, as: Cast.administrator.name) }
            f.database.injectFailure(nil)
            #expect(try await f.store.storage.ledger.size() == size, "no entry after a failure at \(step)")
            #expect(try await f.database.auth.token(hash: hash, now: f.clock.value) != nil, "the session still works after a failure at \(step)")
            #expect(try await f.database.state().principals[person]?.keys.first?.revokedAt == nil)
        }
        let entries = try await f.must(command, as: Cast.administrator.name)
        #expect(entries.map(\.kind) == ["key.revoked"])
        #expect(try await f.database.auth.token(hash: hash, now: f.clock.value) == nil, "the session ended with the entry")
        try await f.database.signCheckpoint()
        #expect(try await f.verifyEverything() == nil)
    }

    @Test("A service token is stored with the entry recording its issue: a failure leaves neither; without it, both", arguments: TestBackend.allCases)
    func serviceTokenIsAtomic(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let auth = Authenticator(store: f.database.auth, clock: { f.clock.value })
        let minted = auth.mint(for: Cast.ci.name, kind: .service, scopes: ["evidence:\(Cast.project)"], lifetimeMilliseconds: 3_600_000)
        let command = Command.issueServiceToken(tokenID: minted.record.id, principal: Cast.ci.name, scopes: minted.record.scopes, lifetimeHours: 1)
        let size = try await f.store.storage.ledger.size()
        f.database.injectFailure { if $0 == .tokensChanged { throw Injected() } }
        await #expect(throws: Injected.self) { _ = try await f.database.execute(command, as: Cast.administrator.name, storing: minted) }
        f.database.injectFailure(nil)
        #expect(try await f.store.storage.ledger.size() == size, "no issue recorded")
        #expect(try await f.database.auth.token(id: minted.record.id) == nil, "no token stored")
        #expect(try await auth.validate(token: minted.token) == nil)

        guard case .success(let entries) = try await f.database.execute(command, as: Cast.administrator.name, storing: minted) else {
            Issue.record("the issue was refused")
            return
        }
        #expect(entries.map(\.kind) == ["token.issued"])
        #expect(try await auth.validate(token: minted.token)?.id == minted.record.id)

        // A refused command stores no token either.
        let other = auth.mint(for: "nobody", kind: .service, scopes: ["evidence:\(Cast.project)"], lifetimeMilliseconds: 3_600_000)
        let refused = try await f.database.execute(
            .issueServiceToken(tokenID: other.record.id, principal: "nobody", scopes: other.record.scopes, lifetimeHours: 1), as: Cast.administrator.name,
            storing: other)
        guard case .failure = refused else {
            Issue.record("a token for an unknown account was issued")
            return
        }
        #expect(try await f.database.auth.token(id: other.record.id) == nil)
    }

    /// The writer's thread runs a unit of work at nice −10 where the process may raise a thread's priority (these tests
    /// run as root in CI: then it must), and gives it back when the transaction ends, committed or rolled back.
    @Test("The writer's thread is raised while it commits a unit of work (root may), and put back after a commit and after a rollback")
    func writerPriority() async throws {
        let mayRaise = getuid() == 0
        // On this thread: raised, then restored by what the transaction's end calls.
        let before = WriterPriority.current
        var restore: (@Sendable () -> Void)?
        let raised = WriterPriority.raise { restore = $0 }
        if mayRaise { #expect(raised && WriterPriority.current == WriterPriority.raised) }
        #expect(raised == (restore != nil))
        restore?()
        #expect(WriterPriority.current == before)
        // Inside a unit of work on SQLite: raised for its body; on the same thread after its commit or rollback, back.
        let f = try LedgerFixture()
        defer { f.remove() }
        for fails in [false, true] {
            let seen = Mutex<(during: Int32, after: Int32?)>((0, nil))
            do {
                try await f.storage.unitOfWork.write { tx in
                    _ = try tx.append([EntryDraft(kind: "test.event", actor: "a", payload: [])])
                    seen.withLock { $0.during = WriterPriority.current }
                    // Registered after the unit of work's own: runs after it, on the same thread.
                    (tx as! SQLiteTransaction).db.afterNextTransaction { _ in seen.withLock { $0.after = WriterPriority.current } } onRollback: { _ in
                        seen.withLock { $0.after = WriterPriority.current }
                    }
                    if fails { throw Injected() }
                }
                #expect(!fails)
            } catch is Injected { #expect(fails) }
            let (during, after) = seen.withLock { $0 }
            if mayRaise { #expect(during == WriterPriority.raised, "fails: \(fails)") }
            #expect(after != nil && after != WriterPriority.raised, "fails: \(fails): the thread keeps nice \(after ?? 99) after the transaction")
        }
    }

    @Test("Replay protection is a unique constraint kept for the freshness window: a second use fails the transaction; old rows are forgotten")
    func usedStatementConstraint() async throws {
        let f = try LedgerFixture()
        defer { f.remove() }
        let digest = SHA256Digest.hash("a statement")
        let window = DecisionStatement.replayWindowMilliseconds
        let first = try await f.storage.unitOfWork.write { tx in
            _ = try tx.append([EntryDraft(kind: "test.event", actor: "a", payload: [])])
            try tx.recordStatements([digest], until: tx.now + window)
            return tx.now
        }
        await #expect(throws: (any Error).self) {
            try await f.storage.unitOfWork.write { tx in
                _ = try tx.append([EntryDraft(kind: "test.event", actor: "a", payload: [])])
                try tx.recordStatements([digest], until: tx.now + window)
            }
        }
        #expect(try await f.store.size() == 1, "the second transaction rolled back whole")
        #expect(try await f.storage.unitOfWork.write { tx in try tx.usedStatements(among: [digest, SHA256Digest.hash("other")]) } == [digest])
        // Past its window, the row is forgotten at the next recording.
        let forgotten = try await f.store.pool.write { db -> Int in
            try db.execute(sql: "UPDATE used_statement SET until_ms = ?", arguments: [first - 1])
            let tx = try SQLiteTransaction(db: db, ledger: f.store)
            try tx.recordStatements([SHA256Digest.hash("next")], until: tx.now + window)
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM used_statement WHERE digest = ?", arguments: [Data(digest.bytes)]) ?? -1
        }
        #expect(forgotten == 0)
    }

    @Test("Entry times come from inside the transaction and never decrease, even when the clock goes back")
    func timesNeverDecrease() async throws {
        let clock = Clock()
        let f = try LedgerFixture(clock: { clock.value })
        defer { f.remove() }
        try await f.fill(3, batch: 1)
        clock.advance(seconds: -3600)
        try await f.fill(3, batch: 1)
        var times: [Int64] = []
        for sequence in 0..<6 { times.append(try await f.store.entry(at: UInt64(sequence)).timeMilliseconds) }
        #expect(times == times.sorted(), "\(times)")
        #expect(Set(times).count == 1, "the clock went back an hour: the later entries keep the newest entry's time")
        try await f.publisher.publish()
        #expect(try await f.verify().isValid)
    }
}
