import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffStore
@_spi(Bench) import SignoffService

/// A real Signoff database of about `entries` entries — requests filed, approved by two signed decisions each and
/// deployed, every command decided by the engine — then the release `signoff` binary run on it as a user would,
/// each in a fresh process: audit export (entries/s, peak resident memory), offline verification of the export
/// (which re-verifies every decision's signature), `audit verify --db`, and `gate` and `--version` wall time.
struct LargeLedgerBench {
    let entries: Int
    let runs: Int
    let directory: URL
    /// The release `signoff` beside this benchmark.
    let signoff = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("signoff").path

    struct Built {
        let path: String
        let entries: Int
        let decisions: Int
        let requests: Int
    }

    /// Builds the database: the world through `SignoffService.execute`, then requests through the engine on an
    /// in-memory state, appended in chunks with the projection (`appendDecided`).
    func build(at path: String? = nil) async throws -> Built {
        let path = path ?? directory.appendingPathComponent("signoff-large.sqlite").path
        let ledgerKey = Ed25519.SigningKey()
        var configuration = SQLiteLedgerStore.Configuration()
        configuration.checkpointPolicy = CheckpointPolicy(everyEntries: 100_000, everySeconds: 3600)
        let clock = BenchClock()
        configuration.clock = { clock.now }
        let storage = try SQLiteStorage.create(path: path, origin: "bench/ledger", signingKey: ledgerKey, configuration: configuration)
        let store = storage.ledger as! SQLiteLedgerStore
        try KeyFiles.writeVerifierKey(store.verifierKey, path: path + ".ledger-key.pub")
        // The sealed ledger key beside the database, as `signoff init` leaves it: an export signs its manifest with it
        // (the `signoff` processes below get its passphrase in SIGNOFF_LEDGER_PASSPHRASE, which unseals it: Argon2id,
        // libsodium's interactive limits, 64 MiB, counted in the export's peak memory).
        var passphrase = Array(Self.ledgerPassphrase.utf8)
        try KeyFiles.createExclusive(
            path: path + ".ledger-key", bytes: try SealedKeyFile.seal(ledgerKey, name: "bench/ledger", passphrase: SecureBytes(consuming: &passphrase)), mode: 0o600)
        let database = SignoffService(storage: storage)
        func must(_ command: Command, _ actor: String) async throws {
            if case .failure(let refusal) = try await database.execute(command, as: actor) { fatalError("bench setup refused: \(refusal)") }
        }
        let admin = Ed25519.SigningKey()
        // As `signoff init` begins every ledger: its first entry names the ledger's key.
        try await must(.initializeLedger(origin: storage.ledger.verifierKey.name, ledgerKey: storage.ledger.verifierKey), "system")
        try await must(.bootstrapAdministrator(name: "admin", key: NoteVerifierKey(name: "admin", publicKey: admin.publicKey)), "system")
        for group in ["approvers", "requesters", "deployers"] { try await must(.createGroup(name: group), "admin") }
        for (user, group) in [("requester", "requesters"), ("deployer", "deployers")] {
            try await must(.addUser(name: user, administrator: false, key: nil), "admin")
            try await must(.addMember(group: group, member: user), "admin")
        }
        var approvers: [(String, Ed25519.SigningKey)] = []
        for i in 0..<8 {
            let key = Ed25519.SigningKey()
            approvers.append(("approver\(i)", key))
            try await must(.addUser(name: "approver\(i)", administrator: false, key: NoteVerifierKey(name: "approver\(i)", publicKey: key.publicKey)), "admin")
            try await must(.addMember(group: "approvers", member: "approver\(i)"), "admin")
        }
        try await must(.applyWorkflow(source: HTTPBench.bench, file: "bench.yaml"), "admin")  // requested → approved (2 signed) → deployed
        let spec = ProjectSpec(key: "fraud-model", regulated: true, environments: ["prod": "bench"], roles: ["requesters": ["requesters"], "approvers": ["approvers"], "deployers": ["deployers"]])
        try await must(.createProject(spec, approval: AdminApproval(change: AdminChange(.projectCreate, project: spec), time: database.now).signed(with: admin)), "admin")
        // A second team's project with no requests of its own: its export holds every request entry as a stub, the
        // most an export can add to account for entries outside its filter.
        let other = ProjectSpec(key: "churn-model", regulated: false, environments: ["prod": "bench"], roles: ["requesters": ["requesters"], "approvers": ["approvers"], "deployers": ["deployers"]])
        try await must(.createProject(other, approval: AdminApproval(change: AdminChange(.projectCreate, project: other), time: database.now - 1).signed(with: admin)), "admin")

        var state = try await database.state()
        var chunk: [(event: Event, actor: String)] = []
        var decisions = 0, requests = 0
        var now = clock.hold()
        let started = ContinuousClock.now
        func run(_ command: Command, _ actor: String) {
            switch Engine.execute(command, on: state, actor: actor, now: now) {
            case .success(let events):
                for event in events {
                    state.apply(event, actor: actor, at: now)
                    chunk.append((event, actor))
                }
            case .failure(let refusal):
                fatalError("the engine refused a bench command: \(refusal)")
            }
        }
        var total = try await store.size()
        while Int(total) + chunk.count < entries {
            requests += 1
            let id = "REQ-\(state.requestCounter + 1)"
            run(.fileRequest(project: "fraud-model", environment: "prod", bundle: "fraud-model-\(requests).tar", digest: SHA256Digest.hash("bundle \(requests)"), description: "nightly retrain"), "requester")
            for k in 0..<2 {
                let (name, key) = approvers[(2 * requests + k) % approvers.count]
                let envelope = DecisionStatement(request: state.requests[id]!, stage: "approved", decision: .approve, actor: name, comment: "", time: now).signed(with: key)
                run(.decide(request: id, stage: "approved", decision: .approve, comment: "", envelope: envelope), name)
                decisions += 1
            }
            run(.recordDeployment(request: id, outcome: .succeeded, note: ""), "deployer")
            if chunk.count >= 20_000 {
                try await database.appendDecided(chunk, state: state, at: now)
                total += UInt64(chunk.count)
                chunk.removeAll(keepingCapacity: true)
                now = clock.hold()
                if total % 200_000 < 20_000 {
                    Bench.progress("  \(total) entries (\(String(format: "%.0f", Double(total) / Bench.seconds(ContinuousClock.now - started))) entries/s)")
                }
            }
        }
        if !chunk.isEmpty { try await database.appendDecided(chunk, state: state, at: now) }
        clock.release()
        try await database.signCheckpoint()
        return Built(path: path, entries: Int(try await store.size()), decisions: decisions, requests: requests)
    }

    struct Measured {
        let status: Int32
        let seconds: Double
        let peakResidentBytes: Int
    }

    /// Runs `executable` through a small Python parent that forks and execs it, to read the child's own peak resident
    /// memory: a child spawned straight from this process (vfork) would report this process's memory as its peak.
    /// The Python parent's ~10 MB is the floor of the figure.
    static let ledgerPassphrase = "signoff-bench ledger passphrase"

    static func measuredMemory(_ executable: String, _ arguments: [String]) -> Measured {
        let script = """
            import os, sys, time
            started = time.monotonic()
            pid = os.fork()
            if pid == 0:
                devnull = os.open("/dev/null", os.O_WRONLY)
                os.dup2(devnull, 1); os.dup2(devnull, 2)
                os.execv(sys.argv[1], sys.argv[1:])
            _, status, usage = os.wait4(pid, 0)
            print(os.waitstatus_to_exitcode(status), time.monotonic() - started, usage.ru_maxrss)
            """
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, executable] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["SIGNOFF_LEDGER_PASSPHRASE": ledgerPassphrase]) { $1 }
        process.standardOutput = pipe
        do { try process.run() } catch { fatalError("cannot run python3: \(error)") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")
        process.waitUntilExit()
        guard output.count == 3, let status = Int32(output[0]), let seconds = Double(output[1]),
            let kilobytes = Int(output[2].trimmingCharacters(in: .whitespacesAndNewlines))
        else { fatalError("the memory-measuring parent failed: \(output)") }
        return Measured(status: status, seconds: seconds, peakResidentBytes: kilobytes * 1024)
    }

    /// Runs `executable` in a new process, output discarded: wall time (the memory figure it reports includes this
    /// process's, see ``measuredMemory(_:_:)``).
    static func spawn(_ executable: String, _ arguments: [String]) -> Measured {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = ProcessInfo.processInfo.environment
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let started = ContinuousClock.now
        guard posix_spawn(&pid, executable, &actions, nil, argv, envp) == 0 else { fatalError("cannot run \(executable)") }
        var status: Int32 = 0
        var usage = rusage()
        _ = wait4(pid, &status, 0, &usage)
        let seconds = Bench.seconds(ContinuousClock.now - started)
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Measured(status: exit, seconds: seconds, peakResidentBytes: usage.ru_maxrss * 1024)
    }

    func run() async throws -> (figures: [Figure], notes: [String: String]) {
        guard FileManager.default.isExecutableFile(atPath: signoff) else {
            fatalError("\(signoff) is missing: build it with `swift build -c release --product signoff --scratch-path .build-release`")
        }
        Bench.progress("building a Signoff database of \(entries) entries through the engine")
        let buildStarted = ContinuousClock.now
        let built = try await build()
        var notes: [String: String] = [
            "large_db_entries": "\(built.entries)", "large_db_requests": "\(built.requests)", "large_db_signed_decisions": "\(built.decisions)",
            "large_db_build_seconds": String(format: "%.0f", Bench.seconds(ContinuousClock.now - buildStarted)),
            "large_db_bytes": "\((try? FileManager.default.attributesOfItem(atPath: built.path)[.size] as? Int) ?? 0)",
        ]
        let key = built.path + ".ledger-key.pub"
        var exportRates: [Double] = [], exportRSS: [Double] = [], offlineRates: [Double] = [], offlineRSS: [Double] = [], dbRates: [Double] = []
        var projectExportRates: [Double] = [], stubExportRates: [Double] = [], stubOfflineRates: [Double] = []
        var wholeBytes = 0, projectBytes = 0, stubBytes = 0
        func folderBytes(_ path: String) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).reduce(0) {
                $0 + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int) ?? 0)
            }
        }
        for run in 1...runs {
            let out = directory.appendingPathComponent("export-\(run)").path
            Bench.progress("audit export of \(built.entries) entries, run \(run)/\(runs)")
            let export = Self.measuredMemory(signoff, ["audit", "export", "--db", built.path, "--out", out, "--as", "admin"])
            guard export.status == 0 else { fatalError("signoff audit export exited \(export.status)") }
            exportRates.append(Double(built.entries) / export.seconds)
            exportRSS.append(Double(export.peakResidentBytes) / 1_048_576)
            wholeBytes = folderBytes(out)
            Bench.progress("offline verification of the export, run \(run)/\(runs)")
            let offline = Self.measuredMemory(signoff, ["audit", "verify", out, "--log-key", key])
            guard offline.status == 0 else { fatalError("signoff audit verify DIR exited \(offline.status)") }
            offlineRates.append(Double(built.entries) / offline.seconds)
            offlineRSS.append(Double(offline.peakResidentBytes) / 1_048_576)
            try? FileManager.default.removeItem(atPath: out)
            // The project with every request: the same entries in full as the whole export.
            Bench.progress("audit export --project fraud-model of \(built.entries) entries, run \(run)/\(runs)")
            let projectExport = Self.measuredMemory(signoff, ["audit", "export", "--db", built.path, "--project", "fraud-model", "--out", out, "--as", "admin"])
            guard projectExport.status == 0 else { fatalError("signoff audit export --project exited \(projectExport.status)") }
            projectExportRates.append(Double(built.entries) / projectExport.seconds)
            projectBytes = folderBytes(out)
            try? FileManager.default.removeItem(atPath: out)
            // The project with none: every request entry a stub.
            Bench.progress("audit export --project churn-model (all stubs), run \(run)/\(runs)")
            let stubExport = Self.measuredMemory(signoff, ["audit", "export", "--db", built.path, "--project", "churn-model", "--out", out, "--as", "admin"])
            guard stubExport.status == 0 else { fatalError("signoff audit export --project churn-model exited \(stubExport.status)") }
            stubExportRates.append(Double(built.entries) / stubExport.seconds)
            stubBytes = folderBytes(out)
            let stubOffline = Self.measuredMemory(signoff, ["audit", "verify", out, "--log-key", key])
            guard stubOffline.status == 0 else { fatalError("signoff audit verify of the stub export exited \(stubOffline.status)") }
            stubOfflineRates.append(Double(built.entries) / stubOffline.seconds)
            try? FileManager.default.removeItem(atPath: out)
            Bench.progress("audit verify --db, run \(run)/\(runs)")
            let db = Self.measuredMemory(signoff, ["audit", "verify", "--db", built.path])
            guard db.status == 0 else { fatalError("signoff audit verify --db exited \(db.status)") }
            dbRates.append(Double(built.entries) / db.seconds)
        }
        let limit = rawVerificationRate(entries: built.entries, signed: built.decisions)
        notes["raw_sha256_plus_verify_per_entry_rate"] = String(format: "%.0f", limit)
        let mib = 1_048_576.0
        var figures = [
            Figure(name: "audit export of \(built.entries) entries (new process)", value: Bench.median(exportRates), unit: "entries/s",
                limitName: "report", limit: nil, goal: "report"),
            Figure(name: "audit export --project fraud-model (all requests in full)", value: Bench.median(projectExportRates), unit: "entries/s",
                limitName: "the whole-ledger export, same run", limit: Bench.median(exportRates), goal: "report"),
            Figure(name: "audit export --project churn-model (every request entry a stub)", value: Bench.median(stubExportRates), unit: "entries/s",
                limitName: "the whole-ledger export, same run", limit: Bench.median(exportRates), goal: "report"),
            Figure(name: "export size, whole ledger", value: Double(wholeBytes) / mib, unit: "MiB", limitName: "report", limit: nil, goal: "report"),
            Figure(name: "export size, --project fraud-model", value: Double(projectBytes) / mib, unit: "MiB", limitName: "report", limit: nil, goal: "report"),
            Figure(name: "export size, --project churn-model (stubs)", value: Double(stubBytes) / mib, unit: "MiB",
                limitName: "the whole-ledger export", limit: Double(wholeBytes) / mib, goal: "report"),
            Figure(name: "audit export: peak resident memory", value: Bench.median(exportRSS), unit: "MiB",
                limitName: "goal", limit: 100, goal: "< 100 MB, flat"),
            Figure(name: "offline verification of that export (signatures too)", value: Bench.median(offlineRates), unit: "entries/s",
                limitName: "raw SHA-256 + Ed25519 verify of the same work, 1 core", limit: limit, goal: "ratio ≥ 0.8"),
            Figure(name: "offline verification of the stub export", value: Bench.median(stubOfflineRates), unit: "entries/s",
                limitName: "raw SHA-256 + Ed25519 verify of the same work, 1 core", limit: limit, goal: "report"),
            Figure(name: "offline verification: peak resident memory", value: Bench.median(offlineRSS), unit: "MiB",
                limitName: "goal", limit: 100, goal: "report"),
            Figure(name: "audit verify --db (ledger + projection replay)", value: Bench.median(dbRates), unit: "entries/s",
                limitName: "raw SHA-256 + Ed25519 verify of the same work, 1 core", limit: limit, goal: "report"),
        ]

        // Cold processes: a new `signoff` each time, as CI calls it.
        var version: [Double] = [], gateLarge: [Double] = [], floor: [Double] = []
        let digest = SHA256Digest.hash("bundle \(built.requests)").description
        for _ in 0..<max(5, runs * 3) {
            floor.append(Self.spawn("/bin/true", []).seconds * 1000)
            version.append(Self.spawn(signoff, ["--version"]).seconds * 1000)
            let gate = Self.spawn(signoff, ["gate", "REQ-\(built.requests)", "--env", "prod", "--digest", digest, "--db", built.path, "--as", "deployer"])
            // The newest request is deployed, so the gate says no (exit 2) — the work is the same as a yes.
            guard gate.status == 2 || gate.status == 0 else { fatalError("signoff gate exited \(gate.status)") }
            gateLarge.append(gate.seconds * 1000)
        }
        figures.append(Figure(name: "signoff --version, cold process", value: Bench.median(version), unit: "ms",
            limitName: "/bin/true, cold process", limit: Bench.median(floor), goal: "report"))
        figures.append(Figure(name: "signoff gate on the \(built.entries)-entry database, cold process", value: Bench.median(gateLarge), unit: "ms",
            limitName: "/bin/true, cold process", limit: Bench.median(floor), goal: "report"))
        return (figures, notes)
    }

    /// Entries per second doing only the cryptography offline verification needs per entry, on one core: SHA-256
    /// of the entry (leaf), the chain step, about one proof node, and one Ed25519 verification per signed decision.
    func rawVerificationRate(entries: Int, signed: Int) -> Double {
        let sample = try! LedgerEntry(sequence: 0, timeMilliseconds: 0, kind: "decision.recorded", actor: "approver1", payload: Bench.payload(1))
        let leaf = [0x00] + sample.encoded, node = [UInt8](repeating: 1, count: 65)
        let key = Ed25519.SigningKey()
        let message = DSSE.pae(payloadType: DSSE.inTotoPayloadType, payload: [UInt8](repeating: 0x61, count: 700))
        let signature = key.signature(for: message)
        let n = 100_000
        let verifications = Int((Double(n) * Double(signed) / Double(entries)).rounded())
        var sink: UInt8 = 0
        let started = ContinuousClock.now
        for _ in 0..<n {
            sink ^= SHA256Digest.hash(leaf).bytes[0]
            sink ^= SHA256Digest.hash(node).bytes[0]
            sink ^= SHA256Digest.hash(node).bytes[0]
        }
        for _ in 0..<verifications { precondition(key.publicKey.isValidSignature(signature, for: message)) }
        if sink == 0xFF { Bench.progress("") }
        return Double(n) / Bench.seconds(ContinuousClock.now - started)
    }
}
