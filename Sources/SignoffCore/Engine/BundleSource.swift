/// Where a bundle came from, as the CI that built it says: the run, the commit, the ref, the merge or pull request and
/// the platform's own bundle id — links an approver follows beside the bundle. Recorded on `request.filed` and
/// `request.revised` (`source`), shown by the console as links; never evaluated by the policy. Every field is optional;
/// a source with none is no source.
public struct BundleSource: Hashable, Sendable, Codable {
    /// The platform, a name: `github-actions`, `gitlab`, `jenkins`, `dataiku`, or another.
    public var system: String?
    /// The pipeline run that built or is deploying the bundle (an http or https URL).
    public var runURL: String?
    /// The commit built: 7–64 lowercase hex digits.
    public var commit: String?
    /// The commit's page (an http or https URL).
    public var commitURL: String?
    /// The branch or tag: one line of printable text, at most 255 bytes.
    public var ref: String?
    /// The merge or pull request the change came through (an http or https URL).
    public var changeURL: String?
    /// The platform's id of the bundle (Dataiku's bundle id): one line, at most 255 bytes.
    public var bundleID: String?
    /// Who started the run, as the CI platform's ID token says (GitHub's `actor`, GitLab's `user_login`): one line.
    public var triggeredBy: String?
    /// The trusted issuer (a name) whose verified ID token gave the fields it covers; set by the server only, never
    /// declared (a declared one is refused).
    public var verifiedBy: String?

    enum CodingKeys: String, CodingKey {
        case system, commit, ref
        case runURL = "run_url"
        case commitURL = "commit_url"
        case changeURL = "change_url"
        case bundleID = "bundle_id"
        case triggeredBy = "triggered_by"
        case verifiedBy = "verified_by"
    }

    public init(
        system: String? = nil, runURL: String? = nil, commit: String? = nil, commitURL: String? = nil, ref: String? = nil, changeURL: String? = nil,
        bundleID: String? = nil, triggeredBy: String? = nil, verifiedBy: String? = nil
    ) {
        self.triggeredBy = triggeredBy
        self.verifiedBy = verifiedBy
        self.system = system
        self.runURL = runURL
        self.commit = commit
        self.commitURL = commitURL
        self.ref = ref
        self.changeURL = changeURL
        self.bundleID = bundleID
    }

    /// The field names as they are written (`run_url`, …), for `KEY=VALUE` input.
    public static let fieldNames = ["system", "run_url", "commit", "commit_url", "ref", "change_url", "bundle_id", "triggered_by"]

    /// Whether no field is set.
    public var isEmpty: Bool { self == BundleSource() }

    /// Sets (nil: clears) the field written `name` (one of ``fieldNames``); false for an unknown name.
    public mutating func set(_ name: String, _ value: String?) -> Bool {
        switch name {
        case "system": system = value
        case "run_url": runURL = value
        case "commit": commit = value
        case "commit_url": commitURL = value
        case "ref": ref = value
        case "change_url": changeURL = value
        case "bundle_id": bundleID = value
        case "triggered_by": triggeredBy = value
        default: return false
        }
        return true
    }

    /// The field written `name`: one of ``fieldNames``, `triggered_by` or `verified_by`.
    public func value(of name: String) -> String? {
        switch name {
        case "system": system
        case "run_url": runURL
        case "commit": commit
        case "commit_url": commitURL
        case "ref": ref
        case "change_url": changeURL
        case "bundle_id": bundleID
        case "triggered_by": triggeredBy
        case "verified_by": verifiedBy
        default: nil
        }
    }

    /// What is wrong with the source, field by field (empty when nothing is): URLs are http or https, at most 2048
    /// bytes of visible ASCII with a host; the commit is hex; the system a name; the ref and bundle id one line
    /// (``Engine/validLine(_:what:)``).
    public func problems() -> [String] {
        var problems: [String] = []
        for (name, value) in [("run_url", runURL), ("commit_url", commitURL), ("change_url", changeURL)] {
            if let value, !Self.isLink(value) { problems.append("\(name) must be an http:// or https:// URL of at most 2048 visible ASCII characters") }
        }
        if let commit, !(7...64).contains(commit.utf8.count) || !commit.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) {
            problems.append("commit must be 7–64 lowercase hex digits")
        }
        if let system, !Engine.isValidName(system) { problems.append("system must be a name (a-z 0-9 . _ -)") }
        if let verifiedBy, !Engine.isValidName(verifiedBy) { problems.append("verified_by must be a name (a-z 0-9 . _ -)") }
        for (name, value) in [("ref", ref), ("bundle_id", bundleID), ("triggered_by", triggeredBy)] {
            // The engine's rule for one-line fields (no control, invisible or bidi characters, no blank at either end).
            if let value, value.isEmpty || value.utf8.count > 255 || (try? Engine.validLine(value, what: name)) == nil {
                problems.append("\(name) must be one line of 1–255 bytes of printable text, without blanks at either end")
            }
        }
        return problems
    }

    /// An http or https URL of visible ASCII with a host, which a page may link to.
    public static func isLink(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= 2048, bytes.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x22 && $0 != 0x3C && $0 != 0x3E && $0 != 0x5C && $0 != 0x60 }) else {
            return false
        }
        let lower = text.lowercased()
        for scheme in ["https://", "http://"] where lower.hasPrefix(scheme) {
            let rest = lower.dropFirst(scheme.count)
            let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            return !host.isEmpty && !host.hasPrefix("@") && !host.hasPrefix(":")
        }
        return false
    }

    /// What the CI that runs this process says about the build, from its own variables: GitHub Actions
    /// (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`, `GITHUB_SHA`, `GITHUB_REF_NAME`, `GITHUB_REF` for a pull
    /// request), GitLab CI (`CI_PIPELINE_URL`, `CI_COMMIT_SHA`, `CI_PROJECT_URL`, `CI_COMMIT_REF_NAME`,
    /// `CI_MERGE_REQUEST_IID`), Jenkins (`BUILD_URL`, `GIT_COMMIT`, `GIT_BRANCH`, `CHANGE_URL`). Nil outside a known CI.
    /// Fields whose value would not pass ``problems()`` are left out (and named in `dropped`).
    public static func fromCI(_ environment: [String: String]) -> (source: BundleSource, dropped: [String])? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var source = BundleSource()
        if value("GITHUB_ACTIONS") == "true" {
            source.system = "github-actions"
            let server = value("GITHUB_SERVER_URL") ?? "https://github.com"
            if let repository = value("GITHUB_REPOSITORY") {
                let base = "\(server)/\(repository)"
                if let run = value("GITHUB_RUN_ID") { source.runURL = "\(base)/actions/runs/\(run)" }
                if let sha = value("GITHUB_SHA") { source.commitURL = "\(base)/commit/\(sha)" }
                // A pull request's run is on refs/pull/N/merge.
                if let ref = value("GITHUB_REF"), ref.hasPrefix("refs/pull/"), let number = ref.split(separator: "/").dropFirst(2).first, number.allSatisfy(\.isNumber) {
                    source.changeURL = "\(base)/pull/\(number)"
                }
            }
            source.commit = value("GITHUB_SHA")
            source.ref = value("GITHUB_HEAD_REF") ?? value("GITHUB_REF_NAME") ?? value("GITHUB_REF")
        } else if value("GITLAB_CI") == "true" {
            source.system = "gitlab"
            source.runURL = value("CI_PIPELINE_URL")
            source.commit = value("CI_COMMIT_SHA")
            if let project = value("CI_PROJECT_URL") {
                if let sha = source.commit { source.commitURL = "\(project)/-/commit/\(sha)" }
                if let iid = value("CI_MERGE_REQUEST_IID") { source.changeURL = "\(project)/-/merge_requests/\(iid)" }
            }
            source.ref = value("CI_COMMIT_REF_NAME")
        } else if value("JENKINS_URL") != nil || value("BUILD_URL") != nil {
            source.system = "jenkins"
            source.runURL = value("BUILD_URL")
            source.commit = value("GIT_COMMIT")
            source.ref = value("GIT_BRANCH")
            source.changeURL = value("CHANGE_URL")
        } else {
            return nil
        }
        // What would be refused is left out, not sent: a CI's odd value must not stop a deployment's filing.
        var dropped: [String] = []
        for name in fieldNames {
            var one = BundleSource()
            guard let current = source.field(name) else { continue }
            _ = one.set(name, current)
            if !one.problems().isEmpty {
                dropped.append(name)
                _ = source.set(name, nil)
            }
        }
        return (source, dropped)
    }

    func field(_ name: String) -> String? {
        switch name {
        case "system": system
        case "run_url": runURL
        case "commit": commit
        case "commit_url": commitURL
        case "ref": ref
        case "change_url": changeURL
        case "bundle_id": bundleID
        default: nil
        }
    }
}
