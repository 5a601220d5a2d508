import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore

/// Change freezes: administrators' objects, consulted live by the gate and by deploy for every request.
struct FreezeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze", abstract: "Freeze deployments to an environment (of one project or of every project) for a while.",
        subcommands: [Add.self, Lift.self, Exempt.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a freeze: while it is in force no request deploys to the environment, whenever it was filed (a signed administrative change in a regulated ledger).")
        @Option(help: "The environment, e.g. prod.") var env: String
        @Option(help: "Only this project (default: every project with that environment).") var project: String?
        @Option(help: "RFC 3339 start (default: now).") var from: String?
        @Option(help: "RFC 3339 end.") var until: String
        @Option(help: "Why: requesters, CI and auditors read it.") var reason: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let now = try await options.client().now
                let start = try from.map { try milliseconds($0, option: "from") } ?? now
                let end = try milliseconds(until, option: "until")
                let spec = FreezeSpec(environment: env, project: project, from: start, until: end, reason: reason)
                try await runAdministration(
                    .addFreeze(spec), options: options, signing: signing,
                    done: "Froze \(env) of \(project ?? "every project") from \(Timestamps.rfc3339(start)) until \(Timestamps.rfc3339(end))")
            }
        }
    }

    struct Lift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a freeze before its end.")
        @Argument(help: "The freeze, e.g. FRZ-1.") var id: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors { try await runAdministration(.liftFreeze(id: id), options: options, signing: signing, done: "Lifted \(id)") }
        }
    }

    struct Exempt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let one request deploy through a freeze (break-glass): signed as lifting the freeze is; nothing else passes it.")
        @Argument(help: "The freeze, e.g. FRZ-1.") var id: String
        @Option(help: "The request that may deploy through it.") var request: String
        @Option(help: "Why (the retrospective and the auditors read it).") var reason: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runAdministration(
                    .exemptFromFreeze(id: id, request: request, reason: reason), options: options, signing: signing,
                    done: "\(request) may deploy through \(id); the freeze still holds everything else")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List freezes (those of projects you may read, and organisation-wide ones).")
        @OptionGroup var read: ReadOptions

        func run() async throws {
            try await reportingErrors {
                let freezes = try await read.client.client().freezes()
                if read.json { printJSON(freezes); return }
                if freezes.isEmpty { print("no freezes") }
                for f in freezes {
                    let state = f.in_force ? "IN FORCE" : f.lifted_at.map { "lifted \($0)" } ?? "not in force"
                    print("\(f.id)\t\(f.environment) of \(f.project ?? "every project")\t\(f.from) – \(f.until)\t\(state)\t\(oneLine(f.reason))")
                }
            }
        }
    }
}

/// Time-bounded delegation of one's own decisions.
struct DelegateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delegate",
        abstract: "Let someone decide in your place for a while (recorded; never on a request either of you filed; not passed on).",
        discussion: """
            Example: signoff delegate --to alex --until 2026-12-24T00:00:00Z --project fraud-scoring --role approvers --as sam --key sam.key
            (signed with your key: required once the ledger has a regulated project, so that a stolen session cannot do it)
            Alex then decides with `signoff approve REQ-7 --stage approved --for sam --key alex.key`; the decision shows "alex for sam".
            `signoff delegate list` shows delegations, `signoff delegate revoke DLG-1` ends one early.
            """,
        subcommands: [Grant.self, List.self, Revoke.self], defaultSubcommand: Grant.self)

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant", abstract: "Delegate your decisions (the default subcommand).")
        @Option(help: "Who decides in your place.") var to: String
        @Option(help: "RFC 3339 start (default: now).") var from: String?
        @Option(help: "RFC 3339 end (at most 92 days after the start).") var until: String
        @Option(help: "Only this project.") var project: String?
        @Option(help: "Only this role.") var role: String?
        @OptionGroup var signing: SigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let client = try await options.client()
                let start = try from.map { try milliseconds($0, option: "from") } ?? client.now
                let end = try milliseconds(until, option: "until")
                let spec = DelegationSpec(delegate: to, start: start, end: end, project: project, role: role)
                // Signed with the delegator's key: required once the ledger has a regulated project.
                let envelope = try signing.signingKey().map { DelegationStatement(delegation: spec, time: client.now).signed(with: $0) }
                let recorded = try await client.run(.delegate(spec, envelope: envelope), as: try options.actor.name)
                report(recorded, json: options.json, text: "\(to) may decide for you until \(Timestamps.rfc3339(end))" + (project.map { " in \($0)" } ?? "") + (role.map { " as \($0)" } ?? ""))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List delegations (yours given and received; administrators and auditors: all).")
        @OptionGroup var read: ReadOptions

        func run() async throws {
            try await reportingErrors {
                let delegations = try await read.client.client().delegations()
                if read.json { printJSON(delegations); return }
                if delegations.isEmpty { print("no delegations") }
                for d in delegations {
                    let scope = (d.project ?? "every project") + (d.role.map { ", role \($0)" } ?? "")
                    let state = d.in_force ? "IN FORCE" : d.revoked_at.map { "revoked \($0)" } ?? "not in force"
                    print("\(d.id)\t\(d.delegate) for \(d.from)\t\(scope)\t\(d.valid_from) – \(d.valid_until)\t\(state)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a delegation you gave (or, as an administrator, anyone's: an administrative change, signed with --key in a regulated ledger).")
        @Argument var id: String
        @OptionGroup var options: WriteOptions
        @OptionGroup var signing: AdminSigningOptions

        func run() async throws {
            try await reportingErrors { try await runAdministration(.revokeDelegation(id: id), options: options, signing: signing, done: "Revoked \(id)") }
        }
    }
}
