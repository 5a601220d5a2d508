import Foundation
import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Security round 3 in the engine: a session cannot mark a key compromised, the quorum covers freezes, auditors and
/// organisation-wide webhooks, changes that only take authority away need one signature, and an administrator acting
/// on someone else's request, delegation or token makes a signed administrative change.
@Suite("Administrative changes: who may, signed how, under which quorum")
struct AdministrationTests {
    static let morgan = Cast.releaseManager.name
    static let bob = "bob"

    /// The world with a second administrator (bob) and `admin_quorum 2`.
    static func quorumWorld() throws -> World {
        var w = try World()
        try w.addUser(bob, groups: [], administrator: true)
        try w.admin(.setAdminQuorum(2))
        return w
    }

    /// `command` signed by the named administrators' keys.
    static func signed(_ w: World, _ command: Command, by signers: [String], time: Int64? = nil) -> Command {
        let statement = AdminApproval(change: command.adminChange!, time: time ?? w.now)
        var envelope = statement.signed(with: w.keys[signers[0]]!)
        for signer in signers.dropFirst() { envelope.addSignature(with: w.keys[signer]!) }
        return command.approved(by: envelope)
    }

    @Test("A person marks their own key compromised only signed by another current key of theirs — never by a session, never by the key marked")
    func ownCompromise() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let morgan = Self.morgan
        let stolen = w.keys[morgan]!
        let fingerprint = stolen.publicKey.fingerprint
        let since = w.now
        let mark = Command.revokeKey(principal: morgan, fingerprint: fingerprint, compromisedSince: since)
        // The red team's attack: the session alone (no signature) → refused, and the approvals still count.
        w.refused(mark, as: morgan, rule: "key.compromise-signature")
        // Signed by the very key being marked: whoever stole it holds it.
        w.refused(Self.signed(w, mark, by: [morgan]), as: morgan, rule: "key.compromise-signature")
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: w.request(id).digest, state: w.state, actor: nil, now: w.now)
            .allSatisfy { $0.rule != "gate.compromised" })
        // With a second key of morgan's, enrolled by the administrator, the marking is morgan's own to sign.
        let second = Ed25519.SigningKey()
        try w.admin(.enrollKey(principal: morgan, key: try NoteVerifierKey(name: morgan, publicKey: second.publicKey)))
        w.keys["morgan-2"] = second
        // Before the key was enrolled, and in the future: refused whoever signs.
        let enrolled = w.state.principals[morgan]!.keys.first { $0.fingerprint == Ed25519.PublicKey.fingerprintHex(fingerprint) }!.enrolledAt
        w.refused(
            Self.signed(w, .revokeKey(principal: morgan, fingerprint: fingerprint, compromisedSince: enrolled - 1), by: ["morgan-2"]), as: morgan,
            rule: "key.compromised-since")
        w.refused(
            Self.signed(w, .revokeKey(principal: morgan, fingerprint: fingerprint, compromisedSince: w.now + 60_000), by: ["morgan-2"]), as: morgan,
            rule: "key.compromised-since")
        // Another person's key cannot vouch for morgan's own revocation.
        w.refused(Self.signed(w, mark, by: [Cast.secondReleaseManager.name]), as: morgan, rule: "signature.wrong-key")
        let events = try w.ok(Self.signed(w, mark, by: ["morgan-2"]), as: morgan)
        guard case .keyRevoked(let revoked)? = events.first else { Issue.record("no key.revoked: \(events)"); return }
        #expect(revoked.approval != nil && revoked.compromisedSince != nil)
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: w.request(id).digest, state: w.state, actor: nil, now: w.now)
            .contains { $0.rule == "gate.compromised" })
        // The export checks the owner's signature like an administrator's: its row says yes, signed by morgan.
        let administration = try ExportBuilderTests.export(w).text("administration.csv")
        #expect(administration.contains(",key.revoked,\(morgan),\(morgan),\(morgan),yes\r\n"), "\(administration)")
    }

    @Test("Revoking one's own key plainly stays a session's to do (it only removes access); an administrator's own key needs administrators")
    func plainOwnRevocation() throws {
        var w = try World()
        let morgan = Self.morgan
        try w.ok(.revokeKey(principal: morgan, fingerprint: w.keys[morgan]!.publicKey.fingerprint), as: morgan)
        #expect(w.state.principals[morgan]!.keys.allSatisfy { $0.revokedAt != nil })
        let ada = Cast.administrator.name
        w.refused(.revokeKey(principal: ada, fingerprint: w.keys[ada]!.publicKey.fingerprint), as: ada, rule: "admin.signature-required")
    }

    @Test("Marking a key compromised is signed by administrators even in a ledger with no regulated project")
    func compromiseAlwaysSigned() throws {
        var w = try World()
        // A ledger of its own, unregulated: only the bootstrap administrator and one user with a key.
        var plain = SignoffState()
        let ada = w.keys[Cast.administrator.name]!
        let riley = Ed25519.SigningKey()
        let now = w.now
        for (command, actor) in [
            (Command.bootstrapAdministrator(name: "ada", key: try NoteVerifierKey(name: "ada", publicKey: ada.publicKey)), "system"),
            (.addUser(name: "riley", administrator: false, key: try NoteVerifierKey(name: "riley", publicKey: riley.publicKey)), "ada"),
        ] {
            guard case .success(let events) = Engine.execute(command, on: plain, actor: actor, now: now) else { Issue.record("refused \(command)"); return }
            for event in events { plain.apply(event, actor: actor, at: now) }
        }
        let mark = Command.revokeKey(principal: "riley", fingerprint: riley.publicKey.fingerprint, compromisedSince: now)
        guard case .failure(let refusal) = Engine.execute(mark, on: plain, actor: "ada", now: now + 1000) else { Issue.record("accepted unsigned"); return }
        #expect(refusal.rule == "key.compromise-signature")
        let signedMark = mark.approved(by: AdminApproval(change: mark.adminChange!, time: now + 1000).signed(with: ada))
        guard case .success = Engine.execute(signedMark, on: plain, actor: "ada", now: now + 1000) else { Issue.record("refused signed"); return }
        // A plain revocation there needs no signature (the ledger has no regulated project).
        let plainRevoke = Command.revokeKey(principal: "riley", fingerprint: riley.publicKey.fingerprint)
        guard case .success = Engine.execute(plainRevoke, on: plain, actor: "ada", now: now + 1000) else { Issue.record("refused plain"); return }
    }

    @Test("A project naming groups that do not exist is refused once, naming them all, with the command that creates them (signed where changes are)")
    func missingGroupsNamedAtOnce() throws {
        var w = try World()
        let spec = ProjectSpec(
            key: "fraud-model", regulated: false, environments: ["dev": "standard"],
            roles: ["requesters": ["fraud-ops"], "approvers": ["risk", "ml-leads"], "deployers": ["model-review", "risk"]])
        guard case .failure(let refusal) = w.run(w.signedByAdmin(.createProject(spec, approval: nil)), as: Cast.administrator.name) else {
            Issue.record("a project naming four missing groups (one of them twice) was created")
            return
        }
        #expect(refusal.rule == "project.invalid")
        // The world has a regulated project: group changes are signed, so the command names a key.
        #expect(refusal.message == "no groups fraud-ops, ml-leads, model-review, risk; create each with `signoff group add NAME --as ADMIN --key ADMIN.key`", "\(refusal.message)")
        let oneMissing = ProjectSpec(key: "fraud-model", regulated: false, environments: ["dev": "standard"], roles: ["requesters": ["risk"]])
        guard case .failure(let one) = w.run(w.signedByAdmin(.createProject(oneMissing, approval: nil)), as: Cast.administrator.name) else {
            Issue.record("a project naming a missing group was created")
            return
        }
        #expect(one.message == "no group risk; create it with `signoff group add risk --as ADMIN --key ADMIN.key`", "\(one.message)")
    }

    @Test("Under admin-quorum 2 one administrator key neither adds nor lifts a freeze on a regulated project, nor adds an auditor, nor subscribes a webhook organisation-wide")
    func quorumCoversWhatRegulatedProjectsRelyOn() throws {
        var w = try Self.quorumWorld()
        let ada = Cast.administrator.name
        let yearEnd = FreezeSpec(environment: "prod", project: nil, from: w.now, until: w.now + 30 * 86_400_000, reason: "year-end close")
        w.refused(Self.signed(w, .addFreeze(yearEnd), by: [ada]), as: ada, rule: "admin.quorum")
        let onProject = FreezeSpec(environment: "prod", project: Cast.project, from: w.now, until: w.now + 86_400_000, reason: "audit")
        w.refused(Self.signed(w, .addFreeze(onProject), by: [ada]), as: ada, rule: "admin.quorum")
        try w.ok(Self.signed(w, .addFreeze(yearEnd), by: [ada, Self.bob]), as: ada)
        w.refused(Self.signed(w, .liftFreeze(id: "FRZ-1"), by: [ada]), as: ada, rule: "admin.quorum")
        try w.ok(Self.signed(w, .liftFreeze(id: "FRZ-1"), by: [ada, Self.bob]), as: ada)
        // A freeze on an unregulated project's environment is one administrator's.
        try w.admin(.createProject(ProjectSpec(key: "scratch", regulated: false, environments: ["dev": "standard"], roles: Cast.roles), approval: nil))
        try w.ok(Self.signed(w, .addFreeze(FreezeSpec(environment: "dev", project: nil, from: w.now, until: w.now + 86_400_000, reason: "move")), by: [ada]), as: ada)
        try w.ok(Self.signed(w, .liftFreeze(id: "FRZ-2"), by: [ada]), as: ada)
        // Auditors read every project.
        try w.admin(.createGroup(name: Access.auditorsGroup))
        w.refused(Self.signed(w, .addMember(group: Access.auditorsGroup, member: Cast.outsider.name), by: [ada]), as: ada, rule: "admin.quorum")
        // Organisation-wide webhooks and a regulated project's carry its trail out.
        let everywhere = WebhookSpec(url: "https://hooks.example.com/all", project: nil, events: ["request.approved"], format: .standard)
        w.refused(Self.signed(w, .addWebhook(everywhere), by: [ada]), as: ada, rule: "admin.quorum")
        let regulated = WebhookSpec(url: "https://hooks.example.com/churn", project: Cast.project, events: ["request.approved"], format: .standard)
        w.refused(Self.signed(w, .addWebhook(regulated), by: [ada]), as: ada, rule: "admin.quorum")
        try w.ok(Self.signed(w, .addWebhook(everywhere), by: [ada, Self.bob]), as: ada)
        let scratch = WebhookSpec(url: "https://hooks.example.com/scratch", project: "scratch", events: ["request.approved"], format: .standard)
        try w.ok(Self.signed(w, .addWebhook(scratch), by: [ada]), as: ada)
        // Administrators themselves: one key may not add one.
        w.refused(Self.signed(w, .addUser(name: "mallory", administrator: true, key: nil), by: [ada]), as: ada, rule: "admin.quorum")
    }

    @Test("Changes that only take authority away need one signature — but not against an administrator, whose loss would shrink the quorum")
    func takingAwayNeedsOneSignature() throws {
        var w = try Self.quorumWorld()
        let ada = Cast.administrator.name
        let morgan = Self.morgan
        try w.ok(Self.signed(w, .removeMember(group: Cast.Group.releaseManagers, member: Cast.secondReleaseManager.name), by: [ada]), as: ada)
        try w.ok(Self.signed(w, .disablePrincipal(name: Cast.complianceOfficer.name), by: [ada]), as: ada)
        try w.ok(Self.signed(w, .revokeKey(principal: morgan, fingerprint: w.keys[morgan]!.publicKey.fingerprint), by: [ada]), as: ada)
        // One stolen administrator key revoking the other's key or disabling them would leave itself the only signer.
        w.refused(Self.signed(w, .revokeKey(principal: Self.bob, fingerprint: w.keys[Self.bob]!.publicKey.fingerprint), by: [ada]), as: ada, rule: "admin.quorum")
        w.refused(Self.signed(w, .disablePrincipal(name: Self.bob), by: [ada]), as: ada, rule: "admin.quorum")
        // Marking a relied-on person's key compromised takes back signed decisions: the quorum.
        let dana = Cast.deployer.name
        let mark = Command.revokeKey(principal: dana, fingerprint: w.keys[dana]!.publicKey.fingerprint, compromisedSince: w.now)
        w.refused(Self.signed(w, mark, by: [ada]), as: ada, rule: "admin.quorum")
        try w.ok(Self.signed(w, mark, by: [ada, Self.bob]), as: ada)
    }

    @Test("Marking a key compromised takes back what it vouched for since: the keys its owner self-enrolled with it, and the delegations it signed")
    func compromiseReach() throws {
        var w = try World()
        let ada = Cast.administrator.name
        let morgan = Self.morgan
        let casey = Cast.complianceOfficer.name
        // Before the theft, morgan self-enrolled a laptop key with the key that is later stolen: it stays.
        let laptop = Ed25519.SigningKey()
        let laptopLine = try NoteVerifierKey(name: morgan, publicKey: laptop.publicKey)
        try w.ok(.enrollOwnKey(key: laptopLine, proof: SelfEnrolmentTests.proof(w, principal: morgan, key: laptopLine, signedBy: morgan)), as: morgan)
        // casey grants a delegation before the theft: it stays.
        w.now += 300_000
        let before = DelegationSpec(delegate: Cast.deployer.name, start: w.now, end: w.now + 86_400_000, project: nil, role: nil)
        try w.ok(PolicyTests.delegating(w, before, by: casey), as: casey)
        w.now += 60_000
        let theft = w.now
        // The thief, with morgan's key, enrols a key of their own, and with it another (what a chain of proofs reaches).
        let thief = Ed25519.SigningKey()
        let thiefLine = try NoteVerifierKey(name: morgan, publicKey: thief.publicKey)
        try w.ok(.enrollOwnKey(key: thiefLine, proof: SelfEnrolmentTests.proof(w, principal: morgan, key: thiefLine, signedBy: morgan)), as: morgan)
        w.keys["thief"] = thief
        let second = Ed25519.SigningKey()
        let secondLine = try NoteVerifierKey(name: morgan, publicKey: second.publicKey)
        try w.ok(.enrollOwnKey(key: secondLine, proof: KeyEnrolmentStatement(principal: morgan, verifierKey: secondLine, time: w.now).signed(with: thief)), as: morgan)
        // casey's key, stolen too, grants a delegation to the thief's accomplice.
        let accomplice = DelegationSpec(delegate: Self.morgan, start: w.now, end: w.now + 86_400_000, project: nil, role: nil)
        try w.ok(PolicyTests.delegating(w, accomplice, by: casey), as: casey)
        let delegations = w.state.delegations.values.filter { $0.from == casey }.sorted { $0.id < $1.id }
        try #require(delegations.count == 2)
        w.now += 60_000

        let events = try w.admin(.revokeKey(principal: morgan, fingerprint: w.keys[morgan]!.publicKey.fingerprint, compromisedSince: theft))
        #expect(events.count == 3, "the stolen key and the two keys its proofs reached: \(events.map(\.kind))")
        let keys = w.state.principals[morgan]!.keys
        for line in [thiefLine, secondLine] {
            let key = try #require(keys.first { $0.fingerprint == line.publicKey.fingerprint })
            #expect(key.revokedAt != nil && key.compromisedSince == key.enrolledAt, "\(key)")
        }
        #expect(keys.first { $0.fingerprint == laptopLine.publicKey.fingerprint }?.revokedAt == nil, "vouched for before the theft: stays")
        // The thief's key signs nothing that counts any more.
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: Cast.ci.name)
        let byThief = DecisionStatement(request: w.request(id), stage: "approved", decision: .approve, actor: morgan, comment: "", time: w.now).signed(with: thief)
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: byThief), as: morgan, rule: "signature.revoked-key")

        // casey's key marked compromised since the theft: the delegation it granted then is revoked, the earlier one stays.
        let caseyEvents = try w.admin(.revokeKey(principal: casey, fingerprint: w.keys[casey]!.publicKey.fingerprint, compromisedSince: theft))
        #expect(caseyEvents.map(\.kind) == ["key.revoked", "delegation.revoked"], "\(caseyEvents.map(\.kind))")
        #expect(w.state.delegations[delegations[1].id]?.revokedAt != nil && w.state.delegations[delegations[0].id]?.revokedAt == nil)
        // Both verifiers agree on the export of this ledger.
        let exported = try ExportedWorld(w, filter: AuditExportFilter(project: Cast.project))
        #expect(exported.builder.problems.isEmpty, "\(exported.builder.problems)")
        _ = ada
    }

    @Test("One administrator key cannot bring a compromise marking under one signature by removing the owner from their groups first, nor silence an organisation-wide webhook")
    func quorumOnCompromiseAndWebhookRemoval() throws {
        var w = try Self.quorumWorld()
        let ada = Cast.administrator.name
        let sam = Cast.secondReleaseManager.name
        try w.ok(Self.signed(w, .removeMember(group: Cast.Group.releaseManagers, member: sam), by: [ada]), as: ada)
        let mark = Command.revokeKey(principal: sam, fingerprint: w.keys[sam]!.publicKey.fingerprint, compromisedSince: w.now)
        w.refused(Self.signed(w, mark, by: [ada]), as: ada, rule: "admin.quorum")
        let everywhere = WebhookSpec(url: "https://hooks.example.com/all", project: nil, events: ["request.approved"], format: .standard)
        try w.ok(Self.signed(w, .addWebhook(everywhere), by: [ada, Self.bob]), as: ada)
        let id = w.state.webhooks.keys.sorted().last!
        w.refused(Self.signed(w, .removeWebhook(id: id), by: [ada]), as: ada, rule: "admin.quorum")
        try w.ok(Self.signed(w, .removeWebhook(id: id), by: [ada, Self.bob]), as: ada)
    }

    /// Red team (round 4): an administrator's session alone revised another person's regulated request — another bundle
    /// under the requester's name, its signed approvals voided — while withdrawing it needed a signed approval. Nobody but
    /// the requester revises, in a regulated project or not; an administrator withdraws (signed) and files anew.
    @Test("Only its requester revises a request: an administrator and anyone else are refused, in a regulated environment and a standard one")
    func onlyTheRequesterRevises() throws {
        var w = try World()
        let ada = Cast.administrator.name
        let riley = Cast.requester.name
        for environment in ["prod", "qa"] {
            let id = try w.file(env: environment)
            let revise = Command.revise(request: id, bundle: "other.zip", digest: World.otherDigest)
            w.refused(revise, as: ada, rule: "request.owner")
            w.refused(revise, as: Self.morgan, rule: "request.owner")
            w.refused(revise, as: Cast.ci.name, rule: "request.owner")
            #expect(w.request(id).revision == 1 && w.request(id).digest == World.digest)
            let events = try w.ok(revise, as: riley)
            #expect(events.map(\.kind) == ["request.revised"])
            #expect(w.request(id).revision == 2 && w.request(id).digest == World.otherDigest)
        }
    }

    @Test("An administrator withdrawing another person's request, revoking their delegation or their token makes a signed administrative change")
    func actingOnSomeoneElses() throws {
        var w = try World()
        let ada = Cast.administrator.name
        let riley = Cast.requester.name
        let id = try w.file()
        let withdraw = Command.withdraw(request: id, reason: "stale")
        w.refused(withdraw, as: ada, rule: "admin.signature-required")
        w.refused(withdraw, as: Self.morgan, rule: "request.owner")
        let events = try w.ok(Self.signed(w, withdraw, by: [ada]), as: ada)
        guard case .requestWithdrawn(let withdrawn)? = events.first else { Issue.record("no request.withdrawn: \(events)"); return }
        #expect(withdrawn.approval != nil)
        // The requester's own withdrawal needs nothing, and records no approval.
        let own = try w.file()
        let ownEvents = try w.ok(.withdraw(request: own, reason: "mine"), as: riley)
        guard case .requestWithdrawn(let ownWithdrawn)? = ownEvents.first else { Issue.record("no request.withdrawn"); return }
        #expect(ownWithdrawn.approval == nil)

        let sam = Cast.secondReleaseManager.name
        try w.ok(PolicyTests.delegating(w, DelegationSpec(delegate: Self.morgan, start: w.now, end: w.now + 86_400_000, project: nil, role: nil), by: sam), as: sam)
        let dlg = try #require(w.state.delegations.keys.sorted().last)
        w.refused(.revokeDelegation(id: dlg), as: ada, rule: "admin.signature-required")
        w.refused(.revokeDelegation(id: dlg), as: riley, rule: "request.owner")
        try w.ok(Self.signed(w, .revokeDelegation(id: dlg), by: [ada]), as: ada)

        let token = Command.revokeToken(id: "tok-1", principal: Cast.ci.name)
        w.refused(token, as: ada, rule: "admin.signature-required")
        w.refused(token, as: riley, rule: "admin.required")
        let tokenEvents = try w.ok(Self.signed(w, token, by: [ada]), as: ada)
        guard case .tokenRevoked(let revoked)? = tokenEvents.first else { Issue.record("no token.revoked: \(tokenEvents)"); return }
        #expect(revoked.tokenID == "tok-1" && revoked.principal == Cast.ci.name && revoked.approval != nil)
        // The engine only records someone else's token, of someone who exists.
        w.refused(Self.signed(w, .revokeToken(id: "tok-2", principal: ada), by: [ada]), as: ada, rule: "input.text")
        w.refused(Self.signed(w, .revokeToken(id: "tok-3", principal: "nobody"), by: [ada]), as: ada, rule: "input.unknown")
        // The approval counts once.
        w.refused(Self.signed(w, token, by: [ada], time: w.now), as: ada, rule: "signature.replay")
        // Both verifiers read the new entries: the export's administration.csv has token.revoked and delegation.revoked signed.
        let administration = try ExportBuilderTests.export(w).text("administration.csv")
        #expect(administration.contains(",token.revoked,\(ada),\(Cast.ci.name) token tok-1,\(ada),yes\r\n") && administration.contains(",delegation.revoked,\(ada),DLG-1,\(ada),yes\r\n"), "\(administration)")
        // A delegation signed by who gave it shows as signed by them, with whom it names.
        #expect(administration.contains(",delegation.granted,\(sam),\(sam) to \(Self.morgan),\(sam),yes\r\n"), "\(administration)")
        // Administration before the ledger had a regulated project is marked so, not as a bare unsigned; what was signed
        // then says who signed.
        #expect(administration.contains(",group.created,\(ada),\(Cast.Group.ci),,unsigned-before-regulated\r\n"), "\(administration)")
        #expect(administration.contains(",group.member-added,\(ada),\(Cast.requester.name) joins \(Cast.Group.dataScience),\(ada),yes\r\n"), "\(administration)")
    }

    @Test("Both verifiers, ours and the Python one written from the spec, accept an export with an owner's own compromise, token.revoked, delegation.revoked and an administrator's withdrawal, each with its approval")
    func bothVerifiersReadTheNewEntries() async throws {
        var w = try World()
        let ada = Cast.administrator.name
        let morgan = Self.morgan
        _ = try w.approvedProdRequest()
        let second = Ed25519.SigningKey()
        try w.admin(.enrollKey(principal: morgan, key: try NoteVerifierKey(name: morgan, publicKey: second.publicKey)))
        w.keys["morgan-2"] = second
        w.now += 60_000
        try w.ok(Self.signed(w, .revokeKey(principal: morgan, fingerprint: w.keys[morgan]!.publicKey.fingerprint, compromisedSince: w.now - 60_000), by: ["morgan-2"]), as: morgan)
        let id = try w.file(env: "qa")
        try w.ok(Self.signed(w, .withdraw(request: id, reason: "stale"), by: [ada]), as: ada)
        let sam = Cast.secondReleaseManager.name
        try w.ok(PolicyTests.delegating(w, DelegationSpec(delegate: Cast.deployer.name, start: w.now, end: w.now + 86_400_000, project: nil, role: nil), by: sam), as: sam)
        try w.ok(Self.signed(w, .revokeDelegation(id: try #require(w.state.delegations.keys.sorted().last)), by: [ada]), as: ada)
        try w.ok(Self.signed(w, .revokeToken(id: "tok-9", principal: Cast.ci.name), by: [ada]), as: ada)
        let exported = try ExportedWorld(w, filter: AuditExportFilter(project: Cast.project))
        #expect(exported.builder.problems.isEmpty, "\(exported.builder.problems)")
        try await ExportFormatTests.expectBothVerifiersAccept(exported)
    }

    /// One command of every administrative action: the catalogue's rows are each exercised, and a new action without a
    /// sample here fails.
    static func sample(_ action: AdminAction) -> Command {
        let key = try! NoteVerifierKey(name: "x", publicKey: Ed25519.SigningKey().publicKey)
        let spec = ProjectSpec(key: "p", regulated: false, environments: ["qa": "standard"], roles: [:])
        return switch action {
        case .userAdd: .addUser(name: "x", administrator: false, key: nil)
        case .serviceAccountAdd: .addServiceAccount(name: "x", key: nil)
        case .keyEnroll: .enrollKey(principal: "x", key: key)
        case .keyRevoke: .revokeKey(principal: "x", fingerprint: "00")
        case .principalDisable: .disablePrincipal(name: "x")
        case .principalEnable: .enablePrincipal(name: "x")
        case .groupCreate: .createGroup(name: "x")
        case .groupAddMember: .addMember(group: "g", member: "x")
        case .groupRemoveMember: .removeMember(group: "g", member: "x")
        case .workflowApply: .applyWorkflow(source: "", file: "w.yaml")
        case .projectCreate: .createProject(spec, approval: nil)
        case .projectUpdate: .updateProject(spec)
        case .adminQuorum: .setAdminQuorum(2)
        case .tokenIssue: .issueServiceToken(tokenID: "t", principal: "x", scopes: [], lifetimeHours: 1)
        case .tokenRevoke: .revokeToken(id: "t", principal: "x")
        case .delegationRevoke: .revokeDelegation(id: "DLG-1")
        case .requestWithdraw: .withdraw(request: "REQ-1", reason: "")
        case .freezeAdd: .addFreeze(FreezeSpec(environment: "qa", project: nil, from: 0, until: 1, reason: "r"))
        case .freezeLift: .liftFreeze(id: "FRZ-1")
        case .freezeExempt: .exemptFromFreeze(id: "FRZ-1", request: "REQ-1", reason: "r")
        case .webhookAdd: .addWebhook(WebhookSpec(url: "https://x", project: nil, events: [], format: .standard))
        case .webhookRemove: .removeWebhook(id: "WH-1")
        case .issuerTrust: .trustIssuer(IssuerSpec(name: "x", url: "https://x", audience: "a", uses: [.people], personClaim: .sub))
        case .issuerDistrust: .distrustIssuer(name: "x")
        case .directoryConnect: .connectDirectory(name: "x", tokenID: "t")
        case .directoryDisconnect: .disconnectDirectory(name: "x")
        case .groupLink: .linkGroup(group: "g", directory: "x")
        case .groupUnlink: .linkGroup(group: "g", directory: nil)
        }
    }

    @Test("Every administrative action has its row, made by its command; README's security model lists the catalogue exactly")
    func catalogue() throws {
        for action in AdminAction.allCases {
            #expect(Self.sample(action).adminAction == action, "\(action)")
            #expect(!action.rule.command.isEmpty && !action.rule.when.isEmpty)
        }
        #expect(Set(AdministrativeChangeRule.all.map(\.action)).count == AdminAction.allCases.count)
        let readme = try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let table = AdministrativeChangeRule.markdownTable
        if ProcessInfo.processInfo.environment["SIGNOFF_UPDATE_SCHEMA"] == "1", !readme.contains(table) {
            try (readme.replacingOccurrences(of: "\nTABLE\n", with: "\n" + table)).write(
                to: TestSupport.projectRoot.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        }
        #expect(readme.contains(table), "README.md must hold the catalogue of administrative changes (SIGNOFF_UPDATE_SCHEMA=1 writes it where README says TABLE):\n\(table)")
    }
}
