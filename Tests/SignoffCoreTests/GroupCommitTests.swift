import Foundation
import SignoffService
import Synchronization
import Testing

/// The one writer's round discipline, without storage: every input answered with its own output, in its round, and at
/// most the rounds in flight the mode allows.
@Suite("GroupCommit rounds")
struct GroupCommitTests {
    /// Flushes that record how many run at once, and hold each round a moment so that inputs pile up.
    final class Probe: Sendable {
        let state = Mutex<(running: Int, most: Int, rounds: [[Int]])>((0, 0, []))
        func enter() { state.withLock { $0.running += 1; $0.most = max($0.most, $0.running) } }
        func leave(_ inputs: [Int]) { state.withLock { $0.running -= 1; $0.rounds.append(inputs) } }
    }

    static func load(_ group: GroupCommit<Int, Int>, inputs: Int) async throws -> [Int: Int] {
        try await withThrowingTaskGroup(of: (Int, Int).self) { tasks in
            for i in 0..<inputs { tasks.addTask { (i, try await group.submit(i)) } }
            var answers: [Int: Int] = [:]
            for try await (i, output) in tasks { answers[i] = output }
            return answers
        }
    }

    @Test("rounds that do not overlap run one at a time, even when a flush releases early; every input gets its own answer", arguments: [false, true])
    func sequential(releasing: Bool) async throws {
        let probe = Probe()
        let group = GroupCommit<Int, Int>(maximumBatch: 16, overlapsRounds: false) { round in
            probe.enter()
            let inputs = round.inputs()
            if releasing { round.release() }
            try await Task.sleep(for: .milliseconds(2))
            probe.leave(inputs)
            return inputs.map { .success($0 * 10) }
        }
        let answers = try await Self.load(group, inputs: 200)
        #expect(answers.count == 200 && answers.allSatisfy { $0.value == $0.key * 10 })
        let (most, rounds) = probe.state.withLock { ($0.most, $0.rounds) }
        #expect(most == 1, "two flushes ran at once")
        #expect(rounds.allSatisfy { $0.count <= 16 } && rounds.flatMap { $0 }.sorted() == Array(0..<200))
        #expect(rounds.count < 200, "inputs that arrived together were committed together")
        #expect(group.rounds == rounds.count)
    }

    @Test("overlapping rounds: a flush that releases lets the next start, never a third; without release, one at a time")
    func overlapping() async throws {
        for releasing in [true, false] {
            let probe = Probe()
            let group = GroupCommit<Int, Int>(maximumBatch: 8, overlapsRounds: true) { round in
                probe.enter()
                let inputs = round.inputs()
                if releasing {
                    round.release()
                    // Held until the next round's flush has started (at most 10 s), so that the overlap does not hang on
                    // how busy the machine is; without release nothing may start, and the hold is not made.
                    let deadline = ContinuousClock.now + .seconds(10)
                    while probe.state.withLock({ $0.most }) < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
                }
                try await Task.sleep(for: .milliseconds(3))
                probe.leave(inputs)
                return inputs.map { .success($0 + 1) }
            }
            let answers = try await Self.load(group, inputs: 200)
            #expect(answers.count == 200 && answers.allSatisfy { $0.value == $0.key + 1 })
            let most = probe.state.withLock { $0.most }
            if releasing { #expect(most == 2, "released rounds overlap, two at most (saw \(most))") } else { #expect(most == 1) }
        }
    }

    @Test("a flush that throws fails its round's inputs only; the next round goes on")
    func failure() async throws {
        let group = GroupCommit<Int, Int>(maximumBatch: 1, overlapsRounds: false) { round in
            let inputs = round.inputs()
            struct Boom: Error {}
            if inputs.contains(3) { throw Boom() }
            return inputs.map { .success($0) }
        }
        await #expect(throws: (any Error).self) { try await group.submit(3) }
        #expect(try await group.submit(4) == 4)
    }

    // MARK: Rounds on the writer's own thread

    /// A writer with a thread of its own, as SQLite's (GRDB's writer queue): a serial queue that knows its own threads.
    final class WriterQueue: Sendable {
        let queue = DispatchQueue(label: "signoff.test.writer")
        let key = DispatchSpecificKey<Bool>()
        init() { queue.setSpecific(key: key, value: true) }
        var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }
        func thread(_ drain: @escaping @Sendable (_ flush: GroupCommit<Int, Int>.SynchronousFlush) -> Void) {
            queue.async { drain(self.flush) }
        }
        let flushed = Mutex<(running: Int, most: Int, offThread: Int, rounds: [[Int]])>((0, 0, 0, []))
        let failing = Mutex<Set<Int>>([])
        /// Holds each round a moment, so that inputs pile up; throws for a round holding a failing input.
        func flush(_ inputs: [Int]) throws -> [Result<Int, any Error>] {
            flushed.withLock {
                $0.running += 1
                $0.most = max($0.most, $0.running)
                if !isCurrent { $0.offThread += 1 }
            }
            defer { flushed.withLock { $0.running -= 1; $0.rounds.append(inputs) } }
            usleep(300)
            struct Boom: Error {}
            if !failing.withLock({ $0.isDisjoint(with: inputs) }) { throw Boom() }
            return inputs.map { .success($0 * 10) }
        }
    }

    @Test("rounds on the writer's thread: one at a time, all there, every input answered with its own output")
    func writerThread() async throws {
        let writer = WriterQueue()
        let group = GroupCommit<Int, Int>(maximumBatch: 16) { drain in writer.thread(drain) }
        #expect(!group.overlapsRounds)
        let answers = try await Self.load(group, inputs: 500)
        #expect(answers.count == 500 && answers.allSatisfy { $0.value == $0.key * 10 })
        let (most, offThread, rounds) = writer.flushed.withLock { ($0.most, $0.offThread, $0.rounds) }
        #expect(most == 1, "two flushes ran at once")
        #expect(offThread == 0, "\(offThread) rounds ran off the writer's thread")
        #expect(rounds.allSatisfy { $0.count <= 16 } && rounds.flatMap { $0 }.sorted() == Array(0..<500))
        #expect(rounds.count < 500, "inputs that arrived together were committed together")
        #expect(group.rounds == rounds.count)
        // The drain ended with the load; the next input starts another.
        #expect(try await group.submit(7) == 70)
    }

    @Test("on the writer's thread, a round that throws fails its inputs only; the rounds after go on")
    func writerThreadFailure() async throws {
        let writer = WriterQueue()
        writer.failing.withLock { $0 = [3] }
        let group = GroupCommit<Int, Int>(maximumBatch: 1) { drain in writer.thread(drain) }
        await #expect(throws: (any Error).self) { try await group.submit(3) }
        #expect(try await group.submit(4) == 40)
        writer.failing.withLock { $0 = [] }
        let answers = try await Self.load(group, inputs: 20)
        #expect(answers.count == 20 && answers.allSatisfy { $0.value == $0.key * 10 })
    }

    @Test("under constant load, the drain lets the writer's other work in after roundsPerTurn rounds")
    func writerThreadYields() async throws {
        let writer = WriterQueue()
        let group = GroupCommit<Int, Int>(maximumBatch: 4) { drain in writer.thread(drain) }
        // 64 callers, each submitting 40 times in a row: with 4 inputs a round, inputs are always pending until the end.
        final class Ran: Sendable { let times = Mutex<(queuedAt: Int, ranAt: Int)?>(nil) }
        let ran = Ran()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for caller in 0..<64 {
                tasks.addTask {
                    for i in 0..<40 {
                        _ = try await group.submit(caller * 100 + i)
                        // Once the load is under way, another writer queues its work once.
                        if caller == 0 && i == 2 {
                            let queuedAt = group.rounds
                            writer.queue.async { ran.times.withLock { $0 = (queuedAt, group.rounds) } }
                        }
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let total = 64 * 40 / 4
        let (queuedAt, ranAt) = try #require(ran.times.withLock { $0 })
        #expect(group.rounds >= total)
        #expect(ranAt - queuedAt <= GroupCommit<Int, Int>.roundsPerTurn, "the other work waited \(ranAt - queuedAt) rounds")
        #expect(ranAt < group.rounds, "the other work ran only after the load (round \(ranAt) of \(group.rounds))")
    }
}
