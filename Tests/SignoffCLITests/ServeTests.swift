import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffCore
import SignoffCrypto
import SignoffStore
import SignoffTestSupport
import Testing

/// `signoff serve` as a real process on loopback.
final class RunningServer: @unchecked Sendable {
    let process = Process()
    let port: Int
    let url: URL
    let log: URL

    init(story: Story) throws {
        port = Int.random(in: 20_000..<40_000)
        url = URL(string: "http://127.0.0.1:\(port)")!
        log = story.directory.appendingPathComponent("serve-\(port).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try TestSupport.signoffExecutable)
        process.arguments = ["serve", "--port", "\(port)", "--log-level", "warning"]
        process.currentDirectoryURL = story.directory
        process.environment = ProcessInfo.processInfo.environment.merging(story.env) { $1 }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        for _ in 0..<100 {
            if (try? Self.get(url.appendingPathComponent("healthz"))) == 200 { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestSupportError("signoff serve did not answer on port \(port): \(String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self))")
    }

    static func get(_ url: URL) throws -> Int {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var status = 0
        URLSession.shared.dataTask(with: url) { _, response, _ in
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            semaphore.signal()
        }.resume()
        semaphore.wait()
        return status
    }

    func stop() {
        if process.isRunning {
            process.terminate()  // SIGTERM: graceful
            process.waitUntilExit()
        }
    }
}

@Suite("signoff serve over loopback", .serialized)
struct ServeTests {
    @Test("login over HTTP keeps a 0600 token; schemathesis finds no 5xx and no response outside the spec")
    func schemathesis() throws {
        let s = try Story()
        defer { s.remove() }
        _ = try s.approvedProd()  // REQ-1 exists for the generated cases to reach
        let server = try RunningServer(story: s)
        defer { server.stop() }
        let login = try s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "ada.key", "--token-file", "token.json"])
        #expect(login.status == 0, "\(login.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: s.path("token.json"))[.posixPermissions] as! NSNumber
        #expect(mode.intValue == 0o600)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("token.json")))) as? [String: Any])?["token"] as? String)
        let refused = try s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "riley.key", "--token-file", "other.json"])
        #expect(refused.status == 2, "login with someone else's key must be refused")

        let result = try TestSupport.run(
            "/usr/bin/env",
            ["python3", "-m", "schemathesis.cli", "run", server.url.appendingPathComponent("openapi.yaml").absoluteString,
                "-H", "Authorization: Bearer \(token)", "--exclude-operation-id", "authRevoke", "--max-examples", "200",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases", "coverage,fuzzing", "--workers", "2", "--seed", "1"],
            environment: ["NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""])
        let summary = result.stdout.components(separatedBy: "Test cases:").last ?? ""
        #expect(result.status == 0, "schemathesis failed:\n\(result.stdout.suffix(4000))\n\(result.stderr.suffix(2000))")
        #expect(summary.contains("passed") && !summary.contains("failed"), "\(summary)")
        print("schemathesis: " + summary.prefix(120).replacingOccurrences(of: "\n", with: " "))
    }

    @Test("SIGTERM while clients write: every request that got a 2xx is in the ledger, and the ledger verifies")
    func gracefulShutdown() async throws {
        let s = try Story()
        defer { s.remove() }
        let server = try RunningServer(story: s)
        defer { server.stop() }
        #expect(try s.signoff(["login", "--server", server.url.absoluteString, "--as", "ada", "--key", "ada.key", "--token-file", "token.json"]).status == 0)
        let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("token.json")))) as? [String: Any])?["token"] as? String)
        let url = server.url
        // Eight clients write continuously; SIGTERM arrives while they are in full flow.
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for i in 0..<10_000 {
                        var request = URLRequest(url: url.appendingPathComponent("v1/groups"))
                        request.httpMethod = "POST"
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                        request.httpBody = Data("{\"name\":\"load-\(client)-\(i)\"}".utf8)
                        guard let (_, response) = try? await URLSession.shared.data(for: request) else { break }
                        if (response as? HTTPURLResponse)?.statusCode == 200 { mine.append("load-\(client)-\(i)") }
                    }
                    return mine
                }
            }
            try await Task.sleep(for: .seconds(1.5))
            server.process.terminate()
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0, "the server must exit cleanly on SIGTERM")
        #expect(acknowledged.count > 20, "the clients should have been writing when SIGTERM came")
        let store = try SQLiteLedgerStore.open(path: s.env["SIGNOFF_DB"]!)
        let state = try await SignoffDatabase(ledger: store).state()
        let lost = acknowledged.filter { state.groups[$0] == nil }
        #expect(lost.isEmpty, "acknowledged but not in the ledger: \(lost)")
        let verify = try s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        print("graceful shutdown: \(acknowledged.count) writes acknowledged before SIGTERM took effect, \(lost.count) lost")
    }
}
