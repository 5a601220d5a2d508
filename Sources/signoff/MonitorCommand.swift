import ArgumentParser
import Foundation
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

/// `signoff monitor`: follows a Signoff server's ledger as a C2SP tlog-tiles log from the last checkpoint it verified.
struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Follow a server's ledger from the last checkpoint this monitor verified: consistency, every entry, signatures.",
        discussion: """
            Each run: (1) takes an audit export (of the whole log, or --project's) and verifies it as `audit verify` \
            does — every entry it may read in full, its header against its payload, signatures, administrative \
            authority — and, for the whole log, every entry's content as `audit verify --db` does; (2) reads the newest \
            checkpoint (/tlog/checkpoint), verified with --ledger-verifier-key (and --policy's quorum of witnesses); \
            (3) reads the entry bundles (/tlog/tile/entries/…) from the size it verified last, each entry the next \
            sequence and never dated before the one before it, and checks that they lead to the newest checkpoint's \
            root and to the export's — so the newest checkpoint extends every one this monitor verified before. The \
            state (--state, JSON: the size, root and frontier it reached) is written only when everything held.

            Exit codes: 0 everything held; 3 something did not (said on standard error: a log that shrank, a split \
            view, a tree that does not extend the last one, an entry out of order, a bad signature, a quorum not met); \
            64 bad input; 1 the server cannot be reached or answers an error.
            """)

    @OptionGroup var remote: RemoteOptions
    @OptionGroup var actor: ActorOptions
    @Option(name: .customLong("ledger-verifier-key"), help: "The ledger's public key file, from a source you trust.") var ledgerVerifierKey: String
    @Option(help: "The monitor's state file (JSON), created on the first run and updated when everything held.") var state: String
    @Option(help: "A witness policy (C2SP tlog-policy): the newest checkpoint must carry its quorum of cosignatures.") var policy: String?
    @Option(help: "Check this project's export for content (default: the whole log, which needs an administrator or auditor).") var project: String?
    @Flag(help: "Print JSON instead of text.") var json = false

    /// What the monitor keeps between runs.
    struct State: Codable {
        var format = "signoff-monitor/1"
        let origin: String
        let size: UInt64
        let root: String
        /// The frontier's hashes (hex), largest subtree first.
        let frontier: [String]
        let last_time_ms: Int64?
        let checked_at: String
    }

    struct Found: Error { let message: String }

    func run() async throws {
        try await reportingErrors {
            guard let client = try await remote.client(actor: actor) else {
                throw CLIError.badInput("signoff monitor reads a server: give --server URL (after `signoff login`, or with SIGNOFF_TOKEN)")
            }
            let trusted: NoteVerifierKey
            do { trusted = try KeyFiles.readVerifierKey(path: ledgerVerifierKey) } catch let error as CryptoError { throw error.cliError }
            let witnessPolicy = try policy.map(AuditCommand.Verify.readPolicy)
            let saved = try loadState(trusted: trusted)
            do {
                let summary = try await monitor(client, trusted: trusted, policy: witnessPolicy, saved: saved)
                if json { print(summary.json) } else { print(summary.text) }
            } catch let found as Found {
                printError("monitor FOUND: \(oneLine(found.message))")
                throw ExitCode(ExitStatus.verificationFailed)
            }
        }
    }

    func loadState(trusted: NoteVerifierKey) throws -> (state: State, follower: LogFollower)? {
        guard FileManager.default.fileExists(atPath: state) else { return nil }
        guard let data = FileManager.default.contents(atPath: state), let saved = try? JSONDecoder().decode(State.self, from: data),
            saved.format == "signoff-monitor/1"
        else { throw CLIError.badInput("--state \(state) is not a monitor state file (signoff-monitor/1); give a new path to start over") }
        guard saved.origin == trusted.name else {
            throw CLIError.badInput("--state \(state) follows \(saved.origin), not \(trusted.name)")
        }
        let hashes = saved.frontier.compactMap { Hex.decode($0).flatMap { try? SHA256Digest(bytes: $0) } }
        guard hashes.count == saved.frontier.count, let frontier = try? MerkleFrontier(size: saved.size, hashes: hashes),
            frontier.rootHash.description == saved.root
        else { throw CLIError.badInput("--state \(state) is damaged: its frontier does not give its root") }
        return (saved, LogFollower(frontier: frontier, lastTime: saved.last_time_ms))
    }

    struct Summary {
        let text: String
        let json: String
    }

    func monitor(_ client: RemoteClient, trusted: NoteVerifierKey, policy: WitnessPolicy?, saved: (state: State, follower: LogFollower)?) async throws -> Summary {
        // 1. The content: an export, verified; for the whole log, every entry's content as `audit verify --db` checks it.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("signoff-monitor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try await client.exportAudit(AuditExportFilter(project: project), documents: false, to: folder, progress: nil)
        let report = AuditExportVerifier.verify(directory: folder, trustedKey: trusted)
        if let failure = report.failure { throw Found(message: "the export does not verify: \(failure)") }
        if project == nil, let problem = try SignoffService.checkEntries(inExport: folder, trustedKey: trusted) { throw Found(message: problem.message) }
        let exported: SignedCheckpoint
        do { exported = try SignedCheckpoint(verifying: String(decoding: try Data(contentsOf: folder.appendingPathComponent("checkpoint.txt")), as: UTF8.self), with: trusted) } catch {
            throw Found(message: "the export's checkpoint is not signed by the ledger key: \(error)")
        }

        // 2. The newest checkpoint, and the witnesses' quorum.
        let (status, data) = try await client.transport.send("GET", "/tlog/checkpoint", token: client.token)
        guard status == 200 else { throw HTTPTransport.failure(status: status, data: data) }
        let newest: SignedCheckpoint
        do { newest = try SignedCheckpoint(verifying: String(decoding: data, as: UTF8.self), with: trusted) } catch {
            throw Found(message: "the newest checkpoint is not signed by the ledger key \(trusted.name) (key ID \(trusted.keyIDHex)): \(error)")
        }
        var witnessed = ""
        if let policy {
            let verdict = policy.evaluate(newest.note)
            guard verdict.badCosignatures.isEmpty, verdict.quorumMet, policy.logs.isEmpty || policy.logs.contains(trusted) else {
                throw Found(message: "the newest checkpoint (size \(newest.checkpoint.size)) is not cosigned as the policy asks (\(policy.quorumDescription)): cosigned by \(verdict.cosigned.map(\.witness).joined(separator: ", ")), refused lines by \(verdict.badCosignatures.joined(separator: ", "))")
            }
            witnessed = verdict.cosigned.map(\.witness).joined(separator: ", ")
        }

        // 3. From what was verified before to the newest, through the entry bundles.
        var follower = saved?.follower ?? LogFollower()
        let size = newest.checkpoint.size
        let before = follower.size
        if size < before {
            throw Found(message: "the log shrank: the newest checkpoint has \(size) entries, this monitor verified \(before) (a restore from an old backup, or a fork)")
        }
        if size == before, newest.checkpoint.rootHash != follower.rootHash {
            throw Found(message: "a split view: a checkpoint of size \(size) with another root than the one this monitor verified")
        }
        if exported.checkpoint.size < before || exported.checkpoint.size > size {
            throw Found(message: "the export's checkpoint (size \(exported.checkpoint.size)) is not between the verified size \(before) and the newest \(size)")
        }
        var exportRoot: SHA256Digest? = exported.checkpoint.size == before ? follower.rootHash : nil
        while follower.size < size {
            let tileIndex = follower.size / UInt64(TlogTiles.width)
            let end = min((tileIndex + 1) * UInt64(TlogTiles.width), size)
            let tile = TlogTiles.Tile(level: nil, index: tileIndex, width: Int(end - tileIndex * UInt64(TlogTiles.width)))
            let (status, data) = try await client.transport.send("GET", "/tlog/" + tile.path, token: client.token)
            guard status == 200 else { throw HTTPTransport.failure(status: status, data: data) }
            let records: [[UInt8]]
            do { records = try TlogTiles.entries(inBundle: [UInt8](data), expected: tile.width) } catch { throw Found(message: "\(tile.path): \(error.message)") }
            for (offset, record) in records.enumerated() where tileIndex * UInt64(TlogTiles.width) + UInt64(offset) >= follower.size {
                do { try follower.append(record: record) } catch { throw Found(message: "\(tile.path): \(error.message)") }
                if follower.size == exported.checkpoint.size { exportRoot = follower.rootHash }
            }
        }
        guard follower.rootHash == newest.checkpoint.rootHash else {
            throw Found(message: "the entries do not lead to the newest checkpoint's root (size \(size)): it does not extend the checkpoint of size \(before) this monitor verified")
        }
        guard exportRoot == exported.checkpoint.rootHash else {
            throw Found(message: "the export's checkpoint (size \(exported.checkpoint.size)) is not in the history the log's entries show")
        }

        // 4. Everything held: the new state.
        let now = Timestamps.rfc3339(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
        let newState = State(
            origin: trusted.name, size: size, root: follower.rootHash.description, frontier: follower.frontier.hashes.map(\.hex),
            last_time_ms: follower.lastTime, checked_at: now)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let temporary = state + ".tmp"
        try encoder.encode(newState).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, state) == 0 else { throw CLIError.failure("--state \(state) cannot be written") }
        let scope = project.map { "project \($0)" } ?? "the whole log"
        let text =
            "OK: checkpoint \(size) (root \(newest.checkpoint.rootHash)) extends the one this monitor verified (size \(before)); \(size - before) new entries in sequence and time order; the export of \(scope) (checkpoint \(exported.checkpoint.size)) verified: \(report.entries) entries in full, \(report.stubs) stubs, \(report.signedDecisions) of \(report.decisions) decisions signed"
            + (policy == nil ? "" : "; cosigned by \(witnessed.isEmpty ? "no witness" : witnessed) as the policy asks")
        let json = JSONOutput.object([
            "ok": .bool(true), "size": .int(Int(clamping: size)), "root": .string(newest.checkpoint.rootHash.description), "previous_size": .int(Int(clamping: before)),
            "new_entries": .int(Int(clamping: size - before)), "export_size": .int(Int(clamping: exported.checkpoint.size)), "entries_in_full": .int(report.entries),
            "stubs": .int(report.stubs), "witnesses": .string(witnessed),
        ])
        return Summary(text: text, json: json.description)
    }


}
