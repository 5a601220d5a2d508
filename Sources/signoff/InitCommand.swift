import ArgumentParser
import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffStore

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new ledger database and its ledger key (sealed under a passphrase).",
        discussion: """
            Writes DB, DB.ledger-key (the sealed private key that signs checkpoints, mode 0600) and \
            DB.ledger-key.pub (the verifier key auditors use). The first entry records the ledger's origin and key, \
            the second the first administrator, and a first checkpoint is signed.
            """
    )

    @OptionGroup var ledger: LedgerOptions

    @Option(help: "The ledger's origin: the first line of every checkpoint and the ledger key's name, e.g. signoff.example.com/prod.")
    var origin: String

    @Option(help: "The first administrator's user name.")
    var admin: String

    @Option(name: .customLong("admin-key"), help: "The first administrator's public key file (USER.key.pub).")
    var adminKey: String

    @Flag(help: "Allow an empty ledger key passphrase.")
    var insecureNoPassphrase = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let path = try ledger.databasePath
            let keyPath = try ledger.ledgerKeyPath
            try NoteVerifierKey.validate(name: origin)
            let adminVerifierKey = try KeyFiles.readVerifierKey(path: adminKey)
            for existing in [path, keyPath, keyPath + ".pub"] where FileManager.default.fileExists(atPath: existing) {
                throw CLIError.badInput("\(existing) already exists; choose another --db (nothing was changed)")
            }
            let secret = try ledger.passphrase.read(purpose: "new ledger key", confirm: true)
            let key = Ed25519.SigningKey()
            let sealed = try SealedKeyFile.seal(key, name: origin, passphrase: secret, allowEmptyPassphrase: insecureNoPassphrase)
            let verifierKey = try NoteVerifierKey(name: origin, publicKey: key.publicKey)
            try KeyFiles.writeVerifierKey(verifierKey, path: keyPath + ".pub")
            try KeyFiles.createExclusive(path: keyPath, bytes: sealed, mode: 0o600)
            let store = try SQLiteLedgerStore.create(path: path, origin: origin, signingKey: key)
            let payload = try JSONSerialization.data(
                withJSONObject: ["origin": origin, "ledger_key": verifierKey.description, "format": "signoff-ledger/1"],
                options: [.sortedKeys, .withoutEscapingSlashes])
            _ = try await store.append([EntryDraft(kind: "ledger.initialized", actor: "system", payload: [UInt8](payload))])
            if case .failure(let refusal) = try await SignoffDatabase(ledger: store).execute(
                .bootstrapAdministrator(name: admin, key: adminVerifierKey), as: "system")
            {
                throw CLIError.badInput("--admin: \(refusal.message)")
            }
            let checkpoint = try await store.signCheckpoint()
            if json {
                print(JSONOutput.object([
                    "db": .string(path), "origin": .string(origin), "ledger_key_file": .string(keyPath),
                    "verifier_key": .string(verifierKey.description), "checkpoint": .string(checkpoint?.serialized ?? ""),
                ]))
            } else {
                print("Initialised ledger \"\(origin)\" in \(path), administrator \(admin)")
                print("  ledger key (sealed, mode 0600): \(keyPath)")
                print("  verifier key:                   \(keyPath).pub")
                print("  \(verifierKey)")
            }
        }
    }
}

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the newest signed checkpoint (a C2SP signed note), or the ledger's verifier key."
    )

    @OptionGroup var ledger: LedgerOptions
    @OptionGroup var remote: RemoteOptions
    @OptionGroup var actor: ActorOptions

    @Flag(help: "Print the ledger's verifier key line (NAME+KEYIDHEX+BASE64KEY) instead.")
    var verifierKey = false

    @Flag(help: "Sign a checkpoint of the current tree first (needs the ledger key).")
    var sign = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            if let session = try remote.session(actor: actor) {
                guard !sign else { throw CLIError.badInput("--sign works on the server's database; the server signs checkpoints itself") }
                let text = String(decoding: try await session.bytes(verifierKey ? "/v1/ledger-key" : "/v1/checkpoint"), as: UTF8.self)
                print(text, terminator: "")
                return
            }
            if verifierKey {
                let key = try ledger.openForReading().verifierKey
                print(json ? JSONOutput.object(["verifier_key": .string(key.description)]).description : key.description)
                return
            }
            let store = sign ? try ledger.openForWriting() : try ledger.openForReading()
            let checkpoint = sign ? try await store.signCheckpoint() : try await store.latestCheckpoint()
            guard let checkpoint else { throw CLIError.failure("the ledger has no signed checkpoint yet; run `signoff checkpoint --sign`") }
            if json {
                print(JSONOutput.object([
                    "origin": .string(checkpoint.checkpoint.origin), "size": .int(Int(checkpoint.checkpoint.size)),
                    "root_hash": .string(Base64.encode(checkpoint.checkpoint.rootHash.bytes)), "note": .string(checkpoint.serialized),
                ]))
            } else {
                print(checkpoint.serialized, terminator: "")
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Export the trail for auditors, and verify exports and databases.",
        subcommands: [Export.self, Verify.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export entries (all, or a project, environment or period) with inclusion proofs, keys, envelopes, a CSV of decisions and a summary.",
            discussion: "The folder is specified in schema/audit-export.md; `signoff audit verify DIR --log-key LEDGER.pub` checks it offline.")

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var actor: ActorOptions
        @Option var project: String?
        @Option var env: String?
        @Option(help: "RFC 3339 time, inclusive.") var since: String?
        @Option(help: "RFC 3339 time, exclusive.") var until: String?
        @Option(help: "A new (or empty) folder.") var out: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            try await reportingErrors {
                func time(_ text: String?, _ option: String) throws -> Int64? {
                    guard let text else { return nil }
                    guard let ms = Timestamps.milliseconds(rfc3339: text) else { throw CLIError.badInput("--\(option) \(text) is not an RFC 3339 time such as 2026-11-01T00:00:00Z") }
                    return ms
                }
                let filter = AuditExportFilter(project: project, environment: env, since: try time(since, "since"), until: try time(until, "until"))
                if let session = try remote.session(actor: actor) {
                    let url = session.client.server
                    var query: [String] = []
                    for (key, value) in [("project", project), ("environment", env), ("since", since), ("until", until)] {
                        if let value { query.append("\(key)=\(RemoteSession.path(value))") }
                    }
                    let archive = try await session.bytes("/v1/audit/export" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
                    let directory = URL(fileURLWithPath: out)
                    if FileManager.default.fileExists(atPath: out), !(try FileManager.default.contentsOfDirectory(atPath: out)).isEmpty {
                        throw CLIError.badInput("\(out) is not empty; export into a new folder (nothing was overwritten)")
                    }
                    let files = try Untar.extract(archive, into: directory)
                    print(json ? JSONOutput.object(["out": .string(out), "files": .int(files)]).description
                        : "Exported \(files) files from \(url.absoluteString) into \(out); verify with `signoff audit verify \(out) --log-key LEDGER.pub`")
                    return
                }
                let session = try Session.open(ledger).local
                if session.signsCheckpoints { try await session.store.signCheckpoint() }
                let showProgress = !json && Terminal.standardErrorIsTerminal
                let report = try await session.database.exportAudit(filter: filter, to: URL(fileURLWithPath: out)) { done, total in
                    if showProgress { FileHandleWriter.write(fd: 2, "\rexporting: \(done)/\(total) entries read") }
                }
                if showProgress { FileHandleWriter.write(fd: 2, "\n") }
                if json {
                    print(JSONOutput.object([
                        "out": .string(out), "entries": .int(report.entries), "decisions": .int(report.decisions),
                        "checkpoint_size": .int(Int(clamping: report.checkpointSize)), "files": .int(report.files),
                    ]))
                } else {
                    print("Exported \(report.entries) entries (\(report.decisions) decisions) against the checkpoint of \(report.checkpointSize) entries into \(out)")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify an export folder offline (DIR --log-key LEDGER.pub), or a whole database (--db): every entry, chain, subtree hash, checkpoint and the projection replay.",
            discussion: "Exit 0 when everything verifies, 3 when anything does not (the first failure is named)."
        )

        @Argument(help: "An export folder to verify offline (needs --log-key).") var directory: String?

        @OptionGroup var ledger: LedgerOptions

        @Option(help: "The trusted ledger verifier key file (default with --db: DB.ledger-key.pub). Never taken from what is verified.")
        var logKey: String?

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
            guard let logKey else { throw CLIError.badInput("offline verification needs the ledger's public key: --log-key LEDGER.pub") }
            let trusted = try KeyFiles.readVerifierKey(path: logKey)
            let showProgress = !json && Terminal.standardErrorIsTerminal
            let report = AuditExportVerifier.verify(directory: URL(fileURLWithPath: directory), trustedKey: trusted) { done in
                if showProgress { FileHandleWriter.write(fd: 2, "\rverifying: \(done) entries") }
            }
            if showProgress { FileHandleWriter.write(fd: 2, "\n") }
            if json {
                print(JSONOutput.object([
                    "valid": .bool(report.failure == nil), "entries": .int(report.entries), "decisions": .int(report.decisions),
                    "signed_decisions": .int(report.signedDecisions), "checkpoint_size": .int(Int(clamping: report.checkpointSize)), "files": .int(report.files),
                    "failure": report.failure.map { .string($0) } ?? .null,
                ]))
            } else if report.failure == nil {
                print("OK: \(report.entries) entries proven against the checkpoint of \(report.checkpointSize) signed by \(trusted.name) (key ID \(trusted.keyIDHex)); \(report.signedDecisions) of \(report.decisions) decisions signed with keys enrolled at the time; all \(report.files) files match")
            }
            if let failure = report.failure {
                if !json { printError("verification FAILED: \(failure)") }
                throw ExitCode(ExitStatus.verificationFailed)
            }
        }

        func verifyDatabase() async throws {
            let keyPath = try logKey ?? (ledger.ledgerKeyPath + ".pub")
            let trusted = try KeyFiles.readVerifierKey(path: keyPath)
            let store = try ledger.openForReading()
            let showProgress = !json && Terminal.standardErrorIsTerminal
            let started = ContinuousClock.now
            let report = try await store.verifyAll(trustedKey: trusted, allowUncoveredTail: allowUncoveredTail) { done, total in
                if showProgress { FileHandleWriter.write(fd: 2, "\rverifying: \(done)/\(total) entries") }
            }
            if showProgress { FileHandleWriter.write(fd: 2, "\n") }
            // The projection must be exactly what replaying the ledger gives.
            var failure = report.failure
            if failure == nil { failure = try await SignoffDatabase(ledger: store).verifyProjection() }
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
                print("OK: \(report.entries) entries, \(report.storedNodes) subtree hashes and \(report.checkpoints) signed checkpoints verified, projection replayed, in \(String(format: "%.2f", seconds)) s")
                print("root \(report.rootHash) signed by \(trusted.name) (key ID \(trusted.keyIDHex))")
            }
            if let failure {
                if !json { printError("verification FAILED: \(failure.message)") }
                throw ExitCode(ExitStatus.verificationFailed)
            }
        }
    }
}
