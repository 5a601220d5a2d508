internal import Foundation
internal import Logging
internal import NIOCore
internal import NIOPosix
internal import PostgresNIO
public import SignoffLedger
internal import Synchronization

/// An error PostgreSQL answered (or the connection's), with the server's SQLSTATE and message: never the query's
/// parameters, which may hold token hashes or documents.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// The SQLSTATE, e.g. 23505 for a unique violation; nil when the server did not answer.
    public let sqlState: String?
    public let message: String

    init(_ error: PSQLError) {
        sqlState = error.serverInfo?[.sqlState]
        if let message = error.serverInfo?[.message] {
            // The constraint's name, not the server's detail: a unique violation's detail quotes the key's value (a
            // token's or a statement's hash), which would then reach the logs.
            self.message = message + (error.serverInfo?[.constraintName].map { " (constraint \($0))" } ?? "")
        } else {
            message = Self.explain(error.code)
        }
    }

    /// What a client-side failure means to someone who gave the URL, in words rather than the driver's code names.
    static func explain(_ code: PSQLError.Code) -> String {
        switch code {
        case .connectionError:
            "the connection failed (refused, unreachable or timed out): is a server running on that host and port, and does it accept TCP connections there?"
        case .serverClosedConnection, .uncleanShutdown: "the server closed the connection (restarting, shut down, or it refused this client)"
        case .authMechanismRequiresPassword:
            "the server asks for a password: put it in the URL (postgres://USER:PASSWORD@HOST/DB) or in PGPASSWORD"
        case .unsupportedAuthMechanism: "the server asks for an authentication method this client does not speak (use scram-sha-256, md5 or trust)"
        case .saslError: "the password was refused (SCRAM authentication failed)"
        case .sslUnsupported: "the server does not offer TLS: add ?sslmode=disable to the URL only if the network between you is trusted"
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest: "TLS could not be set up with the server"
        default: "\(code)"
        }
    }

    /// A serialization failure or a deadlock: the transaction may run again.
    var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }

    public var description: String { "PostgreSQL: \(message)" + (sqlState.map { " (SQLSTATE \($0))" } ?? "") }
}

/// What to bind to a query parameter.
enum PGBind: Sendable {
    case int(Int64)
    case text(String)
    case bytes([UInt8])
    case null

    static func optional(_ value: Int64?) -> PGBind { value.map(PGBind.int) ?? .null }
    static func optional(_ value: String?) -> PGBind { value.map(PGBind.text) ?? .null }

    /// `sql` with `binds` as its parameters `$1`, `$2`, ….
    static func query(_ sql: String, _ binds: [PGBind]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .int(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .bytes(let value): bindings.append(ByteBuffer(bytes: value))
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }
}

/// At most `count` holders at a time; the others wait, in order of arrival.
final class AsyncSlots: Sendable {
    private let state: Mutex<(free: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(_ count: Int) { state = Mutex((max(1, count), [])) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiters.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if now { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// One connection, used by one thread of ``PGDatabase``'s pool at a time, which waits for each query's answer: the
/// storage protocols' transactions are synchronous (``StorageTransaction``), as SQLite's are, and run on threads of their
/// own, never on Swift's cooperative pool or an event loop.
final class PGSession {
    let connection: PostgresConnection
    let logger: Logger

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Runs `sql` (parameters `$1`, `$2`, …) and returns every row.
    @discardableResult
    func query(_ sql: String, _ binds: [PGBind] = []) throws -> PostgresQueryResult {
        do {
            return try connection.query(PGBind.query(sql, binds), logger: logger).wait()
        } catch let error as PSQLError {
            throw PostgresError(error)
        }
    }

    /// Runs `sql` and returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ binds: [PGBind] = []) throws -> Int {
        try query(sql, binds).metadata.rows ?? 0
    }

    /// `begin`, `body`, `COMMIT`; `ROLLBACK` when `body` throws.
    func inTransaction<T>(_ begin: String, _ body: (PGSession) throws -> T) throws -> T {
        try execute(begin)
        do {
            let result = try body(self)
            try execute("COMMIT")
            return result
        } catch {
            if !connection.isClosed { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// The first column of the first row, if any.
    func scalar<T: PostgresDecodable>(_ type: T.Type, _ sql: String, _ binds: [PGBind] = []) throws -> T? {
        guard let cell = try query(sql, binds).rows.first?.first, cell.bytes != nil else { return nil }
        return try cell.decode(T.self)
    }
}

/// A PostgreSQL database as Signoff uses it: a pool of connections, each used by one thread of a pool of threads that
/// block on its answers; transactions that take the writers' lock (one at a time, as SQLite's writer), and read-only
/// snapshots.
final class PGDatabase: Sendable {
    let url: PostgresURL
    let logger: Logger
    private let threads: NIOThreadPool
    private let group: any EventLoopGroup
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    private let closed = Atomic<Bool>(false)
    /// Connections the single statements of ``query(_:_:)`` may hold at once (beside the threads' own).
    private let statementSlots: AsyncSlots

    /// The advisory lock every write transaction takes first: writers take turns, as on SQLite, so that each reads the
    /// newest head and nothing it read changes before it commits. Its key is "Signoff" in ASCII.
    static let writerLock: Int64 = 0x53_69_67_6E_6F_66_66

    /// Opens the pool and checks that the server answers (a clear error now, not at the first command).
    static func connect(_ url: PostgresURL, threads: Int = 8, logger: Logger = Logger(label: "signoff.postgres")) async throws -> PGDatabase {
        let database = PGDatabase(url: url, threads: threads, logger: logger)
        do {
            _ = try await database.run { session in try session.scalar(Int32.self, "SELECT 1") }
        } catch {
            await database.close()
            if let error = error as? LedgerError { throw error }
            throw LedgerError(.storage, "cannot reach PostgreSQL at \(url.redacted): \(PGDatabase.describe(error))")
        }
        return database
    }

    private init(url: PostgresURL, threads count: Int, logger: Logger) {
        self.url = url
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
        threads = NIOThreadPool(numberOfThreads: count)
        threads.start()
        statementSlots = AsyncSlots(count)
    }

    deinit {
        // A storage a process never closed (a CLI verb that exits): its threads and connections end here.
        if !closed.load(ordering: .relaxed) {
            for connection in idle.withLock({ $0 }) { Self.closeSoon(connection) }
            threads.shutdownGracefully { _ in }
        }
    }

    /// Connections being closed, kept until they are: a connection must be closed before it is released.
    private static let closing = Mutex<[ObjectIdentifier: PostgresConnection]>([:])

    /// Closes `connection` without waiting for it.
    static func closeSoon(_ connection: PostgresConnection) {
        let id = ObjectIdentifier(connection)
        closing.withLock { $0[id] = connection }
        connection.close().whenComplete { _ in _ = closing.withLock { $0.removeValue(forKey: id) } }
    }

    /// Closes every connection and stops the threads.
    func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        let connections = idle.withLock { idle in defer { idle = [] }; return idle }
        for connection in connections { try? await connection.close() as Void }
        try? await threads.shutdownGracefully()
    }

    /// Runs `body` on a thread of the pool with a connection of its own.
    func run<T: Sendable>(_ body: @escaping @Sendable (PGSession) throws -> T) async throws -> T {
        guard !closed.load(ordering: .relaxed) else { throw LedgerError(.storage, "the PostgreSQL storage is closed") }
        return try await threads.runIfActive { [self] in
            let connection = try lease()
            var healthy = true
            defer { release(connection, healthy: healthy) }
            do {
                return try body(PGSession(connection: connection, logger: logger))
            } catch {
                healthy = !connection.isClosed
                throw error
            }
        }
    }

    /// One statement on its own (autocommit), awaited without holding a thread: for the reads every HTTP request makes
    /// (its token, the ledger's head), which a thread hop and a transaction's `BEGIN` and `COMMIT` would make several
    /// times slower.
    func query(_ sql: String, _ binds: [PGBind] = []) async throws -> PostgresQueryResult {
        guard !closed.load(ordering: .relaxed) else { throw LedgerError(.storage, "the PostgreSQL storage is closed") }
        await statementSlots.acquire()
        defer { statementSlots.release() }
        let connection: PostgresConnection
        if let idle = idle.withLock({ $0.popLast() }), !idle.isClosed {
            connection = idle
        } else {
            let id = nextID.add(1, ordering: .relaxed).oldValue
            do {
                connection = try await PostgresConnection.connect(on: group.next(), configuration: try url.configuration(), id: id, logger: logger).get()
            } catch {
                throw LedgerError(.storage, "cannot reach PostgreSQL at \(url.redacted): \(Self.describe(error))")
            }
        }
        do {
            let result = try await connection.query(PGBind.query(sql, binds), logger: logger).get()
            release(connection, healthy: true)
            return result
        } catch let error as PSQLError {
            release(connection, healthy: !connection.isClosed)
            throw PostgresError(error)
        } catch {
            release(connection, healthy: false)
            throw error
        }
    }

    /// A write transaction: `BEGIN`, the writers' lock, `body`, `COMMIT`; rolled back when `body` throws. SQL's
    /// isolation is set explicitly (READ COMMITTED: each statement sees every commit before it, and the writers' lock
    /// makes this one the only writer); a serialization failure or deadlock (SQLSTATE 40001, 40P01) retries the whole
    /// transaction, `body` included, as ``UnitOfWork`` allows.
    func write<T: Sendable>(_ body: @escaping @Sendable (PGSession) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await run { session in
                    try session.inTransaction("BEGIN ISOLATION LEVEL READ COMMITTED") { session in
                        try session.query("SELECT pg_advisory_xact_lock($1)", [.int(Self.writerLock)])
                        return try body(session)
                    }
                }
            } catch let error as PostgresError where error.isRetryable && attempt < 5 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(5 << attempt))
            }
        }
    }

    /// A read-only snapshot: every statement of `body` sees the same committed state.
    func read<T: Sendable>(_ body: @escaping @Sendable (PGSession) throws -> T) async throws -> T {
        try await run { session in try session.inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body) }
    }

    /// A transaction without the writers' lock, for tables no ledger entry depends on (the outbox's delivery log).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PGSession) throws -> T) async throws -> T {
        try await run { session in try session.inTransaction("BEGIN", body) }
    }

    /// A server error's message (PostgreSQL's words), or the error as Swift describes it; never the password.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError { return PostgresError(error).description }
        return "\(error)"
    }

    private func lease() throws -> PostgresConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        let id = nextID.add(1, ordering: .relaxed).oldValue
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: try url.configuration(), id: id, logger: logger).wait()
        } catch {
            throw LedgerError(.storage, "cannot reach PostgreSQL at \(url.redacted): \(Self.describe(error))")
        }
    }

    private func release(_ connection: PostgresConnection, healthy: Bool) {
        if healthy, !connection.isClosed, !closed.load(ordering: .relaxed) {
            idle.withLock { $0.append(connection) }
        } else {
            Self.closeSoon(connection)
        }
    }
}
