import ArgumentParser
import Foundation
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Export the trail for auditors, and verify exports and databases.",
        subcommands: [Export.self, Verify.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the ledger up to its newest checkpoint for auditors: what the filter selects and all administration in full, every other entry as a stub, under a manifest signed with the ledger key.",
            discussion: "The folder is specified in schema/audit-export.md; `signoff audit verify DIR --ledger-verifier-key LEDGER.pub` checks it offline.")

        @OptionGroup var target: ClientOptions
        @Option var project: String?
        @Option var env: String?
        @Option(help: "RFC 3339 time, inclusive.") var since: String?
        @Option(help: "RFC 3339 time, exclusive.") var until: String?
        @Option(help: "A new (or empty) folder.") var out: String
        @Flag(help: "Also export the stored evidence documents of the exported evidence (documents/<hex>, in the signed manifest).")
        var documents = false
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            try await reportingErrors {
                func time(_ text: String?, _ option: String) throws -> Int64? { try text.map { try milliseconds($0, option: option) } }
                let filter = AuditExportFilter(project: project, environment: env, since: try time(since, "since"), until: try time(until, "until"))
                if let problem = filter.problem() { throw CLIError.badInput(problem) }
                let directory = URL(fileURLWithPath: out)
                if FileManager.default.fileExists(atPath: out), !(try FileManager.default.contentsOfDirectory(atPath: out)).isEmpty {
                    throw CLIError.badInput("\(out) is not empty; export into a new folder (nothing was overwritten)")
                }
                let showProgress = !json && Terminal.standardErrorIsTerminal
                let report = try await target.client().exportAudit(filter, documents: documents, to: directory) { done, total in
                    if showProgress { FileHandleWriter.write(fd: 2, "\rexporting: \(done)/\(total) entries read") }
                }
                if showProgress { FileHandleWriter.write(fd: 2, "\n") }
                if json {
                    struct Exported: Encodable {
                        let out: String
                        let entries, stubs, decisions, files, documents: Int
                        let checkpoint_size: UInt64
                    }
                    printJSON(Exported(out: out, entries: report.entries, stubs: report.stubs, decisions: report.decisions, files: report.files, documents: report.documents, checkpoint_size: report.checkpointSize))
                } else {
                    print("Exported the checkpoint's \(report.checkpointSize) entries into \(out): \(report.entries) in full (\(report.decisions) decisions), \(report.stubs) outside the filter as stubs\(documents ? ", \(report.documents) evidence documents" : ""); verify with `signoff audit verify \(out) --ledger-verifier-key LEDGER.pub`")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify an export folder offline (DIR --ledger-verifier-key LEDGER.pub), or a whole database (--db): every entry, chain, subtree hash, checkpoint and the projection replay.",
            discussion: "Exit 0 when everything verifies, 3 when anything does not (the first failure is named)."
        )

        @Argument(help: "An export folder to verify offline (needs --ledger-verifier-key).") var directory: String?

        @OptionGroup var ledger: LedgerOptions

        @Option(
            name: [.customLong("ledger-verifier-key"), .customLong("log-key")],
            help: "The ledger's public (verifier) key file, from a source you trust (default with --db: DB.ledger-key.pub); never taken from what is verified. --log-key is its former name.")
        var logKey: String?

        @Option(help: "A witness policy (C2SP tlog-policy): the export's checkpoint must carry the cosignatures its quorum asks.")
        var policy: String?

        @Flag(help: "Accept entries after the newest checkpoint (a ledger that is still being written).")
        var allowUncoveredTail = false

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                if let directory { try verifyExport(directory) } else { try await verifyDatabase() }
            }
        }

        func verifyExport(_ directory: String) throws {
            guard let logKey else { throw CLIError.badInput("offline verification needs the ledger's public key: --ledger-verifier-key LEDGER.pub") }
            let trusted = try KeyFiles.readVerifierKey(path: logKey)
            let witnessPolicy = try policy.map(Self.readPolicy)
            let showProgress = !json && Terminal.standardErrorIsTerminal
            let report = AuditExportVerifier.verify(directory: URL(fileURLWithPath: directory), trustedKey: trusted, policy: witnessPolicy) { done in
                if showProgress { FileHandleWriter.write(fd: 2, "\rverifying: \(done) entries") }
            }
            if showProgress { FileHandleWriter.write(fd: 2, "\n") }
            if json {
                print(JSONOutput.object([
                    "valid": .bool(report.failure == nil), "entries": .int(report.entries), "stubs": .int(report.stubs), "decisions": .int(report.decisions),
                    "signed_decisions": .int(report.signedDecisions), "checkpoint_size": .int(Int(clamping: report.checkpointSize)), "files": .int(report.files),
                    "failure": report.failure.map { .string($0) } ?? .null, "warnings": .array(report.warnings.map { .string($0) }),
                    "witnesses": .array(report.witnesses.map { .string($0) }), "quorum": report.quorum.map { .string($0) } ?? .null,
                ]))
            } else if report.failure == nil {
                print("OK: all \(report.checkpointSize) entries of the checkpoint signed by \(trusted.name) (key ID \(trusted.keyIDHex)) accounted for, \(report.entries) in full and \(report.stubs) as stubs; \(report.signedDecisions) of \(report.decisions) decisions signed with keys enrolled at the time and bound to their entries; the manifest is signed by the ledger key and all \(report.files) files match")
                if let quorum = report.quorum {
                    print("witnesses: \(report.witnesses.isEmpty ? "none" : report.witnesses.joined(separator: "; ")); the policy's quorum (\(quorum)) is met")
                }
            }
            // Messages may quote text from the folder: one printable line each, never a terminal's control sequence.
            if !json { for warning in report.warnings { FileHandleWriter.write(fd: 2, "signoff: warning: \(oneLine(warning))\n") } }
            if let failure = report.failure {
                if !json { printError("verification FAILED: \(oneLine(failure))") }
                throw ExitCode(ExitStatus.verificationFailed)
            }
        }

        /// A witness policy file (C2SP tlog-policy), read; a bad one is bad input, said with its line.
        static func readPolicy(_ path: String) throws -> WitnessPolicy {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError.badInput("--policy \(path) cannot be read as UTF-8 text") }
            do { return try WitnessPolicy(parsing: text) } catch { throw CLIError.badInput("--policy \(path): \(error.message)") }
        }

        func verifyDatabase() async throws {
            let keyPath = try logKey ?? (ledger.ledgerKeyPath + ".pub")
            let trusted = try KeyFiles.readVerifierKey(path: keyPath)
            let storage = try await ledger.openForReading()
            let showProgress = !json && Terminal.standardErrorIsTerminal
            let started = ContinuousClock.now
            let report = try await storage.ledger.verifyAll(trustedKey: trusted, allowUncoveredTail: allowUncoveredTail) { done, total in
                if showProgress { FileHandleWriter.write(fd: 2, "\rverifying: \(done)/\(total) entries") }
            }
            if showProgress { FileHandleWriter.write(fd: 2, "\n") }
            // The projection must be exactly what replaying the ledger gives.
            var failure = report.failure
            if failure == nil { failure = try await storage.projection.verifyProjection() }
            // Every entry's content, as an export's step 4 reads it, on the whole log (headers, signatures, authority).
            if failure == nil {
                let problem = try await SignoffService.checkEntries(of: storage.ledger, trustedKey: trusted) { done, total in
                    if showProgress { FileHandleWriter.write(fd: 2, "\rchecking entries: \(done)/\(total)") }
                }
                if showProgress { FileHandleWriter.write(fd: 2, "\n") }
                if let problem { failure = LedgerVerificationFailure(.entryContent, sequence: problem.sequence, problem.message) }
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            if json {
                var object: [String: JSONOutput] = [
                    "valid": .bool(failure == nil), "entries": .int(Int(clamping: report.entries)), "checkpoints": .int(report.checkpoints),
                    "subtree_hashes": .int(Int(clamping: report.storedNodes)), "root_hash": .string(report.rootHash.description),
                ]
                if let failure {
                    object["failure"] = .object([
                        "kind": .string(failure.kind.rawValue), "message": .string(failure.message),
                        "sequence": failure.sequence.map { .int(Int(clamping: $0)) } ?? .null,
                        "checkpoint_size": failure.checkpointSize.map { .int(Int(clamping: $0)) } ?? .null,
                    ])
                }
                print(JSONOutput.object(object))
            } else if failure == nil {
                print("OK: \(report.entries) \(report.entries == 1 ? "entry" : "entries"), \(report.storedNodes) subtree \(report.storedNodes == 1 ? "hash" : "hashes") and \(report.checkpoints) signed \(report.checkpoints == 1 ? "checkpoint" : "checkpoints") verified, projection replayed, every entry's header, signatures and authority checked, in \(String(format: "%.2f", seconds)) s")
                print("root \(report.rootHash) signed by \(trusted.name) (key ID \(trusted.keyIDHex))")
            }
            if let failure {
                if !json {
                    printError("verification FAILED: \(failure.message)")
                    if failure.kind == .uncoveredEntries {
                        // On a ledger in use this is the newest entries waiting for the next checkpoint, not tampering.
                        FileHandleWriter.write(
                            fd: 2,
                            "signoff: hint: if servers are writing to this ledger, its newest entries may not be checkpointed yet: a server signs a checkpoint within a minute of a write (and on shutdown), `signoff checkpoint --sign` signs one now, and --allow-uncovered-tail verifies the newest entries by their chain alone\n")
                    }
                }
                throw ExitCode(ExitStatus.verificationFailed)
            }
        }
    }
}
