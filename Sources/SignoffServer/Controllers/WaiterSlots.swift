internal import Synchronization

/// The gate long polls in flight, per principal and in all: past either cap a long poll is answered 429 at once instead
/// of being held (issue 23: one requester token held 18,000 long polls and the server's memory went from 80 to 893 MiB).
/// A slot is taken before the wait and given back on every way out of it (an answer, an error, a cancelled request, a
/// shutdown), by `defer` in ``Handlers/gate(wait:_:_:)``.
final class WaiterSlots: Sendable {
    /// Why a waiter was turned away.
    enum Full: Equatable {
        case principal(Int)
        case server(Int)
    }

    let perPrincipal: Int
    let total: Int
    private let counts = Mutex<(total: Int, byPrincipal: [String: Int])>((0, [:]))

    init(perPrincipal: Int, total: Int) {
        self.perPrincipal = perPrincipal
        self.total = total
    }

    /// Takes a slot for `principal`, or says which cap is reached.
    func acquire(_ principal: String) -> Full? {
        counts.withLock { counts in
            let mine = counts.byPrincipal[principal, default: 0]
            if mine >= perPrincipal { return .principal(perPrincipal) }
            if counts.total >= total { return .server(total) }
            counts.total += 1
            counts.byPrincipal[principal] = mine + 1
            return nil
        }
    }

    /// Gives back a slot taken by ``acquire(_:)``.
    func release(_ principal: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.byPrincipal[principal, default: 1] - 1
            counts.byPrincipal[principal] = left > 0 ? left : nil
        }
    }

    /// Waiters in flight: all, and `principal`'s.
    func inUse(by principal: String? = nil) -> Int {
        counts.withLock { counts in principal.map { counts.byPrincipal[$0, default: 0] } ?? counts.total }
    }
}
