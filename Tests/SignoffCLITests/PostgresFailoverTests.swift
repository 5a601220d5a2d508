import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SignoffCrypto
import SignoffLedger
import SignoffPostgres
import SignoffService
import SignoffTestSupport
import Testing

/// A primary and a synchronous standby on loopback (`Tests/postgres/pair.sh`, the recipe of the HA notes): `kill -9`
/// the primary while `signoff serve` writes to it, promote the standby, point an instance at it.
@Suite("PostgreSQL: failover to a synchronous standby", .serialized)
struct PostgresFailoverTests {
    static func pair(_ arguments: String...) async throws -> TestSupport.ProcessResult {
        try await TestSupport.run("/bin/bash", [TestSupport.projectRoot.appendingPathComponent("Tests/postgres/pair.sh").path] + arguments, deadline: .seconds(120))
    }

    @Test("kill -9 of the primary mid-load, the standby promoted: every acknowledged write is there, the ledger verifies, and the next checkpoint extends the last one signed before")
    func failover() async throws {
        let directory = "/tmp/signoff-pair-" + UUID().uuidString.prefix(8)
        // The pair is stopped and removed whatever happens (awaited: a Task left in a defer may never run).
        do { try await failover(in: directory) } catch {
            _ = try? await Self.pair("stop", directory)
            throw error
        }
        _ = try? await Self.pair("stop", directory)
    }

    func failover(in directory: String) async throws {
        let started = try await Self.pair("start", directory)
        let ports = started.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(started.status == 0 && ports.count == 2, "pair.sh start: \(started.stdout) \(started.stderr)")
        let primary = "postgres://postgres@127.0.0.1:\(ports[0])/signoff"
        let standby = "postgres://postgres@127.0.0.1:\(ports[1])/signoff"
        let created = try await TestSupport.run("/usr/bin/psql", ["postgres://postgres@127.0.0.1:\(ports[0])/postgres", "-qc", "CREATE DATABASE signoff"])
        try #require(created.status == 0, "\(created.stderr)")

        let s = try await Story()
        defer { s.remove() }
        let copied = try await s.signoff("migrate", "--from", "sqlite:" + s.env["SIGNOFF_DB"]!, "--to", primary)
        try #require(copied.status == 0, "\(copied.stderr)")
        let keyFile = s.path("signoff.sqlite.ledger-key")
        let a = try await RunningServer.start(story: s, arguments: ["--db", primary, "--ledger-key-file", keyFile])
        defer { a.stop() }
        let riley = try await Client.login(s, "riley", server: a)
        // A checkpoint signed before the failover, as an auditor or a witness would have kept it.
        #expect(try await s.signoff(["checkpoint", "--sign", "--as", "ada", "--db", primary, "--ledger-key-file", keyFile]).status == 0)
        let before = try await PostgresStorage.open(url: try PostgresURL(parsing: primary))
        let kept = try #require(try await before.ledger.latestCheckpoint())
        await before.close()

        let flowing = Locked(0)
        let digest = s.digest
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var mine: [String] = []
                    var failures = 0
                    for i in 0..<10_000 where failures < 5 {
                        let body = "{\"project\":\"churn-model\",\"environment\":\"qa\",\"bundle\":\"f-\(writer)-\(i)\",\"digest\":\"\(digest)\"}"
                        let (status, data) = await riley.send("POST", "v1/requests", body: Data(body.utf8))
                        if (200..<300).contains(status), let id = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["request"] as? String {
                            mine.append(id)
                            flowing.withLock { $0 += 1 }
                        } else {
                            failures += 1  // the primary is gone: errors, never a 2xx
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                    }
                    return mine
                }
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while flowing.withLock({ $0 }) < 40 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let killed = try await Self.pair("kill-primary", directory)
            #expect(killed.status == 0, "\(killed.stderr)")
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(acknowledged.count >= 40, "writes flowed before the kill: \(acknowledged.count)")
        a.stop()
        _ = await a.stopAndWait()
        let promoted = try await Self.pair("promote", directory)
        try #require(promoted.status == 0, "\(promoted.stderr)")

        // Every write the primary acknowledged is on the standby.
        let present = try await TestSupport.run("/usr/bin/psql", [standby, "-Atc", "SELECT key FROM projection WHERE key LIKE 'request/%'"])
        let requests = Set(present.stdout.split(separator: "\n").map { String($0.dropFirst("request/".count)) })
        let lost = acknowledged.filter { !requests.contains($0) }
        #expect(lost.isEmpty, "acknowledged by the primary, absent on the promoted standby: \(lost.prefix(10))")

        // An instance restarted against the promoted standby serves, and signs the next checkpoint when it stops.
        let b = try await RunningServer.start(story: s, arguments: ["--db", standby, "--ledger-key-file", keyFile])
        let after = await Client(base: b.url, token: riley.token).send(
            "POST", "v1/requests", body: Data("{\"project\":\"churn-model\",\"environment\":\"qa\",\"bundle\":\"after\",\"digest\":\"\(digest)\"}".utf8))
        #expect((200..<300).contains(after.status), "the promoted standby takes writes: \(after.status)")
        let stopped = await b.stopAndWait()
        #expect(stopped == 0, "B stops cleanly: \(stopped) \((try? String(contentsOf: b.log, encoding: .utf8))?.suffix(3000) ?? "")")
        let verified = try await s.signoff(["audit", "verify", "--db", standby, "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")

        // The newest checkpoint extends the one kept from before the failover: a consistency proof between them verifies.
        let storage = try await PostgresStorage.open(url: try PostgresURL(parsing: standby))
        let newest = try #require(try await storage.ledger.latestCheckpoint())
        #expect(newest.checkpoint.size > kept.checkpoint.size)
        let proof = try await storage.ledger.consistencyProof(from: kept.checkpoint.size, to: newest.checkpoint.size)
        try MerkleVerifier.verifyConsistency(
            oldSize: kept.checkpoint.size, newSize: newest.checkpoint.size, proof: proof.map(\.bytes), oldRoot: kept.checkpoint.rootHash.bytes,
            newRoot: newest.checkpoint.rootHash.bytes)
        _ = try SignedCheckpoint(verifying: newest.serialized, with: storage.ledger.verifierKey)
        await storage.close()
        print("postgres failover: \(acknowledged.count) writes acknowledged before the primary was killed, all present on the promoted standby; checkpoint \(kept.checkpoint.size) → \(newest.checkpoint.size) consistent")
    }
}
