import ArgumentParser
import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffAPI
import SignoffService

struct RequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "request", abstract: "File deployment requests.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "File a request to deploy a bundle to an environment; prints the request id.")
        @Option var project: String
        @Option var env: String
        @Option(help: "The bundle's name, e.g. churn-model-v12.zip.") var bundle: String
        @Option(help: "The bundle's digest, sha256:HEX.") var digest: String?
        @Option(help: "The bundle file, hashed here instead of --digest.") var file: String?
        @Option(help: "What this deployment is for.") var description: String = ""
        @Option(help: "Shared objects the change touches, e.g. connections,plugins (the label touches).") var touches: String?
        @Option(help: "The change's risk, e.g. high (the label risk).") var risk: String?
        @Option(help: "LABEL=VALUE[,VALUE]: any other label the workflows' when: read.") var label: [String] = []
        @Flag(help: "File an emergency request on this environment, under its workflow's emergency: section (needs --reason).") var emergency = false
        @Option(help: "Why this cannot wait (an emergency's reason).") var reason: String?
        @Flag(
            help: ArgumentHelp(
                "Carry on with what is open (the default, said explicitly): an open request of this project and environment for this digest, whoever filed it, among those you may read; or your own for this bundle name that changes were requested on, revised to this digest."
            ))
        var reuse = false
        @Flag(name: .customLong("new"), help: "File a new request even if one is open for this digest (or revisable for this bundle).") var fileNew = false
        @OptionGroup var source: SourceOptions
        @OptionGroup var options: WriteOptions

        /// The labels given, each a list of values.
        func labels() throws -> [String: [String]] {
            var given: [String] = []
            if let touches { given.append("touches=" + touches) }
            if let risk { given.append("risk=" + risk) }
            return try Labels.parse(given + label)
        }

        func run() async throws {
            try await reportingErrors {
                let digest = try bundleDigest(digest: digest, file: file)
                guard emergency == (reason != nil) else {
                    throw CLIError.badInput(emergency ? "--emergency needs --reason saying why it cannot wait" : "--reason is an emergency's: add --emergency")
                }
                guard !(reuse && fileNew) else { throw CLIError.badInput("--reuse and --new contradict each other: give one") }
                let recorded = try await options.client().file(
                    .fileRequest(
                        project: project, environment: env, bundle: bundle, digest: digest, description: description, labels: try labels(),
                        emergencyReason: reason, source: try source.source()),
                    reuse: !fileNew, as: try options.actor.name)
                guard let id = recorded.request else {
                    throw CLIError.failure("the request was recorded but its id could not be read back")
                }
                let revised = recorded.entries.first?.kind == "request.revised"
                if recorded.entries.isEmpty {
                    printNotice("reusing \(id), the open request of \(project) on \(env) for \(digest) (file another with --new)")
                } else if revised {
                    printNotice("revised \(id) to \(digest): changes were requested on its previous revision of \(bundle) (file another with --new)")
                }
                if options.json {
                    struct Filed: Encodable {
                        let request: String
                        let digest: String
                        let reused: Bool
                        let revised: Bool
                        let sequence: UInt64?
                    }
                    printJSON(
                        Filed(request: id, digest: digest.description, reused: recorded.entries.isEmpty, revised: revised, sequence: recorded.entries.first?.sequence))
                } else {
                    print(id)
                }
            }
        }
    }
}

struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evidence", abstract: "Attach evidence (e.g. a test report) to a request.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach evidence: its kind, status and the SHA-256 of its content.",
            discussion: """
                The status is one of passed, failed, errored, skipped, pending. With --junit FILE the status and the test
                counts come from a JUnit XML report (errors → errored, failures → failed, nothing run → skipped) and the
                file's SHA-256 is the evidence digest. Attaching the same digest again records nothing.
                """)
        @Argument var request: String
        @Option var kind: String
        @Option(help: "passed, failed, errored, skipped or pending (not with --junit).") var status: String?
        @Option(help: "The evidence file (e.g. a PDF); its SHA-256 is recorded.") var file: String?
        @Option(help: "The evidence's digest, sha256:HEX, instead of --file.") var digest: String?
        @Option(help: "A JUnit XML report: its counts give the status, its SHA-256 the digest.") var junit: String?
        @Flag(help: "Also upload the file (--file or --junit) so that the web console shows it (at most 5 MiB by default).") var upload = false
        @Option(name: .customLong("media-type"), help: "The uploaded file's type (default: from its extension): application/xml, text/plain, text/markdown, application/json or application/pdf.")
        var mediaType: String?
        @Option(
            help: "LABEL=VALUE[,VALUE]: what CI detected in the bundle (e.g. touches=connections), for the workflow's when: — only evidence of its labels_from kind carries labels.")
        var label: [String] = []
        @OptionGroup var source: SourceOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                var tests: TestCounts?
                let digest: SHA256Digest
                let status: String
                if let junit {
                    guard self.status == nil, file == nil, self.digest == nil else {
                        throw CLIError.badInput("--junit gives the status and the digest: leave out --status, --file and --digest")
                    }
                    guard let data = FileManager.default.contents(atPath: junit) else { throw CLIError.badInput("cannot read \(junit)") }
                    do { tests = try JUnitReport.counts(of: [UInt8](data)) } catch { throw CLIError.badInput("\(junit): \(error)") }
                    digest = SHA256Digest.hash([UInt8](data))
                    status = tests!.status.rawValue
                } else {
                    guard let given = self.status else { throw CLIError.badInput("give --status (passed, failed, errored, skipped, pending) or --junit FILE") }
                    digest = try bundleDigest(digest: self.digest, file: file)
                    status = given
                }
                let client = try await options.client()
                var document: (type: String, bytes: [UInt8])?
                if upload {
                    guard let path = junit ?? file, let data = FileManager.default.contents(atPath: path) else {
                        throw CLIError.badInput("--upload sends the file: give --file or --junit")
                    }
                    let byExtension = ["xml": "application/xml", "txt": "text/plain", "log": "text/plain", "md": "text/markdown", "json": "application/json", "pdf": "application/pdf"]
                    guard let type = mediaType ?? (junit != nil ? "application/xml" : byExtension[URL(fileURLWithPath: path).pathExtension.lowercased()]),
                        EvidenceDocument.mediaTypes.contains(type)
                    else { throw CLIError.badInput("--media-type must be one of \(EvidenceDocument.mediaTypes.joined(separator: ", "))") }
                    document = (type, [UInt8](data))
                }
                // A document too large to store is said before anything is recorded.
                if let document, document.bytes.count > (client.evidenceDocumentLimit ?? EvidenceDocument.largestMaximumBytes) {
                    throw CLIError.badInput(
                        "the file is larger than \((client.evidenceDocumentLimit ?? EvidenceDocument.largestMaximumBytes) >> 20) MiB, the most an evidence document may be: attach the evidence without --upload")
                }
                let entries = try await client.run(
                    .attachEvidence(
                        request: request, kind: kind, status: status, digest: digest, tests: tests, labels: try Labels.parse(label), source: try source.source()),
                    as: try options.actor.name)
                if let document {
                    try await client.uploadEvidence(request, digest: digest, mediaType: document.type, content: document.bytes, as: try options.actor.name)
                }
                // Automation's tokens may attach evidence without being allowed to read the request back.
                let stage = (try? await client.request(request).stage).map { "; it is at \($0)" } ?? ""
                let counts = tests.map { ", \($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" } ?? ""
                let stored = document == nil ? "" : "; its document is stored"
                let what =
                    (entries.entries.isEmpty ? "Already attached: \(kind) \(digest) to \(request), nothing recorded" : "Attached \(kind) (\(status.lowercased())\(counts)) to \(request)")
                    + stored
                report(entries, json: options.json, text: what + stage)
            }
        }
    }
}

/// approve, reject and request-changes: a decision at a stage (the next one, or one ahead), signed locally with the
/// decider's key; without `--stage`, the one stage that awaits the decider.
func decide(
    _ request: String, stage requested: String?, decision: DecisionKind, comment: String, reviewedDigest: String?, onBehalfOf: String?,
    signing: SigningOptions, options: WriteOptions
) async throws {
    let client = try await options.client()
    let actor = try options.actor.name
    let stage = try await resolveStage(requested, request: request, onBehalfOf: onBehalfOf, client: client, actor: actor)
    var envelope: DSSEEnvelope?
    if let key = try signing.signingKey() {
        var binding = try await client.request(request).binding
        // Sign the digest the approver reviewed: if the bundle changed since, the engine refuses the approval.
        if let reviewedDigest { binding.digest = try parseDigestOption(reviewedDigest) }
        envelope = DecisionStatement(binding: binding, stage: stage, decision: decision, actor: actor, comment: comment, time: client.now, onBehalfOf: onBehalfOf)
            .signed(with: key)
    }
    let entries = try await client.run(
        .decide(request: request, stage: stage, decision: decision, comment: comment, envelope: envelope, onBehalfOf: onBehalfOf), as: actor)
    // Read back only to say where it stands: a recorded decision is never reported as a failure because the caller
    // may not read the request (a service token scoped to decide only).
    let now = try? await client.request(request)
    let verbs: [DecisionKind: String] = [.approve: "Approved", .reject: "Rejected", .changesRequested: "Requested changes to"]
    let verb = verbs[decision] ?? decision.rawValue
    let who = onBehalfOf.map { " (for \($0))" } ?? ""
    // "at STAGE" means the request passed that stage; say so when the decided stage still waits for more.
    let standing =
        now.map { r in
            guard r.status == "active" else { return "; the request is \(r.status)" }
            return r.stage == stage ? "; the request has passed \(stage)" : "; \(stage) still waits (the request has passed \(r.stage))"
        } ?? ""
    report(entries, json: options.json, text: "\(verb) \(request) at \(stage)\(who)\(envelope == nil ? "" : " (signed)")\(standing)")
}

func parseDigestOption(_ text: String) throws -> SHA256Digest {
    do { return try SHA256Digest(parsing: text) } catch { throw CLIError.badInput("--digest: \(error.message)") }
}

/// The stage to decide: the one given, or the only one that awaits the decider (refused when none or several do).
func resolveStage(_ stage: String?, request: String, onBehalfOf: String?, client: any SignoffClient, actor: String) async throws -> String {
    if let stage { return stage }
    let explained = try await client.explain(request, as: actor)
    if let person = onBehalfOf {
        let awaiting = explained.awaiting_for?[person] ?? []
        switch awaiting.count {
        case 1: return awaiting[0]
        case 0: throw CLIError.badInput("no stage of \(request) awaits a decision you may give for \(person) (a delegation in force to you); `signoff explain \(request)` shows who decides what")
        default: throw CLIError.badInput("several stages of \(request) await \(person) (\(awaiting.joined(separator: ", "))): choose one with --stage")
        }
    }
    let awaiting = explained.awaiting_you
    switch awaiting.count {
    case 1: return awaiting[0]
    case 0: throw CLIError.badInput("no stage of \(request) awaits your decision; `signoff explain \(request)` shows who decides what")
    default: throw CLIError.badInput("several stages of \(request) await you (\(awaiting.joined(separator: ", "))): choose one with --stage")
    }
}

/// The options every decision takes.
struct DecisionOptions: ParsableArguments {
    @Option(help: "The stage (the next one or one ahead); leave out when only one stage awaits you.") var stage: String?
    @Option(name: .customLong("for"), help: "Decide for this person, under their delegation to you (shown as \"you for them\").") var onBehalfOf: String?
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve a request at a stage; with --key the decision is a signed DSSE statement bound to the bundle digest.")
    @Argument var request: String
    @OptionGroup var decision: DecisionOptions
    @Option(help: "A comment (required by some workflows).") var comment: String = ""
    @Option(help: "The bundle digest you reviewed; refused if the request now carries another.") var digest: String?
    @OptionGroup var signing: SigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            try await decide(
                request, stage: decision.stage, decision: .approve, comment: comment, reviewedDigest: digest, onBehalfOf: decision.onBehalfOf, signing: signing,
                options: options)
        }
    }
}

struct RejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Reject a request at a stage; the request ends as rejected.")
    @Argument var request: String
    @OptionGroup var decision: DecisionOptions
    @Option(help: "Why.") var reason: String
    @OptionGroup var signing: SigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            try await decide(
                request, stage: decision.stage, decision: .reject, comment: reason, reviewedDigest: nil, onBehalfOf: decision.onBehalfOf, signing: signing,
                options: options)
        }
    }
}

struct RequestChangesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-changes", abstract: "Ask for changes at a stage: the stage waits until the requester revises the request (not final, unlike reject).")
    @Argument var request: String
    @OptionGroup var decision: DecisionOptions
    @Option(help: "What to change.") var comment: String
    @OptionGroup var signing: SigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            try await decide(
                request, stage: decision.stage, decision: .changesRequested, comment: comment, reviewedDigest: nil, onBehalfOf: decision.onBehalfOf,
                signing: signing, options: options)
        }
    }
}

struct WithdrawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Withdraw your request (an administrator withdrawing someone else's makes an administrative change: signed with --key in a regulated ledger).")
    @Argument var request: String
    @Option var reason: String = ""
    @OptionGroup var options: WriteOptions
    @OptionGroup var signing: AdminSigningOptions

    func run() async throws {
        try await reportingErrors {
            try await runAdministration(.withdraw(request: request, reason: reason), options: options, signing: signing, done: "Withdrew \(request)")
        }
    }
}

struct ReviseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revise", abstract: "Replace the bundle with a new revision: earlier evidence and approvals no longer count.")
    @Argument var request: String
    @Option var digest: String?
    @Option(help: "The new bundle: its SHA-256 is the new digest, and its name the bundle's name unless --bundle says otherwise.") var file: String?
    @Option(help: "A new bundle name (default with --file: the file's name).") var bundle: String?
    @OptionGroup var source: SourceOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            let digest = try bundleDigest(digest: digest, file: file)
            let client = try await options.client()
            // A new file is a new bundle: its name goes with it (the dashboard and `deployments` name what ran).
            let name = bundle ?? file.map { URL(fileURLWithPath: $0).lastPathComponent }
            let entries = try await client.run(.revise(request: request, bundle: name, digest: digest, source: try source.source()), as: try options.actor.name)
            // Read back only to say where it stands: a pipeline's token may revise without being allowed to read, and a
            // recorded revision must never be reported as a failure (a retry would revise again).
            let now = try? await client.request(request)
            let text = now.map { "\(request) is now revision \($0.revision) (\(digest)), back at \($0.stage)" } ?? "\(request) is revised (\(digest))"
            report(entries, json: options.json, text: text)
        }
    }
}

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Record a deployment (deployers only, when the gate allows it): in one step, or --start before it and --finish after.",
        discussion: """
            In one step, `deploy REQ --outcome succeeded|failed` records what happened (the gate must allow it now). \
            Around a real rollout, `deploy REQ --start` records that it begins — refused unless the gate allows it now — \
            and holds that verdict; `deploy REQ --finish --outcome succeeded|failed` records its outcome, even if a \
            freeze began or an approval expired meanwhile. While a deployment is under way the request cannot be revised, \
            withdrawn or started again.
            """)
    @Argument var request: String
    @Flag(help: "Record that the deployment starts now (the gate must allow it).") var start = false
    @Flag(help: "Record the outcome of the deployment started with --start.") var finish = false
    @Option(help: "succeeded or failed (not with --start).") var outcome: String?
    @Option var note: String = ""
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            guard !(start && finish) else { throw CLIError.badInput("--start and --finish are two steps: give one of them") }
            if start {
                guard outcome == nil else { throw CLIError.badInput("--start records no outcome: give --outcome with --finish") }
                try await runRecorded(
                    .startDeployment(request: request, note: note), options: options,
                    done: "Started deploying \(request); record the outcome with `signoff deploy \(request) --finish --outcome succeeded|failed`")
                return
            }
            guard let text = outcome, let outcome = Deployment.Outcome(rawValue: text) else {
                throw CLIError.badInput("--outcome must be succeeded or failed")
            }
            let command: Command = finish
                ? .finishDeployment(request: request, outcome: outcome, note: note) : .recordDeployment(request: request, outcome: outcome, note: note)
            try await runRecorded(command, options: options, done: "Recorded deployment of \(request): \(outcome.rawValue)")
        }
    }
}

struct RetrospectiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrospective",
        abstract: "Record the retrospective review an emergency deployment needs (signed with --key in a regulated project).")
    @Argument var request: String
    @Option var comment: String
    @OptionGroup var signing: SigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            let client = try await options.client()
            let actor = try options.actor.name
            var envelope: DSSEEnvelope?
            if let key = try signing.signingKey() {
                let r = try await client.request(request)
                envelope = RetrospectiveStatement(
                    request: r.request, project: r.project, environment: r.environment, bundleDigest: try parseDigestOption(r.digest), actor: actor,
                    comment: comment, time: client.now
                ).signed(with: key)
            }
            let recorded = try await client.run(.recordRetrospective(request: request, comment: comment, envelope: envelope), as: actor)
            report(recorded, json: options.json, text: "Recorded the retrospective of \(request)" + (envelope == nil ? "" : " (signed)"))
        }
    }
}

/// Read-only commands: a database or a server, and JSON or text.
struct ReadOptions: ParsableArguments {
    @OptionGroup var client: ClientOptions
    @Flag(help: "Print JSON instead of text.") var json = false

    var actor: ActorOptions { client.actor }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a request: stage, bundle, evidence, decisions, deployments.")
    @Argument var request: String
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let r = try await read.client.client().request(request)
            if read.json { printJSON(r); return }
            print("\(r.request)  \(r.project) → \(r.environment)  \(r.status == "active" ? r.stage : r.status)")
            print("  bundle:    \(r.bundle) \(r.digest) (revision \(r.revision))")
            print("  requester: \(r.requester), filed \(r.filed_at)")
            if let source = r.source {
                let parts = [
                    source.system, source.runURL, source.commit.map { "commit \($0)" }, source.ref, source.changeURL, source.bundleID.map { "bundle \($0)" },
                    source.triggeredBy.map { "started by \($0)" }, source.verifiedBy.map { "verified by \($0)'s ID token" },
                ]
                print("  source:    " + parts.compactMap { $0 }.joined(separator: " · "))
            }
            if !r.description.isEmpty { print("  about:     \(oneLine(r.description))") }
            print("  workflow:  \(r.workflow_digest)")
            if let reason = r.emergency_reason { print("  EMERGENCY: \(oneLine(reason))") }
            if !r.labels.isEmpty { print("  labels:    \(describeLabels(r.labels))") }
            for e in r.currentEvidence {
                let counts = e.tests.map { ", \($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" } ?? ""
                print("  evidence:  \(e.kind) \(e.status)\(counts) by \(e.actor) at \(e.at) (\(e.digest))")
            }
            for d in r.currentDecisions {
                let who = d.on_behalf_of.map { "\(d.actor) for \($0)" } ?? d.actor
                print("  decision:  \(d.stage): \(d.decision) by \(who) at \(d.at)\(d.signed ? " signed" : " unsigned")\(d.comment.isEmpty ? "" : " — \(oneLine(d.comment))")")
            }
            for d in r.deployments { print("  deployed:  \(d.outcome) by \(d.actor) at \(d.at)\(d.note.isEmpty ? "" : " — \(oneLine(d.note))")") }
            if let d = r.deployment_started { print("  deploying: started by \(d.actor) at \(d.at)\(d.note.isEmpty ? "" : " — \(oneLine(d.note))"); not finished") }
        }
    }
}

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "explain", abstract: "For each stage ahead: what is met, what is missing, and who could supply it.")
    @Argument var request: String
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let e = try await read.client.client().explain(request, as: (try? read.actor.name) ?? "")
            if read.json { printJSON(e); return }
            print("\(e.request) (\(e.workflow), revision \(e.revision), \(e.digest)): \(e.status == "active" ? "at \(e.stage)" : e.status)")
            if let reason = e.emergency_reason { print("  EMERGENCY: \(oneLine(reason))") }
            if !e.labels.isEmpty { print("  labels: \(describeLabels(e.labels))") }
            for skipped in e.skipped { print("  (skips \(skipped.stage): \(skipped.reason))") }
            if !e.awaiting_you.isEmpty { print("  awaiting you: \(e.awaiting_you.joined(separator: ", "))") }
            for gate in e.gates {
                print("  → \(gate.stage): \(gate.satisfied ? "ready" : "waiting")")
                for c in gate.conditions {
                    print("      [\(c.met ? "x" : " ")] \(c.rule): \(oneLine(c.detail))" + (c.who_can_supply.isEmpty ? "" : " — can supply: \(c.who_can_supply.joined(separator: ", "))"))
                }
            }
            if let r = e.retrospective {
                print("  retrospective: " + (r.done ? "done" : r.overdue ? "OVERDUE since \(r.due)" : "due by \(r.due)"))
            }
        }
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List requests.")
    @Option var project: String?
    @Option(help: "Only requests for this environment.") var env: String?
    @Option(help: "active, deployed, expired, rejected, withdrawn, or a stage name (active requests at that stage).") var state: String?
    @Option(help: "Only requests this person or service account filed.") var requester: String?
    @Option(name: .customLong("older-than"), help: "Only requests filed at least this long ago, e.g. 90m, 24h, 7d.") var olderThan: String?
    @Flag(help: "Your inbox: requests whose next step you could take, stages ahead you may decide, retrospectives you owe or answer for (needs --as or SIGNOFF_USER).") var waitingForMe = false
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            var age: Int64?
            if let olderThan {
                guard let seconds = WorkflowParser.seconds(ofDuration: olderThan) else { throw CLIError.badInput("--older-than must be a duration such as 90s, 30m, 24h or 7d") }
                age = seconds
            }
            let query = RequestQuery(
                project: project, environment: env, state: state, requester: requester, olderThanSeconds: age,
                waitingFor: waitingForMe ? try read.actor.name : nil)
            let rows = try await read.client.client().requests(query)
            if read.json { printJSON(rows); return }
            if rows.isEmpty { print("no requests"); return }
            print("REQUEST\tPROJECT\tENVIRONMENT\tSTAGE\tBUNDLE\tREQUESTER\tAGE")
            for r in rows {
                let flags = (r.emergency ? "\tEMERGENCY" : "") + (r.retrospective_overdue_since.map { "\tRETROSPECTIVE OVERDUE since \($0)" } ?? "")
                print("\(r.request)\t\(r.project)\t\(r.environment)\t\(r.status == "active" ? r.stage : r.status)\t\(oneLine(r.bundle))\t\(r.requester)\t\(formatAge(r.age_seconds))\(flags)")
            }
        }
    }
}

/// An age as people read it: 45s, 12m, 5h, 3d 4h.
func formatAge(_ seconds: Int64) -> String {
    if seconds < 60 { return "\(seconds)s" }
    if seconds < 3600 { return "\(seconds / 60)m" }
    if seconds < 86400 { return "\(seconds / 3600)h\(seconds % 3600 >= 60 ? " \(seconds % 3600 / 60)m" : "")" }
    return "\(seconds / 86400)d\(seconds % 86400 >= 3600 ? " \(seconds % 86400 / 3600)h" : "")"
}

struct DeploymentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments",
        abstract: "What runs where: for each project and environment, the bundle deployed, a deployment under way, and the open requests with what they wait for.")
    @Option var project: String?
    @Option var env: String?
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let rows = try await read.client.client().deployments(project: project, environment: env)
            if read.json { printJSON(rows); return }
            if rows.isEmpty { print("no projects\(project.map { " named \($0)" } ?? "") that you may read"); return }
            for row in rows {
                let frozen = row.freezes.isEmpty ? "" : "  FROZEN (\(row.freezes.joined(separator: ", ")))"
                print("\(row.project) → \(row.environment) (\(row.workflow))\(frozen)")
                if let r = row.running {
                    let emergency = r.emergency ? "  EMERGENCY" + (r.retrospective.map { ", retrospective \($0)" } ?? "") : ""
                    print("  running:   \(oneLine(r.bundle)) \(r.digest) — \(r.request) rev \(r.revision), deployed \(r.deployed_at) by \(r.actor)\(emergency)")
                } else {
                    print("  running:   nothing deployed through Signoff yet")
                }
                for d in row.deploying {
                    print("  deploying: \(oneLine(d.bundle)) \(d.digest) — \(d.request), started \(d.started_at) by \(d.actor)")
                }
                for p in row.pending {
                    let emergency = p.emergency ? " EMERGENCY" : ""
                    print("  pending:   \(p.request)\(emergency) \(oneLine(p.bundle)) at \(p.stage), \(formatAge(p.age_seconds)) old, filed by \(p.requester)")
                    for w in p.waiting_for { print("             waits for \(p.next_stage ?? "the next stage"): \(oneLine(w))") }
                }
            }
        }
    }
}

struct InboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox",
        abstract: "What waits for you, oldest first: decisions you can give, evidence you (or your requests' service accounts) owe, retrospectives, deployments you may record.")
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let actor = try read.actor.name
            let items = try await read.client.client().inbox(as: actor)
            if read.json { printJSON(items); return }
            if items.isEmpty { print("nothing waits for you"); return }
            print("REQUEST\tPROJECT → ENVIRONMENT\tBUNDLE\tACTION\tAGE\tDETAIL")
            for item in items {
                let who = item.on_behalf_of.map { " [\($0)]" } ?? ""
                print(
                    "\(item.request)\t\(item.project) → \(item.environment)\t\(oneLine(item.bundle))\t\(item.action.rawValue)\(item.stage.map { " \($0)" } ?? "")\(who)\twaiting \(formatAge(item.age_seconds)), filed \(formatAge(item.request_age_seconds)) ago\t\(oneLine(item.detail))")
            }
        }
    }
}

struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "For CI/CD: exit 0 only if this exact bundle may be deployed to this environment now (optionally waiting until it may).",
        discussion: """
            Name the request, or give --project and let the digest find the one open request of that project and \
            environment (several are an error that lists them). With --wait DURATION (e.g. 30m), wait until the gate \
            allows, the request closes, or the time runs out, printing what it still waits for; against a server this \
            is a long poll, not a busy loop. The wait ends at once on what waiting will not end: the newest report of \
            a required kind failed, changes were requested, or a freeze outlasts the wait.
            Exit 0: go. Exit 2: not allowed now, or the request is rejected, withdrawn, expired or deployed, or \
            blocked as above, with every reason. Exit 75: --wait ran out. Exit 64: bad input (an unknown request, no \
            open request or several).
            """)
    @Argument(help: "The request; leave out with --project.") var request: String?
    @Option(help: "The project whose open request for this digest to find (instead of naming the request).") var project: String?
    @Option var env: String
    @Option(help: "The digest of the bundle about to be deployed, sha256:HEX.") var digest: String
    @Option(help: "Wait up to this long for the gate to allow, e.g. 90s, 30m, 2h.") var wait: String?
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            guard Engine.isValidName(env) else { throw CLIError.badInput("--env must be an environment name (a-z 0-9 . _ -)") }
            let digest = try parseDigestOption(self.digest)
            var target: GateTarget
            switch (request, project) {
            case (let id?, nil): target = .request(id)
            case (nil, let project?):
                guard Engine.isValidName(project) else { throw CLIError.badInput("--project must be a project name (a-z 0-9 . _ -)") }
                target = .project(project)
            default: throw CLIError.badInput("name the request, or give --project to find it by its digest (not both)")
            }
            var waitSeconds: Int64 = 0
            if let wait {
                guard let seconds = WorkflowParser.seconds(ofDuration: wait) else { throw CLIError.badInput("--wait must be a duration such as 90s, 30m or 2h") }
                waitSeconds = seconds
            }
            let client = try await read.client.client()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(waitSeconds)
            // The same deadline on the wall clock: what outlasts it (a freeze) ends the wait at once.
            let waitingUntil = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) + waitSeconds * 1000
            var lastProgress = ""
            var lastPrinted = clock.now
            var gate: GateResponse
            var first = true
            while true {
                let remaining = max(0, Int((deadline - clock.now).components.seconds))
                // The first answer comes at once, so that what the gate waits for is printed before the long polls; under
                // a second from the deadline, the last look is taken at the deadline.
                if !first && remaining == 0 && clock.now < deadline { try await Task.sleep(until: deadline, clock: clock) }
                gate = try await client.gate(target, environment: env, digest: digest, wait: client.longPolls && !first ? min(remaining, 45) : 0)
                first = false
                // Found once by its digest, the request is then followed by id: its rejection ends the wait.
                target = .request(gate.request)
                if gate.isFinal(waitingUntil: waitingUntil) || clock.now >= deadline { break }
                let progress = gate.next_stage.map { stage in "\(stage): " + gate.waiting_for.map { oneLine($0) }.joined(separator: "; ") }
                    ?? gate.reasons.map { "\($0.rule): \(oneLine($0.message))" }.joined(separator: "; ")
                if progress != lastProgress || clock.now - lastPrinted >= .seconds(60) {
                    printProgress("waiting: \(gate.request) (\(formatAge(Int64(remaining))) left): \(progress)")
                    lastProgress = progress
                    lastPrinted = clock.now
                }
                if !client.longPolls { try await Task.sleep(for: min(.seconds(1), deadline - clock.now)) }
            }
            if read.json {
                printJSON(gate)
            } else if gate.allowed {
                print("ALLOWED: \(gate.request) may deploy \(digest) to \(env) now")
            } else {
                print("DENIED: \(gate.request) may not deploy \(digest) to \(env) now\(gate.status == "active" ? "" : " (it is \(gate.status))"):")
                for reason in gate.reasons { print("  - \(reason.rule): \(oneLine(reason.message))") }
                if !gate.blocked.isEmpty {
                    print("waiting will not end this:")
                    for blocker in gate.blocked { print("  - \(blocker.rule): \(oneLine(blocker.message))") }
                }
            }
            if gate.allowed { return }
            if wait != nil && gate.status == "active" && !gate.isFinal(waitingUntil: waitingUntil) {
                printError("--wait \(wait!) ran out before the gate allowed \(gate.request)")
                throw ExitCode(ExitStatus.timedOut)
            }
            throw ExitCode(ExitStatus.refused)
        }
    }
}

/// Labels as a person reads them: `risk=high touches=connections,plugins`.
func describeLabels(_ labels: [String: [String]]) -> String {
    labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: " ")
}

/// `--source KEY=VALUE` and `--source-from-ci`: where the bundle came from, recorded with the filing or the revision
/// (links an approver follows: the run, the commit, the ref, the merge request).
struct SourceOptions: ParsableArguments {
    @Option(
        name: .customLong("source"),
        help: ArgumentHelp("KEY=VALUE: where the bundle came from; KEY is one of \(BundleSource.fieldNames.joined(separator: ", ")) (repeat it).", valueName: "key=value"))
    var fields: [String] = []
    @Flag(
        name: .customLong("source-from-ci"),
        help: "Take the run, commit, ref and merge request from the CI's own variables (GitHub Actions, GitLab CI, Jenkins); --source overrides a field.")
    var fromCI = false

    /// The source given, nil when none; bad input refused, a CI value that would be refused left out with a note.
    func source(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BundleSource? {
        var source = BundleSource()
        if fromCI {
            if let (detected, dropped) = BundleSource.fromCI(environment) {
                source = detected
                if !dropped.isEmpty { printNotice("left out of the source, as the CI gave them: \(dropped.joined(separator: ", "))") }
            } else {
                printNotice("--source-from-ci: no GitHub Actions, GitLab CI or Jenkins variables here; nothing taken")
            }
        }
        for item in fields {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, source.set(parts[0], parts[1]) else {
                throw CLIError.badInput("--source \(item.prefix(80)): expected KEY=VALUE with KEY one of \(BundleSource.fieldNames.joined(separator: ", "))")
            }
        }
        let problems = source.problems()
        guard problems.isEmpty else { throw CLIError.badInput("--source: " + problems.joined(separator: "; ")) }
        return source.isEmpty ? nil : source
    }
}

/// `LABEL=VALUE[,VALUE]` options, as `request create` and `evidence add` take them.
enum Labels {
    static func parse(_ items: [String]) throws -> [String: [String]] {
        var labels: [String: [String]] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw CLIError.badInput("--label \(item): expected LABEL=VALUE[,VALUE]") }
            let list = parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !list.isEmpty, !list.contains(where: \.isEmpty) else { throw CLIError.badInput("label \(parts[0]): expected VALUE[,VALUE]") }
            guard labels[parts[0]] == nil else { throw CLIError.badInput("label \(parts[0]) is given twice") }
            labels[parts[0]] = list
        }
        return labels
    }
}
