import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffService
import SignoffStore
import SignoffTestSupport
import Testing

/// The console's request page across revisions, the audit page's ledger health (and `GET /v1/audit/health`), and
/// evidence documents in audit exports (issue 16).
@Suite("Web console: revisions, ledger health, documents in exports")
struct ConsoleAuditTests {
    @Test("The request page says what changed since the previous revision; the API's request shows the earlier revisions")
    func revisionChange() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "model-1.zip", digest: SHA256Digest.hash("m1"), description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r1")), as: "ci-bot")
        try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .changesRequested, comment: "smaller <b>please</b>", envelope: nil), as: "morgan")
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let (cookie, _) = try await ConsoleTests.login(client, "riley", key: f.keys["riley"]!)
            let before = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: cookie)
            #expect(before.status == 200 && !before.body.contains("What changed"), "revision 1 has nothing before it")
            try await f.must(.revise(request: "REQ-1", bundle: "model-2.zip", digest: SHA256Digest.hash("m2")), as: "riley")
            let page = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: cookie)
            #expect(page.status == 200)
            #expect(page.body.contains("What changed since revision 1"))
            #expect(page.body.contains("model-1.zip") && page.body.contains("model-2.zip"))
            #expect(page.body.contains(SHA256Digest.hash("m1").description) && page.body.contains(SHA256Digest.hash("m2").description))
            #expect(page.body.contains("Changes asked at approved by morgan") && page.body.contains("smaller &lt;b&gt;please&lt;/b&gt;"), "the reason, escaped")
            #expect(page.body.contains("the 1 evidence item(s) and 0 approval(s) of revision 1 no longer count"))
            // The same facts through the API the console reads.
            let token = try await client.login("riley", key: f.keys["riley"]!)
            let view = try await client.json("/v1/requests/REQ-1", token: token)
            let earlier = view.object["earlier_revisions"] as? [[String: Any]] ?? []
            #expect(earlier.count == 1)
            #expect(earlier.first?["revision"] as? Int == 1 && earlier.first?["bundle"] as? String == "model-1.zip")
            #expect(earlier.first?["digest"] as? String == SHA256Digest.hash("m1").description && earlier.first?["replaced_by"] as? String == "riley")
            // A second revision: the page compares with the one just before it.
            try await f.must(.revise(request: "REQ-1", bundle: nil, digest: SHA256Digest.hash("m3")), as: "riley")
            let third = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: cookie)
            #expect(third.body.contains("What changed since revision 2") && third.body.contains("(unchanged)"), "the bundle name stayed, the digest changed")
        }
    }

    @Test("Ledger health: the newest checkpoint's age and checks, the server's full verification, and a tampered ledger shown as failing")
    func ledgerHealth() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let token = try await client.login("riley", key: f.keys["riley"]!)
            let (cookie, _) = try await ConsoleTests.login(client, "riley", key: f.keys["riley"]!)
            try await f.database.signCheckpoint()
            try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
            var health = try await client.json("/v1/audit/health", token: token)
            #expect(health.status == 200)
            let checkpoint = health.object["checkpoint"] as? [String: Any] ?? [:]
            #expect((checkpoint["uncovered_entries"] as? Int ?? 0) >= 1, "the filing is not covered yet: \(checkpoint)")
            #expect(checkpoint["covers_until"] is String && (checkpoint["note"] as? String)?.hasPrefix("signoff.test/ledger\n") == true)
            #expect((health.object["checks"] as? [[String: Any]])?.map { $0["check"] as? String } == AuditHealth.checkNames)
            #expect((health.object["checks"] as? [[String: Any]])?.allSatisfy { $0["passed"] as? Bool == true } == true)
            #expect(health.object["last_verification"] is NSNull || health.object["last_verification"] == nil, "none has run yet")
            var page = try await ConsoleTests.get(client, "/audit", cookie: cookie)
            #expect(page.status == 200 && page.body.contains("No full verification has finished") && page.body.contains("not yet covered"))
            // The server's full verification, as `signoff serve` runs it at start and every --verify-interval.
            let run = try await f.database.verifyLedger()
            #expect(run?.passed == true && run?.entries ?? 0 > 10)
            try await f.database.signCheckpoint()
            health = try await client.json("/v1/audit/health", token: token)
            #expect(health.object["healthy"] as? Bool == true)
            #expect((health.object["last_verification"] as? [String: Any])?["passed"] as? Bool == true)
            page = try await ConsoleTests.get(client, "/audit", cookie: cookie)
            #expect(page.body.contains("✓ healthy") && page.body.contains("✓ passed") && !page.body.contains("not yet covered"))
            // The exports offered are those the person may download: riley reads one project, not every one.
            #expect(page.body.contains("href=\"/v1/audit/export?project=\(Cast.project)\"") && !page.body.contains("Every project"))
            let download = try await ConsoleTests.get(client, "/v1/audit/export?project=\(Cast.project)&documents=true", cookie: cookie)
            #expect(download.status == 200 && download.headers[.contentType] == "application/x-tar")
            #expect(try await ConsoleTests.get(client, "/v1/audit/export", cookie: cookie).status == 403, "every project is for administrators and auditors")
            // Someone with write access to the file changes a filed bundle's entry: the next full verification fails, and says so.
            let queue = try DatabaseQueue(path: f.directory.appendingPathComponent("s.sqlite").path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE ledger_entry SET entry = CAST(substr(entry, 1, length(entry) - 1) || X'58' AS BLOB) WHERE sequence = (SELECT max(sequence) FROM ledger_entry)")
            }
            try queue.close()
            let failed = try await f.database.verifyLedger()
            #expect(failed?.passed == false && failed?.failure != nil)
            health = try await client.json("/v1/audit/health", token: token)
            #expect(health.object["healthy"] as? Bool == false)
            page = try await ConsoleTests.get(client, "/audit", cookie: cookie)
            #expect(page.body.contains("✗ failed") && page.body.contains("✗ a check failed"))
            // A rolled-back ledger (its newest entry deleted under a checkpoint that covers it), then a checkpoint
            // that cannot be read: each answered with the failed check, never a 500.
            func tamper(_ sql: String) async throws {
                let queue = try DatabaseQueue(path: f.directory.appendingPathComponent("s.sqlite").path)
                try await queue.write { try $0.execute(sql: sql) }
                try queue.close()
            }
            func failedChecks() async throws -> [String: String] {
                let answer = try await client.json("/v1/audit/health", token: token)
                #expect(answer.status == 200 && answer.object["healthy"] as? Bool == false, "\(answer.object)")
                return Dictionary(uniqueKeysWithValues: (answer.object["checks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }.map {
                    ($0["check"] as? String ?? "", $0["detail"] as? String ?? "")
                })
            }
            try await tamper("DELETE FROM ledger_entry WHERE sequence = (SELECT max(sequence) FROM ledger_entry)")
            #expect(try await failedChecks()["checkpoint-root"]?.contains("entries were removed") == true)
            #expect(try await ConsoleTests.get(client, "/audit", cookie: cookie).status == 200)
            try await tamper("UPDATE checkpoint SET note = 'garbage'")
            #expect(try await failedChecks()["checkpoint-signature"]?.contains("cannot be read") == true)
            #expect(try await ConsoleTests.get(client, "/audit", cookie: cookie).status == 200)
            try await tamper("DELETE FROM checkpoint")
            #expect(try await failedChecks().keys.sorted() == AuditHealth.checkNames.sorted(), "entries and no checkpoint: both checks fail")
            // Without a session: no health.
            #expect(try await client.json("/v1/audit/health").status == 401)
        }
    }

    @Test("Evidence documents in exports: only on request, only those of evidence in full, listed in the signed manifest; a changed, added or missing document fails verification")
    func documentsInExports() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let report = Array("<?xml version=\"1.0\"?><testsuite name=\"api\" tests=\"1\"><testcase classname=\"c\" name=\"t\"/></testsuite>".utf8)
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash(report)), as: "ci-bot")
        _ = try await f.database.evidence.put(
            EvidenceDocument(project: Cast.project, digest: SHA256Digest.hash(report), mediaType: "application/xml", content: report, uploadedBy: "ci-bot", uploadedAt: f.database.now))
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let token = try await client.login(Cast.administrator.name, key: f.keys[Cast.administrator.name]!)
            func export(_ query: String) async throws -> (Int, URL) {
                let folder = f.directory.appendingPathComponent("export-\(UUID().uuidString)")
                let (status, bytes) = try await client.execute(uri: "/v1/audit/export\(query)", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    (Int($0.status.code), [UInt8]($0.body.readableBytesView))
                }
                if status == 200 { _ = try Tar.extract(bytes, into: folder) }
                return (status, folder)
            }
            let key = f.database.ledger.verifierKey
            let keyFile = f.directory.appendingPathComponent("ledger.pub")
            try Data((key.description + "\n").utf8).write(to: keyFile)
            /// Both verifiers, ours and the one written from schema/audit-export.md in Python: the same verdict.
            func verify(_ folder: URL) async throws -> AuditReport {
                let report = AuditExportVerifier.verify(directory: folder, trustedKey: key)
                let python = try await TestSupport.runPython("verify_export.py", [folder.path, keyFile.path])
                #expect((python.status == 0) == (report.failure == nil), "the Python verifier disagrees: \(python.stdout) \(python.stderr) / \(report.failure ?? "passed")")
                return report
            }
            let documentName = Hex.encode(SHA256Digest.hash(report).bytes)
            let (status, with) = try await export("?documents=true")
            #expect(status == 200)
            #expect(FileManager.default.contents(atPath: with.appendingPathComponent("documents/\(documentName)").path) == Data(report))
            var verified = try await verify(with)
            #expect(verified.failure == nil && verified.documents == 1, "\(verified.failure ?? "")")
            // Without asking: no documents folder, and the export verifies as before.
            let (_, without) = try await export("")
            #expect(!FileManager.default.fileExists(atPath: without.appendingPathComponent("documents").path))
            await #expect(try verify(without).failure == nil)
            // Another project's export: REQ-1's evidence is a stub there, so its document is not disclosed.
            let (otherStatus, other) = try await export("?project=\(Cast.otherProject)&documents=true")
            #expect(otherStatus == 200 && !FileManager.default.fileExists(atPath: other.appendingPathComponent("documents").path))
            #expect(try await export("?documents=yes").0 == 400)
            // A changed document.
            let path = with.appendingPathComponent("documents/\(documentName)")
            try Data(report + [0x20]).write(to: path)
            verified = try await verify(with)
            #expect(verified.failure?.contains("documents/\(documentName) is not the file the signed manifest lists") == true, "\(verified.failure ?? "")")
            // A missing one: the signed manifest lists it.
            try FileManager.default.removeItem(at: path)
            try FileManager.default.removeItem(at: with.appendingPathComponent("documents"))
            verified = try await verify(with)
            #expect(verified.failure?.contains("MANIFEST.json lists") == true, "\(verified.failure ?? "")")
            // An added one, into an export without documents: named by its digest, but no evidence in full is its.
            let extra = Array("not evidence".utf8)
            try FileManager.default.createDirectory(at: without.appendingPathComponent("documents"), withIntermediateDirectories: true)
            try Data(extra).write(to: without.appendingPathComponent("documents/\(Hex.encode(SHA256Digest.hash(extra).bytes))"))
            verified = try await verify(without)
            #expect(verified.failure?.contains("is not the document of any evidence in full") == true, "\(verified.failure ?? "")")
            // A document of the export's evidence put back without the manifest listing it.
            try FileManager.default.removeItem(at: without.appendingPathComponent("documents"))
            try FileManager.default.createDirectory(at: without.appendingPathComponent("documents"), withIntermediateDirectories: true)
            try Data(report).write(to: without.appendingPathComponent("documents/\(documentName)"))
            verified = try await verify(without)
            #expect(verified.failure?.contains("evidence documents were not asked for") == true, "\(verified.failure ?? "")")
            // Names other than a digest, and an empty folder.
            try FileManager.default.removeItem(at: without.appendingPathComponent("documents/\(documentName)"))
            verified = try await verify(without)
            #expect(verified.failure?.contains("is empty") == true, "\(verified.failure ?? "")")
            try Data(report).write(to: without.appendingPathComponent("documents/report.xml"))
            verified = try await verify(without)
            #expect(verified.failure?.contains("named by their SHA-256") == true, "\(verified.failure ?? "")")
        }
        // A stored document whose bytes are no longer its digest: the export fails, and leaves no half-written folder.
        let queue = try DatabaseQueue(path: f.directory.appendingPathComponent("s.sqlite").path)
        try await queue.write { try $0.execute(sql: "UPDATE evidence_document SET content = X'00'") }
        try queue.close()
        let broken = f.directory.appendingPathComponent("export-broken")
        await #expect(throws: (any Error).self) { _ = try await f.database.exportAudit(filter: AuditExportFilter(), documents: true, to: broken) }
        #expect(!FileManager.default.fileExists(atPath: broken.path))
    }

    @Test("The server's evidence document limit is its configuration's (--evidence-max-bytes): 413 beyond it")
    func configuredDocumentLimit() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let small = [UInt8](repeating: 0x61, count: 2048)
        let large = [UInt8](repeating: 0x62, count: 2049)
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: ""), as: "riley")
        for bytes in [small, large] {
            try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash(bytes)), as: "ci-bot")
        }
        var configuration = ServerConfiguration()
        configuration.evidenceMaximumBytes = 2048
        let app = Application(router: buildRouter(service: f.database, configuration: configuration), logger: quietLogger)
        try await app.test(.router) { client in
            let auth = Authenticator(store: f.database.auth, clock: { f.database.now })
            let token = try await auth.issueToken(for: "ci-bot", kind: .service, scopes: ["evidence:\(Cast.project)", "read:\(Cast.project)"], lifetimeMilliseconds: 3_600_000).token
            func put(_ bytes: [UInt8]) async throws -> Int {
                try await client.execute(
                    uri: "/v1/requests/REQ-1/evidence-documents/\(SHA256Digest.hash(bytes))", method: .put,
                    headers: [.contentType: "text/plain", .authorization: "Bearer \(token)"], body: ByteBuffer(bytes: bytes)
                ) { Int($0.status.code) }
            }
            #expect(try await put(small) == 201)
            #expect(try await put(large) == 413)
        }
    }
}
