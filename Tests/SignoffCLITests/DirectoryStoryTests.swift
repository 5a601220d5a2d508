import Foundation
import SignoffTestSupport
import Testing

/// Issue 29: a connected directory against tools nobody here wrote — PyPI `scim2-tester` checks the SCIM service
/// (every check of what `/ServiceProviderConfig` declares), and a team is provisioned, deprovisioned and moved with
/// `scim2-client` in a regulated ledger, each refusal with its reason, the export verified offline
/// (`Tests/directory/scim_story.py`).
@Suite("Connected directory: SCIM conformance and the provisioning story")
struct DirectoryStoryTests {
    @Test("scim2-tester passes every declared feature; scim2-client provisions, deprovisions and moves people; refusals in a regulated ledger")
    func story() async throws {
        try await ConsoleBrowserTests.story("scim_story.py", in: "Tests/directory", passes: "PASS")
    }
}
