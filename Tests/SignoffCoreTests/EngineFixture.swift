import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// A small world: an administrator, a data-science team, CI, compliance, release managers, deployers and the
/// three shipped workflows, with a regulated project `churn-model` (qa → standard, prod → regulated).
struct World {
    var state = SignoffState()
    var keys: [String: Ed25519.SigningKey] = [:]
    var log: [(event: Event, actor: String, time: Int64)] = []
    /// Monday 2026-11-30 10:00 in Paris (09:00 UTC): inside the regulated deploy window.
    var now: Int64 = 1_796_029_200_000

    static let bundle = "churn-model-v12.zip"
    static let digest = SHA256Digest.hash("churn-model-v12 bytes")
    static let otherDigest = SHA256Digest.hash("churn-model-v13 bytes")

    static func shipped(_ name: String) -> String {
        try! String(contentsOf: TestSupport.projectRoot.appendingPathComponent("workflows/\(name).yaml"), encoding: .utf8)
    }

    func verifierKey(_ name: String) -> NoteVerifierKey { try! NoteVerifierKey(name: name, publicKey: keys[name]!.publicKey) }

    @discardableResult
    mutating func run(_ command: Command, as actor: String) -> Result<[Event], Refusal> {
        let result = Engine.execute(command, on: state, actor: actor, now: now)
        if case .success(let events) = result {
            for event in events {
                state.apply(event, actor: actor, at: now)
                log.append((event, actor, now))
            }
        }
        return result
    }

    /// Runs a command that must succeed.
    @discardableResult
    mutating func ok(_ command: Command, as actor: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Event] {
        switch run(command, as: actor) {
        case .success(let events): return events
        case .failure(let refusal):
            Issue.record("refused: \(refusal)", sourceLocation: sourceLocation)
            return []
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

    mutating func addUser(_ name: String, groups: [String], administrator: Bool = false, serviceAccount: Bool = false) {
        let key = Ed25519.SigningKey()
        keys[name] = key
        let verifier = try! NoteVerifierKey(name: name, publicKey: key.publicKey)
        ok(serviceAccount ? .addServiceAccount(name: name, key: verifier) : .addUser(name: name, administrator: administrator, key: verifier), as: "ada")
        for group in groups { ok(.addMember(group: group, member: name), as: "ada") }
    }

    init() {
        let ada = Ed25519.SigningKey()
        keys["ada"] = ada
        ok(.bootstrapAdministrator(name: "ada", key: try! NoteVerifierKey(name: "ada", publicKey: ada.publicKey)), as: "system")
        for group in ["ci", "compliance", "release-managers", "deployers-churn", "data-science", "seniors"] {
            ok(.createGroup(name: group), as: "ada")
        }
        addUser("ci-bot", groups: ["ci"], serviceAccount: true)
        addUser("riley", groups: ["data-science", "release-managers"])  // a requester who is also a release manager
        addUser("casey", groups: ["compliance"])
        addUser("pat", groups: ["compliance", "release-managers"])
        addUser("morgan", groups: ["release-managers"])
        addUser("sam", groups: ["release-managers"])
        addUser("dana", groups: ["deployers-churn"])
        addUser("quinn", groups: ["seniors"])
        for name in ["standard", "regulated", "emergency"] { ok(.applyWorkflow(source: Self.shipped(name), file: "\(name).yaml"), as: "ada") }
        let spec = ProjectSpec(
            key: "churn-model", regulated: true, environments: ["qa": "standard", "prod": "regulated"], requesters: ["data-science"],
            deployers: ["qa": ["deployers-churn"], "prod": ["deployers-churn"]])
        ok(.createProject(spec, approval: AdminApproval(change: AdminChange(action: "project.create", project: spec), time: now).signed(with: ada)), as: "ada")
    }

    // MARK: Requests

    mutating func file(env: String = "prod", project: String = "churn-model", digest: SHA256Digest = World.digest) -> String {
        let events = ok(.fileRequest(project: project, environment: env, bundle: Self.bundle, digest: digest, description: "weekly retrain"), as: "riley")
        guard case .requestFiled(let filed)? = events.first else { return "REQ-?" }
        return filed.id
    }

    func request(_ id: String) -> DeploymentRequest { state.requests[id]! }

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

    mutating func approve(_ id: String, stage: String, as actor: String, comment: String = "") {
        ok(.decide(request: id, stage: stage, decision: .approve, comment: comment, envelope: signed(id, stage: stage, by: actor, comment: comment)), as: actor)
    }

    /// Files a prod request and takes it to `approved`.
    mutating func approvedProdRequest() -> String {
        let id = file()
        ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report")), as: "ci-bot")
        approve(id, stage: "compliance-reviewed", as: "casey")
        approve(id, stage: "approved", as: "morgan")
        approve(id, stage: "approved", as: "sam")
        return id
    }
}
