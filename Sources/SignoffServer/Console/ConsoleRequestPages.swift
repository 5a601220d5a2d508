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

/// The pages about requests: filing one from the browser, a request (led by what is asked and what is missing), its evidence documents.
struct ConsoleRequestPages {
    let console: ConsoleController

    func routes(into router: Router<SignoffRequestContext>) {
        let h = console.handlers
        let console = console
        let pages = self
        // Filing from the browser, for people without a terminal: the places this person may file in. The page's script
        // hashes the bundle (WebCrypto) and posts the digest and name to `/v1/requests`, under the same rules as the CLI.
        router.get("/requests/new") { request, _ -> Response in
            guard let (record, token) = try await console.session(request) else { return console.redirect("/login") }
            let state = try await h.service.state()
            let places: [[String: Any]] = state.projects.keys.sorted().flatMap { key -> [[String: Any]] in
                guard let project = state.projects[key] else { return [] }
                return project.environments.keys.sorted().compactMap { environment in
                    // Emergencies too are filed by requesters (the workflow's `emergency: filed_by` roles narrow who, among them).
                    guard state.holds(record.principal, role: Workflow.requestersRole, project: key, environment: environment) else { return nil }
                    let workflow = project.environments[environment].flatMap { state.currentWorkflows[$0] }.flatMap { state.workflows[$0] }
                    return ["project": key, "environment": environment, "workflow": workflow?.title ?? project.environments[environment] ?? ""]
                }
            }
            return console.page("file", ConsoleController.context([
                "title": "File a request", "user": record.principal, "csrf": ConsoleController.csrfToken(forSession: token), "places": places, "hasPlaces": !places.isEmpty,
            ]))
        }
        router.get("/requests/{id}") { request, context -> Response in
            try await console.withReadableRequest(request, context) { found in
                var values = pages.requestContext(found.request, state: found.state, now: found.now, user: found.user, csrf: found.csrf)
                let entries = try await console.ledgerEntries(of: found.request.id, proofs: .none, now: found.now)
                values["entries"] = entries
                values["entryCount"] = entries.count
                return console.page("request", values)
            }
        }
        router.get("/requests/{id}/evidence/{digest}") { request, context -> Response in
            try await console.withReadableRequest(request, context, missing: "No such evidence of a request that you may read.") { found in
                guard let digest = try? SHA256Digest(parsing: context.parameters.get("digest") ?? ""), let evidence = found.request.evidence.last(where: { $0.digest == digest })
                else { return console.notFound(found.user, csrf: found.csrf, "No such evidence of a request that you may read.") }
                return console.page("evidence", try await pages.evidenceContext(found.request, evidence, user: found.user, csrf: found.csrf))
            }
        }
    }

    func requestContext(_ r: DeploymentRequest, state: SignoffState, now: Int64, user: String, csrf: String) -> [String: Any] {
        let view = RequestView(r)
        let status = r.status == .active ? "at \(r.stage)" : r.status.rawValue
        let statusClass = r.status == .deployed ? "ok" : r.status == .active ? "warn" : "bad"
        let explanation = Engine.explain(r.id, state: state, now: now)
        func conditions(_ list: [ConditionStatus]) -> [[String: Any]] {
            list.map { c in ConsoleController.context(["rule": c.rule, "met": c.met, "detail": c.detail, "supply": c.whoCanSupply.joined(separator: ", ")]) }
        }
        let gates: [[String: Any]] = (explanation?.gates ?? []).map { g in
            ["stage": g.stage, "satisfied": g.isSatisfied, "conditions": conditions(g.conditions)]
        }
        // What the next stage still lacks: the page leads with it.
        let missing = (explanation?.gates ?? []).first { !$0.isSatisfied }.map { g in
            ["stage": g.stage, "conditions": conditions(g.conditions.filter { !$0.met })] as [String: Any]
        }
        let awaiting = Policy.awaiting(r, principal: user, state: state)
        let delegated = Policy.awaiting(r, delegate: user, state: state, now: now)
        // In the workflow's order (read once, not per comparison).
        let order = state.workflow(for: r)?.workflow.stages.map(\.name) ?? []
        let stages = Array(Set(awaiting + delegated.values.flatMap { $0 })).sorted { a, b in
            (order.firstIndex(of: a) ?? .max, a) < (order.firstIndex(of: b) ?? .max, b)
        }
        let delegators = delegated.keys.sorted().map { ["name": $0, "stages": delegated[$0]!.joined(separator: ", ")] }
        var asked: [String] = []
        if !awaiting.isEmpty { asked.append("You are asked to decide at \(awaiting.joined(separator: " and ")).") }
        for name in delegated.keys.sorted() { asked.append("You may decide for \(name) at \(delegated[name]!.joined(separator: " and ")) (delegated to you).") }
        let changesAsked = r.currentDecisions.last { $0.decision == .changesRequested }
        if r.status == .active, r.requester == user, let changesAsked {
            asked.append("\(changesAsked.by) asked for changes at \(changesAsked.stage): revise the bundle below, or withdraw the request.")
        }
        if asked.isEmpty, r.status == .active { asked.append("Nothing is asked of you on this request.") }
        let closed: [String: Any]? =
            switch r.status {
            case .rejected:
                r.decisions.last { $0.decision == .reject }.map { d in
                    ConsoleController.context(["headline": "Rejected by \(d.by) at \(d.stage), \(ConsoleController.moment(d.at, now: now)["ago"]!):", "reason": d.comment])
                }
            case .withdrawn: ["headline": "Withdrawn: nobody can approve or deploy it."]
            case .expired: ["headline": "Expired: nothing happened to it for longer than its workflow allows."]
            default: nil
            }
        let labels = String(decoding: (try? WireCoding.encode(r.labels)) ?? Data("{}".utf8), as: UTF8.self)
        let changed = r.earlierRevisions.last.map { Self.revisionChange(r, previous: $0, now: now) }
        let evidence: [[String: Any]] = view.evidence.map { e in
            let counts = e.tests.map { "\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" }
            return ConsoleController.context([
                "kind": e.kind, "status": e.status, "statusClass": ConsoleController.statusClass(e.status), "actor": e.actor,
                "at": ConsoleController.moment(e.at, now: now), "digest": e.digest, "counts": counts, "revision": e.revision, "old": e.revision != r.revision,
                "link": "/requests/\(r.id)/evidence/\(e.digest)",
            ])
        }
        let decisions: [[String: Any]] = view.decisions.map { d in
            ConsoleController.context([
                "stage": d.stage, "decision": Self.decisionWords(d.decision), "actor": d.actor, "on_behalf_of": d.on_behalf_of as Any,
                "at": ConsoleController.moment(d.at, now: now), "signed": d.signed, "key": d.key_fingerprint.map { String($0.prefix(19)) + "…" }, "comment": d.comment,
                "revision": d.revision, "old": d.revision != r.revision,
            ])
        }
        let exemptions: [[String: Any]] = state.freezes.keys.sorted().compactMap { id in
            state.freezes[id]?.exemptions?[r.id].map { ["freeze": id, "by": $0.by, "reason": $0.reason] }
        }
        let workflow = state.workflow(for: r)
        return ConsoleController.context([
            "title": r.id, "user": user, "csrf": csrf,
            "r": ConsoleController.context([
                "request": r.id, "project": r.project, "environment": r.environment, "statusText": status, "statusClass": statusClass,
                "emergency_reason": r.emergency?.reason as Any, "bundle": r.bundle, "digest": r.digest.description, "revision": r.revision,
                "requester": r.requester, "filed": ConsoleController.moment(r.filedAt, now: now), "description": r.description,
                "labelsText": r.labels.isEmpty ? "" : r.labels.keys.sorted().map { "\($0)=\(r.labels[$0]!.joined(separator: ","))" }.joined(separator: " "),
                "workflow": workflow?.title ?? "unknown workflow", "workflow_digest": view.workflow_digest, "hasSource": r.source != nil,
                "sourceParts": ConsoleController.sourceParts(r.source),
            ]),
            "closed": closed, "askedOfYou": asked.joined(separator: " "), "missing": missing, "exemptions": exemptions,
            "changed": changed, "statusText": status, "gates": gates, "canDecide": !stages.isEmpty, "awaiting": stages,
            "delegators": delegators.isEmpty ? nil : delegators,
            "mayWithdraw": r.status == .active && r.requester == user && r.deploymentInProgress == nil,
            "mayRevise": r.status == .active && r.requester == user && r.deploymentInProgress == nil && r.emergency == nil,
            "request": r.id, "project": r.project, "environment": r.environment, "bundle": r.bundle, "digest": r.digest.description, "revision": r.revision,
            "workflowDigest": r.workflowDigest.description, "labelsJSON": labels, "emergency": r.emergency != nil,
            "evidence": evidence, "hasEvidence": !evidence.isEmpty, "decisions": decisions, "hasDecisions": !decisions.isEmpty,
            "deployments": view.deployments.map { ConsoleController.context(["outcome": $0.outcome, "actor": $0.actor, "at": ConsoleController.moment($0.at, now: now), "note": $0.note]) },
            "started": view.deployment_started.map { ["actor": $0.actor, "at": ConsoleController.moment($0.at, now: now)] as [String: Any] },
            "history": view.history.map { ["at": ConsoleController.moment($0.at, now: now), "stage": $0.stage, "revision": $0.revision] as [String: Any] },
            "historyCount": view.history.count,
        ])
    }

    /// What a revision changed against the one it replaced: the bundle and digest side by side, who revised and why
    /// (the changes asked of the previous revision), and what no longer counts.
    static func revisionChange(_ r: DeploymentRequest, previous: EarlierRevision, now: Int64) -> [String: Any] {
        let asked = r.decisions.last { $0.revision == previous.revision && $0.decision == .changesRequested }
        let oldEvidence = r.evidence.filter { $0.revision == previous.revision }.count
        let oldDecisions = r.decisions.filter { $0.revision == previous.revision && $0.decision == .approve }.count
        return ConsoleController.context([
            "previous": previous.revision, "current": r.revision, "oldBundle": previous.bundle, "newBundle": r.bundle, "bundleChanged": previous.bundle != r.bundle,
            "oldDigest": previous.digest.description, "newDigest": r.digest.description, "digestChanged": previous.digest != r.digest,
            "by": previous.replacedBy, "at": ConsoleController.moment(previous.replacedAt, now: now),
            "asked": asked.map { ConsoleController.context(["stage": $0.stage, "actor": $0.by, "comment": $0.comment]) },
            "carried": "The workflow starts again at its first stage: the \(oldEvidence) evidence item(s) and \(oldDecisions) approval(s) of revision \(previous.revision) no longer count.",
        ])
    }

    /// An evidence document as people read it: a JUnit report as a table of its test cases, text as text, Markdown
    /// rendered safely, anything else (a PDF) offered for download — never served as a page of ours.
    func evidenceContext(_ r: DeploymentRequest, _ e: Evidence, user: String, csrf: String) async throws -> [String: Any] {
        var context: [String: Any?] = [
            "title": "\(e.kind) of \(r.id)", "user": user, "csrf": csrf, "request": r.id, "kind": e.kind, "status": e.status.rawValue,
            "statusClass": ConsoleController.statusClass(e.status.rawValue), "actor": e.attachedBy, "at": Timestamps.rfc3339(e.at),
            "revision": e.revision, "digest": e.digest.description,
        ]
        if let document = try await console.handlers.service.evidence.get(e.digest, project: r.project) {
            context["stored"] = true
            context["mediaType"] = document.mediaType
            context["size"] = document.content.count
            context["download"] = "/v1/requests/\(r.id)/evidence-documents/\(e.digest)"
            let text = String(validating: document.content, as: UTF8.self)
            if document.mediaType.hasSuffix("xml"), let cases = try? JUnitReport.cases(of: document.content) {
                let counts = e.tests.map { "\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" }
                context["junit"] = ConsoleController.context([
                    "summary": counts,
                    "cases": cases.map {
                        ConsoleController.context([
                            "classname": $0.classname, "name": $0.name, "outcome": $0.outcome.rawValue, "suite": $0.suite, "message": $0.message,
                            "outcomeClass": $0.outcome == .passed ? "ok" : $0.outcome == .skipped ? "warn" : "bad",
                        ])
                    },
                ])
            } else if document.mediaType == "text/markdown", let text {
                context["markdown"] = SafeMarkdown.render(text)
            } else if document.mediaType != "application/pdf", let text {
                context["text"] = text
            }
        }
        return ConsoleController.context(context)
    }

    /// A decision as people say it.
    static func decisionWords(_ kind: String) -> String {
        switch kind {
        case DecisionKind.approve.rawValue: "approved"
        case DecisionKind.reject.rawValue: "rejected"
        case DecisionKind.changesRequested.rawValue: "changes requested"
        default: kind
        }
    }
}
