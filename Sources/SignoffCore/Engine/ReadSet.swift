public import SignoffCrypto

/// What a command reads of the state, so that deciding it never needs the whole projection: the directory (principals,
/// groups, workflows, projects, freezes, delegations, webhooks and the counters — what an organisation has, not what
/// its ledger has accumulated), the requests it is about, and whether the signed statements it carries were used
/// before. ``Engine`` decides on exactly a state holding these (``SignoffState/bounded(by:)``); a test replays random
/// command sequences on both and finds the same outcomes.
public struct ReadSet: Hashable, Sendable {
    public enum Requests: Hashable, Sendable {
        case none
        case some(Set<String>)
        /// Every request: only the maintenance sweep (``Command/expireStale``) reads them all.
        case all
    }

    public var requests: Requests
    /// Digests of the signed statements the command carries (their DSSE payloads' SHA-256).
    public var statements: Set<SHA256Digest>

    public init(requests: Requests = .none, statements: Set<SHA256Digest> = []) {
        self.requests = requests
        self.statements = statements
    }

    /// The union of two read sets (a round of the writer reads what all its commands read).
    public func union(_ other: ReadSet) -> ReadSet {
        var union = self
        union.formUnion(other)
        return union
    }

    /// Adds what `other` reads, in place (a round's reads gathered command by command, without copying the sets).
    public mutating func formUnion(_ other: ReadSet) {
        switch (requests, other.requests) {
        case (.all, _): break
        case (_, .all): requests = .all
        case (_, .none): break
        case (.none, let r): requests = r
        case (.some(var a), .some(let b)):
            requests = .none  // the set is uniquely referenced while it grows
            a.formUnion(b)
            requests = .some(a)
        }
        statements.formUnion(other.statements)
    }
}

extension Command {
    /// What deciding this command reads beyond the directory.
    public var reads: ReadSet {
        let statements = Set(envelopes.map { SHA256Digest.hash($0.payload) })
        switch self {
        case .expireStale: return ReadSet(requests: .all, statements: statements)
        default: return ReadSet(requests: request.map { .some([$0]) } ?? .none, statements: statements)
        }
    }

    /// The signed envelopes the command carries (approvals, proofs, decision, delegation and retrospective statements).
    public var envelopes: [DSSEEnvelope] {
        let envelope: DSSEEnvelope? =
            switch self {
            case .initializeLedger, .bootstrapAdministrator, .expireStale, .fileRequest, .attachEvidence, .revise, .recordDeployment,
                .startDeployment, .finishDeployment:
                nil
            case .addUser(_, _, _, let a), .addServiceAccount(_, _, let a), .enrollKey(_, _, let a), .revokeKey(_, _, _, let a),
                .createGroup(_, let a), .addMember(_, _, let a), .removeMember(_, _, let a), .applyWorkflow(_, _, let a),
                .createProject(_, let a), .updateProject(_, let a), .disablePrincipal(_, let a), .enablePrincipal(_, let a),
                .setAdminQuorum(_, let a), .issueServiceToken(_, _, _, _, let a), .addFreeze(_, let a), .exemptFromFreeze(_, _, _, let a), .liftFreeze(_, let a),
                .addWebhook(_, let a), .removeWebhook(_, let a), .revokeDelegation(_, let a), .revokeToken(_, _, let a),
                .withdraw(_, _, let a), .recordRetrospective(_, _, let a), .delegate(_, let a), .decide(_, _, _, _, let a, _),
                .trustIssuer(_, let a), .distrustIssuer(_, let a), .connectDirectory(_, _, let a), .disconnectDirectory(_, let a), .linkGroup(_, _, let a):
                a
            case .directoryChange: nil
            case .enrollOwnKey(_, let proof): proof
            }
        return envelope.map { [$0] } ?? []
    }
}

extension Event {
    /// Digests of the signed statements this event uses (each counts once): what the store keeps in `used_statement`.
    public var statementDigests: [SHA256Digest] {
        func hash(_ envelope: DSSEEnvelope?) -> [SHA256Digest] { envelope.map { [SHA256Digest.hash($0.payload)] } ?? [] }
        switch self {
        case .ledgerInitialized, .requestExpired, .requestFiled, .evidenceAttached, .stageEntered, .requestRejected, .requestRevised,
            .deploymentStarted, .deploymentRecorded:
            return []
        case .keyEnrolled(let e): return hash(e.approval) + hash(e.proof)
        case .decisionRecorded(let e): return e.statementDigest.map { [$0] } ?? []
        case .delegationGranted(let e): return hash(e.envelope)
        case .retrospectiveRecorded(let e): return hash(e.envelope)
        case .principalAdded(let e): return hash(e.approval)
        case .keyRevoked(let e): return hash(e.approval)
        case .groupCreated(let e): return hash(e.approval)
        case .memberAdded(let e): return hash(e.approval)
        case .memberRemoved(let e): return hash(e.approval)
        case .projectCreated(let e): return hash(e.approval)
        case .projectUpdated(let e): return hash(e.approval)
        case .principalDisabled(let e), .principalEnabled(let e): return hash(e.approval)
        case .adminQuorumSet(let e): return hash(e.approval)
        case .serviceTokenIssued(let e): return hash(e.approval)
        case .webhookAdded(let e): return hash(e.approval)
        case .webhookRemoved(let e): return hash(e.approval)
        case .issuerTrusted(let e): return hash(e.approval)
        case .issuerDistrusted(let e): return hash(e.approval)
        case .directoryConnected(let e): return hash(e.approval)
        case .directoryDisconnected(let e): return hash(e.approval)
        case .groupLinked(let e): return hash(e.approval)
        case .freezeAdded(let e): return hash(e.approval)
        case .freezeLifted(let e): return hash(e.approval)
        case .freezeExempted(let e): return hash(e.approval)
        case .delegationRevoked(let e): return hash(e.approval)
        case .tokenRevoked(let e): return hash(e.approval)
        case .workflowApplied(let e): return hash(e.approval)
        case .requestWithdrawn(let e): return hash(e.approval)
        }
    }
}

extension SignoffState {
    /// The request counter's document: read afresh by every write (filing assigns the next ID from it), so that it does
    /// not change the directory's version — filing a request leaves the cached directory valid.
    public static let requestCounterDocument = "meta/request-counter"

    /// Whether `event` changes the directory as its version counts it: a document that is neither a request nor the
    /// request counter.
    public static func changesDirectory(_ event: Event) -> Bool {
        documentKeys(touchedBy: event).contains { !$0.hasPrefix("request/") && $0 != requestCounterDocument }
    }

    /// This state without its requests and used statements: the directory every command reads.
    public var directory: SignoffState {
        var copy = self
        copy.requests = [:]
        copy.openRequests = []
        copy.runningRequests = [:]
        copy.usedStatements = []
        return copy
    }
}

extension DecisionStatement {
    /// How long the store keeps a used statement: a statement stays fresh 10 minutes and may be signed up to a minute
    /// in the future (clock skew), so a use at time t needs remembering until t + 11 minutes — never longer.
    public static let replayWindowMilliseconds = maximumAgeMilliseconds + maximumClockSkewMilliseconds
}
