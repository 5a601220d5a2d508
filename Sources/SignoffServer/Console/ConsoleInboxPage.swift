import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffIdentity
import SignoffLedger
import SignoffService

/// The inbox: what is asked of the person, oldest first, with each request's requester, description, tests and pipeline.
struct ConsoleInboxPage {
    let console: ConsoleController

    func routes(into router: Router<SignoffRequestContext>) {
        let h = console.handlers
        let console = console
        router.get("/inbox") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let (state, items) = try await h.views.inbox(for: record.principal, h.service)
            let now = h.service.now
            // A page shows the oldest ones; a person works from the top (the CLI and the API list them all).
            let shown = items.prefix(Self.inboxPageSize)
            let rows = shown.map { i in
                let r = state.requests[i.request]
                return InboxPage.Item(
                    request: i.request, bundle: i.bundle, what: Self.inboxWords(i), onBehalfOf: i.on_behalf_of, project: i.project,
                    environment: i.environment, detail: nonEmpty(i.detail), emergency: r?.emergency != nil, waiting: ConsoleController.moment(i.since, now: now),
                    filed: ConsoleController.moment(r?.filedAt ?? now - i.request_age_seconds * 1000, now: now), requester: r?.requester,
                    description: nonEmpty(r?.description), run: r?.source?.runURL, tests: r.flatMap(Self.testStatus))
            }
            return console.page(
                InboxPage(
                    chrome: PageChrome("Inbox", user: record.principal, csrf: ConsoleController.csrfToken(forSession: token), area: .inbox), items: Array(rows),
                    hasItems: !rows.isEmpty,
                    more: items.count > shown.count ? "Showing the oldest \(shown.count) of \(items.count); `signoff inbox` lists them all." : nil))
        }
    }

    /// The current revision's newest test report (evidence with test counts, or of a kind that names tests), as a badge.
    static func testStatus(_ r: DeploymentRequest) -> TestBadge? {
        guard let e = r.currentEvidence.last(where: { $0.tests != nil || $0.kind.contains("test") }) else { return nil }
        return TestBadge(
            status: e.status.rawValue, statusClass: ConsoleController.statusClass(e.status.rawValue), counts: e.tests.map { "\($0.tests) tests, \($0.failures) failures" })
    }

    /// What an inbox item asks, as a sentence's start: "Decide at approved", "Attach evidence for tested".
    static func inboxWords(_ item: InboxItem) -> String {
        let stage = item.stage.map { " \($0)" } ?? ""
        switch item.action {
        case .decide: return "Decide at" + stage
        case .evidence: return "Evidence for" + stage
        case .retrospective: return "Retrospective review"
        case .deploy: return "Deploy" + (item.stage.map { " (\($0))" } ?? "")
        case .finishDeployment: return "Finish the deployment"
        case .revise: return "Revise: changes asked" + (item.stage.map { " at \($0)" } ?? "")
        }
    }

    /// How many inbox items a page shows, oldest first.
    static let inboxPageSize = 100

}
