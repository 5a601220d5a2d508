public import Foundation
internal import GRDB
internal import Synchronization
public import SignoffAudit
public import SignoffCrypto
public import SignoffLedger

extension SQLiteLedgerStore {
    /// Exports every entry up to the newest signed checkpoint into `directory` (which must not exist or be empty):
    /// those `filter` selects and every administrative one in full, the others as stubs, with a manifest signed by the
    /// ledger key. Streams: memory does not grow with the ledger. With `documents`, the stored evidence documents of
    /// the evidence in full go into `documents/` (listed in the manifest).
    public func exportAudit(
        filter: AuditExportFilter, documents: Bool, to directory: URL, progress: (@Sendable (UInt64, UInt64) -> Void)?
    ) async throws -> AuditReport {
        guard let signingKey else {
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
        let ledgerKey = verifierKey
        do {
            return try await write(filter: filter, documents: documents, to: directory, signingKey: signingKey, ledgerKey: ledgerKey, progress: progress)
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

    private func write(
        filter: AuditExportFilter, documents: Bool, to directory: URL, signingKey: Ed25519.SigningKey, ledgerKey: NoteVerifierKey,
        progress: (@Sendable (UInt64, UInt64) -> Void)?
    ) async throws -> AuditReport {
        try await pool.read { db in
            guard let note = try String.fetchOne(db, sql: "SELECT note FROM checkpoint ORDER BY tree_size DESC LIMIT 1") else {
                throw LedgerError(.invalidRequest, "the ledger has no signed checkpoint; run `signoff checkpoint --sign` first")
            }
            let checkpoint = try SignedCheckpoint(verifying: note, with: ledgerKey)
            let size = checkpoint.checkpoint.size
            var builder = AuditExportBuilder(checkpoint: checkpoint, ledgerKey: ledgerKey, filter: filter)
            var sink = FolderSink(directory: directory)
            try builder.start(to: &sink)
            let cursor = try Data.fetchCursor(db, sql: "SELECT entry FROM ledger_entry WHERE sequence < ? ORDER BY sequence", arguments: [Int64(size)])
            var seen: UInt64 = 0
            while let bytes = try cursor.next() {
                let entry = try LedgerEntry(decoding: [UInt8](bytes))
                guard entry.sequence == seen else { throw LedgerError(.invalidRequest, "the ledger lacks entry \(seen): run `signoff audit verify --db`") }
                seen += 1
                try builder.add(entry, to: &sink)
                if let progress, seen % 65_536 == 0 { progress(seen, size) }
            }
            var documentCount = 0
            if documents {
                let statement = try db.cachedStatement(sql: "SELECT content FROM evidence_document WHERE project = ? AND digest = ?")
                for (digest, projects) in builder.evidenceDigests.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
                    // Stored per project; any project whose evidence in full names the digest will do: the bytes are the same.
                    guard let content = try projects.sorted().lazy.compactMap({ try Data.fetchOne(statement, arguments: [$0, Data(digest.bytes)]) }).first else { continue }
                    // Stored only when its SHA-256 was this digest; checked again, since the export's manifest vouches for it.
                    guard SHA256Digest.hash([UInt8](content)) == digest else {
                        throw LedgerError(
                            .storage,
                            "the stored evidence document \(digest) is not the document of that digest (changed in the database): export without --documents (the ledger does not depend on it), and restore the database from a backup")
                    }
                    try sink.append([UInt8](content), to: AuditExportBuilder.documentPath(digest))
                    documentCount += 1
                }
            }
            let manifest = try builder.finish(to: &sink)
            try sink.append(AuditExportBuilder.signedManifest(manifest, with: signingKey), to: "MANIFEST.json")
            try sink.close()
            progress?(seen, size)
            return AuditReport(
                entries: builder.entries, decisions: builder.decisions, signedDecisions: builder.signedDecisions, checkpointSize: size,
                files: sink.digests.count, failure: nil, stubs: builder.stubs, documents: documentCount)
        }
    }
}
