public import SignoffCrypto

/// An organisation's directory (its identity provider's SCIM client) connected to Signoff: it provisions people and the
/// membership of the groups administrators link to it. Connecting one is a signed administrative change
/// (`directory.connect`, always under the quorum, in every ledger); its token is stored hashed beside the ledger, never
/// in it. What it changes are ledger entries whose actor is `directory:NAME`.
///
/// What a directory may do, unsigned (``Engine/directoryChange(_:state:actor:now:)``): add users without keys (they
/// decide nothing until a key is enrolled by a signed change), disable the users it added (never an administrator or a
/// member of `auditors`), create groups of its own, add the users it added to the groups linked to it and remove
/// members from those groups. It enables a user again only in a ledger without a regulated project, and only one it
/// disabled itself (never one an administrator disabled). It never touches
/// administrators, `auditors`, keys, role bindings or the quorum. A role is bound to a directory's group only by a
/// project change (signed under the quorum in a regulated project), and an existing group is linked to a directory only
/// by `group.link` (under the quorum when a regulated project binds it): both record, signed, that the ledger trusts the
/// directory for that group's membership.
public struct ConnectedDirectory: Hashable, Sendable, Codable {
    public let name: String
    /// The id of its token (the token itself is stored hashed by the server, in the same unit of work).
    public let tokenID: String
    public let connectedBy: String
    public let connectedAt: Int64

    /// The actor of the entries a directory causes.
    public var actor: String { Self.actor(name) }

    public static let actorPrefix = "directory:"

    public static func actor(_ name: String) -> String { actorPrefix + name }

    /// The directory an actor names (`directory:NAME`), if it is one.
    public static func name(ofActor actor: String) -> String? {
        actor.hasPrefix(actorPrefix) ? String(actor.dropFirst(actorPrefix.count)) : nil
    }
}

/// One group membership.
public struct GroupMembership: Hashable, Sendable, Codable {
    public let group: String
    public let member: String

    public init(group: String, member: String) {
        self.group = group
        self.member = member
    }
}

/// What one call of a directory changes, recorded in one unit of work (entries in this order: users added, groups
/// created, members removed, members added, users enabled, users disabled).
public struct DirectoryChange: Hashable, Sendable {
    public var addUsers: [String] = []
    public var createGroups: [String] = []
    public var removeMembers: [GroupMembership] = []
    public var addMembers: [GroupMembership] = []
    public var enable: [String] = []
    public var disable: [String] = []

    public init() {}

    public var isEmpty: Bool {
        addUsers.isEmpty && createGroups.isEmpty && removeMembers.isEmpty && addMembers.isEmpty && enable.isEmpty && disable.isEmpty
    }
}

extension Engine {
    static func connectDirectory(name: String, tokenID: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        try validName(name, what: "a directory name")
        guard state.directories[name] == nil else {
            throw Refusal(.inputDuplicate, "directory \(name) is already connected; disconnect it first to issue a new token")
        }
        return [.directoryConnected(.init(name: name, tokenID: tokenID, approval: approval))]
    }

    static func disconnectDirectory(name: String, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard state.directories[name] != nil else { throw Refusal(.inputUnknown, "no directory \(name) is connected") }
        return [.directoryDisconnected(.init(name: name, approval: approval))]
    }

    /// Links an existing group to a directory (its membership is then the directory's to keep), or unlinks it (nil).
    static func linkGroup(_ group: String, directory: String?, approval: DSSEEnvelope?, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try requireAdministrator(state, actor)
        guard let existing = state.groups[group] else { throw Refusal(.inputUnknown, "no group \(group)") }
        if let directory {
            guard group != Access.auditorsGroup else { throw Refusal(.directoryReach, "auditors is never a directory's group: an administrator keeps it") }
            guard state.directories[directory] != nil else { throw Refusal(.inputUnknown, "no directory \(directory) is connected") }
            guard existing.directory != directory else { throw Refusal(.inputDuplicate, "\(group) is already linked to directory \(directory)") }
        } else {
            guard existing.directory != nil else { throw Refusal(.inputDuplicate, "\(group) is not linked to a directory") }
        }
        return [.groupLinked(.init(group: group, directory: directory, approval: approval))]
    }

    /// A directory's change: each part checked against what a directory may do (``ConnectedDirectory``), on the state
    /// the parts before it leave. All or nothing.
    static func directoryChange(_ change: DirectoryChange, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        guard let name = ConnectedDirectory.name(ofActor: actor), state.directories[name] != nil else {
            throw Refusal(.directoryReach, "only a connected directory makes a directory's change")
        }
        var events: [Event] = []
        var state = state
        func record(_ event: Event) {
            state.apply(event, actor: actor, at: now)
            events.append(event)
        }
        func ownUser(_ user: String) throws -> Principal {
            guard let principal = state.principals[user] else { throw Refusal(.inputUnknown, "no user \(user)") }
            guard principal.directory == name else {
                throw Refusal(.directoryReach, "\(user) was not provisioned by directory \(name): a directory changes only the users it added")
            }
            return principal
        }
        func ownGroup(_ group: String) throws -> Group {
            guard let existing = state.groups[group] else { throw Refusal(.inputUnknown, "no group \(group)") }
            guard existing.directory == name else {
                throw Refusal(
                    .directoryReach,
                    "group \(group) is not linked to directory \(name): an administrator links it with a signed change (signoff group link \(group) --directory \(name))")
            }
            return existing
        }
        for user in change.addUsers {
            try validName(user, what: "a user name")
            guard state.principals[user] == nil, state.groups[user] == nil, user != systemActor else { throw Refusal(.inputDuplicate, "\(user) already exists") }
            record(.principalAdded(.init(name: user, kind: .user, administrator: false, verifierKey: nil, directory: name)))
        }
        for group in change.createGroups {
            try validName(group, what: "a group name")
            guard group != Access.auditorsGroup else { throw Refusal(.directoryReach, "auditors is never a directory's group") }
            guard state.groups[group] == nil, state.principals[group] == nil else { throw Refusal(.inputDuplicate, "\(group) already exists") }
            record(.groupCreated(.init(name: group, directory: name)))
        }
        for membership in change.removeMembers {
            let group = try ownGroup(membership.group)
            guard group.members.contains(membership.member) else { throw Refusal(.inputUnknown, "\(membership.member) is not in \(membership.group)") }
            record(.memberRemoved(.init(group: membership.group, member: membership.member)))
        }
        for membership in change.addMembers {
            let group = try ownGroup(membership.group)
            _ = try ownUser(membership.member)
            guard !group.members.contains(membership.member) else { throw Refusal(.inputDuplicate, "\(membership.member) is already in \(membership.group)") }
            record(.memberAdded(.init(group: membership.group, member: membership.member)))
        }
        for user in change.enable {
            let principal = try ownUser(user)
            guard principal.disabled else { throw Refusal(.inputDuplicate, "\(user) is already enabled") }
            guard principal.disabledBy == actor else {
                throw Refusal(.directoryReach, "\(user) was disabled by \(principal.disabledBy ?? "an administrator"), not by this directory: only an administrator enables them again")
            }
            guard !hasRegulatedProject(state) else {
                throw Refusal(
                    .directoryReach,
                    "a directory never enables a user again in a ledger with a regulated project: an administrator does, signed (signoff user enable \(user) --key …)")
            }
            record(.principalEnabled(.init(principal: user)))
        }
        for user in change.disable {
            let principal = try ownUser(user)
            guard !principal.isAdministrator, !state.isMember(user, of: Access.auditorsGroup) else {
                throw Refusal(.directoryReach, "a directory never disables an administrator or an auditor: an administrator does")
            }
            guard !principal.disabled else { throw Refusal(.inputDuplicate, "\(user) is already disabled") }
            record(.principalDisabled(.init(principal: user)))
        }
        return events
    }
}
