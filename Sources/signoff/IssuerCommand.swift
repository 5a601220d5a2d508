import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore

struct IssuerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issuer",
        abstract: "OpenID Connect issuers trusted to sign people in to the console and to vouch for pipelines.",
        discussion: """
            Trusting an issuer is an administrative change signed with an administrator's key in every ledger \
            (`admin_quorum` administrators sign it). An issuer file (YAML or JSON) names the issuer URL exactly as its \
            ID tokens' `iss`, the audience they must carry, what it is trusted for (people, pipelines), the claim naming \
            a user, and the rules mapping a job's claims to a service account and its scopes (README: "Sign in with your \
            identity provider", "Pipelines without stored secrets"). Secrets (the console's client secret) are \
            `signoff serve` configuration, never in the ledger.
            """,
        subcommands: [Trust.self, List.self, Distrust.self])

    struct Trust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Trust an issuer (or change how one is trusted, under its name): signed.")
        @Argument(help: "The issuer file (YAML or JSON).") var file: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIError.badInput("cannot read \(file) as UTF-8 text") }
                let spec: IssuerSpec
                do { spec = try IssuerSpec.parse(text, file: (file as NSString).lastPathComponent) } catch let refusal as Refusal {
                    throw CLIError.badInput(refusal.message)
                }
                try await runAdministration(
                    .trustIssuer(spec), options: options, signing: signing,
                    done: "Trusted \(spec.name) (\(spec.url)) for \(spec.uses.map(\.rawValue).joined(separator: " and "))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the trusted issuers and their pipeline rules.")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let issuers = try await read.client.client().issuers()
                if read.json { printJSON(ItemList(issuers)); return }
                if issuers.isEmpty { print("no trusted issuers") }
                for view in issuers {
                    let i = view.issuer
                    print("\(i.name)  \(i.url)  audience \(i.audience)  for \(i.uses.map(\.rawValue).joined(separator: ", "))  (trusted by \(view.trusted_by) \(view.trusted_at))")
                    if let claim = i.personClaim { print("  people: \(claim.rawValue)\(i.emailDomain.map { " at \($0)" } ?? "") names the user") }
                    for rule in i.pipelines {
                        let claims = rule.claims.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                        print("  pipelines: \(claims) → \(rule.serviceAccount) [\(rule.scopes.joined(separator: ", "))]")
                    }
                }
            }
        }
    }

    struct Distrust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop trusting an issuer: its ID tokens are refused from the next request on.")
        @Argument(help: "The issuer's name.") var name: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runAdministration(.distrustIssuer(name: name), options: options, signing: signing, done: "No longer trusting \(name)")
            }
        }
    }
}
