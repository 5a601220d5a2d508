internal import Foundation
internal import PostgresNIO
public import SignoffCrypto
public import SignoffService

/// Evidence documents in PostgreSQL (table `evidence_document`), per project, by digest.
public struct PostgresEvidenceStore: EvidenceStore {
    let database: PGDatabase

    public func put(_ document: EvidenceDocument) async throws -> Bool {
        try await database.run { session in try Self.put(document, session) }
    }

    static func put(_ document: EvidenceDocument, _ session: PGSession) throws -> Bool {
        try session.execute(
            """
            INSERT INTO evidence_document (project, digest, media_type, content, uploaded_by, uploaded_ms) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (project, digest) DO NOTHING
            """,
            [.text(document.project), .bytes(document.digest.bytes), .text(document.mediaType), .bytes(document.content), .text(document.uploadedBy), .int(document.uploadedAt)]
        ) == 1
    }

    public func get(_ digest: SHA256Digest, project: String) async throws -> EvidenceDocument? {
        try await database.run { session in
            guard
                let row = try session.query(
                    "SELECT media_type, content, uploaded_by, uploaded_ms FROM evidence_document WHERE project = $1 AND digest = $2", [.text(project), .bytes(digest.bytes)]
                ).rows.first
            else { return nil }
            let (mediaType, content, uploadedBy, uploadedAt) = try row.decode((String, ByteBuffer, String, Int64).self)
            return EvidenceDocument(project: project, digest: digest, mediaType: mediaType, content: Array(buffer: content), uploadedBy: uploadedBy, uploadedAt: uploadedAt)
        }
    }
}
