public import Logging
internal import ServiceLifecycle
public import SignoffService

/// Renews the leader lease every third of its length; gives it up on shutdown, so that another instance takes over at
/// once rather than when it expires.
struct LeadershipService: Service {
    let leadership: Leadership
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let renewal = await leadership.renew()
            if let error = renewal.error { logger.warning("could not renew the leader lease", metadata: ["error": .string("\(error)")]) }
            if renewal.changed {
                logger.info(
                    renewal.leader ? "this instance leads (reminders, expiry, verification, checkpoints)" : "another instance leads",
                    metadata: ["holder": .string(leadership.holder)])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Leadership.leaseMilliseconds / 3)) }
        }
        await Task { await leadership.resign() }.value
    }
}
