public import Hummingbird
public import Logging
public import SignoffService
public import Prometheus
import SignoffCore
import SignoffAPI
import SignoffLedger
import ServiceLifecycle
import NIOCore

/// The router of `signoff serve`, for tests (`app.test(.router)`) and for ``buildApplication(service:configuration:metrics:logger:)``.
/// Routes come grouped by topic, one `RouteCollection` each: authentication, administration, requests, audit.
public func buildRouter(
    service: SignoffService, configuration: ServerConfiguration = .init(), metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) -> Router<SignoffRequestContext> {
    // HEAD answered on every GET route as the GET would be, without the body (RFC 9110 §9.3.2): uptime checks and load
    // balancers ask HEAD. The route's middleware — authentication, scopes — runs as for the GET.
    let router = Router(context: SignoffRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: AccessLog(metrics: ServerMetrics(registry: metrics), trustedProxies: configuration.trustedProxies))
    router.add(middleware: ProblemMiddleware())
    let auth = Authenticator(store: service.auth, clock: { service.now })
    let signoffMetrics = SignoffMetrics(registry: metrics)
    let handlers = Handlers(service: service, auth: auth, configuration: configuration, metrics: signoffMetrics)
    router.get("/healthz") { _, _ in ["status": "ok"] }
    router.get("/readyz") { _, _ -> [String: String] in
        _ = try await service.ledger.size()
        // A fork alarm is about the ledger, not this instance: taking it out of a load balancer would help nothing, so it
        // stays ready and says so, for monitoring. The alarm is this process's (the leader's, which submits to the
        // witnesses, or one that cut an export): another instance learns it when it leads and submits in turn.
        let alarms = service.witnesses.alarms
        guard alarms.isEmpty else {
            return ["status": "degraded", "detail": alarms.map { "witness \($0.name): \($0.alarm ?? "")" }.joined(separator: "; ")]
        }
        return ["status": "ready"]
    }
    router.get("/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPISpec.yaml)))
    }
    // Metrics need an administrator's session or a service token with the `metrics:*` scope.
    router.group("/metrics").add(middleware: BearerAuthentication(auth: auth, service: service, identity: handlers.identity, configuration: configuration))
        .add(middleware: ServiceTokenScopes()).get { _, context in
        guard let token = context.token else { throw Problem.unauthorized("metrics need a bearer token") }
        let state = try await service.state()
        let administrator = token.kind == .session && state.principals[token.principal]?.isAdministrator == true
        guard administrator || token.scopes.contains("metrics:*") else {
            throw Problem.forbidden("metrics are for administrators and service tokens with the metrics:* scope", rule: .tokenScope)
        }
        let ledger = service.ledger
        let size = try await ledger.size()
        let checkpointSize = try await ledger.latestCheckpoint()?.checkpoint.size ?? 0
        let oldest = checkpointSize < size ? try await ledger.entry(at: checkpointSize).timeMilliseconds : nil
        let pending = try await service.webhooks.deliveries(subscription: nil, status: .pending, limit: 1_000_000).count
        var text = metrics.emitToBuffer()
        text += Array(
            SignoffMetrics.stateText(state, now: service.now, ledgerSize: size, checkpointSize: checkpointSize, oldestUncheckpointed: oldest, pendingWebhooks: pending, gateWaiters: handlers.waiters.inUse(),
                witnesses: service.witnesses.snapshot()).utf8)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    // The ledger as a C2SP tlog-tiles log, behind a token.
    TlogController(handlers: handlers).routes(
        into: router, middleware: BearerAuthentication(auth: auth, service: service, identity: handlers.identity, configuration: configuration))
    let authentication = AuthController(handlers: handlers)
    router.addRoutes(authentication.publicRoutes, atPath: "/v1")
    // Every route behind a token; a service token only where its operation's row (APIOperation.all) lets it.
    let v1 = RouteCollection(context: SignoffRequestContext.self).add(middleware: BearerAuthentication(auth: auth, service: service, identity: handlers.identity, configuration: configuration))
        .add(middleware: ServiceTokenScopes())
        .add(middleware: IdempotencyKeys(service: service, maximumBody: max(1 << 20, configuration.evidenceMaximumBytes)))
    v1.addRoutes(authentication.routes)
    v1.addRoutes(AdministrationController(handlers: handlers).routes)
    v1.addRoutes(RequestsController(handlers: handlers).routes)
    v1.addRoutes(AuditController(handlers: handlers).routes)
    v1.addRoutes(WebhooksController(handlers: handlers).routes)
    router.addRoutes(v1, atPath: "/v1")
    // The SCIM service a connected directory provisions through (its own token; schema/directory.md).
    SCIMController(handlers: handlers).routes(into: router)
    // The web console: server-rendered pages, the same state and rules, calling nothing the API does not offer.
    do {
        try ConsoleController(handlers: handlers).routes(into: router)
    } catch {
        // Its files are compiled in (ConsoleFiles); a template that does not parse or a static file of no known type is
        // a fault of the build, said at `/` (the tests build the console and would fail first).
        router.get("/") { _, _ -> Response in Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "the web console is unavailable: \(error)"))) }
    }
    return router
}

/// The HTTP server over one database. Graceful shutdown on SIGTERM/SIGINT comes from `runService()`: the HTTP
/// server stops accepting, in-flight requests finish, and the checkpoint service signs what was appended.
public func buildApplication(
    service: SignoffService, configuration: ServerConfiguration = .init(), metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), logger: Logger
) -> some ApplicationProtocol {
    var app = Application(
        router: buildRouter(service: service, configuration: configuration, metrics: metrics),
        server: .http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "signoff", backlog: configuration.listenBacklog),
        onServerRunning: { channel in configuration.listening.set(channel.localAddress?.port) },
        logger: logger)
    let leadership = service.leadership
    app.addServices(
        LeadershipService(leadership: leadership, logger: logger),
        CheckpointService(publisher: service.publisher, leadership: leadership, intervalSeconds: configuration.checkpointIntervalSeconds, logger: logger),
        ExpiryService(service: service, intervalSeconds: configuration.expiryIntervalSeconds, logger: logger),
        WebhookDeliveryService(service: service, configuration: configuration, metrics: SignoffMetrics(registry: metrics), logger: logger),
        NotificationScheduler(service: service, intervalSeconds: configuration.reminderIntervalSeconds, metrics: SignoffMetrics(registry: metrics), logger: logger),
        VerificationService(service: service, intervalSeconds: configuration.verifyIntervalSeconds, logger: logger),
        ChangeFeedService(service: service, logger: logger),
        WitnessSubmissionService(
            service: service, endpoints: configuration.witnesses, transport: URLSessionWitnessTransport.shared, intervalSeconds: configuration.witnessIntervalSeconds,
            logger: logger))
    return app
}

/// Wakes this instance's waiters (gate long polls, the webhook deliverer) when another instance on the same database
/// commits (``ChangeFeed``); a backend without a feed (SQLite) leaves it idle until the shutdown.
struct ChangeFeedService: Service {
    let service: SignoffService
    let logger: Logger

    func run() async throws {
        guard let feed = service.storage.changeFeed else {
            try? await gracefulShutdown()
            return
        }
        let changes = service.changes
        try? await cancelWhenGracefulShutdown {
            do { try await feed.run { changes.signal() } } catch is CancellationError {} catch {
                logger.error("the change feed stopped: other instances' writes wake nothing here until a restart", metadata: ["error": .string("\(error)")])
                try await gracefulShutdown()
            }
        }
    }
}

/// Runs `body` now, then again every `everySeconds`, until the server shuts down (a shutdown ends the wait at once):
/// the loop of the server's periodic services.
func repeatUntilShutdown(everySeconds seconds: Int64, _ body: () async -> Void) async {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        await body()
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}

/// Records `request.expired` for the active requests idle longer than their workflow's `request_expiry`, every
/// interval, as the system.
struct ExpiryService: Service {
    let service: SignoffService
    let intervalSeconds: Int64
    let logger: Logger

    func run() async throws {
        await repeatUntilShutdown(everySeconds: intervalSeconds) { await expire() }
    }

    func expire() async {
        guard await service.leadership.isLeader() else { return }
        do {
            guard Engine.hasStaleRequests(try await service.state(), now: service.now) else { return }
            if case .success(let entries) = try await service.execute(.expireStale, as: Engine.systemActor) {
                logger.info("expired stale requests", metadata: ["count": .stringConvertible(entries.count)])
            }
        } catch {
            logger.error("could not expire stale requests", metadata: ["error": .string("\(error)")])
        }
    }
}

/// Verifies the whole ledger at start and every interval (0: never), for the audit page and `GET /v1/audit/health`;
/// a failure is logged as an error.
struct VerificationService: Service {
    let service: SignoffService
    let intervalSeconds: Int64
    let logger: Logger

    func run() async throws {
        // A service that returns would stop the server: without verification, wait for the shutdown.
        guard intervalSeconds > 0 else {
            try? await gracefulShutdown()
            return
        }
        await repeatUntilShutdown(everySeconds: intervalSeconds) {
            guard await service.leadership.isLeader() else { return }
            do {
                if let run = try await service.verifyLedger() {
                    if let failure = run.failure {
                        logger.error("the ledger failed verification", metadata: ["failure": .string(failure), "entries": .stringConvertible(run.entries)])
                    } else {
                        logger.info("ledger verified", metadata: ["entries": .stringConvertible(run.entries), "ms": .stringConvertible(run.finishedAt - run.startedAt)])
                    }
                }
            } catch {
                logger.error("could not verify the ledger", metadata: ["error": .string("\(error)")])
            }
        }
    }
}

/// Signs a checkpoint every interval while entries are waiting (the leader), and once more on shutdown (every
/// instance: what it appended is covered before it stops).
struct CheckpointService: Service {
    let publisher: LogPublisher
    let leadership: Leadership
    let intervalSeconds: Int64
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { break }
            if await leadership.isLeader() { await sign(force: false) }
        }
        // Stopping (SIGTERM, SIGINT): the last checkpoint covers everything appended. This task is cancelled by now, and
        // a cancelled task's database reads throw CancellationError: the signing runs in a task of its own.
        logger.info("stopping: signing the last checkpoint")
        await Task { await sign(force: true) }.value
    }

    func sign(force: Bool) async {
        do {
            if let checkpoint = try await publisher.publish(force: force) {
                logger.debug("checkpoint", metadata: ["size": .stringConvertible(checkpoint.checkpoint.size)])
            }
        } catch {
            logger.error("could not sign a checkpoint", metadata: ["error": .string("\(error)")])
        }
    }
}
