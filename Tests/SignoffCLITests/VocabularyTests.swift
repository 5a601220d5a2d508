import Foundation
import SignoffCrypto
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SignoffTestSupport
import Testing

/// `schema/vocabulary.md` as a check: every JSON document the API, the CLI and an export give.
enum Vocabulary {
    /// Field names fixed by standards Signoff embeds: DSSE (`payloadType`) and the in-toto Statement (`_type`,
    /// `predicateType`).
    static let standardFieldNames: Set<String> = ["payloadType", "predicateType", "_type"]
    /// Maps whose keys are data (file names), not field names.
    static let dataKeyedMaps: Set<String> = ["files", "environments", "roles", "labels"]

    static func isTimeField(_ key: String) -> Bool {
        key == "at" || key == "time" || key == "due" || key == "since" || key == "until" || key.hasSuffix("_at") || key.hasSuffix("_due")
    }

    static func isHashField(_ key: String) -> Bool {
        key == "digest" || key.hasSuffix("_digest") || key.hasSuffix("_hash") || key == "key_fingerprint" || key == "keyid" || key == "proof"
    }

    static let rfc3339 = try! NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)
    static let sha256 = try! NSRegularExpression(pattern: "^sha256:[0-9a-f]{64}$")
    static let fieldName = try! NSRegularExpression(pattern: "^[a-z][a-z0-9_]*$")

    static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Every violation in `value` (a parsed JSON document), with its path.
    static func violations(_ value: Any, path: String = "$") -> [String] {
        var out: [String] = []
        if let object = value as? [String: Any] {
            for (key, child) in object {
                let here = "\(path).\(key)"
                if !matches(fieldName, key) && !standardFieldNames.contains(key) { out.append("\(here): field name is not snake_case") }
                if key.contains("_ms") || key.hasSuffix("Ms") { out.append("\(here): a time in milliseconds") }
                if isTimeField(key), !(child is NSNull) {
                    if let text = child as? String {
                        if !matches(rfc3339, text) { out.append("\(here): \(text) is not an RFC 3339 UTC time with milliseconds") }
                    } else {
                        out.append("\(here): a time that is not an RFC 3339 string")
                    }
                }
                if isHashField(key) {
                    let hashes: [Any] = (child as? [Any]) ?? [child]
                    for hash in hashes where !(hash is NSNull) && !(hash is [String: Any]) {
                        if let text = hash as? String, matches(sha256, text) { continue }
                        out.append("\(here): \(hash) is not sha256:<64 hex digits>")
                    }
                }
                if dataKeyedMaps.contains(key), let map = child as? [String: Any] {
                    for (name, entry) in map {
                        if key == "files", !((entry as? String).map { matches(sha256, $0) } ?? false) {
                            out.append("\(here).\(name): a file digest that is not sha256:<64 hex digits>")
                        }
                        out += violations(entry, path: "\(here)[\(name)]").filter { _ in !(entry is String) }
                    }
                } else {
                    out += violations(child, path: here)
                }
            }
        } else if let array = value as? [Any] {
            for (index, child) in array.enumerated() { out += violations(child, path: "\(path)[\(index)]") }
        }
        return out
    }

    /// Checks one document (or JSON lines); records each violation against `source`.
    static func check(_ text: String, source: String, lines: Bool = false, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let documents = lines ? text.split(separator: "\n").map(String.init) : [text]
        #expect(!documents.isEmpty, "\(source): no JSON", sourceLocation: sourceLocation)
        for document in documents {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed]) else {
                Issue.record("\(source): not JSON: \(document.prefix(200))", sourceLocation: sourceLocation)
                continue
            }
            for violation in violations(parsed) { Issue.record("\(source): \(violation)", sourceLocation: sourceLocation) }
        }
    }
}

@Suite("One vocabulary, one code path", .serialized)
struct VocabularyTests {
    @Test("The checker itself refuses camelCase names, times in milliseconds and bare-hex hashes")
    func checkerRefuses() {
        #expect(!Vocabulary.violations(["workflowDigest": "sha256:" + String(repeating: "0", count: 64)]).isEmpty)
        #expect(!Vocabulary.violations(["filed_at": 1_764_000_000_000]).isEmpty)
        #expect(!Vocabulary.violations(["filed_at": "2026-11-27"]).isEmpty)
        #expect(!Vocabulary.violations(["root_hash": String(repeating: "a", count: 64)]).isEmpty)
        #expect(!Vocabulary.violations(["proof": ["sha256:" + String(repeating: "a", count: 64), "AAAA"]]).isEmpty)
        #expect(!Vocabulary.violations(["nested": [["keyid": String(repeating: "b", count: 64)]]]).isEmpty)
        #expect(!Vocabulary.violations(["files": ["a.csv": "abc"]]).isEmpty)
        #expect(Vocabulary.violations([
            "payloadType": "application/vnd.in-toto+json", "at": "2026-11-27T06:45:09.575Z", "digest": "sha256:" + String(repeating: "c", count: 64),
            "files": ["entries.jsonl": "sha256:" + String(repeating: "d", count: 64)],
        ]).isEmpty)
    }

    /// The same verbs through `--db` and through `--server` on the same database give the same documents: one code path
    /// per verb (`SignoffClient`), one wire type per document.
    @Test("Every verb's --json, locally and through the server, is the same document and speaks the vocabulary; so do the API and the export")
    func localAndRemote() async throws {
        let s = try await Story()
        defer { s.remove() }
        let prod = try await s.approvedProd()
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        for person in ["ada", "riley", "casey", "morgan", "sam", "dana"] {
            let login = try await s.signoff(["login", "--server", server.url.absoluteString, "--as", person, "--key", "\(person).key", "--token-file", "\(person).token", "--json"])
            #expect(login.status == 0, "\(login.stderr)")
            Vocabulary.check(login.stdout, source: "login --json")
        }
        func local(_ user: String, _ arguments: [String]) async throws -> TestSupport.ProcessResult {
            try await s.signoff(arguments + ["--as", user, "--json"])
        }
        func remote(_ user: String, _ arguments: [String]) async throws -> TestSupport.ProcessResult {
            try await s.signoff(
                arguments + ["--as", user, "--json"],
                extraEnv: ["SIGNOFF_SERVER": server.url.absoluteString, "SIGNOFF_TOKEN_FILE": s.path("\(user).token"), "SIGNOFF_DB": ""])
        }
        // Reads: the same bytes either way.
        let reads: [(String, [String])] = [
            ("riley", ["status", prod]), ("sam", ["explain", prod]), ("riley", ["list"]), ("riley", ["list", "--project", "churn-model", "--state", "approved"]),
            ("dana", ["gate", prod, "--env", "prod", "--digest", s.digest]), ("dana", ["gate", prod, "--env", "qa", "--digest", s.digest]),
            ("ada", ["workflow", "show", "regulated"]), ("ada", ["checkpoint", "--verifier-key"]),
        ]
        for (user, arguments) in reads {
            let (l, r) = await (try local(user, arguments), try remote(user, arguments))
            #expect(l.status == r.status, "\(arguments): exit \(l.status) locally, \(r.status) remotely: \(l.stderr) \(r.stderr)")
            // Ages move with the clock between the two calls; everything else is the same bytes.
            let ageless = { (text: String) in text.replacingOccurrences(of: #"age_seconds":\d+"#, with: "", options: .regularExpression) }
            #expect(ageless(l.stdout) == ageless(r.stdout), "\(arguments.joined(separator: " ")): the local and the remote documents differ\n\(l.stdout)\n\(r.stdout)")
            Vocabulary.check(l.stdout, source: arguments.joined(separator: " "))
        }
        // Writes: the same document shape either way (entries and sequence numbers differ, being new).
        func shape(_ json: String) -> [String] {
            ((try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]).map { $0.keys.sorted() } ?? []
        }
        var filed: [String] = []
        var refusals: [String] = []
        for run in [local, remote] {
            let created = try await run("riley", ["request", "create", "--project", "churn-model", "--env", "qa", "--bundle", "churn-model-v12.zip", "--file", "churn-model-v12.zip"])
            #expect(created.status == 0, "\(created.stderr)")
            Vocabulary.check(created.stdout, source: "request create")
            #expect(shape(created.stdout) == ["digest", "request", "reused", "revised", "sequence"])
            let id = try #require((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["request"] as? String)
            filed.append(id)
            let withdrawn = try await run("riley", ["withdraw", id, "--reason", "superseded"])
            #expect(withdrawn.status == 0, "\(withdrawn.stderr)")
            Vocabulary.check(withdrawn.stdout, source: "withdraw")
            #expect(shape(withdrawn.stdout) == ["entries", "message", "request"])
            // Refusals name the same rule with the same exit code either way.
            let refused = try await run("morgan", ["approve", prod, "--stage", "compliance-reviewed"])
            #expect(refused.status == 2 && refused.stderr.contains("refused (decision.stage)"), "\(refused.stderr)")
            refusals.append("\(refused.status) \(refused.stderr)")
        }
        #expect(filed.count == 2 && filed[0] != filed[1])
        #expect(refusals.count == 2 && refusals[0] == refusals[1], "\(refusals)")
        let l = try await local("riley", ["status", filed[1]]), r = try await remote("riley", ["status", filed[0]])
        #expect(shape(l.stdout) == shape(r.stdout))

        // The API's own documents.
        let token = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path("ada.token")))) as? [String: Any])?["token"] as? String)
        for path in ["/v1/requests", "/v1/requests/\(prod)", "/v1/requests/\(prod)/explain", "/v1/requests/\(prod)/gate?environment=prod&digest=\(s.digest)",
            "/v1/workflows/standard"]
        {
            var request = URLRequest(url: URL(string: server.url.absoluteString + path)!)
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let (body, _) = try await URLSession.shared.data(for: request)
            Vocabulary.check(String(decoding: body, as: UTF8.self), source: "GET \(path)")
        }

        // The rest of the CLI's JSON.
        for (arguments, source) in [
            (["key", "generate", "--name", "newcomer", "--out", "newcomer.key", "--json"], "key generate"), (["key", "show", "ada.key.pub", "--json"], "key show"),
            (["checkpoint", "--sign", "--json", "--as", "ada"], "checkpoint --sign"), (["audit", "verify", "--db", s.env["SIGNOFF_DB"]!, "--json"], "audit verify --db"),
            (["audit", "export", "--out", "vocab-export", "--json", "--as", "ada"], "audit export"),
            (["audit", "verify", "vocab-export", "--ledger-verifier-key", "signoff.sqlite.ledger-key.pub", "--json"], "audit verify DIR"),
        ] {
            let result = try await s.signoff(arguments)
            #expect(result.status == 0, "\(source): \(result.stderr)")
            Vocabulary.check(result.stdout, source: source)
        }
        let fresh = try TestSupport.temporaryDirectory("signoff-vocabulary")
        defer { try? FileManager.default.removeItem(at: fresh) }
        let initialized = try await TestSupport.signoff(
            ["init", "--db", fresh.appendingPathComponent("v.sqlite").path, "--origin", "signoff.test/vocabulary", "--admin", "ada", "--admin-key", s.path("ada.key.pub"),
                "--json"],
            environment: ["SIGNOFF_LEDGER_PASSPHRASE": "vocabulary passphrase"])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        Vocabulary.check(initialized.stdout, source: "init")

        // The export's JSON files.
        for (file, lines) in [("entries.jsonl", true), ("keys.jsonl", true)] {
            Vocabulary.check(try String(contentsOfFile: s.path("vocab-export/\(file)"), encoding: .utf8), source: file, lines: lines)
        }
        // The manifest is a DSSE envelope (its own field names are DSSE's); its payload is ours.
        let manifest = try DSSEEnvelope(json: Array(try Data(contentsOf: URL(fileURLWithPath: s.path("vocab-export/MANIFEST.json")))).dropLast())
        Vocabulary.check(String(decoding: manifest.payload, as: UTF8.self), source: "MANIFEST.json's payload", lines: false)
        let csv = try String(contentsOfFile: s.path("vocab-export/decisions.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("time,request,project,environment,stage,decision,actor,on_behalf_of,key_id,signature_valid,bundle_digest,comment\r\n"))
    }
}
