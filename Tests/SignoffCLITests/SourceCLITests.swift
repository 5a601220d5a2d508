import Foundation
import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 27, part 7, with the real binary: `--source-from-ci` takes the run, commit, ref and merge request from the CI's
/// variables; `--source KEY=VALUE` gives or overrides one; the request shows them; what a page could not link is refused.
@Suite("Links to where the bundle came from")
struct SourceCLITests {
    static let github = [
        "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "bank/churn", "GITHUB_RUN_ID": "4711",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
    ]

    @Test("request create --source-from-ci in GitHub Actions, revise --source-from-ci in GitLab CI: status shows each revision's source; bad links exit 64")
    func fromCI() async throws {
        let s = try await Story()
        defer { s.remove() }
        let filed = try await s.signoff(
            ["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "m.zip", "--digest", s.digest, "--source-from-ci", "--as", "riley"],
            extraEnv: Self.github)
        #expect(filed.status == 0, "\(filed.stderr)")
        let id = filed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        func source() async throws -> [String: Any] {
            let status = try await s.signoff(["status", id, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            return object?["source"] as? [String: Any] ?? [:]
        }
        let first = try await source()
        #expect(first["run_url"] as? String == "https://github.example/bank/churn/actions/runs/4711" && first["ref"] as? String == "main", "\(first)")
        #expect(first["system"] as? String == "github-actions" && first["commit_url"] as? String == "https://github.example/bank/churn/commit/0123456789abcdef0123456789abcdef01234567")
        let gitlab = ["GITLAB_CI": "true", "CI_PIPELINE_URL": "https://gitlab.example/p/-/pipelines/2", "CI_COMMIT_SHA": "abcdef1234"]
        let other = "sha256:" + SHA256Digest.hash("v2").hex
        let revised = try await s.signoff(["revise", id, "--digest", other, "--source-from-ci", "--source", "bundle_id=b-2", "--as", "riley"], extraEnv: gitlab)
        #expect(revised.status == 0, "\(revised.stderr)")
        let second = try await source()
        #expect(second["system"] as? String == "gitlab" && second["bundle_id"] as? String == "b-2" && second["run_url"] as? String == "https://gitlab.example/p/-/pipelines/2", "\(second)")
        // What a page could not link to is refused before anything is sent; an unknown key too.
        for bad in ["run_url=javascript:alert(1)", "commit=XYZ", "colour=red", "run_url"] {
            let refused = try await s.signoff(
                ["request", "create", "--project", Cast.project, "--env", "qa", "--bundle", "n.zip", "--digest", other, "--new", "--source", bad, "--as", "riley"])
            #expect(refused.status == 64, "\(bad): \(refused.stderr)")
        }
    }
}
