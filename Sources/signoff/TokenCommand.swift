import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore
import SignoffService

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Service tokens for automation, and every token's list and revocation.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a scoped service token (an administrator: through the server, a session obtained with their key; or locally with --db); prints it once.",
            discussion: """
                Scopes are ACTION:PROJECT with ACTION one of read, request, evidence, deploy, gate (or metrics:*). The issue is \
                a ledger entry, signed like every administrative change once a regulated project exists. --ttl is at most the \
                server's maximum (30 days by default), e.g. 12h or 30d.
                """)
        @Option(name: .customLong("service-account")) var serviceAccount: String
        @Option(parsing: .upToNextOption, help: "e.g. evidence:churn-model") var scope: [String]
        @Option(help: "Lifetime: Nh or Nd (default 24h).") var ttl = "24h"
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let hours = try Self.hours(ttl)
                let client = try await options.client()
                let command = Command.issueServiceToken(tokenID: "", principal: serviceAccount, scopes: scope.sorted(), lifetimeHours: hours)
                let (approval, written) = try adminApproval(command, client: client, signing: signing)
                if written { return }
                let issued = try await client.createServiceToken(command.approved(by: approval), as: try options.actor.name)
                if options.json { printJSON(issued) } else { print(issued.token) }
                printNotice("token \(issued.token_id) for \(serviceAccount) expires \(issued.expires_at); it is shown once, keep it in your CI's secret store")
            }
        }

        static func hours(_ text: String) throws -> Int {
            let unit = text.last
            guard let number = Int(text.dropLast()), number > 0, unit == "h" || unit == "d" else {
                throw CLIError.badInput("--ttl \(text): give hours or days, e.g. 12h or 30d")
            }
            return unit == "d" ? number * 24 : number
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List unexpired tokens (administrators: everyone's; others: their own); never the tokens themselves.")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let tokens = try await read.client.client().tokens(as: try read.actor.name)
                if read.json { printJSON(tokens); return }
                if tokens.isEmpty { print("no tokens") }
                for t in tokens {
                    print("\(t.token_id)\t\(t.principal)\t\(t.kind)\t\(t.scopes.joined(separator: " "))\texpires \(t.expires_at)\(t.revoked ? "\tREVOKED" : "")")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by its ID: your own; as an administrator anyone's (recorded; signed with --key in a regulated ledger).")
        @Argument var id: String
        @OptionGroup var options: WriteOptions
        @OptionGroup var signing: AdminSigningOptions
        func run() async throws {
            try await reportingErrors {
                let client = try await options.client()
                let (approval, written) = try adminApproval(.revokeToken(id: id, principal: ""), client: client, signing: signing)
                if written { return }
                let token = try await client.revokeToken(id, approval: approval, as: try options.actor.name)
                if options.json { printJSON(token) } else { print("Revoked token \(token.token_id) of \(token.principal)") }
            }
        }
    }
}
