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

/// The audit pages: the ledger's health and the exports, and a request's timeline with inclusion proofs.
struct ConsoleAuditPages {
    let console: ConsoleController

    func routes(into router: Router<SignoffRequestContext>) {
        let h = console.handlers
        let console = console
        // A request's entries, each with its inclusion proof in the newest signed checkpoint, checked here.
        router.get("/audit/requests/{id}") { request, context -> Response in
            try await console.withReadableRequest(request, context) { found in
                let id = found.request.id
                let checkpoint = try await h.ledger.latestCheckpoint()
                return console.page(
                    TimelinePage(
                        chrome: PageChrome("Timeline of \(id)", user: found.user, csrf: found.csrf, area: .audit), request: id,
                        entries: try await console.ledgerEntries(of: id, proofs: .against(checkpoint), now: found.now), checkpoint: checkpoint?.serialized,
                        checkpointSize: checkpoint?.checkpoint.size, ledgerKey: h.ledger.verifierKey.description))
            }
        }
        router.get("/audit") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let health = try await AuditHealth.current(h.service)
            let state = try await h.service.state()
            // The exports this person may download: every project for administrators and auditors, else each one they read.
            let everything = state.principals[record.principal]?.isAdministrator == true || state.isMember(record.principal, of: Access.auditorsGroup)
            let exportable = state.projects.keys.filter { Access.mayRead(project: $0, principal: record.principal, state: state, now: h.service.now) }.sorted()
            let cp = health.checkpoint
            let run = health.last_verification
            return console.page(
                AuditPage(
                    chrome: PageChrome("Audit", user: record.principal, csrf: ConsoleController.csrfToken(forSession: token), area: .audit), origin: health.origin,
                    size: health.ledger_size, healthy: health.healthy, unhealthy: !health.healthy, ledgerKey: health.ledger_verifier_key,
                    checkpoint: cp.map {
                        AuditPage.Checkpoint(
                            size: $0.size, root: $0.root, coversUntil: $0.covers_until, coversAge: $0.covers_until_age_seconds.map(ConsoleController.age),
                            uncovered: $0.uncovered_entries > 0
                                ? "\($0.uncovered_entries) newer \($0.uncovered_entries == 1 ? "entry" : "entries") not yet covered, the oldest waiting \(ConsoleController.age($0.oldest_uncovered_age_seconds))"
                                : nil,
                            note: $0.note)
                    },
                    checks: health.checks.map { AuditPage.Check(check: $0.check, passed: $0.passed, detail: $0.detail) },
                    verification: run.map {
                        AuditPage.Verification(
                            finished: ConsoleController.moment($0.finished_at, now: h.service.now), entries: Self.counted($0.entries, "entry", "entries"), checkpoints: Self.counted(UInt64($0.checkpoints), "checkpoint", "checkpoints"),
                            seconds: String(format: "%.1f", $0.seconds),
                            // The run's figures are of the ledger as it was then: say how far it has grown since.
                            grown: health.ledger_size > $0.entries
                                ? "The ledger holds \(health.ledger_size) entries now: the \(health.ledger_size - $0.entries) appended since are checked by the next run." : nil,
                            passed: $0.passed, failure: nonEmpty($0.failure))
                    },
                    running: health.verification_running, everything: everything,
                    exports: exportable.map {
                        AuditPage.Export(project: $0, query: "?project=" + ($0.addingPercentEncoding(withAllowedCharacters: ConsoleController.unreserved) ?? $0))
                    }))
        }
    }

    /// A count with its noun, singular for one.
    static func counted(_ n: UInt64, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }

}
