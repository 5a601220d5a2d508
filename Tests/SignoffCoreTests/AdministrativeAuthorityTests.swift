import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffTestSupport
import Testing

/// Issue 31: administrative authority provable offline, and the spec points a second verifier raised — each case an
/// export forged *with the ledger key* (only its holder could make it), checked by both verifiers, ours and the Python
/// one written from `schema/audit-export.md`, which must reach the same verdict and name the same step.
@Suite("Administrative authority and the spec points, offline")
struct AdministrativeAuthorityTests {
    static let ada = Cast.administrator.name
    static let bob = "bob"
    static let morgan = Cast.releaseManager.name

    struct Verdicts {
        let swift: String?
        let pythonStatus: Int32
        let python: String
    }

    /// Both verifiers' verdicts on the export of `entries` (cut and signed with the ledger key), after `tamper` has
    /// changed the written folder.
    static func verdicts(_ entries: [LedgerEntry], filter: AuditExportFilter = AuditExportFilter(), tamper: (URL) throws -> Void = { _ in }) async throws -> Verdicts {
        let exported = try ExportedWorld(entries: entries, filter: filter)
        let folder = try TestSupport.temporaryDirectory("signoff-authority")
        defer { try? FileManager.default.removeItem(at: folder) }
        let export = folder.appendingPathComponent("export")
        try exported.write(to: export)
        try tamper(export)
        let keyFile = folder.appendingPathComponent("LEDGER.pub")
        try ExportFormatTests.writeKey(ExportedWorld.verifierKey, to: keyFile)
        let report = AuditExportVerifier.verify(directory: export, trustedKey: ExportedWorld.verifierKey)
        let python = try await ExportFormatTests.python(export, key: keyFile)
        return Verdicts(swift: report.failure, pythonStatus: python.status, python: python.stdout + python.stderr)
    }

    /// Both refuse, at `step`; ours says `reason`.
    static func expectRefused(_ v: Verdicts, step: Int, _ reason: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(v.swift?.hasPrefix("step \(step):") == true && v.swift?.contains(reason) == true, "ours: \(v.swift ?? "accepted")", sourceLocation: sourceLocation)
        #expect(v.pythonStatus == 1 && v.python.contains("FAILED: step \(step):"), "python: \(v.python)", sourceLocation: sourceLocation)
    }

    static func expectAccepted(_ v: Verdicts, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(v.swift == nil, "ours: \(v.swift ?? "")", sourceLocation: sourceLocation)
        #expect(v.pythonStatus == 0, "python: \(v.python)", sourceLocation: sourceLocation)
    }

    /// `entry` with its payload edited as JSON (and, optionally, another actor).
    static func edit(_ entry: LedgerEntry, actor: String? = nil, _ change: (inout [String: Any]) throws -> Void) throws -> LedgerEntry {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(entry.payload)) as? [String: Any])
        try change(&object)
        let payload = [UInt8](try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        return try with(entry, payload: payload, actor: actor)
    }

    static func with(_ e: LedgerEntry, payload: [UInt8], actor: String? = nil, sequence: UInt64? = nil) throws -> LedgerEntry {
        try LedgerEntry(
            sequence: sequence ?? e.sequence, timeMilliseconds: e.timeMilliseconds, kind: e.kind, project: e.project, environment: e.environment,
            actor: actor ?? e.actor, payload: payload)
    }

    /// A DSSE envelope as the JSON object an event holds.
    static func json(_ envelope: DSSEEnvelope) throws -> Any { try JSONSerialization.jsonObject(with: Data(envelope.jsonBytes())) }

    /// An approval of `change` at `time` signed by the named keys of `w`.
    static func approval(_ w: World, _ change: AdminChange, time: Int64, by signers: [String]) -> DSSEEnvelope {
        var envelope = AdminApproval(change: change, time: time).signed(with: w.keys[signers[0]]!)
        for signer in signers.dropFirst() { envelope.addSignature(with: w.keys[signer]!) }
        return envelope
    }

    /// The world with zoe (a keyless user) just added to `compliance`, a group the regulated project binds: the last
    /// entry is that signed change.
    static func memberWorld() throws -> World {
        var w = try World()
        _ = try w.approvedProdRequest()
        try w.admin(.addUser(name: "zoe", administrator: false, key: nil))
        try w.admin(.addMember(group: Cast.Group.compliance, member: "zoe"))
        return w
    }

    @Test("A genuine world passes both; an approval by a non-administrator, by a key administrators did not enrol, of another change, replayed, stale, or missing in a regulated ledger is refused by both at step 4")
    func approvals() async throws {
        var w = try Self.memberWorld()
        var entries = try ExportedWorld.entries(w)
        let last = entries.count - 1
        Self.expectAccepted(try await Self.verdicts(entries))
        let change = AdminChange(.groupAddMember, group: Cast.Group.compliance, member: "zoe")

        // Made and signed by a release manager, who is no administrator.
        var forged = entries
        forged[last] = try Self.edit(entries[last], actor: Self.morgan) { $0["approval"] = try Self.json(Self.approval(w, change, time: w.now, by: [Self.morgan])) }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "who was not an enabled administrator")

        // Of another change (morgan joins instead of zoe), signed by the administrator.
        forged = entries
        let other = AdminChange(.groupAddMember, group: Cast.Group.compliance, member: Self.morgan)
        forged[last] = try Self.edit(entries[last]) { $0["approval"] = try Self.json(Self.approval(w, other, time: w.now, by: [Self.ada])) }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "not of exactly the change recorded")

        // Signed 11 minutes before its entry.
        forged = entries
        forged[last] = try Self.edit(entries[last]) { $0["approval"] = try Self.json(Self.approval(w, change, time: w.now - 660_000, by: [Self.ada])) }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "not within 10 minutes")

        // Without its approval, in a ledger with a regulated project.
        forged = entries
        forged[last] = try Self.edit(entries[last]) { $0["approval"] = nil }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "carries no approval")

        // The same approval used twice (the change recorded again right after).
        forged = entries
        forged.append(try Self.with(entries[last], payload: entries[last].payload, sequence: UInt64(entries.count)))
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "already used")

        // An approval whose change has one member more (which a decoder skipping unknown keys would accept): the engine
        // refuses it, and so does each verifier.
        var statement = try #require(try JSONSerialization.jsonObject(with: Data(try Event.encoder.encode(AdminApproval(change: change, time: w.now)))) as? [String: Any])
        var stated = try #require(statement["change"] as? [String: Any])
        stated["note"] = "also the auditors"
        statement["change"] = stated
        let padded = DSSE.sign(
            payload: [UInt8](try JSONSerialization.data(withJSONObject: statement, options: [.sortedKeys])), payloadType: AdminApproval.payloadType,
            with: w.keys[Self.ada]!)
        w.refused(.addMember(group: Cast.Group.releaseManagers, member: "zoe", approval: padded), as: Self.ada, rule: "admin.signature")
        forged = entries
        forged[last] = try Self.edit(entries[last]) { $0["approval"] = try Self.json(padded) }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "not of exactly the change recorded")

        // A key ada enrolled herself (self-enrolment: it signs decisions, never administration).
        let browser = Ed25519.SigningKey()
        let line = try NoteVerifierKey(name: Self.ada, publicKey: browser.publicKey)
        try w.ok(.enrollOwnKey(key: line, proof: KeyEnrolmentStatement(principal: Self.ada, verifierKey: line, time: w.now).signed(with: w.keys[Self.ada]!)), as: Self.ada)
        w.keys["ada-browser"] = browser
        entries = try ExportedWorld.entries(w)
        Self.expectAccepted(try await Self.verdicts(entries))
        let next = try LedgerEntry(
            sequence: UInt64(entries.count), timeMilliseconds: w.now, kind: "group.member-added", project: "", environment: "", actor: Self.ada,
            payload: Event.memberAdded(.init(group: Cast.Group.releaseManagers, member: "zoe",
                approval: Self.approval(w, AdminChange(.groupAddMember, group: Cast.Group.releaseManagers, member: "zoe"), time: w.now, by: ["ada-browser"]))).payload)
        Self.expectRefused(try await Self.verdicts(entries + [next]), step: 4, "administrators did not enrol")
    }

    @Test("Under admin_quorum 2, a change that needs it passes with two administrators' signatures and is refused by both with one; a disabled administrator's signature does not count")
    func quorum() async throws {
        var w = try World()
        try w.addUser(Self.bob, groups: [], administrator: true)
        try w.admin(.setAdminQuorum(2))
        try w.admin(.addUser(name: "zoe", administrator: false, key: nil))
        let change = AdminChange(.groupAddMember, group: Cast.Group.compliance, member: "zoe")
        try w.ok(.addMember(group: Cast.Group.compliance, member: "zoe", approval: Self.approval(w, change, time: w.now, by: [Self.ada, Self.bob])), as: Self.ada)
        let entries = try ExportedWorld.entries(w)
        Self.expectAccepted(try await Self.verdicts(entries))
        let last = entries.count - 1
        var forged = entries
        forged[last] = try Self.edit(entries[last]) { $0["approval"] = try Self.json(Self.approval(w, change, time: w.now - 1, by: [Self.ada])) }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "needs 2 administrators' signatures")

        // bob disabled (both sign, as the quorum requires for an administrator); then a change signed by bob and ada.
        try w.ok(.disablePrincipal(name: Self.bob, approval: Self.approval(w, AdminChange(.principalDisable, principal: Self.bob), time: w.now - 2, by: [Self.ada, Self.bob])), as: Self.ada)
        let after = try ExportedWorld.entries(w)
        Self.expectAccepted(try await Self.verdicts(after))
        let again = AdminChange(.groupRemoveMember, group: Cast.Group.compliance, member: "zoe")
        let removal = try LedgerEntry(
            sequence: UInt64(after.count), timeMilliseconds: w.now, kind: "group.member-removed", project: "", environment: "", actor: Self.ada,
            payload: Event.memberRemoved(.init(group: Cast.Group.compliance, member: "zoe", approval: Self.approval(w, again, time: w.now, by: [Self.ada, Self.bob]))).payload)
        Self.expectRefused(try await Self.verdicts(after + [removal]), step: 4, "bob, who was not an enabled administrator")
    }

    @Test("Spec points: a decision naming a key without an envelope or carrying a second signature, a proof without a fresh time, a payload with a key twice, a non-canonical compromised_since, another ledger key in ledger.initialized — each refused by both at step 4; null reads as absent")
    func specPoints() async throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let browser = Ed25519.SigningKey()
        let line = try NoteVerifierKey(name: Cast.complianceOfficer.name, publicKey: browser.publicKey)
        try w.ok(.enrollOwnKey(key: line, proof: KeyEnrolmentStatement(principal: line.name, verifierKey: line, time: w.now).signed(with: w.keys[line.name]!)), as: line.name)
        let since = w.now
        let mark = Command.revokeKey(principal: Self.morgan, fingerprint: w.keys[Self.morgan]!.publicKey.fingerprint, compromisedSince: since)
        try w.ok(mark.approved(by: Self.approval(w, mark.adminChange!, time: w.now, by: [Self.ada])), as: Self.ada)
        let entries = try ExportedWorld.entries(w)
        Self.expectAccepted(try await Self.verdicts(entries))
        _ = id
        let decision = try #require(entries.firstIndex { $0.kind == "decision.recorded" })
        let enrolment = try #require(entries.lastIndex { $0.kind == "key.enrolled" })
        let revocation = try #require(entries.lastIndex { $0.kind == "key.revoked" })

        // A decision naming its key (and statement digest) but carrying no envelope.
        var forged = entries
        forged[decision] = try Self.edit(entries[decision]) { $0["envelope"] = nil }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "names a key or statement digest but carries no envelope")

        // A second signature beside the decider's (the red team's: 64 zero bytes under an administrator's key id, first or
        // last), or a genuine one by another person: the envelope must carry exactly one.
        let second = DSSEEnvelope.Signature(keyid: w.keys[Self.ada]!.publicKey.keyFingerprint, sig: [UInt8](repeating: 0, count: 64))
        for first in [false, true] {
            forged = entries
            forged[decision] = try Self.edit(entries[decision]) { event in
                var envelope = try #require(event["envelope"] as? [String: Any])
                var signatures = try #require(envelope["signatures"] as? [[String: Any]])
                let extra: [String: Any] = ["keyid": second.keyid, "sig": Base64.encode(second.sig)]
                if first { signatures.insert(extra, at: 0) } else { signatures.append(extra) }
                envelope["signatures"] = signatures
                event["envelope"] = envelope
            }
            Self.expectRefused(try await Self.verdicts(forged), step: 4, "carries 2 signatures, not exactly one")
        }

        // `null` reads as absent: an on_behalf_of of null is no delegation, accepted by both.
        forged = entries
        forged[decision] = try Self.edit(entries[decision]) { $0["on_behalf_of"] = NSNull() }
        Self.expectAccepted(try await Self.verdicts(forged))

        // A key twice in a payload (the comment given again, first), in a request's entry and in an administrative one.
        forged = entries
        let text = String(decoding: entries[decision].payload, as: UTF8.self)
        forged[decision] = try Self.with(entries[decision], payload: Array(("{\"comment\":\"not what was signed\"," + text.dropFirst()).utf8))
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "twice")
        forged = entries
        let admin = String(decoding: entries[revocation].payload, as: UTF8.self)
        forged[revocation] = try Self.with(entries[revocation], payload: Array(("{\"principal\":\"sam\"," + admin.dropFirst()).utf8))
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "twice")

        // A self-enrolment proof signed 11 minutes before its entry.
        forged = entries
        let stale = KeyEnrolmentStatement(principal: line.name, verifierKey: line, time: entries[enrolment].timeMilliseconds - 660_000)
            .signed(with: w.keys[line.name]!)
        forged[enrolment] = try Self.edit(entries[enrolment]) { $0["proof"] = try Self.json(stale) }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "proof whose time is not within")

        // compromised_since in another RFC 3339 form of the same instant (the approval re-signed over it).
        let canonical = Timestamps.rfc3339(since)
        let other = String(canonical.dropLast()) + "+00:00"
        let signed = String(decoding: try Event.encoder.encode(AdminApproval(change: mark.adminChange!, time: w.now)), as: UTF8.self)
            .replacingOccurrences(of: canonical, with: other)
        let resigned = DSSE.sign(payload: Array(signed.utf8), payloadType: AdminApproval.payloadType, with: w.keys[Self.ada]!)
        forged = entries
        forged[revocation] = try Self.edit(entries[revocation]) {
            $0["compromised_since"] = other
            $0["approval"] = try Self.json(resigned)
        }
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "compromised_since")

        // ledger.initialized naming another key than the one the export is verified with.
        forged = entries
        let stranger = try NoteVerifierKey(name: ExportedWorld.origin, publicKey: Ed25519.SigningKey().publicKey)
        forged[0] = try Self.with(entries[0], payload: Event.ledgerInitialized(.init(origin: ExportedWorld.origin, ledgerKey: stranger.description)).payload)
        Self.expectRefused(try await Self.verdicts(forged), step: 4, "names another ledger key")
    }

    /// The red team's finding: a `read:` token of one project exported it and read, in the administrative entries every
    /// export held in full, another project's Slack incoming-webhook URL — a secret that posts into that channel.
    @Test("Webhook subscriptions' URLs are in no export of one project: their entries are stubs there and in full in an export of every project; both verifiers accept each, and refuse a project export showing one in full or an export of every project showing one as a stub (step 3)")
    func webhookURLs() async throws {
        var w = try World()
        _ = try w.approvedProdRequest()
        let secret = "https://hooks.slack.com/services/T0SECRET/B0SECRET/XXXXSECRETTOKENXXXX"
        try w.admin(.addWebhook(WebhookSpec(url: secret, project: Cast.project, events: ["request.approved"], format: .standard)))
        try w.admin(.addWebhook(WebhookSpec(url: secret + "-everywhere", project: nil, events: ["request.approved"], format: .standard)))
        try w.admin(.removeWebhook(id: "WH-1"))
        let entries = try ExportedWorld.entries(w)
        let webhooks = entries.indices.filter { entries[$0].kind.hasPrefix("webhook.") }
        #expect(webhooks.count == 3)
        let project = AuditExportFilter(project: Cast.project)

        // One project: every webhook entry a stub, the URL nowhere in any file (entries in full are base64: decoded).
        let one = try ExportedWorld(entries: entries, filter: project)
        let lines = try String(decoding: try #require(one.sink.files["entries.jsonl"]), as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        for index in webhooks { #expect(lines[index]["entry"] == nil && lines[index]["payload_digest"] != nil) }
        for line in lines {
            let bytes = (line["entry"] as? String).flatMap { Base64.decodeLenient($0) } ?? []
            #expect(!String(decoding: bytes, as: UTF8.self).contains("SECRET"))
        }
        for (name, bytes) in one.sink.files { #expect(!String(decoding: bytes, as: UTF8.self).contains("SECRET"), "\(name)") }
        Self.expectAccepted(try await Self.verdicts(entries, filter: project))
        // Every project: in full (an administrator's or an auditor's export).
        let all = try ExportedWorld(entries: entries)
        #expect(String(decoding: try #require(all.sink.files["administration.csv"]), as: UTF8.self).contains("webhook.added"))
        Self.expectAccepted(try await Self.verdicts(entries))

        func replacing(_ index: Int, with line: [UInt8]) -> (URL) throws -> Void {
            { export in
                let url = export.appendingPathComponent("entries.jsonl")
                var all = String(decoding: try Data(contentsOf: url), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                all[index] = String(decoding: line, as: UTF8.self)
                try Data(all.joined(separator: "\n").utf8).write(to: url)
            }
        }
        let shown = try await Self.verdicts(entries, filter: project, tamper: replacing(webhooks[0], with: AuditExportBuilder.fullLine(entries[webhooks[0]])))
        Self.expectRefused(shown, step: 3, "is in full but outside the filter")
        let hidden = try await Self.verdicts(entries, tamper: replacing(webhooks[1], with: AuditExportBuilder.stubLine(entries[webhooks[1]].header)))
        Self.expectRefused(hidden, step: 3, "must be in full")
    }

    @Test("The folder's own points: a line of entries.jsonl not in compact JSON (step 3), a manifest with a key twice (step 2), documents/ where the manifest says none were asked for (step 6) — refused by both at the same step")
    func folderPoints() async throws {
        let w = try Self.memberWorld()
        let entries = try ExportedWorld.entries(w)
        // Keys of one line in another order (the verifier re-reads nothing else: no re-signing needed to be refused).
        let reordered = try await Self.verdicts(entries) { export in
            let url = export.appendingPathComponent("entries.jsonl")
            var lines = String(decoding: try Data(contentsOf: url), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any])
            lines[3] = "{\"time\":\"\(object["time"]!)\"," + lines[3].dropFirst().replacingOccurrences(of: ",\"time\":\"\(object["time"]!)\"", with: "")
            try Data(lines.joined(separator: "\n").utf8).write(to: url)
        }
        Self.expectRefused(reordered, step: 3, "entry 3: its line is not written as compact JSON")

        // A manifest whose payload has a key twice, signed by the ledger key.
        let twice = try await Self.verdicts(entries) { export in
            let url = export.appendingPathComponent("MANIFEST.json")
            let envelope = try DSSEEnvelope(json: [UInt8](try Data(contentsOf: url).dropLast()))
            let payload = "{\"stubs\":0," + String(decoding: envelope.payload, as: UTF8.self).dropFirst()
            let signed = DSSE.sign(payload: Array(payload.utf8), payloadType: envelope.payloadType, with: ExportedWorld.ledgerKey)
            try Data(signed.jsonBytes() + [0x0A]).write(to: url)
        }
        Self.expectRefused(twice, step: 2, "MANIFEST.json's payload is not the manifest object")

        // A document put beside an export made without documents.
        let document = Array("report".utf8)
        let besides = try await Self.verdicts(entries) { export in
            let folder = export.appendingPathComponent("documents")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(document).write(to: folder.appendingPathComponent(Hex.encode(SHA256Digest.hash(document).bytes)))
        }
        Self.expectRefused(besides, step: 6, "evidence documents were not asked for")
    }

    @Test("The outsider's findings: a service account written as an administrator is none (its signature on administration is refused); a compromise marking's approval carries on only to what the key vouched for, never to another principal's key")
    func outsiderFindings() async throws {
        var w = try World()
        let since = w.now
        let mark = Command.revokeKey(principal: Self.morgan, fingerprint: w.keys[Self.morgan]!.publicKey.fingerprint, compromisedSince: since)
        let approval = Self.approval(w, mark.adminChange!, time: w.now, by: [Self.ada])
        try w.ok(mark.approved(by: approval), as: Self.ada)
        var entries = try ExportedWorld.entries(w)
        Self.expectAccepted(try await Self.verdicts(entries))

        // The same approval, right after, revoking ada's key: not what morgan's key vouched for.
        let adaKey = "sha256:" + w.keys[Self.ada]!.publicKey.fingerprint
        let carried = try LedgerEntry(
            sequence: UInt64(entries.count), timeMilliseconds: w.now, kind: "key.revoked", project: "", environment: "", actor: Self.ada,
            payload: Array(try JSONSerialization.data(withJSONObject: [
                "principal": Self.ada, "key_fingerprint": adaKey, "compromised_since": Timestamps.rfc3339(since), "approval": try Self.json(approval),
            ], options: [.sortedKeys])))
        Self.expectRefused(try await Self.verdicts(entries + [carried]), step: 4, "not of exactly the change recorded")

        // A service account added with "administrator": true (approved as a service account's addition), then signing.
        let robot = World.fixedKey("robot")
        w.keys["robot"] = robot
        let line = try NoteVerifierKey(name: "robot", publicKey: robot.publicKey)
        let added = Self.approval(w, AdminChange(.serviceAccountAdd, principal: "robot", verifierKey: line.description), time: w.now, by: [Self.ada])
        entries.append(try LedgerEntry(
            sequence: UInt64(entries.count), timeMilliseconds: w.now, kind: "principal.added", project: "", environment: "", actor: Self.ada,
            payload: Array(try JSONSerialization.data(withJSONObject: [
                "name": "robot", "kind": "service-account", "administrator": true, "verifier_key": line.description, "approval": try Self.json(added),
            ], options: [.sortedKeys]))))
        Self.expectAccepted(try await Self.verdicts(entries))
        let change = AdminChange(.groupAddMember, group: Cast.Group.compliance, member: "robot")
        entries.append(try LedgerEntry(
            sequence: UInt64(entries.count), timeMilliseconds: w.now, kind: "group.member-added", project: "", environment: "", actor: "robot",
            payload: Event.memberAdded(.init(group: Cast.Group.compliance, member: "robot", approval: Self.approval(w, change, time: w.now, by: ["robot"]))).payload))
        Self.expectRefused(try await Self.verdicts(entries), step: 4, "robot, who was not an enabled administrator")
    }

    @Test("Who else may write administration offline: system only adds the first administrator; a directory must be connected and stay within its reach — each refused by both at step 4")
    func systemAndDirectories() async throws {
        let w = try World()
        let entries = try ExportedWorld.entries(w)
        func added(_ name: String, actor: String, administrator: Bool, directory: String? = nil) throws -> LedgerEntry {
            var payload: [String: Any] = ["name": name, "kind": "user", "administrator": administrator]
            if let directory { payload["directory"] = directory }
            return try LedgerEntry(
                sequence: UInt64(entries.count), timeMilliseconds: w.now, kind: "principal.added", project: "", environment: "", actor: actor,
                payload: Array(try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])))
        }
        Self.expectRefused(try await Self.verdicts(entries + [try added("mallory", actor: "system", administrator: true)]), step: 4, "made by system")
        Self.expectRefused(
            try await Self.verdicts(entries + [try added("mallory", actor: "directory:corp", administrator: false, directory: "corp")]), step: 4,
            "which is not connected")
    }
}
