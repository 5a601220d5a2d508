import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffPostgres
import SignoffService

/// Issue 26's figures: durable appends and signed decisions on PostgreSQL with one and with two instances (each an
/// own storage, pool and group commit over one database), beside raw PostgreSQL inserts of the same rows at the same
/// durability and batch size, and pgbench's TPC-B on the same cluster.
struct PostgresBench {
    let runs: Int
    let server: PostgresURL
    let serverText: String
    let directory: URL
    var appendCount = 20_000
    var clients = 64
    var gateOnly = false

    /// A new database on the server: its address.
    func database(_ name: String) throws -> PostgresURL {
        try Self.psql([serverText, "-qc", "CREATE DATABASE \(name)"])
        return server.with(database: name)
    }

    @discardableResult
    static func psql(_ arguments: [String], executable: String = "/usr/bin/psql") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw BenchError("\(executable) \(arguments.dropFirst().joined(separator: " ")): \(text)") }
        return text
    }

    func run() async throws -> [Figure] {
        var one: [Double] = [], two: [Double] = [], raw: [Double] = [], batches: [Double] = [], batchesTwo: [Double] = [], tpcb: [Double] = []
        var decisionsOne: [Double] = [], decisionsTwo: [Double] = []
        var gateOne: [Double] = [], gateTwo: [Double] = [], gateTwoP50: [Double] = [], gateErrors = 0
        func gate(_ run: Int) async throws {
            Bench.progress("postgres run \(run)/\(runs): gate latency at 1000 requests/s, one instance then two")
            let gate = try await gateLatency(run: run)
            gateOne.append(gate.one.p99)
            gateTwo.append(gate.two.p99)
            gateTwoP50.append(gate.two.p50)
            gateErrors += gate.one.errors + gate.two.errors
        }
        for run in 1...runs where gateOnly { try await gate(run) }
        for run in 1...runs where !gateOnly {
            Bench.progress("postgres run \(run)/\(runs): \(appendCount) appends from \(clients) clients, one instance then two")
            let (rate, batch) = try await appendRate(instances: 1, run: run)
            one.append(rate)
            batches.append(batch)
            let (twoRate, twoBatch) = try await appendRate(instances: 2, run: run)
            two.append(twoRate)
            batchesTwo.append(twoBatch)
            raw.append(try await rawInsertRate(batchSize: max(1, Int(batch.rounded())), run: run))
            tpcb.append(try pgbench(run: run))
            Bench.progress("postgres run \(run)/\(runs): signed decisions, one instance then two")
            decisionsOne.append(try await decisionRate(instances: 1, run: run))
            decisionsTwo.append(try await decisionRate(instances: 2, run: run))
            try await gate(run)
        }
        Bench.progress(
            "postgres: appends one \(one), two \(two), raw \(raw), batch one \(batches), two \(batchesTwo), tpcb \(tpcb), decisions one \(decisionsOne), two \(decisionsTwo), gate p99 one \(gateOne), two \(gateTwo)")
        let gateFigures = [
            Figure(name: "PostgreSQL gate latency at 1000 req/s offered to one instance, p99", value: Bench.median(gateOne), unit: "ms",
                limitName: "", limit: nil, goal: "report"),
            Figure(name: "PostgreSQL gate latency at 1000 req/s spread over two instances, p50", value: Bench.median(gateTwoP50), unit: "ms",
                limitName: "", limit: nil, goal: "report"),
            Figure(name: "PostgreSQL gate latency at 1000 req/s spread over two instances, p99 (\(gateErrors) errors in all runs)", value: Bench.median(gateTwo), unit: "ms",
                limitName: "10 ms (issue 24's gate goal)", limit: 10, goal: "ratio ≤ 1"),
        ]
        if gateOnly { return gateFigures }
        let rawMedian = Bench.median(raw)
        return [
            Figure(name: "PostgreSQL durable appends/s, one instance (\(clients) clients)", value: Bench.median(one), unit: "appends/s",
                limitName: "raw PostgreSQL inserts/s, same rows, same batch, synchronous_commit=on", limit: rawMedian, goal: "ratio ≥ 0.5"),
            Figure(name: "PostgreSQL durable appends/s, two instances (\(clients / 2) clients each)", value: Bench.median(two), unit: "appends/s",
                limitName: "one instance (same run)", limit: Bench.median(one), goal: "ratio ≥ 1"),
            Figure(name: "pgbench TPC-B (scale 1, 8 clients) on the same cluster", value: Bench.median(tpcb), unit: "tps", limitName: "", limit: nil, goal: "report"),
            Figure(name: "PostgreSQL signed decisions/s in-process, one instance (256 tasks)", value: Bench.median(decisionsOne), unit: "decisions/s",
                limitName: "", limit: nil, goal: "report"),
            Figure(name: "PostgreSQL signed decisions/s in-process, two instances (128 tasks each)", value: Bench.median(decisionsTwo), unit: "decisions/s",
                limitName: "one instance (same run)", limit: Bench.median(decisionsOne), goal: "ratio ≥ 1"),
        ] + gateFigures
    }

    /// The gate of one request at 1,000 requests/s offered for 5 s: to one instance, then spread over two instances
    /// (two servers in this process, each with its own storage on the one database), as behind a load balancer.
    func gateLatency(run: Int) async throws -> (one: (p50: Double, p99: Double, errors: Int), two: (p50: Double, p99: Double, errors: Int)) {
        var bench = HTTPBench(runs: 1, directory: directory)
        bench.requests = 64
        let url = try database("bench_gate_\(run)_\(UInt32.random(in: 0...UInt32.max))")
        bench.makeStorage = { _ in try await PostgresStorage.create(url: url, origin: "bench/ledger", signingKey: Ed25519.SigningKey()) }
        let world = try await bench.world("pg-gate")
        let second = SignoffService(storage: try await PostgresStorage.open(url: url), keepsWholeState: true)
        let first = try await bench.serve(world.database)
        let other = try await bench.serve(second)
        let (a, b) = (first.url, other.url)
        let token = try await Authenticator(store: world.database.auth, clock: { world.database.now }).issueToken(
            for: "approver0", kind: .session, scopes: [], lifetimeMilliseconds: 3_600_000
        ).token
        let path = "/v1/requests/REQ-1/gate?environment=prod&digest=\(SHA256Digest.hash("bundle").description)"
        if run == 1 {
            // Where a gate's time goes, one call at a time: the service's read, the token's, and the whole HTTP request.
            func mean(_ body: () async throws -> Void) async rethrows -> Double {
                let started = ContinuousClock.now
                for _ in 0..<500 { try await body() }
                return Bench.seconds(ContinuousClock.now - started) * 1000 / 500
            }
            let read = try await mean { _ = try await second.state(focusedOn: "REQ-1") }
            let tokenRead = try await mean { _ = try await second.auth.token(hash: SHA256Digest.hash(Array(token.utf8)), now: second.now) }
            let http = try await mean {
                var request = URLRequest(url: URL(string: path, relativeTo: b)!)
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                _ = try await URLSession.shared.data(for: request)
            }
            for rate in [100, 300, 600] {
                let l = LoadGenerator.run(urls: [a], path: path, token: token, rate: rate, seconds: 3)
                Bench.progress(String(format: "postgres gate at %d/s, one instance: p50 %.2f ms, p99 %.2f ms", rate, l.p50, l.p99))
            }
            Bench.progress(String(format: "postgres gate, one at a time: service read %.3f ms, token read %.3f ms, whole HTTP gate %.3f ms", read, tokenRead, http))
        }
        let one = LoadGenerator.run(urls: [a], path: path, token: token, rate: 1000, seconds: 5)
        let two = LoadGenerator.run(urls: [a, b], path: path, token: token, rate: 1000, seconds: 5)
        await first.stop()
        await other.stop()
        await world.database.storage.close()
        await second.storage.close()
        return ((one.p50, one.p99, one.errors), (two.p50, two.p99, two.errors))
    }

    func appendRate(instances: Int, run: Int) async throws -> (rate: Double, batch: Double) {
        let url = try database("bench_appends_\(instances)_\(run)_\(UInt32.random(in: 0...UInt32.max))")
        let key = Ed25519.SigningKey()
        var storages = [try await PostgresStorage.create(url: url, origin: "bench/ledger", signingKey: key)]
        for _ in 1..<instances { storages.append(try await PostgresStorage.open(url: url)) }
        let writers = storages.map { LedgerWriter(store: $0.ledger) }
        let perClient = appendCount / clients
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                let writer = writers[client % instances]
                group.addTask {
                    for i in 0..<perClient {
                        _ = try await writer.append(EntryDraft(kind: "decision.recorded", actor: "user\(client)", payload: Bench.payload(i)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = Bench.seconds(ContinuousClock.now - started)
        var transactions = 0
        for writer in writers { transactions += await writer.transactions }
        for storage in storages { await storage.close() }
        let total = perClient * clients
        return (Double(total) / elapsed, Double(total) / Double(transactions))
    }

    /// Raw PostgreSQL: the same table shape and row sizes, inserted in transactions of the ledger's median batch size,
    /// 64 rows a statement as the ledger does, `synchronous_commit = on` — no lock, no hashing, no tree.
    func rawInsertRate(batchSize: Int, run: Int) async throws -> Double {
        let url = try database("bench_raw_\(run)_\(UInt32.random(in: 0...UInt32.max))")
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(),
            configuration: .init(host: url.host, port: url.port, username: url.user, password: nil, database: url.database, tls: .disable), id: 1, logger: logger)
        try await connection.query(
            """
            CREATE TABLE raw (sequence BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
            entry BYTEA NOT NULL, leaf_hash BYTEA NOT NULL, chain_hash BYTEA NOT NULL)
            """, logger: logger)
        let total = (appendCount / clients) * clients
        let sample = try LedgerEntry(sequence: 0, timeMilliseconds: 0, kind: "decision.recorded", actor: "user1", payload: Bench.payload(1))
        let started = ContinuousClock.now
        var sequence = 0
        while sequence < total {
            let n = min(batchSize, total - sequence)
            try await connection.query("BEGIN", logger: logger)
            var row = 0
            while row < n {
                let k = min(64, n - row)
                var bindings = PostgresBindings()
                var tuples: [String] = []
                for i in sequence + row..<sequence + row + k {
                    let base = bindings.count
                    tuples.append("(" + (1...7).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
                    bindings.append(Int64(i))
                    bindings.append(Int64(1_790_000_000_000))
                    bindings.append("decision.recorded")
                    bindings.append("user1")
                    bindings.append(ByteBuffer(bytes: sample.encoded))
                    bindings.append(ByteBuffer(repeating: 0, count: 32))
                    bindings.append(ByteBuffer(repeating: 0, count: 32))
                }
                try await connection.query(
                    PostgresQuery(unsafeSQL: "INSERT INTO raw (sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash) VALUES " + tuples.joined(separator: ", "), binds: bindings),
                    logger: logger)
                row += k
            }
            try await connection.query("COMMIT", logger: logger)
            sequence += n
        }
        let rate = Double(total) / Bench.seconds(ContinuousClock.now - started)
        try await connection.close()
        return rate
    }

    /// pgbench's TPC-B-like transactions on the same cluster, 1,000 per client: what the server does with a standard
    /// workload. (A count, not `-T`: a child spawned from here inherits blocked signals, and `-T`'s alarm never comes.)
    func pgbench(run: Int) throws -> Double {
        let url = try database("bench_tpcb_\(run)_\(UInt32.random(in: 0...UInt32.max))")
        let target = ["-h", url.host, "-p", String(url.port), "-U", url.user, url.database]
        try Self.psql(["-i", "-s", "1", "-q"] + target, executable: "/usr/bin/pgbench")
        let output = try Self.psql(["-c", "8", "-j", "2", "-t", "1000", "-n"] + target, executable: "/usr/bin/pgbench")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst("tps = ".count).prefix { $0.isNumber || $0 == "." })
        else { throw BenchError("pgbench printed no tps: \(output)") }
        return tps
    }

    /// Signed decisions in-process on PostgreSQL: the decisions bench's world, with one or two instances deciding.
    func decisionRate(instances: Int, run: Int) async throws -> Double {
        var bench = HTTPBench(runs: 1, directory: directory)
        bench.requests = 1024
        bench.clients = 256
        let url = try database("bench_decisions_\(instances)_\(run)_\(UInt32.random(in: 0...UInt32.max))")
        bench.makeStorage = { _ in try await PostgresStorage.create(url: url, origin: "bench/ledger", signingKey: Ed25519.SigningKey()) }
        let world = try await bench.world("pg")
        var services = [world.database]
        for _ in 1..<instances { services.append(SignoffService(storage: try await PostgresStorage.open(url: url), keepsWholeState: true)) }
        let rate = try await bench.decide(world, services: services)
        for service in services { await service.storage.close() }
        return rate
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
