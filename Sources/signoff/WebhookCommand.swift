import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore
import SignoffCrypto

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Webhook subscriptions (Standard Webhooks; Slack and Teams formats) and their deliveries.",
        discussion: """
            A subscription is an administrative change (a ledger entry, signed in a regulated ledger). `signoff serve` \
            delivers its messages at least once, signed `v1` (HMAC-SHA256 with the subscription's secret, shown once \
            when it is added) and `v1a` (Ed25519; `signoff webhook signing-key` prints the public key), retrying with \
            exponential backoff for 24 hours; an endpoint that answers 410 Gone is disabled. Events: \
            \(NotificationType.allCases.map(\.rawValue).joined(separator: ", ")).
            """,
        subcommands: [Add.self, List.self, Remove.self, Enable.self, Deliveries.self, Show.self, Redeliver.self, SigningKey.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Subscribe a URL to notifications (administrators); prints its signing secret once.")
        @Option(help: "The receiver, https:// (plain http only to a loopback address, which needs --allow-private).") var url: String
        @Option(help: "Only this project's notifications (default: organisation-wide).") var project: String?
        @Option(help: "Comma-separated notification types, `all`, or `people` (what a chat channel of people acts on: who must act now, rejections, changes asked, failed deployments, expiries, retrospectives, freezes, revoked keys, reminders and escalations).") var events: String
        @Option(help: "standard (JSON), slack or teams.") var format: String = "standard"
        @Flag(
            help: """
                The receiver is truly meant to be on a loopback, private or link-local address (refused otherwise: \
                webhook.private-target); the server delivers to it only when run with --webhook-allow-private.
                """)
        var allowPrivate = false
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard let format = WebhookFormat(rawValue: format) else {
                    throw CLIError.badInput("--format must be one of \(WebhookFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let types =
                    switch events {
                    case "all": NotificationType.allCases.map(\.rawValue)
                    case "people": NotificationType.people.map(\.rawValue)
                    default: events.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
                    }
                let client = try await options.client()
                let command = Command.addWebhook(WebhookSpec(url: url, project: project, events: types, format: format, allowPrivate: allowPrivate))
                let (approval, written) = try adminApproval(command, client: client, signing: signing)
                if written { return }
                let created = try await client.addWebhook(command.approved(by: approval), as: try options.actor.name)
                if options.json { printJSON(created) } else { print(created.secret) }
                printNotice(
                    "\(created.webhook.id) sends \(created.webhook.events.joined(separator: ", ")) to \(url); its secret is shown once (keep it in the receiver's secret store); v1a signatures verify with \(created.public_key)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List webhook subscriptions (administrators and auditors).")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let hooks = try await read.client.client().webhooks()
                if read.json { printJSON(hooks); return }
                if hooks.isEmpty { print("no webhooks") }
                for w in hooks {
                    let state = w.removed_at.map { "removed \($0)" } ?? w.disabled.map { "DISABLED: \(oneLine($0))" } ?? "active"
                    print("\(w.id)\t\(w.project ?? "(all projects)")\t\(w.format)\t\(w.url)\(w.allow_private == true ? " (allow-private)" : "")\t\(w.events.joined(separator: ","))\t\(state)")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a subscription (administrators): nothing more is sent to it.")
        @Argument var id: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions
        func run() async throws {
            try await reportingErrors {
                try await runAdministration(.removeWebhook(id: id), options: options, signing: signing, done: "Removed \(id)")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable an endpoint disabled by a 410 Gone (administrators); its held messages are sent.")
        @Argument var id: String
        @OptionGroup var options: WriteOptions
        func run() async throws {
            try await reportingErrors {
                try await options.client().enableWebhook(id, as: try options.actor.name)
                print("Enabled \(id)")
            }
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The delivery log, newest first (administrators and auditors).")
        @Option(help: "Only this subscription's.") var subscription: String?
        @Option(help: "pending, delivered, failed or disabled.") var status: String?
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let rows = try await read.client.client().deliveries(subscription: subscription, status: status, limit: max(1, min(limit, 1000)))
                if read.json { printJSON(rows); return }
                if rows.isEmpty { print("no deliveries") }
                for d in rows {
                    let last = d.last_status_code.map { "HTTP \($0)" } ?? d.last_error.map(oneLine) ?? "-"
                    print("\(d.id)\t\(d.subscription)\t\(d.type)\t\(d.status)\t\(d.attempts) attempt(s)\t\(last)\t\(d.created_at)\t\(oneLine(d.summary))")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One delivery with every attempt.")
        @Argument var id: String
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let d = try await read.client.client().delivery(id)
                if read.json { printJSON(d); return }
                print("\(d.id) \(d.type) to \(d.subscription): \(d.status), \(d.attempts) attempt(s)\(d.next_attempt_at.map { ", next at \($0)" } ?? "")")
                print("  \(oneLine(d.summary))")
                for a in d.attempt_log ?? [] {
                    print("  \(a.at)  \(a.status_code.map { "HTTP \($0)" } ?? "no answer")  \(a.duration_ms) ms\(a.error.map { "  \(oneLine($0))" } ?? "")")
                }
            }
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a message again, now (administrators), with the same webhook-id.")
        @Argument var id: String
        @OptionGroup var options: WriteOptions
        func run() async throws {
            try await reportingErrors {
                try await options.client().redeliver(id, as: try options.actor.name)
                print("Queued \(id) for delivery")
            }
        }
    }

    struct SigningKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "signing-key", abstract: "Print the public key (whpk_…) that verifies the v1a (Ed25519) signatures of every webhook.")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { print(try await read.client.client().webhookPublicKey()) }
        }
    }
}
