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
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let digest = try bundleDigest(digest: digest, file: file)
                let recorded = try await options.client().run(
                    .fileRequest(project: project, environment: env, bundle: bundle, digest: digest, description: description), as: try options.actor.name)
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
        static let configuration = CommandConfiguration(abstract: "Attach evidence: its kind, status and the SHA-256 of its content.")
        @Argument var request: String
        @Option var kind: String
        @Option var status: String
        @Option(help: "The evidence file (e.g. the JUnit report); its SHA-256 is recorded.") var file: String?
        @Option(help: "The evidence's digest, sha256:HEX, instead of --file.") var digest: String?
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let digest = try bundleDigest(digest: digest, file: file)
                let client = try await options.client()
                let entries = try await client.run(.attachEvidence(request: request, kind: kind, status: status, digest: digest), as: try options.actor.name)
                // Automation's tokens may attach evidence without being allowed to read the request back.
                let stage = (try? await client.request(request).stage).map { "; it is at \($0)" } ?? ""
                report(entries, json: options.json, text: "Attached \(kind) (\(status)) to \(request)\(stage)")
            }
        }
    }
}

/// approve and reject: a decision at a stage, signed locally with the decider's key.
func decide(
    _ request: String, stage: String, decision: DecisionKind, comment: String, reviewedDigest: String?, signing: SigningOptions, options: WriteOptions
) async throws {
    let client = try await options.client()
    let actor = try options.actor.name
    var envelope: DSSEEnvelope?
    if let key = try signing.signingKey() {
        var binding = try await client.request(request).binding
        // Sign the digest the approver reviewed: if the bundle changed since, the engine refuses the approval.
        if let reviewedDigest {
            do { binding.digest = try SHA256Digest(parsing: reviewedDigest) } catch let error as CryptoError { throw CLIError.badInput("--digest: \(error.message)") }
        }
        envelope = DecisionStatement(binding: binding, stage: stage, decision: decision, actor: actor, comment: comment, time: client.now)
            .signed(with: key)
    }
    let entries = try await client.run(.decide(request: request, stage: stage, decision: decision, comment: comment, envelope: envelope), as: actor)
    let now = try await client.request(request)
    let verb = decision == .approve ? "Approved" : "Rejected"
    report(entries, json: options.json, text: "\(verb) \(request) at \(stage)\(envelope == nil ? "" : " (signed)"); it is \(now.status == "active" ? "at \(now.stage)" : now.status)")
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve a request at a stage; with --key the decision is a signed DSSE statement bound to the bundle digest.")
    @Argument var request: String
    @Option(help: "The stage this approval is for (the request's next stage).") var stage: String
    @Option(help: "A comment (required by some workflows).") var comment: String = ""
    @Option(help: "The bundle digest you reviewed; refused if the request now carries another.") var digest: String?
    @OptionGroup var signing: SigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors { try await decide(request, stage: stage, decision: .approve, comment: comment, reviewedDigest: digest, signing: signing, options: options) }
    }
}

struct RejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Reject a request at a stage; the request ends as rejected.")
    @Argument var request: String
    @Option var stage: String
    @Option(help: "Why.") var reason: String
    @OptionGroup var signing: SigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors { try await decide(request, stage: stage, decision: .reject, comment: reason, reviewedDigest: nil, signing: signing, options: options) }
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
    static let configuration = CommandConfiguration(commandName: "retrospective", abstract: "Record the retrospective review a break-glass deployment needs.")
    @Argument var request: String
    @Option var comment: String
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            try await runRecorded(
                .recordRetrospective(request: request, comment: comment), options: options, done: "Recorded the retrospective of \(request)")
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
            print("  workflow:  \(r.workflow_digest)")
            for e in r.currentEvidence { print("  evidence:  \(e.kind) \(e.status) by \(e.actor) at \(e.at) (\(e.digest))") }
            for d in r.currentDecisions {
                print("  decision:  \(d.stage): \(d.decision) by \(d.actor) at \(d.at)\(d.signed ? " signed" : " unsigned")\(d.comment.isEmpty ? "" : " — \(d.comment)")")
            }
            for d in r.deployments { print("  deployed:  \(d.outcome) by \(d.actor) at \(d.at)\(d.note.isEmpty ? "" : " — \(d.note)")") }
        }
    }
}

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "explain", abstract: "For each stage ahead: what is met, what is missing, and who could supply it.")
    @Argument var request: String
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let e = try await read.client.client().explain(request)
            if read.json { printJSON(e); return }
            print("\(e.request) (\(e.workflow), revision \(e.revision), \(e.digest)): \(e.status == "active" ? "at \(e.stage)" : e.status)")
            for gate in e.gates {
                print("  → \(gate.stage): \(gate.satisfied ? "ready" : "waiting")")
                for c in gate.conditions {
                    print("      [\(c.met ? "x" : " ")] \(c.rule): \(c.detail)" + (c.who_can_supply.isEmpty ? "" : " — can supply: \(c.who_can_supply.joined(separator: ", "))"))
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
    @Option(help: "active, rejected, withdrawn, deployed, or a stage name.") var state: String?
    @Flag(help: "Only requests whose next step you could take (needs --as or SIGNOFF_USER).") var waitingForMe = false
    @OptionGroup var read: ReadOptions

    func run() async throws {
        try await reportingErrors {
            let query = RequestQuery(project: project, state: state, waitingFor: waitingForMe ? try read.actor.name : nil)
            let rows = try await read.client.client().requests(query)
            if read.json { printJSON(rows); return }
            if rows.isEmpty { print("no requests") }
            for r in rows { print("\(r.request)\t\(r.project)\t\(r.environment)\t\(r.status == "active" ? r.stage : r.status)\t\(r.bundle)") }
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
            let digest: SHA256Digest
            do { digest = try SHA256Digest(parsing: self.digest) } catch let error as CryptoError { throw CLIError.badInput("--digest: \(error.message)") }
            let gate = try await read.client.client().gate(request, environment: env, digest: digest)
            if read.json {
                printJSON(gate)
            } else if gate.allowed {
                print("ALLOWED: \(request) may deploy \(digest) to \(env) now")
            } else {
                print("DENIED: \(request) may not deploy \(digest) to \(env) now:")
                for reason in gate.reasons { print("  - \(reason.rule): \(reason.message)") }
            }
            if !gate.allowed { throw ExitCode(ExitStatus.refused) }
        }
    }
}
