public import SignoffCore
public import SignoffLedger

/// The projection: the engine's state as documents kept beside the ledger and changed in the same transaction as
/// its appends (``UnitOfWork``), so that a reader never sees one without the other. This protocol is its query side.
public protocol ProjectionStore: Sendable {
    /// The current state (users, projects, requests, …): the whole projection, for queries that need it.
    func state() async throws -> SignoffState
    /// In one snapshot: the ledger's head marker (``StorageTransaction/headMarker()``), the directory's version
    /// (``StorageTransaction/directoryVersion()``) and its documents unless the version equals `known` (the caller's
    /// cached directory is then current), and the documents of the requests named. What the service's caches read to
    /// stay fresh without decoding everything again.
    func read(requests: ReadSet.Requests, directoryUnlessVersion known: Int64?) async throws -> ProjectionRead
    /// The ledger's head marker now (``StorageTransaction/headMarker()``), in one statement: what a cache of the whole
    /// state checks before it answers (one query per read instead of a snapshot's several).
    func headMarker() async throws -> [UInt8]
    /// The current state as far as one request is concerned: the directory and that request. What `gate`,
    /// `status` and `explain` need, read in time that does not grow with the ledger.
    func state(focusedOn request: String) async throws -> SignoffState
    /// Brings a projection written by an earlier Signoff to the current format (rebuilding it from the ledger), so that
    /// reads need not replay the ledger. Servers and writing commands call it once when they open the storage.
    func prepare() async throws
    /// The sequence numbers of the entries about request `id`, in order.
    func entries(ofRequest id: String) async throws -> [UInt64]

    /// Replays the whole ledger from empty and compares the result with the stored projection, document by document.
    func verifyProjection() async throws -> LedgerVerificationFailure?
}

/// What ``ProjectionStore/read(requests:directoryUnlessVersion:)`` read in one snapshot.
public struct ProjectionRead: Sendable {
    public let marker: [UInt8]
    public let directoryVersion: Int64
    /// Nil when the caller's cached directory is current.
    public let directory: [String: String]?
    public let requests: [String: String]

    public init(marker: [UInt8], directoryVersion: Int64, directory: [String: String]?, requests: [String: String]) {
        self.marker = marker
        self.directoryVersion = directoryVersion
        self.directory = directory
        self.requests = requests
    }
}

/// What this version of Signoff makes of a stored projection's format (`projection_meta`'s `format`): the one rule every
/// backend applies before it reads or writes projection documents.
public enum ProjectionFormat: Equatable, Sendable {
    /// This version's (``SignoffState/projectionFormat``): read and written as it is.
    case current
    /// An earlier version's, none yet, or not a format number: rebuilt from the ledger at the next write; reads replay the
    /// ledger meanwhile.
    case rebuild
    /// A later version's: refused, for reads and writes alike. This version could misread its documents, and rebuilding
    /// it in its own format would undo the later version's work — two versions writing one database by turns would rebuild
    /// it at every write, and each would read the other's documents as its own.
    case newer(String)

    public init(stored: String?) {
        guard let stored else {
            self = .rebuild
            return
        }
        if stored == SignoffState.projectionFormat {
            self = .current
        } else if let number = Int(stored), let ours = Int(SignoffState.projectionFormat), number > ours {
            self = .newer(stored)
        } else {
            self = .rebuild
        }
    }

    /// Whether documents may be read as they are; throws for a later version's projection.
    public func isCurrent() throws -> Bool {
        switch self {
        case .current: return true
        case .rebuild: return false
        case .newer(let stored):
            throw LedgerError(
                .storage,
                "this database was written by a later Signoff: its projection is of format \(stored), this signoff reads and writes format \(SignoffState.projectionFormat); use that later version (nothing was read or changed)")
        }
    }
}
