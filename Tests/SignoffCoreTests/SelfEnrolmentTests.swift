import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 16's new rule: a person adds a key of their own (a browser's) with a statement signed by a key they already
/// have — proof of possession, not administration — and exports flag it; both verifiers check the proof.
@Suite("Self-enrolment")
struct SelfEnrolmentTests {
    static func proof(_ w: World, principal: String, key: NoteVerifierKey, signedBy signer: String, time: Int64? = nil) -> DSSEEnvelope {
        KeyEnrolmentStatement(principal: principal, verifierKey: key, time: time ?? w.now).signed(with: w.keys[signer]!)
    }

    @Test("Only for oneself, proven by a current key of one's own; the key signs decisions, never administration")
    func rule() throws {
        var w = try World()
        let browser = Ed25519.SigningKey()
        let line = try! NoteVerifierKey(name: "casey", publicKey: browser.publicKey)
        // Another person's key, another principal named in the statement, or a service account: refused.
        w.refused(.enrollOwnKey(key: line, proof: Self.proof(w, principal: "casey", key: line, signedBy: "morgan")), as: "casey", rule: "signature.wrong-key")
        w.refused(.enrollOwnKey(key: line, proof: Self.proof(w, principal: "morgan", key: line, signedBy: "casey")), as: "casey", rule: "signature.statement")
        let other = try! NoteVerifierKey(name: "casey", publicKey: Ed25519.SigningKey().publicKey)
        w.refused(.enrollOwnKey(key: other, proof: Self.proof(w, principal: "casey", key: line, signedBy: "casey")), as: "casey", rule: "signature.statement")
        w.refused(.enrollOwnKey(key: line, proof: Self.proof(w, principal: "casey", key: line, signedBy: "casey", time: w.now - 3_600_000)), as: "casey", rule: "signature.expired")
        let botKey = try! NoteVerifierKey(name: "ci-bot", publicKey: Ed25519.SigningKey().publicKey)
        w.refused(.enrollOwnKey(key: botKey, proof: Self.proof(w, principal: "ci-bot", key: botKey, signedBy: "ci-bot")), as: "ci-bot", rule: "admin.required")
        // The genuine one.
        let proof = Self.proof(w, principal: "casey", key: line, signedBy: "casey")
        try w.ok(.enrollOwnKey(key: line, proof: proof), as: "casey")
        let enrolled = w.state.principals["casey"]!.keys.last!
        #expect(enrolled.selfEnrolled && !enrolled.trusted && enrolled.fingerprint == browser.publicKey.fingerprint)
        // Used once; the same key twice is refused.
        w.refused(.enrollOwnKey(key: line, proof: proof), as: "casey", rule: "key.duplicate")
        // It signs a decision in a regulated project.
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let statement = DecisionStatement(request: w.request(id), stage: "compliance-reviewed", decision: .approve, actor: "casey", comment: "", time: w.now)
        try w.ok(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: statement.signed(with: browser)), as: "casey")
        // An administrator's self-enrolled key never signs administration: a stolen browser cannot rewrite policy.
        let adminBrowser = Ed25519.SigningKey()
        let adminLine = try! NoteVerifierKey(name: "ada", publicKey: adminBrowser.publicKey)
        try w.ok(.enrollOwnKey(key: adminLine, proof: Self.proof(w, principal: "ada", key: adminLine, signedBy: "ada")), as: "ada")
        let change = Command.createGroup(name: "sneaky")
        let approval = AdminApproval(change: change.adminChange!, time: w.now).signed(with: adminBrowser)
        w.refused(change.approved(by: approval), as: "ada", rule: "admin.untrusted-key")
    }

    @Test("Exports flag the key self_enrolled; both verifiers accept the genuine proof and refuse a forged one")
    func exported() async throws {
        var w = try World()
        let browser = Ed25519.SigningKey()
        let line = try NoteVerifierKey(name: "casey", publicKey: browser.publicKey)
        try w.ok(.enrollOwnKey(key: line, proof: Self.proof(w, principal: "casey", key: line, signedBy: "casey")), as: "casey")
        let exported = try ExportedWorld(w)
        #expect(exported.builder.problems.isEmpty, "\(exported.builder.problems)")
        let keys = String(decoding: exported.sink.files["keys.jsonl"] ?? [], as: UTF8.self).split(separator: "\n")
        #expect(keys.filter { $0.contains("\"self_enrolled\":true") }.count == 1 && keys.last?.contains(line.description) == true)
        let directory = try ExportFormatTests.temporary("self-enrolment")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("LEDGER.pub")
        try ExportFormatTests.writeKey(ExportedWorld.verifierKey, to: keyFile)
        let good = directory.appendingPathComponent("good")
        try exported.write(to: good)
        #expect(AuditExportVerifier.verify(directory: good, trustedKey: ExportedWorld.verifierKey).failure == nil)
        let python = try await ExportFormatTests.python(good, key: keyFile)
        #expect(python.status == 0, "\(python.stdout) \(python.stderr)")

        // The ledger key holder records a "self-enrolment" of a key for casey, proven by morgan's key: refused by both.
        var forged = try World()
        let mallory = try NoteVerifierKey(name: "casey", publicKey: Ed25519.SigningKey().publicKey)
        let forgedProof = Self.proof(forged, principal: "casey", key: mallory, signedBy: "morgan")
        forged.log.append((.keyEnrolled(.init(principal: "casey", verifierKey: mallory.description, approval: nil, proof: forgedProof)), "casey", forged.now))
        let bad = try ExportedWorld(forged)
        #expect(!bad.builder.problems.isEmpty, "the builder notices the forged proof")
        let badFolder = directory.appendingPathComponent("forged")
        try bad.write(to: badFolder)
        let refused = AuditExportVerifier.verify(directory: badFolder, trustedKey: ExportedWorld.verifierKey).failure
        #expect(refused != nil)
        let pythonRefused = try await ExportFormatTests.python(badFolder, key: keyFile)
        #expect(pythonRefused.status != 0, "the Python verifier accepted a forged self-enrolment: \(pythonRefused.stdout)")
    }
}
