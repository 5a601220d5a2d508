import Foundation
import SignoffTestSupport
import Testing

/// Issue 32, part 5, as a user meets it: `signoff monitor` against a real server, run after run, and what it finds
/// when the server's database is restored from an old backup or grows a different history.
@Suite("signoff monitor")
struct MonitorCLITests {
    @Test("OK as the ledger grows (state kept between runs); a restore from an old backup (shrank) and a log that grew differently (does not extend) found with exit 3; a damaged state or no server is bad input")
    func monitor() async throws {
        let s = try await Story()
        defer { s.remove() }
        let ledgerKey = try await s.must("checkpoint", "--verifier-key", "--as", "ada")
        try Data((ledgerKey + "\n").utf8).write(to: s.directory.appendingPathComponent("ledger.pub"))
        var server = try await RunningServer.start(story: s)
        defer { server.stop() }
        // Each start takes another port: log in there (a token is only ever sent to the server it is for).
        func login() async throws {
            let login = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "ada.key", "--token-file", "ada.token"])
            try #require(login.status == 0, "\(login.stderr)")
        }
        try await login()
        func monitor(_ state: String = "monitor.json") async throws -> TestSupport.ProcessResult {
            try await s.signoff([
                "monitor", "--server", server.url.absoluteString, "--as", "ada", "--token-file", "ada.token", "--ledger-verifier-key", "ledger.pub",
                "--state", state,
            ])
        }
        let first = try await monitor()
        #expect(first.status == 0 && first.stdout.hasPrefix("OK: checkpoint "), "\(first.stdout) \(first.stderr)")
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: s.directory.appendingPathComponent("monitor.json"))) as? [String: Any]
        let firstSize = try #require(saved?["size"] as? Int)

        // A backup of the database as it is now (the server stopped, so the file is whole).
        #expect(await server.stopAndWait() == 0)
        let database = s.directory.appendingPathComponent("signoff.sqlite")
        let backup = s.directory.appendingPathComponent("backup")
        try FileManager.default.createDirectory(at: backup, withIntermediateDirectories: true)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database.path + suffix) {
            try FileManager.default.copyItem(atPath: database.path + suffix, toPath: backup.appendingPathComponent("signoff.sqlite" + suffix).path)
        }
        server = try await RunningServer.start(story: s)
        try await login()
        for i in 0..<3 { try await s.must("group", "add", "grown-\(i)", "--as", "ada", "--key", "ada.key") }
        let second = try await monitor()
        #expect(second.status == 0 && second.stdout.contains("extends the one this monitor verified (size \(firstSize))"), "\(second.stdout) \(second.stderr)")

        // Restored from the old backup: the log is smaller than what the monitor verified.
        #expect(await server.stopAndWait() == 0)
        func restore() throws {
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: database.path + suffix)
                let copy = backup.appendingPathComponent("signoff.sqlite" + suffix).path
                if FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: copy, toPath: database.path + suffix) }
            }
        }
        try restore()
        server = try await RunningServer.start(story: s)
        try await login()
        let restored = try await monitor()
        #expect(restored.status == 3 && restored.stderr.contains("the log shrank"), "\(restored.stdout) \(restored.stderr)")
        // It grows again, differently: past the verified size, its tree does not extend the verified one.
        for i in 0..<6 { try await s.must("group", "add", "other-\(i)", "--as", "ada", "--key", "ada.key") }
        let forked = try await monitor()
        #expect(forked.status == 3 && (forked.stderr.contains("does not extend") || forked.stderr.contains("split view")), "\(forked.stdout) \(forked.stderr)")
        // The state was not moved by what it found.
        let kept = try JSONSerialization.jsonObject(with: Data(contentsOf: s.directory.appendingPathComponent("monitor.json"))) as? [String: Any]
        #expect((kept?["size"] as? Int).map { $0 > firstSize } == true, "the state is the second run's")

        try Data("not a state".utf8).write(to: s.directory.appendingPathComponent("damaged.json"))
        let damaged = try await monitor("damaged.json")
        #expect(damaged.status == 64 && damaged.stderr.contains("--state"), "\(damaged.stderr)")
        // A policy asking a witness's cosignature that no witness gave: found.
        try await s.must("key", "generate", "--name", "witness.test/w9", "--out", "w9.key")
        let witness = try await s.must("witness", "key", "w9.key.pub")
        try Data("log \(ledgerKey)\nwitness w9 \(witness)\nquorum w9\n".utf8).write(to: s.directory.appendingPathComponent("policy.txt"))
        let uncosigned = try await s.signoff([
            "monitor", "--server", server.url.absoluteString, "--as", "ada", "--token-file", "ada.token", "--ledger-verifier-key", "ledger.pub",
            "--state", "fresh.json", "--policy", "policy.txt",
        ])
        #expect(uncosigned.status == 3 && uncosigned.stderr.contains("not cosigned as the policy asks (w9)"), "\(uncosigned.stderr)")
        let local = try await s.signoff("monitor", "--ledger-verifier-key", "ledger.pub", "--state", "x.json")
        #expect(local.status == 64 && local.stderr.contains("--server"), "\(local.stderr)")
    }
}
