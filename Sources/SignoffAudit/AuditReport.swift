/// What an export or an offline verification found.
public struct AuditReport: Sendable {
    public init() {}
    public init(entries: Int, decisions: Int, signedDecisions: Int, checkpointSize: UInt64, files: Int, failure: String?, stubs: Int = 0, documents: Int = 0) {
        (self.entries, self.decisions, self.signedDecisions, self.checkpointSize, self.files, self.failure) = (entries, decisions, signedDecisions, checkpointSize, files, failure)
        self.stubs = stubs
        self.documents = documents
    }
    /// Evidence documents (`documents/`), each the document of an exported evidence digest.
    public var documents = 0
    /// Entries in full.
    public var entries = 0
    /// Entries outside the filter, shown as their header and payload digest.
    public var stubs = 0
    public var decisions = 0
    public var signedDecisions = 0
    public var checkpointSize: UInt64 = 0
    public var files = 0
    /// With a witness policy: the witnesses whose cosignature on the checkpoint verified ("NAME at TIME"), in the
    /// policy's order, and the quorum the policy asks.
    public var witnesses: [String] = []
    public var quorum: String?
    /// Nil when everything verified.
    public var failure: String?
    /// What verified but deserves a reader's attention (never a reason to refuse: the spec's verdict does not depend on it).
    public var warnings: [String] = []
}
