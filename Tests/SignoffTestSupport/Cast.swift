public import Foundation

/// One person (or service account) of the shared cast: a name, the part they play and the groups they belong to.
public struct CastMember: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Created by bootstrapping the ledger, not by `addUser`.
        case administrator
        case user
        case serviceAccount
    }

    public let name: String
    /// What they are for in a test, in words.
    public let role: String
    public let kind: Kind
    /// The groups the fixtures put them in.
    public let groups: [String]

    public var description: String { name }
}

/// The people, groups, projects and workflows every test world is built from — the in-process engine (Core),
/// the engine on SQLite (Store), the HTTP API (Server) and the `signoff` binary (CLI) — so that the names are
/// defined once. A fixture takes the members it needs; a test may still add people of its own.
public enum Cast {
    /// Group names.
    public enum Group {
        public static let ci = "ci"
        public static let compliance = "compliance"
        public static let releaseManagers = "release-managers"
        /// The project's deployers (workflows say `actors: [deployers]`, which means the project's deployers).
        public static let deployers = "churn-deployers"
        public static let dataScience = "data-science"
        /// The platform team: reviews changes to shared connections and plugins.
        public static let platform = "platform"
        /// Every group the cast belongs to, in the order fixtures create them.
        public static let all = [ci, compliance, releaseManagers, deployers, dataScience, platform]
    }

    public static let administrator = CastMember(name: "ada", role: "administrator", kind: .administrator, groups: [])
    public static let requester = CastMember(name: "riley", role: "requester (data science)", kind: .user, groups: [Group.dataScience])
    public static let ci = CastMember(name: "ci-bot", role: "CI service account", kind: .serviceAccount, groups: [Group.ci])
    public static let complianceOfficer = CastMember(name: "casey", role: "compliance officer", kind: .user, groups: [Group.compliance])
    public static let releaseManager = CastMember(name: "morgan", role: "release manager", kind: .user, groups: [Group.releaseManagers])
    public static let secondReleaseManager = CastMember(name: "sam", role: "second release manager", kind: .user, groups: [Group.releaseManagers])
    /// In compliance and among the release managers: the separation-of-duties cases.
    public static let complianceReleaseManager = CastMember(
        name: "pat", role: "compliance officer who is also a release manager", kind: .user, groups: [Group.compliance, Group.releaseManagers])
    public static let deployer = CastMember(name: "dana", role: "deployer", kind: .user, groups: [Group.deployers])
    public static let platformEngineer = CastMember(name: "quinn", role: "platform engineer (shared objects)", kind: .user, groups: [Group.platform])
    /// A user with no group and no part in any project.
    public static let outsider = CastMember(name: "eve", role: "outsider", kind: .user, groups: [])

    /// Everyone, the administrator first.
    public static let everyone: [CastMember] = [
        administrator, ci, requester, complianceOfficer, complianceReleaseManager, releaseManager, secondReleaseManager, deployer, platformEngineer, outsider,
    ]

    public static func member(named name: String) -> CastMember? { everyone.first { $0.name == name } }

    /// (group, member) pairs for `members`, in order: what a fixture adds after creating the groups.
    public static func memberships(_ members: [CastMember]) -> [(group: String, member: String)] {
        members.flatMap { member in member.groups.map { (group: $0, member: member.name) } }
    }

    // MARK: Projects and workflows

    /// The project the stories are about.
    public static let project = "churn-model"
    /// A second project, for what must not leak from one project to another.
    public static let otherProject = "fraud-model"
    /// Environment → workflow name of ``project``.
    public static let environments: [String: String] = ["qa": "standard", "prod": "regulated"]
    /// The workflows shipped in `workflows/`.
    public static let workflowNames = ["standard", "regulated"]
    /// The role bindings of ``project``: every role the shipped workflows name, bound to the cast's groups.
    public static let roles: [String: [String]] = [
        "requesters": [Group.dataScience], "ci": [Group.ci], "compliance": [Group.compliance], "approvers": [Group.releaseManagers],
        "platform": [Group.platform], "deployers": [Group.deployers],
    ]
    /// A second team on the same shared workflows: its own requesters, leads and deployers; CI, compliance and the
    /// platform team are shared with the first. (name, group) of each person, and the team's project bindings.
    public enum TeamB {
        public static let project = "team-b"
        public static let groups = ["b-team", "b-leads", "b-deployers"]
        public static let people: [(name: String, group: String)] = [("bea", "b-team"), ("bo", "b-leads"), ("bill", "b-deployers")]
        public static let roles: [String: [String]] = Cast.roles.merging(
            ["requesters": ["b-team"], "approvers": ["b-leads"], "deployers": ["b-deployers"]]) { $1 }
    }

    /// ``roles`` as the values of `signoff project create --role`: `ROLE=GROUP[,GROUP]`, sorted.
    public static let roleArguments: [String] = roles.keys.sorted().map { "\($0)=\(roles[$0]!.joined(separator: ","))" }

    /// `workflows/<name>.yaml`.
    public static func workflowURL(_ name: String) -> URL {
        TestSupport.projectRoot.appendingPathComponent("workflows/\(name).yaml")
    }

    /// The text of a shipped workflow.
    public static func workflowSource(_ name: String) throws -> String {
        try String(contentsOf: workflowURL(name), encoding: .utf8)
    }
}
