import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Input that would change what auditors read, or what other verifiers understand (issue: trust and administration, 6–7).
@Suite("Hostile input")
struct HostileInputTests {
    @Test("Names match the whole string: a trailing newline, CRLF or U+2028 is refused, as are upper case and a leading dot")
    func names() throws {
        for bad in ["sam\n", "sam\r\n", "sam\u{2028}", "Sam", ".sam", "", "sam bad", String(repeating: "a", count: 64), "sam\0"] {
            #expect(!Engine.isValidName(bad), "\(bad.debugDescription)")
        }
        for good in ["sam", "ci-bot", "a.b_c-d", "0", String(repeating: "a", count: 63)] { #expect(Engine.isValidName(good), "\(good)") }
        var w = try World()
        w.refused(w.signedByAdmin(.addUser(name: "sam\n", administrator: false, key: nil)), as: Cast.administrator.name, rule: "input.name")
        w.refused(w.signedByAdmin(.createGroup(name: "ops\u{2028}")), as: Cast.administrator.name, rule: "input.name")
    }

    @Test("Bundle names are one line of 1–255 bytes without '/', at filing and at revision alike; evidence kinds and statuses are one line")
    func singleLine() throws {
        var w = try World()
        let id = try w.file()
        let requester = Cast.requester.name
        for bad in ["b.zip\n## REQ-9: forged", "b.zip\u{2028}x", "b\tzip", "a/b.zip", "", String(repeating: "x", count: 3046)] {
            let rule = bad.contains("/") || bad.isEmpty || bad.utf8.count > 255 ? "input.bundle" : "input.text"
            w.refused(.fileRequest(project: Cast.project, environment: "prod", bundle: bad, digest: World.digest, description: ""), as: requester, rule: rule)
            w.refused(.revise(request: id, bundle: bad, digest: World.otherDigest), as: requester, rule: rule)
        }
        w.refused(.attachEvidence(request: id, kind: "test-report\nx", status: "passed", digest: World.digest), as: Cast.ci.name, rule: "input.text")
        w.refused(.attachEvidence(request: id, kind: "test-report", status: "passed\r\n", digest: World.digest), as: Cast.ci.name, rule: "input.text")
        // Multi-line free text stays allowed where it is prose.
        try w.ok(.revise(request: id, bundle: "churn-model-v13.zip", digest: World.otherDigest), as: requester)
    }

    @Test("Markdown: ledger text cannot open a heading, list, comment, tag, link or code span, nor leave its line")
    func markdown() {
        let hostile = "x\n## REQ-9: forged <!-- hidden --> *b* [l](u) `c` - i\r\n1. n | t"
        let escaped = AuditExportBuilder.markdownText(hostile)
        #expect(!escaped.contains("\n") && !escaped.contains("\r"))
        #expect(escaped.contains("\\#\\# REQ-9") && escaped.contains("\\<\\!--") && escaped.contains("\\*b\\*") && escaped.contains("\\`c\\`"))
        #expect(escaped.contains("\\[l\\](u)") && escaped.contains("\\| t"))
        for scalar in escaped.unicodeScalars.indices(where: { "#<>*_[]`|!&~".unicodeScalars.contains($0) }).ranges.map(\.lowerBound) {
            #expect(escaped.unicodeScalars[escaped.unicodeScalars.index(before: scalar)] == "\\")
        }
        #expect(AuditExportBuilder.markdownText("churn-model-v12.zip") == "churn-model-v12.zip")
        #expect(AuditExportBuilder.markdownText("a\\b") == "a\\\\b")
        #expect(AuditExportBuilder.markdownText("é ü 漢") == "é ü 漢")
    }

    @Test("CSV: quoted when a field holds , ; tab, a quote or a line break, after the formula guard")
    func csv() {
        #expect(AuditExportBuilder.csvField("x;=cmd|' /C calc'!A0") == "\"x;=cmd|' /C calc'!A0\"")
        #expect(AuditExportBuilder.csvField("a\tb") == "\"a\tb\"")
        #expect(AuditExportBuilder.csvField("=1+1") == "'=1+1")
        #expect(AuditExportBuilder.csvField("=1;2") == "\"'=1;2\"")
        #expect(AuditExportBuilder.csvField("\tx") == "\"'\tx\"")
        #expect(AuditExportBuilder.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditExportBuilder.csvField("line\nbreak") == "\"line\nbreak\"")
        #expect(AuditExportBuilder.csvField("plain") == "plain")
    }

    @Test("JSON with a key twice is found, also when the two spellings differ only by escapes; other JSON passes")
    func duplicateKeys() {
        #expect(StrictJSON.duplicateKey(in: Array(#"{"request":"REQ-4","request":"REQ-1"}"#.utf8)) == "request")
        #expect(StrictJSON.duplicateKey(in: Array(#"{"a":{"b":1,"b":2}}"#.utf8)) == "b")
        #expect(StrictJSON.duplicateKey(in: Array(#"{"a":1,"\u0061":2}"#.utf8)) == "a")
        #expect(StrictJSON.duplicateKey(in: Array(#"[{"a":1},{"a":2}]"#.utf8)) == nil)
        #expect(StrictJSON.duplicateKey(in: Array(#"{"a":"a","b":["a","a"],"c":{"a":"\"a\""}}"#.utf8)) == nil)
        #expect(StrictJSON.duplicateKey(in: Array(#"{"x":{"a":1},"a":2}"#.utf8)) == nil)
    }

    @Test("A statement with a duplicate key is refused, whichever value a verifier would read")
    func duplicateKeyStatement() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let other = try w.file()
        try w.ok(.attachEvidence(request: other, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: Cast.ci.name)
        let casey = Cast.complianceOfficer.name
        let genuine = DecisionStatement(request: w.request(other), stage: "compliance-reviewed", decision: .approve, actor: casey, comment: "", time: w.now)
        var text = String(decoding: genuine.bytes, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"request\":\"\(other)\"", with: "\"request\":\"\(other)\",\"request\":\"\(id)\"")
        #expect(text.contains("\"request\":\"\(id)\""))
        let envelope = DSSE.sign(payload: Array(text.utf8), payloadType: DSSE.inTotoPayloadType, with: w.keys[casey]!)
        w.refused(.decide(request: other, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: envelope), as: casey, rule: "signature.statement")
    }

    @Test("A statement with no subject, with a field the predicate does not define, or with a revision written 1.0 is refused")
    func strictStatements() throws {
        var w = try World()
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: Cast.ci.name)
        let casey = Cast.complianceOfficer.name
        let genuine = String(decoding: DecisionStatement(request: w.request(id), stage: "compliance-reviewed", decision: .approve, actor: casey, comment: "", time: w.now).bytes, as: UTF8.self)
        let subject = try #require(genuine.range(of: #""subject":\[.*?\]\]?"#, options: .regularExpression))
        let variants = [
            genuine.replacingCharacters(in: subject, with: #""subject":[]"#),
            genuine.replacingOccurrences(of: #""actor":"casey""#, with: #""actor":"casey","approver":"pat""#),
            genuine.replacingOccurrences(of: #""revision":1"#, with: #""revision":1.0"#),
        ]
        for text in variants {
            #expect(text != genuine)
            let envelope = DSSE.sign(payload: Array(text.utf8), payloadType: DSSE.inTotoPayloadType, with: w.keys[casey]!)
            switch w.run(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: envelope), as: casey) {
            case .success: Issue.record("accepted: \(text)")
            case .failure(let refusal): #expect(refusal.rule.hasPrefix("signature."), "\(refusal)")
            }
        }
    }

    /// How the engine read signed statements before it scanned them once (JSONSerialization for the fields present and
    /// the revision's form): the reference the one-pass reading must agree with.
    static func referenceRead(_ payload: [UInt8]) -> DecisionStatement? {
        if StrictJSON.duplicateKey(in: payload) != nil { return nil }
        if let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] {
            let predicate = object["predicate"] as? [String: Any] ?? [:]
            let statementKeys: Set<String> = ["_type", "subject", "predicateType", "predicate"]
            if Set(object.keys).subtracting(statementKeys).first ?? Set(predicate.keys).subtracting(DecisionStatement.Predicate.fieldNames).first != nil { return nil }
            if let revision = predicate["revision"], !(revision is Int) || "\(revision)".contains(".") { return nil }
        }
        return try? JSONDecoder().decode(DecisionStatement.self, from: Data(payload))
    }

    @Test("The one-pass reading of a signed statement accepts and refuses exactly what the two-parser reading did, on 3,000 variants")
    func statementReadingAgrees() throws {
        var w = try World()
        let id = try w.file()
        let genuine = String(decoding: DecisionStatement(request: w.request(id), stage: "compliance-reviewed", decision: .approve, actor: "casey", comment: "a \"quoted\" {comment}, with [brackets]", time: w.now).bytes, as: UTF8.self)
        #expect(Self.referenceRead(Array(genuine.utf8)) != nil)
        var variants: [String] = [genuine]
        for revision in ["1", "1.0", "1e0", "1E0", "-0", "-1", "01", "\"1\"", "true", "null", "[1]", "{}", "99999999999999999999", " 1 ", "1 ", "0x1", "+1", "1.5"] {
            variants.append(genuine.replacingOccurrences(of: #""revision":1"#, with: #""revision":"# + revision))
        }
        variants += [
            genuine.replacingOccurrences(of: #""actor":"casey""#, with: #""actor":"casey","approver":"pat""#),
            genuine.replacingOccurrences(of: #""_type""#, with: #""extra":1,"_type""#),
            genuine.replacingOccurrences(of: #""actor":"#, with: #""\u0061ctor":"#),
            genuine.replacingOccurrences(of: #""revision":1"#, with: #""rev\u0069sion":1.0"#),
            genuine.replacingOccurrences(of: #""revision":1"#, with: #""revision":1,"revision":2"#),
            genuine.replacingOccurrences(of: #""predicate":{"#, with: #""predicate":[{"#).replacingOccurrences(of: "}}", with: "}]}"),
            "[" + genuine + "]", genuine + " ", " " + genuine, genuine + "x", "{}", "[]", "", "null",
            genuine.replacingOccurrences(of: #""subject":["#, with: #""subject":[{"predicate":{"revision":1.5}},"#),
        ]
        var random = SplitMix64(seed: 0x57A7E)
        let bytes = Array(genuine.utf8)
        let alphabet = Array(#"{}[]":,.0123456789e-\ truenl"#.utf8)
        for _ in 0..<3000 {
            var mutated = bytes
            for _ in 0...(random.next() % 3) {
                let at = Int(random.next() % UInt64(mutated.count))
                switch random.next() % 3 {
                case 0: mutated[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: mutated.remove(at: at)
                default: mutated.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
                }
            }
            variants.append(String(decoding: mutated, as: UTF8.self))
        }
        var accepted = 0
        for text in variants {
            let payload = Array(text.utf8)
            let ours = try? Engine.readDecisionStatement(payload)
            #expect(ours == Self.referenceRead(payload), "the readings differ on \(text)")
            if ours != nil { accepted += 1 }
        }
        // Both kinds of outcome were there to compare.
        #expect(accepted > 0 && accepted < variants.count, "\(accepted) of \(variants.count) accepted")
    }

    @Test("a signed payload that is no decision statement is refused with the way to sign one (not only what is wrong)")
    func notAStatementSaysWhatToDo() {
        for payload in ["{}", "[]", "not json", #"{"_type":"https://in-toto.io/Statement/v1"}"#] {
            do {
                _ = try Engine.readDecisionStatement(Array(payload.utf8))
                Issue.record("\(payload) was read as a statement")
            } catch let refusal as Refusal {
                #expect(refusal.rule == "signature.statement" && refusal.message.contains("signoff approve ID --stage STAGE --key KEY"), "\(refusal)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test("Look-alike names: invisible characters and blank ends are refused in bundle names; Markdown shows control and format characters as U+FFFD; export filters are names")
    func lookAlikes() throws {
        var w = try World()
        for bad in ["b\u{200B}.zip", "b\u{200F}.zip", "\u{FEFF}b.zip", "b\u{00AD}.zip", "b\u{E0041}.zip", " ", " b.zip", "b.zip "] {
            w.refused(.fileRequest(project: Cast.project, environment: "prod", bundle: bad, digest: World.digest, description: ""), as: Cast.requester.name, rule: "input.text")
        }
        #expect(AuditExportBuilder.markdownText("prod\u{202E}evil\u{200B}") == "prod\u{FFFD}evil\u{FFFD}")
        #expect(AuditExportFilter(project: "churn-model", environment: "prod\u{202E}evil").problem() != nil)
        #expect(AuditExportFilter(project: "Churn").problem() != nil)
        #expect(AuditExportFilter(since: 10, until: 5).problem() != nil)
        #expect(AuditExportFilter(project: "churn-model", environment: "prod", since: 1, until: 2).problem() == nil)
    }

    @Test("A statement dated before its key was enrolled, or before the request was filed, is refused")
    func backdated() throws {
        var w = try World()
        w.now += 60_000
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: Cast.ci.name)
        let casey = Cast.complianceOfficer.name
        // Before the request was filed (but within the freshness window).
        let early = w.signed(id, stage: "compliance-reviewed", by: casey, time: w.now - 30_000)
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: early), as: casey, rule: "signature.backdated")
        // Before the key was enrolled: a new key, enrolled now, signing a statement dated earlier.
        let fresh = Ed25519.SigningKey()
        w.now += 120_000
        let enrol = Command.enrollKey(principal: casey, key: try! NoteVerifierKey(name: casey, publicKey: fresh.publicKey))
        let approval = AdminApproval(change: enrol.adminChange!, time: w.now).signed(with: w.keys[Cast.administrator.name]!)
        try w.admin(.enrollKey(principal: casey, key: try! NoteVerifierKey(name: casey, publicKey: fresh.publicKey), approval: approval))
        let beforeKey = DecisionStatement(request: w.request(id), stage: "compliance-reviewed", decision: .approve, actor: casey, comment: "", time: w.now - 30_000)
            .signed(with: fresh)
        w.refused(.decide(request: id, stage: "compliance-reviewed", decision: .approve, comment: "", envelope: beforeKey), as: casey, rule: "signature.backdated")
        try w.approve(id, stage: "compliance-reviewed", as: casey)
    }
}

/// Keys revoked as compromised, and separation of duties at deployment (trust and administration, 3 and 5).
@Suite("Compromised keys and separation at deploy")
struct TrustTests {
    @Test("A key revoked as compromised: its approvals stop counting for a request not yet deployed; the gate and explain name it; the export flags it")
    func compromised() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let digest = w.request(id).digest
        #expect(Engine.deployRefusals(w.request(id), environment: "prod", digest: digest, state: w.state, actor: nil, now: w.now).allSatisfy { $0.rule != "gate.compromised" })
        let morgan = Cast.releaseManager.name
        w.now += 60_000
        try w.admin(.revokeKey(principal: morgan, fingerprint: w.keys[morgan]!.publicKey.fingerprint, compromisedSince: w.now - 60_000))
        let reasons = Engine.deployRefusals(w.request(id), environment: "prod", digest: digest, state: w.state, actor: nil, now: w.now)
        #expect(reasons.contains { $0.rule == "gate.compromised" && $0.message.contains(morgan) }, "\(reasons)")
        let explanation = try #require(Engine.explain(id, state: w.state, now: w.now))
        #expect(explanation.gates.first?.conditions.contains { $0.rule == "compromised" && !$0.met } == true)
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: Cast.deployer.name, rule: "gate.compromised")
        let summary = try ExportBuilderTests.export(w).text("SUMMARY.md")
        #expect(summary.contains("revoked as compromised") && summary.contains("no longer count"), "\(summary)")
        // A revocation without --compromised-since keeps earlier approvals.
        var plain = try World()
        let other = try plain.approvedProdRequest()
        plain.now += 60_000
        try plain.admin(.revokeKey(principal: morgan, fingerprint: plain.keys[morgan]!.publicKey.fingerprint))
        #expect(Engine.deployRefusals(plain.request(other), environment: "prod", digest: digest, state: plain.state, actor: nil, now: plain.now)
            .allSatisfy { $0.rule != "gate.compromised" })
    }

    @Test("Separation at deploy: an approver, or the requester made a deployer, may not deploy a regulated request; a break-glass requester may not deploy their own")
    func separationAtDeploy() throws {
        var w = try World()
        let id = try w.approvedProdRequest()
        let morgan = Cast.releaseManager.name
        let riley = Cast.requester.name
        try w.admin(.addMember(group: Cast.Group.deployers, member: morgan))
        try w.admin(.addMember(group: Cast.Group.deployers, member: riley))
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: morgan, rule: "gate.separation")
        w.refused(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: riley, rule: "gate.separation")
        try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: ""), as: Cast.deployer.name)

        // Break-glass: the requester, also a deployer, may not deploy their own emergency request.
        let hotfix = try w.fileEmergency(env: "qa")
        try w.approve(hotfix, stage: "approved", as: morgan, comment: "prod is down")
        w.refused(.recordDeployment(request: hotfix, outcome: .succeeded, note: ""), as: riley, rule: "gate.separation")
        try w.ok(.recordDeployment(request: hotfix, outcome: .succeeded, note: ""), as: Cast.deployer.name)
    }

    @Test("requester_may_deploy is only for workflows with an emergency section, with a reason; not_requester only on action stages")
    func workflowRules() {
        let base = try! Cast.workflowSource("regulated")
        #expect(throws: WorkflowError.self) { try AppliedWorkflow(source: base.replacingOccurrences(of: "emergency:", with: "requester_may_deploy: true\nemergency:")) }
        let allowed = base.replacingOccurrences(of: "emergency:", with: "requester_may_deploy: true\nseparation_opt_out_reason: on-call of one\nemergency:")
        #expect((try? AppliedWorkflow(source: allowed))?.workflow.requesterMayDeploy == true)
        let standard = try! Cast.workflowSource("standard")
        let withoutEmergency = String(standard[..<standard.range(of: "# An urgent fix")!.lowerBound])
        #expect((try? AppliedWorkflow(source: withoutEmergency)) != nil)
        #expect(throws: WorkflowError.self) { try AppliedWorkflow(source: withoutEmergency + "requester_may_deploy: true\nseparation_opt_out_reason: x\n") }
        #expect(throws: WorkflowError.self) {
            try AppliedWorkflow(source: base.replacingOccurrences(of: "      not_deciders_of: [compliance-reviewed]\n      signatures", with: "      not_requester: true\n      signatures"))
        }
    }

    @Test("Offboarding: a release manager removed from the group can no longer approve; disabled, they can do nothing; enabled again, they can")
    func offboarding() throws {
        var w = try World()
        let id = try w.file()
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: Cast.ci.name)
        try w.approve(id, stage: "compliance-reviewed", as: Cast.complianceOfficer.name)
        let sam = Cast.secondReleaseManager.name
        try w.admin(.removeMember(group: Cast.Group.releaseManagers, member: sam))
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id, stage: "approved", by: sam)), as: sam, rule: "decision.role")
        try w.admin(.disablePrincipal(name: Cast.releaseManager.name))
        let morgan = Cast.releaseManager.name
        w.refused(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: w.signed(id, stage: "approved", by: morgan)), as: morgan, rule: "principal.disabled")
        try w.admin(.enablePrincipal(name: morgan))
        try w.approve(id, stage: "approved", as: morgan)
        // Updating a project: the regulated project stays regulated.
        let project = w.state.projects[Cast.project]!
        let lowered = ProjectSpec(key: project.key, regulated: false, environments: project.environments, roles: project.roles)
        w.refused(w.signedByAdmin(.updateProject(lowered)), as: Cast.administrator.name, rule: "project.invalid")
    }

    @Test("A stolen administrator's session cannot revoke the administrator's own key (a lockout); others may revoke their own unsigned; token scopes are checked by the engine")
    func selfRevocationAndScopes() throws {
        var w = try World()
        let ada = Cast.administrator.name
        w.refused(.revokeKey(principal: ada, fingerprint: w.keys[ada]!.publicKey.fingerprint), as: ada, rule: "admin.signature-required")
        let casey = Cast.complianceOfficer.name
        try w.ok(.revokeKey(principal: casey, fingerprint: w.keys[casey]!.publicKey.fingerprint), as: casey)
        w.refused(w.signedByAdmin(.issueServiceToken(tokenID: "t1", principal: Cast.ci.name, scopes: ["evidence:nowhere"], lifetimeHours: 1)), as: ada, rule: "input.text")
        w.refused(w.signedByAdmin(.issueServiceToken(tokenID: "t2", principal: Cast.ci.name, scopes: ["root:*"], lifetimeHours: 1)), as: ada, rule: "input.text")
        try w.admin(.issueServiceToken(tokenID: "t3", principal: Cast.ci.name, scopes: ["evidence:\(Cast.project)", "metrics:*"], lifetimeHours: 1))
    }

    @Test("One shared workflow, two teams: a team's approvers decide only in the projects that bind them")
    func teamsApart() throws {
        var w = try World()
        try w.admin(.createGroup(name: "b-approvers"))
        try w.addUser("bea", groups: ["b-approvers", Cast.Group.dataScience])
        var roles = Cast.roles
        roles["approvers"] = ["b-approvers"]
        try w.admin(.createProject(ProjectSpec(key: "team-b", regulated: false, environments: ["qa": "standard"], roles: roles), approval: nil))
        let b = try w.file(env: "qa", project: "team-b")
        try w.ok(.attachEvidence(request: b, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: Cast.ci.name)
        let morgan = Cast.releaseManager.name
        w.refused(.decide(request: b, stage: "approved", decision: .approve, comment: "", envelope: w.signed(b, stage: "approved", by: morgan)), as: morgan, rule: "decision.role")
        try w.approve(b, stage: "approved", as: "bea")
    }
}
