import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// A small world built from the shared ``Cast``: an administrator, a data-science team, CI, compliance, release
/// managers, deployers, the platform team and the two shipped workflows, with a regulated project `churn-model`
/// (qa → standard, prod → regulated) binding every role to the cast's groups (``Cast/roles``).
struct World {
    var state = SignoffState()
    var keys: [String: Ed25519.SigningKey] = [:]
    var log: [(event: Event, actor: String, time: Int64)] = []
    /// Monday 2026-11-30 10:00 in Paris (09:00 UTC): inside the regulated deploy window.
    var now: Int64 = 1_796_029_200_000

    static let bundle = "churn-model-v12.zip"
    static let digest = SHA256Digest.hash("churn-model-v12 bytes")
    static let otherDigest = SHA256Digest.hash("churn-model-v13 bytes")

    static func shipped(_ name: String) -> String { try! Cast.workflowSource(name) }

    func verifierKey(_ name: String) -> NoteVerifierKey { try! NoteVerifierKey(name: name, publicKey: keys[name]!.publicKey) }

    @discardableResult
    mutating func run(_ command: Command, as actor: String) -> Result<[Event], Refusal> {
        let result = Engine.execute(command, on: state, actor: actor, now: now)
        if case .success(let events) = result {
            for event in events {
                state.apply(event, actor: actor, at: now)
                log.append((event, actor, now))
                // The canonical JSON encoder writes Foundation's bytes: for every event, and every document it touches.
                #expect(event.payload == event.payload(encoding: { try CanonicalJSON.foundationEncode($0) }))
                for key in SignoffState.documentKeys(touchedBy: event) {
                    #expect(state.document(for: key) == state.document(for: key, encoding: { try CanonicalJSON.foundationEncode($0) }))
                }
            }
            Self.expectNamingChangesNoVerdict(state, now: now)
        }
        return result
    }

    /// Evaluating a gate without naming who could supply its conditions (how the engine decides and gates) gives every
    /// condition, verdict and detail as naming them does: checked on every request after every command a test runs.
    static func expectNamingChangesNoVerdict(_ state: SignoffState, now: Int64) {
        for request in state.requests.values {
            guard let workflow = state.workflow(for: request)?.workflow else { continue }
            for stage in workflow.path(for: request) {
                for actor in [nil, request.requester] {
                    let named = Policy.evaluate(request, stage: stage, workflow: workflow, state: state, now: now, actor: actor)
                    let unnamed = Policy.evaluate(request, stage: stage, workflow: workflow, state: state, now: now, actor: actor, naming: false)
                    // Unnamed, a condition names nobody or what naming names (the requester of a change requested, say).
                    let namesNoMore = zip(unnamed.conditions, named.conditions).allSatisfy { $0.whoCanSupply.isEmpty || $0.whoCanSupply == $1.whoCanSupply }
                    #expect(namesNoMore)
                    #expect(unnamed.conditions.map { [$0.rule, "\($0.met)", $0.detail] } == named.conditions.map { [$0.rule, "\($0.met)", $0.detail] })
                }
            }
        }
    }

    /// Runs a command that must succeed; a refusal is recorded and thrown, so the test stops there instead of going on in
    /// a world that is not the one it means.
    @discardableResult
    mutating func ok(_ command: Command, as actor: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [Event] {
        switch run(command, as: actor) {
        case .success(let events): return events
        case .failure(let refusal):
            Issue.record("refused: \(refusal)", sourceLocation: sourceLocation)
            throw refusal
        }
    }

    /// Runs a command that must be refused by `rule`.
    mutating func refused(_ command: Command, as actor: String, rule: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        switch run(command, as: actor) {
        case .success(let events): Issue.record("accepted, expected refusal \(rule): \(events.map(\.kind))", sourceLocation: sourceLocation)
        case .failure(let refusal):
            #expect(refusal.rule == rule, "\(refusal)", sourceLocation: sourceLocation)
            #expect(!refusal.message.isEmpty, sourceLocation: sourceLocation)
        }
    }

    /// A person's key, derived from their name: the same in every run, so that an export of a world is the same bytes
    /// every time (the worked example under `schema/examples/` is one).
    static func fixedKey(_ name: String) -> Ed25519.SigningKey {
        var seed = SHA256Digest.hash("signoff test key: \(name)").bytes
        return try! Ed25519.SigningKey(seed: &seed)
    }

    mutating func addUser(_ name: String, groups: [String], administrator: Bool = false, serviceAccount: Bool = false) throws {
        let key = Self.fixedKey(name)
        keys[name] = key
        let verifier = try! NoteVerifierKey(name: name, publicKey: key.publicKey)
        try admin(serviceAccount ? .addServiceAccount(name: name, key: verifier) : .addUser(name: name, administrator: administrator, key: verifier))
        for group in groups { try admin(.addMember(group: group, member: name)) }
    }

    /// The cast members this world holds: everyone but the outsider.
    static let people = Cast.everyone.filter { $0 != Cast.administrator && $0 != Cast.outsider }

    init() throws {
        let admin = Cast.administrator.name
        // As every ledger begins (the worked export example is one of these worlds).
        try ok(.initializeLedger(origin: "signoff.example/ledger", ledgerKey: try! NoteVerifierKey(name: "signoff.example/ledger", publicKey: Self.fixedKey("the ledger").publicKey)), as: "system")
        let ada = Self.fixedKey(admin)
        keys[admin] = ada
        try ok(.bootstrapAdministrator(name: admin, key: try! NoteVerifierKey(name: admin, publicKey: ada.publicKey)), as: "system")
        for group in Cast.Group.all {
            try ok(.createGroup(name: group), as: admin)
        }
        for person in Self.people {
            var groups = person.groups
            // Here the requester is also a release manager (the separation-of-duties cases).
            if person == Cast.requester { groups.append(Cast.Group.releaseManagers) }
            try addUser(person.name, groups: groups, serviceAccount: person.kind == .serviceAccount)
        }
        for name in Cast.workflowNames { try ok(.applyWorkflow(source: Self.shipped(name), file: "\(name).yaml"), as: admin) }
        let spec = ProjectSpec(
            key: Cast.project, regulated: true, environments: Cast.environments, roles: Cast.roles)
        try ok(.createProject(spec, approval: AdminApproval(change: AdminChange(.projectCreate, project: spec), time: now).signed(with: ada)), as: admin)
    }

    // MARK: Requests

    mutating func file(env: String = "prod", project: String = Cast.project, digest: SHA256Digest = World.digest) throws -> String {
        let events = try ok(.fileRequest(project: project, environment: env, bundle: Self.bundle, digest: digest, description: "weekly retrain"), as: Cast.requester.name)
        guard case .requestFiled(let filed)? = events.first else { return "REQ-?" }
        return filed.id
    }

    /// Files an emergency request (the requester is also an approver in this world, whom emergencies need).
    mutating func fileEmergency(env: String = "prod", reason: String = "prod is down", labels: [String: [String]] = [:]) throws -> String {
        let events = try ok(
            .fileRequest(
                project: Cast.project, environment: env, bundle: Self.bundle, digest: Self.digest, description: "hotfix", labels: labels,
                emergencyReason: reason),
            as: Cast.requester.name)
        guard case .requestFiled(let filed)? = events.first else { return "REQ-?" }
        return filed.id
    }

    func request(_ id: String) -> DeploymentRequest { state.requests[id]! }

    /// `command` approved by the administrator's (trusted, bootstrap) key: every administrative change in a ledger with a
    /// regulated project needs it.
    func signedByAdmin(_ command: Command) -> Command {
        // Each approval a moment earlier than the last: two identical changes signed at one instant are one statement.
        let time = now - signatures.next()
        return command.approved(by: AdminApproval(change: command.adminChange!, time: time).signed(with: keys[Cast.administrator.name]!))
    }

    final class Counter: @unchecked Sendable {
        private var value: Int64 = 0
        func next() -> Int64 {
            value += 1
            return value
        }
    }
    let signatures = Counter()

    /// Runs an administrative change as the administrator, signed.
    @discardableResult
    mutating func admin(_ command: Command, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [Event] {
        try ok(signedByAdmin(command), as: Cast.administrator.name, sourceLocation: sourceLocation)
    }

    /// A decision signed by `signer`'s key (default: the actor's own).
    func signed(
        _ id: String, stage: String, _ decision: DecisionKind = .approve, by signer: String, approver: String? = nil, comment: String = "",
        time: Int64? = nil
    )
        -> DSSEEnvelope
    {
        DecisionStatement(request: request(id), stage: stage, decision: decision, actor: approver ?? signer, comment: comment, time: time ?? now)
            .signed(with: keys[signer]!)
    }

    /// The retrospective of `id` by `actor`, signed with their key (a regulated project requires it).
    func retrospective(_ id: String, by actor: String, comment: String) -> Command {
        let r = request(id)
        let statement = RetrospectiveStatement(
            request: id, project: r.project, environment: r.environment, bundleDigest: r.digest, actor: actor, comment: comment, time: now)
        return .recordRetrospective(request: id, comment: comment, envelope: statement.signed(with: keys[actor]!))
    }

    mutating func approve(_ id: String, stage: String, as actor: String, comment: String = "") throws {
        try ok(.decide(request: id, stage: stage, decision: .approve, comment: comment, envelope: signed(id, stage: stage, by: actor, comment: comment)), as: actor)
    }

    /// `actor` asks for changes at `stage`, signed, saying `comment`.
    mutating func requestChanges(_ id: String, stage: String, by actor: String, comment: String) throws {
        try ok(.decide(request: id, stage: stage, decision: .changesRequested, comment: comment, envelope: signed(id, stage: stage, .changesRequested, by: actor, comment: comment)), as: actor)
    }

    /// Files a prod request and takes it to `approved`.
    mutating func approvedProdRequest() throws -> String {
        let id = try file()
        try ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report")), as: Cast.ci.name)
        try approve(id, stage: "compliance-reviewed", as: Cast.complianceOfficer.name)
        try approve(id, stage: "approved", as: Cast.releaseManager.name)
        try approve(id, stage: "approved", as: Cast.secondReleaseManager.name)
        return id
    }
}
