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
    /// The administrators' signed approval of issuing it (account, scopes, lifetime): required once a regulated project exists.
    public let approval: DSSEEnvelope?
    public init(service_account: String, scopes: [String], ttl_hours: Int?, approval: DSSEEnvelope? = nil) {
        self.service_account = service_account
        self.scopes = scopes
        self.ttl_hours = ttl_hours
        self.approval = approval
    }
}

/// A change that needs nothing but the administrators' signature (disable, enable, remove).
public struct ApprovalBody: Codable, Sendable {
    public let approval: DSSEEnvelope?
    public init(approval: DSSEEnvelope?) { self.approval = approval }
}

public struct RevokeKeyBody: Codable, Sendable {
    /// RFC 3339: signatures made with the key from this time on stop counting.
    public let compromised_since: String?
    public let approval: DSSEEnvelope?
}

public struct QuorumBody: Codable, Sendable {
    public let quorum: Int
    public let approval: DSSEEnvelope?
}

/// `PUT /v1/users/{name}/chat`: a person's chat handles (absent or null: none).
public struct ChatHandlesBody: Codable, Sendable {
    public let slack: String?
    public let teams: String?

    public init(slack: String?, teams: String?) {
        self.slack = slack
        self.teams = teams
    }
}

/// A person's chat handles, as `GET`/`PUT /v1/users/{name}/chat` answer.
public struct ChatHandlesView: Codable, Sendable, Equatable {
    public let principal: String
    public let slack: String?
    public let teams: String?

    public init(principal: String, _ handles: ChatHandles) {
        self.principal = principal
        slack = handles.slack
        teams = handles.teams
    }
}

public struct PrincipalBody: Codable, Sendable {
    public let name: String
    public let administrator: Bool?
    public let verifier_key: String?
    public let approval: DSSEEnvelope?
}

public struct KeyBody: Codable, Sendable {
    public let verifier_key: String
    public let approval: DSSEEnvelope?
    /// Self-enrolment: the caller's own ``KeyEnrolmentStatement``, signed with a key they already have.
    public var proof: DSSEEnvelope? = nil

    public init(verifier_key: String, approval: DSSEEnvelope?, proof: DSSEEnvelope? = nil) {
        self.verifier_key = verifier_key
        self.approval = approval
        self.proof = proof
    }
}

public struct GroupBody: Codable, Sendable {
    public let name: String
    public let approval: DSSEEnvelope?
}

public struct MemberBody: Codable, Sendable {
    public let member: String
    public let approval: DSSEEnvelope?
}

public struct WorkflowBody: Codable, Sendable {
    public let file: String?
    public let source: String
    public let approval: DSSEEnvelope?
}

public struct ProjectBody: Codable, Sendable {
    public let key: String
    public let regulated: Bool?
    public let environments: [String: String]
    /// `ROLE` or `ROLE@ENVIRONMENT` → groups.
    public let roles: [String: [String]]
    public let approval: DSSEEnvelope?

    public init(_ spec: ProjectSpec, approval: DSSEEnvelope?) {
        key = spec.key
        regulated = spec.regulated
        environments = spec.environments
        roles = spec.roles
        self.approval = approval
    }

    public var spec: ProjectSpec { ProjectSpec(key: key, regulated: regulated ?? false, environments: environments, roles: roles) }
}

public struct FreezeBody: Codable, Sendable {
    public let environment: String
    public let project: String?
    /// RFC 3339.
    public let from: String
    public let until: String
    public let reason: String
    public let approval: DSSEEnvelope?
}

public struct DelegationBody: Codable, Sendable {
    public let delegate: String
    /// RFC 3339.
    public let from: String
    public let until: String
    public let project: String?
    public let role: String?
    /// The delegator's signed statement of this delegation (required once the ledger has a regulated project).
    public let envelope: DSSEEnvelope?
}

public struct FileRequestBody: Codable, Sendable {
    public let project: String
    public let environment: String
    public let bundle: String
    public let digest: String
    public let description: String?
    public let labels: [String: [String]]?
    /// Present: an emergency request, with its reason.
    public let emergency_reason: String?
    /// Absent or true: when an open request of this project and environment carries this digest (whoever filed it,
    /// among those the caller may read), answer with it instead of filing another; and when the caller's open request
    /// for this bundle name had changes requested on its current revision, revise it to this digest. False: file a
    /// new request whatever is open.
    public var reuse: Bool? = nil
    /// Where the bundle came from (the CI's run, commit, ref, merge request): links for approvers.
    public var source: BundleSource? = nil

    public init(
        project: String, environment: String, bundle: String, digest: String, description: String?, labels: [String: [String]]?,
        emergency_reason: String?, reuse: Bool? = nil, source: BundleSource? = nil
    ) {
        self.source = source
        self.project = project
        self.environment = environment
        self.bundle = bundle
        self.digest = digest
        self.description = description
        self.labels = labels
        self.emergency_reason = emergency_reason
        self.reuse = reuse
    }
}

public struct EvidenceBody: Codable, Sendable {
    public let kind: String
    public let status: String
    public let digest: String
    /// The counts of the JUnit report the status was derived from.
    public let tests: TestCounts?
    /// What CI detected in the bundle, for the workflow's `when:` (only evidence of its `labels_from` kind).
    public var labels: [String: [String]]? = nil
    /// The CI run attaching it.
    public var source: BundleSource? = nil
}

public struct DecisionBody: Codable, Sendable {
    public let stage: String
    public let decision: DecisionKind
    public let comment: String?
    public let envelope: DSSEEnvelope?
    /// Deciding under this person's delegation.
    public let on_behalf_of: String?
}

public struct RevisionBody: Codable, Sendable {
    public let digest: String
    public let bundle: String?
    /// Where the new bundle came from.
    public var source: BundleSource? = nil
}

public struct WithdrawBody: Codable, Sendable {
    public let reason: String?
    /// An administrator withdrawing another person's request: the signed approval (a regulated ledger).
    public var approval: DSSEEnvelope? = nil
}

public struct DeploymentBody: Codable, Sendable {
    public let outcome: Deployment.Outcome
    public let note: String?
}

public struct DeploymentStartBody: Codable, Sendable {
    public let note: String?
}

public struct RetrospectiveBody: Codable, Sendable {
    public let comment: String
    /// The reviewer's signed statement (required in regulated projects).
    public let envelope: DSSEEnvelope?
}

/// `POST /v1/issuers`: an issuer to trust (a signed administrative change, `issuer.trust`).
public struct IssuerBody: Codable, Sendable {
    public let issuer: IssuerSpec
    public let approval: DSSEEnvelope?
    public init(issuer: IssuerSpec, approval: DSSEEnvelope?) {
        self.issuer = issuer
        self.approval = approval
    }
}

/// An issuer as `GET /v1/issuers` lists it.
public struct IssuerView: Codable, Sendable {
    public let issuer: IssuerSpec
    public let trusted_by: String
    public let trusted_at: String
    public init(_ trusted: TrustedIssuer) {
        issuer = trusted.spec
        trusted_by = trusted.trustedBy
        trusted_at = Timestamps.rfc3339(trusted.trustedAt)
    }
}

/// `POST /v1/directories`: a directory (SCIM client) to connect (a signed administrative change, `directory.connect`).
/// The answer carries its token once (``TokenResponse``).
public struct DirectoryBody: Codable, Sendable {
    public let name: String
    public let approval: DSSEEnvelope?
    public init(name: String, approval: DSSEEnvelope?) {
        self.name = name
        self.approval = approval
    }
}

/// A connected directory as `GET /v1/directories` lists it: never its token.
public struct DirectoryView: Codable, Sendable {
    public let name: String
    public let token_id: String
    public let connected_by: String
    public let connected_at: String
    /// The groups whose membership the directory keeps.
    public let groups: [String]
    /// The users it added (enabled or not).
    public let users: Int
    public init(_ directory: ConnectedDirectory, state: SignoffState) {
        name = directory.name
        token_id = directory.tokenID
        connected_by = directory.connectedBy
        connected_at = Timestamps.rfc3339(directory.connectedAt)
        groups = state.groups.values.filter { $0.directory == directory.name }.map(\.name).sorted()
        users = state.principals.values.filter { $0.directory == directory.name }.count
    }
}

/// `POST /v1/groups/{name}/directory`: links the group to a connected directory (`group.link`), or unlinks it when
/// `directory` is absent or null (`group.unlink`).
public struct GroupLinkBody: Codable, Sendable {
    public let directory: String?
    public let approval: DSSEEnvelope?
    public init(directory: String?, approval: DSSEEnvelope?) {
        self.directory = directory
        self.approval = approval
    }
}

/// `POST /v1/freezes/{id}/exemptions`: one request let through a freeze (`freeze.exempt`), with why.
public struct FreezeExemptionBody: Codable, Sendable {
    public let request: String
    public let reason: String
    public let approval: DSSEEnvelope?
    public init(request: String, reason: String, approval: DSSEEnvelope?) {
        self.request = request
        self.reason = reason
        self.approval = approval
    }
}
