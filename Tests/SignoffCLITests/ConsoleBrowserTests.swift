import Foundation
import SignoffTestSupport
import Testing

/// Issue 16 in a real browser: headless Chromium (WebCrypto Ed25519 keys, IndexedDB) driven by Selenium through
/// `Tests/console/browser_story.py` against a local `signoff serve` — key set-up, enrolment with the CLI, login by a
/// signed challenge, inbox, request page, a browser-signed approval, the dashboard after a deployment, logout; then
/// the offline export verification shows the decision signed by the browser's key. Accessibility basics on every page.
@Suite("Web console in a real browser", .serialized)
struct ConsoleBrowserTests {
    @Test("A person with only a browser approves a regulated deployment with a signature an auditor verifies offline")
    func browserStory() async throws {
        try await Self.story("browser_story.py", passes: "PASS console")
    }

    /// Issue 28: the console's single sign-on against a real OpenID provider on loopback.
    @Test("Single sign-on with a real OpenID provider (oidc-provider-mock): sign in, set up a key, a browser-signed approval, logout; each refusal with its reason")
    func singleSignOn() async throws {
        try await Self.story("sso_story.py", passes: "PASS sso")
    }

    /// Runs `Tests/console/SCRIPT` on a copy of the binary alone, as a deployment copies it (the console is compiled in,
    /// nothing beside it is needed), and expects its PASS line.
    static func story(_ script: String, in folder: String = "Tests/console", passes: String) async throws {
        let workdir = try TestSupport.temporaryDirectory("signoff-browser")
        defer { try? FileManager.default.removeItem(at: workdir) }
        let binary = workdir.appendingPathComponent("bin/signoff")
        try FileManager.default.createDirectory(at: binary.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Copied by `cp`, not in this process: a child another test spawns meanwhile would inherit our descriptor open for
        // writing, and executing the copy would fail with "Text file busy" (ETXTBSY).
        let copied = try await TestSupport.run("/bin/cp", [try TestSupport.signoffExecutable, binary.path])
        try #require(copied.status == 0, "cp: \(copied.stderr)")
        let result = try await TestSupport.run(
            "/usr/bin/env",
            [
                "python3", TestSupport.projectRoot.appendingPathComponent(folder).appendingPathComponent(script).path, "--signoff", binary.path,
                "--workdir", workdir.appendingPathComponent("story").path,
            ], deadline: .seconds(600))
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(passes), "\(result.stdout)")
    }
}

@Suite("Self-enrolment with the CLI", .serialized)
struct SelfEnrolmentCLITests {
    @Test("enroll-key NAME --key MINE adds a key of one's own (flagged, untrusted), locally and through the server; the replay agrees")
    func selfEnrolment() async throws {
        let s = try await Story()
        defer { s.remove() }
        try await s.must("key", "generate", "--name", "casey", "--out", "casey-browser.key")
        let own = try await s.signoff(["user", "enroll-key", "casey", "--key-file", "casey-browser.key.pub", "--key", "casey.key", "--as", "casey"])
        #expect(own.status == 0 && own.stdout.contains("self-enrolled"), "\(own.stdout) \(own.stderr)")
        // Not for someone else, and not without a key of one's own.
        try await s.must("key", "generate", "--name", "morgan", "--out", "morgan-2.key")
        let other = try await s.signoff(["user", "enroll-key", "morgan", "--key-file", "morgan-2.key.pub", "--key", "casey.key", "--as", "casey", "--self"])
        #expect(other.status == 64, "\(other.stderr)")
        let unproven = try await s.signoff(["user", "enroll-key", "morgan", "--key-file", "morgan-2.key.pub", "--as", "morgan"])
        #expect(unproven.status == 64 && unproven.stderr.contains("--key"), "\(unproven.stderr)")
        // Through the server, logged in with the old key.
        let server = try await RunningServer.start(story: s)
        defer { server.stop() }
        #expect(try await s.signoff(["login", "--server", server.url.absoluteString, "--as", "morgan", "--key", "morgan.key", "--token-file", "morgan.token"]).status == 0)
        let remote = try await s.signoff(["user", "enroll-key", "morgan", "--key-file", "morgan-2.key.pub", "--key", "morgan.key", "--as", "morgan", "--server", server.url.absoluteString, "--token-file", "morgan.token"])
        #expect(remote.status == 0, "\(remote.stderr)")
        let shown = try await s.must("user", "show", "casey", "--json", "--as", "ada")
        #expect(shown.contains("\"self_enrolled\":true") && shown.contains("\"self_enrolled\":false"), "\(shown)")
        server.stop()  // it signs a last checkpoint over what it appended
        let verified = try await s.signoff("audit", "verify", "--db", s.env["SIGNOFF_DB"]!)
        #expect(verified.status == 0, "the projection replays the self-enrolments: \(verified.stdout) \(verified.stderr)")
    }
}
