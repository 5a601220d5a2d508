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
            // Disconnecting ends the token with the entry.
            #expect(try await client.json("/v1/directories/corp/disconnect", .post, token: ada, body: [:]).status == 200)
            #expect(try await scim(client, "/Users", token: token).status == 401)
        }
    }
}
