public import Hummingbird
public import Logging
public import SignoffStore
public import Prometheus
import SignoffCore
import SignoffLedger
import ServiceLifecycle

/// The router of `signoff serve`, for tests (`app.test(.router)`) and for ``buildApplication(database:configuration:logger:)``.
public func buildRouter(
    database: SignoffDatabase, configuration: ServerConfiguration = .init(), metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) -> Router<SignoffRequestContext> {
    let router = Router(context: SignoffRequestContext.self)
    router.add(middleware: AccessLog(metrics: ServerMetrics(registry: metrics)))
    router.add(middleware: ProblemMiddleware())
    let auth = AuthStore(ledger: database.ledger)
    // Metrics need a token like everything else (a scraper uses a service token).
    router.group("/metrics").add(middleware: BearerAuthentication(auth: auth)).get { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
    }
    API(database: database, auth: auth, configuration: configuration).addRoutes(to: router)
    return router
}

/// The HTTP server over one database. Graceful shutdown on SIGTERM/SIGINT comes from `runService()`: the HTTP
/// server stops accepting, in-flight requests finish, and the checkpoint service signs what was appended.
public func buildApplication(
    database: SignoffDatabase, configuration: ServerConfiguration = .init(), metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), logger: Logger
) -> some ApplicationProtocol {
    var app = Application(
        router: buildRouter(database: database, configuration: configuration, metrics: metrics),
        server: .http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "signoff"),
        logger: logger)
    app.addServices(CheckpointService(ledger: database.ledger, intervalSeconds: configuration.checkpointIntervalSeconds, logger: logger))
    return app
}

/// Signs a checkpoint every interval while entries are waiting, and once more on shutdown.
struct CheckpointService: Service {
    let ledger: SQLiteLedgerStore
    let intervalSeconds: Int64
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(intervalSeconds))
            await sign()
        }
        await sign()
    }

    func sign() async {
        do {
            if let checkpoint = try await ledger.signCheckpoint() {
                logger.debug("checkpoint", metadata: ["size": .stringConvertible(checkpoint.checkpoint.size)])
            }
        } catch {
            logger.error("could not sign a checkpoint", metadata: ["error": .string("\(error)")])
        }
    }
}
