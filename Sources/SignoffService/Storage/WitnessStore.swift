public import SignoffLedger

/// A witness's state (`signoff witness serve`): for each log it follows, the latest checkpoint it cosigned. C2SP
/// tlog-witness asks that checking the old size and storing the new checkpoint be one atomic step — otherwise two
/// concurrent requests could roll the log back — so the size moves only by compare-and-set. SQLite conforms
/// (`SQLiteWitnessStore`, a file of the witness's own).
public protocol WitnessStore: Sendable {
    /// The latest checkpoint cosigned for `origin`, nil before the first.
    func latest(origin: String) async throws -> Witness.Latest?

    /// Stores `checkpoint` (with its note as received) as the latest for its origin if the latest is still of size
    /// `oldSize` (none counts as 0). False when another request moved it first: nothing is stored.
    func advance(from oldSize: UInt64, to checkpoint: Checkpoint, note: String, at milliseconds: Int64) async throws -> Bool
}
