import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SignoffCrypto
import SignoffLedger
import SignoffServer
import SignoffStore

/// `signoff witness`: run a C2SP tlog-witness, and show a witness key as logs and auditors configure it.
struct WitnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness",
        abstract: "A witness that cosigns a ledger's checkpoints only while they stay consistent (C2SP tlog-witness v1).",
        discussion: """
            A witness is run by someone other than the ledger's operator — the auditor, another department — so that \
            the operator cannot show one history to approvers and another to auditors: it cosigns a checkpoint only \
            when it extends every checkpoint it cosigned before. Make its key with `signoff key generate --name \
            witness.example/w1 --out witness.key`; give logs and auditors the verifier key `signoff witness key` prints.
            """,
        subcommands: [Serve.self, Key.self]
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve POST <prefix>/add-checkpoint: cosign each consistent checkpoint of the logs given with --log.",
            discussion: """
                The witness keeps, for each log, the latest checkpoint it cosigned in --db (SQLite, created when missing). \
                Answers as C2SP tlog-witness v1 says: 200 with the cosignature line; 404 for a log it does not follow; 403 \
                when no signature is by the log's key; 400 for a malformed body; 409 (text/x.tlog.size: the size it \
                cosigned last) when the old size is not that size, or when a checkpoint of that size has another root (a \
                split view); 422 when the consistency proof does not verify. Split views and inconsistent checkpoints are \
                logged at critical level with the note, as evidence.
                """)

        @Option(help: "The witness's sealed key (signoff key generate); its name is the witness's name.") var key: String
        @Option(help: "The SQLite file of the witness's state (created when missing).") var db: String
        @Option(name: .customLong("log"), help: "A log to follow: its checkpoint key's public file (LEDGER.pub: NAME+KEYID+KEY, NAME the log's origin). Repeatable.")
        var logs: [String] = []
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Port to listen on (0: any free one, said in the log).") var port = 8081
        @Option(help: "The URL path before /add-checkpoint, e.g. /witness (default: none).") var prefix = ""
        @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
        @OptionGroup var passphrase: PassphraseOptions

        func run() async throws {
            try await reportingErrors {
                guard let level = Logger.Level(rawValue: logLevel) else { throw CLIError.badInput("--log-level \(logLevel) is not a log level") }
                guard !logs.isEmpty else { throw CLIError.badInput("give the logs this witness follows with --log LEDGER.pub (one or more)") }
                guard prefix.isEmpty || (prefix.hasPrefix("/") && !prefix.hasSuffix("/") && !prefix.contains("{")) else {
                    throw CLIError.badInput("--prefix is a path such as /witness (a leading slash, no trailing one)")
                }
                var followed: [NoteVerifierKey] = []
                for path in logs {
                    let log: NoteVerifierKey
                    do { log = try KeyFiles.readVerifierKey(path: path) } catch let error as CryptoError { throw CLIError.badInput("--log \(path): \(error.message)") }
                    guard !followed.contains(where: { $0.name == log.name && $0.keyID == log.keyID }) else { continue }
                    followed.append(log)
                }
                let secret = try passphrase.passphrase(purpose: "the witness key \(key)", confirm: false)
                let opened: SealedKeyFile.OpenedKey
                do { opened = try KeyFiles.openSealedKey(path: key, passphrase: secret) } catch let error as CryptoError { throw error.cliError }
                guard !followed.contains(where: { $0.publicKey == opened.signingKey.publicKey }) else {
                    throw CLIError.badInput("--log names the witness's own key: give the public key files of the logs it follows (their checkpoint keys)")
                }
                var configuration = try WitnessConfiguration(name: opened.name, key: opened.signingKey, logs: followed)
                configuration.host = host
                configuration.port = port
                configuration.prefix = prefix
                var logger = Logger(label: "signoff-witness")
                logger.logLevel = level
                let store: SQLiteWitnessStore
                do { store = try SQLiteWitnessStore(path: db) } catch { throw CLIError.failure("--db \(db) cannot be opened as the witness's SQLite file: \(error)") }
                logger.notice(
                    "witness \(opened.name) follows \(followed.map(\.name).joined(separator: ", ")); its verifier key: \(configuration.cosignerKey)",
                    metadata: ["db": .string(db)])
                try await buildWitnessApplication(store: store, configuration: configuration, logger: logger).runService()
            }
        }
    }

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a witness's verifier key (NAME+KEYID+BASE64(0x04 ‖ key), C2SP tlog-cosignature v1) from its key file.",
            discussion: "PATH is the witness key's public file (PATH.pub) or its sealed file (read without opening it).")

        @Argument(help: "The witness key's public file, or its sealed key file.") var path: String

        func run() async throws {
            try await reportingErrors {
                let bytes: [UInt8]
                do { bytes = try KeyFiles.readFile(path: path) } catch let error as CryptoError { throw error.cliError }
                let key: NoteVerifierKey
                do {
                    key = bytes.starts(with: SealedKeyFile.magic) ? try SealedKeyFile.header(of: bytes).verifierKey : try KeyFiles.readVerifierKey(path: path)
                } catch let error as CryptoError { throw error.cliError }
                print(try CosignerKey(name: key.name, publicKey: key.publicKey))
            }
        }
    }
}
