public import Foundation
public import SignoffAudit
internal import SignoffLedger
public import SignoffCrypto

extension SignoffService {
    /// Exports every entry up to the newest signed checkpoint into `directory` (which must not exist or be empty):
    /// those `filter` selects and every administrative one in full, the others as stubs, with a manifest signed by the
    /// ledger key (the ``Signer``). Streams page by page over the store's primitive reads: memory does not grow with
    /// the ledger, and every backend exports alike. With `documents`, the stored evidence documents of the evidence in
    /// full go into `documents/` (listed in the manifest).
    public func exportAudit(
        filter: AuditExportFilter, documents: Bool = false, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> AuditReport {
        guard let signer = storage.signer else {
            throw LedgerError(.invalidRequest, "an export's manifest is signed with the ledger key: open the ledger with its key to export")
        }
        let fm = FileManager.default
        let existed = fm.fileExists(atPath: directory.path)
        if existed {
            guard (try fm.contentsOfDirectory(atPath: directory.path)).isEmpty else {
                throw LedgerError(.invalidRequest, "\(directory.path) is not empty; export into a new folder (nothing was overwritten)")
            }
        } else {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        do {
            return try await writeExport(filter: filter, documents: documents, to: directory, signer: signer, progress: progress)
        } catch {
            // Nothing half-written is left to look like an export: the folder is as it was (absent, or empty).
            if existed {
                for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] { try? fm.removeItem(at: directory.appendingPathComponent(name)) }
            } else {
                try? fm.removeItem(at: directory)
            }
            throw error
        }
    }

    /// Entries read per page while exporting.
    static let exportPage = 4096

    private func writeExport(
        filter: AuditExportFilter, documents: Bool, to directory: URL, signer: any Signer, progress: (@Sendable (UInt64, UInt64) -> Void)?
    ) async throws -> AuditReport {
        let ledgerKey = ledger.verifierKey
        guard let latest = try await ledger.latestCheckpoint() else {
            throw LedgerError(.invalidRequest, "the ledger has no signed checkpoint; run `signoff checkpoint --sign` first")
        }
        let checkpoint = try SignedCheckpoint(verifying: latest.serialized, with: ledgerKey)
        let size = checkpoint.checkpoint.size
        var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: ledgerKey, filter: filter)
        builder.documentsRequested = documents
        var sink = FolderSink(directory: directory)
        try builder.start(to: &sink)
        var seen: UInt64 = 0
        while seen < size {
            let page = try await ledger.entries(from: seen, limit: Int(min(UInt64(Self.exportPage), size - seen)))
            guard !page.isEmpty else { throw LedgerError(.invalidRequest, "the ledger lacks entry \(seen): run `signoff audit verify --db`") }
            for entry in page {
                guard entry.sequence == seen else { throw LedgerError(.invalidRequest, "the ledger lacks entry \(seen): run `signoff audit verify --db`") }
                seen += 1
                try builder.add(entry, to: &sink)
                if let progress, seen % 65_536 == 0 { progress(seen, size) }
            }
        }
        var documentCount = 0
        if documents {
            for (digest, projects) in builder.evidenceDigests.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
                // Stored per project; any project whose evidence in full names the digest will do: the bytes are the same.
                var content: [UInt8]?
                for project in projects.sorted() {
                    if let document = try await evidence.get(digest, project: project) {
                        content = document.content
                        break
                    }
                }
                guard let content else { continue }
                // Stored only when its SHA-256 was this digest; checked again, since the export's manifest vouches for it.
                guard SHA256Digest.hash(content) == digest else {
                    throw LedgerError(
                        .storage,
                        "the stored evidence document \(digest) is not the document of that digest (changed in the database): export without --documents (the ledger does not depend on it), and restore the database from a backup")
                }
                try sink.append(content, to: AuditExportBuilder.documentPath(digest))
                documentCount += 1
            }
        }
        let manifest = try builder.finish(to: &sink)
        try sink.append(try signer.signManifest(manifest), to: "MANIFEST.json")
        try sink.close()
        progress?(seen, size)
        return AuditReport(
            entries: builder.entries, decisions: builder.decisions, signedDecisions: builder.signedDecisions, checkpointSize: size,
            files: sink.digests.count, failure: nil, stubs: builder.stubs, documents: documentCount)
    }
}

extension SignoffService {
    /// The checks of an export's step 4 (`schema/audit-export.md`) on every entry of the ledger up to its newest signed
    /// checkpoint, each read in full: every header against its payload (an entry re-headed as another project's, which
    /// a per-project export shows only as that project's stub), every signature and binding, and the authority of every
    /// administrative change. What `signoff audit verify --db` adds to the chain, hashes and checkpoints. Nil when all
    /// hold (or the ledger has no checkpoint yet); otherwise the first entry that does not, and why.
    public static func checkEntries(
        of ledger: any LedgerStore, trustedKey: NoteVerifierKey, progress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> (sequence: UInt64, message: String)? {
        guard let latest = try await ledger.latestCheckpoint() else { return nil }
        let checkpoint = try SignedCheckpoint(verifying: latest.serialized, with: trustedKey)
        let size = checkpoint.checkpoint.size
        var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: trustedKey, filter: AuditExportFilter())
        var sink = HashingSink()
        try builder.start(to: &sink)
        var seen: UInt64 = 0
        while seen < size {
            let page = try await ledger.entries(from: seen, limit: Int(min(UInt64(exportPage), size - seen)))
            guard !page.isEmpty else { break }
            for entry in page where entry.sequence == seen {
                try builder.add(entry, to: &sink)
                seen += 1
            }
            if let first = builder.problems.first { return first }
            progress?(seen, size)
        }
        return builder.problems.first
    }

    /// ``checkEntries(of:trustedKey:progress:)`` on an export of the whole log (every entry in full): what a monitor
    /// reading the log through the API checks — each entry's header against its payload, signatures and authority. An
    /// entry that is not in full is a problem (a per-project export cannot show a re-headed entry of another project).
    public static func checkEntries(inExport folder: URL, trustedKey: NoteVerifierKey) throws -> (sequence: UInt64, message: String)? {
        let note = String(decoding: try Data(contentsOf: folder.appendingPathComponent("checkpoint.txt")), as: UTF8.self)
        var builder = AuditExportBuilder(checkpoint: try SignedCheckpoint(verifying: note, with: trustedKey), ledgerKey: trustedKey, filter: AuditExportFilter())
        var sink = HashingSink()
        try builder.start(to: &sink)
        var sequence: UInt64 = 0
        for line in String(decoding: try Data(contentsOf: folder.appendingPathComponent("entries.jsonl")), as: UTF8.self).split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let encoded = object["entry"] as? String,
                let bytes = Base64.decodeStandard(encoded), let entry = try? LedgerEntry(decoding: bytes)
            else { return (sequence, "entry \(sequence) is not in full: check the whole log's export") }
            try builder.add(entry, to: &sink)
            if let problem = builder.problems.first { return problem }
            sequence += 1
        }
        return builder.problems.first
    }
}
