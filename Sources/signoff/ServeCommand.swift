import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SignoffServer
import SignoffService
import SignoffCore
import SignoffLedger

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API (schema/openapi.yaml) over a ledger database.",
        discussion: """
            The ledger key's passphrase is needed to sign checkpoints (--ledger-passphrase-file or \
            SIGNOFF_LEDGER_PASSPHRASE). SIGTERM or SIGINT stops accepting requests, lets in-flight ones finish and signs \
            a last checkpoint.
            """)

    @OptionGroup var ledger: LedgerOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(name: .customLong("session-hours"), help: "How long a login session lasts (1 to 24 hours).") var sessionHours = 8
    @Option(name: .customLong("max-service-token-days"), help: "The longest lifetime a service token may be given (1 to 90 days).")
    var maxServiceTokenDays = 30
    @Option(
        name: .customLong("public-url"),
        help: """
            The server's public origin, e.g. https://signoff.example.com: links in notifications start with it, and the \
            console accepts state-changing requests only from it (without it: from the origins this server listens on).
            """)
    var publicURL: String?
    @Option(
        name: .customLong("trusted-proxy"), parsing: .upToNextOption,
        help: """
            Load balancers or TLS terminators (CIDR, e.g. 10.0.0.0/8, or one address) whose X-Forwarded-For names the \
            client for the login limits and the access log. Without it the header is ignored: every client is its peer.
            """)
    var trustedProxy: [String] = []
    @Option(name: .customLong("webhook-first-retry"), help: "The first webhook retry after this long (each next one twice as long, at most 1h, for 24h), e.g. 5s.")
    var webhookFirstRetry = "5s"
    @Option(name: .customLong("reminder-interval"), help: "How often reminders, escalations and overdue retrospectives are looked for, e.g. 60s.")
    var reminderInterval = "60s"
    @Option(name: .customLong("evidence-max-bytes"), help: "The largest evidence document accepted, in bytes (1024 to 67108864; default 5 MiB).")
    var evidenceMaxBytes = EvidenceDocument.defaultMaximumBytes
    @Option(name: .customLong("verify-interval"), help: "How often the whole ledger is verified (at start, then every interval), e.g. 1h; off: never.")
    var verifyInterval = "1h"
    @Flag(
        name: .customLong("webhook-allow-private"),
        help: """
            Deliver webhooks to loopback, private and link-local addresses — only for subscriptions added with \
            --allow-private. Without it, a delivery whose host resolves to such an address is refused (and logged).
            """)
    var webhookAllowPrivate = false
    @Option(
        name: .customLong("max-waiters-per-principal"),
        help: "Gate long polls (wait > 0) one user or service account (all its tokens) may hold at once; beyond, 429 with Retry-After (1 to 100000).")
    var maxWaitersPerPrincipal = 64
    @Option(name: .customLong("max-waiters"), help: "Gate long polls the server holds at once, in all; beyond, 429 with Retry-After (1 to 100000).")
    var maxWaiters = 1_024
    @Option(name: .customLong("sso-issuer"), help: "Single sign-on for the console: the name of an issuer trusted for people (signoff issuer trust).")
    var ssoIssuer: String?
    @Option(name: .customLong("sso-client-id"), help: "The console's OAuth client ID at that issuer (the issuer's trusted audience).")
    var ssoClientID: String?
    @Option(
        name: .customLong("sso-client-secret-file"),
        help: "A file whose first line is the client secret (or SIGNOFF_SSO_CLIENT_SECRET); none: a public client, PKCE alone.")
    var ssoClientSecretFile: String?

    @Option(
        name: .customLong("witness-policy"),
        help: "A C2SP tlog-policy file: each new checkpoint is submitted to its witnesses that have a URL, and their cosignatures kept with it.")
    var witnessPolicy: String?
    @Option(name: .customLong("witness-interval"), help: "How often the newest checkpoint is offered to witnesses that have not cosigned it, e.g. 10s.")
    var witnessInterval = "10s"

    func run() async throws {
        try await reportingErrors {
            guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError.badInput("--log-level \(logLevel) is not a log level") }
            guard (1...24).contains(sessionHours) else { throw CLIError.badInput("--session-hours is 1 to 24, not \(sessionHours)") }
            guard (1...90).contains(maxServiceTokenDays) else { throw CLIError.badInput("--max-service-token-days is 1 to 90, not \(maxServiceTokenDays)") }
            var logger = Logger(label: "signoff")
            logger.logLevel = level
            let storage = try await ledger.openForWriting()
            // The ledger key now, before listening or taking the leader's lease: a server signs checkpoints and webhook
            // messages with it, and a missing or wrong passphrase is said first, not after the server has started.
            do { try storage.signer?.open() } catch {
                await storage.close()
                throw error
            }
            try await storage.projection.prepare()
            var configuration = ServerConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.sessionLifetimeMilliseconds = Int64(sessionHours) * 3_600_000
            configuration.maximumServiceTokenHours = maxServiceTokenDays * 24
            if let publicURL {
                guard let url = URL(string: publicURL), url.scheme == "https" || url.scheme == "http", url.host != nil, url.path.isEmpty || url.path == "/" else {
                    throw CLIError.badInput("--public-url must be an origin such as https://signoff.example.com")
                }
                configuration.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
            }
            for text in trustedProxy {
                guard let network = IPNetwork(text) else {
                    throw CLIError.badInput("--trusted-proxy \(text) is not an address or a network in CIDR notation (10.0.0.0/8, fd00::/8)")
                }
                configuration.trustedProxies.append(network)
            }
            guard let firstRetry = WorkflowParser.seconds(ofDuration: webhookFirstRetry), let interval = WorkflowParser.seconds(ofDuration: reminderInterval) else {
                throw CLIError.badInput("--webhook-first-retry and --reminder-interval are durations such as 5s or 1m")
            }
            configuration.webhookFirstBackoffMilliseconds = firstRetry * 1000
            configuration.reminderIntervalSeconds = interval
            guard (1024...EvidenceDocument.largestMaximumBytes).contains(evidenceMaxBytes) else {
                throw CLIError.badInput("--evidence-max-bytes is 1024 to \(EvidenceDocument.largestMaximumBytes) (64 MiB, the most an audit export's verifier reads), not \(evidenceMaxBytes)")
            }
            configuration.evidenceMaximumBytes = evidenceMaxBytes
            configuration.webhookAllowPrivate = webhookAllowPrivate
            guard (1...100_000).contains(maxWaitersPerPrincipal), (1...100_000).contains(maxWaiters) else {
                throw CLIError.badInput("--max-waiters-per-principal and --max-waiters are 1 to 100000")
            }
            configuration.maximumWaitersPerPrincipal = maxWaitersPerPrincipal
            configuration.maximumWaiters = maxWaiters
            if verifyInterval == "off" {
                configuration.verifyIntervalSeconds = 0
            } else {
                guard let seconds = WorkflowParser.seconds(ofDuration: verifyInterval), seconds > 0 else {
                    throw CLIError.badInput("--verify-interval is a duration such as 1h or 30m, or off")
                }
                configuration.verifyIntervalSeconds = seconds
            }
            switch (ssoIssuer, ssoClientID) {
            case (nil, nil):
                guard ssoClientSecretFile == nil else { throw CLIError.badInput("--sso-client-secret-file needs --sso-issuer and --sso-client-id") }
            case (let issuer?, let client?):
                guard Engine.isValidName(issuer), !client.isEmpty else { throw CLIError.badInput("--sso-issuer is an issuer's name and --sso-client-id is not empty") }
                var secret = ProcessInfo.processInfo.environment["SIGNOFF_SSO_CLIENT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
                if let path = ssoClientSecretFile {
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8), let line = text.split(separator: "\n").first.map(String.init), !line.isEmpty else {
                        throw CLIError.badInput("--sso-client-secret-file \(path) cannot be read, or its first line is empty")
                    }
                    secret = line.trimmingCharacters(in: .whitespaces)
                }
                configuration.singleSignOn = SingleSignOnConfiguration(issuer: issuer, clientID: client, clientSecret: secret)
                if publicURL == nil {
                    logger.notice("single sign-on without --public-url: the provider sends browsers back to http://\(host):\(port)/console/sso/callback; register that redirect URI")
                }
            default:
                throw CLIError.badInput("single sign-on needs both --sso-issuer and --sso-client-id")
            }
            // What the server expects of what stands in front of it, said once at start.
            if configuration.publicURL == nil {
                logger.notice(
                    "no --public-url: the console accepts sign-ins and changes only from the origins this server listens on; behind a load balancer or TLS termination, give --public-url https://HOST (and --trusted-proxy for its address)")
            }
            if configuration.trustedProxies.isEmpty {
                logger.notice("no --trusted-proxy: X-Forwarded-For is ignored, and each client is its peer's address (behind a proxy, every client is the proxy)")
            }
            if let witnessPolicy {
                let text: String
                do { text = try String(contentsOfFile: witnessPolicy, encoding: .utf8) } catch {
                    throw CLIError.badInput("--witness-policy \(witnessPolicy) cannot be read as UTF-8 text")
                }
                let policy: WitnessPolicy
                do { policy = try WitnessPolicy(parsing: text) } catch let error as LedgerError { throw CLIError.badInput("--witness-policy \(witnessPolicy): \(error.message)") }
                let ledgerKey = storage.ledger.verifierKey
                guard policy.logs.isEmpty || policy.logs.contains(ledgerKey) else {
                    throw CLIError.badInput("--witness-policy \(witnessPolicy) lists logs, but not this ledger's key \(ledgerKey)")
                }
                configuration.witnesses = policy.witnesses.compactMap { w in w.url.map { WitnessEndpoint(name: w.name, key: w.key, url: $0) } }
                guard !configuration.witnesses.isEmpty else {
                    throw CLIError.badInput("--witness-policy \(witnessPolicy): no witness has a URL (witness NAME VKEY URL) to submit checkpoints to")
                }
                guard let seconds = WorkflowParser.seconds(ofDuration: witnessInterval), seconds > 0 else {
                    throw CLIError.badInput("--witness-interval is a duration such as 10s or 1m")
                }
                configuration.witnessIntervalSeconds = seconds
                logger.notice("witnesses: \(configuration.witnesses.map { "\($0.name) at \($0.url)" }.joined(separator: ", ")); quorum \(policy.quorumDescription)")
            }
            let app = buildApplication(service: SignoffService(storage: storage, keepsWholeState: true), configuration: configuration, logger: logger)
            try await app.runService()
            await storage.close()
        }
    }
}
