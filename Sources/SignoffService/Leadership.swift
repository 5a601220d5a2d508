internal import Foundation
internal import Synchronization
internal import SignoffCrypto

/// Whether this instance is the leader: the holder of the `leader` lease (``CoordinationStore``), which does the work
/// that must be done once however many instances share the database — reminders and escalations, expiry, full
/// verification, periodic checkpoints. The lease lasts ``leaseMilliseconds`` and is renewed every third of it; an
/// instance that dies leaves it to expire, and another takes it over within that time. One instance alone is always
/// the leader.
public final class Leadership: Sendable {
    public static let leaseName = "leader"
    public static let leaseMilliseconds: Int64 = 15_000

    /// This instance: host, process and a random part.
    public let holder: String
    let coordination: any CoordinationStore
    let clock: @Sendable () -> Int64
    private let state = Mutex<(decided: Bool, leader: Bool)>((false, false))

    public init(coordination: any CoordinationStore, clock: @escaping @Sendable () -> Int64) {
        self.coordination = coordination
        self.clock = clock
        holder = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(Hex.encode(SecureRandom.bytes(4)))"
    }

    /// Whether this instance leads now (the first call takes or tries the lease).
    public func isLeader() async -> Bool {
        let known = state.withLock { $0 }
        if known.decided { return known.leader }
        return await renew().leader
    }

    /// What a renewal found.
    public struct Renewal: Sendable {
        public let leader: Bool
        /// Whether this instance's role changed.
        public let changed: Bool
        /// Why the lease could not be read (this instance then follows).
        public let error: (any Error)?
    }

    /// Takes or renews the lease. A database that cannot be reached makes this instance a follower (better none leads
    /// for a while than two).
    @discardableResult
    public func renew() async -> Renewal {
        let now = clock()
        var failure: (any Error)?
        let leader: Bool
        do { leader = try await coordination.acquireLease(Self.leaseName, holder: holder, now: now, until: now + Self.leaseMilliseconds) } catch {
            failure = error
            leader = false
        }
        let was = state.withLock { state -> Bool in
            defer { state = (true, leader) }
            return state.leader
        }
        return Renewal(leader: leader, changed: leader != was, error: failure)
    }

    /// Gives the lease up (a clean shutdown).
    public func resign() async {
        state.withLock { $0 = (true, false) }
        try? await coordination.releaseLease(Self.leaseName, holder: holder)
    }
}

