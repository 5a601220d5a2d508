internal import Foundation
internal import NIOSSL
internal import PostgresNIO
public import SignoffLedger

/// A `postgres://user:password@host:port/database?sslmode=…` address, as libpq reads one, for `--db` and `SIGNOFF_DB`.
/// The password may come from the address or from `PGPASSWORD`; it is never shown (``redacted``). `sslmode` is
/// `disable`, `require` (encrypted, the server's certificate not checked) or `verify-full` (encrypted, certificate and
/// host name checked); without it, `disable` on a loopback host and `verify-full` anywhere else: a database across a
/// network is never spoken to in clear unless the address says so.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, require, verifyFull = "verify-full" }

    public let host: String
    public let port: Int
    public let user: String
    let password: String?
    public let database: String
    public let tls: TLSMode

    /// Whether `text` names a PostgreSQL database rather than a SQLite file.
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(parsing text: String, environment: [String: String]? = nil) throws {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw LedgerError(.invalidRequest, "not a PostgreSQL address: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full]")
        }
        guard let host = components.host, !host.isEmpty else { throw LedgerError(.invalidRequest, "the PostgreSQL address names no host") }
        let database = String(components.path.dropFirst())
        guard !database.isEmpty, !database.contains("/") else {
            throw LedgerError(.invalidRequest, "the PostgreSQL address names no database: postgres://USER@HOST:PORT/DATABASE")
        }
        guard let user = components.user, !user.isEmpty else { throw LedgerError(.invalidRequest, "the PostgreSQL address names no user: postgres://USER@HOST/DATABASE") }
        var tls: TLSMode = Self.isLoopback(host) ? .disable : .verifyFull
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw LedgerError(.invalidRequest, "sslmode=\(item.value ?? "") is not disable, require or verify-full")
                }
                tls = mode
            default:
                throw LedgerError(.invalidRequest, "the PostgreSQL address's parameter \(item.name) is not known (only sslmode is)")
            }
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        self.password = components.password ?? environment["PGPASSWORD"]
        self.database = database
        self.tls = tls
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The address without its password: what messages and logs show.
    public var redacted: String { "postgres://\(user)@\(host):\(port)/\(database)" + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)") }
    public var description: String { redacted }

    /// The same server, another database (tests make and drop theirs).
    public func with(database: String) -> PostgresURL {
        PostgresURL(host: host, port: port, user: user, password: password, database: database, tls: tls)
    }

    private init(host: String, port: Int, user: String, password: String?, database: String, tls: TLSMode) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    func configuration() throws -> PostgresConnection.Configuration {
        let tlsSetting: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable: tlsSetting = .disable
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tlsSetting = .require(try NIOSSLContext(configuration: configuration))
        case .verifyFull: tlsSetting = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tlsSetting)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
