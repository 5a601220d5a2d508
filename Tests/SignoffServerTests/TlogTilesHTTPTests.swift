import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffCore
import SignoffCrypto
import SignoffLedger
@testable import SignoffServer
import SignoffService
@testable import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Testing

/// Issue 32, part 4: the ledger served as a C2SP tlog-tiles log, read by tlog-scales' TilesReader (PyPI) over real
/// HTTP on both backends: every leaf and the root reproduced, full and partial tiles, behind a token.
@Suite("tlog-tiles read API")
struct TlogTilesHTTPTests {
    @Test("tlog-scales reads the checkpoint, every tile and every entry bundle: each leaf, the root and a consistency proof as the ledger's; beyond the checkpoint 404; no token 401", arguments: TestBackend.allCases)
    func tiles(backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let admin = Cast.administrator.name
        // More than one full level-0 tile: 256 leaves and a partial tile after them, so level 1 holds a partial tile too.
        while try await f.database.ledger.size() < 300 {
            try await f.must(.createGroup(name: "tile-group-\(try await f.database.ledger.size())"), as: admin)
        }
        let old = try #require(try await f.database.signCheckpoint()).checkpoint.size
        for i in 0..<40 { try await f.must(.createGroup(name: "more-\(i)"), as: admin) }
        let signed = try #require(try await f.database.signCheckpoint())
        let size = signed.checkpoint.size
        let ledger = f.database.ledger
        let app = Application(
            router: buildRouter(service: f.database), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
        let key = f.keys[admin]!
        try await app.testLive { client in
            let token = try await client.login(admin, key: key)
            let read = try await TestSupport.runPython("tiles_read.py", ["http://127.0.0.1:\(client.port!)/tlog", token, "\(old)"])
            try #require(read.status == 0, "\(read.stdout) \(read.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any])
            #expect(object["size"] as? Int == Int(size))
            #expect(object["checkpoint_root"] as? String == signed.checkpoint.rootHash.hex)
            #expect(object["computed_root"] as? String == signed.checkpoint.rootHash.hex, "the root from the tiles is the checkpoint's")
            let leaves = try await ledger.entries(from: 0, limit: Int(size)).map(\.leafHash.hex)
            #expect(object["leaves"] as? [String] == leaves, "every entry bundle's entry hashes to the ledger's leaf")
            #expect(object["tile_hashes"] as? [String] == leaves, "every level-0 tile hash is the ledger's leaf")
            let proof = try await ledger.consistencyProof(from: old, to: size).map(\.hex)
            #expect(object["consistency"] as? [String] == proof)

            func get(_ path: String, token: String? = token) async throws -> (Int, String?, [UInt8]) {
                try await client.execute(uri: "/tlog/" + path, method: .get, headers: token.map { [.authorization: "Bearer \($0)"] } ?? [:]) {
                    (Int($0.status.code), $0.headers[.cacheControl], Array(buffer: $0.body))
                }
            }
            let full = try await get("tile/0/000")
            #expect(full.0 == 200 && full.2.count == 256 * 32 && full.1 == "private, max-age=31536000, immutable")
            let partial = try await get("tile/entries/001.p/\(size - 256)")
            #expect(partial.0 == 200)
            let level1 = try await get("tile/1/000.p/1").2
            let subtree = try await ledger.subtreeHashes(level: 8, from: 0, count: 1)
            let root256 = try await ledger.rootHash(size: 256)
            #expect(level1 == Array(subtree[0].bytes) && subtree[0] == root256)
            let beyond = try await get("tile/entries/001").0
            #expect(beyond == 404, "a full bundle beyond the checkpoint")
            let wider = try await get("tile/0/001.p/\(size - 256 + 1)").0
            #expect(wider == 404, "a partial tile wider than the checkpoint covers")
            let (short, padded) = (try await get("tile/0/1").0, try await get("tile/0/x000/000").0)
            #expect(short == 404 && padded == 404, "paths the spec does not write")
            let (anonymousTile, anonymousCheckpoint) = (try await get("tile/0/000", token: nil).0, try await get("checkpoint", token: nil).0)
            #expect(anonymousTile == 401 && anonymousCheckpoint == 401)
            let checkpoint = try await get("checkpoint")
            #expect(checkpoint.0 == 200 && String(decoding: checkpoint.2, as: UTF8.self) == signed.serialized)
            // A service token reads tiles only with a read scope: every entry's header is in them.
            let issuer = Authenticator(store: f.database.auth, clock: { f.database.now })
            let filing = try await issuer.issueToken(for: Cast.ci.name, kind: .service, scopes: ["request:\(Cast.project)"], lifetimeMilliseconds: 3_600_000).token
            let reading = try await issuer.issueToken(for: Cast.ci.name, kind: .service, scopes: ["read:\(Cast.project)"], lifetimeMilliseconds: 3_600_000).token
            let (byFiler, byReader) = (try await get("tile/0/000", token: filing).0, try await get("tile/0/000", token: reading).0)
            #expect(byFiler == 403 && byReader == 200)
        }
    }

    @Test("A bundle of version-1 entries (whole entries, payloads included) is for administrators' and auditors' sessions: another person gets 403; the hashes are for everyone")
    func versionOneEntries() async throws {
        let directory = try TestSupport.temporaryDirectory("signoff-tiles-v1")
        defer { try? FileManager.default.removeItem(at: directory) }
        var roundOne = SQLiteLedgerStore.Configuration()
        roundOne.writesRoundOneEntries = true
        let storage = try SQLiteStorage.create(
            path: directory.appendingPathComponent("old.sqlite").path, origin: "signoff.test/old", signingKey: Ed25519.SigningKey(), configuration: roundOne)
        let service = SignoffService(storage: storage)
        let (ada, eve) = (Ed25519.SigningKey(), Ed25519.SigningKey())
        func must(_ command: Command, as actor: String) async throws {
            if case .failure(let refusal) = try await service.execute(command, as: actor) { throw TestSupportError("setup refused: \(refusal)") }
        }
        try await must(.initializeLedger(origin: "signoff.test/old", ledgerKey: storage.ledger.verifierKey), as: "system")
        try await must(.bootstrapAdministrator(name: "ada", key: try NoteVerifierKey(name: "ada", publicKey: ada.publicKey)), as: "system")
        try await must(.addUser(name: "eve", administrator: false, key: try NoteVerifierKey(name: "eve", publicKey: eve.publicKey)), as: "ada")
        let size = try #require(try await service.signCheckpoint()).checkpoint.size
        #expect(try await storage.ledger.entries(from: 0, limit: 1).first?.version == 1)
        let app = Application(router: buildRouter(service: service), logger: quietLogger)
        try await app.test(.router) { client in
            let (adaToken, eveToken) = (try await client.login("ada", key: ada), try await client.login("eve", key: eve))
            func get(_ path: String, _ token: String) async throws -> Int {
                try await client.execute(uri: "/tlog/" + path, method: .get, headers: [.authorization: "Bearer \(token)"]) { Int($0.status.code) }
            }
            let bundle = "tile/entries/000.p/\(size)"
            let (byEve, byAda) = (try await get(bundle, eveToken), try await get(bundle, adaToken))
            #expect(byEve == 403 && byAda == 200)
            let hashes = try await get("tile/0/000.p/\(size)", eveToken)
            #expect(hashes == 200, "the hashes disclose nothing")
        }
        await storage.close()
    }
}
