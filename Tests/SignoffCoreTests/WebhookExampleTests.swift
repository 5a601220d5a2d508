import Foundation
@testable import SignoffAPI
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// `schema/webhooks.md` shows every notification type with its body as Signoff renders it (from a fixed world: fixed
/// keys, a fixed clock), and every chat body keeps within Block Kit's limits with its links on the console's pages.
@Suite("Webhook examples")
struct WebhookExampleTests {
    static let publicURL = "https://signoff.example"
    static let hour: Int64 = 3_600_000

    /// One notification of every type, from one world's life.
    static func everyNotification() throws -> [NotificationType: SignoffCore.Notification] {
        var w = try World()
        var out: [NotificationType: SignoffCore.Notification] = [:]
        func keep(_ events: [Event], _ actor: String) {
            for n in Notifications.of(events, actor: actor, state: w.state, now: w.now) where out[n.type] == nil { out[n.type] = n }
        }
        let ci = Cast.ci.name
        // A request's life in qa: filed, waiting at tested, approved, deployed.
        let first = try w.ok(.fileRequest(project: Cast.project, environment: "qa", bundle: World.bundle, digest: World.digest, description: "weekly retrain"), as: "riley")
        keep(first, "riley")
        let id = w.state.requests.keys.sorted().first!
        w.now += 60_000
        keep(try w.ok(.attachEvidence(request: id, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report")), as: ci), ci)
        w.now += 60_000
        keep(try w.ok(PolicyTests.decision(w, id, stage: "approved", by: "morgan"), as: "morgan"), "morgan")
        w.now += 60_000
        keep(try w.ok(.recordDeployment(request: id, outcome: .succeeded, note: "rolled out"), as: "dana"), "dana")
        // Changes asked, then rejected; one withdrawn; one whose deployment failed.
        let second = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: second, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report 2")), as: ci)
        keep(try w.ok(PolicyTests.decision(w, second, stage: "approved", .changesRequested, by: "morgan", comment: "pin the feature store version"), as: "morgan"), "morgan")
        keep(try w.ok(PolicyTests.decision(w, second, stage: "approved", .reject, by: "sam", comment: "metrics regressed"), as: "sam"), "sam")
        let third = try w.file(env: "qa")
        keep(try w.ok(.withdraw(request: third, reason: "superseded by a newer bundle"), as: "riley"), "riley")
        let fourth = try w.file(env: "qa")
        try w.ok(.attachEvidence(request: fourth, kind: "test-report", status: "passed", digest: SHA256Digest.hash("report 4")), as: ci)
        try w.ok(PolicyTests.decision(w, fourth, stage: "approved", by: "morgan"), as: "morgan")
        keep(try w.ok(.recordDeployment(request: fourth, outcome: .failed, note: "pods crash-looping"), as: "dana"), "dana")
        // An emergency: deployed, its retrospective due, then overdue.
        let hot = try w.fileEmergency(env: "qa", reason: "checkout is down")
        try w.approve(hot, stage: "approved", as: "morgan")
        keep(try w.ok(.recordDeployment(request: hot, outcome: .succeeded, note: "hotfix"), as: "dana"), "dana")
        // A freeze added and lifted; a key revoked.
        keep(try w.admin(.addFreeze(FreezeSpec(environment: "prod", project: Cast.project, from: w.now, until: w.now + 48 * hour, reason: "quarter-end close"))), "ada")
        keep(try w.admin(.liftFreeze(id: "FRZ-1")), "ada")
        keep(try w.admin(.revokeKey(principal: "sam", fingerprint: w.keys["sam"]!.publicKey.fingerprint)), "ada")
        // A request left idle expires; the emergency's review is overdue a day later.
        let idle = try w.file(env: "qa")
        _ = idle
        w.now += 15 * 24 * hour
        keep(try w.ok(.expireStale, as: Engine.systemActor), Engine.systemActor)
        if let overdue = Reminders.overdueRetrospectives(in: w.state, now: w.now).first { out[.retrospectiveOverdue] = overdue.notification }
        // A reminder and an escalation: one digest each.
        let item = Notification.Item(
            request: second, project: Cast.project, environment: "prod", stage: "approved", waiting_seconds: 26 * 3600, detail: "needs 2 approvals by approvers",
            link: Notifications.consolePath(second))
        out[.reminder] = Reminders.digest(.reminder, for: "morgan", items: [item], project: Cast.project, now: w.now)
        out[.escalation] = Reminders.digest(.escalation, for: "quinn", items: [item], project: Cast.project, now: w.now)
        return out
    }

    static func section(_ bodies: [NotificationType: String]) -> String {
        var s = "## Every notification, with an example body\n\n"
        s += "Each type's standard body, as Signoff renders it (`Tests/SignoffCoreTests/WebhookExampleTests.swift` renders them from a fixed\n"
        s += "world and fails if these differ; `SIGNOFF_UPDATE_SCHEMA=1` writes them), with `--public-url https://signoff.example`.\n"
        for type in NotificationType.allCases {
            s += "\n### `\(type.rawValue)`\n\n```json\n\(bodies[type] ?? "")\n```\n"
        }
        return s
    }

    @Test("schema/webhooks.md shows every notification type's body exactly as rendered; every Slack body keeps within Block Kit's limits and every link is a console page")
    func everyTypeDocumented() throws {
        let all = try Self.everyNotification()
        #expect(Set(all.keys) == Set(NotificationType.allCases), "missing: \(Set(NotificationType.allCases).subtracting(all.keys).map(\.rawValue))")
        var bodies: [NotificationType: String] = [:]
        for (type, n) in all {
            bodies[type] = String(decoding: WebhookRendering.body(n, format: .standard, publicURL: Self.publicURL, webhook: "WH-1"), as: UTF8.self)
            // Every link opens a console page: a request's or the inbox.
            let link = try #require(n.link, "\(type.rawValue) has no link")
            #expect(link.hasPrefix("/requests/") || link == "/inbox" || link.hasPrefix("/dashboard?") || link == "/audit", "\(type.rawValue): \(link)")
            // Slack: at most 50 blocks, a section's text at most 3,000 characters, the button to the console page.
            let slack = try #require(try JSONSerialization.jsonObject(with: Data(WebhookRendering.body(n, format: .slack, publicURL: Self.publicURL))) as? [String: Any])
            let blocks = try #require(slack["blocks"] as? [[String: Any]])
            #expect(blocks.count <= 50)
            for block in blocks where block["type"] as? String == "section" {
                #expect((((block["text"] as? [String: Any])?["text"]) as? String ?? "").count <= 3000)
            }
            let button = (blocks.last?["elements"] as? [[String: Any]])?.first
            #expect(button?["url"] as? String == Self.publicURL + link, "\(type.rawValue)")
            let teams = String(decoding: WebhookRendering.body(n, format: .teams, publicURL: Self.publicURL), as: UTF8.self)
            #expect(teams.contains("\"url\":\"\(Self.publicURL + link)\""), "\(type.rawValue)")
        }
        let url = TestSupport.projectRoot.appendingPathComponent("schema/webhooks.md")
        var doc = try String(contentsOf: url, encoding: .utf8)
        let section = Self.section(bodies)
        if ProcessInfo.processInfo.environment["SIGNOFF_UPDATE_SCHEMA"] == "1", !doc.contains(section) {
            if let start = doc.range(of: "## Every notification, with an example body\n") {
                let rest = doc[start.upperBound...]
                let end = rest.range(of: "\n## ")?.lowerBound ?? doc.endIndex
                doc.replaceSubrange(start.lowerBound..<(end == doc.endIndex ? end : doc.index(after: end)), with: section + (end == doc.endIndex ? "" : "\n"))
            } else {
                doc += "\n" + section
            }
            try doc.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(doc.contains(section), "schema/webhooks.md must show every notification's example body (SIGNOFF_UPDATE_SCHEMA=1 writes them)")
    }
}
