import Foundation
import GRDB
import SignoffCore
import SignoffCrypto
import SignoffLedger
@testable import SignoffStore
import SignoffTestBackends
import SignoffTestSupport
import Testing
import Synchronization
@_spi(Testing) @testable import SignoffService
import SignoffAudit

/// The engine on a real database: an SQLite file or a PostgreSQL database of its own (``TestBackend``).
struct EngineFixture {
    let store: TestStorage
    let database: SignoffService
    let clock: Clock
    /// Signs checkpoints as the server's publisher does after commits.
    let publisher: LogPublisher
    var keys: [String: Ed25519.SigningKey] = [:]

    static let digest = SHA256Digest.hash("bundle v1")

    /// Whether the services keep the whole state, as a server's does (and, on SQLite, decide rounds ahead of their
    /// transaction).
    let keepsWholeState: Bool

    init(_ backend: TestBackend = .sqlite, keepsWholeState: Bool = false) async throws {
        let clock = Clock()
        self.clock = clock
        self.keepsWholeState = keepsWholeState
        let policy = CheckpointPolicy(everyEntries: 50, everySeconds: 3600, milestoneEvery: 50)
        store = try await backend.make(checkpointPolicy: policy, clock: { clock.value })
        database = SignoffService(storage: store.storage, keepsWholeState: keepsWholeState)
        publisher = LogPublisher(ledger: store.storage.ledger, signer: store.storage.signer, policy: policy)
        let admin = Cast.administrator.name
        let ada = Ed25519.SigningKey()
        keys[admin] = ada
        let ledgerKey = store.storage.ledger.verifierKey
        try await must(.initializeLedger(origin: ledgerKey.name, ledgerKey: ledgerKey), as: "system")
        try await must(.bootstrapAdministrator(name: admin, key: NoteVerifierKey(name: admin, publicKey: ada.publicKey)), as: "system")
        for group in Self.groups { try await must(.createGroup(name: group), as: admin) }
        for person in Self.people {
            let key = Ed25519.SigningKey()
            keys[person.name] = key
            let verifier = try NoteVerifierKey(name: person.name, publicKey: key.publicKey)
            try await must(
                person.kind == .serviceAccount ? .addServiceAccount(name: person.name, key: verifier) : .addUser(name: person.name, administrator: false, key: verifier),
                as: admin)
            for group in person.groups { try await must(.addMember(group: group, member: person.name), as: admin) }
        }
        for name in Self.workflows {
            try await must(.applyWorkflow(source: try Cast.workflowSource(name), file: "\(name).yaml"), as: admin)
        }
        let spec = ProjectSpec(key: Cast.project, regulated: false, environments: Cast.environments, roles: Cast.roles)
        try await must(.createProject(spec, approval: nil), as: admin)
    }

    /// The part of the ``Cast`` this world holds: no senior, no outsider, no break-glass workflow.
    static let people = [Cast.ci, Cast.requester, Cast.complianceOfficer, Cast.releaseManager, Cast.secondReleaseManager, Cast.complianceReleaseManager, Cast.deployer]
    static let groups = Cast.Group.all
    static let workflows = Cast.workflowNames.filter { Cast.environments.values.contains($0) }

    @discardableResult
    func must(_ command: Command, as actor: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> [LedgerEntry] {
        switch try await database.execute(command, as: actor) {
        case .success(let entries): return entries
        case .failure(let refusal):
            Issue.record("refused: \(refusal)", sourceLocation: sourceLocation)
            return []
        }
    }

    func signed(_ request: DeploymentRequest, stage: String, _ decision: DecisionKind = .approve, by actor: String) -> DSSEEnvelope {
        DecisionStatement(request: request, stage: stage, decision: decision, actor: actor, comment: "", time: clock.value).signed(with: keys[actor]!)
    }

    func verifyEverything() async throws -> LedgerVerificationFailure? {
        _ = try await publisher.publish()
        let ledger = store.storage.ledger
        if let failure = try await ledger.verifyAll(trustedKey: ledger.verifierKey, allowUncoveredTail: false, progress: nil).failure { return failure }
        return try await database.verifyProjection()
    }

    /// Another instance on the same database (its own connections and caches), with its own service.
    func anotherInstance() async throws -> SignoffService { SignoffService(storage: try await store.another(), keepsWholeState: keepsWholeState) }

    func remove() { store.removeSoon() }
}

@Suite("Engine on SQLite and PostgreSQL")
struct EngineStoreTests {
    @Test("A request goes through the regulated workflow; every event is in the ledger and the projection replays exactly", arguments: TestBackend.allCases)
    func fullPath(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let filed = try await f.must(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: EngineFixture.digest, description: "x"), as: "riley")
        #expect(filed.map(\.kind) == ["request.filed"])
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        var request = try await f.database.state().requests["REQ-1"]!
        let entries = try await f.must(.decide(request: "REQ-1", stage: "compliance-reviewed", decision: .approve, comment: "", envelope: f.signed(request, stage: "compliance-reviewed", by: "casey")), as: "casey")
        #expect(entries.map(\.kind) == ["decision.recorded", "stage.entered"])
        request = try await f.database.state().requests["REQ-1"]!
        for person in ["morgan", "sam"] {
            try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: f.signed(request, stage: "approved", by: person)), as: person)
        }
        #expect(try await f.database.state().requests["REQ-1"]?.stage == "approved")
        // The signed bytes are in the ledger exactly as signed.
        let decision = try await f.store.storage.ledger.entry(at: entries[0].sequence)
        let event = try #require(try Event.decode(kind: decision.kind, payload: decision.payload))
        guard case .decisionRecorded(let recorded) = event else { Issue.record("not a decision"); return }
        try recorded.envelope!.verify(trustedKeys: [DSSETrustedKey(publicKey: f.keys["casey"]!.publicKey)])
        let failure = try await f.verifyEverything()
        #expect(failure == nil, "\(failure?.message ?? "")")
    }

    @Test("The state focused on one request holds that request and everything else a gate needs, and no other request", arguments: TestBackend.allCases)
    func focusedState(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        for i in 0..<12 {
            try await f.must(.fileRequest(project: "churn-model", environment: "prod", bundle: "b\(i).zip", digest: EngineFixture.digest, description: ""), as: "riley")
        }
        try await f.must(.attachEvidence(request: "REQ-7", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let request = try await f.database.state().requests["REQ-7"]!
        try await f.must(.decide(request: "REQ-7", stage: "compliance-reviewed", decision: .approve, comment: "", envelope: f.signed(request, stage: "compliance-reviewed", by: "casey")), as: "casey")
        let full = try await f.database.state()
        // The store's focused read holds that one request (the service may answer from the whole state it keeps instead).
        let focused = try await f.database.storage.projection.state(focusedOn: "REQ-7")
        #expect(focused.requests.keys.sorted() == ["REQ-7"])
        #expect(try await f.database.state(focusedOn: "REQ-7").requests["REQ-7"] == full.requests["REQ-7"])
        #expect(focused.requests["REQ-7"] == full.requests["REQ-7"])
        #expect(focused.principals == full.principals && focused.groups == full.groups && focused.projects == full.projects)
        #expect(focused.currentWorkflows == full.currentWorkflows && focused.requestCounter == full.requestCounter)
        // Used statements are not documents: the store keeps them in used_statement for their freshness window.
        #expect(focused.usedStatements.isEmpty && full.usedStatements.isEmpty)
        let used = try await f.store.count("SELECT COUNT(*) FROM used_statement")
        #expect(used >= 1, "casey's signed decision, remembered while it could be replayed")
        #expect(try await f.database.storage.projection.state(focusedOn: "REQ-70").requests.isEmpty)
        #expect(try await f.database.state(focusedOn: "REQ-70").requests["REQ-70"] == nil)
        let now = f.database.now
        #expect(Engine.explain("REQ-7", state: focused, now: now) == Engine.explain("REQ-7", state: full, now: now))
    }

    @Test("A refused command changes nothing", arguments: TestBackend.allCases)
    func refusalChangesNothing(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let before = try await f.store.storage.ledger.size()
        let outcome = try await f.database.execute(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "morgan")
        guard case .failure(let refusal) = outcome else { Issue.record("accepted"); return }
        #expect(refusal.rule == "project.requesters")
        #expect(try await f.store.storage.ledger.size() == before)
    }

    @Test(
        "Property: after random command sequences, replaying the ledger gives exactly the stored projection; every command decided on its bounded reads equals the decision on the whole state",
        arguments: [(TestBackend.sqlite, 1, false), (.sqlite, 2, false), (.sqlite, 3, false), (.sqlite, 4, false), (.postgres, 1, false), (.postgres, 2, false),
            (.sqlite, 5, true), (.sqlite, 6, true), (.postgres, 3, true)] as [(TestBackend, UInt64, Bool)])
    func randomSequences(_ backend: TestBackend, seed: UInt64, keepsWholeState: Bool) async throws {
        let f = try await EngineFixture(backend, keepsWholeState: keepsWholeState)
        defer { f.remove() }
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15)
        // The whole state, used statements included, folded in memory beside the service: what the engine would decide
        // on if it read everything. The service reads only `Command.reads`; both must decide alike, replays included.
        var whole = try await f.database.state()
        var lastDecision: (Command, String)?
        var replays = 0
        let people = ["riley", "casey", "morgan", "sam", "pat", "dana", "ci-bot", "ada"]
        let stages = ["tested", "compliance-reviewed", "approved", "deployed"]
        var accepted = 0
        // Mostly plausible commands (the right person, the next stage, a signature), sometimes not.
        func likely<T>(_ right: T, _ any: [T]) -> T { Int.random(in: 0..<10, using: &rng) < 8 ? right : any.randomElement(using: &rng)! }
        let deciders = ["compliance-reviewed": ["casey", "pat"], "approved": ["morgan", "sam", "pat"], "tested": ["morgan"], "deployed": ["dana"]]
        for _ in 0..<200 {
            let state = try await f.database.state()
            let id = state.requests.keys.sorted().randomElement(using: &rng) ?? "REQ-1"
            let request = state.requests[id]
            let command: Command
            var actor: String
            switch Int.random(in: 0..<10, using: &rng) {
            case 0, 1:
                actor = likely("riley", people)
                command = .fileRequest(project: "churn-model", environment: ["qa", "prod"].randomElement(using: &rng)!, bundle: "b.zip", digest: SHA256Digest.hash("v\(Int.random(in: 0..<3, using: &rng))"), description: "")
            case 2:
                actor = likely("ci-bot", people)
                command = .attachEvidence(request: id, kind: "test-report", status: likely("passed", ["passed", "failed"]), digest: SHA256Digest.hash("r"))
            case 3, 4, 5:
                let workflow = request.flatMap { state.workflow(for: $0)?.workflow }
                let next = workflow.flatMap { w in w.index(of: request!.stage).flatMap { $0 + 1 < w.stages.count ? w.stages[$0 + 1].name : nil } } ?? "approved"
                let stage = likely(next, stages)
                actor = likely((deciders[stage] ?? ["morgan"]).randomElement(using: &rng)!, people)
                let signer = actor == "ci-bot" || actor == "ada" ? "riley" : actor
                let envelope = request.map { f.signed($0, stage: stage, by: signer) }
                command = .decide(request: id, stage: stage, decision: Int.random(in: 0..<12, using: &rng) == 0 ? .reject : .approve, comment: "", envelope: likely(envelope, [nil, envelope]))
            case 6:
                actor = likely("riley", people)
                command = Bool.random(using: &rng)
                    ? .revise(request: id, bundle: nil, digest: SHA256Digest.hash("rev\(Int.random(in: 0..<1000, using: &rng))"))
                    : .withdraw(request: id, reason: "changed my mind")
            case 7, 8:
                actor = likely("dana", people)
                command = .recordDeployment(request: id, outcome: likely(.succeeded, [.succeeded, .failed]), note: "")
            case 9 where lastDecision != nil && Bool.random(using: &rng):
                // The same signed decision again: a replay, which both must refuse.
                (command, actor) = lastDecision!
                replays += 1
            default:
                f.clock.advance(seconds: Int64.random(in: 0..<(3600 * 30), using: &rng))
                continue
            }
            let now = f.clock.value
            let expected = Engine.execute(command, on: whole, actor: actor, now: now)
            let outcome = try await f.database.execute(command, as: actor)
            switch (expected, outcome) {
            case (.success(let events), .success(let entries)):
                accepted += 1
                #expect(entries.map(\.kind) == events.map(\.kind) && entries.allSatisfy { $0.timeMilliseconds == now }, "\(command)")
                for event in events { whole.apply(event, actor: actor, at: now) }
                if case .decide(_, _, _, _, .some, _) = command { lastDecision = (command, actor) }
            case (.failure(let a), .failure(let b)):
                #expect(a.rule == b.rule, "\(command): the whole state refuses with \(a.rule), the bounded reads with \(b.rule)")
            default:
                Issue.record("\(command) as \(actor): decided on the whole state \(expected), on its bounded reads \(outcome)")
            }
        }
        #expect(accepted > 30, "only \(accepted) commands were accepted; the generator should exercise the engine")
        #expect(replays > 0 || seed > 2, "the generator replays signed decisions")
        // A server's service on SQLite decides rounds ahead of their transaction; a replay is decided again inside.
        let rounds = f.database.roundsDecidedAhead
        if keepsWholeState && backend == .sqlite {
            #expect(rounds.written > accepted / 2, "rounds decided ahead: \(rounds)")
        } else {
            #expect(rounds.written == 0 && rounds.again == 0, "PostgreSQL and a command-line service decide inside: \(rounds)")
        }
        let failure = try await f.verifyEverything()
        #expect(failure == nil, "\(failure?.message ?? "")")
    }

    @Test("Concurrent identical decisions on one request: exactly one is recorded and the request advances once", arguments: TestBackend.allCases, [false, true])
    func concurrentDecisions(_ backend: TestBackend, keepsWholeState: Bool) async throws {
        let f = try await EngineFixture(backend, keepsWholeState: keepsWholeState)
        defer { f.remove() }
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let outcomes = try await withThrowingTaskGroup(of: SignoffService.Outcome.self) { group in
            for _ in 0..<20 {
                group.addTask { try await f.database.execute(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { if case .success = $0 { true } else { false } }.count == 1)
        let state = try await f.database.state()
        #expect(state.requests["REQ-1"]?.decisions.count == 1)
        #expect(state.requests["REQ-1"]?.history.filter { $0.stage == "approved" }.count == 1)
        #expect(try await f.verifyEverything() == nil)
    }

    @Test(
        "Two instances on one database: 32 identical signed decisions raced over both → one recorded; two approvers racing on each → one advance; each sees the other's writes",
        arguments: TestBackend.allCases, [false, true])
    func racesAcrossInstances(_ backend: TestBackend, keepsWholeState: Bool) async throws {
        let f = try await EngineFixture(backend, keepsWholeState: keepsWholeState)
        defer { f.remove() }
        let other = try await f.anotherInstance()
        let instances = [f.database, other]
        try await f.must(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        // Filed on the first, evidence through the second: it sees the request at once.
        guard case .success = try await other.execute(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        else { Issue.record("the second instance does not see the request the first filed"); return }
        let tested = try #require(try await other.state(focusedOn: "REQ-1").requests["REQ-1"])
        let envelope = f.signed(tested, stage: "compliance-reviewed", by: "casey")
        let first = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<32 {
                group.addTask {
                    let outcome = try await instances[i % 2].execute(
                        .decide(request: "REQ-1", stage: "compliance-reviewed", decision: .approve, comment: "", envelope: envelope), as: "casey")
                    if case .success = outcome { return true } else { return false }
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(first == 1, "exactly one of 32 identical signed decisions is recorded: \(first)")
        // Two approvers, 16 attempts each, spread over both instances: one decision each, one advance.
        let reviewed = try #require(try await f.database.state(focusedOn: "REQ-1").requests["REQ-1"])
        #expect(reviewed.stage == "compliance-reviewed" && reviewed.decisions.count == 1, "\(reviewed.stage) \(reviewed.decisions.count)")
        let signed = ["morgan": f.signed(reviewed, stage: "approved", by: "morgan"), "sam": f.signed(reviewed, stage: "approved", by: "sam")]
        let second = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<32 {
                let person = i % 4 < 2 ? "morgan" : "sam"
                group.addTask {
                    let outcome = try await instances[i % 2].execute(
                        .decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: signed[person]), as: person)
                    if case .success = outcome { return person } else { return nil }
                }
            }
            return try await group.reduce(into: [String]()) { if let person = $1 { $0.append(person) } }
        }
        #expect(second.sorted() == ["morgan", "sam"], "one decision per approver: \(second.sorted())")
        for instance in instances {
            let final = try #require(try await instance.state(focusedOn: "REQ-1").requests["REQ-1"])
            #expect(final.stage == "approved" && final.decisions.count == 3, "every instance reads the same request: \(final.stage), \(final.decisions.count) decisions")
            #expect(final.history.filter { $0.stage == "approved" }.count == 1, "one advance")
        }
        #expect(try await f.verifyEverything() == nil)
    }

    @Test("A server decides its rounds ahead of their transaction: a round decided on a head another instance has moved since is decided again inside, on what it reads — a decision on a request withdrawn meanwhile is refused, not recorded — and the server catches up, deciding the next round ahead again")
    func decidedAheadOnAMovedHead() async throws {
        let f = try await EngineFixture(.sqlite, keepsWholeState: true)
        defer { f.remove() }
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        // The server keeps the whole state; its next round is decided ahead on it.
        _ = try await f.database.state()
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        #expect(f.database.roundsDecidedAhead == (written: 1, again: 0))
        // Another instance (a command beside the server) withdraws REQ-1: the server's whole state still has it active.
        let other = try await f.anotherInstance()
        guard case .success = try await other.execute(.withdraw(request: "REQ-1", reason: "superseded"), as: "riley") else {
            Issue.record("the withdrawal was refused")
            return
        }
        // Decided ahead on the old head it would be approved; inside, on what the transaction reads, it is refused.
        let outcome = try await f.database.execute(.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan")
        guard case .failure(let refusal) = outcome else {
            Issue.record("a decision on a withdrawn request was recorded: \(outcome)")
            return
        }
        #expect(refusal.rule == RefusalRule.requestClosed.name, "\(refusal)")
        #expect(f.database.roundsDecidedAhead == (written: 1, again: 1))
        // The server brought its whole state to the head after that round, without a read: the next round is decided
        // ahead again.
        try await f.must(.decide(request: "REQ-2", stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan")
        #expect(f.database.roundsDecidedAhead == (written: 2, again: 1))
        let state = try await f.database.state()
        #expect(state.requests["REQ-1"]?.status == .withdrawn && state.requests["REQ-1"]?.decisions.isEmpty == true)
        #expect(try await f.verifyEverything() == nil)
    }

    @Test("A round decided ahead while the round before it is still in its transaction sees that round's writes: the second approval, decided while the first is held before its commit, advances the request")
    func decidedAheadOnARoundInFlight() async throws {
        let f = try await EngineFixture(.sqlite, keepsWholeState: true)
        defer { f.remove() }
        try await f.must(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        var request = try #require(try await f.database.state().requests["REQ-1"])
        try await f.must(.decide(request: "REQ-1", stage: "compliance-reviewed", decision: .approve, comment: "", envelope: f.signed(request, stage: "compliance-reviewed", by: "casey")), as: "casey")
        request = try #require(try await f.database.state().requests["REQ-1"])
        let morgan = Command.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: f.signed(request, stage: "approved", by: "morgan"))
        let sam = Command.decide(request: "REQ-1", stage: "approved", decision: .approve, comment: "", envelope: f.signed(request, stage: "approved", by: "sam"))
        // The first round (morgan's) is held in its transaction, before it commits, until the second (sam's) is in.
        let gate = Mutex((held: false, submitted: false))
        f.database.injectFailure { step in
            guard step == .beforeCommit, gate.withLock({ held in defer { held.held = true }; return !held.held }) else { return }
            let deadline = ContinuousClock.now + .seconds(10)
            while !gate.withLock({ $0.submitted }) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
            Thread.sleep(forTimeInterval: 0.2)  // the second round decides meanwhile
        }
        async let first = f.database.execute(morgan, as: "morgan")
        while !gate.withLock({ $0.held }) { try await Task.sleep(for: .milliseconds(5)) }
        async let second = f.database.execute(sam, as: "sam")
        try await Task.sleep(for: .milliseconds(50))
        gate.withLock { $0.submitted = true }
        let (a, b) = try await (first, second)
        f.database.injectFailure(nil)
        guard case .success(let morganEntries) = a, case .success(let samEntries) = b else {
            Issue.record("refused: \(a) \(b)")
            return
        }
        // Sam's decision completes the two approvals: it advanced the request, which it could only see with morgan's in.
        #expect(morganEntries.map(\.kind) == ["decision.recorded"])
        #expect(samEntries.map(\.kind) == ["decision.recorded", "stage.entered"])
        #expect(f.database.roundsDecidedAhead == (written: 3, again: 0), "casey's, morgan's and sam's rounds: \(f.database.roundsDecidedAhead)")
        let fresh = try await SignoffService(storage: try await f.store.another()).state()
        #expect(fresh.requests["REQ-1"]?.stage == "approved")
        #expect(try await f.database.state().documents() == fresh.documents())
        #expect(try await f.verifyEverything() == nil)
    }

    @Test("A server's writer under load: 96 signed decisions from 96 tasks at once, rounds decided ahead two at a time — every request has its decisions and advanced once, the projection replays exactly, and rounds were decided ahead")
    func decidedAheadUnderLoad() async throws {
        let f = try await EngineFixture(.sqlite, keepsWholeState: true)
        defer { f.remove() }
        let count = 32
        for _ in 0..<count {
            try await f.must(.fileRequest(project: "churn-model", environment: "prod", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        }
        for r in 1...count {
            try await f.must(.attachEvidence(request: "REQ-\(r)", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        }
        var state = try await f.database.state()
        // Each request: casey's review, then morgan's and sam's approvals — all 96 submitted at once, in three waves.
        var work: [(String, Command)] = []
        for r in 1...count {
            let request = try #require(state.requests["REQ-\(r)"])
            work.append(("casey", .decide(request: request.id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: f.signed(request, stage: "compliance-reviewed", by: "casey"))))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (actor, command) in work { group.addTask { _ = try await f.database.execute(command, as: actor) } }
            try await group.waitForAll()
        }
        state = try await f.database.state()
        work = []
        for r in 1...count {
            let request = try #require(state.requests["REQ-\(r)"])
            #expect(request.stage == "compliance-reviewed", "REQ-\(r) is at \(request.stage)")
            for person in ["morgan", "sam"] {
                work.append((person, .decide(request: request.id, stage: "approved", decision: .approve, comment: "", envelope: f.signed(request, stage: "approved", by: person))))
            }
        }
        let refused = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (actor, command) in work.shuffled() {
                group.addTask {
                    if case .failure = try await f.database.execute(command, as: actor) { return true } else { return false }
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(refused == 0)
        let fresh = try await SignoffService(storage: try await f.store.another()).state()
        for r in 1...count {
            let request = try #require(fresh.requests["REQ-\(r)"])
            #expect(request.stage == "approved" && request.decisions.count == 3, "REQ-\(r): \(request.stage), \(request.decisions.count) decisions")
            #expect(request.history.filter { $0.stage == "approved" }.count == 1, "REQ-\(r) advanced once")
        }
        // The whole state the server keeps equals a fresh read of the database.
        let kept = try await f.database.state()
        #expect(kept.documents() == fresh.documents())
        let rounds = f.database.roundsDecidedAhead
        #expect(rounds.written > 0 && rounds.again == 0, "\(rounds)")
        #expect(try await f.verifyEverything() == nil)
    }

    @Test("Two instances queueing the same scheduled notifications at once: each key is fresh to exactly one, and its message is queued once", arguments: TestBackend.allCases)
    func notificationsOnceAcrossInstances(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let other = try await f.anotherInstance()
        let keys = (0..<40).map { "reminder/REQ-\($0)/approved/morgan" }
        let now = f.clock.value
        let queued = try await withThrowingTaskGroup(of: Int.self) { group in
            for (i, instance) in [f.database, other, f.database, other].enumerated() {
                group.addTask {
                    try await instance.webhooks.enqueueOnce(keys, at: now) { fresh in
                        fresh.sorted().map { key in
                            OutboxMessage(id: "msg_\(i)_\(key)", subscription: "WH-1", type: "reminder", notification: Array("{}".utf8), createdAt: now)
                        }
                    }
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 }
        }
        #expect(queued == keys.count, "\(queued) messages for \(keys.count) keys")
        #expect(try await f.store.count("SELECT COUNT(*) FROM webhook_message") == keys.count)
    }

    @Test("An instance keeping the whole state follows another instance's writes by folding their entries, checked against the chain: equal to a fresh read; a head that does not extend its own is read afresh", arguments: TestBackend.allCases)
    func wholeStateCatchesUp(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let other = SignoffService(storage: try await f.store.another(), keepsWholeState: true)
        let before = try await other.state()
        let marker = try await other.storage.projection.headMarker()
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try await f.must(.createGroup(name: "late-comers"), as: Cast.administrator.name)
        let head = try await f.store.storage.projection.headMarker()
        let caughtUp = try #require(try await other.caughtUp((marker, before), to: head), "the entries since extend the kept head")
        let fresh = try await SignoffService(storage: try await f.store.another()).state()
        #expect(caughtUp.documents() == fresh.documents())
        #expect(caughtUp.requests["REQ-1"]?.stage == "tested" && caughtUp.groups["late-comers"] != nil)
        // What the instance answers now is that state, through its kept copy.
        #expect(try await other.state(focusedOn: "REQ-1").requests["REQ-1"] == fresh.requests["REQ-1"])
        #expect(try await other.directory().groups["late-comers"] != nil)
        // A head whose chain hash the entries do not lead to, an older head, or a marker of another length: not folded.
        var forged = head
        forged[forged.count - 1] ^= 1
        #expect(try await other.caughtUp((marker, before), to: forged) == nil)
        #expect(try await other.caughtUp((head, caughtUp), to: marker) == nil)
        #expect(try await other.caughtUp((marker, before), to: Array(head.prefix(8))) == nil)
        // An entry of a kind this version does not know (a later Signoff's) is not folded past: read afresh instead.
        try await f.store.storage.ledger.append([EntryDraft(kind: "freeze.scheduled", actor: Cast.administrator.name, payload: Array("{\"project\":\"churn-model\"}".utf8))])
        let later = try await f.store.storage.projection.headMarker()
        #expect(try await other.caughtUp((head, caughtUp), to: later) == nil)
    }

    /// PostgreSQL only: several instances deliver the outbox there. (An SQLite file has one `signoff serve`; its
    /// `due` reads without claiming, so that a restarted server resends at once what it was delivering when killed.)
    @Test("Two instances taking due webhook messages at once (FOR UPDATE SKIP LOCKED, a lease): each message is taken by exactly one", arguments: [TestBackend.postgres])
    func outboxClaimedOnce(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        let other = try await f.anotherInstance()
        let now = f.clock.value
        let messages = (0..<200).map { OutboxMessage(id: "msg_\($0)", subscription: "WH-1", type: "request.filed", notification: Array("{}".utf8), createdAt: now) }
        try await f.database.webhooks.enqueue(messages)
        let taken = try await withThrowingTaskGroup(of: [String].self) { group in
            for i in 0..<8 {
                let instance = [f.database, other][i % 2]
                group.addTask {
                    var mine: [String] = []
                    while true {
                        let due = try await instance.webhooks.due(now: now, limit: 7)
                        if due.isEmpty { return mine }
                        mine += due.map(\.message.id)
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(taken.count == messages.count && Set(taken).count == messages.count, "\(taken.count) taken, \(Set(taken).count) distinct, of \(messages.count)")
        // Taken is not delivered: once the lease has run out, an undelivered message is due again.
        #expect(try await other.webhooks.due(now: now + 600_000, limit: 500).count == messages.count)
    }

    @Test("A projection row changed behind the library's back is detected and named", arguments: TestBackend.allCases)
    func projectionTamper(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        #expect(try await f.verifyEverything() == nil)
        try await f.store.execute("UPDATE projection SET document = replace(document, '\"stage\":\"requested\"', '\"stage\":\"approved\"') WHERE key = 'request/REQ-1'")
        let failure = try await f.database.verifyProjection()
        #expect(failure?.kind == .projectionMismatch)
        #expect(failure?.message.contains("request/REQ-1") == true)
        try await f.store.execute("DELETE FROM projection WHERE key = 'principal/dana'")
        let reopened = try await f.anotherInstance()
        #expect(try await reopened.verifyProjection()?.kind == .projectionMismatch)
    }

    @Test("A projection a later Signoff wrote (a higher format) is refused for reads and writes and left as it is; an earlier one's is rebuilt", arguments: TestBackend.allCases)
    func laterProjectionFormat(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        let later = (Int(SignoffState.projectionFormat) ?? 0) + 1
        try await f.store.execute("UPDATE projection_meta SET value = '\(later)' WHERE key = 'format'")
        let size = try await f.store.storage.ledger.size()
        func refusesLater(_ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(what): a later Signoff's projection was used")
            } catch {
                #expect("\(error)".contains("written by a later Signoff") && "\(error)".contains("format \(later)"), "\(what): \(error)")
            }
        }
        // A fresh instance (an earlier binary beside a later one) and the instance that has been running, with its caches.
        let fresh = try await f.anotherInstance()
        for (name, service) in [("a fresh instance", fresh), ("the running instance", f.database)] {
            await refusesLater("\(name) filing") {
                _ = try await service.execute(.fileRequest(project: "churn-model", environment: "qa", bundle: "c.zip", digest: EngineFixture.digest, description: ""), as: "riley")
            }
            await refusesLater("\(name) verifying the projection") { _ = try await service.verifyProjection() }
        }
        await refusesLater("reading the whole state") { _ = try await fresh.storage.projection.state() }
        await refusesLater("reading one request") { _ = try await fresh.storage.projection.state(focusedOn: "REQ-1") }
        #expect(try await f.store.storage.ledger.size() == size, "nothing was appended")
        #expect(try await f.store.count("SELECT count(*) FROM projection_meta WHERE key = 'format' AND value = '\(later)'") == 1, "the later format is left as it is")
        // An earlier format (or none) is rebuilt from the ledger at the next write, as always.
        try await f.store.execute("UPDATE projection_meta SET value = '1' WHERE key = 'format'")
        let again = try await f.anotherInstance()
        if case .failure(let refusal) = try await again.execute(
            .fileRequest(project: "churn-model", environment: "qa", bundle: "c.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        {
            Issue.record("refused: \(refusal)")
        }
        #expect(try await f.store.count("SELECT count(*) FROM projection_meta WHERE key = 'format' AND value = '\(SignoffState.projectionFormat)'") == 1)
        #expect(try await again.verifyProjection() == nil)
    }

    @Test("The request pages' index (request_entry) and projection_meta are verified against the ledger: a row deleted, added or moved, a meta value edited", arguments: TestBackend.allCases)
    func requestEntryTamper(_ backend: TestBackend) async throws {
        let tampers: [(String, String)] = [
            ("DELETE FROM request_entry WHERE request = 'REQ-1' AND sequence = (SELECT max(sequence) FROM request_entry WHERE request = 'REQ-1')", "lacks entry"),
            ("INSERT INTO request_entry (request, sequence) VALUES ('REQ-1', 0)", "not an entry of that request"),
            ("UPDATE request_entry SET request = 'REQ-2' WHERE request = 'REQ-1'", "request_entry"),
            ("UPDATE projection_meta SET value = '0' WHERE key = 'request-entry-index'", "projection_meta"),
            ("DELETE FROM projection_meta WHERE key = 'request-entry-index'", "projection_meta"),
            ("INSERT INTO projection_meta (key, value) VALUES ('extra', 'x')", "projection_meta"),
        ]
        for (sql, words) in tampers {
            let f = try await EngineFixture(backend)
            defer { f.remove() }
            try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
            try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "c.zip", digest: EngineFixture.digest, description: ""), as: "riley")
            try await f.must(.withdraw(request: "REQ-1", reason: "x"), as: "riley")
            #expect(try await f.verifyEverything() == nil, "untouched")
            try await f.store.execute(sql)
            let failure = try await f.database.verifyProjection()
            #expect(failure?.kind == .projectionMismatch && failure?.message.contains(words) == true, "\(sql): \(failure?.message ?? "undetected")")
        }
    }

    @Test("An entry re-headed as another project's (only the ledger key's holder could write it): every export check passes on the chain, a per-project export shows it only as a stub and verifies, but the whole-log check of `audit verify --db` refuses it", arguments: TestBackend.allCases)
    func reheadedEntry(_ backend: TestBackend) async throws {
        let f = try await EngineFixture(backend)
        defer { f.remove() }
        try await f.must(.fileRequest(project: "churn-model", environment: "qa", bundle: "b.zip", digest: EngineFixture.digest, description: ""), as: "riley")
        _ = try await f.publisher.publish()
        let ledger = f.store.storage.ledger
        #expect(try await SignoffService.checkEntries(of: ledger, trustedKey: ledger.verifierKey) == nil, "a ledger the engine wrote")
        // Evidence of churn-model's REQ-1, headed as fraud-model's: churn-model's export would show it only as a stub.
        let payload = Array(#"{"digest":"\#(SHA256Digest.hash("failing"))","kind":"test-report","request":"REQ-1","revision":1,"status":"failed"}"#.utf8)
        _ = try await f.store.storage.unitOfWork.write { tx in
            try tx.append([EntryDraft(kind: "evidence.attached", project: "fraud-model", environment: "qa", actor: "ci-bot", payload: payload)])
        }
        _ = try await f.publisher.publish()
        #expect(try await ledger.verifyAll(trustedKey: ledger.verifierKey, allowUncoveredTail: false, progress: nil).failure == nil, "the chain and checkpoints hold")
        let problem = try await SignoffService.checkEntries(of: ledger, trustedKey: ledger.verifierKey)
        #expect(problem?.message.contains("header names project \"fraud-model\"") == true, "\(problem?.message ?? "undetected")")
        // The project's own export cannot see it: the stub is fraud-model's, and it verifies.
        let directory = try TestSupport.temporaryDirectory("signoff-reheaded")
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await f.database.exportAudit(filter: AuditExportFilter(project: "churn-model"), to: directory.appendingPathComponent("export"))
        #expect(AuditExportVerifier.verify(directory: directory.appendingPathComponent("export"), trustedKey: ledger.verifierKey).failure == nil)
        // The whole log's export, as `signoff monitor` reads it through the API: every entry in full, the re-heading found.
        _ = try await f.database.exportAudit(filter: AuditExportFilter(), to: directory.appendingPathComponent("whole"))
        let found = try SignoffService.checkEntries(inExport: directory.appendingPathComponent("whole"), trustedKey: ledger.verifierKey)
        #expect(found?.message.contains("header names project \"fraud-model\"") == true, "\(found?.message ?? "undetected")")
        #expect(try SignoffService.checkEntries(inExport: directory.appendingPathComponent("export"), trustedKey: ledger.verifierKey) != nil, "a per-project export is not the whole log")
    }
}
