import Foundation
import GRDB
import SignoffCrypto
import SignoffLedger
import SignoffStore
import SignoffService
import Testing

/// Tampering with a real SQLite file behind the library's back, as an attacker with file access would.
/// Every change must be detected and must name the first bad sequence number or the bad checkpoint.
@Suite("Tamper detection")
struct TamperTests {
    static let size = 1000

    static func fixture() async throws -> LedgerFixture {
        let fixture = try LedgerFixture(checkpointEvery: 100)
        try await fixture.fill(size)
        try await fixture.publisher.publish()
        let report = try await fixture.verify()
        try #require(report.isValid, "the untouched ledger must verify: \(report.failure?.message ?? "")")
        #expect(report.checkpoints == 10)  // milestones 100, 200, ..., 1000; those signed at 50, 150, ..., 950 were superseded
        return fixture
    }

    static func expectFailure(
        _ fixture: LedgerFixture, _ kind: LedgerVerificationFailure.Kind, sequence: UInt64?, checkpointSize: UInt64? = nil
    ) async throws {
        let report = try await fixture.verify()
        let failure = try #require(report.failure, "tampering went undetected")
        #expect(failure.kind == kind, "\(failure.message)")
        #expect(failure.sequence == sequence, "\(failure.message)")
        // Without an expected checkpoint, the failure must not name one either (it is about an entry or a node).
        #expect(failure.checkpointSize == checkpointSize, "\(failure.message)")
        #expect(!failure.message.isEmpty)
    }

    @Test("Changing one payload byte is detected at that entry")
    func payloadByte() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in
            try db.execute(sql: "UPDATE ledger_entry SET entry = CAST(substr(entry, 1, length(entry) - 1) || X'58' AS BLOB) WHERE sequence = 500")
        }
        try await Self.expectFailure(f, .leafHashMismatch, sequence: 500)
    }

    @Test("Changing a payload and recomputing its leaf and every later chain hash is still detected, in the 16-entry subtree that holds it")
    func payloadWithRecomputedHashes() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in
            let original = try LedgerEntry(decoding: [UInt8](try Data.fetchOne(db, sql: "SELECT entry FROM ledger_entry WHERE sequence = 500")!))
            let forged = try LedgerEntry(
                sequence: 500, timeMilliseconds: original.timeMilliseconds, kind: original.kind, actor: original.actor, payload: Array("{\"n\":-1}".utf8))
            try db.execute(
                sql: "UPDATE ledger_entry SET entry = ?, leaf_hash = ? WHERE sequence = 500", arguments: [Data(forged.encoded), Data(forged.leafHash.bytes)])
            var chain = try SHA256Digest(bytes: [UInt8](try Data.fetchOne(db, sql: "SELECT chain_hash FROM ledger_entry WHERE sequence = 499")!))
            for row in try Row.fetchAll(db, sql: "SELECT sequence, leaf_hash FROM ledger_entry WHERE sequence >= 500 ORDER BY sequence") {
                chain = HashChain.next(previous: chain, leafHash: try SHA256Digest(bytes: [UInt8](row[1] as Data)))
                try db.execute(sql: "UPDATE ledger_entry SET chain_hash = ? WHERE sequence = ?", arguments: [Data(chain.bytes), row[0] as Int64])
            }
        }
        // The leaves and chain are self-consistent now; the stored level-4 subtree over entries 496–511 is what differs.
        try await Self.expectFailure(f, .nodeMismatch, sequence: 496)
        #expect(try await f.verify().failure?.message.contains("entries 496–511") == true)
    }

    @Test("Deleting a row is detected at that sequence number")
    func deleteRow() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in try db.execute(sql: "DELETE FROM ledger_entry WHERE sequence = 300") }
        try await Self.expectFailure(f, .sequenceGap, sequence: 300)
    }

    @Test("Swapping two rows is detected at the first of them")
    func swapRows() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in
            try db.execute(sql: "UPDATE ledger_entry SET sequence = 1000000 WHERE sequence = 200")
            try db.execute(sql: "UPDATE ledger_entry SET sequence = 200 WHERE sequence = 201")
            try db.execute(sql: "UPDATE ledger_entry SET sequence = 201 WHERE sequence = 1000000")
        }
        try await Self.expectFailure(f, .entryMismatch, sequence: 200)
    }

    /// Appends a well-formed entry after entry 999 with the attacker's own hashes, at `time`.
    static func forgeTail(_ f: LedgerFixture, time: Int64) async throws {
        try await f.attacker().write { db in
            let chain = try SHA256Digest(bytes: [UInt8](try Data.fetchOne(db, sql: "SELECT chain_hash FROM ledger_entry WHERE sequence = 999")!))
            let forged = try LedgerEntry(sequence: 1000, timeMilliseconds: time, kind: "decision.recorded", actor: "mallory", payload: Array("{}".utf8))
            try db.execute(
                sql: "INSERT INTO ledger_entry (sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash) VALUES (1000, ?, ?, ?, ?, ?, ?)",
                arguments: [time, forged.kind, forged.actor, Data(forged.encoded), Data(forged.leafHash.bytes),
                    Data(HashChain.next(previous: chain, leafHash: forged.leafHash).bytes)])
        }
    }

    @Test("Inserting a well-formed row at the end is detected: no signed checkpoint covers it")
    func insertRow() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await Self.forgeTail(f, time: try await f.store.entry(at: 999).timeMilliseconds)
        try await Self.expectFailure(f, .uncoveredEntries, sequence: 1000)
    }

    @Test("An entry dated before the entry it follows is detected, even with its hashes made right: times never decrease")
    func timeGoesBack() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await Self.forgeTail(f, time: try await f.store.entry(at: 999).timeMilliseconds - 1)
        try await Self.expectFailure(f, .timeDecreased, sequence: 1000)
    }

    @Test("Truncating the tail is detected: a signed checkpoint covers entries that are gone")
    func truncateTail() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in
            try db.execute(sql: "DELETE FROM ledger_entry WHERE sequence >= 950")
            try db.execute(sql: "DELETE FROM merkle_node WHERE last_sequence >= 950")
        }
        try await Self.expectFailure(f, .checkpointBeyondLedger, sequence: 950, checkpointSize: 1000)
    }

    @Test("Changing a stored subtree hash is detected, naming its first entry")
    func subtreeHash() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        // Level 4 node covering entries 640..655.
        try await f.attacker().write { db in
            try db.execute(sql: "UPDATE merkle_node SET hash = zeroblob(32) WHERE last_sequence = 655 AND level = 4")
        }
        try await Self.expectFailure(f, .nodeMismatch, sequence: 640)
    }

    @Test("Deleting a stored subtree hash is detected")
    func subtreeHashDeleted() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in try db.execute(sql: "DELETE FROM merkle_node WHERE last_sequence = 655 AND level = 4") }
        try await Self.expectFailure(f, .nodeMissing, sequence: 640)
    }

    @Test("Changing a checkpoint's note is detected, naming the checkpoint")
    func checkpointNote() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in
            try db.execute(sql: "UPDATE checkpoint SET note = replace(note, char(10) || '400' || char(10), char(10) || '399' || char(10)) WHERE tree_size = 400")
        }
        let report = try await f.verify()
        #expect(report.failure?.kind == .checkpointSignature)
        #expect(report.failure?.checkpointSize == 400)
    }

    @Test("A checkpoint re-signed with another key is refused, naming the checkpoint")
    func checkpointResigned() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        let mallory = Ed25519.SigningKey()
        let forged = try SignedCheckpoint(signing: Checkpoint(origin: "signoff.test/ledger", size: 500, rootHash: SHA256Digest.hash("x")), with: mallory)
        try await f.attacker().write { db in try db.execute(sql: "UPDATE checkpoint SET note = ? WHERE tree_size = 500", arguments: [forged.serialized]) }
        let report = try await f.verify()
        #expect(report.failure?.kind == .checkpointSignature)
        #expect(report.failure?.checkpointSize == 500)
    }

    @Test("Replacing the ledger key recorded in the database is refused against the trusted key")
    func ledgerKeyReplaced() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        let mallory = try NoteVerifierKey(name: "signoff.test/ledger", publicKey: Ed25519.SigningKey().publicKey)
        try await f.attacker().write { db in
            try db.execute(sql: "UPDATE ledger_meta SET value = ? WHERE key = 'verifier_key'", arguments: [mallory.description])
        }
        let reopened = try SQLiteLedgerStore.open(path: f.path)
        let report = try await reopened.verifyAll(trustedKey: f.verifierKey, allowUncoveredTail: false, progress: nil)
        #expect(report.failure?.kind == .metadataMismatch)
    }

    @Test("Deleting a milestone checkpoint is detected, naming its size")
    func milestoneDeleted() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in try db.execute(sql: "DELETE FROM checkpoint WHERE tree_size = 300") }
        let report = try await f.verify()
        #expect(report.failure?.kind == .checkpointMissing)
        #expect(report.failure?.checkpointSize == 300)
        try await f.publisher.publish()
        #expect(try await f.verify().isValid, "the milestone is signed again, at the same root")
    }

    @Test("A superseded checkpoint put back from an old copy is detected: the stored set follows from the ledger's size")
    func supersededRestored() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        let old = try SignedCheckpoint(
            signing: Checkpoint(origin: "signoff.test/ledger", size: 450, rootHash: try await f.store.rootHash(size: 450)), with: f.key)
        try await f.attacker().write { db in
            try db.execute(sql: "INSERT INTO checkpoint (tree_size, note) VALUES (450, ?)", arguments: [old.serialized])
        }
        let report = try await f.verify()
        #expect(report.failure?.kind == .checkpointUnexpected)
        #expect(report.failure?.checkpointSize == 450)
        // The operator's `signoff checkpoint --sign` brings the set back (as for a ledger from before milestones).
        try await f.publisher.publish()
        #expect(try await f.verify().isValid)
    }

    @Test("A subtree hash row at a position no subtree ends at is detected, not matched to the subtree beside it")
    func misalignedNode() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in
            try db.execute(sql: "INSERT INTO merkle_node (last_sequence, level, hash) SELECT 32, 4, hash FROM merkle_node WHERE last_sequence = 31 AND level = 4")
        }
        let report = try await f.verify()
        #expect(report.failure?.kind == .nodeUnexpected)
        #expect(report.failure?.sequence == 32)
    }

    @Test("A value of the wrong type in any column is reported, not a crash")
    func wrongType() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in try db.execute(sql: "UPDATE ledger_entry SET time_ms = 'noon' WHERE sequence = 7") }
        let report = try await f.verify()
        #expect(report.failure?.kind == .entryMalformed)
        #expect(report.failure?.message.contains("time_ms") == true)
        #expect(report.failure?.sequence == 7)
    }

    @Test("A negative checkpoint size is a named failure, not a crash")
    func negativeCheckpointSize() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in try db.execute(sql: "UPDATE checkpoint SET tree_size = -400 WHERE tree_size = 400") }
        let report = try await f.verify()
        #expect(report.failure?.kind == .checkpointMalformed)
        #expect(report.failure?.message.contains("-400") == true)
    }

    @Test("Changing the recorded origin is refused: ledger_meta must name the trusted key")
    func originChanged() async throws {
        let f = try await Self.fixture()
        defer { f.remove() }
        try await f.attacker().write { db in try db.execute(sql: "UPDATE ledger_meta SET value = 'mallory.example/ledger' WHERE key = 'origin'") }
        let report = try await SQLiteLedgerStore.open(path: f.path).verifyAll(trustedKey: f.verifierKey, allowUncoveredTail: false, progress: nil)
        #expect(report.failure?.kind == .metadataMismatch)
        #expect(report.failure?.message.contains("origin=mallory.example/ledger") == true)
    }
}
