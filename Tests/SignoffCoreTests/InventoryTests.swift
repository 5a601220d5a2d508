import Foundation
@testable import SignoffAPI
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 15: two-step deployments, what runs where, the inbox, and the gate found by digest.
@Suite("Deployments under way, inventory, inbox and the gate by digest")
struct InventoryTests {
    static let hour: Int64 = 3_600_000

    @Test("deploy --start holds the gate's verdict until --finish; nothing else may happen to the request meanwhile")
    func twoStepDeployment() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        // Only a deployer starts, as only a deployer deploys; the requester never does.
        w.refused(.startDeployment(request: id, note: ""), as: "morgan", rule: "gate.actors")
        w.refused(.finishDeployment(request: id, outcome: .succeeded, note: ""), as: "dana", rule: "deployment.not-started")
        let started = try w.ok(.startDeployment(request: id, note: "rollout 1"), as: "dana")
        #expect(started.map(\.kind) == ["deployment.started"])
        #expect(w.request(id).deploymentInProgress?.by == "dana")
        #expect(w.request(id).status == .active)
        w.refused(.startDeployment(request: id, note: ""), as: "dana", rule: "deployment.in-progress")
        w.refused(.revise(request: id, bundle: nil, digest: World.otherDigest), as: "riley", rule: "deployment.in-progress")
        w.refused(.withdraw(request: id, reason: "no"), as: "riley", rule: "deployment.in-progress")
        // A freeze that begins during the rollout stops new starts, not the outcome of this one.
        try w.admin(.addFreeze(FreezeSpec(environment: "prod", project: nil, from: w.now, until: w.now + 90 * 24 * Self.hour, reason: "close")))
        #expect(!Engine.deployRefusals(w.request(id), environment: "prod", digest: World.digest, state: w.state, actor: nil, now: w.now).isEmpty)
        // Nor does the request expire while it deploys, however long that takes.
        w.now += 30 * 24 * Self.hour
        #expect(!Engine.hasStaleRequests(w.state, now: w.now))
        // Someone the deployment stage does not admit cannot record the outcome of another's deployment.
        w.refused(.finishDeployment(request: id, outcome: .succeeded, note: ""), as: "morgan", rule: "gate.actors")
        let inventory = Inventory.deployments(in: w.state, now: w.now, project: Cast.project, environment: "prod")
        #expect(inventory.first?.deploying.map(\.request) == [id])
        #expect(inventory.first?.running == nil)
        #expect(inventory.first?.freezes == ["FRZ-1"])
        try w.ok(.finishDeployment(request: id, outcome: .succeeded, note: "done"), as: "dana")
        #expect(w.request(id).status == .deployed)
        #expect(w.request(id).deploymentInProgress == nil)
        let after = Inventory.deployments(in: w.state, now: w.now, project: Cast.project, environment: "prod")
        #expect(after.first?.running?.request == id)
        #expect(after.first?.running?.actor == "dana")
        #expect(after.first?.deploying.isEmpty == true)
        // Every event of a request's life carries the request's project in its header.
        #expect(Event.requestKinds.contains("deployment.started"))
        #expect(w.state.entryScope(of: started[0]) == (Cast.project, "prod"))
    }

    @Test("The gate's blockers: a failed newest report, changes requested and a freeze are what waiting will not end — final at once, a freeze only when it outlasts the wait; approvals still to come are not")
    func gateBlockers() throws {
        var w = try World()
        let id = try w.file()
        func gate() -> GateResponse { GateResponse(request: w.request(id), environment: "prod", digest: World.digest, state: w.state, now: w.now) }
        let minute = w.now + 60_000
        // Waiting for evidence, then for approvals: nothing that waiting could not bring.
        #expect(gate().blocked.isEmpty && !gate().isFinal(waitingUntil: minute))
        // The newest report failed: only a new run changes that.
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "failed", digest: SHA256Digest.hash("bad")), as: Cast.ci.name)
        #expect(gate().blocked.map(\.rule) == ["evidence"] && gate().blocked[0].until == nil, "\(gate().blocked)")
        #expect(gate().isFinal(waitingUntil: minute) && !gate().allowed)
        // A passing report after it: no longer blocked; at the compliance review the wait may go on.
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("good")), as: Cast.ci.name)
        #expect(gate().blocked.isEmpty && !gate().isFinal(waitingUntil: minute))
        // Changes requested: only a revision ends it; the revision does.
        try w.approve(id, stage: "compliance-reviewed", as: Cast.complianceOfficer.name)
        let comment = "pin the feature store version"
        try w.requestChanges(id, stage: "approved", by: Cast.releaseManager.name, comment: comment)
        #expect(gate().blocked.map(\.rule) == ["changes-requested"] && gate().isFinal(waitingUntil: minute), "\(gate().blocked)")
        #expect(gate().blocked[0].message.contains(comment))
        try w.ok(.revise(request: id, bundle: nil, digest: World.otherDigest), as: Cast.requester.name)
        let revised = GateResponse(request: w.request(id), environment: "prod", digest: World.otherDigest, state: w.state, now: w.now)
        #expect(revised.blocked.isEmpty && !revised.isFinal(waitingUntil: minute), "\(revised.blocked)")
        // A freeze on the environment: final when it outlasts the wait, not when it ends first.
        try w.admin(.addFreeze(FreezeSpec(environment: "prod", project: nil, from: w.now, until: w.now + 3_600_000, reason: "quarter close")))
        let frozen = GateResponse(request: w.request(id), environment: "prod", digest: World.otherDigest, state: w.state, now: w.now)
        #expect(frozen.blocked.map(\.rule) == ["freeze"] && frozen.blocked[0].until == Timestamps.rfc3339(w.now + 3_600_000), "\(frozen.blocked)")
        #expect(frozen.isFinal(waitingUntil: minute), "an hour's freeze outlasts a minute's wait")
        #expect(!frozen.isFinal(waitingUntil: w.now + 2 * 3_600_000), "a wait of two hours sees the freeze end")
        // A closed request has no blockers: it is final by its status.
        try w.ok(.withdraw(request: id, reason: "superseded"), as: Cast.requester.name)
        let closed = GateResponse(request: w.request(id), environment: "prod", digest: World.otherDigest, state: w.state, now: w.now)
        #expect(closed.blocked.isEmpty && closed.isFinal(waitingUntil: minute))
    }

    @Test("A failed rollout started in two steps is recorded as failed and leaves the request open to try again")
    func failedTwoStep() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        try w.ok(.startDeployment(request: id, note: ""), as: "dana")
        try w.ok(.finishDeployment(request: id, outcome: .failed, note: "rolled back"), as: "dana")
        #expect(w.request(id).status == .active)
        #expect(w.request(id).deployments.map(\.outcome) == [.failed])
        #expect(Inventory.deployments(in: w.state, now: w.now, project: Cast.project, environment: "prod").first?.running == nil)
        try w.ok(.startDeployment(request: id, note: "again"), as: "dana")
    }

    /// Two teams, five requests in different states.
    static func seeded() throws -> (World, qa: String, prod: String, b: String) {
        var w = try PolicyTests.twoTeams()
        let qa = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: qa, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r1")), as: "ci-bot")
        try w.approve(qa, stage: "approved", as: "morgan")
        try w.ok(.recordDeployment(request: qa, outcome: .succeeded, note: ""), as: "dana")
        w.now += Self.hour
        let prod = try w.file(env: "prod")
        w.now += Self.hour
        let b = try w.ok(.fileRequest(project: "team-b", environment: "qa", bundle: "b.zip", digest: World.otherDigest, description: ""), as: "bea")
            .compactMap { if case .requestFiled(let f) = $0 { f.id } else { nil } }.first!
        w.now += Self.hour
        return (w, qa, prod, b)
    }

    @Test("Inventory: what runs on each project × environment, and each open request's stage, age and what it waits for")
    func inventory() throws {
        let (w, qa, prod, b) = try Self.seeded()
        let all = Inventory.deployments(in: w.state, now: w.now)
        #expect(all.map { "\($0.project)/\($0.environment)" } == ["churn-model/prod", "churn-model/qa", "team-b/prod", "team-b/qa"])
        let churnQA = all[1]
        #expect(churnQA.running?.request == qa)
        #expect(churnQA.running?.digest == World.digest.description)
        #expect(churnQA.pending.isEmpty)
        let churnProd = all[0]
        #expect(churnProd.running == nil)
        #expect(churnProd.pending.map(\.request) == [prod])
        #expect(churnProd.pending[0].age_seconds == 2 * 3600)
        #expect(churnProd.pending[0].next_stage == "tested")
        #expect(churnProd.pending[0].waiting_for.contains { $0.contains("test-report") && $0.contains("ci-bot") }, "\(churnProd.pending[0].waiting_for)")
        #expect(all[3].pending.map(\.request) == [b])
        // Riley reads churn-model, not team-b: the visibility filter is the caller's Access.
        let riley = Inventory.deployments(in: w.state, now: w.now) { Access.mayRead(project: $0, principal: "riley", state: w.state, now: w.now) }
        #expect(Set(riley.map(\.project)) == [Cast.project])
        #expect(Inventory.deployments(in: w.state, now: w.now, project: "team-b", environment: "qa").map(\.environment) == ["qa"])
    }

    @Test("Inbox: decisions, evidence owed (by me, or by the service account on my request), deployments, revisions and retrospectives, oldest first")
    func inbox() throws {
        var (w, _, prod, b) = try Self.seeded()
        func actions(_ person: String) -> [String] {
            Inbox.items(for: person, in: w.state, now: w.now).map { "\($0.request) \($0.action.rawValue) \($0.stage ?? "-") \($0.on_behalf_of ?? "-")" }
        }
        #expect(actions("ci-bot") == ["\(prod) evidence tested -", "\(b) evidence tested -"])
        #expect(actions("riley").contains("\(prod) evidence tested ci-bot"), "the requester sees what CI still owes: \(actions("riley"))")
        #expect(actions("casey").contains("\(prod) decide compliance-reviewed -"))
        #expect(actions("bo") == ["\(b) decide approved -"])
        #expect(actions("dana").isEmpty)
        let items = Inbox.items(for: "ci-bot", in: w.state, now: w.now)
        #expect(items.map(\.age_seconds) == [2 * 3600, 3600], "oldest first, with its age")
        // Changes requested: the requester must revise.
        try w.ok(.attachEvidence(request: b, kind: "test-report", status: "passed", digest: SHA256Digest.hash("rb")), as: "ci-bot")
        try w.ok(PolicyTests.decision(w, b, stage: "approved", .changesRequested, by: "bo", comment: "smaller please"), as: "bo")
        #expect(Inbox.items(for: "bea", in: w.state, now: w.now).map(\.action) == [.revise])
        // Approved: the deployers may deploy; once started, the starter must finish.
        let id = try w.approvedProdRequest()
        #expect(Inbox.items(for: "dana", in: w.state, now: w.now).map { "\($0.request) \($0.action.rawValue)" } == ["\(id) deploy"])
        try w.ok(.startDeployment(request: id, note: ""), as: "dana")
        #expect(Inbox.items(for: "dana", in: w.state, now: w.now).map(\.action) == [.finishDeployment])
        // A delegate sees what waits for the delegator, marked as theirs.
        try w.addUser("dee", groups: [])
        let spec = DelegationSpec(delegate: "dee", start: w.now, end: w.now + 24 * Self.hour, project: nil, role: nil)
        try w.ok(PolicyTests.delegating(w, spec, by: "casey"), as: "casey")
        #expect(actions("dee").contains("\(prod) decide compliance-reviewed casey"), "\(actions("dee"))")
        // list --waiting-for-me is the inbox's requests.
        #expect(RequestQuery(waitingFor: "dee").select(from: w.state, now: w.now).map(\.request) == [prod])
    }

    @Test("An emergency deployment puts its retrospective in the reviewers' inbox, and in the requester's once overdue")
    func retrospectiveInbox() throws {
        var w = try World()
        let id = try w.fileEmergency(env: "qa")
        try w.approve(id, stage: "approved", as: "morgan")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: "dana")
        #expect(Inbox.items(for: "casey", in: w.state, now: w.now).map(\.action) == [.retrospective])
        #expect(!Inbox.items(for: "riley", in: w.state, now: w.now).contains { $0.action == .retrospective })
        w.now += 25 * Self.hour
        #expect(Inbox.items(for: "riley", in: w.state, now: w.now).contains { $0.action == .retrospective && $0.detail.contains("overdue") })
        try w.ok(w.retrospective(id, by: "casey", comment: "fine"), as: "casey")
        #expect(Inbox.items(for: "casey", in: w.state, now: w.now).isEmpty)
    }

    @Test("The gate found by project, environment and digest: one open request, none (saying what exists), or several (listing them)")
    func gateLookup() throws {
        var w = try World()
        guard case .failure(.none(let none)) = GateLookup.find(project: Cast.project, environment: "qa", digest: World.digest, in: w.state) else {
            Issue.record("expected none"); return
        }
        #expect(none.contains("no open request"))
        let first = try w.file(env: "qa")
        guard case .success(let found) = GateLookup.find(project: Cast.project, environment: "qa", digest: World.digest, in: w.state) else {
            Issue.record("expected one"); return
        }
        #expect(found.id == first)
        func filing(env: String = "qa", bundle: String = World.bundle, labels: [String: [String]] = [:], emergency: String? = nil) throws -> Command {
            .fileRequest(project: Cast.project, environment: env, bundle: bundle, digest: World.digest, description: "", labels: labels, emergencyReason: emergency)
        }
        func reused(_ command: Command, by caller: String) -> String? {
            if case .reuse(let r)? = GateLookup.carryOn(command, caller: caller, in: w.state, now: w.now) { return r.id }
            return nil
        }
        #expect(try reused(filing(), by: "riley") == first)
        // A person files, the pipeline carries on: the request is found whoever filed it, whatever its bundle was called.
        #expect(try reused(filing(), by: Cast.ci.name) == first, "the pipeline finds the person's request")
        #expect(try reused(filing(bundle: "build-4711.zip"), by: Cast.ci.name) == first)
        // Not by whoever may not read the project (nor does it tell them it exists).
        try w.addUser(Cast.outsider.name, groups: [])
        #expect(try GateLookup.carryOn(filing(), caller: Cast.outsider.name, in: w.state, now: w.now) == nil, "an outsider learns nothing")
        #expect(try GateLookup.carryOn(filing(env: "prod"), caller: "riley", in: w.state, now: w.now) == nil)
        #expect(try GateLookup.carryOn(filing(labels: ["touches": ["connections"]]), caller: "riley", in: w.state, now: w.now) == nil, "reusing must not drop a label's stage")
        #expect(try GateLookup.carryOn(filing(emergency: "down"), caller: "riley", in: w.state, now: w.now) == nil, "an emergency never reuses an ordinary request")
        let second = try w.file(env: "qa")
        guard case .failure(.several(let several)) = GateLookup.find(project: Cast.project, environment: "qa", digest: World.digest, in: w.state) else {
            Issue.record("expected several"); return
        }
        #expect(several.contains(first) && several.contains(second))
        try w.ok(.withdraw(request: first, reason: ""), as: "riley")
        try w.ok(.withdraw(request: second, reason: ""), as: "riley")
        guard case .failure(.none(let closed)) = GateLookup.find(project: Cast.project, environment: "qa", digest: World.digest, in: w.state) else {
            Issue.record("expected none"); return
        }
        #expect(closed.contains("\(second), is withdrawn"), "\(closed)")
        // A closed request's gate is final: waiting longer cannot change it.
        let gate = GateResponse(request: w.request(second), environment: "qa", digest: World.digest, state: w.state, now: w.now)
        #expect(gate.isFinal(waitingUntil: w.now + 3_600_000) && !gate.allowed && gate.status == "withdrawn")
    }

    @Test("A re-run after changes were requested revises the filer's request for the same bundle; nobody else's, and nothing else does")
    func rerunRevises() throws {
        var w = try World()
        let id = try w.file(env: "prod")
        func filing(digest: SHA256Digest = World.otherDigest, bundle: String = World.bundle, labels: [String: [String]] = [:]) -> Command {
            .fileRequest(project: Cast.project, environment: "prod", bundle: bundle, digest: digest, description: "", labels: labels, emergencyReason: nil)
        }
        // Waiting for review: a new digest is a new filing (approvals already given are not voided by a re-run).
        #expect(GateLookup.carryOn(filing(), caller: Cast.requester.name, in: w.state, now: w.now) == nil)
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report")), as: Cast.ci.name)
        try w.approve(id, stage: "compliance-reviewed", as: Cast.complianceOfficer.name)
        let comment = "pin the feature store version"
        try w.requestChanges(id, stage: "approved", by: Cast.releaseManager.name, comment: comment)
        guard case .revise(let revised)? = GateLookup.carryOn(filing(), caller: Cast.requester.name, in: w.state, now: w.now) else {
            Issue.record("expected a revision of \(id)"); return
        }
        #expect(revised.id == id)
        // The same digest is reused, not revised; another bundle name, another filer, or a label the request lacks: filed anew.
        guard case .reuse? = GateLookup.carryOn(filing(digest: World.digest), caller: Cast.requester.name, in: w.state, now: w.now) else {
            Issue.record("expected reuse"); return
        }
        #expect(GateLookup.carryOn(filing(bundle: "other.zip"), caller: Cast.requester.name, in: w.state, now: w.now) == nil)
        #expect(GateLookup.carryOn(filing(), caller: Cast.ci.name, in: w.state, now: w.now) == nil, "a pipeline never revises a person's request")
        #expect(GateLookup.carryOn(filing(labels: ["touches": ["plugins"]]), caller: Cast.requester.name, in: w.state, now: w.now) == nil)
        // Once revised, the changes asked for were on the older revision: the next new digest is a filing again.
        try w.ok(.revise(request: id, bundle: nil, digest: World.otherDigest), as: Cast.requester.name)
        #expect(GateLookup.carryOn(filing(digest: SHA256Digest.hash("v6")), caller: Cast.requester.name, in: w.state, now: w.now) == nil)
    }

    @Test("list: environment, requester and age filters; an unknown state is refused with the known ones")
    func listFilters() throws {
        let (w, qa, prod, b) = try Self.seeded()
        #expect(RequestQuery(environment: "qa").select(from: w.state, now: w.now).map(\.request) == [qa, b])
        #expect(RequestQuery(requester: "bea").select(from: w.state, now: w.now).map(\.request) == [b])
        #expect(RequestQuery(olderThanSeconds: 2 * 3600).select(from: w.state, now: w.now).map(\.request) == [qa, prod])
        #expect(RequestQuery(state: "deployed").select(from: w.state, now: w.now).first?.bundle == World.bundle)
        #expect(RequestQuery(state: "tested").problem(in: w.state) == nil)
        let problem = RequestQuery(state: "deploye").problem(in: w.state)
        #expect(problem?.contains("unknown state") == true && problem?.contains("deployed") == true)
    }

    @Test("IDs in number order: REQ-2 before REQ-10; an ID without a number after its last dash counts as 0")
    func idNumbers() {
        let cases: [(String, Int)] = [
            ("REQ-12", 12), ("REQ-2", 2), ("WH-10", 10), ("FRZ-1", 1), ("REQ-", 0), ("REQ-1a", 0), ("x", 0), ("", 0), ("7", 7),
            ("REQ-99999999999999999999", 0), ("A-B-30", 30),
        ]
        for (id, number) in cases { #expect(Inventory.requestNumber(id) == number, "\(id)") }
        #expect(["REQ-10", "REQ-9", "REQ-100", "REQ-1"].sorted { Inventory.requestNumber($0) < Inventory.requestNumber($1) } == ["REQ-1", "REQ-9", "REQ-10", "REQ-100"])
    }

    /// The state's derived indexes, against a walk over every request; and the same after a reload from the projection.
    static func checkIndexes(_ state: SignoffState, _ comment: String) throws {
        let open = Set(state.requests.values.filter { $0.status == .active || ($0.retrospectiveDue != nil && !$0.retrospectiveDone) }.map(\.id))
        #expect(state.openRequests == open, "\(comment): open requests")
        var running: [String: (at: Int64, id: String)] = [:]
        for r in state.requests.values {
            guard let d = r.deployments.last(where: { $0.outcome == .succeeded }) else { continue }
            let slot = SignoffState.slot(project: r.project, environment: r.environment)
            if let current = running[slot], (current.at, RequestID.number(current.id)) > (d.at, RequestID.number(r.id)) { continue }
            running[slot] = (d.at, r.id)
        }
        #expect(state.runningRequests == running.mapValues(\.id), "\(comment): what runs where")
        let reloaded = try SignoffState(documents: state.documents())
        #expect(reloaded.openRequests == open && reloaded.runningRequests == state.runningRequests, "\(comment): after a reload")
    }

    @Test("The state's indexes of open requests and of what runs where follow every event, and a reload from the projection")
    func derivedIndexes() throws {
        var (w, qa, prod, b) = try Self.seeded()
        try Self.checkIndexes(w.state, "seeded")
        #expect(w.state.openRequests == [prod, b] && w.state.runningRequests == ["churn-model/qa": qa])
        // A second deployment to the same place replaces what runs there; a withdrawal closes a request.
        let next = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: next, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r2")), as: "ci-bot")
        try w.approve(next, stage: "approved", as: "morgan")
        try Self.checkIndexes(w.state, "approved")
        w.now += Self.hour
        try w.ok(.recordDeployment(request: next, outcome: .succeeded, note: ""), as: "dana")
        try Self.checkIndexes(w.state, "deployed")
        #expect(w.state.runningRequests["churn-model/qa"] == next)
        try w.ok(.withdraw(request: b, reason: "no longer"), as: "bea")
        try Self.checkIndexes(w.state, "withdrawn")
        #expect(!w.state.openRequests.contains(b))
        // An approved production request through a failed and then a successful rollout.
        let approved = try w.approvedProdRequest()
        try w.ok(.startDeployment(request: approved, note: ""), as: "dana")
        try w.ok(.finishDeployment(request: approved, outcome: .failed, note: ""), as: "dana")
        try Self.checkIndexes(w.state, "failed rollout")
        #expect(w.state.runningRequests["churn-model/prod"] == nil)
        try w.ok(.recordDeployment(request: approved, outcome: .succeeded, note: ""), as: "dana")
        try Self.checkIndexes(w.state, "prod deployed")
        #expect(w.state.runningRequests["churn-model/prod"] == approved && !w.state.openRequests.contains(approved))
    }
}
