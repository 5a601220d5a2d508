import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffTestSupport
import Testing

/// Export format 4 as `schema/audit-export.md` specifies it: the committed worked example, completeness (no entry can
/// be left out), disclosure (nothing of another project's requests), the signed manifest and strict checkpoint notes —
/// each verdict reached by both verifiers, ours and the Python one written from the spec.
@Suite("Audit export format 4")
struct ExportFormatTests {
    static let examples = TestSupport.projectRoot.appendingPathComponent("schema/examples")
    static let confidential = ["FRAUD-CONFIDENTIAL-COMMENT", "fraud-secret-bundle.zip", "fraud-retrain-description"]

    /// Two teams' projects: churn-model (through prod) and fraud-model, whose words must never reach churn-model's export.
    static func world() throws -> World {
        var w = try World()
        try w.admin(.createProject(ProjectSpec(key: "fraud-model", regulated: false, environments: ["staging": "standard"], roles: Cast.roles), approval: nil))
        let churn = try w.approvedProdRequest()
        w.now += 60_000
        let fraud = try w.ok(
            .fileRequest(project: "fraud-model", environment: "staging", bundle: "fraud-secret-bundle.zip", digest: SHA256Digest.hash("fraud bytes"),
                description: "fraud-retrain-description"), as: Cast.requester.name)
        guard case .requestFiled(let filed)? = fraud.first else { return w }
        try w.approve(filed.id, stage: "approved", as: Cast.releaseManager.name, comment: "FRAUD-CONFIDENTIAL-COMMENT")
        w.now += 60_000
        try w.ok(.recordDeployment(request: churn, outcome: .succeeded, note: "prod rollout"), as: Cast.deployer.name)
        return w
    }

    static let filter = AuditExportFilter(project: Cast.project)

    static func temporary(_ name: String) throws -> URL { try TestSupport.temporaryDirectory("signoff-export-\(name)") }

    static func python(_ directory: URL, key: URL) async throws -> TestSupport.ProcessResult {
        try await TestSupport.runPython("verify_export.py", [directory.path, key.path])
    }

    /// Writes `exported` to a folder and expects both verifiers — ours and the Python one written from the spec — to
    /// accept it.
    static func expectBothVerifiersAccept(_ exported: ExportedWorld, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let folder = try TestSupport.temporaryDirectory("signoff-both-verifiers")
        defer { try? FileManager.default.removeItem(at: folder) }
        try exported.write(to: folder.appendingPathComponent("export"))
        let keyFile = folder.appendingPathComponent("LEDGER.pub")
        try writeKey(ExportedWorld.verifierKey, to: keyFile)
        let report = AuditExportVerifier.verify(directory: folder.appendingPathComponent("export"), trustedKey: ExportedWorld.verifierKey)
        #expect(report.failure == nil, "\(report.failure ?? "")", sourceLocation: sourceLocation)
        let python = try await python(folder.appendingPathComponent("export"), key: keyFile)
        #expect(python.status == 0, "the Python verifier refused: \(python.stdout) \(python.stderr)", sourceLocation: sourceLocation)
    }

    static func writeKey(_ key: NoteVerifierKey, to url: URL, ending: String = "\n") throws {
        try Data((key.description + ending).utf8).write(to: url)
    }

    /// The worked example's witness policy: two of the three witnesses.
    static let policy = """
        # The audit department's policy for the example ledger: two of its three witnesses must have cosigned.
        log \(ExportedWorld.verifierKey)
        witness w1 \(ExportedWorld.witness(0))
        witness w2 \(ExportedWorld.witness(1))
        witness w3 \(ExportedWorld.witness(2))
        group audit-witnesses 2 w1 w2 w3
        quorum audit-witnesses

        """

    @Test("The committed example under schema/examples/ is exactly what this Signoff exports, and both verifiers accept it, with its witness policy too")
    func workedExample() async throws {
        let exported = try ExportedWorld(Self.world(), filter: Self.filter, cosignedBy: [0, 1])
        #expect(exported.builder.problems.isEmpty, "\(exported.builder.problems)")
        #expect(exported.builder.stubs > 0 && exported.builder.entries > 0, "the example has entries in full and stubs")
        let folder = Self.examples.appendingPathComponent("export")
        let keyFile = Self.examples.appendingPathComponent("LEDGER.pub")
        if ProcessInfo.processInfo.environment["SIGNOFF_UPDATE_SCHEMA"] == "1" {
            try? FileManager.default.removeItem(at: folder)
            try exported.write(to: folder)
            try? FileManager.default.removeItem(at: keyFile)
            try Self.writeKey(ExportedWorld.verifierKey, to: keyFile)
            try Data(Self.policy.utf8).write(to: Self.examples.appendingPathComponent("policy.txt"))
        }
        let policyFile = Self.examples.appendingPathComponent("policy.txt")
        #expect(try String(contentsOf: policyFile, encoding: .utf8) == Self.policy, "schema/examples/policy.txt: SIGNOFF_UPDATE_SCHEMA=1 regenerates it")
        let committed = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(committed == Set(exported.sink.files.keys), "the example's files")
        for (name, bytes) in exported.sink.files {
            let onDisk = [UInt8]((try? Data(contentsOf: folder.appendingPathComponent(name))) ?? Data())
            #expect(onDisk == bytes, "schema/examples/export/\(name) differs from this Signoff's export: SIGNOFF_UPDATE_SCHEMA=1 regenerates it")
        }
        let trusted = try KeyFiles.readVerifierKey(path: keyFile.path)
        let report = AuditExportVerifier.verify(directory: folder, trustedKey: trusted)
        #expect(report.failure == nil, "\(report.failure ?? "")")
        let python = try await Self.python(folder, key: keyFile)
        #expect(python.status == 0, "the Python verifier refused the example: \(python.stdout) \(python.stderr)")
        // Its cosignatures read by tlog-scales (PyPI), which nobody here wrote.
        let scales = try await TestSupport.runPython(
            "cosignature_verify.py", [ExportedWorld.verifierKey.description, ExportedWorld.witness(0).description, ExportedWorld.witness(1).description],
            input: [UInt8](try Data(contentsOf: folder.appendingPathComponent("checkpoint.txt"))))
        #expect(scales.status == 0, "\(scales.stdout) \(scales.stderr)")
        // With its policy: two of three cosigned, accepted by both, which say who.
        let policy = try WitnessPolicy(parsing: Self.policy)
        let withPolicy = AuditExportVerifier.verify(directory: folder, trustedKey: trusted, policy: policy)
        #expect(withPolicy.failure == nil && withPolicy.witnesses.map { $0.prefix(2) } == ["w1", "w2"], "\(withPolicy.failure ?? "") \(withPolicy.witnesses)")
        let pythonPolicy = try await TestSupport.runPython("verify_export.py", ["--policy", policyFile.path, folder.path, keyFile.path])
        #expect(pythonPolicy.status == 0 && pythonPolicy.stdout.contains("cosigned by w1, w2"), "\(pythonPolicy.stdout) \(pythonPolicy.stderr)")
    }

    @Test("A witness policy: 2 of 3 accepted with two cosignatures, refused with one; all 3 refused; a forged cosignature refused; a policy without the ledger refused — by both verifiers alike")
    func witnessPolicy() async throws {
        let folder = try TestSupport.temporaryDirectory("signoff-export-policy")
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyFile = folder.appendingPathComponent("LEDGER.pub")
        try Self.writeKey(ExportedWorld.verifierKey, to: keyFile)
        func verdicts(_ exported: ExportedWorld, _ policyText: String, _ name: String) async throws -> (swift: String?, python: TestSupport.ProcessResult) {
            let directory = folder.appendingPathComponent(name)
            try exported.write(to: directory)
            let policyFile = folder.appendingPathComponent(name + ".policy")
            try Data(policyText.utf8).write(to: policyFile)
            let ours = AuditExportVerifier.verify(directory: directory, trustedKey: ExportedWorld.verifierKey, policy: try WitnessPolicy(parsing: policyText))
            return (ours.failure, try await TestSupport.runPython("verify_export.py", ["--policy", policyFile.path, directory.path, keyFile.path]))
        }
        let world = try Self.world()
        let two = try await verdicts(try ExportedWorld(world, filter: Self.filter, cosignedBy: [0, 2]), Self.policy, "two")
        #expect(two.swift == nil && two.python.status == 0, "\(two.swift ?? "") \(two.python.stdout)")
        let one = try await verdicts(try ExportedWorld(world, filter: Self.filter, cosignedBy: [1]), Self.policy, "one")
        #expect(one.swift?.hasPrefix("step 1: checkpoint.txt is cosigned by w2; the policy's quorum is 2 of audit-witnesses") == true, "\(one.swift ?? "accepted")")
        #expect(one.python.status == 1 && one.python.stdout.contains("step 1:"), "\(one.python.stdout)")
        let all = Self.policy.replacingOccurrences(of: "group audit-witnesses 2", with: "group audit-witnesses all")
        let notAll = try await verdicts(try ExportedWorld(world, filter: Self.filter, cosignedBy: [0, 1]), all, "not-all")
        #expect(notAll.swift != nil && notAll.python.status == 1)
        // Without a policy, the cosignatures are neither needed nor checked: the same export verifies.
        let plain = AuditExportVerifier.verify(directory: folder.appendingPathComponent("one"), trustedKey: ExportedWorld.verifierKey)
        #expect(plain.failure == nil && plain.witnesses.isEmpty)
        // A cosignature line under w3's name and key ID that does not verify: refused, not ignored.
        var forged = try ExportedWorld(world, filter: Self.filter, cosignedBy: [0, 2])
        let cp = forged.sink.files["checkpoint.txt"]!
        let text = String(decoding: cp, as: UTF8.self)
        let w3 = ExportedWorld.witness(2)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("— \(w3.name) ") })
        var blob = try #require(Base64.decodeStandard(line.split(separator: " ")[2]))
        blob[20] ^= 1
        forged.sink.files["checkpoint.txt"] = Array(text.replacingOccurrences(of: String(line), with: "— \(w3.name) \(Base64.encode(blob))").utf8)
        let bad = try await verdicts(forged, Self.policy, "forged")
        #expect(bad.swift?.contains("does not verify") == true && bad.python.status == 1, "\(bad.swift ?? "accepted") \(bad.python.stdout)")
        // A policy that lists another log: the trusted ledger key is not one of its logs.
        let otherLog = try NoteVerifierKey(name: ExportedWorld.origin, publicKey: Ed25519.SigningKey().publicKey)
        let elsewhere = Self.policy.replacingOccurrences(of: "log \(ExportedWorld.verifierKey)", with: "log \(otherLog)")
        let wrongLog = try await verdicts(try ExportedWorld(world, filter: Self.filter, cosignedBy: [0, 1]), elsewhere, "wrong-log")
        #expect(wrongLog.swift != nil && wrongLog.python.status == 1, "\(wrongLog.python.stdout)")
    }

    @Test("Disclosure: project A's export holds no byte of project B's requests — not its comments, bundles or descriptions")
    func disclosure() throws {
        let exported = try ExportedWorld(Self.world(), filter: Self.filter)
        for (name, bytes) in exported.sink.files {
            var haystack = String(decoding: bytes, as: UTF8.self)
            if name == "entries.jsonl" {
                // The entries' bytes are base64 in the file: decode every full entry and search its payload too.
                for line in haystack.split(separator: "\n") {
                    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let entry = object["entry"] as? String,
                        let decoded = Base64.decodeStandard(entry)
                    else { continue }
                    haystack += String(decoding: decoded, as: UTF8.self)
                }
            }
            for secret in Self.confidential { #expect(!haystack.contains(secret), "\(name) discloses \(secret)") }
        }
        // The whole-ledger export does hold them: the search above can find them.
        let whole = try ExportedWorld(Self.world())
        let text = whole.sink.files["entries.jsonl"].map { String(decoding: $0, as: UTF8.self) } ?? ""
        let payloads = text.split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let entry = object["entry"] as? String else { return nil }
            return Base64.decodeStandard(entry).map { String(decoding: $0, as: UTF8.self) }
        }.joined()
        for secret in Self.confidential { #expect(payloads.contains(secret), "the unfiltered export holds \(secret)") }
    }

    /// An attacker's rebuild of an export without the ledger key: `entries` as they choose, every other file as
    /// the builder writes it (with no root check), the manifest re-signed with their own key or left unsigned.
    static func forge(_ exported: ExportedWorld, lines: [[UInt8]], signer: Ed25519.SigningKey?, into directory: URL) throws {
        var files = exported.sink.files
        files["entries.jsonl"] = Array(lines.joined())
        let digests = files.filter { $0.key != "MANIFEST.json" }.mapValues { SHA256Digest.hash($0) }
        let payload = exported.builder.manifestPayload(files: digests)
        let envelope = signer.map { DSSE.sign(payload: payload, payloadType: AuditExportBuilder.manifestPayloadType, with: $0) }
            ?? DSSEEnvelope(payloadType: AuditExportBuilder.manifestPayloadType, payload: payload, signatures: [])
        files["MANIFEST.json"] = envelope.jsonBytes() + [0x0A]
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
    }

    static func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.split(separator: 0x0A).map { Array($0) + [0x0A] }
    }

    @Test("Omission: removing any single entry — in scope, administrative or out of scope — with the files and manifest rebuilt without the ledger key, is refused by both verifiers, naming the missing entry")
    func omission() async throws {
        let exported = try ExportedWorld(Self.world(), filter: Self.filter)
        let all = Self.lines(exported.sink.files["entries.jsonl"]!)
        let directory = try Self.temporary("omission")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("LEDGER.pub")
        try Self.writeKey(ExportedWorld.verifierKey, to: keyFile)
        let attacker = Ed25519.SigningKey()
        var kinds = Set<String>()
        for index in all.indices {
            let entry = exported.entries[index]
            kinds.insert(exported.builder.showsInFull(entry) ? (Event.requestKinds.contains(entry.kind) ? "in scope" : "administrative") : "out of scope")
            let target = directory.appendingPathComponent("without-\(index)")
            var lines = all
            lines.remove(at: index)
            try Self.forge(exported, lines: lines, signer: index % 2 == 0 ? attacker : nil, into: target)
            let report = AuditExportVerifier.verify(directory: target, trustedKey: ExportedWorld.verifierKey)
            #expect(report.failure?.contains("entry \(index) is missing") == true, "removing entry \(index): \(report.failure ?? "accepted")")
            let python = try await Self.python(target, key: keyFile)
            #expect(python.status == 1, "Python accepted the export without entry \(index): \(python.stdout)")
            #expect(python.stdout.contains("entry \(index) is missing") || python.stderr.contains("entry \(index) is missing"), "Python: \(python.stdout) \(python.stderr)")
        }
        #expect(kinds == ["in scope", "administrative", "out of scope"], "every kind of entry was removed once: \(kinds)")
        // Turning an in-scope entry (or an administrative one) into a stub hides its payload: refused too.
        for (index, entry) in exported.entries.enumerated() where exported.builder.showsInFull(entry) && entry.kind != "ledger.initialized" {
            var lines = all
            lines[index] = AuditExportBuilder.stubLine(entry.header)
            let target = directory.appendingPathComponent("stubbed-\(index)")
            try Self.forge(exported, lines: lines, signer: attacker, into: target)
            let report = AuditExportVerifier.verify(directory: target, trustedKey: ExportedWorld.verifierKey)
            #expect(report.failure?.contains("entry \(index)") == true && report.failure?.contains("must be in full") == true, "\(report.failure ?? "accepted")")
            let python = try await Self.python(target, key: keyFile)
            #expect(python.status == 1, "Python accepted entry \(index) as a stub")
            if Event.requestKinds.contains(entry.kind) { break }  // one request entry and the administrative ones before it
        }
    }

    @Test("The manifest: unsigned, re-signed by another key, or listing another digest for any file — refused by both verifiers")
    func forgedManifest() async throws {
        let exported = try ExportedWorld(Self.world(), filter: Self.filter)
        let all = Self.lines(exported.sink.files["entries.jsonl"]!)
        let directory = try Self.temporary("manifest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("LEDGER.pub")
        try Self.writeKey(ExportedWorld.verifierKey, to: keyFile)
        for (label, signer) in [("unsigned", nil), ("re-signed", Ed25519.SigningKey())] as [(String, Ed25519.SigningKey?)] {
            let target = directory.appendingPathComponent(label)
            try Self.forge(exported, lines: all, signer: signer, into: target)
            let report = AuditExportVerifier.verify(directory: target, trustedKey: ExportedWorld.verifierKey)
            #expect(report.failure?.contains("MANIFEST.json is not signed by the trusted ledger key") == true, "\(label): \(report.failure ?? "accepted")")
            #expect(try await Self.python(target, key: keyFile).status == 1, "Python accepted a manifest \(label)")
        }
        // A second signature by another key beside the ledger's: refused (the manifest is the ledger's alone).
        var envelope = try DSSEEnvelope(json: Array(exported.sink.files["MANIFEST.json"]!.dropLast()))
        envelope.addSignature(with: Ed25519.SigningKey())
        let cosigned = directory.appendingPathComponent("cosigned")
        try exported.write(to: cosigned)
        try Data(envelope.jsonBytes() + [0x0A]).write(to: cosigned.appendingPathComponent("MANIFEST.json"))
        #expect(AuditExportVerifier.verify(directory: cosigned, trustedKey: ExportedWorld.verifierKey).failure != nil)
        #expect(try await Self.python(cosigned, key: keyFile).status == 1)
        // Every file's digest is checked: a changed byte in any file is named.
        for name in exported.sink.files.keys.sorted() where name != "MANIFEST.json" {
            let target = directory.appendingPathComponent("changed-\(name)")
            try exported.write(to: target)
            var bytes = exported.sink.files[name]!
            bytes[bytes.count / 2] ^= 0x01
            try Data(bytes).write(to: target.appendingPathComponent(name))
            let report = AuditExportVerifier.verify(directory: target, trustedKey: ExportedWorld.verifierKey)
            #expect(report.failure != nil, "a changed \(name) was accepted")
            #expect(try await Self.python(target, key: keyFile).status == 1, "Python accepted a changed \(name)")
        }
    }

    /// A checkpoint note and key file case: the note (or key file) given, and whether it must be accepted.
    struct NoteCase {
        let label: String
        let note: String
        let keyFileEnding: String
        let accepted: Bool
    }

    static func noteCases(_ checkpoint: SignedCheckpoint) throws -> [NoteCase] {
        let note = checkpoint.serialized
        let key = ExportedWorld.verifierKey
        let text = String(note[..<note.range(of: "\n\n")!.lowerBound]) + "\n"
        let genuine = note[note.range(of: "\n\n")!.upperBound...]
        let badSignature = "\u{2014} \(key.name) \(Base64.encode(key.keyID + [UInt8](repeating: 7, count: 64)))\n"
        let otherKeyID = "\u{2014} \(key.name) \(Base64.encode([0xde, 0xad, 0xbe, 0xef] + [UInt8](repeating: 7, count: 64)))\n"
        let witness = "\u{2014} witness.example \(Base64.encode([1, 2, 3, 4] + [UInt8](repeating: 9, count: 64)))\n"
        // The genuine line with its base64's last padding bits set: the same bytes, written non-canonically.
        let line = String(genuine.dropLast())
        let blob = String(line.split(separator: " ").last!)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var chars = Array(blob)
        let lastIndex = chars.lastIndex { $0 != "=" }!
        chars[lastIndex] = alphabet[alphabet.firstIndex(of: chars[lastIndex])! | 1]
        let nonCanonical = line.replacingOccurrences(of: blob, with: String(chars)) + "\n"
        return [
            NoteCase(label: "genuine", note: note, keyFileEnding: "\n", accepted: true),
            NoteCase(label: "key file without its final newline", note: note, keyFileEnding: "", accepted: true),
            NoteCase(label: "key file with a CRLF", note: note, keyFileEnding: "\r\n", accepted: false),
            NoteCase(label: "key file with a blank line after", note: note, keyFileEnding: "\n\n", accepted: false),
            NoteCase(label: "a failing signature line under the ledger's name and key ID", note: text + "\n" + genuine + badSignature, keyFileEnding: "\n", accepted: false),
            NoteCase(label: "the failing line first", note: text + "\n" + badSignature + genuine, keyFileEnding: "\n", accepted: false),
            NoteCase(label: "a line under the ledger's name with another key ID (ignored)", note: text + "\n" + genuine + otherKeyID, keyFileEnding: "\n", accepted: true),
            NoteCase(label: "a witness's line (ignored)", note: text + "\n" + witness + genuine, keyFileEnding: "\n", accepted: true),
            NoteCase(label: "only other keys' lines", note: text + "\n" + otherKeyID + witness, keyFileEnding: "\n", accepted: false),
            NoteCase(label: "non-canonical base64 (padding bits set)", note: text + "\n" + nonCanonical, keyFileEnding: "\n", accepted: false),
        ]
    }

    @Test("Checkpoint notes and key files: a failing line under the ledger's key refuses the note, another key ID is ignored, non-canonical base64 is refused, the key file's final newline is optional — the same verdicts in both verifiers")
    func strictNotes() async throws {
        let exported = try ExportedWorld(Self.world(), filter: Self.filter)
        let directory = try Self.temporary("notes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases = try Self.noteCases(exported.checkpoint)
        for (index, c) in cases.enumerated() {
            let target = directory.appendingPathComponent("case-\(index)")
            try exported.write(to: target)
            // The manifest lists checkpoint.txt's digest: a different note is re-listed by someone holding the
            // ledger key (here: the test), so that only the note itself decides.
            var files = exported.sink.files
            files["checkpoint.txt"] = Array(c.note.utf8)
            try Data(c.note.utf8).write(to: target.appendingPathComponent("checkpoint.txt"))
            var sink = ExportBuilderTests.CollectingSink()
            sink.files = files.filter { $0.key != "MANIFEST.json" }
            let payload = exported.builder.manifestPayload(files: sink.digests)
            try Data(AuditExportBuilder.signedManifest(payload, with: ExportedWorld.ledgerKey)).write(to: target.appendingPathComponent("MANIFEST.json"))
            let keyFile = directory.appendingPathComponent("key-\(index).pub")
            try Self.writeKey(ExportedWorld.verifierKey, to: keyFile, ending: c.keyFileEnding)
            let swift: Bool
            if let trusted = try? KeyFiles.readVerifierKey(path: keyFile.path) {
                let report = AuditExportVerifier.verify(directory: target, trustedKey: trusted)
                swift = report.failure == nil
                if !c.accepted && swift { Issue.record("\(c.label): accepted") }
                if c.accepted && !swift { Issue.record("\(c.label): refused: \(report.failure ?? "")") }
            } else {
                swift = false
                #expect(!c.accepted, "\(c.label): the key file was refused")
            }
            let python = try await Self.python(target, key: keyFile)
            #expect((python.status == 0) == c.accepted, "Python on \(c.label): \(python.status) \(python.stdout) \(python.stderr)")
            #expect(swift == c.accepted)
        }
    }

    @Test("The folder holds the eight files as regular files and nothing else: an empty folder, a name that is not UTF-8, symbolic links, a pipe, a format-3 file and a runaway line are each refused by both verifiers, without hanging, and no message carries a control character")
    func folder() async throws {
        let exported = try ExportedWorld(Self.world(), filter: Self.filter)
        let directory = try Self.temporary("folder")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("LEDGER.pub")
        try Self.writeKey(ExportedWorld.verifierKey, to: keyFile)
        let fm = FileManager.default
        let cases: [(String, (URL) throws -> Void)] = [
            ("an empty folder", { try fm.createDirectory(at: $0.appendingPathComponent("REQ-3 approved by the CISO"), withIntermediateDirectories: false) }),
            ("a file whose name is not UTF-8", { target in
                let path = Array(target.path.utf8) + [0x2F, 0x78, 0x96, 0x79, 0]
                let fd = path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
                #expect(fd >= 0)
                close(fd)
            }),
            ("a symbolic link in place of SUMMARY.md", { target in
                let copy = target.deletingLastPathComponent().appendingPathComponent(target.lastPathComponent + "-summary.md")
                try fm.moveItem(at: target.appendingPathComponent("SUMMARY.md"), to: copy)
                try fm.createSymbolicLink(at: target.appendingPathComponent("SUMMARY.md"), withDestinationURL: copy)
            }),
            ("an extra symbolic link", { try fm.createSymbolicLink(at: $0.appendingPathComponent("APPROVALS.md"), withDestinationURL: $0.appendingPathComponent("SUMMARY.md")) }),
            ("a pipe for entries.jsonl", { target in
                try fm.removeItem(at: target.appendingPathComponent("entries.jsonl"))
                #expect(mkfifo(target.appendingPathComponent("entries.jsonl").path, 0o644) == 0)
            }),
            ("a format-3 file", { try Data("{}\n".utf8).write(to: $0.appendingPathComponent("proofs.jsonl")) }),
            ("a 33 MiB line without a newline", { try Data(repeating: 0x41, count: 33 << 20).write(to: $0.appendingPathComponent("entries.jsonl")) }),
        ]
        var namedFormat = 0
        for (index, (label, change)) in cases.enumerated() {
            let target = directory.appendingPathComponent("case-\(index)")
            try exported.write(to: target)
            try change(target)
            let started = ContinuousClock.now
            let report = AuditExportVerifier.verify(directory: target, trustedKey: ExportedWorld.verifierKey)
            // A guard against hanging (a pipe read for ever, a line read without end), not a speed limit: a busy machine
            // took 21 s for the 33 MiB line once.
            #expect(ContinuousClock.now - started < .seconds(120), "\(label): hung")
            #expect(report.failure != nil, "\(label) was accepted")
            #expect(report.failure?.unicodeScalars.contains { $0.properties.generalCategory == .control } != true)
            if label == "a format-3 file" {
                namedFormat += 1
                #expect(report.failure?.contains("format 3") == true, "\(report.failure ?? "")")
            }
            let python = try await Self.python(target, key: keyFile)
            #expect(python.status == 1, "Python on \(label): \(python.status) \(python.stdout)")
        }
        #expect(namedFormat == 1, "the format-3 case ran and was named")
        // A stub whose kind carries a terminal's escape sequence, where an entry must be in full: named without it.
        var lines = Self.lines(exported.sink.files["entries.jsonl"]!)
        let index = try #require(exported.entries.firstIndex { exported.builder.showsInFull($0) && Event.requestKinds.contains($0.kind) })
        let entry = exported.entries[index]
        let hostile = try EntryHeader(
            sequence: entry.sequence, timeMilliseconds: entry.timeMilliseconds, kind: "\u{1B}[2K\rOK: all verified\n\u{1B}[8m", project: entry.project,
            environment: entry.environment, actor: entry.actor, payloadDigest: SHA256Digest.hash(entry.payload))
        lines[index] = AuditExportBuilder.stubLine(hostile)
        let target = directory.appendingPathComponent("escape")
        try Self.forge(exported, lines: lines, signer: nil, into: target)
        let report = AuditExportVerifier.verify(directory: target, trustedKey: ExportedWorld.verifierKey)
        #expect(report.failure != nil && report.failure?.contains("\u{1B}") == false && report.failure?.contains("\n") == false, "\(report.failure ?? "accepted")")
    }

    @Test("A header that does not name its request's project and environment (which only the ledger key's holder could record) is refused by both verifiers")
    func headerMismatch() async throws {
        var entries = try ExportedWorld.entries(Self.world())
        let index = try #require(entries.firstIndex { $0.kind == "decision.recorded" })
        let e = entries[index]
        entries[index] = try LedgerEntry(
            sequence: e.sequence, timeMilliseconds: e.timeMilliseconds, kind: e.kind, project: "fraud-model", environment: e.environment, actor: e.actor,
            payload: e.payload)
        let exported = try ExportedWorld(entries: entries)
        #expect(exported.builder.problems.contains { $0.sequence == e.sequence && $0.message.contains("header names") })
        let directory = try Self.temporary("header")
        defer { try? FileManager.default.removeItem(at: directory) }
        try exported.write(to: directory.appendingPathComponent("export"))
        let keyFile = directory.appendingPathComponent("LEDGER.pub")
        try Self.writeKey(ExportedWorld.verifierKey, to: keyFile)
        let report = AuditExportVerifier.verify(directory: directory.appendingPathComponent("export"), trustedKey: ExportedWorld.verifierKey)
        #expect(report.failure?.contains("entry \(e.sequence)") == true, "\(report.failure ?? "accepted")")
        #expect(try await Self.python(directory.appendingPathComponent("export"), key: keyFile).status == 1)
    }
}

@Suite("CSV records")
struct CSVRecordTests {
    @Test("Records of a CSV as Signoff writes it are counted as Python's csv module reads them: line breaks inside a quoted comment end no record")
    func recordsAsPythonReadsThem() async throws {
        let comments = ["", "looks good", "two\nlines", "crlf\r\ninside", "\"quoted\"", "ends with a quote\"", "=HYPERLINK(\"x\")", "a,b;c\td", "\n", "\"\n\"", "ünïcödé\n✓"]
        var csv = CSVText.row(["time", "request", "comment"])
        for (i, comment) in comments.enumerated() { csv += CSVText.row(["2026-12-07T00:00:0\(i % 10)Z", "REQ-\(i)", comment]) }
        #expect(CSVText.records(in: Array(csv.utf8)) == comments.count + 1)
        #expect(CSVText.records(in: Array(csv.utf8).dropLast(2)) == comments.count + 1, "a last record without its line break")
        #expect(CSVText.records(in: [UInt8]()) == 0)
        let python = try await TestSupport.run(
            try await TestSupport.python(), ["-c", "import csv, io, sys; print(len(list(csv.reader(io.StringIO(sys.stdin.read(), newline='')))))"],
            input: Array(csv.utf8))
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(comments.count + 1), "Python read \(python.stdout)")
    }
}
