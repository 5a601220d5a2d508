public import SignoffCrypto
internal import SignoffAudit

/// An evidence document: the bytes whose SHA-256 an `evidence.attached` entry records, with what they are.
public struct EvidenceDocument: Sendable {
    /// The project whose request's evidence it is: documents are never shared across projects.
    public let project: String
    public let digest: SHA256Digest
    public let mediaType: String
    public let content: [UInt8]
    public let uploadedBy: String
    public let uploadedAt: Int64

    public init(project: String, digest: SHA256Digest, mediaType: String, content: [UInt8], uploadedBy: String, uploadedAt: Int64) {
        self.project = project
        self.digest = digest
        self.mediaType = mediaType
        self.content = content
        self.uploadedBy = uploadedBy
        self.uploadedAt = uploadedAt
    }

    /// What the console shows or offers: JUnit and other XML, plain text, Markdown, JSON, PDF.
    public static let mediaTypes = ["application/xml", "text/xml", "text/plain", "text/markdown", "application/json", "application/pdf"]
    /// The default largest document (`signoff serve --evidence-max-bytes`; a local `evidence add --upload`).
    public static let defaultMaximumBytes = 5 << 20
    /// The most `--evidence-max-bytes` may allow: the largest document an audit export's verifier reads
    /// (``AuditExportBuilder/maximumDocumentBytes``, `schema/audit-export.md`), so that every stored document exports.
    public static let largestMaximumBytes = AuditExportBuilder.maximumDocumentBytes
}

/// Evidence documents, content-addressed per project: the same bytes are stored once in a project.
public protocol EvidenceStore: Sendable {
    /// Stores `document` unless one with its project and digest exists; true if it was new.
    func put(_ document: EvidenceDocument) async throws -> Bool
    func get(_ digest: SHA256Digest, project: String) async throws -> EvidenceDocument?
}
