/// What a connected directory's SCIM service keeps beside the ledger for one user or group it provisioned: the SCIM
/// attributes the ledger does not hold (display names, e-mail addresses, external ids). Who exists, who is enabled and
/// who belongs to which group are the ledger's. Written in the same unit of work as the entries its change causes.
public struct DirectoryResource: Hashable, Sendable {
    public enum Kind: String, Sendable, CaseIterable { case user = "User", group = "Group" }
    public let directory: String
    public let kind: Kind
    /// The user's or group's Signoff name (its SCIM id).
    public let id: String
    /// A JSON object of the kept attributes.
    public var attributes: String
    public let createdAt: Int64
    public var modifiedAt: Int64
    public var version: Int64

    public init(directory: String, kind: Kind, id: String, attributes: String, createdAt: Int64, modifiedAt: Int64, version: Int64) {
        self.directory = directory
        self.kind = kind
        self.id = id
        self.attributes = attributes
        self.createdAt = createdAt
        self.modifiedAt = modifiedAt
        self.version = version
    }
}

/// A directory resource's change, made with the entries of the directory's change (``SignoffService/execute(_:as:storing:idempotency:directoryResource:)``).
public enum DirectoryResourceWrite: Hashable, Sendable {
    case put(DirectoryResource)
    case delete(directory: String, kind: DirectoryResource.Kind, id: String)
}
