public import SignoffCore
public import SignoffCrypto

// Request bodies of the API (`schema/openapi.yaml`): the server decodes them, the CLI's remote client encodes them.

public struct ChallengeRequest: Codable, Sendable {
    public let user: String
    public init(user: String) { self.user = user }
}

public struct TokenRequest: Codable, Sendable {
    public let user: String
    public let challenge: String
    public let signature: String
    public init(user: String, challenge: String, signature: String) {
        self.user = user
        self.challenge = challenge
        self.signature = signature
    }
}

public struct ServiceTokenRequest: Codable, Sendable {
    public let service_account: String
    public let scopes: [String]
    public let ttl_hours: Int?
    public init(service_account: String, scopes: [String], ttl_hours: Int?) {
        self.service_account = service_account
        self.scopes = scopes
        self.ttl_hours = ttl_hours
    }
}

public struct PrincipalBody: Codable, Sendable {
    public let name: String
    public let administrator: Bool?
    public let verifier_key: String?
}

public struct KeyBody: Codable, Sendable {
    public let verifier_key: String
    public let approval: DSSEEnvelope?
}

public struct GroupBody: Codable, Sendable {
    public let name: String
}

public struct MemberBody: Codable, Sendable {
    public let member: String
    public let approval: DSSEEnvelope?
}

public struct WorkflowBody: Codable, Sendable {
    public let file: String?
    public let source: String
}

public struct ProjectBody: Codable, Sendable {
    public let key: String
    public let regulated: Bool?
    public let environments: [String: String]
    public let requesters: [String]
    public let deployers: [String: [String]]?
    public let approval: DSSEEnvelope?
}

public struct FileRequestBody: Codable, Sendable {
    public let project: String
    public let environment: String
    public let bundle: String
    public let digest: String
    public let description: String?
}

public struct EvidenceBody: Codable, Sendable {
    public let kind: String
    public let status: String
    public let digest: String
}

public struct DecisionBody: Codable, Sendable {
    public let stage: String
    public let decision: DecisionKind
    public let comment: String?
    public let envelope: DSSEEnvelope?
}

public struct RevisionBody: Codable, Sendable {
    public let digest: String
    public let bundle: String?
}

public struct WithdrawBody: Codable, Sendable {
    public let reason: String?
}

public struct DeploymentBody: Codable, Sendable {
    public let outcome: Deployment.Outcome
    public let note: String?
}

public struct RetrospectiveBody: Codable, Sendable {
    public let comment: String
}
