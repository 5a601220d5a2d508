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
            let places = state.projects.keys.sorted().flatMap { key -> [FilePage.Place] in
                guard let project = state.projects[key] else { return [] }
                return project.environments.keys.sorted().compactMap { environment in
                    // Emergencies too are filed by requesters (the workflow's `emergency: filed_by` roles narrow who, among them).
                    guard state.holds(record.principal, role: Workflow.requestersRole, project: key, environment: environment) else { return nil }
                    let workflow = project.environments[environment].flatMap { state.currentWorkflows[$0] }.flatMap { state.workflows[$0] }
                    return FilePage.Place(project: key, environment: environment, workflow: workflow?.title ?? project.environments[environment] ?? "")
                }
            }
            return console.page(
                FilePage(
                    chrome: PageChrome("File a request", user: record.principal, csrf: ConsoleController.csrfToken(forSession: token), area: .file), places: places,
                    hasPlaces: !places.isEmpty))
        }
        router.get("/requests/{id}") { request, context -> Response in
            try await console.withReadableRequest(request, context) { found in
                let entries = try await console.ledgerEntries(of: found.request.id, proofs: .none, now: found.now)
                return console.page(pages.requestPage(found, entries: entries))
            }
        }
        router.get("/requests/{id}/evidence/{digest}") { request, context -> Response in
            try await console.withReadableRequest(request, context, missing: "No such evidence of a request that you may read.") { found in
                guard let digest = try? SHA256Digest(parsing: context.parameters.get("digest") ?? ""), let evidence = found.request.evidence.last(where: { $0.digest == digest })
                else { return console.notFound(found.user, csrf: found.csrf, "No such evidence of a request that you may read.") }
                return console.page(try await pages.evidencePage(found.request, evidence, user: found.user, csrf: found.csrf))
            }
        }
    }

    /// The request page of `found` (with `entries`, the ledger's entries about it).
    func requestPage(_ found: ConsoleController.ReadableRequest, entries: [LedgerEntryRow]) -> RequestPage {
        let (r, state, now, user) = (found.request, found.state, found.now, found.user)
        let view = RequestView(r)
        let status = r.status == .active ? "at \(r.stage)" : r.status.rawValue
        let explanation = Engine.explain(r.id, state: state, now: now)
        func conditions(_ list: [ConditionStatus]) -> [RequestPage.Condition] {
            list.map { c in RequestPage.Condition(rule: c.rule, met: c.met, detail: c.detail, supply: nonEmpty(c.whoCanSupply.joined(separator: ", "))) }
        }
        let gates = (explanation?.gates ?? []).map { g in RequestPage.Gate(stage: g.stage, satisfied: g.isSatisfied, conditions: conditions(g.conditions)) }
        // What the next stage still lacks: the page leads with it.
        let missing = (explanation?.gates ?? []).first { !$0.isSatisfied }.map { g in
            RequestPage.Missing(stage: g.stage, conditions: conditions(g.conditions.filter { !$0.met }))
        }
        let awaiting = Policy.awaiting(r, principal: user, state: state)
        let delegated = Policy.awaiting(r, delegate: user, state: state, now: now)
        // In the workflow's order (read once, not per comparison).
        let order = state.workflow(for: r)?.workflow.stages.map(\.name) ?? []
        let stages = Array(Set(awaiting + delegated.values.flatMap { $0 })).sorted { a, b in
            (order.firstIndex(of: a) ?? .max, a) < (order.firstIndex(of: b) ?? .max, b)
        }
        let delegators = delegated.keys.sorted().map { RequestPage.Delegator(name: $0, stages: delegated[$0]!.joined(separator: ", ")) }
        var asked: [String] = []
        if !awaiting.isEmpty { asked.append("You are asked to decide at \(awaiting.joined(separator: " and ")).") }
        for name in delegated.keys.sorted() { asked.append("You may decide for \(name) at \(delegated[name]!.joined(separator: " and ")) (delegated to you).") }
        let changesAsked = r.currentDecisions.last { $0.decision == .changesRequested }
        if r.status == .active, r.requester == user, let changesAsked {
            asked.append("\(changesAsked.by) asked for changes at \(changesAsked.stage): revise the bundle below, or withdraw the request.")
        }
        if asked.isEmpty, r.status == .active { asked.append("Nothing is asked of you on this request.") }
        let closed: RequestPage.Closed? =
            switch r.status {
            case .rejected:
                r.decisions.last { $0.decision == .reject }.map { d in
                    RequestPage.Closed(headline: "Rejected by \(d.by) at \(d.stage), \(ConsoleController.moment(d.at, now: now).ago):", reason: nonEmpty(d.comment))
                }
            case .withdrawn: RequestPage.Closed(headline: "Withdrawn: nobody can approve or deploy it.", reason: nil)
            case .expired: RequestPage.Closed(headline: "Expired: nothing happened to it for longer than its workflow allows.", reason: nil)
            default: nil
            }
        let labels = String(decoding: (try? WireCoding.encode(r.labels)) ?? Data("{}".utf8), as: UTF8.self)
        let evidence = view.evidence.map { e in
            RequestPage.EvidenceRow(
                kind: e.kind, status: e.status, statusClass: ConsoleController.statusClass(e.status), actor: e.actor, at: ConsoleController.moment(e.at, now: now),
                digest: e.digest, counts: e.tests.map { "\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" },
                revision: e.revision, old: e.revision != r.revision, link: "/requests/\(r.id)/evidence/\(e.digest)")
        }
        let decisions = view.decisions.map { d in
            RequestPage.DecisionRow(
                stage: d.stage, decision: Self.decisionWords(d.decision), actor: d.actor, onBehalfOf: d.on_behalf_of, at: ConsoleController.moment(d.at, now: now),
                signed: d.signed, key: d.key_fingerprint.map { String($0.prefix(19)) + "…" }, comment: nonEmpty(d.comment), revision: d.revision,
                old: d.revision != r.revision)
        }
        let exemptions = state.freezes.keys.sorted().compactMap { id in
            state.freezes[id]?.exemption(for: r).map { RequestPage.Exemption(freeze: id, by: $0.by, reason: $0.reason) }
        }
        return RequestPage(
            chrome: PageChrome(r.id, user: user, csrf: found.csrf),
            request: r.id, project: r.project, environment: r.environment, statusText: status,
            statusClass: r.status == .deployed ? "ok" : r.status == .active ? "warn" : "bad", emergency: r.emergency != nil, emergencyReason: nonEmpty(r.emergency?.reason),
            bundle: r.bundle, digest: r.digest.description, revision: r.revision, requester: r.requester, filed: ConsoleController.moment(r.filedAt, now: now),
            description: nonEmpty(r.description),
            labelsText: nonEmpty(r.labels.keys.sorted().map { "\($0)=\(r.labels[$0]!.joined(separator: ","))" }.joined(separator: " ")), labelsJSON: labels,
            workflow: state.workflow(for: r)?.title ?? "unknown workflow", workflowDigest: view.workflow_digest, hasSource: r.source != nil,
            sourceParts: ConsoleController.sourceParts(r.source),
            closed: closed, askedOfYou: nonEmpty(asked.joined(separator: " ")), missing: missing, exemptions: exemptions,
            changed: r.earlierRevisions.last.map { Self.revisionChange(r, previous: $0, now: now) },
            canDecide: !stages.isEmpty, awaiting: stages, delegators: delegators.isEmpty ? nil : delegators,
            mayWithdraw: r.status == .active && r.requester == user && r.deploymentInProgress == nil,
            mayRevise: r.status == .active && r.requester == user && r.deploymentInProgress == nil && r.emergency == nil,
            gates: gates, evidence: evidence, hasEvidence: !evidence.isEmpty, decisions: decisions, hasDecisions: !decisions.isEmpty,
            deployments: view.deployments.map {
                RequestPage.DeploymentRow(outcome: $0.outcome, actor: $0.actor, at: ConsoleController.moment($0.at, now: now), note: nonEmpty($0.note))
            },
            started: view.deployment_started.map { RequestPage.Started(actor: $0.actor, at: ConsoleController.moment($0.at, now: now)) },
            history: view.history.map { RequestPage.HistoryRow(at: ConsoleController.moment($0.at, now: now), stage: $0.stage, revision: $0.revision) },
            historyCount: view.history.count, entries: entries, entryCount: entries.count)
    }

    /// What a revision changed against the one it replaced: the bundle and digest side by side, who revised and why
    /// (the changes asked of the previous revision), and what no longer counts.
    static func revisionChange(_ r: DeploymentRequest, previous: EarlierRevision, now: Int64) -> RequestPage.RevisionChange {
        let asked = r.decisions.last { $0.revision == previous.revision && $0.decision == .changesRequested }
        let oldEvidence = r.evidence.filter { $0.revision == previous.revision }.count
        let oldDecisions = r.decisions.filter { $0.revision == previous.revision && $0.decision == .approve }.count
        return RequestPage.RevisionChange(
            previous: previous.revision, current: r.revision, oldBundle: previous.bundle, newBundle: r.bundle, bundleChanged: previous.bundle != r.bundle,
            oldDigest: previous.digest.description, newDigest: r.digest.description, digestChanged: previous.digest != r.digest,
            by: previous.replacedBy, at: ConsoleController.moment(previous.replacedAt, now: now),
            asked: asked.map { RequestPage.RevisionChange.Asked(stage: $0.stage, actor: $0.by, comment: nonEmpty($0.comment)) },
            carried: "The workflow starts again at its first stage: the \(oldEvidence) evidence item(s) and \(oldDecisions) approval(s) of revision \(previous.revision) no longer count.")
    }

    /// An evidence document as people read it: a JUnit report as a table of its test cases, text as text, Markdown
    /// rendered safely, anything else (a PDF) offered for download — never served as a page of ours.
    func evidencePage(_ r: DeploymentRequest, _ e: Evidence, user: String, csrf: String) async throws -> EvidencePage {
        let document = try await console.handlers.service.evidence.get(e.digest, project: r.project)
        var junit: EvidencePage.JUnit?
        var markdown: String?
        var text: String?
        if let document {
            let content = String(validating: document.content, as: UTF8.self)
            if document.mediaType.hasSuffix("xml"), let cases = try? JUnitReport.cases(of: document.content) {
                junit = EvidencePage.JUnit(
                    summary: e.tests.map { "\($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" },
                    cases: cases.map {
                        EvidencePage.Case(
                            classname: $0.classname, name: $0.name, outcome: $0.outcome.rawValue,
                            outcomeClass: $0.outcome == .passed ? "ok" : $0.outcome == .skipped ? "warn" : "bad", suite: nonEmpty($0.suite), message: nonEmpty($0.message))
                    })
            } else if document.mediaType == "text/markdown", let content {
                markdown = SafeMarkdown.render(content)
            } else if document.mediaType != "application/pdf", let content {
                text = nonEmpty(content)
            }
        }
        return EvidencePage(
            chrome: PageChrome("\(e.kind) of \(r.id)", user: user, csrf: csrf), request: r.id, kind: e.kind, status: e.status.rawValue,
            statusClass: ConsoleController.statusClass(e.status.rawValue), actor: e.attachedBy, at: Timestamps.rfc3339(e.at), revision: e.revision,
            digest: e.digest.description, stored: document != nil, mediaType: document?.mediaType, size: document?.content.count,
            download: document.map { _ in "/v1/requests/\(r.id)/evidence-documents/\(e.digest)" }, junit: junit, markdown: markdown, text: text)
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
