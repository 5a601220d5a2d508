public import Foundation
internal import GRDB
public import SignoffCore
public import SignoffCrypto
public import SignoffLedger

/// Writes an export's files into a folder, hashing them as it goes.
struct FolderSink: AuditExportSink {
    let directory: URL
    private var hashers: [String: SHA256Hasher] = [:]
    private var handles: [String: FileHandle] = [:]

    init(directory: URL) { self.directory = directory }

    mutating func append(_ bytes: [UInt8], to path: String) throws {
        hashers[path, default: SHA256Hasher()].update(bytes)
        if let handle = handles[path] {
            try handle.write(contentsOf: bytes)
            return
        }
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: Data(bytes)) else {
            throw LedgerError(.storage, "cannot create \(url.path)")
        }
        handles[path] = try FileHandle(forWritingTo: url).also { try $0.seekToEnd() }
    }

    var digests: [String: SHA256Digest] { hashers.mapValues { var h = $0; return h.finalize() } }

    func close() throws {
        for handle in handles.values {
            try handle.synchronize()
            try handle.close()
        }
    }
}

/// Remembers the subtree hashes it has read: consecutive entries' inclusion proofs share most of their nodes, so an
/// export reads each from SQLite about once instead of once per entry. Bounded: forgets everything past 65,536 nodes.
final class CachingNodeReader<Base: MerkleNodeReader>: MerkleNodeReader {
    private let base: Base
    private var cache: [MerkleNodeID: SHA256Digest] = [:]

    init(_ base: Base) { self.base = base }

    func hash(of node: MerkleNodeID) throws -> SHA256Digest {
        if let hash = cache[node] { return hash }
        let hash = try base.hash(of: node)
        if cache.count >= 65_536 { cache.removeAll(keepingCapacity: true) }
        cache[node] = hash
        return hash
    }
}

extension FileHandle {
    fileprivate func also(_ body: (FileHandle) throws -> Void) rethrows -> FileHandle {
        try body(self)
        return self
    }
}

/// What an export or an offline verification found.
public struct AuditReport: Sendable {
    public var entries = 0
    public var decisions = 0
    public var signedDecisions = 0
    public var checkpointSize: UInt64 = 0
    public var files = 0
    /// Nil when everything verified.
    public var failure: String?
}

extension SignoffDatabase {
    /// Exports the entries matching `filter` up to the newest signed checkpoint into `directory` (which must not
    /// exist or be empty), with an inclusion proof for each. Streams: memory does not grow with the ledger.
    public func exportAudit(
        filter: AuditExportFilter, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> AuditReport {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.path) {
            guard (try fm.contentsOfDirectory(atPath: directory.path)).isEmpty else {
                throw LedgerError(.invalidRequest, "\(directory.path) is not empty; export into a new folder (nothing was overwritten)")
            }
        } else {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let ledgerKey = ledger.verifierKey
        return try await ledger.pool.read { db in
            guard let note = try String.fetchOne(db, sql: "SELECT note FROM checkpoint ORDER BY tree_size DESC LIMIT 1") else {
                throw LedgerError(.invalidRequest, "the ledger has no signed checkpoint; run `signoff checkpoint --sign` first")
            }
            let checkpoint = try SignedCheckpoint(verifying: note, with: ledgerKey)
            let size = checkpoint.checkpoint.size
            var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: ledgerKey, filter: filter)
            var sink = FolderSink(directory: directory)
            try builder.start(to: &sink)
            let proofs = MerkleProofBuilder(reader: CachingNodeReader(SQLiteNodeReader(db: db)))
            let cursor = try Data.fetchCursor(db, sql: "SELECT entry FROM ledger_entry WHERE sequence < ? ORDER BY sequence", arguments: [Int64(size)])
            var seen: UInt64 = 0
            while let bytes = try cursor.next() {
                let entry = try LedgerEntry(decoding: [UInt8](bytes))
                seen += 1
                if let admitted = builder.admit(entry) {
                    try builder.add(admitted, proof: try proofs.inclusionProof(index: entry.sequence, size: size), to: &sink)
                }
                if let progress, seen % 65_536 == 0 { progress(seen, size) }
            }
            try builder.finish(to: &sink)
            try sink.close()
            progress?(seen, size)
            return AuditReport(
                entries: builder.entries, decisions: builder.decisions, signedDecisions: builder.signedDecisions, checkpointSize: size,
                files: sink.digests.count, failure: nil)
        }
    }
}

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
            guard e.leaf_hash == entry.leafHash.hex else { throw fail("entry \(sequence): leaf_hash is not the hash of its bytes") }
            if let previous, sequence <= previous { throw fail("entry \(sequence) comes after entry \(previous): entries must be in ledger order") }
            previous = sequence
            guard sequence < checkpoint.checkpoint.size else { throw fail("entry \(sequence) is beyond the checkpoint's \(checkpoint.checkpoint.size) entries") }
            guard let p = try? decoder.decode(ProofLine.self, from: proofLine), p.sequence == sequence, p.tree_size == checkpoint.checkpoint.size,
                p.leaf_hash == entry.leafHash.hex
            else { throw fail("proofs.jsonl line \(index + 1) is not the proof of entry \(sequence) against the checkpoint") }
            let proof = p.proof.compactMap { Hex.decode($0) }
            guard proof.count == p.proof.count else { throw fail("proofs.jsonl line \(index + 1): a proof hash is not hex") }
            do {
                try MerkleVerifier.verifyInclusion(leafHash: entry.leafHash.bytes, index: sequence, size: checkpoint.checkpoint.size, proof: proof, root: root)
            } catch { throw fail("entry \(sequence): its inclusion proof does not lead to the signed checkpoint's root (\(error))") }
            guard let admitted = builder.admit(entry) else { throw fail("entry \(sequence) is outside the export's filter (the folder was changed)") }
            try builder.add(admitted, proof: try proof.map { try SHA256Digest(bytes: $0) }, to: &sink)
            if let progress, (index + 1) % 65_536 == 0 { progress(index + 1) }
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
