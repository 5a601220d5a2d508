@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 27, part 7: where a bundle came from — taken from the CI's own variables, checked so that a page may link to
/// it, recorded with the filing and each revision.
@Suite("Bundle source")
struct BundleSourceTests {
    @Test("GitHub Actions, GitLab CI and Jenkins variables give the run, the commit, the ref and the merge request; elsewhere, nothing")
    func fromCI() throws {
        let github = try #require(
            BundleSource.fromCI([
                "GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "bank/churn", "GITHUB_RUN_ID": "4711",
                "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF": "refs/pull/42/merge", "GITHUB_HEAD_REF": "feature/pin", "GITHUB_REF_NAME": "42/merge",
            ]))
        #expect(
            github.source
                == BundleSource(
                    system: "github-actions", runURL: "https://github.example/bank/churn/actions/runs/4711", commit: "0123456789abcdef0123456789abcdef01234567",
                    commitURL: "https://github.example/bank/churn/commit/0123456789abcdef0123456789abcdef01234567", ref: "feature/pin",
                    changeURL: "https://github.example/bank/churn/pull/42"))
        #expect(github.dropped.isEmpty)
        let gitlab = try #require(
            BundleSource.fromCI([
                "GITLAB_CI": "true", "CI_PIPELINE_URL": "https://gitlab.example/data/churn/-/pipelines/99", "CI_COMMIT_SHA": "89abcdef01234567",
                "CI_PROJECT_URL": "https://gitlab.example/data/churn", "CI_COMMIT_REF_NAME": "main", "CI_MERGE_REQUEST_IID": "7",
            ]))
        #expect(gitlab.source.changeURL == "https://gitlab.example/data/churn/-/merge_requests/7")
        #expect(gitlab.source.commitURL == "https://gitlab.example/data/churn/-/commit/89abcdef01234567" && gitlab.source.system == "gitlab")
        let jenkins = try #require(BundleSource.fromCI(["BUILD_URL": "https://jenkins.example/job/churn/12/", "GIT_COMMIT": "abcdef1", "GIT_BRANCH": "origin/main"]))
        #expect(jenkins.source == BundleSource(system: "jenkins", runURL: "https://jenkins.example/job/churn/12/", commit: "abcdef1", ref: "origin/main"))
        #expect(BundleSource.fromCI(["PATH": "/usr/bin"]) == nil)
        // What a page could not link to, or a verifier would refuse, is left out and named — never sent.
        let odd = try #require(BundleSource.fromCI(["BUILD_URL": "javascript:alert(1)", "GIT_COMMIT": "NOT-HEX", "GIT_BRANCH": "main"]))
        #expect(odd.source == BundleSource(system: "jenkins", ref: "main") && odd.dropped == ["run_url", "commit"])
    }

    @Test("Links are http or https with a host and nothing that breaks out of an attribute; commits are hex; refs one printable line")
    func problems() {
        for bad in ["javascript:alert(1)", "http://", "https://@evil", "https://a.example/\"onmouseover=x", "https://a.example/<script>", "ftp://a.example/x",
            "https://a.example/ x", "data:text/html,hi", String(repeating: "h", count: 10) + "https://a.example"]
        {
            #expect(!BundleSource(runURL: bad).problems().isEmpty, "\(bad)")
        }
        #expect(BundleSource(runURL: "https://ci.example/run/1?x=1&y=2#z").problems().isEmpty)
        #expect(!BundleSource(commit: "ABCDEF1").problems().isEmpty && !BundleSource(commit: "abc").problems().isEmpty)
        #expect(!BundleSource(ref: "main\u{202E}evil").problems().isEmpty && !BundleSource(ref: "a\nb").problems().isEmpty)
        #expect(!BundleSource(system: "Git Hub").problems().isEmpty && !BundleSource(bundleID: "").problems().isEmpty)
    }

    @Test("Recorded with the filing and each revision (a revision without one has none); a bad one refused with input.source")
    func recorded() throws {
        var w = try World()
        let built = BundleSource(system: "gitlab", runURL: "https://gitlab.example/p/-/pipelines/1", commit: "abcdef12", ref: "main")
        let events = try w.ok(
            .fileRequest(project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.digest, description: "", source: built), as: Cast.requester.name)
        guard case .requestFiled(let filed)? = events.first else { Issue.record("not filed"); return }
        #expect(filed.source == built && w.request(filed.id).source == built)
        let rebuilt = BundleSource(system: "gitlab", runURL: "https://gitlab.example/p/-/pipelines/2", commit: "abcdef34")
        try w.ok(.revise(request: filed.id, bundle: nil, digest: World.otherDigest, source: rebuilt), as: Cast.requester.name)
        #expect(w.request(filed.id).source == rebuilt)
        try w.ok(.revise(request: filed.id, bundle: nil, digest: World.digest), as: Cast.requester.name)
        #expect(w.request(filed.id).source == nil, "the third revision's bundle has no known source")
        w.refused(
            .fileRequest(
                project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.digest, description: "",
                source: BundleSource(changeURL: "javascript:alert(document.cookie)")),
            as: Cast.requester.name, rule: "input.source")
        // A person filed with no source; the pipeline carrying on says where the bundle came from with its evidence: the
        // first such evidence of the revision gives the request its source, and a later one does not replace it.
        let byPerson = try w.file(env: "prod", digest: SHA256Digest.hash("person's bundle"))
        #expect(w.request(byPerson).source == nil)
        let pipeline = BundleSource(system: "gitlab", runURL: "https://gitlab.example/p/-/pipelines/7", commit: "abcdef99")
        try w.ok(
            .attachEvidence(request: byPerson, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report 1"), source: pipeline), as: Cast.ci.name)
        #expect(w.request(byPerson).source == pipeline && w.request(byPerson).evidence.last?.source == pipeline)
        try w.ok(
            .attachEvidence(
                request: byPerson, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report 2"), source: BundleSource(system: "jenkins")),
            as: Cast.ci.name)
        #expect(w.request(byPerson).source == pipeline)
        w.refused(
            .attachEvidence(request: byPerson, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r3"), source: BundleSource(runURL: "ftp://x")),
            as: Cast.ci.name, rule: "input.source")
        // An empty source is no source.
        let plain = try w.ok(
            .fileRequest(project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.otherDigest, description: "", source: BundleSource()),
            as: Cast.requester.name)
        guard case .requestFiled(let none)? = plain.first else { Issue.record("not filed"); return }
        #expect(none.source == nil)
    }
}
