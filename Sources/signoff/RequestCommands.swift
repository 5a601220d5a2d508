import ArgumentParser
import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffAPI

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
        @OptionGroup var options: WriteOptions

        /// The labels given, each a list of values.
        func labels() throws -> [String: [String]] {
            var labels: [String: [String]] = [:]
            func add(_ name: String, _ values: String) throws {
                let list = values.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard !list.isEmpty, !list.contains(where: \.isEmpty) else { throw CLIError.badInput("label \(name): expected VALUE[,VALUE]") }
                guard labels[name] == nil else { throw CLIError.badInput("label \(name) is given twice") }
                labels[name] = list
            }
            if let touches { try add("touches", touches) }
            if let risk { try add("risk", risk) }
            for item in label {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw CLIError.badInput("--label \(item): expected LABEL=VALUE[,VALUE]") }
                try add(parts[0], parts[1])
            }
            return labels
        }

        func run() async throws {
            try await reportingErrors {
                let digest = try bundleDigest(digest: digest, file: file)
                guard emergency == (reason != nil) else {
                    throw CLIError.badInput(emergency ? "--emergency needs --reason saying why it cannot wait" : "--reason is an emergency's: add --emergency")
                }
                let recorded = try await options.client().run(
                    .fileRequest(
                        project: project, environment: env, bundle: bundle, digest: digest, description: description, labels: try labels(),
                        emergencyReason: reason),
                    as: try options.actor.name)
                guard let id = recorded.request, let filed = recorded.entries.first else {
                    throw CLIError.failure("the request was recorded but its id could not be read back")
                }
                if options.json {
                    struct Filed: Encodable {
                        let request: String
                        let digest: String
                        let sequence: UInt64
                    }
                    printJSON(Filed(request: id, digest: digest.description, sequence: filed.sequence))
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
                let entries = try await client.run(
                    .attachEvidence(request: request, kind: kind, status: status, digest: digest, tests: tests), as: try options.actor.name)
                // Automation's tokens may attach evidence without being allowed to read the request back.
                let stage = (try? await client.request(request).stage).map { "; it is at \($0)" } ?? ""
                let counts = tests.map { ", \($0.tests) tests, \($0.failures) failures, \($0.errors) errors, \($0.skipped) skipped" } ?? ""
                let what = entries.entries.isEmpty ? "Already attached: \(kind) \(digest) to \(request), nothing recorded" : "Attached \(kind) (\(status.lowercased())\(counts)) to \(request)"
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
    let now = try await client.request(request)
    let verbs: [DecisionKind: String] = [.approve: "Approved", .reject: "Rejected", .changesRequested: "Requested changes to"]
    let verb = verbs[decision] ?? decision.rawValue
    let who = onBehalfOf.map { " (for \($0))" } ?? ""
    report(entries, json: options.json, text: "\(verb) \(request) at \(stage)\(who)\(envelope == nil ? "" : " (signed)"); it is \(now.status == "active" ? "at \(now.stage)" : now.status)")
}

func parseDigestOption(_ text: String) throws -> SHA256Digest {
    do { return try SHA256Digest(parsing: text) } catch { throw CLIError.badInput("--digest: \(error.message)") }
}

/// The stage to decide: the one given, or the only one that awaits the decider (refused when none or several do).
func resolveStage(_ stage: String?, request: String, onBehalfOf: String?, client: any SignoffClient, actor: String) async throws -> String {
    if let stage { return stage }
    guard onBehalfOf == nil else { throw CLIError.badInput("deciding for someone else names the stage: add --stage") }
    let awaiting = try await client.explain(request, as: actor).awaiting_you
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
    static let configuration = CommandConfiguration(commandName: "withdraw", abstract: "Withdraw your request.")
    @Argument var request: String
    @Option var reason: String = ""
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            try await runRecorded(.withdraw(request: request, reason: reason), options: options, done: "Withdrew \(request)")
        }
    }
}

struct ReviseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revise", abstract: "Replace the bundle with a new revision: earlier evidence and approvals no longer count.")
    @Argument var request: String
    @Option var digest: String?
    @Option var file: String?
    @Option(help: "A new bundle name.") var bundle: String?
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            let digest = try bundleDigest(digest: digest, file: file)
            let client = try await options.client()
            let entries = try await client.run(.revise(request: request, bundle: bundle, digest: digest), as: try options.actor.name)
            let now = try await client.request(request)
            report(entries, json: options.json, text: "\(request) is now revision \(now.revision) (\(digest)), back at \(now.stage)")
        }
    }
}

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deploy", abstract: "Record a deployment's outcome (deployers only, when the gate allows it).")
    @Argument var request: String
    @Option(help: "succeeded or failed.") var outcome: String
    @Option var note: String = ""
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            guard let outcome = Deployment.Outcome(rawValue: outcome) else { throw CLIError.badInput("--outcome must be succeeded or failed") }
            try await runRecorded(
                .recordDeployment(request: request, outcome: outcome, note: note), options: options,
                done: "Recorded deployment of \(request): \(outcome.rawValue)")
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
    @Option(help: "active, rejected, withdrawn, expired, deployed, or a stage name.") var state: String?
    @Flag(help: "Your inbox: requests whose next step you could take, stages ahead you may decide, retrospectives you owe or answer for (needs --as or SIGNOFF_USER).") var waitingForMe = false
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let query = RequestQuery(project: project, state: state, waitingFor: waitingForMe ? try read.actor.name : nil)
            let rows = try await read.client.client().requests(query)
            if read.json { printJSON(rows); return }
            if rows.isEmpty { print("no requests") }
            for r in rows {
                let flags = (r.emergency ? "\tEMERGENCY" : "") + (r.retrospective_overdue_since.map { "\tRETROSPECTIVE OVERDUE since \($0)" } ?? "")
                print("\(r.request)\t\(r.project)\t\(r.environment)\t\(r.status == "active" ? r.stage : r.status)\t\(r.bundle)\(flags)")
            }
        }
    }
}

struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "For CI/CD: exit 0 only if this exact bundle may be deployed to this environment now.",
        discussion: "Exit 0: go. Exit 2: not allowed, with every reason. Exit 64: bad input (e.g. unknown request).")
    @Argument var request: String
    @Option var env: String
    @Option(help: "The digest of the bundle about to be deployed, sha256:HEX.") var digest: String
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            guard Engine.isValidName(env) else { throw CLIError.badInput("--env must be an environment name (a-z 0-9 . _ -)") }
            let digest = try parseDigestOption(self.digest)
            let gate = try await read.client.client().gate(request, environment: env, digest: digest)
            if read.json {
                printJSON(gate)
            } else if gate.allowed {
                print("ALLOWED: \(request) may deploy \(digest) to \(env) now")
            } else {
                print("DENIED: \(request) may not deploy \(digest) to \(env) now:")
                for reason in gate.reasons { print("  - \(reason.rule): \(oneLine(reason.message))") }
            }
            if !gate.allowed { throw ExitCode(ExitStatus.refused) }
        }
    }
}

/// Labels as a person reads them: `risk=high touches=connections,plugins`.
func describeLabels(_ labels: [String: [String]]) -> String {
    labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: " ")
}
