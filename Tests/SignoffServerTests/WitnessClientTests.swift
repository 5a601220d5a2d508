import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger
@testable import SignoffServer
import SignoffService
import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Synchronization
import Testing

/// Issue 32, part 1: the ledger submits its checkpoints to a witness over real HTTP (a `signoff witness` router on
/// loopback), stores the cosignatures with them on both backends, follows a 409 to the witness's size, and raises a
/// fork alarm — `/readyz` degraded, a failed health check, a metric — when the witness saw another history.
@Suite("Witness client: the ledger's checkpoints cosigned")
struct WitnessClientTests {
    @Test("Cosigned as the ledger grows; a client that knows nothing follows the 409; a split view, a rolled-back ledger and a fork each raise the alarm", arguments: TestBackend.allCases)
    func cosigned(backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let directory = try TestSupport.temporaryDirectory("signoff-witness-client")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = f.database.ledger
        let witnessStore = try SQLiteWitnessStore(path: directory.appendingPathComponent("witness.sqlite").path)
        let witness = try WitnessConfiguration(name: "witness.test/w1", key: Ed25519.SigningKey(), logs: [ledger.verifierKey])
        let app = Application(
            router: buildWitnessRouter(store: witnessStore, configuration: witness), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: quietLogger)
        try await app.testLive { client in
            let endpoint = WitnessEndpoint(name: "w1", key: witness.cosignerKey, url: "http://127.0.0.1:\(client.port!)/")
            let board = WitnessStatusBoard()
            let transport = URLSessionWitnessTransport()
            let submitter = WitnessClient(ledger: ledger, endpoints: [endpoint], transport: transport, board: board)

            // The newest checkpoint, cosigned and stored with its cosignature (the ledger's own signature unchanged).
            let first = try #require(try await f.database.signCheckpoint())
            #expect(try await submitter.submitNewest().map(\.1) == [.cosigned(size: first.checkpoint.size)])
            let stored = try #require(try await ledger.latestCheckpoint())
            #expect(try Cosignature.verifiedTime(of: stored.note, by: witness.cosignerKey) != nil)
            #expect(stored.note.verifiedSignatures(by: [ledger.verifierKey]) == [ledger.verifierKey] && stored.note.text == first.note.text)
            #expect(try await submitter.submitNewest().map(\.1) == [.alreadyCosigned])
            // The ledger grows: the next checkpoint with a consistency proof from the last.
            try await f.must(.createGroup(name: "grown-1"), as: Cast.administrator.name)
            let second = try #require(try await f.database.signCheckpoint())
            #expect(try await submitter.submitNewest().map(\.1) == [.cosigned(size: second.checkpoint.size)])
            // Another instance's client knows nothing: old 0, the 409 names the size, asked again from there.
            try await f.must(.createGroup(name: "grown-2"), as: Cast.administrator.name)
            let third = try #require(try await f.database.signCheckpoint())
            let fresh = WitnessClient(ledger: ledger, endpoints: [endpoint], transport: transport, board: WitnessStatusBoard())
            #expect(try await fresh.submitNewest().map(\.1) == [.cosigned(size: third.checkpoint.size)])
            #expect(board.alarms.isEmpty)

            // A split view: the witness holds another root at the ledger's size.
            try await f.must(.createGroup(name: "grown-3"), as: Cast.administrator.name)
            let fourth = try #require(try await f.database.signCheckpoint())
            let size = fourth.checkpoint.size
            let other = try Checkpoint(origin: ledger.origin, size: size, rootHash: SHA256Digest.hash("another history"))
            #expect(try await witnessStore.advance(from: third.checkpoint.size, to: other, note: "seeded", at: 0))
            let split = WitnessClient(ledger: ledger, endpoints: [endpoint], transport: transport, board: WitnessStatusBoard())
            guard case .alarm(let reason) = try await split.submitNewest().first?.1 else { Issue.record("no alarm for a split view"); return }
            #expect(reason.contains("split view"), "\(reason)")
            // A ledger rolled back: the witness cosigned a larger tree than the newest checkpoint.
            let larger = try Checkpoint(origin: ledger.origin, size: size + 50, rootHash: SHA256Digest.hash("later"))
            #expect(try await witnessStore.advance(from: size, to: larger, note: "seeded", at: 0))
            let rolledBack = WitnessClient(ledger: ledger, endpoints: [endpoint], transport: transport, board: WitnessStatusBoard())
            guard case .alarm(let gone) = try await rolledBack.submitNewest().first?.1 else { Issue.record("no alarm for a rollback"); return }
            #expect(gone.contains("\(size + 50) entries"), "\(gone)")
            // A fork: the witness cosigned a smaller tree this ledger does not extend (422 on the proof).
            let smaller = try Checkpoint(origin: ledger.origin, size: 2, rootHash: SHA256Digest.hash("a fork"))
            #expect(try await witnessStore.advance(from: size + 50, to: smaller, note: "seeded", at: 0))
            guard case .alarm(let fork) = try await submitter.submitNewest().first?.1 else { Issue.record("no alarm for a fork"); return }
            #expect(fork.contains("does not extend"), "\(fork)")
            #expect(board.alarms.map(\.name) == ["w1"])
            // The alarm is kept: the next round does not submit over it.
            guard case .alarm = try await submitter.submitNewest().first?.1 else { Issue.record("the alarm was forgotten"); return }

            // Seen from outside: the server with a board in alarm says so on /readyz, in the ledger's health and in the metrics.
            f.database.witnesses.register([endpoint])
            let service = WitnessClient(ledger: ledger, endpoints: [endpoint], transport: transport, board: f.database.witnesses)
            _ = try await service.submitNewest()
            let server = Application(router: buildRouter(service: f.database), logger: quietLogger)
            try await server.test(.router) { api in
                let ready = try await api.execute(uri: "/readyz", method: .get) { String(buffer: $0.body) }
                #expect(ready.contains("\"degraded\"") && ready.contains("witness w1"), "\(ready)")
                let health = try await AuditHealth.current(f.database)
                #expect(!health.healthy && health.checks.contains { $0.check == "witness:w1" && !$0.passed && $0.detail.hasPrefix("fork alarm") })
                let ada = try await api.login(Cast.administrator.name, key: f.keys[Cast.administrator.name]!)
                let metrics = try await api.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(ada)"]) { String(buffer: $0.body) }
                #expect(metrics.contains("signoff_witness_alarm{witness=\"w1\"} 1"), "\(metrics)")
            }
        }
    }

    /// Counts the posts in flight; a post to `held` waits (up to 10 s) until another post has started, so that a
    /// client posting one witness after the other would never see two at once.
    final class OverlapProbe: WitnessTransport {
        let inner: URLSessionWitnessTransport
        let held: String
        let state = Mutex<(inFlight: Int, most: Int)>((0, 0))

        init(inner: URLSessionWitnessTransport, held: String) {
            self.inner = inner
            self.held = held
        }

        func post(_ url: String, body: String) async throws -> (status: Int, contentType: String?, body: String) {
            state.withLock { $0.inFlight += 1; $0.most = max($0.most, $0.inFlight) }
            defer { state.withLock { $0.inFlight -= 1 } }
            if url.hasPrefix(held) {
                let deadline = ContinuousClock.now + .seconds(10)
                while state.withLock({ $0.most }) < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            }
            return try await inner.post(url, body: body)
        }
    }

    @Test("Every witness is asked at once (an unreachable one costs one timeout, not one per witness); both cosignatures are stored in the one note", arguments: TestBackend.allCases)
    func concurrent(backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let directory = try TestSupport.temporaryDirectory("signoff-witness-concurrent")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = f.database.ledger
        let configurations = try (1...2).map { try WitnessConfiguration(name: "witness.test/w\($0)", key: Ed25519.SigningKey(), logs: [ledger.verifierKey]) }
        let stores = try (1...2).map { try SQLiteWitnessStore(path: directory.appendingPathComponent("w\($0).sqlite").path) }
        let first = Application(
            router: buildWitnessRouter(store: stores[0], configuration: configurations[0]), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: quietLogger)
        let second = Application(
            router: buildWitnessRouter(store: stores[1], configuration: configurations[1]), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: quietLogger)
        try await first.testLive { one in
            try await second.testLive { two in
                let endpoints = [
                    WitnessEndpoint(name: "w1", key: configurations[0].cosignerKey, url: "http://127.0.0.1:\(one.port!)/"),
                    WitnessEndpoint(name: "w2", key: configurations[1].cosignerKey, url: "http://127.0.0.1:\(two.port!)/"),
                ]
                let probe = OverlapProbe(inner: URLSessionWitnessTransport(), held: endpoints[0].url)
                let client = WitnessClient(ledger: ledger, endpoints: endpoints, transport: probe, board: WitnessStatusBoard())
                let signed = try #require(try await f.database.signCheckpoint())
                let outcomes = try await client.submitNewest()
                #expect(outcomes.map(\.0.name) == ["w1", "w2"], "the outcomes in the order of the endpoints")
                #expect(outcomes.map(\.1) == [.cosigned(size: signed.checkpoint.size), .cosigned(size: signed.checkpoint.size)])
                #expect(probe.state.withLock { $0.most } == 2, "the two witnesses were asked one after the other")
                let stored = try #require(try await ledger.latestCheckpoint())
                for configuration in configurations {
                    #expect(try Cosignature.verifiedTime(of: stored.note, by: configuration.cosignerKey) != nil, "\(configuration.cosignerKey.name)'s cosignature was lost")
                }
            }
        }
    }
}
