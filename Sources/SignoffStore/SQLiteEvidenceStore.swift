internal import Foundation
internal import GRDB
public import SignoffCrypto
public import SignoffService

/// Evidence documents in the ledger's SQLite file (table `evidence_document`).
public struct SQLiteEvidenceStore: EvidenceStore {
    let ledger: SQLiteLedgerStore

    init(ledger: SQLiteLedgerStore) { self.ledger = ledger }

    public func put(_ document: EvidenceDocument) async throws -> Bool {
        try await ledger.pool.write { db in try Self.put(document, db) }
    }

    static func put(_ document: EvidenceDocument, _ db: Database) throws -> Bool {
        try db.execute(
            sql: """
                INSERT INTO evidence_document (project, digest, media_type, content, uploaded_by, uploaded_ms) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (project, digest) DO NOTHING
                """,
            arguments: [document.project, Data(document.digest.bytes), document.mediaType, Data(document.content), document.uploadedBy, document.uploadedAt])
        return db.changesCount == 1
    }

    public func get(_ digest: SHA256Digest, project: String) async throws -> EvidenceDocument? {
        try await ledger.pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT media_type, content, uploaded_by, uploaded_ms FROM evidence_document WHERE project = ? AND digest = ?",
                arguments: [project, Data(digest.bytes)]
            ).map {
                EvidenceDocument(project: project, digest: digest, mediaType: $0[0], content: [UInt8]($0[1] as Data), uploadedBy: $0[2], uploadedAt: $0[3])
            }
        }
    }
}
