/// Every administrative change, by the name administrators sign (``AdminChange/action``). The catalogue is closed: each
/// command that changes administration names one (``Command/adminChange`` is an exhaustive switch), each action has its
/// row in ``AdministrativeChangeRule`` (another exhaustive switch), and README's security model lists the rows (a test
/// keeps the two equal).
public enum AdminAction: String, CaseIterable, Hashable, Sendable {
    case userAdd = "user.add"
    case serviceAccountAdd = "service-account.add"
    case keyEnroll = "key.enroll"
    case keyRevoke = "key.revoke"
    case principalDisable = "principal.disable"
    case principalEnable = "principal.enable"
    case groupCreate = "group.create"
    case groupAddMember = "group.add-member"
    case groupRemoveMember = "group.remove-member"
    case workflowApply = "workflow.apply"
    case projectCreate = "project.create"
    case projectUpdate = "project.update"
    case adminQuorum = "admin.quorum"
    case tokenIssue = "token.issue"
    case tokenRevoke = "token.revoke"
    case delegationRevoke = "delegation.revoke"
    case requestWithdraw = "request.withdraw"
    case freezeAdd = "freeze.add"
    case freezeLift = "freeze.lift"
    case freezeExempt = "freeze.exempt"
    case webhookAdd = "webhook.add"
    case webhookRemove = "webhook.remove"
    case issuerTrust = "issuer.trust"
    case issuerDistrust = "issuer.distrust"
    case directoryConnect = "directory.connect"
    case directoryDisconnect = "directory.disconnect"
    case groupLink = "group.link"
    case groupUnlink = "group.unlink"

    /// Who may make this change, whether it is signed and when `admin_quorum` administrators must sign it.
    public var rule: AdministrativeChangeRule {
        switch self {
        case .userAdd:
            .init(self, "signoff user add", .administrator, .whenReliedOn, "the new user is an administrator")
        case .serviceAccountAdd:
            .init(self, "signoff service-account add", .administrator, .never, "it has no authority until a group binds it")
        case .keyEnroll:
            .init(self, "signoff user enroll-key", .administrator, .whenReliedOn, "the key's owner is an administrator or in a group a regulated project binds")
        case .keyRevoke:
            .init(
                self, "signoff user revoke-key", .administratorOrKeyOwner, .whenReliedOn,
                "the key is an administrator's, or an administrator marks it compromised (--compromised-since: it takes back what the key signed)")
        case .principalDisable:
            .init(self, "signoff user disable", .administrator, .whenReliedOn, "the principal is an administrator (fewer could sign)")
        case .principalEnable:
            .init(self, "signoff user enable", .administrator, .whenReliedOn, "the principal is an administrator or in a group a regulated project binds")
        case .groupCreate:
            .init(self, "signoff group add", .administrator, .never, "a new group binds nothing")
        case .groupAddMember:
            .init(self, "signoff group add-member", .administratorOrProjectAdministrator, .whenReliedOn, "a regulated project binds the group, or it is auditors")
        case .groupRemoveMember:
            .init(self, "signoff group remove-member", .administratorOrProjectAdministrator, .never, "it only takes authority away")
        case .workflowApply:
            .init(self, "signoff workflow apply", .administrator, .whenReliedOn, "a regulated project uses the workflow")
        case .projectCreate:
            .init(self, "signoff project create", .administrator, .whenReliedOn, "the project is regulated")
        case .projectUpdate:
            .init(self, "signoff project update", .administrator, .whenReliedOn, "the project is regulated")
        case .adminQuorum:
            .init(self, "signoff admin-quorum", .administrator, .always, "always")
        case .tokenIssue:
            .init(self, "signoff token create", .administrator, .whenReliedOn, "a regulated project binds a group the service account is in")
        case .tokenRevoke:
            .init(self, "signoff token revoke", .administratorUnlessOwner, .never, "it only takes authority away")
        case .delegationRevoke:
            .init(self, "signoff delegate revoke", .ownerOrProjectAdministrator, .never, "it only takes authority away")
        case .requestWithdraw:
            .init(self, "signoff withdraw", .administratorUnlessOwner, .never, "it only takes authority away")
        case .freezeAdd:
            .init(self, "signoff freeze add", .administratorOrProjectAdministrator, .whenReliedOn, "the freeze covers a regulated project (its own, or every project's environment)")
        case .freezeLift:
            .init(self, "signoff freeze lift", .administratorOrProjectAdministrator, .whenReliedOn, "the freeze covers a regulated project")
        case .freezeExempt:
            .init(
                self, "signoff freeze exempt", .administratorOrProjectAdministrator, .whenReliedOn,
                "the freeze covers a regulated project (as lifting it: one request through, nothing else)")
        case .webhookAdd:
            .init(self, "signoff webhook add", .administratorOrProjectAdministrator, .whenReliedOn, "the subscription is organisation-wide or for a regulated project")
        case .webhookRemove:
            .init(self, "signoff webhook remove", .administratorOrProjectAdministrator, .whenReliedOn, "the subscription is organisation-wide or for a regulated project (it silences that trail's live feed)")
        case .issuerTrust:
            .init(self, "signoff issuer trust", .administrator, .always, "always (an issuer signs people in and vouches for pipelines; signed in every ledger)")
        case .issuerDistrust:
            .init(self, "signoff issuer distrust", .administrator, .never, "it only takes authority away")
        case .directoryConnect:
            .init(self, "signoff directory connect", .administrator, .always, "always (a directory adds and disables people; signed in every ledger)")
        case .directoryDisconnect:
            .init(self, "signoff directory disconnect", .administrator, .never, "it only takes authority away")
        case .groupLink:
            .init(self, "signoff group link", .administrator, .whenReliedOn, "a regulated project binds the group (the directory then keeps who is in it)")
        case .groupUnlink:
            .init(self, "signoff group unlink", .administrator, .never, "it only takes authority away")
        }
    }
}

extension AdminAction {
    /// What a connected directory may do of this kind of change, unsigned, as `directory:NAME`
    /// (``Engine/directoryChange(_:state:actor:now:)``); nil: never.
    public var directoryReach: String? {
        switch self {
        case .userAdd: "users without keys, never administrators"
        case .principalDisable: "the users it added, never an administrator or an auditor"
        case .principalEnable: "the users it added, only in a ledger without a regulated project"
        case .groupCreate: "groups of its own (linked to it)"
        case .groupAddMember: "the users it added, to the groups linked to it"
        case .groupRemoveMember: "anyone, from the groups linked to it"
        default: nil
        }
    }
}

/// One row of the catalogue of administrative changes.
public struct AdministrativeChangeRule: Hashable, Sendable {
    /// Who may make the change.
    public enum Maker: String, Hashable, Sendable {
        /// An enabled administrator.
        case administrator = "an administrator"
        /// An administrator, or the key's owner for their own key (a person who is not an administrator: plainly with a
        /// session; marking it compromised signed by another current key of theirs, never the key marked).
        case administratorOrKeyOwner = "an administrator; its owner (not an administrator) for their own key"
        /// Its owner (the request's requester, who gave the delegation, whose token it is) without administration;
        /// anyone else only as an administrator.
        case administratorUnlessOwner = "its owner; anyone else only as an administrator"
        /// An administrator, or an administrator of the project the change concerns (``ProjectAdministration``).
        case administratorOrProjectAdministrator = "an administrator; a project administrator for their project's own"
        /// Its owner; anyone else as an administrator, or an administrator of the project it is for.
        case ownerOrProjectAdministrator = "its owner; anyone else as an administrator or an administrator of its project"
    }

    /// When `admin_quorum` distinct administrators must sign.
    public enum Quorum: String, Hashable, Sendable {
        /// Never: the change grants nothing a regulated project relies on (it only takes authority away, or binds nothing).
        case never
        /// Always.
        case always
        /// When it touches what a regulated project relies on, as ``AdministrativeChangeRule/when`` says.
        case whenReliedOn = "when"
    }

    public let action: AdminAction
    /// The CLI verb that makes it.
    public let command: String
    public let maker: Maker
    public let quorum: Quorum
    /// When the quorum applies, in words (for ``Quorum/never``: why it never does).
    public let when: String

    init(_ action: AdminAction, _ command: String, _ maker: Maker, _ quorum: Quorum, _ when: String) {
        self.action = action
        self.command = command
        self.maker = maker
        self.quorum = quorum
        self.when = when
    }

    /// Every row, in catalogue order.
    public static var all: [AdministrativeChangeRule] { AdminAction.allCases.map(\.rule) }

    /// The catalogue as the Markdown table README's security model shows (a test keeps README equal to it).
    public static var markdownTable: String {
        var lines = [
            "| change | CLI | who may make it | `admin_quorum` administrators sign | a connected directory, unsigned |",
            "|---|---|---|---|---|",
        ]
        for rule in all {
            let quorum: String
            switch rule.quorum {
            case .never: quorum = "never (\(rule.when))"
            case .always: quorum = "always"
            case .whenReliedOn: quorum = "when \(rule.when)"
            }
            lines.append("| `\(rule.action.rawValue)` | `\(rule.command)` | \(rule.maker.rawValue) | \(quorum) | \(rule.action.directoryReach ?? "never") |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Command {
    /// The administrative change this command makes, when it can make one.
    public var adminAction: AdminAction? { adminChange.flatMap { AdminAction(rawValue: $0.action) } }
}
