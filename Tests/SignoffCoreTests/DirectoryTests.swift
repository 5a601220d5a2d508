import Foundation
import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 29: project administrators, and what a connected directory may change unsigned (pure engine rules).
@Suite("Project administrators and connected directories (pure)")
struct DirectoryTests {
    static let lead = "lee"
    static let leads = "churn-leads"

    /// The regulated world, with `lee` (a trusted key) administering churn-model through `churn-leads`, and a second
    /// project binding its own groups.
    static func world() throws -> World {
        var w = try World()
        try w.admin(.createGroup(name: leads))
        try w.addUser(lead, groups: [leads])
        var roles = Cast.roles
        roles[ProjectAdministration.role] = [leads]
        try w.admin(.updateProject(ProjectSpec(key: Cast.project, regulated: true, environments: Cast.environments, roles: roles)))
        for group in ["other-team", "other-deployers"] { try w.admin(.createGroup(name: group)) }
        var other = Cast.roles
        other["requesters"] = ["other-team"]
        other["deployers"] = ["other-deployers"]
        try w.admin(.createProject(ProjectSpec(key: Cast.otherProject, regulated: true, environments: Cast.environments, roles: other), approval: nil))
        return w
    }

    func signed(_ w: World, _ command: Command, by signers: [String]) -> Command { AdministrationTests.signed(w, command, by: signers) }

    @Test("A project administrator manages their project's own groups, freezes, delegations and webhooks, signed with their key")
    func projectAdministratorMay() throws {
        var w = try Self.world()
        let lee = Self.lead, deployers = Cast.Group.deployers
        #expect(ProjectAdministration.administrators(of: Cast.project, state: w.state) == [lee])
        // churn-deployers is bound by churn-model only: lee manages it — signed in a regulated ledger.
        w.refused(.addMember(group: deployers, member: Cast.platformEngineer.name), as: lee, rule: "admin.signature-required")
        try w.ok(signed(w, .addMember(group: deployers, member: Cast.platformEngineer.name), by: [lee]), as: lee)
        #expect(w.state.isMember(Cast.platformEngineer.name, of: deployers))
        try w.ok(signed(w, .removeMember(group: deployers, member: Cast.platformEngineer.name), by: [lee]), as: lee)
        // The project's freezes.
        let freeze = FreezeSpec(environment: "prod", project: Cast.project, from: w.now, until: w.now + 3_600_000, reason: "quarter end")
        let events = try w.ok(signed(w, .addFreeze(freeze), by: [lee]), as: lee)
        guard case .freezeAdded(let added)? = events.first else { Issue.record("no freeze"); return }
        try w.ok(signed(w, .liftFreeze(id: added.id), by: [lee]), as: lee)
        // The project's webhooks (never to private addresses: that is the organisation's call).
        let hook = WebhookSpec(url: "https://hooks.example.com/churn", project: Cast.project, events: ["request.filed"], format: .standard)
        let hooked = try w.ok(signed(w, .addWebhook(hook), by: [lee]), as: lee)
        guard case .webhookAdded(let webhook)? = hooked.first else { Issue.record("no webhook"); return }
        try w.ok(signed(w, .removeWebhook(id: webhook.id), by: [lee]), as: lee)
        let inside = WebhookSpec(url: "https://10.0.0.5/churn", project: Cast.project, events: ["request.filed"], format: .standard, allowPrivate: true)
        w.refused(signed(w, .addWebhook(inside), by: [lee]), as: lee, rule: "admin.required")
        // A delegation given for the project.
        let morgan = Cast.releaseManager.name
        let delegation = DelegationSpec(delegate: Cast.secondReleaseManager.name, start: w.now, end: w.now + 86_400_000, project: Cast.project, role: nil)
        let granted = try w.ok(.delegate(delegation, envelope: DelegationStatement(delegation: delegation, time: w.now).signed(with: w.keys[morgan]!)), as: morgan)
        guard case .delegationGranted(let given)? = granted.first else { Issue.record("no delegation"); return }
        w.refused(.revokeDelegation(id: given.id), as: lee, rule: "admin.signature-required")
        try w.ok(signed(w, .revokeDelegation(id: given.id), by: [lee]), as: lee)
    }

    @Test("Refused: another project's groups, freezes and webhooks; a shared group; auditors; its own project-admins group; organisation-wide changes")
    func projectAdministratorMayNot() throws {
        var w = try Self.world()
        let lee = Self.lead
        // other-team is the other project's; release-managers is bound by both projects; auditors is the organisation's.
        try w.admin(.createGroup(name: Access.auditorsGroup))
        for group in ["other-team", Cast.Group.releaseManagers, Access.auditorsGroup, Self.leads] {
            w.refused(signed(w, .addMember(group: group, member: Cast.platformEngineer.name), by: [lee]), as: lee, rule: "admin.required")
        }
        let otherFreeze = FreezeSpec(environment: "prod", project: Cast.otherProject, from: w.now, until: w.now + 3_600_000, reason: "theirs")
        w.refused(signed(w, .addFreeze(otherFreeze), by: [lee]), as: lee, rule: "admin.required")
        let everywhere = FreezeSpec(environment: "prod", project: nil, from: w.now, until: w.now + 3_600_000, reason: "all")
        w.refused(signed(w, .addFreeze(everywhere), by: [lee]), as: lee, rule: "admin.required")
        let hook = WebhookSpec(url: "https://hooks.example.com/all", project: nil, events: ["request.filed"], format: .standard)
        w.refused(signed(w, .addWebhook(hook), by: [lee]), as: lee, rule: "admin.required")
        // Organisation-wide changes and the project's own definition stay with administrators.
        var roles = Cast.roles
        roles[ProjectAdministration.role] = [Self.leads, "other-team"]
        let spec = ProjectSpec(key: Cast.project, regulated: true, environments: Cast.environments, roles: roles)
        w.refused(signed(w, .updateProject(spec), by: [lee]), as: lee, rule: "admin.required")
        w.refused(signed(w, .addUser(name: "newbie", administrator: false, key: nil), by: [lee]), as: lee, rule: "admin.required")
        w.refused(signed(w, .disablePrincipal(name: Cast.deployer.name), by: [lee]), as: lee, rule: "admin.required")
        // A member of the project who is not one of its administrators.
        let dana = Cast.deployer.name
        w.refused(signed(w, .addMember(group: Cast.Group.deployers, member: Cast.platformEngineer.name), by: [dana]), as: dana, rule: "admin.required")
        // project-admins is bound for the whole project only.
        roles = Cast.roles
        roles[ProjectAdministration.role + "@prod"] = [Self.leads]
        w.refused(w.signedByAdmin(.updateProject(ProjectSpec(key: Cast.project, regulated: true, environments: Cast.environments, roles: roles))),
            as: Cast.administrator.name, rule: "project.invalid")
    }

    @Test("Under the quorum, the project's administrators and the organisation's count together, as distinct people")
    func quorumTogether() throws {
        var w = try Self.world()
        try w.addUser(AdministrationTests.bob, groups: [], administrator: true)
        try w.admin(.setAdminQuorum(2))
        let ada = Cast.administrator.name, lee = Self.lead
        let add = Command.addMember(group: Cast.Group.deployers, member: Cast.platformEngineer.name)
        // churn-deployers is relied on by a regulated project: two signatures.
        w.refused(signed(w, add, by: [lee]), as: lee, rule: "admin.quorum")
        w.refused(signed(w, add, by: [lee, lee]), as: lee, rule: "admin.quorum")
        try w.ok(signed(w, add, by: [lee, ada]), as: lee)
        // Another project's administrator does not count toward this project's quorum.
        try w.admin(.createGroup(name: "fraud-leads"))
        try w.addUser("fay", groups: ["fraud-leads"])
        var other = Cast.roles
        other["requesters"] = ["other-team"]
        other["deployers"] = ["other-deployers"]
        other[ProjectAdministration.role] = ["fraud-leads"]
        try w.ok(signed(w, .updateProject(ProjectSpec(key: Cast.otherProject, regulated: true, environments: Cast.environments, roles: other)), by: [ada, AdministrationTests.bob]), as: ada)
        let remove = Command.removeMember(group: Cast.Group.deployers, member: Cast.platformEngineer.name)
        w.refused(signed(w, remove, by: [lee, "fay"]), as: lee, rule: "admin.signature")
        // An organisation-wide change is not the project administrator's to sign, even as a second signature.
        w.refused(signed(w, .setAdminQuorum(1), by: [ada, lee]), as: ada, rule: "admin.signature")
    }

    // MARK: Directories

    static let okta = "okta"
    static var oktaActor: String { ConnectedDirectory.actor(okta) }

    static func connected() throws -> World {
        var w = try World()
        try w.admin(.connectDirectory(name: okta, tokenID: "tok-1"))
        return w
    }

    func change(_ build: (inout DirectoryChange) -> Void) -> Command {
        var change = DirectoryChange()
        build(&change)
        return .directoryChange(change)
    }

    @Test("Connecting is signed in every ledger, by an administrator; disconnecting is plain; linking a relied-on group is under the quorum")
    func connecting() throws {
        var w = try AdministrationTests.quorumWorld()
        let ada = Cast.administrator.name, bob = AdministrationTests.bob
        w.refused(.connectDirectory(name: Self.okta, tokenID: "t"), as: ada, rule: "admin.signature-required")
        w.refused(signed(w, .connectDirectory(name: Self.okta, tokenID: "t"), by: [ada]), as: ada, rule: "admin.quorum")
        w.refused(.connectDirectory(name: Self.okta, tokenID: "t"), as: Cast.requester.name, rule: "admin.required")
        try w.ok(signed(w, .connectDirectory(name: Self.okta, tokenID: "t"), by: [ada, bob]), as: ada)
        #expect(w.state.directories[Self.okta]?.tokenID == "t")
        w.refused(AdministrationTests.signed(w, .connectDirectory(name: Self.okta, tokenID: "t2"), by: [ada, bob], time: w.now - 5), as: ada, rule: "input.duplicate")
        // release-managers is bound by the regulated project: linking it hands its membership to the directory.
        w.refused(signed(w, .linkGroup(group: Cast.Group.releaseManagers, directory: Self.okta), by: [ada]), as: ada, rule: "admin.quorum")
        try w.ok(signed(w, .linkGroup(group: Cast.Group.releaseManagers, directory: Self.okta), by: [ada, bob]), as: ada)
        #expect(w.state.groups[Cast.Group.releaseManagers]?.directory == Self.okta)
        try w.ok(signed(w, .linkGroup(group: Cast.Group.releaseManagers, directory: nil), by: [ada]), as: ada)
        #expect(w.state.groups[Cast.Group.releaseManagers]?.directory == nil)
        try w.admin(.createGroup(name: Access.auditorsGroup))
        w.refused(signed(w, .linkGroup(group: Access.auditorsGroup, directory: Self.okta), by: [ada, bob]), as: ada, rule: "directory.reach")
        try w.ok(signed(w, .disconnectDirectory(name: Self.okta), by: [ada]), as: ada)
        #expect(w.state.directories.isEmpty)
    }

    @Test("A directory adds keyless users and its own groups, fills them, disables its users — unsigned, attributed to directory:NAME")
    func directoryMay() throws {
        var w = try Self.connected()
        let okta = Self.oktaActor
        let events = try w.ok(change {
            $0.addUsers = ["jo", "kim"]
            $0.createGroups = ["churn-reviewers"]
            $0.addMembers = [GroupMembership(group: "churn-reviewers", member: "jo"), GroupMembership(group: "churn-reviewers", member: "kim")]
        }, as: okta)
        #expect(events.map(\.kind) == ["principal.added", "principal.added", "group.created", "group.member-added", "group.member-added"])
        #expect(w.state.principals["jo"]?.keys.isEmpty == true && w.state.principals["jo"]?.isAdministrator == false)
        #expect(w.state.principals["jo"]?.directory == Self.okta && w.state.groups["churn-reviewers"]?.directory == Self.okta)
        #expect(w.log.suffix(5).allSatisfy { $0.actor == okta })
        try w.ok(change { $0.removeMembers = [GroupMembership(group: "churn-reviewers", member: "kim")]; $0.disable = ["kim"] }, as: okta)
        #expect(w.state.principals["kim"]?.disabled == true && w.state.groups["churn-reviewers"]?.members == ["jo"])
        // This ledger has a regulated project: enabling again is an administrator's, signed.
        w.refused(change { $0.enable = ["kim"] }, as: okta, rule: "directory.reach")
        try w.admin(.enablePrincipal(name: "kim"))
        // A keyless user decides nothing: binding the directory's group to a role is a signed project change, and the
        // user still needs a key enrolled by a signed change.
        #expect(w.state.principals["jo"]?.keys.isEmpty == true)
    }

    @Test("Refused: unlinked groups, users it did not add, administrators, auditors, keys and bindings; any other command; a disconnected directory")
    func directoryMayNot() throws {
        var w = try Self.connected()
        let okta = Self.oktaActor
        try w.ok(change { $0.addUsers = ["jo"]; $0.createGroups = ["mine"] }, as: okta)
        // release-managers is not linked to okta.
        w.refused(change { $0.addMembers = [GroupMembership(group: Cast.Group.releaseManagers, member: "jo")] }, as: okta, rule: "directory.reach")
        w.refused(change { $0.removeMembers = [GroupMembership(group: Cast.Group.releaseManagers, member: Cast.releaseManager.name)] }, as: okta, rule: "directory.reach")
        // Users it did not add: neither put in its groups nor disabled.
        w.refused(change { $0.addMembers = [GroupMembership(group: "mine", member: Cast.releaseManager.name)] }, as: okta, rule: "directory.reach")
        w.refused(change { $0.disable = [Cast.administrator.name] }, as: okta, rule: "directory.reach")
        w.refused(change { $0.createGroups = [Access.auditorsGroup] }, as: okta, rule: "directory.reach")
        // An auditor it added is not its to disable.
        try w.admin(.createGroup(name: Access.auditorsGroup))
        try w.admin(.addMember(group: Access.auditorsGroup, member: "jo"))
        w.refused(change { $0.disable = ["jo"] }, as: okta, rule: "directory.reach")
        // Nothing but its own changes: no administration, no requests.
        w.refused(.createGroup(name: "x"), as: okta, rule: "directory.reach")
        w.refused(.enrollKey(principal: "jo", key: try NoteVerifierKey(name: "jo", publicKey: Ed25519.SigningKey().publicKey)), as: okta, rule: "directory.reach")
        w.refused(.fileRequest(project: Cast.project, environment: "prod", bundle: World.bundle, digest: World.digest, description: "x"), as: okta, rule: "directory.reach")
        // All or nothing: one refused part records none of the others.
        let before = w.state.principals.count
        w.refused(change { $0.addUsers = ["pat2"]; $0.disable = [Cast.administrator.name] }, as: okta, rule: "directory.reach")
        #expect(w.state.principals.count == before)
        // A person is never a directory; a disconnected directory changes nothing.
        w.refused(change { $0.addUsers = ["zed"] }, as: Cast.administrator.name, rule: "directory.reach")
        try w.admin(.disconnectDirectory(name: Self.okta))
        w.refused(change { $0.addUsers = ["zed"] }, as: okta, rule: "directory.reach")
    }

    @Test("A ledger without a regulated project lets the directory enable its users again")
    func enableUnregulated() throws {
        let w = try World()
        var plain = SignoffState()
        let ada = w.keys[Cast.administrator.name]!
        let now = w.now
        let connect = Command.connectDirectory(name: Self.okta, tokenID: "t")
        for (command, actor) in [
            (Command.bootstrapAdministrator(name: "ada", key: try NoteVerifierKey(name: "ada", publicKey: ada.publicKey)), "system"),
            (connect.approved(by: AdminApproval(change: connect.adminChange!, time: now).signed(with: ada)), "ada"),
            (change { $0.addUsers = ["jo"]; $0.disable = ["jo"] }, Self.oktaActor),
            (change { $0.enable = ["jo"] }, Self.oktaActor),
            (change { $0.addUsers = ["kai"] }, Self.oktaActor),
            (.disablePrincipal(name: "kai"), "ada"),
        ] {
            guard case .success(let events) = Engine.execute(command, on: plain, actor: actor, now: now) else { Issue.record("refused \(command)"); return }
            for event in events { plain.apply(event, actor: actor, at: now) }
        }
        #expect(plain.principals["jo"]?.disabled == false)
        // kai was disabled by an administrator (an offboarding for cause): the directory does not undo it.
        guard case .failure(let refusal) = Engine.execute(change { $0.enable = ["kai"] }, on: plain, actor: Self.oktaActor, now: now) else {
            Issue.record("the directory enabled a user an administrator disabled")
            return
        }
        #expect(refusal.rule == "directory.reach" && refusal.message.contains("ada"), "\(refusal)")
    }
}

/// Issue 29, part 4: nobody left to act.
@Suite("Staffing: nobody left to act (pure)")
struct StaffingTests {
    @Test("Disabling the only requester leaves filing and emergency filing to nobody; removing approvers below a stage's count leaves too few")
    func gaps() throws {
        var w = try World()
        #expect(Staffing.gaps(of: Cast.project, state: w.state, now: w.now).isEmpty, "\(Staffing.gaps(of: Cast.project, state: w.state, now: w.now))")
        let riley = Cast.requester.name
        let opened = try #require(Staffing.opened(by: w.signedByAdmin(.disablePrincipal(name: riley)), state: w.state, actor: Cast.administrator.name, now: w.now))
        let what = Set(opened.map(\.what))
        #expect(what.contains("filing") && what.contains("emergency filing"), "\(opened)")
        // Emergency filers must be requesters too, and the gap says so.
        let emergency = try #require(opened.first { $0.what == "emergency filing" })
        #expect(emergency.description.contains("who is also one of requesters; nobody can"), "\(emergency)")
        #expect(opened.allSatisfy { $0.available.isEmpty || $0.what.hasSuffix("(approvals)") })
        // The approved stage needs 2 approvers (riley, morgan, sam, pat hold it): removing two leaves enough, three not.
        for member in [Cast.releaseManager.name, Cast.secondReleaseManager.name] {
            #expect(try #require(Staffing.opened(by: w.signedByAdmin(.removeMember(group: Cast.Group.releaseManagers, member: member)), state: w.state, actor: Cast.administrator.name, now: w.now)).isEmpty)
            try w.admin(.removeMember(group: Cast.Group.releaseManagers, member: member))
        }
        let last = try #require(Staffing.opened(by: w.signedByAdmin(.removeMember(group: Cast.Group.releaseManagers, member: Cast.complianceReleaseManager.name)), state: w.state, actor: Cast.administrator.name, now: w.now))
        #expect(last.contains { $0.what == "approved (approvals)" && $0.needed == 2 && $0.available == [riley] }, "\(last)")
        // A decider whose key is revoked cannot sign in a regulated project: they no longer count.
        let pat = Cast.complianceReleaseManager.name
        try w.admin(.revokeKey(principal: pat, fingerprint: w.keys[pat]!.publicKey.fingerprint))
        #expect(Staffing.gaps(of: Cast.project, state: w.state, now: w.now).contains { $0.what == "approved (approvals)" && $0.available == [riley] })
        // A refused command opens nothing to report: nil.
        #expect(Staffing.opened(by: .disablePrincipal(name: riley), state: w.state, actor: Cast.outsider.name, now: w.now) == nil)
    }
}

/// Issue 29, part 5: "can supply" lists name delegates in force and leave out who cannot sign.
@Suite("Can-supply lists (pure)")
struct CanSupplyTests {
    @Test("A delegate in force can supply the delegator's approval; a decider whose key was marked compromised cannot; decide --for finds the stage")
    func canSupply() throws {
        var w = try World()
        let id = try w.file()
        let morgan = Cast.releaseManager.name, sam = Cast.secondReleaseManager.name, quinn = Cast.platformEngineer.name
        func approvers() throws -> [String] {
            let workflow = try #require(w.state.workflow(for: w.request(id))?.workflow)
            let stage = try #require(workflow.stages.first { $0.name == "approved" })
            let status = Policy.evaluate(w.request(id), stage: stage, workflow: workflow, state: w.state, now: w.now)
            return try #require(status.conditions.first { $0.rule == "approvals" }).whoCanSupply
        }
        #expect(try approvers().contains(sam) && !(try approvers().contains(quinn)))
        let spec = DelegationSpec(delegate: quinn, start: w.now, end: w.now + 86_400_000, project: Cast.project, role: nil)
        try w.ok(PolicyTests.delegating(w, spec, by: morgan), as: morgan)
        #expect(try approvers().contains(quinn), "the delegate in force supplies it for morgan")
        #expect(Policy.awaiting(w.request(id), delegate: quinn, state: w.state, now: w.now)[morgan]?.contains("approved") == true)
        #expect(Policy.awaiting(w.request(id), delegate: quinn, state: w.state, now: w.now + 2 * 86_400_000).isEmpty, "not once the delegation ended")
        try w.admin(.revokeKey(principal: sam, fingerprint: w.keys[sam]!.publicKey.fingerprint, compromisedSince: w.now))
        #expect(!(try approvers().contains(sam)), "sam's only key was marked compromised: sam cannot sign")
    }
}

/// Issue 29, part 3: the access review (pure).
@Suite("Access review (pure)")
struct AccessReviewTests {
    @Test("Now, at a time before an offboarding, and a period's decisions counted or superseded; through groups, directories, delegations, administration")
    func review() throws {
        var w = try World()
        let morgan = Cast.releaseManager.name, sam = Cast.secondReleaseManager.name, quinn = Cast.platformEngineer.name
        let before = w.state
        let beforeTime = w.now
        func approvers(_ state: SignoffState, at time: Int64) -> [AccessReview.Holder] {
            AccessReview.duties(project: Cast.project, environment: "prod", state: state, at: time).first { $0.stage == "approved" && $0.duty.hasPrefix("approves") }?.holders ?? []
        }
        #expect(approvers(before, at: beforeTime).map(\.principal).contains(sam))
        #expect(approvers(before, at: beforeTime).first { $0.principal == sam }?.through == ["group \(Cast.Group.releaseManagers)"])
        // sam is offboarded; morgan delegates to quinn; release-managers is handed to a directory.
        try w.admin(.disablePrincipal(name: sam))
        let spec = DelegationSpec(delegate: quinn, start: w.now, end: w.now + 86_400_000, project: Cast.project, role: nil)
        try w.ok(PolicyTests.delegating(w, spec, by: morgan), as: morgan)
        try w.admin(.connectDirectory(name: "corp", tokenID: "t"))
        try w.admin(.linkGroup(group: Cast.Group.releaseManagers, directory: "corp"))
        let now = approvers(w.state, at: w.now)
        #expect(!now.map(\.principal).contains(sam), "sam is disabled now")
        #expect(approvers(before, at: beforeTime).map(\.principal).contains(sam), "and could act before")
        #expect(now.first { $0.principal == morgan }?.through == ["group \(Cast.Group.releaseManagers) (directory corp)"])
        #expect(now.first { $0.principal == quinn }?.through.first?.hasPrefix("delegation DLG-1 from \(morgan)") == true, "\(now)")
        let administers = AccessReview.duties(project: Cast.project, state: w.state, at: w.now).first { $0.duty == "administers" }
        #expect(administers?.holders.map(\.principal) == [Cast.administrator.name])
        // Project administrators whose group a directory keeps say so.
        try w.admin(.createGroup(name: "churn-leads"))
        try w.admin(.addMember(group: "churn-leads", member: Cast.deployer.name))
        try w.admin(.linkGroup(group: "churn-leads", directory: "corp"))
        var roles = Cast.roles
        roles[ProjectAdministration.role] = ["churn-leads"]
        try w.admin(.updateProject(ProjectSpec(key: Cast.project, regulated: true, environments: Cast.environments, roles: roles)))
        let leads = AccessReview.duties(project: Cast.project, state: w.state, at: w.now).first { $0.duty == "administers" }?.holders.first { $0.principal == Cast.deployer.name }
        #expect(leads?.through == ["group churn-leads (project-admins, directory corp)"], "\(String(describing: leads))")
        // Decisions in a period: one counted, one superseded by a revision.
        let id = try w.file()
        try w.approve(id, stage: "compliance-reviewed", as: Cast.complianceOfficer.name)
        try w.ok(.revise(request: id, bundle: nil, digest: World.otherDigest), as: Cast.requester.name)
        w.now += 1000
        try w.approve(id, stage: "compliance-reviewed", as: Cast.complianceOfficer.name)
        let actions = AccessReview.actions(project: Cast.project, state: w.state, from: beforeTime, to: w.now + 1)
        #expect(actions.count == 2 && actions.filter(\.counted).count == 1, "\(actions)")
        #expect(actions.first { !$0.counted }?.note.hasPrefix("superseded") == true)
        #expect(AccessReview.actions(project: Cast.project, state: w.state, from: w.now + 1, to: w.now + 2).isEmpty)
        // Who may review: administrators, auditors, the project's administrators — nobody else.
        #expect(AccessReview.mayReview(project: Cast.project, principal: Cast.administrator.name, state: w.state))
        #expect(!AccessReview.mayReview(project: Cast.project, principal: Cast.requester.name, state: w.state))
    }
}

/// Issue 29: what exports say of directories, project administrators and delegations (format 5), read alike by both
/// verifiers.
@Suite("Exports of directory and project administration")
struct DirectoryExportTests {
    @Test("administration.csv names each change's subject; a directory's entries are its own; both verifiers accept the export")
    func export() async throws {
        var w = try DirectoryTests.world()
        try w.admin(.connectDirectory(name: "corp", tokenID: "t"))
        var change = DirectoryChange()
        change.addUsers = ["kim"]
        change.createGroups = ["churn-reviewers"]
        change.addMembers = [GroupMembership(group: "churn-reviewers", member: "kim")]
        try w.ok(.directoryChange(change), as: ConnectedDirectory.actor("corp"))
        try w.admin(.linkGroup(group: Cast.Group.platform, directory: "corp"))
        let lee = DirectoryTests.lead
        try w.ok(AdministrationTests.signed(w, .removeMember(group: Cast.Group.deployers, member: Cast.deployer.name), by: [lee]), as: lee)
        let exported = try ExportedWorld(w, filter: AuditExportFilter(project: Cast.project))
        #expect(exported.builder.problems.isEmpty, "\(exported.builder.problems)")
        let administration = try exported.sink.text("administration.csv")
        for row in [
            ",directory.connected,ada,corp,ada,yes\r\n", ",principal.added,directory:corp,kim,,unsigned\r\n",
            ",group.created,directory:corp,churn-reviewers,,unsigned\r\n", ",group.member-added,directory:corp,kim joins churn-reviewers,,unsigned\r\n",
            ",group.linked,ada,platform linked to corp,ada,yes\r\n", ",group.member-removed,\(lee),dana leaves churn-deployers,\(lee),yes\r\n",
        ] {
            #expect(administration.contains(row), "\(row) in \(administration)")
        }
        #expect(administration.contains(",project.updated,ada,churn-model (regulated) "), "\(administration)")
        try await ExportFormatTests.expectBothVerifiersAccept(exported)
    }
}

/// Issue 30, part 1: break-glass through a freeze, signed and for one request.
@Suite("Freeze exemptions (pure)")
struct FreezeExemptionTests {
    /// The red team's finding: administrators exempted a request's hotfix from a freeze; its requester then revised it to
    /// another bundle, had it approved again, and deployed that through the freeze, which nobody had exempted it from.
    @Test("An exemption is of the revision administrators exempted: revised to another bundle, the request is held by the freeze again (and the gate says so), and the new revision may be exempted anew")
    func exemptionOfRevision() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        try w.admin(.addFreeze(FreezeSpec(environment: "prod", project: Cast.project, from: w.now, until: w.now + 86_400_000, reason: "quarter-end close")))
        func held() -> Bool {
            Engine.deployRefusals(w.request(id), environment: "prod", digest: w.request(id).digest, state: w.state, actor: Cast.deployer.name, now: w.now)
                .contains { $0.rule == "gate.freeze" }
        }
        #expect(held())
        w.now += 1000
        try w.admin(.exemptFromFreeze(id: "FRZ-1", request: id, reason: "hotfix reviewed"))
        #expect(!held())
        w.now += 1000
        try w.ok(.revise(request: id, bundle: "other.zip", digest: World.otherDigest), as: Cast.requester.name)
        #expect(held(), "a revision is another bundle: the exemption of the one before does not let it through")
        #expect(w.state.freezes["FRZ-1"]?.exemption(for: w.request(id)) == nil)
        let workflow = try #require(w.state.workflow(for: w.request(id))?.workflow)
        let gate = Policy.evaluate(w.request(id), stage: workflow.stages.last!, workflow: workflow, state: w.state, now: w.now, actor: Cast.deployer.name)
        #expect(!gate.conditions.contains { $0.rule == "freeze" && $0.met }, "\(gate.conditions)")
        #expect(gate.conditions.contains { $0.rule == "freeze" && !$0.met && $0.detail.contains("FRZ-1") }, "\(gate.conditions)")
        // The new revision, exempted anew (not refused as already exempted), passes; so would no other request.
        w.now += 1000
        try w.admin(.exemptFromFreeze(id: "FRZ-1", request: id, reason: "the rebuilt bundle, reviewed too"))
        #expect(!held())
        #expect(w.state.freezes["FRZ-1"]?.exemption(for: w.request(id))?.reason == "the rebuilt bundle, reviewed too")
        w.refused(w.signedByAdmin(.exemptFromFreeze(id: "FRZ-1", request: id, reason: "again")), as: Cast.administrator.name, rule: "input.duplicate")
    }

    @Test("An exemption lets one request through a freeze, signed as lifting it; the other requests stay held; refusals")
    func exemption() async throws {
        var w = try World()
        let first = try w.approvedProdRequest()
        w.now += 1000
        let second = try w.approvedProdRequest()
        let freeze = FreezeSpec(environment: "prod", project: Cast.project, from: w.now, until: w.now + 86_400_000, reason: "quarter-end close")
        try w.admin(.addFreeze(freeze))
        func held(_ id: String) -> Bool {
            Engine.deployRefusals(w.request(id), environment: "prod", digest: w.request(id).digest, state: w.state, actor: Cast.deployer.name, now: w.now)
                .contains { $0.rule == "gate.freeze" }
        }
        #expect(held(first) && held(second))
        let exempt = Command.exemptFromFreeze(id: "FRZ-1", request: first, reason: "checkout is down; fix approved")
        w.refused(exempt, as: Cast.administrator.name, rule: "admin.signature-required")
        w.refused(w.signedByAdmin(exempt), as: Cast.requester.name, rule: "admin.required")
        w.refused(w.signedByAdmin(.exemptFromFreeze(id: "FRZ-1", request: first, reason: " ")), as: Cast.administrator.name, rule: "freeze.invalid")
        w.refused(w.signedByAdmin(.exemptFromFreeze(id: "FRZ-9", request: first, reason: "x")), as: Cast.administrator.name, rule: "input.unknown")
        let qa = try w.file(env: "qa")
        w.refused(w.signedByAdmin(.exemptFromFreeze(id: "FRZ-1", request: qa, reason: "x")), as: Cast.administrator.name, rule: "freeze.invalid")
        try w.admin(exempt)
        #expect(!held(first), "the exempted request passes the freeze")
        // The request says so: a met freeze condition naming the exemption.
        let workflow = try #require(w.state.workflow(for: w.request(first))?.workflow)
        let deploy = Policy.evaluate(w.request(first), stage: workflow.stages.last!, workflow: workflow, state: w.state, now: w.now, actor: Cast.deployer.name)
        #expect(deploy.conditions.contains { $0.rule == "freeze" && $0.met && $0.detail.contains("exempted from freeze FRZ-1") }, "\(deploy.conditions)")
        #expect(held(second), "nothing else passes it")
        #expect(w.state.freezes["FRZ-1"]?.exemptions?[first]?.reason == "checkout is down; fix approved")
        w.refused(w.signedByAdmin(exempt), as: Cast.administrator.name, rule: "input.duplicate")
        #expect(w.request(first).exemptedFrom == ["FRZ-1"])
        try w.ok(.recordDeployment(request: first, outcome: .succeeded, note: "through the freeze"), as: Cast.deployer.name)
        // Break-glass is reviewed afterwards: the deployment owes the retrospective an emergency owes; the second, not exempted, none.
        #expect(w.request(first).retrospectiveDue != nil && w.request(second).retrospectiveDue == nil)
        var exported = try ExportedWorld(w, filter: AuditExportFilter(project: Cast.project))
        let owed = try exported.sink.text("requests.md")
        #expect(owed.contains("let through freeze FRZ-1** (break-glass): checkout is down; fix approved") && owed.contains("retrospective review: NOT DONE"), "\(owed)")
        // The export names it and both verifiers read it.
        #expect(try exported.sink.text("administration.csv").contains(",freeze.exempted,ada,FRZ-1 lets \(first) through,ada,yes\r\n"))
        #expect(try exported.sink.text("SUMMARY.md").contains("## Flagged: requests let through a freeze"))
        #expect(try exported.sink.text("SUMMARY.md").contains("without their retrospective review: \(first)"))
        try await ExportFormatTests.expectBothVerifiersAccept(exported)
        // The compliance officer reviews it, signed; the export then says it is done.
        try w.ok(w.retrospective(first, by: Cast.complianceOfficer.name, comment: "freeze exemption reviewed: fix was minimal"), as: Cast.complianceOfficer.name)
        exported = try ExportedWorld(w, filter: AuditExportFilter(project: Cast.project))
        #expect(try exported.sink.text("requests.md").contains("retrospective review: done"))
        try await ExportFormatTests.expectBothVerifiersAccept(exported)
    }
}
