import Foundation
import GRDB
import SignoffCrypto
import SignoffLedger
@testable import SignoffStore
import SignoffTestSupport
import Testing
import Synchronization
import SignoffService
import SignoffAudit

/// A fresh ledger database in a temporary directory.
struct LedgerFixture {
    let directory: URL
    let path: String
    let key: Ed25519.SigningKey
    let storage: SignoffStorage
    let store: SQLiteLedgerStore
    /// Signs checkpoints as the service does after its commits (``fill(_:batch:)`` tells it of each append).
    let publisher: LogPublisher
    var verifierKey: NoteVerifierKey { store.verifierKey }

    init(checkpointEvery: UInt64 = 100, everySeconds: Int64 = 3600, clock: (@Sendable () -> Int64)? = nil) throws {
        directory = try TestSupport.temporaryDirectory("signoff-store")
        path = directory.appendingPathComponent("ledger.sqlite").path
        key = Ed25519.SigningKey()
        var configuration = SQLiteLedgerStore.Configuration()
        configuration.checkpointPolicy = CheckpointPolicy(everyEntries: checkpointEvery, everySeconds: everySeconds, milestoneEvery: checkpointEvery)
        if let clock { configuration.clock = clock }
        storage = try SQLiteStorage.create(path: path, origin: "signoff.test/ledger", signingKey: key, configuration: configuration)
        store = storage.ledger as! SQLiteLedgerStore
        publisher = LogPublisher(ledger: store, signer: storage.signer, policy: configuration.checkpointPolicy)
    }

    func fill(_ count: Int, batch: Int = 50) async throws {
        var i = 0
        while i < count {
            let n = min(batch, count - i)
            let entries = try await store.append((i..<i + n).map { EntryDraft(kind: "test.event", actor: "user\($0 % 7)", payload: Array("{\"n\":\($0)}".utf8)) })
            if let last = entries.last { try await publisher.appended(size: last.sequence + 1, at: last.timeMilliseconds) }
            i += n
        }
    }

    /// A second connection that bypasses the library, as an attacker with file access would.
    func attacker() throws -> DatabaseQueue { try DatabaseQueue(path: path) }

    func verify() async throws -> VerificationReport {
        try await store.verifyAll(trustedKey: verifierKey, allowUncoveredTail: false, progress: nil)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("SQLite ledger store")
struct LedgerStoreTests {
    @Test("The SQL in schema/sqlite matches the migrations the store applies, every file of it and in order")
    func schemaFilesMatch() throws {
        for migration in SQLiteSchema.migrations {
            let url = TestSupport.projectRoot.appendingPathComponent("schema/sqlite/\(migration.name).sql")
            #expect(try String(contentsOf: url, encoding: .utf8) == migration.sql + "\n", "\(url.path) differs from the embedded migration \(migration.name): run scripts/embed-schema.py")
        }
        // A new migration file is applied only once embedded.
        let files = try FileManager.default.contentsOfDirectory(atPath: TestSupport.projectRoot.appendingPathComponent("schema/sqlite").path)
            .filter { $0.hasSuffix(".sql") }.map { String($0.dropLast(".sql".count)) }.sorted()
        #expect(SQLiteSchema.migrations.map(\.name) == files, "schema/sqlite has \(files), the store applies \(SQLiteSchema.migrations.map(\.name)): run scripts/embed-schema.py")
    }

    /// Counts what it signs for the signer it wraps.
    final class CountingSigner: Signer {
        let inner: any Signer
        let signed = Mutex(0)
        init(_ inner: any Signer) { self.inner = inner }
        var verifierKey: NoteVerifierKey { inner.verifierKey }
        func open() throws { try inner.open() }
        func sign(_ checkpoint: Checkpoint) throws -> SignedCheckpoint {
            signed.withLock { $0 += 1 }
            return try inner.sign(checkpoint)
        }
        func signManifest(_ manifest: [UInt8]) throws -> [UInt8] { try inner.signManifest(manifest) }
        func derivedSecret(purpose: String) throws -> [UInt8] { try inner.derivedSecret(purpose: purpose) }
    }

    @Test("A hundred appends crossing the checkpoint threshold together sign one checkpoint, not a hundred")
    func publishingIsSingleFlight() async throws {
        let fixture = try LedgerFixture(checkpointEvery: 1000)
        defer { fixture.remove() }
        try await fixture.fill(10)
        let signer = CountingSigner(fixture.storage.signer!)
        let publisher = LogPublisher(ledger: fixture.store, signer: signer, policy: CheckpointPolicy(everyEntries: 50, everySeconds: 3600, milestoneEvery: 1000))
        try await publisher.publish(force: true)  // the fixture's publisher signed the 10 entries: nothing to sign
        #expect(signer.signed.withLock { $0 } == 0)
        let entries = try await fixture.store.append((0..<100).map { EntryDraft(kind: "test.event", actor: "user", payload: Array("{\"n\":\($0)}".utf8)) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for entry in entries { group.addTask { try await publisher.appended(size: entry.sequence + 1, at: entry.timeMilliseconds) } }
            try await group.waitForAll()
        }
        // The first caller past the threshold signs (the tree as it stands: all 110 entries); the others leave it to it.
        #expect(signer.signed.withLock { $0 } == 1)
        #expect(try await fixture.store.latestCheckpoint()?.checkpoint.size == 110)
        // The next append past the threshold signs again.
        let more = try await fixture.store.append((0..<60).map { EntryDraft(kind: "test.event", actor: "user", payload: Array("{\"m\":\($0)}".utf8)) })
        try await publisher.appended(size: more.last!.sequence + 1, at: more.last!.timeMilliseconds)
        #expect(signer.signed.withLock { $0 } == 2)
        #expect(try await fixture.store.latestCheckpoint()?.checkpoint.size == 170)
    }

    @Test("WAL mode and synchronous=FULL are in force on the writer connection")
    func durabilitySettings() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.remove() }
        // The writer is the connection that commits appends: it is the one that must sync every commit.
        let (journal, synchronous) = try await fixture.store.pool.write { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(journal == "wal")
        #expect(synchronous == 2)  // FULL
        let reopened = try SQLiteLedgerStore.open(path: fixture.path)
        #expect(try await reopened.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
    }

    @Test("Appends are numbered from 0; roots and proofs from stored nodes match the in-memory tree")
    func appendAndProve() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.remove() }
        try await fixture.fill(777)
        #expect(try await fixture.store.size() == 777)
        var leaves: [SHA256Digest] = []
        for i in 0..<777 {
            let entry = try await fixture.store.entry(at: UInt64(i))
            #expect(entry.sequence == UInt64(i))
            leaves.append(entry.leafHash)
        }
        for size in [1, 2, 3, 100, 511, 512, 513, 777] {
            #expect(try await fixture.store.rootHash(size: UInt64(size)) == Merkle.rootHash(leaves: Array(leaves[..<size])))
        }
        let root = try await fixture.store.rootHash(size: 777).bytes
        for index in [0, 1, 376, 511, 512, 776] {
            let proof = try await fixture.store.inclusionProof(index: UInt64(index), size: 777).map(\.bytes)
            try MerkleVerifier.verifyInclusion(leafHash: leaves[index].bytes, index: UInt64(index), size: 777, proof: proof, root: root)
        }
        for old in [1, 5, 100, 512, 776] {
            let proof = try await fixture.store.consistencyProof(from: UInt64(old), to: 777).map(\.bytes)
            let oldRoot = try await fixture.store.rootHash(size: UInt64(old)).bytes
            try MerkleVerifier.verifyConsistency(oldSize: UInt64(old), newSize: 777, proof: proof, oldRoot: oldRoot, newRoot: root)
        }
        await #expect(throws: LedgerError.self) { try await fixture.store.inclusionProof(index: 0, size: 778) }
        await #expect(throws: LedgerError.self) { try await fixture.store.entry(at: 777) }
    }

    @Test("Checkpoints are signed every N entries, and by time when entries are few (the oldest uncovered entry's age)")
    func checkpointPolicy() async throws {
        let now = Clock()
        let fixture = try LedgerFixture(checkpointEvery: 10, everySeconds: 60, clock: { now.value })
        defer { fixture.remove() }
        try await fixture.fill(25, batch: 1)
        #expect(try await fixture.store.latestCheckpoint()?.checkpoint.size == 21)  // first entry, then every 10
        now.advance(seconds: 61)
        try await fixture.fill(1, batch: 1)
        let latest = try #require(try await fixture.store.latestCheckpoint())
        #expect(latest.checkpoint.size == 26)
        _ = try SignedCheckpoint(verifying: latest.serialized, with: fixture.verifierKey)
        #expect(latest.checkpoint.rootHash == (try await fixture.store.rootHash(size: 26)))
        // signCheckpoint covers the tail on demand, and does nothing when the tree is already covered.
        try await fixture.fill(3, batch: 1)
        #expect(try await fixture.publisher.publish()?.checkpoint.size == 29)
        #expect(try await fixture.publisher.publish()?.checkpoint.size == 29)
        // The time rule counts from the oldest entry no checkpoint covers, not from the last signing.
        now.advance(seconds: 61)
        try await fixture.fill(1, batch: 1)
        #expect(try await fixture.store.latestCheckpoint()?.checkpoint.size == 29)
        now.advance(seconds: 61)
        try await fixture.fill(1, batch: 1)
        #expect(try await fixture.store.latestCheckpoint()?.checkpoint.size == 31)
        #expect(try await fixture.verify().isValid)
    }

    @Test("Without the ledger key the store appends but signs nothing, and verification reports the uncovered tail")
    func noSigningKey() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.remove() }
        try await fixture.fill(5)
        let readOnlyKey = try SQLiteLedgerStore.open(path: fixture.path)
        _ = try await readOnlyKey.append([EntryDraft(kind: "k", actor: "a", payload: [])])
        #expect(try await LogPublisher(ledger: readOnlyKey, signer: nil, policy: CheckpointPolicy()).publish()?.checkpoint.size == 5)
        let report = try await fixture.verify()
        #expect(report.failure?.kind == .uncoveredEntries)
        #expect(report.failure?.sequence == 5)
        #expect(throws: LedgerError.self) { try SQLiteStorage.open(path: fixture.path, signingKey: Ed25519.SigningKey()) }
    }

    @Test("Group commit: 400 concurrent appends get distinct sequence numbers in fewer transactions, chain intact")
    func groupCommit() async throws {
        let fixture = try LedgerFixture(checkpointEvery: 1000)
        defer { fixture.remove() }
        let writer = LedgerWriter(store: fixture.store)
        let sequences = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for i in 0..<400 {
                group.addTask { try await writer.append(EntryDraft(kind: "c", actor: "task\(i)", payload: Array("\(i)".utf8))).sequence }
            }
            return try await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(Set(sequences) == Set(0..<400))
        let transactions = await writer.transactions
        #expect(transactions < 400)
        _ = try await fixture.publisher.publish()
        let report = try await fixture.verify()
        #expect(report.isValid, "\(report.failure?.message ?? "")")
        #expect(report.entries == 400)
    }

    @Test("A bad draft in a batch fails alone; the others are committed")
    func badDraftIsolated() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.remove() }
        let writer = LedgerWriter(store: fixture.store)
        let good1 = Task { try await writer.append(EntryDraft(kind: "ok", actor: "a", payload: [])) }
        let bad = Task { try await writer.append(EntryDraft(kind: "", actor: "a", payload: [])) }
        let good2 = Task { try await writer.append(EntryDraft(kind: "ok", actor: "b", payload: [])) }
        _ = try await (good1.value, good2.value)
        await #expect(throws: LedgerError.self) { try await bad.value }
        #expect(try await fixture.store.size() == 2)
    }

    @Test("Two stores on one file (CLI and server) never fork the chain")
    func twoWriters() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.remove() }
        let second = try SQLiteLedgerStore.open(path: fixture.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<60 {
                let store: SQLiteLedgerStore = i % 2 == 0 ? fixture.store : second
                group.addTask { _ = try await store.append([EntryDraft(kind: "k", actor: "a\(i)", payload: [])]) }
            }
            try await group.waitForAll()
        }
        try await fixture.publisher.publish()
        let report = try await fixture.verify()
        #expect(report.isValid, "\(report.failure?.message ?? "")")
        #expect(report.entries == 60)
    }
}

final class Clock: @unchecked Sendable {
    private let lock = NSLock()
    private var milliseconds: Int64 = 1_790_000_000_000
    var value: Int64 { lock.withLock { milliseconds } }
    func advance(seconds: Int64) { lock.withLock { milliseconds += seconds * 1000 } }
}

@Suite("Auth tables")
struct AuthTableTests {
    @Test("The challenge table is bounded: a flood of challenges keeps at most 10,000 rows, the newest")
    func boundedChallenges() async throws {
        let fixture = try LedgerFixture()
        defer { fixture.remove() }
        let auth = Authenticator(store: fixture.storage.auth, clock: { fixture.store.now })
        var last: [UInt8] = []
        for _ in 0..<10_050 { last = try await auth.createChallenge(for: "ada").nonce }
        let rows = try await fixture.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM auth_challenge") ?? 0 }
        #expect(rows <= 10_000 && rows >= 9_000, "\(rows) rows")
        #expect(try await auth.consumeChallenge(last, for: "ada"), "the newest challenge is kept")
    }
}

@Suite("SQLite projection table")
struct ProjectionTableTests {
    @Test("A database made before migration 0015 keeps every projection row, now in a rowid table with its key unique")
    func projectionBecomesRowidTable() async throws {
        let directory = try TestSupport.temporaryDirectory("signoff-projection-table")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("old.sqlite").path
        let key = try NoteVerifierKey(name: "signoff.test/old", publicKey: Ed25519.SigningKey().publicKey)
        // The schema as it was before 0015, with documents short and long (a long one spilled to an overflow page).
        let rows = ["meta/format": "6", "principal/ada": "{\"name\":\"ada\"}", "request/REQ-1": "{\"note\":\"" + String(repeating: "x", count: 3000) + "\"}"]
        do {
            let queue = try DatabaseQueue(path: path)
            var migrator = DatabaseMigrator()
            for migration in SQLiteSchema.migrations.prefix(while: { $0.name < "0015" }) {
                migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
            }
            try migrator.migrate(queue)
            try await queue.write { db in
                #expect(try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'projection'")?.contains("WITHOUT ROWID") == true)
                try db.execute(sql: "INSERT INTO ledger_meta (key, value) VALUES ('origin', ?), ('verifier_key', ?)", arguments: [key.name, key.description])
                for (k, document) in rows { try db.execute(sql: "INSERT INTO projection (key, document) VALUES (?, ?)", arguments: [k, document]) }
            }
            try queue.close()
        }
        _ = try SQLiteStorage.open(path: path)  // applies 0015
        let queue = try DatabaseQueue(path: path)
        try await queue.read { db in
            let sql = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_schema WHERE name = 'projection'") ?? ""
            #expect(!sql.contains("WITHOUT ROWID"), "still a WITHOUT ROWID table: \(sql)")
            let kept = try Row.fetchAll(db, sql: "SELECT key, document FROM projection").reduce(into: [String: String]()) { $0[$1[0]] = $1[1] }
            #expect(kept == rows)
        }
        // Its key is still unique: a second row for a key is refused.
        await #expect(throws: DatabaseError.self) {
            try await queue.write { db in try db.execute(sql: "INSERT INTO projection (key, document) VALUES ('principal/ada', '{}')") }
        }
        try queue.close()
    }
}
