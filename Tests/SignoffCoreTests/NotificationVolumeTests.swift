import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Issue 30: a channel of people hears what it must act on — fewer than 2 messages per request over a 30-request
/// story — while a channel subscribed to everything hears each stage change once.
@Suite("Notification volume")
struct NotificationVolumeTests {
    @Test("A 30-request story of a team whose pipelines deploy: a people channel (--events people) gets fewer than 2 messages per request and every one it must act on; a channel of everything hears each stage change once")
    func thirtyRequests() throws {
        var w = try World()
        // The pipeline deploys: the project's deployers are its CI service account, not a person.
        try w.admin(.removeMember(group: Cast.Group.deployers, member: Cast.deployer.name))
        try w.admin(.addMember(group: Cast.Group.deployers, member: Cast.ci.name))
        let everything = Webhook(
            id: "WH-1", spec: WebhookSpec(url: "https://hooks.example/all", project: nil, events: NotificationType.allCases.map(\.rawValue), format: .slack),
            addedBy: "ada", addedAt: 0)
        let people = Webhook(
            id: "WH-2", spec: WebhookSpec(url: "https://hooks.example/people", project: nil, events: NotificationType.people.map(\.rawValue), format: .slack),
            addedBy: "ada", addedAt: 0)
        var heard: [String: [SignoffCore.Notification]] = ["all": [], "people": []]
        var number = 0
        func run(_ command: Command, as actor: String) throws {
            let events = try w.ok(command, as: actor)
            let messages = Notifications.of(events, actor: actor, state: w.state, now: w.now)
            heard["all"]! += messages.filter(everything.receives)
            heard["people"]! += messages.filter(people.receives)
            w.now += 60_000
        }
        func file(emergency: String? = nil) throws -> String {
            number += 1
            let before = Set(w.state.requests.keys)
            try run(
                .fileRequest(
                    project: Cast.project, environment: "qa", bundle: "model-\(number).zip", digest: SHA256Digest.hash("bundle \(number)"), description: "retrain \(number)",
                    emergencyReason: emergency),
                as: Cast.requester.name)
            return try #require(Set(w.state.requests.keys).subtracting(before).first)
        }
        func test(_ id: String, _ status: String = "passed") throws {
            try run(.attachEvidence(request: id, kind: "test-report", status: status, digest: SHA256Digest.hash("report \(id) \(w.request(id).revision)")), as: Cast.ci.name)
        }
        func decide(_ id: String, _ kind: DecisionKind = .approve, by person: String = Cast.releaseManager.name, comment: String = "") throws {
            try run(PolicyTests.decision(w, id, stage: "approved", kind, by: person, comment: comment), as: person)
        }
        func deploy(_ id: String, _ outcome: Deployment.Outcome = .succeeded) throws {
            try run(.recordDeployment(request: id, outcome: outcome, note: ""), as: Cast.ci.name)
        }
        var ids: [String] = []
        // 22 go straight through: filed by the requester, tested by CI, approved by the release manager, deployed by CI.
        for _ in 0..<22 {
            let id = try file()
            try test(id)
            try decide(id)
            try deploy(id)
            ids.append(id)
        }
        // 3 have changes asked, are revised, tested again, approved and deployed.
        for _ in 0..<3 {
            let id = try file()
            try test(id)
            try decide(id, .changesRequested, comment: "pin the seed")
            try run(.revise(request: id, bundle: nil, digest: SHA256Digest.hash("revised \(id)")), as: Cast.requester.name)
            try test(id)
            try decide(id)
            try deploy(id)
            ids.append(id)
        }
        // 2 are rejected; 1 fails its first deployment and succeeds the second; 1 is withdrawn.
        for _ in 0..<2 {
            let id = try file()
            try test(id)
            try decide(id, .reject, comment: "metrics regressed")
            ids.append(id)
        }
        let failing = try file()
        try test(failing)
        try decide(failing)
        try deploy(failing, .failed)
        try deploy(failing)
        let withdrawn = try file()
        try test(withdrawn)
        try run(.withdraw(request: withdrawn, reason: "superseded"), as: Cast.requester.name)
        // 1 emergency, approved by a release manager, deployed by CI: its retrospective is due.
        let emergency = try file(emergency: "scoring is down")
        try decide(emergency)
        try deploy(emergency)
        ids += [failing, withdrawn, emergency]
        #expect(ids.count == 30 && Set(ids).count == 30)

        let requests = Double(ids.count)
        let forPeople = heard["people"]!
        let all = heard["all"]!
        print("notification volume: 30 requests → \(forPeople.count) messages to a people channel (\(String(format: "%.2f", Double(forPeople.count) / requests)) per request, limit 2), \(all.count) to a channel of everything (\(String(format: "%.2f", Double(all.count) / requests)) per request)")
        #expect(Double(forPeople.count) / requests < 2, "\(forPeople.map { "\($0.type.rawValue) \($0.request?.request ?? "")" })")
        // Every message a person must act on reached the people channel: each wait for a decision, each change asked,
        // each rejection, the failed deployment, the emergency's retrospective.
        var types: [NotificationType: Int] = [:]
        for message in forPeople { types[message.type, default: 0] += 1 }
        #expect(types[NotificationType.requestWaiting] == 22 + 3 * 2 + 2 + 1 + 1 + 1, "\(types)")
        #expect(types[NotificationType.changesRequested] == 3 && types[NotificationType.requestRejected] == 2, "\(types)")
        #expect(types[NotificationType.deploymentFailed] == 1 && types[NotificationType.retrospectiveDue] == 1, "\(types)")
        let state = w.state
        for message in forPeople where message.type == NotificationType.requestWaiting {
            let people = (message.request?.who_can_act ?? []).filter { state.principals[$0]?.kind == .user }
            #expect(!people.isEmpty, "a waiting message names a person who can act: \(message.summary)")
        }
        // The channel of everything hears every stage change once: never a waiting message beside the filing or the
        // approval that names who acts.
        var byCommand: [String: [NotificationType]] = [:]
        for message in all { if let request = message.request?.request { byCommand["\(request) \(message.time)", default: []].append(message.type) } }
        for (command, kinds) in byCommand {
            let waiting = kinds.filter { $0 == NotificationType.requestWaiting }.count
            #expect(waiting <= 1, "\(command): \(kinds)")
            #expect(waiting == 0 || !(kinds.contains(NotificationType.requestFiled) || kinds.contains(NotificationType.requestApproved)), "\(command): \(kinds)")
        }
    }
}
