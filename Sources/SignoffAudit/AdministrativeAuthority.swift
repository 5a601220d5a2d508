internal import Foundation
internal import SignoffCore
public import SignoffCrypto

/// Who had authority over administration, entry by entry, as an export's entries in full show it — every
/// administrative entry is in full in every export — so that an auditor proves offline that each administrative change
/// was approved by administrators with trusted keys at the time, by the quorum then in force, over exactly the change
/// recorded (`schema/audit-export.md`, "Administrative authority"). Pure: the entries in, a problem or nil out. Read from
/// the payloads' JSON (``JSONValue``), as a verifier written from the spec reads them.
struct AdministrativeAuthority {
    /// The kinds whose entries are administrative changes (their `approval` is administrators' approval).
    static let kinds: Set<String> = [
        "principal.added", "key.enrolled", "key.revoked", "principal.disabled", "principal.enabled", "group.created", "group.member-added",
        "group.member-removed", "workflow.applied", "project.created", "project.updated", "admin.quorum-set", "token.issued", "token.revoked",
        "delegation.revoked", "request.withdrawn", "freeze.added", "freeze.lifted", "freeze.exempted", "webhook.added", "webhook.removed",
        "issuer.trusted", "issuer.distrusted", "directory.connected", "directory.disconnected", "group.linked",
    ]
    static let approvalPayloadType = AdminApproval.payloadType
    static let auditors = "auditors"
    static let projectAdmins = "project-admins"
    static let directoryPrefix = "directory:"

    struct Person {
        var administrator: Bool
        var disabled = false
        /// The connected directory that added them (nil: an administrator did).
        var addedBy: String?
        /// The connected directory that disabled them (nil: not disabled, or an administrator did).
        var disabledBy: String?
    }

    struct ProjectFacts {
        var regulated: Bool
        var environments: [String: String]
        /// Binding (`ROLE` or `ROLE@ENVIRONMENT`) → groups; a round-1 project's `requesters` and `deployers` as roles.
        var roles: [String: [String]]
        var boundGroups: Set<String> { Set(roles.values.flatMap { $0 }) }
    }

    /// Whether the ledger's payload format is 2 (`ledger.initialized` says `signoff-ledger/2`): the rules apply to such
    /// ledgers only (format 1 approvals are checked for their signatures alone).
    private(set) var checked = false
    private(set) var initialized = false
    var principals: [String: Person] = [:]
    var groups: [String: Set<String>] = [:]
    /// The connected directory that keeps a group's membership.
    var groupDirectory: [String: String] = [:]
    var projects: [String: ProjectFacts] = [:]
    var quorum: Int64 = 1
    var freezes: [String: (project: String?, environment: String)] = [:]
    /// Subscription → its project (nil: organisation-wide).
    var webhooks: [String: String?] = [:]
    var delegations: [String: (from: String, project: String?)] = [:]
    var directories: Set<String> = []
    var usedApprovals: Set<SHA256Digest> = []
    /// The approval of the entry just before, when the next may continue its change (a key marked compromised takes
    /// back, in the same change, what it vouched for).
    var continuing: (approval: DSSEEnvelope, time: Int64, sequence: UInt64, principal: String, since: Int64)?

    var regulated: Bool { projects.values.contains { $0.regulated } }

    func isAdministrator(_ name: String) -> Bool { principals[name]?.administrator == true }
    func isEnabled(_ name: String) -> Bool { principals[name].map { !$0.disabled } ?? false }

    /// The regulated projects that bind `group` to a role.
    func reliedOn(group: String) -> Bool { projects.values.contains { $0.regulated && $0.boundGroups.contains(group) } }
    func reliedOn(principal: String) -> Bool {
        isAdministrator(principal) || groups.contains { $0.value.contains(principal) && reliedOn(group: $0.key) }
    }
    func coversRegulated(environment: String?, project: String?) -> Bool {
        if let project { return projects[project]?.regulated == true }
        guard let environment else { return false }
        return projects.values.contains { $0.regulated && $0.environments[environment] != nil }
    }

    /// The project whose administrators may make this change (nil: the organisation's administrators only).
    func project(ofChange kind: String, _ event: JSONValue) -> String? {
        switch kind {
        case "group.member-added", "group.member-removed":
            guard let group = event.member("group")?.string, group != Self.auditors else { return nil }
            let binding = projects.filter { $0.value.boundGroups.contains(group) }
            guard binding.count == 1, let (key, project) = binding.first, !(project.roles[Self.projectAdmins] ?? []).contains(group) else { return nil }
            return key
        case "freeze.added": return event.member("freeze")?.member("project")?.string
        case "freeze.lifted", "freeze.exempted": return event.member("id")?.string.flatMap { freezes[$0]?.project }
        case "webhook.added":
            guard let webhook = event.member("webhook"), webhook.member("allow_private")?.isTrue != true else { return nil }
            return webhook.member("project")?.string
        case "webhook.removed": return event.member("id")?.string.flatMap { webhooks[$0] ?? nil }
        case "delegation.revoked": return event.member("id")?.string.flatMap { delegations[$0]?.project }
        default: return nil
        }
    }

    /// Who may sign the change: enabled administrators, and the enabled administrators of its project.
    func eligibleSigners(_ kind: String, _ event: JSONValue) -> Set<String> {
        var names = Set(principals.filter { $0.value.administrator && !$0.value.disabled }.keys)
        if let project = project(ofChange: kind, event), let admins = projects[project]?.roles[Self.projectAdmins] {
            for group in admins { names.formUnion((groups[group] ?? []).filter(isEnabled)) }
        }
        return names
    }

    /// Whether `admin_quorum` signatures are needed (the catalogue of administrative changes, decided from the state
    /// before the entry).
    func quorumApplies(_ kind: String, _ event: JSONValue) -> Bool {
        func text(_ key: String) -> String? { event.member(key)?.string }
        switch kind {
        case "principal.added": return text("kind") != "service-account" && event.member("administrator")?.isTrue == true
        case "key.enrolled", "principal.enabled", "token.issued": return text("principal").map { reliedOn(principal: $0) } ?? false
        case "key.revoked": return text("principal").map(isAdministrator) == true || event.member("compromised_since") != nil
        case "principal.disabled": return text("principal").map(isAdministrator) == true
        case "group.member-added": return text("group").map { $0 == Self.auditors || reliedOn(group: $0) } ?? false
        case "workflow.applied": return text("name").map { name in projects.values.contains { $0.regulated && $0.environments.values.contains(name) } } ?? false
        case "project.created": return event.member("project")?.member("regulated")?.isTrue == true
        case "project.updated":
            let project = event.member("project")
            return project?.member("regulated")?.isTrue == true || project?.member("key")?.string.map { projects[$0]?.regulated == true } == true
        case "admin.quorum-set", "issuer.trusted", "directory.connected": return true
        case "freeze.added":
            let freeze = event.member("freeze")
            return coversRegulated(environment: freeze?.member("environment")?.string, project: freeze?.member("project")?.string)
        case "freeze.lifted", "freeze.exempted":
            return text("id").flatMap { freezes[$0] }.map { coversRegulated(environment: $0.environment, project: $0.project) } ?? false
        case "webhook.added":
            guard let project = event.member("webhook")?.member("project")?.string else { return true }
            return projects[project]?.regulated == true
        case "webhook.removed":
            guard let id = text("id"), let project = webhooks[id] else { return false }
            return project.map { projects[$0]?.regulated == true } ?? true
        case "group.linked": return event.member("directory")?.string != nil && text("group").map { reliedOn(group: $0) } == true
        default: return false
        }
    }

    /// The change an approval of this entry must state (`schema/audit-export.md`, "The approved change").
    static func expectedChange(_ kind: String, _ event: JSONValue) -> JSONValue? {
        var members: [(String, JSONValue)] = []
        func copy(_ from: String, as name: String? = nil) { if let value = event.member(from) { members.append((name ?? from, value)) } }
        let action: String
        switch kind {
        case "principal.added":
            if event.member("kind")?.string == "service-account" {
                action = "service-account.add"
            } else {
                action = "user.add"
                copy("administrator")
            }
            copy("name", as: "principal")
            copy("verifier_key")
        case "key.enrolled": action = "key.enroll"; copy("principal"); copy("verifier_key")
        case "key.revoked":
            action = "key.revoke"
            copy("principal")
            if let fingerprint = event.member("key_fingerprint")?.string {
                members.append(("key_fingerprint", .text("sha256:" + Ed25519.PublicKey.fingerprintHex(fingerprint))))
            }
            copy("compromised_since")
        case "principal.disabled": action = "principal.disable"; copy("principal")
        case "principal.enabled": action = "principal.enable"; copy("principal")
        case "group.created": action = "group.create"; copy("name", as: "group")
        case "group.member-added": action = "group.add-member"; copy("group"); copy("member")
        case "group.member-removed": action = "group.remove-member"; copy("group"); copy("member")
        case "workflow.applied": action = "workflow.apply"; copy("digest", as: "workflow_digest")
        case "project.created": action = "project.create"; copy("project")
        case "project.updated": action = "project.update"; copy("project")
        case "admin.quorum-set": action = "admin.quorum"; copy("quorum")
        case "token.issued": action = "token.issue"; copy("principal"); copy("scopes"); copy("lifetime_hours")
        case "token.revoked": action = "token.revoke"; copy("token_id")
        case "delegation.revoked": action = "delegation.revoke"; copy("id", as: "delegation_id")
        case "request.withdrawn": action = "request.withdraw"; copy("request"); copy("reason")
        case "freeze.added": action = "freeze.add"; copy("freeze")
        case "freeze.lifted": action = "freeze.lift"; copy("id", as: "freeze_id")
        case "freeze.exempted": action = "freeze.exempt"; copy("id", as: "freeze_id"); copy("request"); copy("reason")
        case "webhook.added": action = "webhook.add"; copy("webhook")
        case "webhook.removed": action = "webhook.remove"; copy("id", as: "webhook_id")
        case "issuer.trusted": action = "issuer.trust"; copy("issuer")
        case "issuer.distrusted": action = "issuer.distrust"; copy("name", as: "issuer_name")
        case "directory.connected": action = "directory.connect"; copy("name", as: "directory")
        case "directory.disconnected": action = "directory.disconnect"; copy("name", as: "directory")
        case "group.linked":
            copy("group")
            if event.member("directory")?.string != nil {
                action = "group.link"
                copy("directory")
            } else {
                action = "group.unlink"
            }
        default: return nil
        }
        return .object([("action", .text(action))] + members)
    }

    /// Checks an entry in full (before ``apply(_:actor:time:event:)``): nil, or why its administration does not hold.
    /// `keys` is the key history so far (the entries before this one).
    mutating func problem(
        kind: String, sequence: UInt64, actor: String, time: Int64, event: JSONValue, approval: DSSEEnvelope?, keys: [AuditExportBuilder.KeyRecord]
    ) -> String? {
        // A key.enrolled with a proof is a self-enrolment (its proof is checked as such), not an administrative change.
        guard checked, Self.kinds.contains(kind), !(kind == "key.enrolled" && event.member("proof") != nil) else { return nil }
        let what = "the \(kind) at entry \(sequence)"
        // A key marked compromised takes back, in the same change, what it vouched for: entries right after it with the
        // very same approval, at the same time.
        if let approval, let previous = continuing, previous.approval == approval, previous.time == time, previous.sequence + 1 == sequence,
            continues(previous, kind: kind, event: event, keys: keys)
        {
            continuing = (approval, time, sequence, previous.principal, previous.since)
            return nil
        }
        continuing = nil
        if actor.hasPrefix(Self.directoryPrefix) { return directoryProblem(kind, directory: String(actor.dropFirst(Self.directoryPrefix.count)), event: event, approval: approval, what: what) }
        if actor == Engine.systemActor {
            guard kind == "principal.added", principals.isEmpty, approval == nil else {
                return "\(what) is made by system, which only adds the first administrator of a ledger"
            }
            return nil
        }
        let principal = event.member("principal")?.string
        let compromised = kind == "key.revoked" && event.member("compromised_since") != nil
        // A principal (not an administrator) revoking their own key acts as its owner, not as an administrator.
        let ownKey = kind == "key.revoked" && principal == actor && !isAdministrator(actor)
        guard let approval else {
            // Taking away what is one's own needs no administrator.
            if kind == "request.withdrawn" || (ownKey && !compromised) { return nil }
            if kind == "delegation.revoked", let id = event.member("id")?.string, delegations[id]?.from == actor { return nil }
            let createsRegulated = (kind == "project.created" || kind == "project.updated") && event.member("project")?.member("regulated")?.isTrue == true
            if kind == "issuer.trusted" || kind == "directory.connected" {
                return "\(what) carries no approval: trusting an issuer or connecting a directory is always signed by administrators"
            }
            if compromised { return "\(what) marks a key compromised without an approval: that is always signed" }
            if regulated || createsRegulated {
                return "\(what) carries no approval, but the ledger has a regulated project: every administrative change is signed by administrators"
            }
            return nil
        }
        // The approval: exactly this change, fresh, used once.
        guard approval.payloadType == Self.approvalPayloadType else {
            return "\(what) carries an approval of payload type \(approval.payloadType), not \(Self.approvalPayloadType)"
        }
        guard !approval.signatures.isEmpty, approval.signatures.count <= DSSEEnvelope.maximumSignatures else {
            return "\(what) carries an approval with \(approval.signatures.count) signatures (1 to \(DSSEEnvelope.maximumSignatures))"
        }
        guard let statement = try? JSONValue.parse(approval.payload), let keysOf = statement.objectKeys, Set(keysOf) == ["change", "time"], keysOf.count == 2,
            let change = statement["change"], let expected = Self.expectedChange(kind, event), change.isSame(as: expected)
        else { return "\(what) carries an approval that is not of exactly the change recorded" }
        guard let signedText = statement["time"]?.string, let signed = Timestamps.milliseconds(rfc3339: signedText),
            signed >= time - AuditExportBuilder.statementMaximumAge, signed <= time + AuditExportBuilder.statementMaximumSkew
        else { return "\(what) carries an approval whose time is not within 10 minutes before (or 1 minute after) its entry's" }
        let digest = SHA256Digest.hash(approval.payload)
        guard !usedApprovals.contains(digest) else { return "\(what) carries an approval already used for an earlier change" }
        let message = approval.signedBytes
        if ownKey {
            let revoked = event.member("key_fingerprint")?.string.map(Ed25519.PublicKey.fingerprintHex)
            for signature in approval.signatures {
                let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
                guard let key = keys.last(where: { $0.principal == actor && $0.fingerprint == fingerprint }), key.isValid(at: time),
                    let verifier = try? NoteVerifierKey(parsing: key.verifierKey), verifier.publicKey.isValidSignature(signature.sig, for: message)
                else { return "\(what) (\(actor)'s own key) carries a signature that does not verify with a key \(actor) had at the time" }
                if compromised && fingerprint == revoked { return "\(what) marks a key compromised with a signature by that very key" }
            }
        } else {
            let eligible = eligibleSigners(kind, event)
            var signers = Set<String>()
            for signature in approval.signatures {
                let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
                guard let key = keys.last(where: { $0.fingerprint == fingerprint }), key.isValid(at: time),
                    let verifier = try? NoteVerifierKey(parsing: key.verifierKey), verifier.publicKey.isValidSignature(signature.sig, for: message)
                else { return "\(what) carries an approval that does not verify with keys its signers had enrolled at the time" }
                guard eligible.contains(key.principal) else {
                    return "\(what) is approved by \(key.principal), who was not an enabled administrator\(project(ofChange: kind, event).map { " or an administrator of project \($0)" } ?? "") at the time"
                }
                guard key.trusted else {
                    return "\(what) is approved with a key of \(key.principal) that administrators did not enrol (self-enrolled, or enrolled unsigned): it cannot sign administration"
                }
                signers.insert(key.principal)
            }
            guard signers.contains(actor) else { return "\(what) is made by \(actor), who did not sign its approval" }
            if quorumApplies(kind, event) {
                let able = eligible.filter { name in keys.contains { $0.principal == name && $0.trusted && $0.isValid(at: time) } }.count
                let needed = max(1, min(Int(clamping: quorum), able))
                guard signers.count >= needed else {
                    return "\(what) needs \(needed) administrators' signatures (admin_quorum \(quorum)); it has \(signers.count)"
                }
            }
        }
        usedApprovals.insert(digest)
        if compromised, let principal, let since = event.member("compromised_since")?.string.flatMap(Timestamps.milliseconds(rfc3339:)) {
            continuing = (approval, time, sequence, principal, since)
        }
        return nil
    }

    /// Whether an entry is what marking `previous.principal`'s key compromised since `previous.since` takes back with it:
    /// a key of that principal self-enrolled (with a proof) at or after that time, revoked as compromised since its own
    /// enrolment, or a delegation that principal granted.
    func continues(
        _ previous: (approval: DSSEEnvelope, time: Int64, sequence: UInt64, principal: String, since: Int64), kind: String, event: JSONValue,
        keys: [AuditExportBuilder.KeyRecord]
    ) -> Bool {
        switch kind {
        case "key.revoked":
            guard event.member("principal")?.string == previous.principal, let fingerprint = event.member("key_fingerprint")?.string,
                let key = keys.last(where: { $0.principal == previous.principal && $0.fingerprint == Ed25519.PublicKey.fingerprintHex(fingerprint) })
            else { return false }
            return key.selfEnrolled && key.enrolledMilliseconds >= previous.since
                && event.member("compromised_since")?.string == Timestamps.rfc3339(key.enrolledMilliseconds)
        case "delegation.revoked":
            return event.member("id")?.string.flatMap { delegations[$0]?.from } == previous.principal
        default: return false
        }
    }

    /// A connected directory's change: unsigned, and only what a directory may do (`schema/directory.md`).
    func directoryProblem(_ kind: String, directory: String, event: JSONValue, approval: DSSEEnvelope?, what: String) -> String? {
        guard directories.contains(directory) else { return "\(what) is made by directory \(directory), which is not connected" }
        guard approval == nil else { return "\(what) is a directory's change and carries an approval" }
        func text(_ key: String) -> String? { event.member(key)?.string }
        let allowed: Bool
        switch kind {
        case "principal.added":
            allowed = event.member("administrator")?.isTrue != true && event.member("verifier_key") == nil && text("directory") == directory
        case "principal.disabled":
            allowed = text("principal").flatMap { principals[$0] }.map { $0.addedBy == directory && !$0.administrator } ?? false
                && text("principal").map { !(groups[Self.auditors] ?? []).contains($0) } ?? false
        case "principal.enabled":
            allowed = !regulated && text("principal").flatMap { principals[$0] }.map { $0.addedBy == directory && $0.disabledBy == directory } ?? false
        case "group.created": allowed = text("directory") == directory
        case "group.member-added":
            allowed = text("group").map { groupDirectory[$0] == directory } == true && text("member").flatMap { principals[$0]?.addedBy } == directory
        case "group.member-removed": allowed = text("group").map { groupDirectory[$0] == directory } == true
        default: allowed = false
        }
        return allowed ? nil : "\(what) is made by directory \(directory), beyond what a connected directory may do"
    }

    /// Whether a key this entry adds is trusted for administration: enrolled with an approval, or the first
    /// administrator's (added by `system`).
    func addsTrustedKey(kind: String, actor: String, approval: DSSEEnvelope?) -> Bool {
        approval != nil || (kind == "principal.added" && actor == Engine.systemActor && principals.isEmpty)
    }

    /// What the entry changes of the state the rules read.
    mutating func apply(kind: String, actor: String, event: JSONValue) {
        func text(_ key: String) -> String? { event.member(key)?.string }
        let directory = actor.hasPrefix(Self.directoryPrefix) ? String(actor.dropFirst(Self.directoryPrefix.count)) : nil
        switch kind {
        case "ledger.initialized":
            initialized = true
            checked = text("format") == "signoff-ledger/2"
        case "principal.added":
            if let name = text("name") {
                // A service account is never an administrator, whatever the entry says.
                principals[name] = Person(
                    administrator: event.member("administrator")?.isTrue == true && event.member("kind")?.string != "service-account", addedBy: directory)
            }
        case "principal.disabled":
            if let name = text("principal") {
                principals[name]?.disabled = true
                principals[name]?.disabledBy = directory
            }
        case "principal.enabled":
            if let name = text("principal") {
                principals[name]?.disabled = false
                principals[name]?.disabledBy = nil
            }
        case "group.created":
            if let name = text("name") {
                groups[name] = []
                if let directory { groupDirectory[name] = directory }
            }
        case "group.member-added": if let group = text("group"), let member = text("member") { groups[group, default: []].insert(member) }
        case "group.member-removed": if let group = text("group"), let member = text("member") { groups[group]?.remove(member) }
        case "group.linked":
            if let group = text("group") { groupDirectory[group] = text("directory") }
        case "project.created", "project.updated":
            guard let project = event.member("project"), let key = project.member("key")?.string else { return }
            var environments: [String: String] = [:]
            if case .object(let members)? = project.member("environments") {
                for (name, value) in members { if let workflow = value.string { environments[String(decoding: name, as: UTF8.self)] = workflow } }
            }
            var roles: [String: [String]] = [:]
            func read(_ object: JSONValue?, prefix: String = "", as fixed: String? = nil) {
                guard case .object(let members)? = object else { return }
                for (name, value) in members { roles[fixed ?? prefix + String(decoding: name, as: UTF8.self)] = (value.array ?? []).compactMap(\.string) }
            }
            if project.member("roles") != nil {
                read(project.member("roles"))
            } else {
                roles["requesters"] = (project.member("requesters")?.array ?? []).compactMap(\.string)
                read(project.member("deployers"), prefix: "deployers@")
            }
            projects[key] = ProjectFacts(regulated: project.member("regulated")?.isTrue == true, environments: environments, roles: roles)
        case "admin.quorum-set": if let quorum = event.member("quorum")?.integer { self.quorum = quorum }
        case "freeze.added":
            if let id = text("id"), let freeze = event.member("freeze") {
                freezes[id] = (freeze.member("project")?.string, freeze.member("environment")?.string ?? "")
            }
        case "webhook.added": if let id = text("id") { webhooks[id] = event.member("webhook")?.member("project")?.string }
        case "delegation.granted":
            if let id = text("id") { delegations[id] = (actor, event.member("delegation")?.member("project")?.string) }
        case "directory.connected": if let name = text("name") { directories.insert(name) }
        case "directory.disconnected": if let name = text("name") { directories.remove(name) }
        default: break
        }
    }
}
