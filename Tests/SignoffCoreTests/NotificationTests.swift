import Foundation
@testable import SignoffAPI
@testable import SignoffCore
import SignoffCrypto
import SignoffService
import SignoffTestSupport
import Testing

/// Issue 15's notifications as pure functions: which events tell whom what, routing by project and type, reminders
/// once per stage, the chat formats' escaping, the Standard Webhooks signatures.
@Suite("Notifications, webhooks and reminders")
struct NotificationTests {
    static let hour: Int64 = 3_600_000

    static func types(_ events: [Event], actor: String, _ w: World) -> [String] {
        Notifications.of(events, actor: actor, state: w.state, now: w.now).map(\.type.rawValue)
    }

    @Test("A request's life tells: filed, waiting (naming who can act), approved, deployed, retrospective due; rejections and changes with their comment")
    func lifeOfARequest() throws {
        var w = try World()
        let filed = try w.ok(.fileRequest(project: Cast.project, environment: "qa", bundle: World.bundle, digest: World.digest, description: ""), as: "riley")
        // The filing names who acts first: no separate waiting message (one message per stage change).
        #expect(Self.types(filed, actor: "riley", w) == ["request.filed"])
        let waiting = Notifications.of(filed, actor: "riley", state: w.state, now: w.now).last!
        #expect(waiting.request?.who_can_act == ["ci-bot"] && waiting.request?.next_stage == "tested")
        #expect(waiting.link == "/requests/\(waiting.request!.request)", "the console page, not the JSON API")
        let id = w.state.requests.keys.first!
        let tested = try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        #expect(Self.types(tested, actor: "ci-bot", w) == ["request.waiting"])
        let approved = try w.ok(PolicyTests.decision(w, id, stage: "approved", by: "morgan"), as: "morgan")
        // Approved, naming the deployers who may act; the waiting message beside it is for channels that do not hear
        // approvals (a channel of people), marked so: a channel hearing both gets one message for the stage change.
        let approvedMessages = Notifications.of(approved, actor: "morgan", state: w.state, now: w.now)
        #expect(approvedMessages.map(\.type.rawValue) == ["request.approved", "request.waiting"])
        #expect(approvedMessages.last?.besides == .requestApproved && approvedMessages.last?.request?.who_can_act == ["dana"])
        let everything = Webhook(id: "WH-1", spec: WebhookSpec(url: "https://x.example/", project: nil, events: NotificationType.allCases.map(\.rawValue), format: .slack), addedBy: "ada", addedAt: 0)
        let people = Webhook(id: "WH-2", spec: WebhookSpec(url: "https://x.example/", project: nil, events: NotificationType.people.map(\.rawValue), format: .slack), addedBy: "ada", addedAt: 0)
        #expect(approvedMessages.filter(everything.receives).map(\.type) == [.requestApproved])
        #expect(approvedMessages.filter(people.receives).map(\.type) == [.requestWaiting])
        #expect(!String(decoding: approvedMessages.last!.json, as: UTF8.self).contains("besides"), "not part of the JSON")
        let deployed = try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: "go"), as: "dana")
        #expect(Self.types(deployed, actor: "dana", w) == ["request.deployed"])
        // Changes requested and rejections carry the decider's words.
        let other = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: other, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r2")), as: "ci-bot")
        let changes = try w.ok(PolicyTests.decision(w, other, stage: "approved", .changesRequested, by: "morgan", comment: "smaller"), as: "morgan")
        let asked = Notifications.of(changes, actor: "morgan", state: w.state, now: w.now)
        #expect(asked.first?.type == .changesRequested && asked.first?.comment == "smaller")
        let rejected = try w.ok(PolicyTests.decision(w, other, stage: "approved", .reject, by: "sam", comment: "no"), as: "sam")
        #expect(Notifications.of(rejected, actor: "sam", state: w.state, now: w.now).contains { $0.type == .requestRejected && $0.comment == "no" })
        // An emergency's first deployment makes its retrospective due.
        let hot = try w.fileEmergency(env: "qa")
        try w.approve(hot, stage: "approved", as: "morgan")
        let emergency = try w.ok(.recordDeployment(request: hot, outcome: .succeeded, note: ""), as: "dana")
        #expect(Self.types(emergency, actor: "dana", w) == ["request.deployed", "retrospective.due"])
        // Overdue a day later, once per request.
        w.now += 25 * Self.hour
        #expect(Reminders.overdueRetrospectives(in: w.state, now: w.now).map(\.key) == ["retrospective-overdue/\(hot)"])
    }

    @Test("Routing: a project's subscription hears only its project (and key revocations); organisation-wide hears all; removed hears nothing")
    func routing() throws {
        var w = try PolicyTests.twoTeams()
        try w.admin(.addWebhook(WebhookSpec(url: "https://hooks.example/all", project: nil, events: ["request.filed", "key.revoked"], format: .standard)))
        try w.admin(.addWebhook(WebhookSpec(url: "https://hooks.example/b", project: "team-b", events: ["request.filed", "key.revoked"], format: .slack)))
        try w.admin(.addWebhook(WebhookSpec(url: "https://hooks.example/gone", project: nil, events: ["request.filed"], format: .teams)))
        try w.admin(.removeWebhook(id: "WH-3"))
        w.refused(w.signedByAdmin(.removeWebhook(id: "WH-3")), as: "ada", rule: "input.duplicate")
        w.refused(w.signedByAdmin(.removeWebhook(id: "WH-9")), as: "ada", rule: "input.unknown")
        w.refused(.removeWebhook(id: "WH-1"), as: "riley", rule: "admin.required")
        #expect(w.state.webhooks.keys.sorted() == ["WH-1", "WH-2", "WH-3"] && w.state.webhooks["WH-3"]?.isActive == false)
        let filed = try w.ok(.fileRequest(project: Cast.project, environment: "qa", bundle: World.bundle, digest: World.digest, description: ""), as: "riley")
        let messages = OutboxMessage.route(Notifications.of(filed, actor: "riley", state: w.state, now: w.now), state: w.state, now: w.now)
        #expect(messages.map(\.subscription) == ["WH-1"], "team A's filing reaches the organisation-wide hook only")
        #expect(Set(messages.map(\.id)).count == messages.count && messages.allSatisfy { $0.id.hasPrefix("msg_") && $0.id.count == 36 })
        let revoked = try w.admin(.revokeKey(principal: "bea", fingerprint: w.verifierKey("bea").publicKey.fingerprint))
        #expect(Set(OutboxMessage.route(Notifications.of(revoked, actor: "ada", state: w.state, now: w.now), state: w.state, now: w.now).map(\.subscription)) == ["WH-1", "WH-2"])
        // Subscribing is administration: refused to others, refused for bad input.
        w.refused(.addWebhook(WebhookSpec(url: "https://x.example/", project: nil, events: ["request.filed"], format: .standard)), as: "riley", rule: "admin.required")
        for (url, events) in [("http://x.example/", ["request.filed"]), ("https://user:pw@x.example/", ["request.filed"]), ("ftp://x.example/", ["request.filed"]),
            ("https://x.example/", ["request.everything"]), ("https://x.example/", [])] {
            #expect(throws: Refusal.self, "\(url) \(events)") { try Engine.addWebhook(WebhookSpec(url: url, project: nil, events: events, format: .standard), approval: nil, state: w.state, actor: "ada", now: w.now) }
        }
        w.refused(w.signedByAdmin(.addWebhook(WebhookSpec(url: "https://x.example/", project: "nope", events: ["request.filed"], format: .standard))), as: "ada", rule: "input.unknown")
    }

    /// Issue 23: webhook targets that reach internal services (SSRF), as the security review sent them.
    static let internalTargets = [
        "https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data/", "https://192.168.1.1/", "https://localhost/hook",
        "http://127.0.0.1:6379/", "https://[::1]/hook", "https://0.0.0.0/", "https://100.64.0.1/",
        // The same places, written otherwise: inet_aton's forms, IPv4-mapped IPv6, *.localhost, a trailing dot.
        "https://2130706433/", "https://0x7f000001/", "https://127.1/", "https://0177.0.0.1/", "https://10.1/", "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/", "https://[fe80::1]/", "https://[fd00::1]/", "https://[::]/", "https://api.localhost/", "https://LOCALHOST./",
        "https://172.31.255.255/", "https://169.254.0.1./",
        // What the outside review found still accepted: SIIT, 6to4, local-use NAT64, benchmarking, IETF, multicast, broadcast.
        "https://[::ffff:0:7f00:1]/", "https://[2002:7f00:1::]/", "https://[64:ff9b:1::a9fe:a9fe]/", "https://198.18.0.1/", "https://192.0.0.1/",
        "https://224.0.0.1/", "https://255.255.255.255/", "https://[ff02::1]/", "https://[2001:0:4136:e378::1]/",
    ]

    @Test("Webhook targets: internal addresses and localhost are refused (webhook.private-target) unless allow_private; public ones accepted", arguments: internalTargets)
    func privateTargets(url: String) throws {
        var w = try World()
        let refused = w.signedByAdmin(.addWebhook(WebhookSpec(url: url, project: nil, events: ["request.filed"], format: .standard)))
        w.refused(refused, as: Cast.administrator.name, rule: "webhook.private-target")
        guard case .failure(let refusal) = Engine.execute(refused, on: w.state, actor: Cast.administrator.name, now: w.now) else {
            Issue.record("\(url) accepted without allow_private")
            return
        }
        #expect(refusal.message.contains("--allow-private"), "the message says what to do: \(refusal.message)")
        // Meant: the subscription says so, and the change the administrator signs says so too.
        let allowed = WebhookSpec(url: url, project: nil, events: ["request.filed"], format: .standard, allowPrivate: true)
        if url.hasPrefix("http://") || url.hasPrefix("https://") {
            let events = try w.admin(.addWebhook(allowed))
            guard case .webhookAdded(let added)? = events.first else { Issue.record("no webhook.added"); return }
            #expect(added.webhook.allowPrivate)
            #expect(String(decoding: events[0].payload, as: UTF8.self).contains(#""allow_private":true"#))
        }
    }

    @Test("Webhook targets: public addresses and names are accepted without allow_private; a name that resolves inward is judged at delivery")
    func publicTargets() throws {
        var w = try World()
        for url in [
            "https://hooks.example/x", "https://8.8.8.8/", "https://172.32.0.1/", "https://100.128.0.1/", "https://169.253.1.1/", "https://[2606:4700:4700::1111]/",
            "https://127.0.0.1.nip.io/", "https://localhost.example.com/", "https://11.0.0.1/",
        ] {
            let events = try w.admin(.addWebhook(WebhookSpec(url: url, project: nil, events: ["request.filed"], format: .standard)))
            guard case .webhookAdded(let added)? = events.first else { Issue.record("\(url) refused"); continue }
            #expect(!added.webhook.allowPrivate)
            // Old ledgers and exports keep their bytes: the key is absent when false.
            #expect(!String(decoding: events[0].payload, as: UTF8.self).contains("allow_private"), "\(url)")
        }
        // Plain http stays for loopback only, even with allow_private.
        w.refused(
            w.signedByAdmin(.addWebhook(WebhookSpec(url: "http://10.0.0.1/", project: nil, events: ["request.filed"], format: .standard, allowPrivate: true))),
            as: Cast.administrator.name, rule: "input.text")
        // allow_private is part of the signed change: a signature over the spec without it does not approve one with it.
        let plain = WebhookSpec(url: "https://10.0.0.2/", project: nil, events: ["request.filed"], format: .standard)
        let meant = WebhookSpec(url: "https://10.0.0.2/", project: nil, events: ["request.filed"], format: .standard, allowPrivate: true)
        let plainBytes = try Event.encoder.encode(Command.addWebhook(plain).adminChange!)
        let meantBytes = try Event.encoder.encode(Command.addWebhook(meant).adminChange!)
        #expect(!String(decoding: plainBytes, as: UTF8.self).contains("allow_private"))
        #expect(String(decoding: meantBytes, as: UTF8.self).contains(#""allow_private":true"#), "signed by the administrators")
        let decoded = try JSONDecoder().decode(WebhookSpec.self, from: Data(#"{"url":"https://a.example/","events":["request.filed"],"format":"standard"}"#.utf8))
        #expect(decoded.allowPrivate == false)
    }

    @Test("inet_aton's forms of an IPv4 address, and IPv6 text, read as the address they mean")
    func addressForms() {
        #expect(PrivateNetwork.ipv4("2130706433") == [127, 0, 0, 1])
        #expect(PrivateNetwork.ipv4("0x7f000001") == [127, 0, 0, 1])
        #expect(PrivateNetwork.ipv4("127.1") == [127, 0, 0, 1])
        #expect(PrivateNetwork.ipv4("0177.0.0.01") == [127, 0, 0, 1])
        #expect(PrivateNetwork.ipv4("10.0x10.258") == [10, 16, 1, 2])
        #expect(PrivateNetwork.ipv4("256.0.0.1") == nil && PrivateNetwork.ipv4("1.2.3.4.5") == nil && PrivateNetwork.ipv4("08.0.0.1") == nil)
        #expect(PrivateNetwork.ipv4("4294967296") == nil && PrivateNetwork.ipv4("example") == nil && PrivateNetwork.ipv4("1..2") == nil)
        #expect(PrivateNetwork.ipv6("::1") == Array(repeating: 0, count: 15) + [1])
        #expect(PrivateNetwork.ipv6("::ffff:10.0.0.1") == Array(repeating: 0, count: 10) + [0xff, 0xff, 10, 0, 0, 1])
        #expect(PrivateNetwork.ipv6("1:2:3:4:5:6:7:8")?.count == 16)
        #expect(PrivateNetwork.ipv6("1::2::3") == nil && PrivateNetwork.ipv6("fe80::1%eth0") == nil && PrivateNetwork.ipv6("12345::") == nil)
        #expect(PrivateNetwork.range(of: [8, 8, 8, 8]) == nil)
        #expect(PrivateNetwork.range(of: [100, 64, 0, 1]) != nil && PrivateNetwork.range(of: [100, 63, 255, 255]) == nil)
    }

    @Test("Reminders once per person per stage and revision; escalations to the escalate_to role; only after the workflow's durations")
    func reminders() throws {
        let source = try Cast.workflowSource("standard").replacingOccurrences(of: "workflow: standard", with: "workflow: quick")
            .replacingOccurrences(of: "request_expiry: 14d", with: "request_expiry: 14d\nremind_after: 24h\nescalate_after: 72h\nescalate_to: compliance")
        var w = try World()
        try w.admin(.applyWorkflow(source: source, file: "quick.yaml"))
        var environments = Cast.environments
        environments["quick"] = "quick"
        try w.admin(.updateProject(ProjectSpec(key: Cast.project, regulated: true, environments: environments, roles: Cast.roles)))
        let id = try w.file(env: "quick")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        #expect(Reminders.due(in: w.state, now: w.now).isEmpty)
        w.now += 25 * Self.hour
        let reminded = Reminders.due(in: w.state, now: w.now)
        // riley is a release manager in this world but filed the request: never asked to decide it.
        let approvers = w.state.holders(of: "approvers", project: Cast.project, environment: "quick").filter { $0 != "riley" }
        #expect(reminded.allSatisfy { $0.kind == .reminder } && reminded.map(\.person) == approvers && approvers.contains("morgan"), "\(reminded.map(\.person))")
        #expect(Set(reminded.map(\.key)).count == approvers.count && reminded.allSatisfy { $0.key.contains("\(id)/1/tested") })
        w.now += 48 * Self.hour
        #expect(Reminders.due(in: w.state, now: w.now).filter { $0.kind == .escalation }.map(\.person) == w.state.holders(of: "compliance", project: Cast.project, environment: "quick"))
        let digest = Reminders.digest(.reminder, for: "morgan", items: reminded.filter { $0.person == "morgan" }.map(\.item), project: nil, now: w.now)
        #expect(digest.recipient == "morgan" && digest.items?.count == 1 && digest.summary.contains("1 request waits"))
        // A workflow must say both or neither of escalate_after and escalate_to, and escalate later than it reminds.
        for bad in ["escalate_after: 72h", "escalate_to: compliance", "remind_after: 72h\nescalate_after: 24h\nescalate_to: compliance"] {
            let text = try Cast.workflowSource("standard").replacingOccurrences(of: "request_expiry: 14d", with: "request_expiry: 14d\n" + bad)
            #expect(throws: WorkflowError.self, "\(bad)") { _ = try WorkflowParser.parse(text, file: "bad.yaml") }
        }
    }

    @Test("Slack and Teams bodies escape people's text; the standard body is the notification; v1 and v1a sign id.timestamp.body")
    func renderingAndSignatures() throws {
        let hostile = "<!channel> <@U123> *bold* [x](javascript:alert(1)) & <https://evil.example|click>"
        let n = SignoffCore.Notification(
            type: .requestRejected, project: "p", environment: "prod", actor: "morgan", summary: "morgan rejected REQ-1 \(hostile)", comment: hostile,
            link: "/requests/REQ-1", time: 0)
        let slack = String(decoding: WebhookRendering.body(n, format: .slack, publicURL: "https://signoff.example"), as: UTF8.self)
        #expect(!slack.contains("<!channel>") && !slack.contains("<@U123>") && !slack.contains("<https://evil"))
        #expect(slack.contains("&lt;!channel&gt;") && slack.contains("<https://signoff.example/requests/REQ-1|open in Signoff>"))
        let teams = String(decoding: WebhookRendering.body(n, format: .teams, publicURL: "https://signoff.example"), as: UTF8.self)
        #expect(!teams.contains("[x](javascript") && teams.contains("\\\\[x\\\\]\\\\(javascript"), "\(teams)")
        #expect(teams.contains("\"url\":\"https://signoff.example/requests/REQ-1\""))
        let standard = try JSONSerialization.jsonObject(with: Data(WebhookRendering.body(n, format: .standard, publicURL: nil))) as? [String: Any]
        #expect(standard?["type"] as? String == "request.rejected" && (standard?["data"] as? [String: Any])?["comment"] as? String == hostile)
        #expect((standard?["data"] as? [String: Any])?["link"] as? String == "/requests/REQ-1", "the standard body keeps a relative link")
        #expect(standard?["webhook"] == nil)
        let named = try JSONSerialization.jsonObject(with: Data(WebhookRendering.body(n, format: .standard, publicURL: nil, webhook: "WH-3"))) as? [String: Any]
        #expect(named?["webhook"] as? String == "WH-3", "the standard body names its subscription (v1a's key is the ledger's)")
        // Without the public URL, chat messages carry no link a chat could not open: no relative URL, no button.
        for format in [WebhookFormat.slack, .teams] {
            let body = String(decoding: WebhookRendering.body(n, format: format, publicURL: nil), as: UTF8.self)
            #expect(!body.contains("/requests/REQ-1") && !body.contains("\"url\""), "\(format): \(body)")
        }
        // Signatures: v1 is HMAC-SHA256 (RFC 4231 case 2's key and message give its known answer), v1a an Ed25519 signature.
        #expect(Hex.encode(HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let key = World.fixedKey("webhooks")
        let body = Array("{}".utf8)
        let header = StandardWebhooks.signature(id: "msg_1", timestamp: 1_700_000_000, body: body, secret: Array(repeating: 7, count: 32), signingKey: key)
        let parts = header.split(separator: " ").map { $0.split(separator: ",", maxSplits: 1).map(String.init) }
        #expect(parts.map { $0[0] } == ["v1", "v1a"])
        let content = Array("msg_1.1700000000.{}".utf8)
        #expect(Base64.decodeStandard(parts[0][1]) == HMACSHA256.authenticate(content, key: Array(repeating: UInt8(7), count: 32)))
        #expect(key.publicKey.isValidSignature(Base64.decodeStandard(parts[1][1])!, for: content))
        // Derived secrets: per purpose, stable, and not the seed.
        #expect(key.derivedSecret(purpose: "webhook-secret/WH-1") == key.derivedSecret(purpose: "webhook-secret/WH-1"))
        #expect(key.derivedSecret(purpose: "webhook-secret/WH-1") != key.derivedSecret(purpose: "webhook-secret/WH-2"))
    }

    @Test("Messages people act on: an emergency says so and why; an approval during a freeze says what still blocks; withdrawals, expiries, lifted freezes and failed deployments are told; Slack has a Review button and Teams an OpenUrl to the console page; digests link each request and say how long in words")
    func messagesPeopleActOn() throws {
        var w = try World()
        let hot = try w.fileEmergency(env: "qa", reason: "checkout is down")
        let filed = Notifications.of(w.log.suffix(1).map(\.event), actor: "riley", state: w.state, now: w.now)
        #expect(filed.first?.summary.hasPrefix("EMERGENCY:") == true && filed.first?.summary.contains("checkout is down") == true, "\(filed.first?.summary ?? "")")
        #expect(filed.first?.request?.emergency_reason == "checkout is down")
        // A freeze over qa: the approval says it may not be deployed yet, and why.
        let freeze = FreezeSpec(environment: "qa", project: Cast.project, from: w.now - 1, until: w.now + 3_600_000, reason: "quarter-end close")
        let added = try w.admin(.addFreeze(freeze))
        #expect(Notifications.of(added, actor: "ada", state: w.state, now: w.now).first?.summary.hasSuffix("quarter-end close") == true)
        let id = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        let approved = try w.ok(PolicyTests.decision(w, id, stage: "approved", by: "morgan"), as: "morgan")
        let approval = Notifications.of(approved, actor: "morgan", state: w.state, now: w.now).first { $0.type == .requestApproved }
        #expect(approval?.summary.contains("may not be deployed yet") == true && approval?.summary.contains("may be deployed") == false, "\(approval?.summary ?? "")")
        let lifted = try w.admin(.liftFreeze(id: "FRZ-1"))
        #expect(Self.types(lifted, actor: "ada", w) == ["freeze.lifted"])
        let failed = try w.ok(.recordDeployment(request: id, outcome: .failed, note: "pods crash-looping"), as: "dana")
        #expect(Self.types(failed, actor: "dana", w) == ["request.deployment-failed"])
        let withdrawn = try w.ok(.withdraw(request: hot, reason: "fixed by config"), as: "riley")
        let told = Notifications.of(withdrawn, actor: "riley", state: w.state, now: w.now)
        #expect(told.map(\.type) == [.requestWithdrawn] && told.first?.comment == "fixed by config")
        // Slack: a section and an actions block whose one button opens the console page; Teams: its OpenUrl.
        let n = try #require(approval)
        let slack = try #require(try JSONSerialization.jsonObject(with: Data(WebhookRendering.body(n, format: .slack, publicURL: "https://signoff.example"))) as? [String: Any])
        let blocks = try #require(slack["blocks"] as? [[String: Any]])
        #expect(blocks.count <= 50 && blocks.map { $0["type"] as? String } == ["section", "actions"])
        let button = try #require((blocks[1]["elements"] as? [[String: Any]])?.first)
        #expect(button["type"] as? String == "button" && button["url"] as? String == "https://signoff.example/requests/\(id)")
        let teams = String(decoding: WebhookRendering.body(n, format: .teams, publicURL: "https://signoff.example"), as: UTF8.self)
        #expect(teams.contains("\"title\":\"Review\"") && teams.contains("\"url\":\"https://signoff.example/requests/\(id)\""))
        // A digest links the inbox and each request, and says how long in words.
        let item = Notification.Item(request: "REQ-9", project: "p", environment: "prod", stage: "approved", waiting_seconds: 3 * 3600 + 300, detail: "2 approvals", link: "/requests/REQ-9")
        let digest = Reminders.digest(.reminder, for: "morgan", items: [item], project: nil, now: w.now)
        #expect(digest.link == "/inbox")
        let text = String(decoding: WebhookRendering.body(digest, format: .slack, publicURL: "https://signoff.example"), as: UTF8.self)
        #expect(text.contains("<https://signoff.example/requests/REQ-9|REQ-9>") && text.contains("waiting for approved for 3 h 5 min"), "\(text)")
        #expect(WebhookRendering.duration(0) == "0 s" && WebhookRendering.duration(720) == "12 min" && WebhookRendering.duration(2 * 86_400 + 4 * 3600) == "2 days 4 h")
    }
}

@Suite("Chat handles and mentions")
struct ChatHandleTests {
    @Test("A person sets their own handles, an administrator anyone's; others, service accounts, unknown names and malformed handles are refused")
    func whoMaySet() throws {
        let w = try World()
        let good = ChatHandles(slack: "U024BE7LH", teams: "morgan@example.com")
        #expect(good.refusal(principal: "morgan", actor: "morgan", state: w.state) == nil)
        #expect(good.refusal(principal: "morgan", actor: Cast.administrator.name, state: w.state) == nil)
        #expect(good.refusal(principal: "morgan", actor: "sam", state: w.state)?.rule == "admin.required")
        // A session no key obtained (single sign-on) sets its own handles only, an administrator's too; a person who is no
        // administrator is told that first.
        #expect(good.refusal(principal: "morgan", actor: Cast.administrator.name, keyless: true, state: w.state)?.rule == "admin.signature-required")
        #expect(good.refusal(principal: "morgan", actor: "morgan", keyless: true, state: w.state) == nil)
        #expect(good.refusal(principal: "morgan", actor: "sam", keyless: true, state: w.state)?.rule == "admin.required")
        #expect(good.refusal(principal: "ci-bot", actor: Cast.administrator.name, state: w.state)?.rule == "input.text")
        #expect(good.refusal(principal: "nobody", actor: Cast.administrator.name, state: w.state)?.rule == "input.unknown")
        for bad in ["u024be7lh", "U", "<!channel>", "U02 4BE", "X024BE7LH", "U024BE7LH>"] {
            #expect(ChatHandles(slack: bad).refusal(principal: "morgan", actor: "morgan", state: w.state)?.rule == "input.text", "\(bad)")
        }
        for bad in ["morgan", "<at>x</at>@e.com", "a@b", "a b@example.com", "@example.com"] {
            #expect(ChatHandles(teams: bad).refusal(principal: "morgan", actor: "morgan", state: w.state)?.rule == "input.text", "\(bad)")
        }
        #expect(ChatHandles.isTeamsID("6f2c1e3a-5b7d-4c8e-9f01-23456789abcd"))
    }

    @Test("Messages mention who can act and whom a digest is for by their handles (Slack <@U…>, Teams <at>…</at> with its entity); people without a handle stay plain text")
    func mentions() throws {
        let request = Notification.Request(
            request: "REQ-3", bundle: "b.zip", digest: SHA256Digest.hash("b").description, stage: "tested", status: "active", requester: "riley",
            emergency: false, emergency_reason: nil, next_stage: "approved", who_can_act: ["morgan", "sam"], waiting_for: ["2 approvals"], waiting_seconds: 60)
        let n = Notification(
            type: .requestWaiting, project: "churn-model", environment: "prod", actor: "casey", summary: "REQ-3 waits", request: request, link: "/requests/REQ-3",
            time: 0)
        let handles = ["morgan": ChatHandles(slack: "U024BE7LH", teams: "morgan@example.com")]
        let slack = String(decoding: WebhookRendering.body(n, format: .slack, publicURL: "https://s.example", handles: handles), as: UTF8.self)
        #expect(slack.contains("Next: approved — <@U024BE7LH>, sam can act"), "\(slack)")
        let teams = try #require(try JSONSerialization.jsonObject(with: Data(WebhookRendering.body(n, format: .teams, publicURL: nil, handles: handles))) as? [String: Any])
        let card = try #require(((teams["attachments"] as? [[String: Any]])?.first?["content"]) as? [String: Any])
        let entities = try #require((card["msteams"] as? [String: Any])?["entities"] as? [[String: Any]])
        #expect(entities.count == 1 && entities[0]["text"] as? String == "<at>morgan</at>")
        #expect(((entities[0]["mentioned"] as? [String: Any])?["id"]) as? String == "morgan@example.com")
        #expect(((card["body"] as? [[String: Any]]) ?? []).contains { ($0["text"] as? String)?.contains("<at>morgan</at>, sam") == true })
        // Without handles, nothing is mentioned.
        let plain = String(decoding: WebhookRendering.body(n, format: .slack, publicURL: nil), as: UTF8.self)
        #expect(!plain.contains("<@") && plain.contains("morgan, sam can act"))
        // A digest is for its recipient: mentioned on its first line after the summary.
        let digest = Reminders.digest(.reminder, for: "morgan", items: [], project: nil, now: 0)
        #expect(String(decoding: WebhookRendering.body(digest, format: .slack, publicURL: nil, handles: handles), as: UTF8.self).contains("For <@U024BE7LH>"))
    }
}
