import SignoffCrypto
import SignoffLedger
import Testing

@Suite("Checkpoint policy (pure)")
struct CheckpointPolicyTests {
    let policy = CheckpointPolicy(everyEntries: 10, everySeconds: 5, milestoneEvery: 8)

    @Test("Due: always for a first checkpoint of a non-empty tree; never when nothing waits; by count; by the oldest uncovered entry's age")
    func due() {
        #expect(policy.isDue(size: 1, lastSigned: nil, now: 0) { Issue.record("time not needed"); return nil })
        #expect(!policy.isDue(size: 0, lastSigned: nil, now: 0) { nil })
        #expect(!policy.isDue(size: 7, lastSigned: 7, now: 1_000_000) { Issue.record("time not needed"); return nil })
        #expect(!policy.isDue(size: 6, lastSigned: 7, now: 1_000_000) { nil })
        #expect(policy.isDue(size: 17, lastSigned: 7, now: 0) { Issue.record("the count decides alone"); return nil })
        #expect(!policy.isDue(size: 16, lastSigned: 7, now: 4_999) { 0 })
        #expect(policy.isDue(size: 16, lastSigned: 7, now: 5_000) { 0 })
        // A missing time (the row cannot be read) counts as now: not due by time.
        #expect(!policy.isDue(size: 8, lastSigned: 7, now: 99_999) { nil })
    }

    @Test("Kept: the newest and every positive multiple of the milestone interval below it, nothing else", arguments: 0..<40)
    func kept(newest: Int) {
        let newest = UInt64(newest)
        for size in 0...newest + 2 {
            let expected = size == newest || (size > 0 && size < newest && size % 8 == 0)
            #expect(policy.keeps(treeSize: size, newest: newest) == expected, "size \(size), newest \(newest)")
        }
    }

    @Test("Milestones to sign: those passed since the last one, in order; all of them when filling gaps")
    func milestones() {
        #expect(policy.milestones(below: 8, after: 0) == [])
        #expect(policy.milestones(below: 9, after: 0) == [8])
        #expect(policy.milestones(below: 33, after: 8) == [16, 24, 32])
        #expect(policy.milestones(below: 33, after: 32) == [])
        #expect(policy.milestones(below: 40, after: 35) == [])
        #expect(policy.allMilestones(below: 25) == [8, 16, 24])
        for size in UInt64(0)..<100 {
            let all = policy.allMilestones(below: size)
            #expect(all == all.sorted() && all.allSatisfy { $0 > 0 && $0 < size && $0 % 8 == 0 })
            #expect(all.count == Int(size == 0 ? 0 : (size - 1) / 8))
            #expect(all.allSatisfy { policy.keeps(treeSize: $0, newest: size) })
        }
    }

    @Test("The next checkpoint extends the last signed one; a tree that does not is refused, never signed")
    func consistency() throws {
        let tree = MemoryNodes.filled(20)
        let root = { (size: UInt64) in referenceRoot(tree.leaves.prefix(Int(size))) }
        let last = try Checkpoint(origin: "signoff.test/ledger", size: 12, rootHash: root(12))
        let next = try CheckpointPolicy.nextCheckpoint(origin: "signoff.test/ledger", size: 20, root: root(20), extending: last, nodes: tree)
        #expect(next.size == 20 && next.rootHash == root(20))
        // A first checkpoint needs no proof.
        #expect(try CheckpointPolicy.nextCheckpoint(origin: "signoff.test/ledger", size: 20, root: root(20), extending: nil, nodes: tree).size == 20)
        // Another tree of the same size (entries rewritten) does not extend the signed one.
        var forked = MemoryNodes()
        for i in 0..<20 { forked.append(Merkle.leafHash(Array("other \(i)".utf8))) }
        #expect(throws: (any Error).self) {
            try CheckpointPolicy.nextCheckpoint(
                origin: "signoff.test/ledger", size: 20, root: referenceRoot(forked.leaves[...]), extending: last, nodes: forked)
        }
    }
}
