/// A person's handles in the chat apps Signoff posts to: a Slack member ID (`U…` or `W…`) and a Microsoft Teams user
/// (an Entra ID object ID, or a user principal name) — used to mention them where a message names them (who can act
/// next, whom a reminder is for). Not authority and not in the ledger: kept beside it, changed by the person or an
/// administrator (`signoff user set-chat`).
public struct ChatHandles: Hashable, Sendable, Codable {
    public var slack: String?
    public var teams: String?

    public init(slack: String? = nil, teams: String? = nil) {
        self.slack = slack
        self.teams = teams
    }

    public var isEmpty: Bool { slack == nil && teams == nil }

    /// A Slack member ID: `U` or `W` and 2–30 upper-case letters and digits (what `<@…>` mentions).
    public static func isSlackID(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard (3...31).contains(u.count), u[0] == UInt8(ascii: "U") || u[0] == UInt8(ascii: "W") else { return false }
        return u.dropFirst().allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }
    }

    /// A Teams user: an object ID (a UUID, 8-4-4-4-12 hex digits) or a user principal name (`name@domain`, at most 254
    /// visible ASCII characters, no `<`, `>`, `"`, `\` or space) — what an Adaptive Card mention's `mentioned.id` takes.
    public static func isTeamsID(_ text: String) -> Bool {
        let u = Array(text.utf8)
        let hex: (UInt8) -> Bool = { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
        if u.count == 36, [8, 13, 18, 23].allSatisfy({ u[$0] == UInt8(ascii: "-") }),
            u.enumerated().allSatisfy({ [8, 13, 18, 23].contains($0.offset) || hex($0.element) })
        {
            return true
        }
        guard (3...254).contains(u.count), u.allSatisfy({ (0x21...0x7E).contains($0) && !"<>\"\\".utf8.contains($0) }) else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }

    /// Why `actor` may not set `principal`'s handles to these, or nil: a user sets their own, an enabled administrator
    /// anyone's — with a session their key obtained (`keyless`: a single sign-on session has no key behind it and changes
    /// nothing of others unsigned; handles decide whom mentions and reminders reach, and are in no ledger); only users
    /// have handles; each handle is of its app's form.
    public func refusal(principal: String, actor: String, keyless: Bool = false, state: SignoffState) -> Refusal? {
        guard let person = state.principals[principal] else { return Refusal(.inputUnknown, "no user \(principal)") }
        guard person.kind == .user else { return Refusal(.inputText, "\(principal) is a service account: only people have chat handles") }
        let administrator = state.principals[actor].map { $0.isAdministrator && !$0.disabled } ?? false
        guard actor == principal || administrator else {
            return Refusal(.adminRequired, "only \(principal) or an administrator may set \(principal)'s chat handles")
        }
        guard actor == principal || !keyless else {
            return Refusal(
                .adminSignatureRequired,
                "setting another person's chat handles needs a session obtained with your key (signoff login --key); a single sign-on session sets only your own")
        }
        if let slack, !Self.isSlackID(slack) {
            return Refusal(.inputText, "--slack must be a Slack member ID (U or W and upper-case letters and digits, e.g. U024BE7LH), not \(slack.prefix(40).debugDescription)")
        }
        if let teams, !Self.isTeamsID(teams) {
            return Refusal(.inputText, "--teams must be a Teams user's object ID (a UUID) or user principal name (name@example.com), not \(teams.prefix(40).debugDescription)")
        }
        return nil
    }
}
