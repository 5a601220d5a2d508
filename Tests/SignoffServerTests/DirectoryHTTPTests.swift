import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger
@_spi(Testing) import SignoffService
import SignoffServer
import SignoffTestBackends
import SignoffTestSupport
import Testing

/// Issue 29: the SCIM service of a connected directory over real HTTP, on both backends — its token reaches `/scim/v2`
/// only, people's tokens never reach it, disconnecting ends it, and each call's entries and kept attributes commit together.
@Suite("Connected directories over HTTP")
struct DirectoryHTTPTests {
    static let userSchema = ["urn:ietf:params:scim:schemas:core:2.0:User"]

    func scim(
        _ client: some TestClientProtocol, _ uri: String, _ method: HTTPRequest.Method = .get, token: String?, body: [String: Any]? = nil
    ) async throws -> (status: Int, object: [String: Any]) {
        let answer = try await client.json("/scim/v2" + uri, method, token: token, body: body)
        return (answer.status, answer.object)
    }

    @Test("Provisioning: users and a group, a disabled user's session ends at once, members moved; the entries' actor is directory:NAME", arguments: TestBackend.allCases)
    func provisioning(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let ada = try await client.login("ada", key: f.keys["ada"]!)
            // Connecting is signed in every ledger.
            let unsigned = try await client.json("/v1/directories", .post, token: ada, body: ["name": "corp"])
            #expect(unsigned.status == 422 && unsigned.object["rule"] as? String == "admin.signature-required", "\(unsigned)")
            let approval = try JSONSerialization.jsonObject(with: Data(AdminApproval(change: AdminChange(.directoryConnect, directory: "corp"), time: f.database.now)
                .signed(with: f.keys["ada"]!).jsonBytes()))
            // Nobody but an administrator connects, disconnects or links: the requester is refused whatever they carry.
            let riley = try await client.login(Cast.requester.name, key: f.keys[Cast.requester.name]!)
            #expect(try await client.json("/v1/directories", .post, token: riley, body: ["name": "corp", "approval": approval]).status == 403)
            #expect(try await client.json("/v1/groups/\(Cast.Group.deployers)/directory", .post, token: riley, body: ["directory": "corp"]).status == 403)
            let connected = try await client.json("/v1/directories", .post, token: ada, body: ["name": "corp", "approval": approval])
            #expect(connected.status == 201, "\(connected)")
            let token = try #require(connected.object["token"] as? String)
            // Its token reaches nothing in /v1; a person's session reaches nothing in /scim/v2.
            #expect(try await client.json("/v1/whoami", token: token).status == 401)
            #expect(try await client.json("/v1/requests", token: token).status == 401)
            #expect(try await scim(client, "/Users", token: ada).status == 401)
            #expect(try await scim(client, "/Users", token: nil).status == 401)
            #expect(try await scim(client, "/Users", token: token).status == 200)
            // A team: two users, one group.
            let size = try await f.database.ledger.size()
            for name in ["kim", "jo"] {
                let made = try await scim(client, "/Users", .post, token: token, body: ["schemas": Self.userSchema, "userName": name, "displayName": name.uppercased()])
                #expect(made.status == 201 && made.object["id"] as? String == name, "\(made)")
            }
            let group = try await scim(client, "/Groups", .post, token: token, body: ["displayName": "churn-reviewers", "members": [["value": "kim"], ["value": "jo"]]])
            #expect(group.status == 201 && (group.object["members"] as? [Any])?.count == 2, "\(group)")
            #expect(try await f.database.ledger.size() == size + 5)
            let entries = try await f.database.ledger.entries(from: size, limit: 5)
            #expect(entries.allSatisfy { $0.actor == "directory:corp" })
            // Names Signoff could not hold, a name taken, and unknown filters are refused as RFC 7644 says.
            #expect(try await scim(client, "/Users", .post, token: token, body: ["userName": "Kim Smith"]).status == 400)
            #expect(try await scim(client, "/Users", .post, token: token, body: ["userName": "riley"]).object["scimType"] as? String == "uniqueness")
            #expect(try await scim(client, "/Users?filter=userName%20co%20%22k%22", token: token).object["scimType"] as? String == "invalidFilter")
            let found = try await scim(client, "/Users?filter=userName%20eq%20%22kim%22", token: token)
            #expect(found.object["totalResults"] as? Int == 1, "\(found)")
            // A group it does not keep, and a user it did not add: refused.
            let foreign = try await scim(
                client, "/Groups/\(Cast.Group.releaseManagers)", .patch, token: token,
                body: ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [["op": "add", "path": "members", "value": [["value": "kim"]]]]])
            #expect(foreign.status == 403 && (foreign.object["detail"] as? String ?? "").contains("directory.reach"), "\(foreign)")
            #expect(try await scim(client, "/Users/riley", token: token).status == 404)
            // jo, with a key an administrator enrolled, logs in; the directory disables jo: the session ends at once.
            let joKey = Ed25519.SigningKey()
            try await f.must(.enrollKey(principal: "jo", key: try NoteVerifierKey(name: "jo", publicKey: joKey.publicKey)), as: "ada")
            let session = try await client.login("jo", key: joKey)
            #expect(try await client.json("/v1/whoami", token: session).status == 200)
            let off = try await scim(
                client, "/Users/jo", .patch, token: token,
                body: ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [["op": "replace", "path": "active", "value": false]]])
            #expect(off.status == 200 && off.object["active"] as? Bool == false, "\(off)")
            #expect(try await client.json("/v1/whoami", token: session).status == 401)
            // Moving kim out of the group.
            let moved = try await scim(
                client, "/Groups/churn-reviewers", .patch, token: token,
                body: ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [["op": "remove", "path": "members[value eq \"kim\"]"]]])
            #expect(moved.status == 200, "\(moved)")
            #expect(try await f.database.directory().groups["churn-reviewers"]?.members == ["jo"])
            // Deleting a user disables it and forgets the resource: the name is not given again.
            #expect(try await scim(client, "/Users/kim", .delete, token: token).status == 204)
            #expect(try await scim(client, "/Users/kim", token: token).status == 404)
            #expect(try await f.database.directory().principals["kim"]?.disabled == true)
            #expect(try await scim(client, "/Users", .post, token: token, body: ["userName": "kim"]).status == 409)
            // What the red team tried: a filter of 40,000 comparisons (refused before it is read), a body over the limit (413),
            // a display name of 900 KB (400), a group unlinked from the directory (no longer its to read).
            let long = Array(repeating: "userName eq \"a\"", count: 40_000).joined(separator: " and ")
            let search = try await scim(client, "/Users/.search", .post, token: token, body: ["filter": long])
            #expect(search.status == 400 && search.object["scimType"] as? String == "invalidFilter", "\(search.object["detail"] ?? "")")
            let many = Array(repeating: "userName eq \"a\"", count: 9).joined(separator: " and ")
            #expect(try await scim(client, "/Users/.search", .post, token: token, body: ["filter": many]).object["scimType"] as? String == "invalidFilter")
            #expect(try await scim(client, "/Users", .post, token: token, body: ["userName": "big", "displayName": String(repeating: "x", count: 2_000_000)]).status == 413)
            #expect(try await scim(client, "/Users", .post, token: token, body: ["userName": "wide", "displayName": String(repeating: "x", count: 300)]).status == 400)
            #expect(try await scim(client, "/Users", .post, token: token, body: ["userName": "bidi", "displayName": "a\u{202E}b"]).status == 400)
            #expect(try await client.json("/v1/directories", token: riley).status == 403, "who is connected is for administrators and auditors")
            #expect(try await client.json("/v1/directories", token: ada).status == 200)
            let unlink = AdminApproval(change: AdminChange(.groupUnlink, group: "churn-reviewers"), time: f.database.now).signed(with: f.keys["ada"]!)
            let unlinked = try await client.json(
                "/v1/groups/churn-reviewers/directory", .post, token: ada, body: ["approval": try JSONSerialization.jsonObject(with: Data(unlink.jsonBytes()))])
            #expect(unlinked.status == 200, "\(unlinked)")
            #expect(try await scim(client, "/Groups/churn-reviewers", token: token).status == 404)
            #expect(try await scim(client, "/Groups", token: token).object["totalResults"] as? Int == 0)
            // Disconnecting ends the token with the entry (the requester may not).
            #expect(try await client.json("/v1/directories/corp/disconnect", .post, token: riley, body: [:]).status == 403)
            #expect(try await client.json("/v1/directories/corp/disconnect", .post, token: ada, body: [:]).status == 200)
            #expect(try await scim(client, "/Users", token: token).status == 401)
        }
    }

    @Test("Project administrators, the access review (JSON, CSV, a time before) and --strict over HTTP", arguments: TestBackend.allCases)
    func projectAdministration(_ backend: TestBackend) async throws {
        let f = try await ServerFixture(backend)
        defer { f.remove() }
        let admin = Cast.administrator.name, casey = Cast.complianceOfficer.name, riley = Cast.requester.name
        try await f.must(.createGroup(name: "churn-leads"), as: admin)
        try await f.must(.addMember(group: "churn-leads", member: casey), as: admin)
        var roles = Cast.roles
        roles[ProjectAdministration.role] = ["churn-leads"]
        let beforeLeads = f.database.now
        try await Task.sleep(for: .milliseconds(5))
        try await f.must(.updateProject(ProjectSpec(key: Cast.project, regulated: false, environments: ServerFixture.environments, roles: roles)), as: admin)
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let lead = try await client.login(casey, key: f.keys[casey]!)
            let requester = try await client.login(riley, key: f.keys[riley]!)
            let ada = try await client.login(admin, key: f.keys[admin]!)
            // The project's own group: the lead manages it; the project-admins group and organisation-wide changes not.
            #expect(try await client.json("/v1/groups/\(Cast.Group.deployers)/members", .post, token: lead, body: ["member": Cast.outsider.name]).status == 200)
            #expect(try await client.json("/v1/groups/churn-leads/members", .post, token: lead, body: ["member": Cast.outsider.name]).status == 403)
            #expect(try await client.json("/v1/groups/\(Cast.Group.deployers)/members", .post, token: requester, body: ["member": riley]).status == 403)
            let freeze: [String: Any] = ["environment": "qa", "from": Timestamps.rfc3339(f.database.now), "until": Timestamps.rfc3339(f.database.now + 3_600_000), "reason": "audit"]
            #expect(try await client.json("/v1/freezes", .post, token: lead, body: freeze).status == 403, "a freeze of every project is the organisation's")
            var own = freeze
            own["project"] = Cast.project
            #expect(try await client.json("/v1/freezes", .post, token: lead, body: own).status == 201)
            // Break-glass through the project's freeze, for one request: the lead may, the requester may not.
            let filed = try await client.json(
                "/v1/requests", .post, token: requester,
                body: ["project": Cast.project, "environment": "qa", "bundle": "m.zip", "digest": "sha256:" + String(repeating: "ef", count: 32)])
            let id = try #require(filed.object["request"] as? String, "\(filed)")
            let exemption: [String: Any] = ["request": id, "reason": "checkout is down"]
            #expect(try await client.json("/v1/freezes/FRZ-1/exemptions", .post, token: requester, body: exemption).status == 403)
            let exempted = try await client.json("/v1/freezes/FRZ-1/exemptions", .post, token: lead, body: exemption)
            #expect(exempted.status == 200 && (exempted.object["entries"] as? [[String: Any]])?.first?["kind"] as? String == "freeze.exempted", "\(exempted)")
            #expect(try await client.json("/v1/projects/\(Cast.project)", token: lead).status == 200)
            // The project's own webhook subscription through the server, not another project's or every project's.
            let hook: [String: Any] = ["url": "https://hooks.example.com/churn", "project": Cast.project, "events": ["request.filed"]]
            let added = try await client.json("/v1/webhooks", .post, token: lead, body: hook)
            #expect(added.status == 201, "\(added)")
            var everywhere = hook
            everywhere["project"] = nil
            #expect(try await client.json("/v1/webhooks", .post, token: lead, body: everywhere).status == 403)
            // The access review: the lead and administrators, not a requester.
            #expect(try await client.json("/v1/projects/\(Cast.project)/access-review", token: requester).status == 403)
            let review = try await client.json("/v1/projects/\(Cast.project)/access-review?at=\(Timestamps.rfc3339(beforeLeads))&from=\(Timestamps.rfc3339(0))", token: lead)
            #expect(review.status == 200, "\(review)")
            func holders(_ snapshot: Any?, duty: String) -> [String] {
                let duties = ((snapshot as? [String: Any])?["duties"] as? [[String: Any]]) ?? []
                return duties.filter { $0["duty"] as? String == duty }.flatMap { ($0["holders"] as? [[String: Any]] ?? []).compactMap { $0["principal"] as? String } }
            }
            #expect(holders(review.object["now"], duty: "administers").contains(casey))
            #expect(!holders(review.object["then"], duty: "administers").contains(casey), "casey administered nothing before the binding")
            let csv = try await client.execute(uri: "/v1/projects/\(Cast.project)/access-review?format=csv", method: .get, headers: [.authorization: "Bearer \(ada)"]) {
                ($0.headers[.contentType], String(buffer: $0.body))
            }
            #expect(csv.0?.hasPrefix("text/csv") == true && csv.1.hasPrefix(AccessReviewView.csvHeader) && csv.1.contains("administers,\(casey)"), "\(csv.1)")
            // Nobody left to act: said, or refused with strict.
            // strict is true or false, given once: anything else is refused, never read as "not strict".
            for query in ["strict=TRUE", "strict", "strict=", "strict=false&strict=true", "strict=yes"] {
                #expect(try await client.json("/v1/principals/\(riley)/disable?\(query)", .post, token: ada, body: [:]).status == 400, "\(query)")
            }
            let strict = try await client.json("/v1/principals/\(riley)/disable?strict=true", .post, token: ada, body: [:])
            #expect(strict.status == 409 && strict.object["rule"] as? String == "staffing.gap", "\(strict)")
            #expect(try await f.database.directory().principals[riley]?.disabled == false)
            let said = try await client.json("/v1/principals/\(riley)/disable", .post, token: ada, body: [:])
            #expect(said.status == 200 && ((said.object["warnings"] as? [String]) ?? []).contains { $0.contains("filing") }, "\(said)")
        }
    }
}
