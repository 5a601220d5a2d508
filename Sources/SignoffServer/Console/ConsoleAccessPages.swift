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

/// The access review: who can act on each duty of a project, then and now, and what was decided in a period (HTML and CSV).
struct ConsoleAccessPages {
    let console: ConsoleController

    func routes(into router: Router<SignoffRequestContext>) {
        let h = console.handlers
        let console = console
        router.get("/access") { request, context -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let state = try await h.service.state()
            let reviewable = state.projects.keys.filter { AccessReview.mayReview(project: $0, principal: record.principal, state: state) }.sorted()
            let q = request.uri.queryParameters
            guard let project = q.get("project").flatMap({ $0.isEmpty ? nil : $0 }) ?? reviewable.first, reviewable.contains(project) else {
                return console.page(
                    ErrorPage(
                        chrome: PageChrome("Access review", user: record.principal, csrf: ConsoleController.csrfToken(forSession: token), area: .access),
                        message: "An access review is for administrators, auditors and a project's administrators; there is no project you may review."),
                    status: .forbidden)
            }
            var context = context
            context.token = record
            var error: String?
            var review: AccessReviewView?
            do { review = try await h.accessReview(project: project, query: request, context) } catch let problem as Problem { error = problem.detail }
            let encoded = { (s: String?) in s.flatMap { $0.addingPercentEncoding(withAllowedCharacters: ConsoleController.unreserved) } ?? "" }
            let csv = "/access.csv?project=\(encoded(project))&environment=\(encoded(q.get("environment")))&at=\(encoded(q.get("at")))&from=\(encoded(q.get("from")))&to=\(encoded(q.get("to")))"
            func snapshot(_ heading: String, _ s: AccessReviewView.Snapshot) -> AccessPage.Snapshot {
                AccessPage.Snapshot(
                    heading: heading,
                    duties: s.duties.map { d in
                        AccessPage.Duty(
                            environment: d.environment, stage: d.stage ?? "—", duty: d.duty, roles: d.roles.joined(separator: " or "),
                            holders: d.holders.map { AccessPage.Holder(principal: $0.principal, through: $0.through.joined(separator: "; "), canSign: $0.can_sign) })
                    })
            }
            var snapshots: [AccessPage.Snapshot] = []
            if let review {
                snapshots.append(snapshot("Who can act now (\(review.now.at))", review.now))
                if let then = review.then { snapshots.append(snapshot("Who could act at \(then.at)", then)) }
            }
            return console.page(
                AccessPage(
                    chrome: PageChrome("Access review", user: record.principal, csrf: ConsoleController.csrfToken(forSession: token), area: .access), project: project,
                    projects: reviewable.map { Choice(name: $0, selected: $0 == project) }, environment: nonEmpty(q.get("environment")), at: nonEmpty(q.get("at")),
                    from: nonEmpty(q.get("from")), to: nonEmpty(q.get("to")), error: nonEmpty(error), csv: csv, snapshots: snapshots,
                    period: review?.period.map { p in
                        AccessPage.Period(
                            from: p.from, to: p.to, hasActions: !p.actions.isEmpty,
                            actions: p.actions.map { a in
                                AccessPage.Action(
                                    time: a.time, request: a.request, environment: a.environment, stage: a.stage, decision: a.decision, by: a.by,
                                    onBehalfOf: a.on_behalf_of, counted: a.counted, note: nonEmpty(a.note))
                            })
                    }))
        }
        router.get("/access.csv") { request, context -> Response in
            guard let (record, _) = try await console.session(request) else { return console.redirect("/login") }
            var context = context
            context.token = record
            let project = request.uri.queryParameters.get("project") ?? ""
            let review = try await h.accessReview(project: project, query: request, context)
            var headers = ConsoleController.headers()
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"access-review-\(project).csv\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: review.csv)))
        }
    }

}
