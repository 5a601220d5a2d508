import SignoffAPI
import SignoffCore
import SignoffService
import Synchronization

/// Views of the state that every inbox and dashboard would otherwise rebuild by walking every request: the requests an
/// inbox can hold anything of, the whole inventory, and the inboxes of the people who looked lately. Kept per state —
/// rebuilt after every append (a commit of this server, ``ChangeSignal``, or another process's: the ledger's size) —
/// and, for what depends on the clock (ages, delegations and freezes in force, deployment windows), every few seconds.
/// A page load therefore does not scan 100,000 requests, nor evaluate the gates of every open one for each reload.
/// Who may see what is filtered per caller.
final class StateViews: Sendable {
    /// What the views are of: the state after the newest append.
    struct Key: Equatable {
        let version: UInt64
        /// The ledger's size: another process's appends show at once.
        let size: UInt64
    }
    struct Views: Sendable {
        let key: Key
        /// The open requests and those owing a retrospective: they change only with the state, not with the clock.
        let candidates: [DeploymentRequest]
        var inventory: (bucket: Int64, rows: [EnvironmentInventory])?
        /// Per person: every item waiting for them on the projects they may read.
        var inboxes: [String: (bucket: Int64, items: [InboxItem])] = [:]
    }

    /// How long a clock-dependent view may be reused while nothing is committed.
    static let freshnessMilliseconds: Int64 = 5_000
    /// How many people's inboxes are kept per state.
    static let keptInboxes = 256
    private let cached = Mutex<Views?>(nil)

    private func key(_ service: SignoffService) async throws -> Key {
        Key(version: service.changes.version, size: try await service.ledger.size())
    }

    /// The state and its views, rebuilding the candidates when the state moved on. The key is taken before the state
    /// is read, so a view is never newer than its key says.
    private func views(_ service: SignoffService) async throws -> (SignoffState, Views) {
        let key = try await key(service)
        let state = try await service.state()
        if let hit = cached.withLock({ $0?.key == key ? $0 : nil }) { return (state, hit) }
        let fresh = Views(key: key, candidates: Inbox.candidates(in: state))
        cached.withLock { if $0?.key != key { $0 = fresh } }
        return (state, fresh)
    }

    /// The state and everything waiting for `person` on the projects they may read, oldest first, ages as of now (a
    /// caller with a narrower view, a service token's scopes, filters further by project).
    func inbox(for person: String, _ service: SignoffService) async throws -> (SignoffState, [InboxItem]) {
        let (state, views) = try await views(service)
        let now = service.now
        let bucket = now / Self.freshnessMilliseconds
        if let kept = views.inboxes[person], kept.bucket == bucket { return (state, kept.items.map { $0.aged(at: now) }) }
        let items = Inbox.items(for: person, in: state, now: now, among: views.candidates) {
            Access.mayRead(project: $0.project, principal: person, state: state, now: now)
        }
        cached.withLock { cached in
            guard cached?.key == views.key else { return }
            if cached!.inboxes.count >= Self.keptInboxes { cached!.inboxes.removeAll(keepingCapacity: true) }
            cached!.inboxes[person] = (bucket, items)
        }
        return (state, items)
    }

    /// The state and the inventory of every project (the caller filters what the person may read, and by project and
    /// environment).
    func inventory(_ service: SignoffService) async throws -> (SignoffState, [EnvironmentInventory]) {
        let (state, views) = try await views(service)
        let bucket = service.now / Self.freshnessMilliseconds
        if let kept = views.inventory, kept.bucket == bucket { return (state, kept.rows) }
        let fresh = Inventory.deployments(in: state, now: service.now)
        cached.withLock { cached in
            if cached?.key == views.key { cached!.inventory = (bucket, fresh) }
        }
        return (state, fresh)
    }
}
