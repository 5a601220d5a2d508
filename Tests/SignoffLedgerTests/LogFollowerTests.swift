import SignoffCrypto
@testable import SignoffLedger
import Testing

/// Issue 32, part 5's core without I/O: a monitor folds entry records (as tlog-tiles bundles carry them) into its
/// frontier, in sequence and time order, and so reproduces the log's roots.
@Suite("Log follower (a monitor's state)")
struct LogFollowerTests {
    static func entry(_ sequence: UInt64, time: Int64, project: String = "churn-model") throws -> LedgerEntry {
        try LedgerEntry(sequence: sequence, timeMilliseconds: time, kind: "group.created", project: project, environment: "qa", actor: "ada", payload: Array("{\"n\":\(sequence)}".utf8))
    }

    @Test("Records folded in order give the log's root at every size; a record out of sequence, earlier than the one before, or malformed is refused")
    func follows() throws {
        let entries = try (0..<40).map { try Self.entry(UInt64($0), time: 1_780_000_000_000 + Int64($0 / 3)) }
        var follower = LogFollower()
        for entry in entries {
            try follower.append(record: entry.record)
            #expect(follower.rootHash == Merkle.rootHash(leaves: entries.prefix(Int(entry.sequence) + 1).map(\.leafHash)))
        }
        #expect(follower.size == 40 && follower.lastTime == 1_780_000_000_013)
        // A version-2 record is the header with the payload's digest: the header reads back.
        #expect(try LogFollower.header(ofRecord: entries[7].record) == entries[7].header)
        var copy = follower
        #expect(throws: LedgerError.self) { try copy.append(record: try Self.entry(41, time: 1_780_000_000_013).record) }
        #expect(throws: LedgerError.self) { try copy.append(record: try Self.entry(40, time: 1_780_000_000_012).record) }
        #expect(throws: LedgerError.self) { try copy.append(record: try Self.entry(40, time: 1_780_000_000_013).record + [0]) }
        #expect(throws: LedgerError.self) { try copy.append(record: [2, 0, 0]) }
        #expect(copy == follower, "a refused record changes nothing")
        // Resumed from a saved frontier, it goes on as if it had never stopped.
        var resumed = LogFollower(frontier: try MerkleFrontier(size: follower.frontier.size, hashes: follower.frontier.hashes), lastTime: follower.lastTime)
        let next = try Self.entry(40, time: 1_780_000_000_020)
        try resumed.append(record: next.record)
        #expect(resumed.rootHash == Merkle.rootHash(leaves: (entries + [next]).map(\.leafHash)))
    }
}
