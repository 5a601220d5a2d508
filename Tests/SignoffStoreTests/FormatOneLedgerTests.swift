import Foundation
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService
@testable import SignoffStore
import SignoffTestSupport
import Testing

/// A ledger written by round 1 (entry encoding 1; payload format 1: camelCase names, bare-hex fingerprints) must still
/// verify, replay, export and verify offline after the vocabulary change and entry encoding 2 — and keep working when
/// today's Signoff appends encoding-2 entries to it.
@Suite("Ledgers of payload format 1")
struct FormatOneLedgerTests {
    /// A format-2 payload as format 1 wrote it.
    static func formatOne(kind: String, payload: [UInt8]) throws -> [UInt8] {
        guard var object = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else { return payload }
        let renames = [
            "verifier_key": "verifierKey", "workflow_digest": "workflowDigest", "bundle_digest": "bundleDigest", "statement_digest": "statementDigest",
            "ledger_verifier_key": "ledger_key", "key_fingerprint": kind == "key.revoked" ? "fingerprint" : "keyFingerprint",
        ]
        for (new, old) in renames {
            guard var value = object.removeValue(forKey: new) else { continue }
            if new == "key_fingerprint", let text = value as? String { value = Ed25519.PublicKey.fingerprintHex(text) }
            object[old] = value
        }
        if kind == "ledger.initialized" { object["format"] = "signoff-ledger/1" }
        return [UInt8](try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    @Test("A format-1 ledger verifies, replays to the same projection, keeps its revocations, exports and verifies offline (Swift and Python)")
    func formatOneStillWorks() async throws {
        let ledgerKey = Ed25519.SigningKey()
        let directory = try TestSupport.temporaryDirectory("signoff-format-one")
        defer { try? FileManager.default.removeItem(at: directory) }
        var roundOne = SQLiteLedgerStore.Configuration()
        roundOne.writesRoundOneEntries = true
        let now: Int64 = 1_780_000_000_000
        // The unit of work takes its time from the store's clock: held at the time the world was decided.
        roundOne.clock = { now }
        let path = directory.appendingPathComponent("old.sqlite").path
        let storage = try SQLiteStorage.create(path: path, origin: "signoff.test/old", signingKey: ledgerKey, configuration: roundOne)
        let store = storage.ledger as! SQLiteLedgerStore

        // The world, decided by the engine in memory; every event folded at `now`.
        var state = SignoffState()
        var drafts: [EntryDraft] = []
        var touched = Set<String>()
        var statements = Set<SHA256Digest>()
        var lastDirectoryChange: Int?
        var keys: [String: Ed25519.SigningKey] = [:]
        func run(_ command: Command, as actor: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
            switch Engine.execute(command, on: state, actor: actor, now: now) {
            case .success(let events):
                for event in events {
                    state.apply(event, actor: actor, at: now)
                    var draft = EntryDraft(kind: event.kind, actor: actor, payload: try! Self.formatOne(kind: event.kind, payload: event.payload))
                    // Indexed for the request pages as today's Signoff indexes an older ledger when it opens it.
                    draft.request = event.request
                    drafts.append(draft)
                    touched.formUnion(SignoffState.documentKeys(touchedBy: event))
                    if SignoffState.changesDirectory(event) { lastDirectoryChange = drafts.count - 1 }
                    statements.formUnion(event.statementDigests)
                }
            case .failure(let refusal): Issue.record("refused: \(refusal)", sourceLocation: sourceLocation)
            }
        }
        func verifier(_ name: String) -> NoteVerifierKey {
            let key = keys[name] ?? Ed25519.SigningKey()
            keys[name] = key
            return try! NoteVerifierKey(name: name, publicKey: key.publicKey)
        }
        run(.initializeLedger(origin: "signoff.test/old", ledgerKey: store.verifierKey), as: "system")
        run(.bootstrapAdministrator(name: "ada", key: verifier("ada")), as: "system")
        for name in ["riley", "casey", "morgan", "sam", "dana"] { run(.addUser(name: name, administrator: false, key: verifier(name)), as: "ada") }
        run(.addServiceAccount(name: "ci-bot", key: verifier("ci-bot")), as: "ada")
        for (group, members) in [("data-science", ["riley"]), ("ci", ["ci-bot"]), ("compliance", ["casey"]), ("release-managers", ["morgan", "sam"]), ("deployers", ["dana"])] {
            run(.createGroup(name: group), as: "ada")
            for member in members { run(.addMember(group: group, member: member), as: "ada") }
        }
        let spare = verifier("morgan-old")
        run(.enrollKey(principal: "morgan", key: try NoteVerifierKey(name: "morgan", publicKey: spare.publicKey)), as: "ada")
        run(.revokeKey(principal: "morgan", fingerprint: spare.publicKey.fingerprint), as: "ada")
        for name in ["standard", "regulated"] {
            run(.applyWorkflow(source: try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("workflows/\(name).yaml"), encoding: .utf8), file: name), as: "ada")
        }
        run(.createProject(ProjectSpec(key: "churn-model", regulated: false, environments: ["qa": "standard", "prod": "regulated"], roles: [
            "requesters": ["data-science"], "ci": ["ci"], "compliance": ["compliance"], "approvers": ["release-managers"], "platform": ["release-managers"],
            "deployers": ["deployers"],
        ]), approval: nil), as: "ada")
        run(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: SHA256Digest.hash("b"), description: ""), as: "riley")
        run(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        for (stage, person) in [("compliance-reviewed", "casey"), ("approved", "morgan"), ("approved", "sam")] {
            let envelope = DecisionStatement(request: state.requests["REQ-1"]!, stage: stage, decision: .approve, actor: person, comment: "", time: now)
                .signed(with: keys[person]!)
            run(.decide(request: "REQ-1", stage: stage, decision: .approve, comment: "", envelope: envelope), as: person)
        }
        #expect(state.requests["REQ-1"]?.stage == "approved")
        #expect(drafts.contains { String(decoding: $0.payload, as: UTF8.self).contains("\"keyFingerprint\":\"") }, "the ledger is written in format 1")

        // Written as round 1 would have: format-1 payloads, the projection of the same state.
        let (written, writtenDrafts, writtenKeys, used, directoryChange) = (state, drafts, touched, statements, lastDirectoryChange)
        _ = try await storage.unitOfWork.write { tx in
            let entries = try tx.append(writtenDrafts)
            if let directoryChange { try tx.setDirectoryVersion(entries[directoryChange].sequence) }
            try tx.indexRequestEntries(zip(writtenDrafts, entries).compactMap { draft, entry in draft.request.map { ($0, entry.sequence) } })
            try tx.writeDocuments(Dictionary(uniqueKeysWithValues: writtenKeys.map { ($0, written.document(for: $0)) }))
            try tx.recordStatements(used, until: tx.now + DecisionStatement.replayWindowMilliseconds)
        }
        try await SignoffService(storage: storage).signCheckpoint()

        let report = try await store.verifyAll(trustedKey: store.verifierKey, allowUncoveredTail: false, progress: nil)
        #expect(report.failure == nil, "\(report.failure?.message ?? "")")
        let replay = try await storage.projection.verifyProjection()
        #expect(replay == nil, "\(replay?.message ?? "")")
        let read = try await storage.projection.state()
        #expect(read.principals["morgan"]?.keys.count == 2)
        #expect(read.principals["morgan"]?.keys.first { $0.fingerprint == spare.publicKey.fingerprint }?.revokedAt == now, "the format-1 revocation still counts")
        #expect(read.requests["REQ-1"]?.decisions.allSatisfy { $0.isSigned } == true)

        let export = directory.appendingPathComponent("export")
        let exported = try await SignoffService(storage: storage).exportAudit(filter: AuditExportFilter(project: "churn-model"), to: export)
        #expect(exported.signedDecisions == 3)
        let verified = AuditExportVerifier.verify(directory: export, trustedKey: store.verifierKey)
        #expect(verified.failure == nil, "\(verified.failure ?? "")")
        #expect(verified.signedDecisions == 3)
        let keyFile = directory.appendingPathComponent("ledger.pub")
        try Data((store.verifierKey.description + "\n").utf8).write(to: keyFile)
        let python = try await TestSupport.runPython("verify_export.py", [export.path, keyFile.path])
        #expect(python.status == 0, "\(python.stdout) \(python.stderr)")
        #expect(verified.stubs == 0, "a round-1 entry has no header to stand for it: every one is in full")

        // Today's Signoff opens the same file and appends encoding-2 entries after the round-1 ones.
        let todayStorage = try SQLiteStorage.open(path: path, signingKey: ledgerKey)
        let today = todayStorage.ledger as! SQLiteLedgerStore
        let service = SignoffService(storage: todayStorage)
        let filed = try await service.execute(
            .fileRequest(project: "churn-model", environment: "qa", bundle: "qa.zip", digest: SHA256Digest.hash("qa"), description: "new"), as: "riley")
        guard case .success(let appended) = filed else { Issue.record("refused: \(filed)"); return }
        #expect(appended.allSatisfy { $0.version == LedgerEntry.formatVersion && $0.project == "churn-model" && $0.environment == "qa" })
        try await service.signCheckpoint()
        let mixed = try await today.verifyAll(trustedKey: today.verifierKey, allowUncoveredTail: false, progress: nil)
        #expect(mixed.failure == nil, "\(mixed.failure?.message ?? "")")
        #expect(try await service.verifyProjection() == nil)
        let prodOnly = directory.appendingPathComponent("export-prod")
        _ = try await service.exportAudit(filter: AuditExportFilter(project: "churn-model", environment: "prod"), to: prodOnly)
        let mixedReport = AuditExportVerifier.verify(directory: prodOnly, trustedKey: today.verifierKey)
        #expect(mixedReport.failure == nil, "\(mixedReport.failure ?? "")")
        #expect(mixedReport.stubs == appended.count, "the new qa request's entries are stubs in a prod export; the round-1 ones in full")
        let mixedPython = try await TestSupport.runPython("verify_export.py", [prodOnly.path, keyFile.path])
        #expect(mixedPython.status == 0, "\(mixedPython.stdout) \(mixedPython.stderr)")
    }
}
