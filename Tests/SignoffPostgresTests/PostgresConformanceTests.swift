import Foundation
import SignoffCrypto
import SignoffLedger
import SignoffService
import SignoffStorageConformance
import SignoffTestBackends
@testable import SignoffPostgres
import Testing

/// The PostgreSQL backend runs the storage conformance suite, as SQLite does (`SignoffStoreTests/ConformanceTests`).
@Suite("Storage conformance: PostgreSQL")
struct PostgresConformanceTests {
    static let suite = StorageConformance {
        let database = try await PostgresTestDatabase.make()
        let clock = TestClock()
        var configuration = PostgresLedgerStore.Configuration()
        configuration.checkpointPolicy = StorageConformance.policy
        configuration.clock = { clock.value }
        configuration.connections = 4
        let storage = try await PostgresStorage.create(
            url: database.url, origin: "signoff.test/conformance", signingKey: Ed25519.SigningKey(), configuration: configuration)
        return StorageConformance.Backend(
            storage: storage, clock: clock,
            tamper: { tamper in
                switch tamper {
                case .entryBytes(let sequence):
                    // The last byte of the entry's payload, flipped.
                    try await database.execute(
                        "UPDATE ledger_entry SET entry = set_byte(entry, length(entry) - 1, get_byte(entry, length(entry) - 1) # 1) WHERE sequence = \(sequence)")
                case .entryDeleted(let sequence):
                    try await database.execute("DELETE FROM ledger_entry WHERE sequence = \(sequence)")
                case .newestCheckpointDeleted:
                    try await database.execute("DELETE FROM checkpoint WHERE tree_size = (SELECT MAX(tree_size) FROM checkpoint)")
                }
            },
            remove: {
                await storage.close()
                await database.drop()
            })
    }

    @Test("Every check of the conformance suite passes on PostgreSQL", arguments: StorageConformance.Check.allCases)
    func conformance(_ check: StorageConformance.Check) async throws {
        try await Self.suite.run(check)
    }
}
