public import Foundation
public import SignoffCrypto
public import SignoffLedger
internal import SignoffCore

/// Verifies an export folder offline, with nothing but the ledger's public key: the checkpoint's signature; that the
/// entries account for every leaf of its tree (the root recomputed from all of them, in full or as stubs, is its root)
/// and show in full exactly what the filter selects and everything administrative; every signature and binding; the
/// manifest's signature by the ledger key; and every file, by its digest in the manifest and by rebuilding it from
/// the entries.
public enum AuditExportVerifier {
    /// With `policy` (C2SP tlog-policy), the checkpoint must also be cosigned by the witnesses its quorum asks.
    public static func verify(directory: URL, trustedKey: NoteVerifierKey, policy: WitnessPolicy? = nil, progress: ((Int) -> Void)? = nil) -> AuditReport {
        var report = AuditReport()
        // The first failure in the spec's order of steps, named by its step ("step 4: the decision at entry 12 …").
        var step = 0
        do {
            try run(directory: directory, trustedKey: trustedKey, policy: policy, report: &report, step: &step, progress: progress)
        } catch let error as AuditExportBuilder.Failure {
            report.failure = "step \(step): \(error.message)"
        } catch {
            report.failure = "step \(step): \(error)"
        }
        return report
    }

    static func fail(_ message: String) -> AuditExportBuilder.Failure { AuditExportBuilder.Failure(message) }

    /// The signed manifest, read (its signature is checked once the entries have been: an omission is named first).
    struct Manifest {
        let envelope: DSSEEnvelope
        let filter: AuditExportFilter
        let files: [String: String]
        let documents: Bool
    }

    static func readManifest(_ bytes: Data) throws -> Manifest {
        // Exactly the bytes an exporter writes: the compact envelope and a newline (nothing a reader could take differently).
        guard bytes.last == 0x0A, let envelope = try? DSSEEnvelope(json: [UInt8](bytes.dropLast())), envelope.jsonBytes() + [0x0A] == [UInt8](bytes) else {
            throw fail("MANIFEST.json is not a DSSE envelope written as compact JSON and a newline")
        }
        guard envelope.payloadType == AuditExportBuilder.manifestPayloadType else {
            throw fail("MANIFEST.json has payload type \(envelope.payloadType), not \(AuditExportBuilder.manifestPayloadType)")
        }
        guard StrictJSON.duplicateKey(in: envelope.payload) == nil,
            let object = try? JSONSerialization.jsonObject(with: Data(envelope.payload)) as? [String: Any],
            let filter = object["filter"] as? [String: Any], let files = object["files"] as? [String: String]
        else { throw fail("MANIFEST.json's payload is not the manifest object the format specifies") }
        guard object["format"] as? String == AuditExportBuilder.format else {
            throw fail("MANIFEST.json names format \(String(describing: object["format"] ?? "none")), not \(AuditExportBuilder.format) (export again with this Signoff)")
        }
        func name(_ key: String) throws -> String? {
            switch filter[key] {
            case nil, is NSNull: return nil
            case let text as String: return text
            default: throw fail("MANIFEST.json: filter.\(key) is neither a string nor null")
            }
        }
        func time(_ key: String) throws -> Int64? {
            guard let text = try name(key) else { return nil }
            guard let ms = Timestamps.milliseconds(rfc3339: text), Timestamps.rfc3339(ms) == text else {
                throw fail("MANIFEST.json: filter.\(key) is not an RFC 3339 time with milliseconds in UTC")
            }
            return ms
        }
        let parsed = AuditExportFilter(project: try name("project"), environment: try name("environment"), since: try time("since"), until: try time("until"))
        // JSON's true or false (JSONSerialization's numbers also cast to Bool).
        guard let documents = object["documents"] as? NSNumber, String(cString: documents.objCType) == "c" else {
            throw fail("MANIFEST.json: documents is not true or false")
        }
        return Manifest(envelope: envelope, filter: parsed, files: files, documents: documents.boolValue)
    }

    /// One line of `entries.jsonl`: an entry in full, or a stub.
    enum Line {
        case full(LedgerEntry)
        case stub(EntryHeader)
    }

    static let fullKeys: Set<String> = ["actor", "entry", "environment", "kind", "project", "sequence", "time"]
    static let stubKeys: Set<String> = ["actor", "environment", "kind", "payload_digest", "project", "sequence", "time"]

    static func parse(_ bytes: Data, expected: UInt64) throws -> Line {
        guard let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any] else {
            throw fail("entries.jsonl: the line for entry \(expected) is not a JSON object")
        }
        guard let number = object["sequence"] as? NSNumber, let sequence = UInt64(exactly: number.doubleValue), "\(number)" == String(sequence) else {
            throw fail("entries.jsonl: the line for entry \(expected) has no sequence number")
        }
        if sequence > expected { throw fail("entry \(expected) is missing from entries.jsonl (the next line is entry \(sequence))") }
        if sequence < expected { throw fail("entry \(sequence) appears again in entries.jsonl after entry \(expected - 1) (out of order or duplicated)") }
        guard let actor = object["actor"] as? String, let kind = object["kind"] as? String, let project = object["project"] as? String,
            let environment = object["environment"] as? String, let time = object["time"] as? String
        else { throw fail("entry \(sequence): its line lacks actor, kind, project, environment or time") }
        let keys = Set(object.keys)
        if keys == fullKeys {
            guard let text = object["entry"] as? String, let encoded = Base64.decodeStandard(text) else {
                throw fail("entry \(sequence): its entry field is not canonical base64")
            }
            let entry: LedgerEntry
            do { entry = try LedgerEntry(decoding: encoded) } catch { throw fail("entry \(sequence): \(error.message)") }
            guard entry.sequence == sequence, entry.kind == kind, entry.actor == actor, entry.project == project, entry.environment == environment,
                Timestamps.rfc3339(entry.timeMilliseconds) == time
            else { throw fail("entry \(sequence): its sequence, time, kind, project, environment or actor field differs from its bytes") }
            guard AuditExportBuilder.fullLine(entry) == [UInt8](bytes) + [0x0A] else {
                throw fail("entry \(sequence): its line is not written as compact JSON (keys in order, no spaces, minimal escapes)")
            }
            return .full(entry)
        }
        guard keys == stubKeys else { throw fail("entry \(sequence): its line has fields \(keys.sorted()), neither an entry's nor a stub's") }
        guard let digestText = object["payload_digest"] as? String, let digest = try? SHA256Digest(parsing: digestText), digest.description == digestText else {
            throw fail("entry \(sequence): its payload_digest is not sha256:<64 lowercase hex digits>")
        }
        guard let ms = Timestamps.milliseconds(rfc3339: time), Timestamps.rfc3339(ms) == time else {
            throw fail("entry \(sequence): its time is not RFC 3339 in UTC with milliseconds")
        }
        let header: EntryHeader
        do {
            header = try EntryHeader(
                sequence: sequence, timeMilliseconds: ms, kind: kind, project: project, environment: environment, actor: actor, payloadDigest: digest)
        } catch { throw fail("entry \(sequence): \(error.message)") }
        guard AuditExportBuilder.stubLine(header) == [UInt8](bytes) + [0x0A] else {
            throw fail("entry \(sequence): its line is not written as compact JSON (keys in order, no spaces, minimal escapes)")
        }
        return .stub(header)
    }

    static func run(
        directory: URL, trustedKey: NoteVerifierKey, policy: WitnessPolicy?, report: inout AuditReport, step: inout Int, progress: ((Int) -> Void)?
    ) throws {
        // 0. Exactly the export's files, each a regular file, before any is read.
        step = 0
        let documents = try checkFolder(directory)
        func read(_ name: String) throws -> Data { try readSmall(directory.appendingPathComponent(name), limit: SignedNote.maximumBytes) }
        // 1. The checkpoint, signed by the trusted key (every signature line under its name and key ID must verify).
        step = 1
        let checkpoint: SignedCheckpoint
        do {
            checkpoint = try SignedCheckpoint(verifying: String(decoding: try read("checkpoint.txt"), as: UTF8.self), with: trustedKey)
        } catch let error as AuditExportBuilder.Failure { throw error } catch let error as LedgerError where error.code == .noValidSignature {
            throw fail("checkpoint.txt is not signed by the trusted ledger key \(trustedKey.name) (key ID \(trustedKey.keyIDHex)): \(oneLine(error.message))")
        } catch {
            throw fail("checkpoint.txt is not a signed checkpoint: \(oneLine("\(error)"))")
        }
        guard checkpoint.checkpoint.extensions.isEmpty else {
            throw fail("checkpoint.txt: a Signoff checkpoint has exactly three lines of text (origin, size, root); this one has extension lines")
        }
        report.checkpointSize = checkpoint.checkpoint.size
        // With a policy: the witnesses' cosignatures on it, as many as its quorum asks (lines by keys the policy does
        // not name are ignored; a line under a named witness's key that does not verify is refused).
        if let policy {
            guard policy.logs.isEmpty || policy.logs.contains(trustedKey) else {
                throw fail("the policy lists logs, and the trusted ledger key \(trustedKey.name) (key ID \(trustedKey.keyIDHex)) is not among them")
            }
            let verdict = policy.evaluate(checkpoint.note)
            report.witnesses = verdict.cosigned.map { "\($0.witness) at \(Timestamps.rfc3339(Int64(clamping: $0.time) * 1000))" }
            report.quorum = policy.quorumDescription
            guard verdict.badCosignatures.isEmpty else {
                throw fail("checkpoint.txt carries a cosignature line under the key of \(verdict.badCosignatures.joined(separator: ", ")) that does not verify")
            }
            guard verdict.quorumMet else {
                let by = verdict.cosigned.isEmpty ? "no witness of the policy" : verdict.cosigned.map(\.witness).joined(separator: ", ")
                throw fail("checkpoint.txt is cosigned by \(by); the policy's quorum is \(policy.quorumDescription): not met")
            }
        }
        // 2. The manifest's filter says which entries must be in full.
        step = 2
        let manifest = try readManifest(try read("MANIFEST.json"))
        var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: trustedKey, filter: manifest.filter)
        builder.documentsRequested = manifest.documents
        var sink = HashingSink()
        try builder.start(to: &sink)
        // 3. Every entry up to the checkpoint, in order: in full exactly when the filter (or its kind) says so.
        step = 3
        var lines = try LineReader(directory.appendingPathComponent("entries.jsonl"), name: "entries.jsonl")
        var previousTime: Int64?
        while let bytes = try lines.next() {
            let expected = builder.size
            guard expected < checkpoint.checkpoint.size else {
                throw fail("entries.jsonl has more lines than the checkpoint's \(checkpoint.checkpoint.size) entries")
            }
            let line = try parse(bytes, expected: expected)
            let time: Int64 =
                switch line {
                case .full(let entry): entry.timeMilliseconds
                case .stub(let header): header.timeMilliseconds
                }
            if let previousTime, time < previousTime {
                throw fail("entry \(expected): its time \(Timestamps.rfc3339(time)) is earlier than entry \(expected - 1)'s \(Timestamps.rfc3339(previousTime)) (entry times never decrease)")
            }
            previousTime = time
            switch line {
            case .full(let entry):
                guard builder.showsInFull(entry) else {
                    throw fail("entry \(entry.sequence) (\(oneLine(entry.kind)) of \(oneLine(entry.project))/\(oneLine(entry.environment))) is in full but outside the filter MANIFEST.json states: it must be a stub (or the manifest's filter was changed)")
                }
                try builder.addFull(entry, to: &sink)
            case .stub(let header):
                guard !builder.showsInFull(version: LedgerEntry.formatVersion, kind: header.kind, project: header.project, environment: header.environment, time: header.timeMilliseconds) else {
                    throw fail("entry \(header.sequence) (\(oneLine(header.kind))) must be in full (administrative, or selected by the filter; a webhook's in an export of every project), but only its header is in the export")
                }
                try builder.addStub(header, to: &sink)
            }
            if let progress, builder.size % 65_536 == 0 { progress(Int(builder.size)) }
        }
        var entriesHasher = lines.hasher
        let entriesDigest = entriesHasher.finalize()
        // The size, and the root recomputed from every leaf, against the signed checkpoint.
        _ = try builder.finish(to: &sink)
        report.entries = builder.entries
        report.stubs = builder.stubs
        report.decisions = builder.decisions
        report.signedDecisions = builder.signedDecisions
        // 4. Every signature and binding.
        step = 4
        if let problem = builder.problems.first { throw fail(problem.message) }
        // An evidence document is the document of evidence the export shows in full, and no other.
        for name in documents where builder.evidenceDigests[(try SHA256Digest(parsing: "sha256:" + name))] == nil {
            throw fail("\(AuditExportBuilder.documentsFolder)/\(name) is not the document of any evidence in full in this export")
        }
        // 5. The manifest is the ledger's.
        step = 5
        guard manifest.envelope.signatures.count == 1, manifest.envelope.signatures[0].keyid == trustedKey.publicKey.keyFingerprint,
            trustedKey.publicKey.isValidSignature(manifest.envelope.signatures[0].sig, for: manifest.envelope.signedBytes)
        else { throw fail("MANIFEST.json is not signed by the trusted ledger key \(trustedKey.keyIDHex) (unsigned, or signed by another key): check that LEDGER.pub is this ledger's key from a source you trust, then ask for a new export") }
        // 6. Every file, by the digest the signed manifest gives; then (7) as the entries give it.
        step = 6
        if !documents.isEmpty && !manifest.documents {
            throw fail("the export holds \(AuditExportBuilder.documentsFolder)/, but MANIFEST.json says evidence documents were not asked for")
        }
        let documentPaths = Set(documents.map { "\(AuditExportBuilder.documentsFolder)/\($0)" })
        let present = AuditExportBuilder.files.subtracting(["MANIFEST.json"]).union(documentPaths)
        guard Set(manifest.files.keys) == present else {
            throw fail("MANIFEST.json lists \(manifest.files.keys.sorted().map(oneLine)), not the export's seven files\(documents.isEmpty ? "" : " and its \(documents.count) evidence documents")")
        }
        let rebuilt = sink.digests
        for (name, digest) in manifest.files.sorted(by: { $0.key < $1.key }) {
            guard present.contains(name) else { throw fail("\(name) is missing from the export") }
            // entries.jsonl was hashed as it was read; the others are small or read once here.
            let actual = name == "entries.jsonl" ? entriesDigest : try fileDigest(directory.appendingPathComponent(name))
            guard actual.description == digest else {
                throw fail("\(name) is not the file the signed manifest lists (changed after export)")
            }
            if documentPaths.contains(name) {
                guard name.hasSuffix(String(actual.description.dropFirst("sha256:".count))) else {
                    throw fail("\(name) is not named by its SHA-256 (\(actual))")
                }
            }
        }
        // The files as listed (each checked above); their contents are step 7's.
        var expectedFiles: [String: SHA256Digest] = [:]
        for (name, text) in manifest.files { if let digest = try? SHA256Digest(parsing: text) { expectedFiles[name] = digest } }
        guard builder.manifestPayload(files: expectedFiles) == manifest.envelope.payload else {
            throw fail("MANIFEST.json's counts, checkpoint, key or documents flag differ from what the entries give")
        }
        // 7. The files rebuilt from the entries, byte for byte.
        step = 7
        for (name, digest) in manifest.files.sorted(by: { $0.key < $1.key }) where !documentPaths.contains(name) {
            guard rebuilt[name]?.description == digest else {
                // The human-readable summaries are checked by their digest (the spec's verdict); their facts are those
                // of the files rebuilt byte for byte. That they are not what this Signoff writes is worth saying.
                if AuditExportBuilder.digestCheckedFiles.contains(name) {
                    report.warnings.append("\(name) is signed but is not what this Signoff writes from the entries: read the facts in decisions.csv, keys.jsonl and administration.csv")
                    continue
                }
                throw fail("\(name) differs from what the entries give")
            }
        }
        report.files = AuditExportBuilder.files.count + documents.count
        report.documents = documents.count
    }

    /// The lines of a file, read in 1 MiB chunks; the last line must end with a newline, and no line may be longer
    /// than ``maximumLine`` (an entry's 16 MiB payload in base64, and its header, fit well within it).
    struct LineReader {
        static let maximumLine = 32 << 20
        let handle: FileHandle
        let name: String
        var buffer: [UInt8] = []
        var start = 0
        /// Where the search for the next newline resumes: a long line is scanned once, not once per chunk.
        var scanned = 0
        var atEnd = false
        /// SHA-256 of every byte read: the file's digest once ``next()`` has returned nil, without reading it again.
        var hasher = SHA256Hasher()

        init(_ url: URL, name: String) throws {
            guard let handle = FileHandle(forReadingAtPath: url.path) else { throw AuditExportVerifier.fail("\(name) is missing from the export") }
            self.handle = handle
            self.name = name
        }

        mutating func next() throws -> Data? {
            while true {
                if let newline = buffer[max(start, scanned)...].firstIndex(of: 0x0A) {
                    let line = Data(buffer[start..<newline])
                    start = newline + 1
                    scanned = start
                    return line
                }
                scanned = buffer.count
                guard buffer.count - start <= Self.maximumLine else {
                    throw AuditExportVerifier.fail("\(name) has a line longer than \(Self.maximumLine >> 20) MiB")
                }
                if atEnd {
                    guard start == buffer.count else { throw AuditExportVerifier.fail("\(name) does not end with a newline (truncated?)") }
                    return nil
                }
                buffer.removeFirst(start)
                scanned -= start
                start = 0
                let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
                if chunk.isEmpty {
                    atEnd = true
                } else {
                    hasher.update([UInt8](chunk))
                    buffer += chunk
                }
            }
        }
    }

    /// SHA-256 of a file, read in chunks.
    static func fileDigest(_ url: URL) throws -> SHA256Digest {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw fail("\(url.lastPathComponent) cannot be read") }
        defer { try? handle.close() }
        var hasher = SHA256Hasher()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update([UInt8](chunk)) }
        return hasher.finalize()
    }

    /// The folder's entries, checked before anything is read: exactly the export's eight names, each a regular file —
    /// no symbolic link, folder, device or pipe, and no other entry of any kind (a name that is not UTF-8 included), so
    /// that nothing unsigned sits beside what was verified and no read can block or run away — and, optionally, a
    /// folder `documents` of evidence documents: regular files named by 64 lowercase hex digits, at most
    /// ``AuditExportBuilder/maximumDocumentBytes`` each, at least one. Returns the documents' names.
    static func checkFolder(_ directory: URL) throws -> [String] {
        var documents: [String] = []
        for name in try names(in: directory, "the export") {
            if name == "proofs.jsonl" || name == "envelopes.jsonl" {
                throw fail("this is an export of format 3 or earlier (it has \(name)), which cannot prove that nothing was left out: export again from the ledger with this Signoff (format \(AuditExportBuilder.format))")
            }
            var info = stat()
            let exists = lstat(directory.appendingPathComponent(name).path, &info) == 0
            if name == AuditExportBuilder.documentsFolder {
                guard exists, (info.st_mode & S_IFMT) == S_IFDIR else { throw fail("\(name) is not a folder (a symbolic link or special file is refused)") }
                let folder = directory.appendingPathComponent(name)
                documents = try names(in: folder, "\(name)/")
                guard !documents.isEmpty else { throw fail("\(name)/ is empty (an export without evidence documents has no such folder)") }
                for document in documents {
                    guard document.utf8.count == 64, document.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                        throw fail("\(name)/\(oneLine(document)) is not part of the export (evidence documents are named by their SHA-256 in 64 lowercase hex digits)")
                    }
                    var docInfo = stat()
                    guard lstat(folder.appendingPathComponent(document).path, &docInfo) == 0, (docInfo.st_mode & S_IFMT) == S_IFREG else {
                        throw fail("\(name)/\(document) is not a regular file (a symbolic link, folder or special file is refused)")
                    }
                    guard Int(docInfo.st_size) <= AuditExportBuilder.maximumDocumentBytes else {
                        throw fail("\(name)/\(document) is larger than \(AuditExportBuilder.maximumDocumentBytes >> 20) MiB: not an export's")
                    }
                }
                continue
            }
            guard AuditExportBuilder.files.contains(name) else {
                throw fail("\(oneLine(name)) is not part of the export (the folder holds exactly \(AuditExportBuilder.files.sorted().joined(separator: ", ")), and optionally \(AuditExportBuilder.documentsFolder)/)")
            }
            guard exists, (info.st_mode & S_IFMT) == S_IFREG else {
                throw fail("\(name) is not a regular file (a symbolic link, folder or special file is refused)")
            }
        }
        let found = Set(try names(in: directory, "the export"))
        for name in AuditExportBuilder.files.sorted() where !found.contains(name) { throw fail("\(name) is missing from the export") }
        return documents.sorted()
    }

    /// The names in a folder, except `.` and `..`; a name that is not UTF-8 is refused.
    static func names(in directory: URL, _ what: String) throws -> [String] {
        guard let dir = opendir(directory.path) else { throw fail("\(directory.path) is not a folder that can be read") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let raw = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if raw == [0x2E] || raw == [0x2E, 0x2E] { continue }
            guard let name = String(validating: raw, as: UTF8.self) else {
                throw fail("\(what) holds an entry whose name is not UTF-8 (\(raw.map { String(format: "%02x", $0) }.joined())): not part of the export")
            }
            names.append(name)
        }
        return names
    }

    /// A small file read whole, refused beyond `limit` bytes before it is read.
    static func readSmall(_ url: URL, limit: Int) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw fail("\(url.lastPathComponent) is missing from the export") }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: limit + 1) ?? Data()
        guard data.count <= limit else { throw fail("\(url.lastPathComponent) is larger than \(limit >> 10) KiB: not an export's") }
        return data
    }

}
