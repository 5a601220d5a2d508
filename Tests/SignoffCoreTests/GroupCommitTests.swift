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
}
