import SignoffAPI
import SignoffCore
import SignoffService
import Synchronization

/// Views of the state that every inbox and dashboard would otherwise rebuild by walking every request: the requests an
/// inbox can hold anything of, and the whole inventory. Kept per state — rebuilt after every append (a commit of this
/// server, ``ChangeSignal``, or another process's: the ledger's size) and every few seconds for the clock (ages, freezes) — so
/// that a page load does not scan 100,000 requests. Who may see what is filtered per caller, afterwards.
final class StateViews: Sendable {
    struct Key: Equatable {
        let version: UInt64
        /// The ledger's size: another process's appends show at once.
        let size: UInt64
        let bucket: Int64
    }
    struct Views: Sendable {
        let key: Key
        let candidates: [DeploymentRequest]
        var inventory: [EnvironmentInventory]?
    }

    /// How long a view may be reused while nothing is committed here.
    static let freshnessMilliseconds: Int64 = 5_000
    private let cached = Mutex<Views?>(nil)

    private func key(_ service: SignoffService) async throws -> Key {
        Key(version: service.changes.version, size: try await service.ledger.size(), bucket: service.now / Self.freshnessMilliseconds)
    }

    /// The state and its inbox candidates. The key is taken before the state is read, so a view is never newer than
    /// its key says.
    func candidates(_ service: SignoffService) async throws -> (SignoffState, [DeploymentRequest]) {
        let key = try await key(service)
        let state = try await service.state()
        if let hit = cached.withLock({ $0?.key == key ? $0?.candidates : nil }) { return (state, hit) }
        let fresh = Inbox.candidates(in: state)
        cached.withLock { $0 = Views(key: key, candidates: fresh, inventory: nil) }
        return (state, fresh)
    }

    /// The state and the inventory of every project (the caller filters what the person may read, and by project and
    /// environment).
    func inventory(_ service: SignoffService) async throws -> (SignoffState, [EnvironmentInventory]) {
        let key = try await key(service)
        let state = try await service.state()
        if let hit = cached.withLock({ $0?.key == key ? $0?.inventory : nil }) { return (state, hit) }
        let fresh = Inventory.deployments(in: state, now: service.now)
        cached.withLock { views in
            if views?.key == key { views?.inventory = fresh } else { views = Views(key: key, candidates: Inbox.candidates(in: state), inventory: fresh) }
        }
        return (state, fresh)
    }
}
