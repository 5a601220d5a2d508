import ArgumentParser
import Foundation
import SignoffCrypto
import SignoffLedger
import SignoffPostgres
import SignoffService
import SignoffStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a ledger from one database to another (SQLite to PostgreSQL, or back), then check the copy.",
        discussion: """
            Copies the ledger with its projection, login tokens, webhook outbox and evidence documents into a new \
            SQLite file or an empty PostgreSQL database, then compares the copy with the source entry by entry and \
            root by root (every stored checkpoint's size and the whole ledger) and verifies it as `audit verify --db` \
            does. Stop every `signoff serve` on the source first: writes made during the copy are not in it, and the \
            comparison fails. The ledger key files stay what they were: pass the same --ledger-key-file to the new \
            database. Exit 3 when the copy does not match its source.
            """
    )

    @Option(help: "The database to copy: sqlite:PATH (or a path), or postgres://USER@HOST:PORT/DATABASE.")
    var from: String

    @Option(help: "Where to copy it: sqlite:PATH for a new file, or postgres://… naming an empty database.")
    var to: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    enum Location {
        case sqlite(String)
        case postgres(PostgresURL)

        init(_ text: String, option: String) throws {
            if PostgresURL.isPostgres(text) {
                do { self = .postgres(try PostgresURL(parsing: text)) } catch let error as LedgerError { throw CLIError.badInput("--\(option): \(error.message)") }
            } else {
                let path = text.hasPrefix("sqlite:") ? String(text.dropFirst("sqlite:".count)) : text
                guard !path.isEmpty else { throw CLIError.badInput("--\(option): sqlite: names no file") }
                self = .sqlite(path)
            }
        }

        var name: String {
            switch self {
            case .sqlite(let path): "sqlite:\(path)"
            case .postgres(let url): url.redacted
            }
        }

        func tables(creating: Bool) async throws -> any TableCopying {
            switch self {
            case .sqlite(let path): try SQLiteTableCopy.open(path: path, creating: creating)
            case .postgres(let url): try await PostgresTableCopy.open(url: url)
            }
        }

        func storage() async throws -> SignoffStorage {
            switch self {
            case .sqlite(let path): try SQLiteStorage.open(path: path)
            case .postgres(let url): try await PostgresStorage.open(url: url)
            }
        }
    }

    func run() async throws {
        try await reportingErrors {
            let source = try Location(from, option: "from")
            let target = try Location(to, option: "to")
            guard source.name != target.name else { throw CLIError.badInput("--from and --to name the same database") }
            let sourceTables = try await source.tables(creating: false)
            let targetTables = try await target.tables(creating: true)
            let showProgress = !json && Terminal.standardErrorIsTerminal
            let started = ContinuousClock.now
            var report: StorageMigration.Report
            do {
                report = try await StorageMigration.copy(from: sourceTables, to: targetTables) { table, rows in
                    if showProgress { FileHandleWriter.write(fd: 2, "\rcopying \(table): \(rows) rows   ") }
                }
            } catch {
                switch target {
                case .sqlite(let path):
                    // The new file holds a part of a copy: removed, so that a second attempt starts clean.
                    for file in [path, path + "-wal", path + "-shm"] { try? FileManager.default.removeItem(atPath: file) }
                case .postgres(let url):
                    if case let error as LedgerError = error, error.message.contains("already holds a ledger") { throw error }
                    printError("the copy into \(url.redacted) stopped part way: drop and create that database again before another attempt")
                }
                throw error
            }
            if showProgress { FileHandleWriter.write(fd: 2, "\n") }
            if !json { FileHandleWriter.write(fd: 2, "copied; checking the copy against \(source.name)…\n") }
            let sourceStorage = try await source.storage()
            let targetStorage = try await target.storage()
            try await StorageMigration.check(source: sourceStorage, target: targetStorage, report: &report)
            await sourceStorage.close()
            await targetStorage.close()
            let seconds = Double((ContinuousClock.now - started).components.seconds)
            if json {
                print(JSONOutput.object([
                    "from": .string(source.name), "to": .string(target.name), "entries": .int(Int(clamping: report.entries)),
                    "roots_compared": .int(report.rootsCompared), "root_hash": .string(report.rootHash.description),
                    "rows": .object(report.rows.mapValues { JSONOutput.int($0) }),
                ]))
            } else {
                print("Copied \(report.entries) entries from \(source.name) to \(target.name) and checked them: every entry equal, \(report.rootsCompared) roots equal, the copy verifies and its projection replays (\(Int(seconds)) s)")
                print("root \(report.rootHash)")
                for table in CopiedTable.all { print("  \(table.name): \(report.rows[table.name] ?? 0) rows") }
            }
        }
    }
}
