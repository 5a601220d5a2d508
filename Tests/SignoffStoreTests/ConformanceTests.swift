import Foundation
import GRDB
import SignoffCrypto
import SignoffLedger
import SignoffService
import SignoffStorageConformance
@testable import SignoffStore
import SignoffTestSupport
import Testing

/// The SQLite backend runs the storage conformance suite (`Tests/SignoffStorageConformance`), as every backend will.
@Suite("Storage conformance: SQLite")
struct ConformanceTests {
    static let suite = StorageConformance {
        let directory = try TestSupport.temporaryDirectory("signoff-conformance")
        let path = directory.appendingPathComponent("ledger.sqlite").path
        let clock = TestClock()
        var configuration = SQLiteLedgerStore.Configuration()
        configuration.checkpointPolicy = StorageConformance.policy
        configuration.clock = { clock.value }
        let storage = try SQLiteStorage.create(path: path, origin: "signoff.test/conformance", signingKey: Ed25519.SigningKey(), configuration: configuration)
        return StorageConformance.Backend(
            storage: storage, clock: clock,
            tamper: { tamper in
                try await DatabaseQueue(path: path).write { db in
                    switch tamper {
                    case .entryBytes(let sequence):
                        // The last byte of the entry's payload, flipped.
                        guard let stored = try Data.fetchOne(db, sql: "SELECT entry FROM ledger_entry WHERE sequence = ?", arguments: [Int64(sequence)]) else {
                            throw ConformanceFailure("no entry \(sequence) to tamper with")
                        }
                        var bytes = [UInt8](stored)
                        bytes[bytes.count - 1] ^= 1
                        try db.execute(sql: "UPDATE ledger_entry SET entry = ? WHERE sequence = ?", arguments: [Data(bytes), Int64(sequence)])
                    case .entryDeleted(let sequence):
                        try db.execute(sql: "DELETE FROM ledger_entry WHERE sequence = ?", arguments: [Int64(sequence)])
                    case .newestCheckpointDeleted:
                        try db.execute(sql: "DELETE FROM checkpoint WHERE tree_size = (SELECT MAX(tree_size) FROM checkpoint)")
                    }
                }
            },
            remove: { try? FileManager.default.removeItem(at: directory) })
    }

    @Test("Every check of the conformance suite passes on SQLite", arguments: StorageConformance.Check.allCases)
    func conformance(_ check: StorageConformance.Check) async throws {
        try await Self.suite.run(check)
    }
}
