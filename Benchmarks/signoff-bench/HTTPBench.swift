import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import ServiceLifecycle
import SignoffCore
import SignoffCrypto
import SignoffServer
@_spi(Testing) import SignoffService
import SignoffStore

/// `signoff-bench --http`: signed decisions per second through the HTTP API (16 concurrent clients), the same
/// operation in-process, and raw libsodium verification on all cores, in one run; then gate and status latency
/// under an open-loop load of 1,000 requests/s.
struct HTTPBench {
    let runs: Int
    let directory: URL
    let approvers = 64
    var requests = 1024
    var clients = 16
    /// Where a world is kept: a new SQLite file in `directory` unless set (the PostgreSQL figures set it).
    var makeStorage: (@Sendable (String) async throws -> SignoffStorage)? = nil

    static let bench = """
        workflow: bench
        stages:
          - name: requested
          - name: approved
            gate:
              approvals: [{role: approvers, count: 2}]
              signatures: required
          - name: deployed
            gate:
              actors: [deployers]
        """

    struct World {
        let database: SignoffService
        let keys: [String: Ed25519.SigningKey]
        let work: [(actor: String, command: Command)]
    }

    /// A fresh database with `requests` requests, each to be approved by two of `approvers` people (signed).
    func world(_ name: String) async throws -> World {
        let ledger =
            if let makeStorage { try await makeStorage(name) } else {
                try SQLiteStorage.create(path: directory.appendingPathComponent("\(name).sqlite").path, origin: "bench/ledger", signingKey: Ed25519.SigningKey())
            }
        let database = SignoffService(storage: ledger, keepsWholeState: true)
        var keys: [String: Ed25519.SigningKey] = [:]
        func must(_ command: Command, _ actor: String) async throws {
            if case .failure(let refusal) = try await database.execute(command, as: actor) { fatalError("bench setup refused: \(refusal)") }
        }
        let admin = Ed25519.SigningKey()
        try await must(.initializeLedger(origin: ledger.ledger.verifierKey.name, ledgerKey: ledger.ledger.verifierKey), "system")
        try await must(.bootstrapAdministrator(name: "admin", key: NoteVerifierKey(name: "admin", publicKey: admin.publicKey)), "system")
        for group in ["approvers", "requesters", "deployers"] { try await must(.createGroup(name: group), "admin") }
        try await must(.addUser(name: "requester", administrator: false, key: nil), "admin")
        try await must(.addMember(group: "requesters", member: "requester"), "admin")
        for i in 0..<approvers {
            let key = Ed25519.SigningKey()
            keys["approver\(i)"] = key
            try await must(.addUser(name: "approver\(i)", administrator: false, key: NoteVerifierKey(name: "approver\(i)", publicKey: key.publicKey)), "admin")
            try await must(.addMember(group: "approvers", member: "approver\(i)"), "admin")
        }
        try await must(.applyWorkflow(source: Self.bench, file: "bench.yaml"), "admin")
        try await must(.createProject(ProjectSpec(key: "bench", regulated: true, environments: ["prod": "bench"], roles: ["requesters": ["requesters"], "approvers": ["approvers"], "deployers": ["deployers"]]),
            approval: AdminApproval(change: AdminChange(.projectCreate, project: ProjectSpec(key: "bench", regulated: true, environments: ["prod": "bench"], roles: ["requesters": ["requesters"], "approvers": ["approvers"], "deployers": ["deployers"]])), time: database.now).signed(with: admin)), "admin")
        // Filed concurrently (group commit), in numbered order within each of 16 lanes; IDs are REQ-1…REQ-n either way.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<16 {
                group.addTask {
                    for r in stride(from: lane, to: requests, by: 16) {
                        if case .failure(let refusal) = try await database.execute(
                            .fileRequest(project: "bench", environment: "prod", bundle: "b.zip", digest: SHA256Digest.hash("bundle"), description: ""), as: "requester")
                        {
                            fatalError("bench setup refused: \(refusal)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let state = try await database.state()
        var work: [(String, Command)] = []
        for r in 1...requests {
            let request = state.requests["REQ-\(r)"]!
            for i in [(2 * r) % approvers, (2 * r + 1) % approvers] {
                let envelope = DecisionStatement(request: request, stage: "approved", decision: .approve, actor: "approver\(i)", comment: "", time: database.now)
                    .signed(with: keys["approver\(i)"]!)
                work.append(("approver\(i)", .decide(request: request.id, stage: "approved", decision: .approve, comment: "", envelope: envelope)))
            }
        }
        return World(database: database, keys: keys, work: work.shuffled())
    }

    func inProcessRate() async throws -> Double {
        let w = try await world("inprocess-\(UUID().uuidString)")
        return try await decide(w, services: [w.database])
    }

    /// The world's signed decisions by `clients` tasks spread over `services` (instances over one database); per second.
    func decide(_ w: World, services: [SignoffService]) async throws -> Double {
        let queue = WorkQueue(w.work)
        let started = ContinuousClock.now
        let cpuBefore = Bench.processCPUSeconds()
        let roundsBefore = services.reduce(0) { $0 + $1.roundsCommitted }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                let service = services[client % services.count]
                group.addTask {
                    while let item = await queue.next() {
                        if case .failure(let refusal) = try await service.execute(item.command, as: item.actor) { fatalError("refused: \(refusal)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = Bench.seconds(ContinuousClock.now - started)
        let cpu = Bench.processCPUSeconds() - cpuBefore
        let rounds = services.reduce(0) { $0 + $1.roundsCommitted } - roundsBefore
        Bench.progress(
            "  \(w.work.count) decisions in \(String(format: "%.2f", elapsed)) s: \(Int(cpu / Double(w.work.count) * 1_000_000)) µs of CPU each, "
                + "\(String(format: "%.2f", cpu / elapsed)) cores busy, \(rounds) rounds (\(w.work.count / max(1, rounds)) decisions each)")
        return Double(w.work.count) / elapsed
    }

    /// `signoff serve`'s application running in this process, in a service group of its own.
    struct Server: Sendable {
        let url: URL
        let group: ServiceGroup
        let task: Task<Void, any Error>

        /// Stops it as SIGTERM stops `signoff serve` — a graceful shutdown, in which it signs its last checkpoint — and
        /// waits until it has (cancelling its task instead made Hummingbird log errors as it went).
        func stop() async {
            await group.triggerGracefulShutdown()
            _ = await task.result
        }

        /// ``stop()`` from a `defer`: begun now, finished in the background.
        func stopSoon() { Task { await stop() } }
    }

    /// Starts `signoff serve`'s application in this process on a free loopback port.
    func serve(_ w: World) async throws -> Server { try await serve(w.database) }

    /// Starts `signoff serve`'s application for `service` (one instance) in this process on a free loopback port.
    func serve(_ service: SignoffService) async throws -> Server {
        var configuration = ServerConfiguration()
        configuration.port = Int.random(in: 30_000..<50_000)
        configuration.verifyIntervalSeconds = 0  // a full verification would compete with what is measured
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let app = buildApplication(service: service, configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        let url = URL(string: "http://127.0.0.1:\(configuration.port)")!
        for _ in 0..<100 {
            if let (_, response) = try? await URLSession.shared.data(from: url.appendingPathComponent("healthz")), (response as? HTTPURLResponse)?.statusCode == 200 {
                return Server(url: url, group: group, task: task)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        fatalError("the bench server did not start")
    }

    func httpRate() async throws -> Double {
        let w = try await world("http-\(UUID().uuidString)")
        let server = try await serve(w)
        defer { server.stopSoon() }
        let url = server.url
        let auth = Authenticator(store: w.database.auth, clock: { w.database.now })
        var tokens: [String: String] = [:]
        for i in 0..<approvers { tokens["approver\(i)"] = try await auth.issueToken(for: "approver\(i)", kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000).token }
        let bodies: [(String, String, Data)] = w.work.map { item in
            guard case .decide(let id, _, _, _, let envelope, _) = item.command else { fatalError() }
            let envelopeObject = try! JSONSerialization.jsonObject(with: Data(envelope!.jsonBytes()))
            return (tokens[item.actor]!, id, try! JSONSerialization.data(withJSONObject: ["stage": "approved", "decision": "approve", "envelope": envelopeObject]))
        }
        let queue = WorkQueue(bodies)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    while let (token, id, body) = await queue.next() {
                        var request = URLRequest(url: url.appendingPathComponent("v1/requests/\(id)/decisions"))
                        request.httpMethod = "POST"
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                        request.httpBody = body
                        let (data, response) = try await URLSession.shared.data(for: request)
                        guard (response as? HTTPURLResponse)?.statusCode == 200 else { fatalError("HTTP decision failed: \(String(decoding: data, as: UTF8.self))") }
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(bodies.count) / Bench.seconds(ContinuousClock.now - started)
    }

    /// Ed25519 verifications per second with one task per core, on the same PAE messages.
    func rawVerifyRate() async -> Double {
        let key = Ed25519.SigningKey()
        let message = DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: [UInt8](repeating: 0x61, count: 420))
        let signature = key.signature(for: message)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let perCore = 20_000
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<cores {
                group.addTask {
                    for _ in 0..<perCore { precondition(key.publicKey.isValidSignature(signature, for: message)) }
                }
            }
        }
        return Double(cores * perCore) / Bench.seconds(ContinuousClock.now - started)
    }

    /// Signed decisions through the engine in-process (verify + policy + durable append) vs raw verification, with
    /// enough concurrent deciders (256) for group commit to fill its transactions.
    func decisions() async throws -> [Figure] {
        var bench = self
        bench.clients = 256
        bench.requests = 4096
        return try await bench.decisionRates()
    }

    private func decisionRates() async throws -> [Figure] {
        var inProcess: [Double] = [], raw: [Double] = []
        for run in 1...runs {
            Bench.progress("decisions run \(run)/\(runs): \(requests * 2) signed decisions, \(clients) tasks")
            raw.append(await rawVerifyRate())
            inProcess.append(try await inProcessRate())
        }
        return [
            Figure(name: "signed decisions/s in-process (\(clients) tasks)", value: Bench.median(inProcess), unit: "decisions/s",
                limitName: "raw libsodium Ed25519 verify/s, all cores", limit: Bench.median(raw), goal: "ratio ≥ 0.3")
        ]
    }

    func run() async throws -> [Figure] {
        var http: [Double] = [], inProcess: [Double] = [], raw: [Double] = []
        for run in 1...runs {
            Bench.progress("http run \(run)/\(runs): \(requests * 2) signed decisions, \(clients) clients")
            raw.append(await rawVerifyRate())
            inProcess.append(try await inProcessRate())
            http.append(try await httpRate())
        }
        var figures = [
            Figure(name: "signed decisions/s via HTTP (\(clients) clients)", value: Bench.median(http), unit: "decisions/s",
                limitName: "raw libsodium Ed25519 verify/s, all cores", limit: Bench.median(raw), goal: "report"),
            Figure(name: "signed decisions/s in-process (\(clients) tasks)", value: Bench.median(inProcess), unit: "decisions/s",
                limitName: "raw libsodium Ed25519 verify/s, all cores", limit: Bench.median(raw), goal: "report"),
        ]
        Bench.progress("latency of gate and status at 1000 requests/s")
        let w = try await world("latency-\(UUID().uuidString)")
        let server = try await serve(w)
        defer { server.stopSoon() }
        let url = server.url
        let token = try await Authenticator(store: w.database.auth, clock: { w.database.now }).issueToken(for: "approver0", kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000).token
        let digest = SHA256Digest.hash("bundle").description
        for (label, path) in [("gate", "/v1/requests/REQ-1/gate?environment=prod&digest=\(digest)"), ("status", "/v1/requests/REQ-1")] {
            let l = LoadGenerator.run(urls: [url], path: path, token: token, rate: 1000, seconds: 5)
            figures.append(Figure(name: "\(label) latency at 1000 req/s offered, p50", value: l.p50, unit: "ms", limitName: "achieved req/s", limit: l.achieved, goal: "report"))
            figures.append(Figure(name: "\(label) latency at 1000 req/s offered, p99", value: l.p99, unit: "ms", limitName: "errors", limit: Double(l.errors), goal: "report"))
        }
        return figures
    }
}

/// Hands out work items to concurrent clients.
actor WorkQueue<Item: Sendable> {
    private var items: [Item]
    init(_ items: [Item]) { self.items = items.reversed() }
    func next() -> Item? { items.popLast() }
}
