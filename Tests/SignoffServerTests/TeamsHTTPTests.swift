import Foundation
import Hummingbird
import HummingbirdTesting
import SignoffCore
import SignoffCrypto
import SignoffLedger
@testable import SignoffServer
import SignoffAPI
import SignoffService
import SignoffStore
import SignoffTestSupport
import Testing

/// Two teams share the standard workflow over real HTTP: team A's requester, approver and deployer can do nothing on
/// team B's project — not even learn that its requests exist.
@Suite("Two teams over HTTP")
struct TeamsHTTPTests {
    @Test("Every operation of team A's requester, approver and deployer on team B's project is refused over HTTP; B's people pass")
    func teamsApart() async throws {
        var f = try await ServerFixture()
        defer { f.remove() }
        let admin = Cast.administrator.name
        for group in Cast.TeamB.groups { try await f.must(.createGroup(name: group), as: admin) }
        for (name, group) in Cast.TeamB.people {
            let key = Ed25519.SigningKey()
            f.keys[name] = key
            try await f.must(.addUser(name: name, administrator: false, key: try NoteVerifierKey(name: name, publicKey: key.publicKey)), as: admin)
            try await f.must(.addMember(group: group, member: name), as: admin)
        }
        try await f.must(.createProject(ProjectSpec(key: Cast.TeamB.project, regulated: false, environments: ["qa": "standard"], roles: Cast.TeamB.roles), approval: nil), as: admin)
        let digest = SHA256Digest.hash("b").description
        try await f.must(.fileRequest(project: "team-b", environment: "qa", bundle: "b.zip", digest: SHA256Digest.hash("b"), description: ""), as: "bea")
        // REQ-2 (an emergency, which approvers file: no tests) is approved and deployed, so that its retrospective is due.
        try await f.must(.addMember(group: "b-leads", member: "bea"), as: admin)
        try await f.must(.fileRequest(project: "team-b", environment: "qa", bundle: "b.zip", digest: SHA256Digest.hash("b"), description: "hot", emergencyReason: "down"), as: "bea")
        try await f.must(.decide(request: "REQ-2", stage: "approved", decision: .approve, comment: "", envelope: nil), as: "bo")
        try await f.must(.recordDeployment(request: "REQ-2", outcome: .succeeded, note: ""), as: "bill")
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        let (keys, database) = (f.keys, f.database)
        // Team A's CI token: scoped to team A's project only.
        let auth = Authenticator(store: database.auth, clock: { database.now })
        let ciToken = try await auth.issueToken(for: Cast.ci.name, kind: .service, scopes: ["evidence:\(Cast.project)", "gate:\(Cast.project)"], lifetimeMilliseconds: 3_600_000).token
        try await app.testLive { client in
            // It cannot tell team B's requests from requests that do not exist.
            for path in ["/v1/requests/REQ-1/gate?environment=qa&digest=\(digest)", "/v1/requests/REQ-999/gate?environment=qa&digest=\(digest)"] {
                let result = try await client.json(path, token: ciToken)
                #expect(result.status == 404, "\(path): \(result.status) \(result.object)")
            }
            let evidence = try await client.json("/v1/requests/REQ-1/evidence", .post, token: ciToken, body: ["kind": "test-report", "status": "passed", "digest": digest])
            #expect(evidence.status == 404)
            var tokens: [String: String] = [:]
            for person in ["riley", "morgan", "dana", "bea", "bo"] { tokens[person] = try await client.login(person, key: keys[person]!) }
            let teamA = ["riley", "morgan", "dana"]
            // Reads: 404, as for a request that does not exist.
            for person in teamA {
                for path in ["/v1/requests/REQ-1", "/v1/requests/REQ-1/explain", "/v1/requests/REQ-1/gate?environment=qa&digest=\(digest)"] {
                    let result = try await client.json(path, token: tokens[person])
                    #expect(result.status == 404, "\(person) GET \(path): \(result.status)")
                }
                let list = try await client.json("/v1/requests?project=team-b", token: tokens[person])
                #expect((list.object["requests"] as? [Any])?.isEmpty == true, "\(person) lists team B's requests")
                let export = try await client.json("/v1/audit/export?project=team-b", token: tokens[person])
                #expect(export.status == 403, "\(person) exports team B: \(export.status)")
            }
            // Writes: filing is refused by the engine (403); on an existing request, 404 before anything else.
            let file = try await client.json("/v1/requests", .post, token: tokens["riley"], body: ["project": "team-b", "environment": "qa", "bundle": "x.zip", "digest": digest])
            #expect(file.status == 403 && file.object["rule"] as? String == "project.requesters")
            let writes: [(String, [String: Any])] = [
                ("/v1/requests/REQ-1/evidence", ["kind": "test-report", "status": "passed", "digest": digest]),
                ("/v1/requests/REQ-1/decisions", ["stage": "approved", "decision": "approve"]),
                ("/v1/requests/REQ-1/decisions", ["stage": "approved", "decision": "reject", "comment": "no"]),
                ("/v1/requests/REQ-1/decisions", ["stage": "approved", "decision": "changes-requested", "comment": "no"]),
                ("/v1/requests/REQ-1/revisions", ["digest": SHA256Digest.hash("c").description]),
                ("/v1/requests/REQ-1/withdraw", ["reason": "mine"]),
                ("/v1/requests/REQ-1/deployments", ["outcome": "succeeded"]),
                ("/v1/requests/REQ-2/retrospective", ["comment": "looked"]),
            ]
            for person in teamA {
                for (path, body) in writes {
                    let result = try await client.json(path, .post, token: tokens[person], body: body)
                    #expect(result.status == 404, "\(person) POST \(path): \(result.status) \(result.object)")
                }
            }
            // Team B's own people read and decide.
            #expect(try await client.json("/v1/requests/REQ-1", token: tokens["bea"]).status == 200)
            // The gate echoes the environment it was asked about: a name, never lines for a CI log.
            let forged = try await client.json("/v1/requests/REQ-1/gate?environment=qa%0A%20%20-%20ALLOWED&digest=\(digest)", token: tokens["bea"])
            #expect(forged.status == 400)
            let listB = try await client.json("/v1/requests?project=team-b", token: tokens["bo"])
            #expect((listB.object["requests"] as? [Any])?.count == 2)
            let explain = try await client.json("/v1/requests/REQ-1/explain", token: tokens["bo"])
            #expect(explain.object["awaiting_you"] as? [String] == ["approved"])
            #expect(try await client.json("/v1/audit/export?project=team-b", token: tokens["bo"]).status == 200)
            // The delegate of one of team B's people reads, while the delegation is in force.
            let now = Timestamps.rfc3339(database.now)
            let later = Timestamps.rfc3339(database.now + 3_600_000)
            let delegated = try await client.json("/v1/delegations", .post, token: tokens["bo"], body: ["delegate": "morgan", "from": now, "until": later, "project": "team-b"])
            #expect(delegated.status == 201, "\(delegated.object)")
            #expect(try await client.json("/v1/requests/REQ-1", token: tokens["morgan"]).status == 200)
            let delegations = try await client.json("/v1/delegations", token: tokens["riley"])
            #expect((delegations.object["items"] as? [Any])?.isEmpty == true, "riley sees no delegation of others")
        }
    }
}

/// What the server does on its own, and the inbox.
@Suite("The server's expiry task and the inbox")
struct ExpiryAndInboxTests {
    final class Clock: @unchecked Sendable {
        var value: Int64 = 1_796_029_200_000
    }

    @Test("The server's periodic task records request.expired for idle requests, as the system; the inbox shows retrospectives owed, and overdue ones to the requester")
    func expiryAndInbox() async throws {
        let clock = Clock()
        let directory = try TestSupport.temporaryDirectory("signoff-expiry")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = SQLiteLedgerStore.Configuration()
        configuration.clock = { clock.value }
        let ledger = try SQLiteStorage.create(
            path: directory.appendingPathComponent("e.sqlite").path, origin: "signoff.test/ledger", signingKey: Ed25519.SigningKey(), configuration: configuration)
        let service = SignoffService(storage: ledger)
        func must(_ command: Command, as actor: String) async throws {
            if case .failure(let refusal) = try await service.execute(command, as: actor) { throw TestSupportError("refused: \(refusal)") }
        }
        try await must(.initializeLedger(origin: ledger.ledger.verifierKey.name, ledgerKey: ledger.ledger.verifierKey), as: Engine.systemActor)
        try await must(.bootstrapAdministrator(name: "ada", key: NoteVerifierKey(name: "ada", publicKey: Ed25519.SigningKey().publicKey)), as: Engine.systemActor)
        for group in Cast.Group.all { try await must(.createGroup(name: group), as: "ada") }
        for (name, group) in [("riley", Cast.Group.dataScience), ("riley", Cast.Group.releaseManagers), ("morgan", Cast.Group.releaseManagers), ("dana", Cast.Group.deployers), ("casey", Cast.Group.compliance)] {
            if try await service.state().principals[name] == nil { try await must(.addUser(name: name, administrator: false, key: nil), as: "ada") }
            try await must(.addMember(group: group, member: name), as: "ada")
        }
        try await must(.applyWorkflow(source: try Cast.workflowSource("standard"), file: "standard.yaml"), as: "ada")
        try await must(.createProject(ProjectSpec(key: Cast.project, regulated: false, environments: ["qa": "standard"], roles: Cast.roles), approval: nil), as: "ada")
        try await must(.fileRequest(project: Cast.project, environment: "qa", bundle: "b.zip", digest: SHA256Digest.hash("b"), description: "idle"), as: "riley")
        try await must(.fileRequest(project: Cast.project, environment: "qa", bundle: "b.zip", digest: SHA256Digest.hash("b"), description: "hot", emergencyReason: "down"), as: "riley")
        try await must(.decide(request: "REQ-2", stage: "approved", decision: .approve, comment: "", envelope: nil), as: "morgan")
        try await must(.recordDeployment(request: "REQ-2", outcome: .succeeded, note: ""), as: "dana")

        // The inbox: compliance owes the retrospective; the requester does not see it until it is overdue.
        var state = try await service.state()
        func inbox(_ person: String) -> [String] {
            RequestQuery(waitingFor: person).select(from: state, now: clock.value).map(\.request)
        }
        #expect(inbox("casey") == ["REQ-2"])
        #expect(inbox("riley").isEmpty)
        #expect(inbox("morgan") == ["REQ-1"], "morgan may approve REQ-1 ahead of its tests")
        #expect(inbox("dana").isEmpty)
        clock.value += 25 * 3_600_000
        #expect(inbox("riley") == ["REQ-2"], "an overdue retrospective is in the requester's inbox")
        #expect(RequestQuery().select(from: state, now: clock.value).first { $0.request == "REQ-2" }?.retrospective_overdue_since != nil)

        // Fifteen days later REQ-1 has been idle longer than standard's 14 days: the task expires it, as the system.
        clock.value += 14 * 86_400_000
        let task = ExpiryService(service: service, intervalSeconds: 60, logger: quietLogger)
        await task.expire()
        state = try await service.state()
        #expect(state.requests["REQ-1"]?.status == .expired)
        #expect(state.requests["REQ-2"]?.status == .deployed)
        let last = try await ledger.ledger.entry(at: try await ledger.ledger.size() - 1)
        #expect(last.kind == "request.expired" && last.actor == Engine.systemActor)
        let size = try await ledger.ledger.size()
        await task.expire()
        #expect(try await ledger.ledger.size() == size, "nothing more to expire: nothing recorded")
    }
}
