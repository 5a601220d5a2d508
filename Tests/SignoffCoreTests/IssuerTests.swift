import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 28: trusting an OpenID Connect issuer is a signed administrative change; the claims of its ID tokens name a
/// person or match a pipeline rule by the rules here (pure), and a pipeline's verified claims become the bundle's source.
@Suite("Trusted issuers (pure)")
struct IssuerTests {
    static let github = IssuerSpec(
        name: "github", url: "https://token.actions.githubusercontent.com", audience: "https://signoff.example.com", uses: [.pipelines],
        pipelines: [
            PipelineRule(claims: ["repository": "acme/churn-model", "ref": "refs/heads/main"], serviceAccount: Cast.ci.name, scopes: ["request:churn-model", "gate:churn-model"]),
            PipelineRule(claims: ["repository": "acme/churn-model", "ref": "refs/tags/v*"], serviceAccount: Cast.ci.name, scopes: ["deploy:churn-model"]),
        ])
    static let corp = IssuerSpec(
        name: "corp-sso", url: "https://login.example.com", audience: "signoff-console", uses: [.people], personClaim: .email, emailDomain: "example.com")

    @Test("Trusting is signed in every ledger, by an administrator; distrusting is plain; the state holds the spec")
    func trustIsSigned() throws {
        var w = try World()
        w.refused(.trustIssuer(Self.github), as: Cast.administrator.name, rule: "admin.signature-required")
        w.refused(.trustIssuer(Self.github), as: Cast.requester.name, rule: "admin.required")
        try w.admin(.trustIssuer(Self.github))
        #expect(w.state.issuers["github"]?.spec == Self.github)
        // Trusting again under the same name replaces it; another name for the same URL is refused.
        try w.admin(.trustIssuer(Self.corp))
        let clash = IssuerSpec(name: "other", url: Self.corp.url, audience: "x", uses: [.people], personClaim: .sub)
        w.refused(w.signedByAdmin(.trustIssuer(clash)), as: Cast.administrator.name, rule: "input.duplicate")
        w.refused(.distrustIssuer(name: "github"), as: Cast.requester.name, rule: "admin.required")
        try w.ok(w.signedByAdmin(.distrustIssuer(name: "github")), as: Cast.administrator.name)
        #expect(w.state.issuers["github"] == nil)
        w.refused(w.signedByAdmin(.distrustIssuer(name: "github")), as: Cast.administrator.name, rule: "input.unknown")
        // The change administrators sign carries the whole spec.
        let change = try #require(Command.trustIssuer(Self.corp).adminChange)
        #expect(change.issuer == Self.corp && change.action == "issuer.trust")
        #expect(AdminAction.issuerTrust.rule.quorum == .always && AdminAction.issuerDistrust.rule.quorum == .never)
    }

    @Test("Trusting an issuer needs admin_quorum administrators' signatures, in a ledger with no regulated project too; distrusting needs one")
    func trustUnderQuorum() throws {
        var w = try AdministrationTests.quorumWorld()
        let ada = Cast.administrator.name, bob = AdministrationTests.bob
        w.refused(AdministrationTests.signed(w, .trustIssuer(Self.github), by: [ada]), as: ada, rule: "admin.quorum")
        w.refused(AdministrationTests.signed(w, .trustIssuer(Self.github), by: [ada, ada]), as: ada, rule: "admin.quorum")
        try w.ok(AdministrationTests.signed(w, .trustIssuer(Self.github), by: [ada, bob]), as: ada)
        try w.ok(AdministrationTests.signed(w, .distrustIssuer(name: "github"), by: [ada]), as: ada)
        #expect(w.state.issuers.isEmpty)
    }

    @Test("Refused specs: each with its reason", arguments: [
        ("plain http to a public host", IssuerSpec(name: "x", url: "http://login.example.com", audience: "a", uses: [.people], personClaim: .sub)),
        ("a query in the URL", IssuerSpec(name: "x", url: "https://login.example.com/?a=b", audience: "a", uses: [.people], personClaim: .sub)),
        ("no use", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [])),
        ("people without a claim", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.people])),
        ("email without a domain", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.people], personClaim: .email)),
        ("pipelines without rules", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines])),
        ("a rule with no claim", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: [:], serviceAccount: Cast.ci.name, scopes: ["gate:churn-model"])])),
        ("a rule of prefixes only", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["repository": "acme/*"], serviceAccount: Cast.ci.name, scopes: ["gate:churn-model"])])),
        ("a repository prefix inside a name", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["repository": "acme/churn-model*", "ref": "refs/heads/main"], serviceAccount: Cast.ci.name, scopes: ["gate:churn-model"])])),
        ("a wildcard alone", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["repository": "acme/x", "ref": "*"], serviceAccount: Cast.ci.name, scopes: ["gate:churn-model"])])),
        ("a rule on aud", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["aud": "a"], serviceAccount: Cast.ci.name, scopes: ["gate:churn-model"])])),
        ("a person as the account", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["repository": "acme/x"], serviceAccount: Cast.requester.name, scopes: ["gate:churn-model"])])),
        ("an unknown project's scope", IssuerSpec(name: "x", url: "https://login.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["repository": "acme/x"], serviceAccount: Cast.ci.name, scopes: ["gate:nope"])])),
    ])
    func refusedSpecs(_ reason: String, _ spec: IssuerSpec) throws {
        var w = try World()
        let result = w.run(w.signedByAdmin(.trustIssuer(spec)), as: Cast.administrator.name)
        guard case .failure(let refusal) = result else { Issue.record("accepted: \(reason)"); return }
        #expect(["input.text", "input.unknown"].contains(refusal.code.name), "\(reason): \(refusal)")
    }

    @Test("A person: the claim names a user; email only at the domain and verified; a name Signoff could not have is refused")
    func people() throws {
        #expect(try Self.corp.person(from: ["email": "riley@example.com"]).get() == "riley")
        #expect(try Self.corp.person(from: ["email": "riley@EXAMPLE.com", "email_verified": "true"]).get() == "riley")
        for claims in [["email": "riley@evil.example"], ["email": "riley@example.com", "email_verified": "false"], ["email": "Riley Smith@example.com"],
            ["email": "riley@example.com@example.com"], ["sub": "riley"]]
        {
            guard case .failure = Self.corp.person(from: claims) else { Issue.record("accepted \(claims)"); continue }
        }
        let bySub = IssuerSpec(name: "mock", url: "http://127.0.0.1:9400", audience: "c", uses: [.people], personClaim: .sub)
        #expect(try bySub.person(from: ["sub": "riley"]).get() == "riley")
        guard case .failure = Self.github.person(from: ["sub": "riley"]) else { Issue.record("a pipelines-only issuer signed a person in"); return }
    }

    @Test("Pipeline rules: all claims match, exactly or by a final-* prefix; a fork, another ref or a missing claim matches none")
    func rules() throws {
        let main = ["repository": "acme/churn-model", "ref": "refs/heads/main", "sha": "abc"]
        #expect(try Self.github.pipelineRule(for: main).get().scopes == ["gate:churn-model", "request:churn-model"])
        #expect(try Self.github.pipelineRule(for: ["repository": "acme/churn-model", "ref": "refs/tags/v1.2"]).get().scopes == ["deploy:churn-model"])
        for claims in [["repository": "mallory/churn-model", "ref": "refs/heads/main"], ["repository": "acme/churn-model", "ref": "refs/heads/feature"],
            ["repository": "acme/churn-model"], ["repository": "acme/churn-model-fork", "ref": "refs/heads/main"]]
        {
            guard case .failure = Self.github.pipelineRule(for: claims) else { Issue.record("matched \(claims)"); continue }
        }
        guard case .failure = Self.corp.pipelineRule(for: main) else { Issue.record("a people-only issuer vouched for a pipeline"); return }
    }

    @Test("A pipeline's claims become the bundle's source, verified_by the issuer; a declaration that disagrees is refused")
    func sources() throws {
        let github = BundleSource.fromClaims(
            ["repository": "acme/churn-model", "run_id": "42", "sha": "0123456789abcdef", "ref": "refs/heads/main", "actor": "riley-gh"], issuer: Self.github)
        #expect(github.system == "github-actions" && github.runURL == "https://github.com/acme/churn-model/actions/runs/42")
        #expect(github.commit == "0123456789abcdef" && github.ref == "refs/heads/main" && github.triggeredBy == "riley-gh" && github.verifiedBy == "github")
        #expect(github.problems().isEmpty)
        let gitlabIssuer = IssuerSpec(name: "gitlab", url: "https://gitlab.example.com", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["project_path": "acme/x"], serviceAccount: "ci-bot", scopes: ["gate:*"])])
        let gitlab = BundleSource.fromClaims(["project_path": "acme/x", "pipeline_id": "7", "sha": "fedcba9876543210", "user_login": "sam"], issuer: gitlabIssuer)
        #expect(gitlab.runURL == "https://gitlab.example.com/acme/x/-/pipelines/7" && gitlab.triggeredBy == "sam" && gitlab.system == "gitlab")
        // A claim the source's rules refuse is left out, not carried in another shape.
        let odd = BundleSource.fromClaims(["repository": "acme/x", "run_id": "1", "sha": "not-hex"], issuer: Self.github)
        #expect(odd.commit == nil && odd.commitURL != nil)
        // GitHub-shaped claims from another issuer: no links to github.com (where its runs are is not known).
        let elsewhere = IssuerSpec(name: "other", url: "https://ci.example", audience: "a", uses: [.pipelines],
            pipelines: [PipelineRule(claims: ["repository": "acme/x"], serviceAccount: "ci-bot", scopes: ["gate:*"])])
        let unlinked = BundleSource.fromClaims(["repository": "acme/x", "run_id": "1", "sha": "0123456789abcdef"], issuer: elsewhere)
        #expect(unlinked.runURL == nil && unlinked.commitURL == nil && unlinked.commit == "0123456789abcdef")
        // The declared source keeps what the token does not cover; a field both give must agree.
        let declared = BundleSource(changeURL: "https://github.com/acme/churn-model/pull/9")
        let merged = try declared.merged(withVerified: github).get()
        #expect(merged.changeURL == declared.changeURL && merged.commit == github.commit && merged.verifiedBy == "github")
        // A field the token speaks for is the token's only: a declared one it lacks is dropped, not shown as verified.
        let lacking = BundleSource.fromClaims(["repository": "acme/churn-model", "run_id": "42", "sha": "0123456789abcdef"], issuer: Self.github)
        let declaredRef = try BundleSource(ref: "refs/heads/release", triggeredBy: "someone").merged(withVerified: lacking).get()
        #expect(declaredRef.ref == nil && declaredRef.triggeredBy == nil && declaredRef.verifiedBy == "github")
        guard case .failure = BundleSource(commit: "1111111111111111").merged(withVerified: github) else {
            Issue.record("a declared commit that is not the token's was accepted"); return
        }
    }

    @Test("Issuer files: YAML or JSON; unknown fields refused, not ignored")
    func files() throws {
        let yaml = """
            name: github
            url: https://token.actions.githubusercontent.com
            audience: https://signoff.example.com
            uses: [pipelines]
            pipelines:
              - claims: {repository: acme/churn-model, ref: refs/heads/main}
                service_account: ci-bot
                scopes: [request:churn-model, gate:churn-model]
              - claims: {repository: acme/churn-model, ref: "refs/tags/v*"}
                service_account: ci-bot
                scopes: [deploy:churn-model]
            """
        #expect(try IssuerSpec.parse(yaml, file: "github.yaml") == Self.github)
        let json = String(decoding: try JSONEncoder().encode(Self.corp), as: UTF8.self)
        #expect(try IssuerSpec.parse(json, file: "corp.json") == Self.corp)
        #expect(throws: Refusal.self) { try IssuerSpec.parse(yaml + "\npipeline: []\n", file: "typo.yaml") }
        #expect(throws: Refusal.self) { try IssuerSpec.parse(yaml.replacingOccurrences(of: "service_account", with: "account"), file: "typo.yaml") }
    }
}
