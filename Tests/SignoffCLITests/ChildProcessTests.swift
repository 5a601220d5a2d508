import Foundation
import SignoffTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The test suite's own process starter: Foundation's `Process.run()` crashed CI runs once the test process held more
/// than ~1,365 descriptors (it copies each `/proc/self/fd` entry's full 256-byte name past the end of `readdir`'s
/// buffer); `ChildProcess` spawns with `posix_spawn` instead.
@Suite("ChildProcess")
struct ChildProcessTests {
    @Test("a child starts while the test process holds 3,000 open descriptors, and inherits none of them (not even those without close-on-exec)")
    func manyDescriptors() async throws {
        // Deliberately without O_CLOEXEC: only the spawn's own closing keeps them out of the child.
        let held = (0..<3_000).map { _ in Glibc.open("/dev/null", O_RDONLY) }
        defer { for fd in held where fd >= 0 { _ = Glibc.close(fd) } }
        try #require(held.allSatisfy { $0 >= 0 }, "could not open 3,000 descriptors (ulimit -n?)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count > 3_000)
        // `ls` lists its own descriptors: 0, 1, 2 and the one it reads the directory with.
        let result = try await ChildProcess.run("/bin/ls", ["/proc/self/fd"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.stderr)")
        let listed = result.stdout.split(whereSeparator: \.isNewline).compactMap { Int($0) }
        #expect(!listed.isEmpty && listed.allSatisfy { $0 <= 3 }, "the child inherited descriptors: \(listed.prefix(20))")
    }

    @Test("a child's exit status, its captured output and input, its working directory, a signal's status, and SIGPIPE at its default")
    func basics() async throws {
        let echoed = try await ChildProcess.run("/bin/sh", ["-c", "cat; echo err >&2; pwd; exit 7"], environment: [:], currentDirectory: URL(fileURLWithPath: "/tmp"), input: Array("in\n".utf8))
        #expect(echoed.status == 7)
        #expect(echoed.stdout == "in\n/tmp\n" && echoed.stderr == "err\n", "\(echoed)")
        // The test process ignores SIGPIPE; a child must not: `yes | head` ends `yes` by SIGPIPE (status 141 in sh).
        let pipeStatus = try await ChildProcess.run("/bin/bash", ["-c", "yes | head -1 >/dev/null; echo ${PIPESTATUS[0]}"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(pipeStatus.stdout == "141\n", "SIGPIPE must end `yes` in the child: \(pipeStatus)")
        let sleeper = try ChildProcess("/bin/sleep", ["30"], environment: [:])
        #expect(await sleeper.exited(within: .milliseconds(200)) == nil)
        #expect(await sleeper.end(grace: .seconds(2)) == 128 + SIGTERM)
        #expect(throws: (any Error).self) { try ChildProcess("/nonexistent/program", [], environment: [:]) }
    }
}
