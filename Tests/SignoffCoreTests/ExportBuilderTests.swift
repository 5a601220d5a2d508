import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffTestSupport
import Testing

/// The export builder on the engine's own events: which requests requests.md lists, in what order, and the flags.
@Suite("Audit export builder")
struct ExportBuilderTests {
    struct CollectingSink: AuditExportSink {
        var files: [String: [UInt8]] = [:]
        mutating func append(_ bytes: [UInt8], to path: String) throws { files[path, default: []] += bytes }
        var digests: [String: SHA256Digest] { files.mapValues { SHA256Digest.hash($0) } }
        func text(_ path: String) -> String { String(decoding: files[path] ?? [], as: UTF8.self) }
    }

    static func export(_ w: World, filter: AuditExportFilter = AuditExportFilter()) throws -> CollectingSink {
        try ExportedWorld(w, filter: filter).sink
    }

    @Test("Closed requests are listed as they close, open ones after; an emergency deployment without its review is flagged OVERDUE until it is done; labels, emergency and skipped stages show")
    func requestsAndRetrospectives() throws {
        var w = try World()
        let hotfix = try w.fileEmergency(env: "qa", labels: ["touches": ["plugins"]])
        try w.approve(hotfix, stage: "approved", as: "morgan", comment: "prod is down, fix is one line")
        try w.ok(.recordDeployment(request: hotfix, outcome: .succeeded, note: "hotfix"), as: "dana")
        let withdrawn = try w.file(env: "qa")
        try w.ok(.withdraw(request: withdrawn, reason: "superseded"), as: "riley")
        w.now += 25 * 3_600_000
        try w.admin(.createGroup(name: "late"))  // an entry after the review was due

        var sink = try Self.export(w)
        var requests = sink.text("requests.md")
        let closedAt = try #require(requests.range(of: "## \(withdrawn): churn-model → qa, withdrawn"))
        let openAt = try #require(requests.range(of: "## \(hotfix): churn-model → qa, deployed"))
        #expect(requests.contains("- **EMERGENCY**: prod is down") && requests.contains("- labels: touches=plugins"))
        #expect(requests.contains("- stages: requested → approved → deployed (skips tested, shared-objects)"))
        #expect(closedAt.lowerBound < openAt.lowerBound, "closed requests first")
        #expect(requests.contains("retrospective review: NOT DONE") && requests.contains("OVERDUE"))
        #expect(sink.text("SUMMARY.md").contains("emergency deployments without their retrospective review: \(hotfix)"))
        #expect(sink.text("SUMMARY.md").contains("2 requests, 1 closed and 1 open"))

        try w.ok(w.retrospective(hotfix, by: "casey", comment: "reviewed the diff and the incident"), as: "casey")
        sink = try Self.export(w)
        requests = sink.text("requests.md")
        #expect(requests.contains("retrospective review: done") && !requests.contains("OVERDUE"))
        #expect(!sink.text("SUMMARY.md").contains("without their retrospective"))
        #expect(sink.text("SUMMARY.md").contains("2 requests, 2 closed and 0 open"))
        #expect(sink.text("decisions.csv").contains("prod is down, fix is one line"))
    }

    @Test("A signed retrospective verifies in the export; one whose signature is not its actor's is flagged, and the verifier refuses it")
    func signedStatements() throws {
        var w = try World()
        let id = try w.fileEmergency(env: "qa")
        try w.approve(id, stage: "approved", as: "morgan")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana")
        try w.ok(w.retrospective(id, by: "casey", comment: "reviewed"), as: "casey")
        var builder = try ExportedWorld(w).builder
        #expect(builder.problems.isEmpty)
        // A crafted entry (the engine never records one): casey's retrospective signed with morgan's key.
        let statement = RetrospectiveStatement(request: id, project: Cast.project, environment: "qa", bundleDigest: World.digest, actor: "casey", comment: "x", time: w.now)
        var forged = Event.RetrospectiveRecorded(request: id, comment: "x", overdue: false)
        forged.envelope = statement.signed(with: w.keys["morgan"]!)
        w.log.append((.retrospectiveRecorded(forged), "casey", w.now))
        let exported = try ExportedWorld(w)
        builder = exported.builder
        #expect(builder.problems.map(\.sequence) == [UInt64(w.log.count - 1)])
        #expect(exported.sink.text("SUMMARY.md").contains("entries whose signature or binding does not verify"))
    }

}

/// A world's log as a ledger (entries with their headers, a checkpoint signed by a fixed ledger key) and its export:
/// the same bytes every run.
struct ExportedWorld {
    static let origin = "signoff.example/ledger"  // as World's ledger.initialized names it
    static let ledgerKey = World.fixedKey("the ledger")
    static var verifierKey: NoteVerifierKey { try! NoteVerifierKey(name: origin, publicKey: ledgerKey.publicKey) }

    let entries: [LedgerEntry]
    let checkpoint: SignedCheckpoint
    var builder: AuditExportBuilder
    var sink = ExportBuilderTests.CollectingSink()

    /// The entries of a world's log: each header names its request's project and environment, as the service writes them.
    static func entries(_ w: World) throws -> [LedgerEntry] {
        var state = SignoffState()
        return try w.log.enumerated().map { index, item in
            state.apply(item.event, actor: item.actor, at: item.time)
            let scope = state.entryScope(of: item.event)
            return try LedgerEntry(
                sequence: UInt64(index), timeMilliseconds: item.time, kind: item.event.kind, project: scope.project, environment: scope.environment,
                actor: item.actor, payload: item.event.payload)
        }
    }

    init(_ w: World, filter: AuditExportFilter = AuditExportFilter(), cosignedBy witnesses: [Int] = []) throws {
        try self.init(entries: try Self.entries(w), filter: filter, cosignedBy: witnesses)
    }

    /// Three witnesses of fixed keys (`witness.example/w1` …), and the time they cosign at.
    static let witnessKeys = (1...3).map { World.fixedKey("witness \($0)") }
    static func witness(_ i: Int) -> CosignerKey { try! CosignerKey(name: "witness.example/w\(i + 1)", publicKey: witnessKeys[i].publicKey) }
    static let cosignedAt: UInt64 = 1_780_000_000

    /// The export of `entries` as the ledger key holder would cut it (whatever the entries say), its checkpoint
    /// cosigned by the witnesses numbered in `witnesses` (0 to 2).
    init(entries: [LedgerEntry], filter: AuditExportFilter = AuditExportFilter(), cosignedBy witnesses: [Int] = []) throws {
        self.entries = entries
        let signed = try SignedCheckpoint(
            signing: Checkpoint(origin: Self.origin, size: UInt64(entries.count), rootHash: Merkle.rootHash(leaves: entries.map(\.leafHash))),
            with: Self.ledgerKey)
        let lines = try witnesses.map {
            try Cosignature.sign(checkpointText: signed.note.text, time: Self.cosignedAt, name: Self.witness($0).name, key: Self.witnessKeys[$0])
        }
        checkpoint = try SignedCheckpoint(parsed: signed.note.adding(lines))
        builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: Self.verifierKey, filter: filter)
        try builder.start(to: &sink)
        for entry in entries { try builder.add(entry, to: &sink) }
        let manifest = try builder.finish(to: &sink)
        try sink.append(AuditExportBuilder.signedManifest(manifest, with: Self.ledgerKey), to: "MANIFEST.json")
    }

    /// Writes the export's files into `directory`.
    func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, bytes) in sink.files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
    }
}
