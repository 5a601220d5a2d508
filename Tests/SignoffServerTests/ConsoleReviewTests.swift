import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Mustache
import Prometheus
import SignoffAPI
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffService
import SignoffTestSupport
import Testing

/// Issue 30, part 3: a console for reviewers — what is asked first, people's words and times, a rejection that asks
/// first, deciding for a delegator, filing from the browser; and every template rendered.
@Suite("A console for reviewers")
struct ConsoleReviewTests {
    static func post(_ client: some TestClientProtocol, _ uri: String, cookie: String, csrf: String?, _ json: String) async throws -> (Int, String) {
        var headers: HTTPFields = [.contentType: "application/json", .cookie: "signoff_session=\(cookie)"]
        if let csrf { headers[HTTPField.Name("X-CSRF-Token")!] = csrf }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json)) { (Int($0.status.code), String(buffer: $0.body)) }
    }

    @Test("The request page leads with what is asked and what is missing; times relative with the exact one on hover; the workflow by name and version; conditions and superseded decisions told by text; the ledger folded; aria-current")
    func requestPage() async throws {
        var f = try await ServerFixture()
        defer { f.remove() }
        try await f.add(Cast.secondReleaseManager)
        try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "m.zip", digest: SHA256Digest.hash("m"), description: "weekly retrain"), as: "riley")
        try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
        try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .changesRequested, comment: "pin the seed", envelope: nil), as: "morgan")
        try await f.must(.revise(request: "REQ-1", bundle: "m2.zip", digest: SHA256Digest.hash("m2")), as: "riley")
        // morgan hands deciding on churn-model to eve (who holds no role of her own) for a week.
        let now = f.database.now
        try await f.must(.delegate(DelegationSpec(delegate: "eve", start: now - 1000, end: now + 7 * 86_400_000, project: Cast.project, role: nil)), as: "morgan")
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        let keys = f.keys
        let database = f.database
        try await app.test(.router) { client in
            let morgan = try await ConsoleTests.login(client, "morgan", key: keys["morgan"]!).cookie
            let page = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: morgan)
            #expect(page.status == 200)
            let html = page.body
            // What is asked comes before the details, and what the next stage lacks, told by words.
            let asked = try #require(html.range(of: "What is asked"))
            let bundle = try #require(html.range(of: "<th scope=\"row\">Bundle</th>"))
            #expect(asked.lowerBound < bundle.lowerBound, "the page leads with what is asked")
            #expect(html.contains("You are asked to decide at approved."), "\(html)")
            #expect(html.contains("Still missing before <strong>tested</strong>") && html.contains("<span class=\"state\">Missing:</span> evidence"), "\(html)")
            // Times: "… ago", the exact time in datetime and on hover.
            let filed = try #require(html.firstMatch(of: /<time datetime="([0-9TZ:.\-]+)" title="([0-9TZ:.\-]+)">([^<]+)<\/time>/))
            #expect(filed.output.1 == filed.output.2 && Timestamps.milliseconds(rfc3339: String(filed.output.1)) != nil)
            #expect(filed.output.3.hasSuffix(" ago") || filed.output.3 == "just now", "\(filed.output.3)")
            #expect(!html.contains(">\(Timestamps.rfc3339(now))<"), "no bare timestamp as text")
            // What the revision changed, with who asked for the change (not the page's own "what is asked").
            let revisedLine = try #require(html.firstMatch(of: /<p>Revised by riley <time[^>]*>[^<]*<\/time>[^<]*<\/p>/), "\(html)")
            #expect(revisedLine.output.hasSuffix("</time>. Changes asked at approved by morgan: “pin the seed”.</p>"), "\(revisedLine.output)")
            // The workflow by name and version (the digest beside it, muted).
            #expect(html.contains("<td id=\"workflow\">standard v1 <span"), "\(html)")
            // morgan's decision on revision 1 no longer counts, and says so; in words.
            #expect(html.contains("changes requested <span class=\"badge\">superseded: revision 1</span>"), "\(html)")
            // The ledger rows and the history are folded.
            #expect(html.contains("<details id=\"ledger-entries\">") && html.contains("<summary>Ledger entries: "))
            // Reject asks first (the confirmation is in the page, hidden until asked for), and wants a reason.
            #expect(html.contains("id=\"reject-confirm\" class=\"notice error hidden\" role=\"alertdialog\"") && html.contains("Reject…"))
            #expect(!html.contains("id=\"decide-for\""), "morgan decides for nobody else")
            // Navigation: no page of the nav is current on a request page; on the inbox, the inbox is.
            #expect(!html.contains("aria-current"))
            let inbox = try await ConsoleTests.get(client, "/inbox", cookie: morgan)
            #expect(inbox.body.contains("<a href=\"/inbox\" aria-current=\"page\">Inbox</a>"))
            #expect(inbox.body.contains("Decide at approved") && inbox.body.contains("weekly retrain"))
            #expect(inbox.body.contains("riley<br><span class=\"muted\">weekly retrain</span>"), "requester and description: \(inbox.body)")
            #expect(inbox.body.contains("no test report"), "revision 2 has no test report yet")
            // Exact times on hover: the filing's own millisecond, not "now minus whole seconds".
            let filedAt = try await database.state().requests["REQ-1"]!.filedAt
            #expect(inbox.body.contains("<time datetime=\"\(Timestamps.rfc3339(filedAt))\""), "\(inbox.body)")

            // eve decides for morgan: the page offers it.
            let eve = try await ConsoleTests.login(client, "eve", key: keys["eve"]!).cookie
            let eves = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: eve).body
            #expect(eves.contains("<select id=\"decide-for\" name=\"on_behalf_of\">") && eves.contains("<option value=\"morgan\">for morgan (delegated to you: approved)</option>"), "\(eves)")
            #expect(eves.contains("You may decide for morgan at approved (delegated to you)."))
            // riley, the requester, may withdraw and revise from the page; morgan may not.
            let rileys = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: try await ConsoleTests.login(client, "riley", key: keys["riley"]!).cookie).body
            #expect(rileys.contains("id=\"withdraw-form\"") && rileys.contains("id=\"revise-form\"") && rileys.contains("<input id=\"revise-file\" name=\"bundle\" type=\"file\" required>"))
            #expect(!html.contains("id=\"withdraw-form\"") && !html.contains("id=\"revise-form\""))
            // The dashboard's filters: environments to choose from, not free text.
            let board = try await ConsoleTests.get(client, "/dashboard", cookie: morgan).body
            #expect(board.contains("<select id=\"f-env\" name=\"environment\"><option value=\"\">every environment</option><option value=\"qa\">qa</option></select>"), "\(board)")
            #expect(board.contains("<a href=\"/dashboard\" aria-current=\"page\">Dashboard</a>"))
        }
    }

    @Test("A rejection is shown first with its reason (escaped); filing, revising and withdrawing from the browser go through the API with the session and the page's CSRF token, and are refused without it")
    func fileReviseWithdrawReject() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let app = Application(router: buildRouter(service: f.database), logger: quietLogger)
        try await app.test(.router) { client in
            let riley = try await ConsoleTests.login(client, "riley", key: f.keys["riley"]!).cookie
            let csrf = ConsoleController.csrfToken(forSession: riley)
            // The filing page lists where riley may file, with each place's workflow by name and version.
            let new = try await ConsoleTests.get(client, "/requests/new", cookie: riley)
            #expect(new.status == 200 && new.body.contains("<option value=\"churn-model/qa\">churn-model → qa (standard v1)</option>"), "\(new.body)")
            #expect(new.body.contains("<a href=\"/requests/new\" aria-current=\"page\">File a request</a>"))
            let eve = try await ConsoleTests.login(client, "eve", key: f.keys["eve"]!).cookie
            #expect(try await ConsoleTests.get(client, "/requests/new", cookie: eve).body.contains("You may file requests in no project"))
            #expect(try await ConsoleTests.get(client, "/requests/new", cookie: nil).status == 303)
            // What the page's script sends: the digest the browser computed and the file's name.
            let digest = SHA256Digest.hash("bundle bytes").description
            let body = #"{"project":"churn-model","environment":"qa","bundle":"churn-v2.zip","digest":"\#(digest)","description":"filed in the browser"}"#
            #expect(try await Self.post(client, "/v1/requests", cookie: riley, csrf: nil, body).0 == 403, "no CSRF token, nothing filed")
            #expect(try await f.database.state().requests.isEmpty)
            let filed = try await Self.post(client, "/v1/requests", cookie: riley, csrf: csrf, body)
            #expect(filed.0 == 201 && filed.1.contains("\"request\":\"REQ-1\""), "\(filed)")
            let revised = try await Self.post(client, "/v1/requests/REQ-1/revisions", cookie: riley, csrf: csrf, #"{"bundle":"churn-v3.zip","digest":"\#(SHA256Digest.hash("v3"))"}"#)
            #expect(revised.0 == 200, "\(revised)")
            #expect(try await f.database.state().requests["REQ-1"]?.revision == 2)
            // Withdrawing another person's request is not riley's; withdrawing her own is.
            try await f.must(.fileRequest(project: Cast.project, environment: "qa", bundle: "x.zip", digest: SHA256Digest.hash("x"), description: ""), as: "riley")
            let withdrawn = try await Self.post(client, "/v1/requests/REQ-2/withdraw", cookie: riley, csrf: csrf, #"{"reason":"filed twice"}"#)
            #expect(withdrawn.0 == 200, "\(withdrawn)")
            #expect(try await ConsoleTests.get(client, "/requests/REQ-2", cookie: riley).body.contains("Withdrawn: nobody can approve or deploy it."))

            // morgan rejects REQ-1 with a hostile reason: the page leads with it, as text.
            try await f.must(.attachEvidence(request: "REQ-1", kind: "test-report", status: "passed", digest: SHA256Digest.hash("r")), as: "ci-bot")
            try await f.must(.decide(request: "REQ-1", stage: "approved", decision: .reject, comment: "metrics <b>regressed</b>", envelope: nil), as: "morgan")
            let rejected = try await ConsoleTests.get(client, "/requests/REQ-1", cookie: riley).body
            #expect(rejected.contains("<div class=\"notice error\" id=\"closed-reason\"><strong>Rejected by morgan at approved, "), "\(rejected)")
            #expect(rejected.contains("<span class=\"reason\">“metrics &lt;b&gt;regressed&lt;/b&gt;”</span>") && !rejected.contains("<b>regressed"))
            #expect(!rejected.contains("id=\"withdraw-form\"") && !rejected.contains("id=\"revise-form\""), "a closed request offers nothing to do")
        }
    }

    @Test("Every page is a typed view model: every name its template reads is a property of the model, every template renders, every partial exists, and a page without its template is a 500")
    func everyTemplate() async throws {
        let f = try await ServerFixture()
        defer { f.remove() }
        let handlers = Handlers(
            service: f.database, auth: Authenticator(store: f.database.auth, clock: { f.database.now }), configuration: ServerConfiguration(),
            metrics: SignoffMetrics(registry: .init()))
        let console = try ConsoleController(handlers: handlers)
        // Every page the controllers render is a view model whose template exists, and every template but the
        // partials belongs to one.
        let pages: [any ConsolePage] = Self.samples()
        let partials: Set<String> = ["header", "footer"]
        #expect(Set(pages.map { type(of: $0).template }) == Set(ConsoleFiles.templates.keys).subtracting(partials), "a view model per page")
        for page in pages {
            let template = type(of: page).template
            let text = try #require(ConsoleFiles.templates[template], "\(template) has its template")
            // The names the template reads, with the header's (which reads the chrome), against the model's properties,
            // all of them filled in here. A misspelt name renders as nothing: this is where it shows.
            let names = Self.names(in: text + (text.contains("{{> header}}") ? ConsoleFiles.templates["header"]! : ""))
            let properties = Self.properties(of: page)
            #expect(names.subtracting(properties).isEmpty, "\(template) reads \(names.subtracting(properties).sorted()), which \(type(of: page)) does not have")
            let rendered = console.page(page)
            #expect(rendered.status == .ok, "\(template) renders")
            for partial in text.matches(of: /\{\{>\s*([a-z-]+)\s*\}\}/) {
                #expect(ConsoleFiles.templates[String(partial.output.1)] != nil, "\(template) names the partial \(partial.output.1), which exists")
            }
        }
        // The header reads the chrome: the person, the CSRF token, the current area.
        let inbox = try #require(pages.first { $0 is InboxPage })
        let renderable = try #require(ConsoleController.renderable(inbox))
        let html = try #require(console.library.render(renderable, withTemplate: InboxPage.template))
        #expect(html.contains("<meta name=\"csrf-token\" content=\"c\">") && html.contains("<span class=\"who\">morgan</span>"))
        #expect(html.contains("<a href=\"/inbox\" aria-current=\"page\">Inbox</a>") && html.components(separatedBy: "aria-current").count == 2)
        let missing = console.render(ErrorPage(chrome: PageChrome("T"), message: "m"), template: "no-such-page")
        #expect(missing.status == .internalServerError)
        // Moments: relative, exact on hover.
        let now = f.database.now
        #expect(ConsoleController.moment(now - 12 * 60_000, now: now).ago == "12 min ago")
        #expect(ConsoleController.moment(now + 3 * 3_600_000, now: now).ago == "in 3 h")
        #expect(ConsoleController.moment(now - 2000, now: now).ago == "just now")
        #expect(ConsoleController.moment("not a time", now: now) == Moment(iso: "not a time", ago: "not a time"))
        #expect(ConsoleController.contentSecurityPolicy.contains("form-action 'self'"))
    }

    /// The names a template reads: variables and sections (the first part of a dotted name), not partials, closings,
    /// comments or `.`.
    static func names(in template: String) -> Set<String> {
        Set(template.matches(of: /\{\{\{?\s*([#^&]?)\s*([A-Za-z][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_.]+)?\s*\}?\}\}/).map { String($0.output.2) })
    }

    /// Every stored property's name in a view model, through nested models, optionals and lists.
    static func properties(of value: Any) -> Set<String> {
        var out: Set<String> = []
        let mirror = Mirror(reflecting: value)
        for child in mirror.children {
            if let label = child.label, mirror.displayStyle != .optional { out.insert(label) }
            out.formUnion(properties(of: child.value))
        }
        return out
    }

    /// One of each page, with every optional filled in and every list holding an element: what the names are checked against.
    static func samples() -> [any ConsolePage] {
        let chrome = PageChrome("T", user: "morgan", csrf: "c", area: .inbox)
        let at = Moment(iso: "2026-12-07T10:00:00.000Z", ago: "12 min ago")
        let entry = LedgerEntryRow(
            sequence: 3, kind: "decision", at: at, actor: "morgan", leafHash: "ab", proof: ["cd"], hasProof: true, included: true, notIncluded: false, pending: false)
        let condition = RequestPage.Condition(rule: "evidence", met: false, detail: "a test report", supply: "ci-bot")
        let request = RequestPage(
            chrome: PageChrome("REQ-1", user: "morgan", csrf: "c"), request: "REQ-1", project: "p", environment: "qa", statusText: "at tested",
            statusClass: "warn", emergency: true, emergencyReason: "outage", bundle: "m.zip", digest: "sha256:00", revision: 2, requester: "riley", filed: at,
            description: "weekly", labelsText: "risk=high", labelsJSON: "{}", workflow: "standard v1", workflowDigest: "sha256:11", hasSource: true,
            sourceParts: [SourcePart(text: "run", href: "https://ci.example/1", first: true)],
            closed: .init(headline: "Rejected", reason: "no"), askedOfYou: "decide", missing: .init(stage: "tested", conditions: [condition]),
            exemptions: [.init(freeze: "FRZ-1", by: "ada", reason: "outage")],
            changed: .init(
                previous: 1, current: 2, oldBundle: "a", newBundle: "b", bundleChanged: true, oldDigest: "x", newDigest: "y", digestChanged: true, by: "riley", at: at,
                asked: .init(stage: "approved", actor: "morgan", comment: "pin"), carried: "no longer count"),
            canDecide: true, awaiting: ["approved"], delegators: [.init(name: "eve", stages: "approved")], mayWithdraw: true, mayRevise: true,
            gates: [.init(stage: "tested", satisfied: false, conditions: [condition])],
            evidence: [.init(kind: "test-report", status: "passed", statusClass: "ok", actor: "ci-bot", at: at, digest: "sha256:22", counts: "2 tests", revision: 1, old: true, link: "/l")],
            hasEvidence: true,
            decisions: [
                .init(stage: "approved", decision: "approved", actor: "eve", onBehalfOf: "morgan", at: at, signed: true, key: "SHA256:…", comment: "ok", revision: 2, old: false)
            ],
            hasDecisions: true, deployments: [.init(outcome: "succeeded", actor: "dana", at: at, note: "n")], started: .init(actor: "dana", at: at),
            history: [.init(at: at, stage: "requested", revision: 1)], historyCount: 1, entries: [entry], entryCount: 1)
        return [
            LoginPage(ssoIssuer: "corp", endSession: "https://idp.example/logout"),
            SetupPage(setupUser: "morgan"),
            SignedInPage(signedIn: "morgan", issuer: "corp", next: "/inbox", hasKey: true),
            ErrorPage(chrome: chrome, message: "m"),
            InboxPage(
                chrome: chrome,
                items: [
                    .init(
                        request: "REQ-1", bundle: "m.zip", what: "Decide at approved", onBehalfOf: "morgan", project: "p", environment: "qa", detail: "d", emergency: true,
                        waiting: at, filed: at, requester: "riley", description: "weekly", run: "https://ci.example/1",
                        tests: TestBadge(status: "passed", statusClass: "ok", counts: "2 tests"))
                ],
                hasItems: true, more: "more"),
            FilePage(chrome: chrome, places: [.init(project: "p", environment: "qa", workflow: "standard")], hasPlaces: true),
            request,
            EvidencePage(
                chrome: chrome, request: "REQ-1", kind: "test-report", status: "passed", statusClass: "ok", actor: "ci-bot", at: "2026-12-07T10:00:00Z", revision: 1,
                digest: "sha256:22", stored: true, mediaType: "application/xml", size: 10, download: "/d",
                junit: .init(summary: "2 tests", cases: [.init(classname: "c", name: "n", outcome: "failed", outcomeClass: "bad", suite: "s", message: "m")]),
                markdown: "<p>m</p>", text: "t"),
            DashboardPage(
                chrome: chrome, projects: [.init(name: "p", selected: true)], teams: [.init(name: "t", selected: false)], environments: [.init(name: "qa", selected: false)],
                states: [.init(name: "stuck", selected: false)],
                rows: [
                    .init(
                        project: "p", environment: "qa", frozen: "FRZ-1",
                        running: .init(request: "REQ-1", bundle: "m.zip", deployed: at, actor: "dana", emergency: true, retrospective: "owed"),
                        deploying: [.init(request: "REQ-2")], pendingCount: 1, oldest: "3 h", stuck: [.init(request: "REQ-3", stage: "tested", why: "evidence")])
                ],
                hasRows: true),
            AuditPage(
                chrome: chrome, origin: "o", size: 9, healthy: true, unhealthy: false, ledgerKey: "k",
                checkpoint: .init(size: 8, root: "r", coversUntil: "2026-12-07T10:00:00Z", coversAge: "1 min", uncovered: "1 newer entry", note: "n"),
                checks: [.init(check: "signature", passed: true, detail: "d")],
                verification: .init(finished: at, entries: "8 entries", checkpoints: "1 checkpoint", seconds: "0.1", grown: "grown", passed: false, failure: "f"), running: true,
                everything: true, exports: [.init(project: "p", query: "?project=p")]),
            TimelinePage(chrome: chrome, request: "REQ-1", entries: [entry], checkpoint: "note", checkpointSize: 8, ledgerKey: "k"),
            AccessPage(
                chrome: chrome, project: "p", projects: [.init(name: "p", selected: true)], environment: "qa", at: "a", from: "f", to: "t", error: "e", csv: "/access.csv",
                snapshots: [
                    .init(
                        heading: "now",
                        duties: [.init(environment: "qa", stage: "approved", duty: "decide", roles: "approvers", holders: [.init(principal: "morgan", through: "g", canSign: true)])])
                ],
                period: .init(
                    from: "f", to: "t", hasActions: true,
                    actions: [
                        .init(time: "t", request: "REQ-1", environment: "qa", stage: "approved", decision: "approve", by: "eve", onBehalfOf: "morgan", counted: false, note: "n")
                    ])),
        ]
    }
}
