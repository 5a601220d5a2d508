import ArgumentParser
import Synchronization
import Foundation
import GRDB
import SignoffService
import SignoffCrypto
import SignoffLedger
import SignoffStore
import SignoffPostgres

/// Prints the ledger's figures beside the limits they are compared with, measured in the same run:
/// group-committed durable appends vs raw SQLite inserts of same-size rows at the same durability;
/// full verification vs raw SHA-256 of the same bytes; inclusion and consistency proof latency.
@main
struct SignoffBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signoff-bench",
        abstract: "Signoff's figures beside raw SQLite, raw SHA-256 and raw libsodium, measured in the same run.",
        discussion: """
            Default: appends, ledger verification and proofs at --entries, proofs at --proof-entries (0 skips), signed decisions \
            in-process, and a --large-entries Signoff database (0 skips) exported, verified and gated by the release `signoff` \
            beside this binary, each in a new process.
            """)

    struct Options {
        var entries = 1_000_000
        var appendCount = 20_000
        var clients = 64
        var runs = 5
        var json = false
        var http = false
        var decisionsOnly = false
        var appendsOnly = false
        var postgres: String?
        var postgresGateOnly = false
        var ciKit = false
        var pagesOnly = false
        var inboxRequests = 100_000
        var proofEntries = 10_000_000
        var largeEntries = 1_000_000
        var keep = false
        var skipLedger = false
        var largeRuns: Int?
        var makeLedger: String?
        var directory = FileManager.default.temporaryDirectory.appendingPathComponent("signoff-bench-\(getpid())")
    }

    @Option(help: "Ledger entries for verification and proofs.") var entries = 1_000_000
    @Option(help: "Appends measured.") var appends = 20_000
    @Option(help: "Concurrent clients.") var clients = 64
    @Option(help: "Runs of each figure (the median is reported).") var runs = 5
    @Option(help: "Entries of the proof-latency ledger (0 skips).") var proofEntries = 10_000_000
    @Option(help: "Entries of the engine-built Signoff database (0 skips).") var largeEntries = 1_000_000
    @Option(help: "Runs of the large-database figures (default min(runs, 3)).") var largeRuns: Int?
    @Option(help: "Where the databases go (default: a temporary folder).") var dir: String?
    @Option(
        name: .customLong("make-ledger"),
        help: "Only build the engine-made Signoff database of --large-entries entries at this path (its sealed ledger key and public key beside it, as `signoff init` leaves them), and exit.")
    var makeLedger: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Keep the databases in --dir.") var keep = false
    @Flag(help: "Skip appends, verification and proofs at --entries.") var skipLedger = false
    @Flag(help: "Signed decisions via HTTP vs in-process vs raw verify, and gate/status latency at 1000 req/s.") var http = false
    @Flag(name: .customLong("decisions"), help: "Signed decisions in-process only.") var decisionsOnly = false
    @Flag(name: .customLong("appends-only"), help: "Durable appends vs raw SQLite only.") var appendsOnly = false
    @Option(name: .customLong("postgres"), help: "Only the PostgreSQL figures, on this server (postgres://USER@HOST:PORT/DATABASE; the bench creates databases there).")
    var postgres: String?
    @Flag(name: .customLong("postgres-gate-only"), help: "With --postgres: only the gate latency, one instance and two.") var postgresGateOnly = false
    @Flag(name: .customLong("ci-kit"), help: "Gate long-poll wake-up, webhook deliveries/s, inbox and inventory latency at --inbox-requests.") var ciKit = false
    @Flag(name: .customLong("pages-only"), help: "With --ci-kit: only the API's and the console's page latencies at --inbox-requests.") var pagesOnly = false
    @Option(name: .customLong("inbox-requests"), help: "Requests of the inbox-latency database.") var inboxRequests = 100_000

    func run() async throws {
        var options = Options()
        options.entries = entries
        options.appendCount = appends
        options.clients = clients
        options.runs = runs
        options.proofEntries = proofEntries
        options.largeEntries = largeEntries
        options.largeRuns = largeRuns
        options.makeLedger = makeLedger
        if let dir { options.directory = URL(fileURLWithPath: dir) }
        options.json = json
        options.keep = keep
        options.skipLedger = skipLedger
        options.http = http
        options.decisionsOnly = decisionsOnly
        options.appendsOnly = appendsOnly
        options.postgres = postgres
        options.postgresGateOnly = postgresGateOnly
        options.ciKit = ciKit
        options.pagesOnly = pagesOnly
        guard ciKit || !pagesOnly else { throw ValidationError("--pages-only goes with --ci-kit") }
        options.inboxRequests = inboxRequests
        try FileManager.default.createDirectory(at: options.directory, withIntermediateDirectories: true)
        defer { if !options.keep { try? FileManager.default.removeItem(at: options.directory) } }
        var bench = Bench(options: options)
        try await bench.run()
    }
}

struct Figure {
    let name: String
    let value: Double
    let unit: String
    let limitName: String
    let limit: Double?
    let goal: String

    var ratio: Double? { limit.map { value / $0 } }
}

struct Bench {
    let options: Options
    typealias Options = SignoffBench.Options
    var figures: [Figure] = []
    var notes: [String: String] = [:]

    init(options: Options) { self.options = options }

    static func progress(_ text: String) {
        FileHandle.standardError.write(Data("signoff-bench: \(text)\n".utf8))
    }

    /// CPU time this process has used (user and system, every thread), in seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Payloads about the size of a real decision event, made before timing starts so that the clients' own work
    /// is not charged to the ledger.
    static let payloads: [[UInt8]] = (0..<1024).map {
        Array("{\"request\":\"req-\($0)\",\"stage\":\"approved\",\"decision\":\"approve\",\"digest\":\"sha256:\(String(repeating: "ab", count: 32))\",\"comment\":\"looks good\"}".utf8)
    }

    static func payload(_ i: Int) -> [UInt8] { payloads[i & 1023] }

    mutating func run() async throws {
        if let path = options.makeLedger {
            let built = try await LargeLedgerBench(entries: options.largeEntries, runs: 1, directory: options.directory).build(at: path)
            print("\(built.path): \(built.entries) entries, \(built.requests) requests, \(built.decisions) signed decisions")
            return
        }
        if let postgres = options.postgres {
            figures = try await PostgresBench(
                runs: options.runs, server: try PostgresURL(parsing: postgres), serverText: postgres, directory: options.directory, appendCount: options.appendCount,
                clients: options.clients, gateOnly: options.postgresGateOnly
            ).run()
            report()
            return
        }
        if options.http {
            figures = try await HTTPBench(runs: options.runs, directory: options.directory).run()
            report()
            return
        }
        if options.ciKit {
            figures = try await CIKitBench(runs: options.runs, directory: options.directory, inboxRequests: options.inboxRequests, pagesOnly: options.pagesOnly).run()
            report()
            return
        }
        if options.decisionsOnly {
            figures = try await HTTPBench(runs: options.runs, directory: options.directory).decisions()
            report()
            return
        }
        _ = Self.payloads
        if options.appendsOnly {
            try await appends()
            report()
            return
        }
        if !options.skipLedger {
            try await appends()
            try await verificationAndProofs()
            if options.proofEntries > 0 { try await proofsAtScale(options.proofEntries) }
            figures += try await HTTPBench(runs: max(1, min(options.runs, 3)), directory: options.directory).decisions()
        }
        if options.largeEntries > 0 {
            let runs = options.largeRuns ?? max(1, min(options.runs, 3))
            let large = try await LargeLedgerBench(entries: options.largeEntries, runs: runs, directory: options.directory).run()
            figures += large.figures
            notes.merge(large.notes) { $1 }
        }
        report()
    }

    // MARK: Appends vs raw SQLite

    mutating func appends() async throws {
        var ledgerRates: [Double] = [], rawRates: [Double] = [], batches: [Double] = [], directRates: [Double] = []
        for run in 1...options.runs {
            Self.progress("appends run \(run)/\(options.runs): \(options.appendCount) appends from \(options.clients) concurrent clients")
            let (rate, batch) = try await ledgerAppendRate(run: run)
            ledgerRates.append(rate)
            batches.append(batch)
            rawRates.append(try rawInsertRate(run: run, batchSize: max(1, Int(batch.rounded()))))
            directRates.append(try await directAppendRate(run: run, batchSize: max(1, Int(batch.rounded()))))
        }
        notes["store_append_direct_rate_median"] = String(format: "%.0f", Self.median(directRates))
        let ratios = zip(ledgerRates, rawRates).map { $0 / $1 }
        figures.append(Figure(
            name: "durable ledger appends/s (group commit, \(options.clients) clients)", value: Self.median(ledgerRates), unit: "appends/s",
            limitName: "raw SQLite inserts/s, same rows, same batch, synchronous=FULL", limit: Self.median(rawRates), goal: "ratio ≥ 0.6"))
        notes["append_batch_median"] = String(format: "%.1f", Self.median(batches))
        notes["append_ratio_per_run"] = ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")
    }

    func ledgerAppendRate(run: Int) async throws -> (rate: Double, batch: Double) {
        let path = options.directory.appendingPathComponent("appends-\(run).sqlite").path
        let storage = try SQLiteStorage.create(path: path, origin: "bench/ledger", signingKey: Ed25519.SigningKey())
        let store = storage.ledger as! SQLiteLedgerStore
        let writer = LedgerWriter(store: store)
        let perClient = options.appendCount / options.clients
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<options.clients {
                group.addTask {
                    for i in 0..<perClient {
                        _ = try await writer.append(EntryDraft(kind: "decision.recorded", actor: "user\(client)", payload: Self.payload(i)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = Self.seconds(ContinuousClock.now - started)
        let total = perClient * options.clients
        let transactions = await writer.transactions
        return (Double(total) / elapsed, Double(total) / Double(transactions))
    }

    /// The store alone, called with ready-made batches of the same size: separates the cost of the ledger's
    /// transaction from the cost of gathering concurrent callers.
    func directAppendRate(run: Int, batchSize: Int) async throws -> Double {
        let path = options.directory.appendingPathComponent("direct-\(run).sqlite").path
        let storage = try SQLiteStorage.create(path: path, origin: "bench/ledger", signingKey: Ed25519.SigningKey())
        let store = storage.ledger as! SQLiteLedgerStore
        let total = (options.appendCount / options.clients) * options.clients
        let started = ContinuousClock.now
        var sequence = 0
        while sequence < total {
            let n = min(batchSize, total - sequence)
            _ = try await store.append((sequence..<sequence + n).map { EntryDraft(kind: "decision.recorded", actor: "user1", payload: Self.payload($0)) })
            sequence += n
        }
        return Double(total) / Self.seconds(ContinuousClock.now - started)
    }

    /// Raw SQLite: the same table shape and row sizes, inserted in transactions of the ledger's median batch size,
    /// WAL and synchronous=FULL — no hashing, no tree, no checkpoint.
    func rawInsertRate(run: Int, batchSize: Int) throws -> Double {
        let path = options.directory.appendingPathComponent("raw-\(run).sqlite").path
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: path, configuration: config)
        // Same durability as the ledger: GRDB's WAL set-up leaves the writer at NORMAL, so set FULL on it.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE raw (sequence INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
                entry BLOB NOT NULL, leaf_hash BLOB NOT NULL, chain_hash BLOB NOT NULL)
                """)
        }
        let total = (options.appendCount / options.clients) * options.clients
        let sample = try LedgerEntry(sequence: 0, timeMilliseconds: 0, kind: "decision.recorded", actor: "user1", payload: Self.payload(1))
        let started = ContinuousClock.now
        var sequence = 0
        while sequence < total {
            let n = min(batchSize, total - sequence)
            let first = sequence
            try pool.write { db in
                // The same multi-row INSERT statements (64 rows each) the ledger uses, with fresh bytes per row.
                var row = 0
                while row < n {
                    let k = min(64, n - row)
                    let statement = try db.cachedStatement(
                        sql: "INSERT INTO raw (sequence, time_ms, kind, actor, entry, leaf_hash, chain_hash) VALUES "
                            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?)", count: k).joined(separator: ", "))
                    var values: [(any DatabaseValueConvertible)?] = []
                    for i in first + row..<first + row + k {
                        values += [i, 1_790_000_000_000, "decision.recorded", "user1", Data(sample.encoded), Data(count: 32), Data(count: 32)]
                    }
                    try statement.execute(arguments: StatementArguments(values))
                    row += k
                }
            }
            sequence += n
        }
        return Double(total) / Self.seconds(ContinuousClock.now - started)
    }

    // MARK: Verification and proofs at scale

    mutating func verificationAndProofs() async throws {
        let path = options.directory.appendingPathComponent("large.sqlite").path
        var configuration = SQLiteLedgerStore.Configuration()
        configuration.checkpointPolicy = CheckpointPolicy(everyEntries: 10_000, everySeconds: 3600)
        let storage = try SQLiteStorage.create(path: path, origin: "bench/ledger", signingKey: Ed25519.SigningKey(), configuration: configuration)
        let store = storage.ledger as! SQLiteLedgerStore
        Self.progress("building a ledger of \(options.entries) entries")
        let buildStarted = ContinuousClock.now
        var appended = 0
        while appended < options.entries {
            let n = min(10_000, options.entries - appended)
            _ = try await store.append((appended..<appended + n).map {
                EntryDraft(kind: "decision.recorded", actor: "user\($0 % 100)", payload: Self.payload($0))
            })
            appended += n
            if appended % 200_000 == 0 { Self.progress("  \(appended) entries") }
        }
        try await SignoffService(storage: storage).signCheckpoint()
        notes["build_seconds"] = String(format: "%.1f", Self.seconds(ContinuousClock.now - buildStarted))
        notes["database_bytes"] = "\((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)"

        var verifyRates: [Double] = [], hashRates: [Double] = []
        let runs = max(1, min(options.runs, 3))
        for run in 1...runs {
            Self.progress("full verification run \(run)/\(runs)")
            let started = ContinuousClock.now
            let report = try await store.verifyAll(trustedKey: store.verifierKey, allowUncoveredTail: false, progress: nil)
            let elapsed = Self.seconds(ContinuousClock.now - started)
            guard report.isValid else { fatalError("benchmark ledger failed verification: \(report.failure!.message)") }
            verifyRates.append(Double(report.entries) / elapsed)
            hashRates.append(rawHashRate(entries: options.entries, nodesPerEntry: Double(report.storedNodes) / Double(report.entries)))
        }
        notes["peak_rss_mib_after_verify"] = String(format: "%.0f", Double(peakResidentBytes()) / 1_048_576)
        figures.append(Figure(
            name: "full verification of \(options.entries) entries", value: Self.median(verifyRates), unit: "entries/s",
            limitName: "raw SHA-256 of the same bytes (leaf + chain + subtree hashes)", limit: Self.median(hashRates), goal: "report"))

        try await proofFigures(store: store, size: UInt64(options.entries))
    }

    /// Proof latency on a ledger of `entries` entries, built here with batches of 10,000.
    mutating func proofsAtScale(_ entries: Int) async throws {
        let path = options.directory.appendingPathComponent("proofs.sqlite").path
        var configuration = SQLiteLedgerStore.Configuration()
        configuration.checkpointPolicy = CheckpointPolicy(everyEntries: 1_000_000, everySeconds: 3600)
        let storage = try SQLiteStorage.create(path: path, origin: "bench/ledger", signingKey: Ed25519.SigningKey(), configuration: configuration)
        let store = storage.ledger as! SQLiteLedgerStore
        Self.progress("building a ledger of \(entries) entries for proofs")
        var appended = 0
        while appended < entries {
            let n = min(10_000, entries - appended)
            _ = try await store.append((appended..<appended + n).map {
                EntryDraft(kind: "decision.recorded", actor: "user\($0 % 100)", payload: Self.payload($0))
            })
            appended += n
            if appended % 1_000_000 == 0 { Self.progress("  \(appended) entries") }
        }
        try await SignoffService(storage: storage).signCheckpoint()
        notes["proof_db_bytes"] = "\((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)"
        try await proofFigures(store: store, size: UInt64(entries))
        try? FileManager.default.removeItem(atPath: path)
    }

    mutating func proofFigures(store: SQLiteLedgerStore, size: UInt64) async throws {
        for (label, makeProof) in [
            ("inclusion proof", { (s: SQLiteLedgerStore, size: UInt64, r: inout SplitMix) async throws in
                _ = try await s.inclusionProof(index: UInt64.random(in: 0..<size, using: &r), size: size) }),
            ("consistency proof", { (s: SQLiteLedgerStore, size: UInt64, r: inout SplitMix) async throws in
                _ = try await s.consistencyProof(from: UInt64.random(in: 1..<size, using: &r), to: size) }),
        ] as [(String, (SQLiteLedgerStore, UInt64, inout SplitMix) async throws -> Void)] {
            var rng = SplitMix(state: 42)
            var latencies: [Double] = []
            for _ in 0..<100 { try await makeProof(store, size, &rng) }  // warm up
            for _ in 0..<2000 {
                let started = ContinuousClock.now
                try await makeProof(store, size, &rng)
                latencies.append(Self.seconds(ContinuousClock.now - started) * 1000)
            }
            figures.append(Figure(
                name: "\(label) at \(size) entries, median", value: Self.median(latencies), unit: "ms",
                limitName: "goal", limit: 1.0, goal: "< 1 ms"))
            figures.append(Figure(
                name: "\(label) at \(size) entries, p99", value: Self.percentile(latencies, 0.99), unit: "ms",
                limitName: "goal (median)", limit: 1.0, goal: "report"))
        }
    }

    /// SHA-256 of the same work verification does per entry: one leaf hash of the entry, one chain hash, and the
    /// stored-node hashes (about one per entry), on the same byte sizes.
    func rawHashRate(entries: Int, nodesPerEntry: Double) -> Double {
        let sample = try! LedgerEntry(sequence: 0, timeMilliseconds: 0, kind: "decision.recorded", actor: "user1", payload: Self.payload(1))
        let leafInput = [0x00] + sample.encoded
        let chainInput = [UInt8](repeating: 3, count: 64)
        let nodeInput = [UInt8](repeating: 1, count: 65)
        let nodes = Int((Double(entries) * nodesPerEntry).rounded())
        var sink: UInt8 = 0
        let started = ContinuousClock.now
        for _ in 0..<entries {
            sink ^= SHA256Digest.hash(leafInput).bytes[0]
            sink ^= SHA256Digest.hash(chainInput).bytes[0]
        }
        for _ in 0..<nodes { sink ^= SHA256Digest.hash(nodeInput).bytes[0] }
        let elapsed = Self.seconds(ContinuousClock.now - started)
        if sink == 0xFF { Self.progress("") }  // keep the work observable
        return Double(entries) / elapsed
    }

    func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    // MARK: Output

    func report() {
        if options.json {
            var rows: [[String: Any]] = []
            for f in figures {
                // JSON has no infinity: a ratio to a limit of 0 (no errors allowed, none seen) is left out, not a crash.
                var row: [String: Any] = ["name": f.name, "value": f.value.isFinite ? f.value : NSNull(), "unit": f.unit, "limit_name": f.limitName, "goal": f.goal]
                if let limit = f.limit, limit.isFinite { row["limit"] = limit }
                if let ratio = f.ratio, ratio.isFinite { row["ratio"] = ratio }
                rows.append(row)
            }
            let object: [String: Any] = ["figures": rows, "notes": notes, "runs": options.runs, "entries": options.entries]
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("Signoff ledger benchmark (medians of \(options.runs) runs; \(ProcessInfo.processInfo.activeProcessorCount) cores)")
        print(String(repeating: "-", count: 150))
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print(pad("figure", 58) + pad("value", 18) + pad("compared with", 64) + pad("limit", 14) + "ratio")
        for f in figures {
            let value = String(format: f.unit == "ms" ? "%.3f %@" : "%.0f %@", f.value, f.unit)
            let limit = f.limit.map { String(format: f.unit == "ms" ? "%.3f" : "%.0f", $0) } ?? "-"
            // A ratio over a limit of zero (p99 over 0 errors) has no meaning: none is shown, as in --json.
            let ratio = f.ratio.flatMap { $0.isFinite ? String(format: "%.2f", $0) : nil } ?? "-"
            print(pad(f.name, 58) + pad(value, 18) + pad(f.limitName, 64) + pad(limit, 14) + ratio + "  (\(f.goal))")
        }
        print(String(repeating: "-", count: 150))
        for (k, v) in notes.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A store clock a benchmark can hold still: events folded in memory at one time are appended at that same time
/// (`appendDecided`), since a unit of work takes its time from the store's clock. Unheld, it is the real time.
final class BenchClock: Sendable {
    private let held = Mutex<Int64?>(nil)

    static func realTime() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    var now: Int64 { held.withLock { $0 } ?? Self.realTime() }
    /// Holds the clock at the real time now (never earlier than where it was held before); returns that time.
    @discardableResult
    func hold() -> Int64 {
        held.withLock {
            let time = max($0 ?? 0, Self.realTime())
            $0 = time
            return time
        }
    }
    func release() { held.withLock { $0 = nil } }
}
