internal import Foundation
internal import Logging
internal import PostgresNIO
public import SignoffCrypto
public import SignoffLedger
public import SignoffService

/// Signoff's storage in one PostgreSQL database, as ``SignoffStorage``: the tables of `schema/postgres/`, which several
/// `signoff serve` instances share. The only place that knows the backend is PostgreSQL. The database must exist (an
/// operator creates it and its owner); Signoff creates its tables there.
public enum PostgresStorage {
    /// Creates the tables in the (empty) database `url` names, for a ledger named `origin` signed by `signingKey`.
    /// Refuses a database that already holds a ledger.
    public static func create(
        url: PostgresURL, origin: String, signingKey: Ed25519.SigningKey, configuration: PostgresLedgerStore.Configuration = .init()
    ) async throws -> SignoffStorage {
        let ledgerKey: NoteVerifierKey
        do { ledgerKey = try NoteVerifierKey(name: origin, publicKey: signingKey.publicKey) } catch {
            throw LedgerError(.invalidRequest, "origin: \(error.message)")
        }
        let database = try await PGDatabase.connect(url, threads: configuration.connections)
        do {
            try await migrate(database)
            try await database.write { session in
                guard try session.scalar(String.self, "SELECT value FROM ledger_meta WHERE key = 'origin'") == nil else {
                    throw LedgerError(.invalidRequest, "\(url.redacted) already holds a ledger; choose an empty database (nothing was changed)")
                }
                try session.execute(
                    "INSERT INTO ledger_meta (key, value) VALUES ('origin', $1), ('verifier_key', $2)", [.text(origin), .text(ledgerKey.description)])
            }
        } catch {
            await database.close()
            throw error
        }
        let ledger = PostgresLedgerStore(database: database, origin: origin, verifierKey: ledgerKey, configuration: configuration)
        return storage(ledger, signer: LocalSigner(verifierKey: ledgerKey) { signingKey })
    }

    /// Opens the ledger in the database `url` names. Without `signingKey` it appends and reads but does not sign.
    public static func open(url: PostgresURL, signingKey: Ed25519.SigningKey? = nil, configuration: PostgresLedgerStore.Configuration = .init()) async throws
        -> SignoffStorage
    {
        let ledger = try await openLedger(url: url, configuration: configuration)
        guard let signingKey else { return storage(ledger, signer: nil) }
        guard signingKey.publicKey == ledger.verifierKey.publicKey else {
            await ledger.database.close()
            throw LedgerError(.invalidRequest, "the ledger key file does not belong to the ledger in \(url.redacted)")
        }
        return storage(ledger, signer: LocalSigner(verifierKey: ledger.verifierKey) { signingKey })
    }

    /// Opens the ledger, its key opened only when something is first signed (`unseal`).
    public static func open(
        url: PostgresURL, unsealingLedgerKey unseal: @escaping @Sendable () throws -> Ed25519.SigningKey, configuration: PostgresLedgerStore.Configuration = .init()
    ) async throws -> SignoffStorage {
        let ledger = try await openLedger(url: url, configuration: configuration)
        return storage(ledger, signer: LocalSigner(verifierKey: ledger.verifierKey, unseal: unseal))
    }

    static func openLedger(url: PostgresURL, configuration: PostgresLedgerStore.Configuration) async throws -> PostgresLedgerStore {
        let database = try await PGDatabase.connect(url, threads: configuration.connections)
        do {
            try await migrate(database)
            let meta = try await database.run { session in
                try session.query("SELECT key, value FROM ledger_meta").rows.reduce(into: [String: String]()) { meta, row in
                    let (key, value) = try row.decode((String, String).self)
                    meta[key] = value
                }
            }
            guard let origin = meta["origin"], let keyText = meta["verifier_key"] else {
                throw LedgerError(.storage, "\(url.redacted) holds no Signoff ledger; create one with `signoff init --db \(url.redacted) --origin NAME --admin NAME --admin-key KEY.pub`")
            }
            let verifierKey: NoteVerifierKey
            do { verifierKey = try NoteVerifierKey(parsing: keyText) } catch {
                throw LedgerVerificationFailure(
                    .metadataMismatch, "\(url.redacted): the ledger key recorded in ledger_meta is malformed (\(error.message)): its metadata was altered")
            }
            return PostgresLedgerStore(database: database, origin: origin, verifierKey: verifierKey, configuration: configuration)
        } catch {
            await database.close()
            throw error
        }
    }

    static func storage(_ ledger: PostgresLedgerStore, signer: (any Signer)?) -> SignoffStorage {
        let projection = PostgresProjectionStore(ledger: ledger)
        let database = ledger.database
        return SignoffStorage(
            unitOfWork: PostgresUnitOfWork(ledger: ledger, projection: projection), ledger: ledger, projection: projection,
            auth: PostgresAuthStore(database: database), webhooks: PostgresWebhookStore(database: database), evidence: PostgresEvidenceStore(database: database),
            coordination: PostgresCoordinationStore(database: database),
            signer: signer, checkpointPolicy: ledger.configuration.checkpointPolicy, close: { await database.close() },
            changeFeed: PostgresChangeFeed(database: database))
    }

    /// The statements of a migration file, one by one (the extended protocol runs one statement a query): its `--`
    /// comments removed, split at semicolons. The files hold no string or identifier with `--` or `;` in it (a test checks).
    static func statements(of sql: String) -> [String] {
        let uncommented = sql.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line)
        }.joined(separator: "\n")
        return uncommented.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Applies the migrations of `schema/postgres/` not yet applied, in order, each in its transaction, under a lock of
    /// its own (instances starting together apply each once); `schema_migration` records them.
    static func migrate(_ database: PGDatabase) async throws {
        try await database.run { session in
            try session.inTransaction("BEGIN") { session in
                // Another key than the writers' lock: a migration runs before any write.
                try session.query("SELECT pg_advisory_xact_lock($1)", [.int(PGDatabase.writerLock + 1)])
                try session.execute("CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY NOT NULL, applied_ms BIGINT NOT NULL)")
                let applied = Set(try session.query("SELECT name FROM schema_migration").rows.map { try $0.decode(String.self) })
                let known = Set(PostgresSchema.migrations.map(\.name))
                if let unknown = applied.subtracting(known).sorted().first {
                    throw LedgerError(.storage, "the database was migrated by a newer Signoff (migration \(unknown)); run that version, or a newer one")
                }
                for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
                    for statement in statements(of: migration.sql) { try session.execute(statement) }
                    try session.execute(
                        "INSERT INTO schema_migration (name, applied_ms) VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)", [.text(migration.name)])
                }
            }
        }
    }
}
