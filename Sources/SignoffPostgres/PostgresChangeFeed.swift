internal import Foundation
internal import Logging
internal import NIOCore
internal import PostgresNIO
public import SignoffService

/// Other instances' commits by `LISTEN signoff_changes` on a connection of its own: every unit of work sends
/// `NOTIFY signoff_changes` inside its transaction, which PostgreSQL delivers to every listener when (and only if) it
/// commits.
struct PostgresChangeFeed: ChangeFeed {
    static let channel = "signoff_changes"
    let database: PGDatabase

    func run(_ changed: @escaping @Sendable () -> Void) async throws {
        var reconnecting = false
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(), configuration: try database.url.configuration(), id: 0, logger: database.logger
                ).get()
                do {
                    try await connection.listen(on: Self.channel) { notifications in
                        // Listening from here on: whatever was committed while this connection was down is read again.
                        if reconnecting { changed() }
                        for try await _ in notifications { changed() }
                    }
                } catch {
                    try? await connection.close().get()
                    throw error
                }
                try? await connection.close().get()
            } catch is CancellationError {
                return
            } catch {
                guard !Task.isCancelled else { return }
                database.logger.warning("the change feed lost its connection; listening again in a second", metadata: ["error": .string(PGDatabase.describe(error))])
                reconnecting = true
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
