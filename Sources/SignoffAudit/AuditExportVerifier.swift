public import Foundation
public import SignoffCrypto
public import SignoffLedger
internal import SignoffCore

/// Verifies an export folder offline, with nothing but the ledger's public key: the checkpoint's signature, every
/// entry's leaf hash and inclusion proof, every decision's signature against the keys enrolled at the time, and
/// every other file by rebuilding it from the proven entries and comparing bytes.
public enum AuditExportVerifier {
    public static func verify(directory: URL, trustedKey: NoteVerifierKey, progress: ((Int) -> Void)? = nil) -> AuditReport {
        var report = AuditReport()
        do {
            try run(directory: directory, trustedKey: trustedKey, report: &report, progress: progress)
        } catch let error as ExportFailure {
            report.failure = error.message
        } catch {
            report.failure = "\(error)"
        }
        return report
    }

    struct ExportFailure: Error { let message: String }

    /// A line of `entries.jsonl` (field names as in the format).
    struct EntryLine: Decodable {
        let actor: String
        let entry: String
        let kind: String
        let leaf_hash: String
        let sequence: UInt64
        let time: String
    }

    /// A line of `proofs.jsonl`.
    struct ProofLine: Decodable {
        let leaf_hash: String
        let proof: [String]
        let sequence: UInt64
        let tree_size: UInt64
    }

    static func fail(_ message: String) -> ExportFailure { ExportFailure(message: message) }

    static func run(directory: URL, trustedKey: NoteVerifierKey, report: inout AuditReport, progress: ((Int) -> Void)?) throws {
        func read(_ name: String) throws -> Data {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                throw fail("\(name) is missing from the export")
            }
            return data
        }
        let checkpoint: SignedCheckpoint
        do {
            checkpoint = try SignedCheckpoint(verifying: String(decoding: try read("checkpoint.txt"), as: UTF8.self), with: trustedKey)
        } catch let error as ExportFailure { throw error } catch {
            throw fail("checkpoint.txt: \(error) — not signed by the trusted ledger key \(trustedKey.keyIDHex)")
        }
        report.checkpointSize = checkpoint.checkpoint.size
        guard let manifest = try? JSONSerialization.jsonObject(with: try read("MANIFEST.json")) as? [String: Any],
            let filterObject = manifest["filter"] as? [String: Any]
        else { throw fail("MANIFEST.json is not the JSON object the format specifies") }
        let filter = AuditExportFilter(
            project: filterObject["project"] as? String, environment: filterObject["environment"] as? String,
            since: (filterObject["since"] as? String).flatMap(Timestamps.milliseconds(rfc3339:)),
            until: (filterObject["until"] as? String).flatMap(Timestamps.milliseconds(rfc3339:)))
        var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: trustedKey, filter: filter)
        var sink = HashingSink()
        try builder.start(to: &sink)

        let decoder = JSONDecoder()
        // Both files are read line by line together: memory does not grow with the export.
        var entryLines = try LineReader(directory.appendingPathComponent("entries.jsonl"), name: "entries.jsonl")
        var proofLines = try LineReader(directory.appendingPathComponent("proofs.jsonl"), name: "proofs.jsonl")
        var previous: UInt64?
        let root = checkpoint.checkpoint.rootHash.bytes
        var index = -1
        while true {
            let (entryLine, proofLine) = (try entryLines.next(), try proofLines.next())
            guard let entryLine, let proofLine else {
                if entryLine != nil || proofLine != nil {
                    throw fail("entries.jsonl and proofs.jsonl have different numbers of lines (\(entryLine == nil ? "proofs" : "entries") left over after line \(index + 1))")
                }
                break
            }
            index += 1
            let where_ = "entries.jsonl line \(index + 1)"
            guard let e = try? decoder.decode(EntryLine.self, from: entryLine), let encoded = Base64.decodeStandard(e.entry) else {
                throw fail("\(where_) is not an entry object")
            }
            let sequence = e.sequence
            let entry: LedgerEntry
            do { entry = try LedgerEntry(decoding: encoded) } catch { throw fail("\(where_) (entry \(sequence)): \(error)") }
            guard entry.sequence == sequence, e.kind == entry.kind, e.actor == entry.actor, e.time == Timestamps.rfc3339(entry.timeMilliseconds) else {
                throw fail("entry \(sequence): its sequence, time, kind or actor field differs from its signed bytes")
            }
            guard e.leaf_hash == entry.leafHash.description else { throw fail("entry \(sequence): leaf_hash is not the hash of its bytes") }
            if let previous, sequence <= previous { throw fail("entry \(sequence) comes after entry \(previous): entries must be in ledger order") }
            previous = sequence
            guard sequence < checkpoint.checkpoint.size else { throw fail("entry \(sequence) is beyond the checkpoint's \(checkpoint.checkpoint.size) entries") }
            guard let p = try? decoder.decode(ProofLine.self, from: proofLine), p.sequence == sequence, p.tree_size == checkpoint.checkpoint.size,
                p.leaf_hash == entry.leafHash.description
            else { throw fail("proofs.jsonl line \(index + 1) is not the proof of entry \(sequence) against the checkpoint") }
            let proof = p.proof.compactMap { try? SHA256Digest(parsing: $0).bytes }
            guard proof.count == p.proof.count else { throw fail("proofs.jsonl line \(index + 1): a proof hash is not sha256:<64 hex digits>") }
            do {
                try MerkleVerifier.verifyInclusion(leafHash: entry.leafHash.bytes, index: sequence, size: checkpoint.checkpoint.size, proof: proof, root: root)
            } catch { throw fail("entry \(sequence): its inclusion proof does not lead to the signed checkpoint's root (\(error))") }
            guard let admitted = builder.admit(entry) else { throw fail("entry \(sequence) is outside the export's filter (the folder was changed)") }
            try builder.add(admitted, proof: try proof.map { try SHA256Digest(bytes: $0) }, to: &sink)
            if let progress, (index + 1) % 65_536 == 0 { progress(index + 1) }
        }
        if let bad = builder.invalidApprovals.first {
            throw fail("the administrative change at entry \(bad) carries an approval that does not verify with keys its signers had enrolled at the time")
        }
        if let bad = builder.invalidStatements.first {
            throw fail("the retrospective or delegation at entry \(bad) carries a signature that does not verify with a key its actor had enrolled at the time")
        }
        if let bad = builder.invalidSignatures.first {
            throw fail("the decision at entry \(bad) carries a signature that does not verify with a key its decider had enrolled at the time")
        }
        try builder.finish(to: &sink)
        report.entries = builder.entries
        report.decisions = builder.decisions
        report.signedDecisions = builder.signedDecisions
        // Every other file must be exactly what the proven entries give.
        let expected = sink.digests
        let present = try files(in: directory)
        for name in present.sorted() where expected[name] == nil { throw fail("\(name) is not part of the export format (added?)") }
        for (name, digest) in expected.sorted(by: { $0.key < $1.key }) {
            guard present.contains(name) else { throw fail("\(name) is missing from the export") }
            guard try fileDigest(directory.appendingPathComponent(name)) == digest else {
                throw fail("\(name) differs from what the signed entries give: it was changed after export")
            }
        }
        report.files = expected.count
    }

    /// The lines of a file, read in 1 MiB chunks; the last line must end with a newline.
    struct LineReader {
        let handle: FileHandle
        let name: String
        var buffer: [UInt8] = []
        var start = 0
        var atEnd = false

        init(_ url: URL, name: String) throws {
            guard let handle = FileHandle(forReadingAtPath: url.path) else { throw AuditExportVerifier.fail("\(name) is missing from the export") }
            self.handle = handle
            self.name = name
        }

        mutating func next() throws -> Data? {
            while true {
                if let newline = buffer[start...].firstIndex(of: 0x0A) {
                    let line = Data(buffer[start..<newline])
                    start = newline + 1
                    return line
                }
                if atEnd {
                    guard start == buffer.count else { throw AuditExportVerifier.fail("\(name) does not end with a newline (truncated?)") }
                    return nil
                }
                buffer.removeFirst(start)
                start = 0
                let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
                if chunk.isEmpty { atEnd = true } else { buffer += chunk }
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

    static func files(in directory: URL) throws -> Set<String> {
        var out = Set<String>()
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
        let base = directory.standardizedFileURL.path
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            out.insert(String(url.standardizedFileURL.path.dropFirst(base.count + 1)))
        }
        return out
    }
}
