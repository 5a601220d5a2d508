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

/// The dashboard: every project × environment the person may read — what runs, what is pending and stuck — with its filters.
struct ConsoleDashboardPage {
    let console: ConsoleController

    func routes(into router: Router<SignoffRequestContext>) {
        let h = console.handlers
        let console = console
        let pages = self
        router.get("/dashboard") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let q = request.uri.queryParameters
            let project = q.get("project").flatMap { $0.isEmpty ? nil : $0 }
            let environment = q.get("environment").flatMap { $0.isEmpty ? nil : $0 }
            let team = q.get("team").flatMap { $0.isEmpty ? nil : $0 }
            let condition = q.get("state").flatMap { $0.isEmpty ? nil : $0 }
            let (state, all) = try await h.views.inventory(h.service)
            let now = h.service.now
            let visible = { (key: String) in Access.mayRead(project: key, principal: record.principal, state: state, now: now) }
            // A team is a group: the projects that bind it to any of their roles.
            let teamProjects = team.map { group in Set(state.projects.values.filter { $0.boundGroups.contains(group) }.map(\.key)) }
            let rows = all.filter { row in
                visible(row.project) && (project.map { row.project == $0 } ?? true) && (environment.map { row.environment == $0 } ?? true)
                    && (teamProjects.map { $0.contains(row.project) } ?? true) && (condition.map { Self.inventoryRow(row, is: $0) } ?? true)
            }
            let projects = state.projects.keys.filter(visible).sorted().map { Choice(name: $0, selected: $0 == project) }
            let teams = Set(state.projects.values.filter { visible($0.key) }.flatMap(\.boundGroups)).sorted().map { Choice(name: $0, selected: $0 == team) }
            let states = Self.dashboardStates.map { Choice(name: $0, selected: $0 == condition) }
            let environments = Set(state.projects.values.filter { visible($0.key) }.flatMap(\.environments.keys)).sorted().map {
                Choice(name: $0, selected: $0 == environment)
            }
            return console.page(
                DashboardPage(
                    chrome: PageChrome("Dashboard", user: record.principal, csrf: ConsoleController.csrfToken(forSession: token), area: .dashboard),
                    projects: projects, teams: teams, environments: environments, states: states, rows: rows.map { pages.inventoryRow($0, now: now) },
                    hasRows: !rows.isEmpty))
        }
    }

    /// The dashboard's state filter.
    static let dashboardStates = ["pending", "stuck", "deploying", "frozen", "emergency", "idle"]

    static func inventoryRow(_ row: EnvironmentInventory, is condition: String) -> Bool {
        switch condition {
        case "pending": !row.pending.isEmpty
        case "stuck": row.pending.contains { !$0.waiting_for.isEmpty }
        case "deploying": !row.deploying.isEmpty
        case "frozen": !row.freezes.isEmpty
        case "emergency": row.running?.emergency == true || row.pending.contains(where: \.emergency)
        case "idle": row.pending.isEmpty && row.deploying.isEmpty
        default: true
        }
    }


    func inventoryRow(_ row: EnvironmentInventory, now: Int64) -> DashboardPage.Row {
        DashboardPage.Row(
            project: row.project, environment: row.environment, frozen: nonEmpty(row.freezes.joined(separator: ", ")),
            running: row.running.map {
                DashboardPage.Running(
                    request: $0.request, bundle: $0.bundle, deployed: ConsoleController.moment($0.deployed_at, now: now), actor: $0.actor, emergency: $0.emergency,
                    retrospective: $0.retrospective)
            },
            deploying: row.deploying.map { DashboardPage.Deploying(request: $0.request) }, pendingCount: row.pending.count,
            oldest: row.pending.first.map { ConsoleController.age($0.age_seconds) },
            stuck: row.pending.filter { !$0.waiting_for.isEmpty }.prefix(3).map {
                DashboardPage.Stuck(request: $0.request, stage: $0.stage, why: $0.waiting_for.joined(separator: "; "))
            })
    }
}
