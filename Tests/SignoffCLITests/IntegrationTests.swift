import Foundation
import SignoffTestSupport
import Testing

/// Issue 15's CI kit: each ready-made integration in `integrations/` runs its full story against a local `signoff
/// serve`, as its platform would run it (Tests/integrations/story.py): file → wait → approve from another process →
/// gate passes → deployment started and finished; and a rejection that fails the pipeline with its reason.
@Suite("CI integrations")
struct IntegrationTests {
    @Test("GitHub Actions, GitLab CI, Jenkins and Dataiku DSS stories pass against a local server", arguments: ["github-actions", "gitlab", "jenkins", "dataiku"])
    func story(_ integration: String) async throws {
        let workdir = try TestSupport.temporaryDirectory("signoff-integration")
        defer { try? FileManager.default.removeItem(at: workdir) }
        let result = try await TestSupport.run(
            "/usr/bin/env",
            [
                "python3", TestSupport.projectRoot.appendingPathComponent("Tests/integrations/story.py").path, "--signoff", try TestSupport.signoffExecutable,
                "--integration", integration, "--workdir", workdir.path,
            ],
            // Five chapters, about a minute alone; four stories run at once beside the other suites, on two cores.
            deadline: .seconds(600))
        #expect(result.status == 0, "\(integration): \(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("PASS \(integration)"), "\(result.stdout)")
    }
}
