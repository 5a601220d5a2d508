public import Foundation
internal import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A process a test starts, waited for without holding a thread of the cooperative pool (Swift Testing runs tests on
/// it, two threads wide on two cores: a blocking `waitUntilExit()` there stalls every other test).
///
/// Started with `posix_spawn`, not Foundation's `Process`: on Linux `Process.run()` lists `/proc/self/fd` to close every
/// descriptor in the child and copies each entry's full 256-byte name, reading past the end of `readdir`'s buffer once
/// the test process holds more than ~1,365 descriptors (a test run keeps a hundred SQLite databases open at once) — it
/// crashed three CI runs. Here every descriptor this file makes is close-on-exec from birth (`pipe2`, `O_CLOEXEC`) and the
/// child keeps only 0, 1 and 2 (`posix_spawn_file_actions_addclosefrom_np`), so nothing leaks into it either way.
///
/// Every child leads its own process group, and ending it ends the group: SIGTERM, then SIGKILL after a grace period,
/// then SIGKILL to whatever of the group is left (a `pyenv` shim's Python, a server's helper). Every child is registered
/// until its group is gone; when the test process exits, pass or fail, what is left is killed (``endAll()`` runs at
/// exit), and `scripts/leftovers.sh` fails `make test` on any survivor.
public final class ChildProcess: @unchecked Sendable {
    public enum Output: Sendable {
        /// Collected in memory; ``output()`` returns it once the child has closed it.
        case capture
        /// Appended to a file (a server's log).
        case file(URL)
        case discard
    }

    /// The child's process ID, which is also its process group's.
    public let pid: Int32
    public let label: String
    private let state = ExitState()
    private let stdoutReader: PipeReader?
    private let stderrReader: PipeReader?

    /// What the waiting thread shares with the waiters.
    final class ExitState: Sendable {
        let exit = Mutex<(status: Int32?, waiters: [@Sendable (Int32) -> Void])>((nil, []))
        /// Set once the group was killed after its leader exited: later kills must not reach a reused group number.
        let groupGone = Mutex(false)
    }

    /// Starts `executable` with `arguments`; `input` is written to its standard input (on a thread of its own), which
    /// is then closed.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String], currentDirectory: URL? = nil, input: [UInt8] = [],
        stdout: Output = .capture, stderr: Output = .capture
    ) throws {
        ChildProcess.installExitHandler
        label = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments.prefix(3)).joined(separator: " ")
        // The parent's ends of what the child gets as 0, 1 and 2; closed here once the child has its copies.
        var childEnds: [Int32] = []
        var readers: [PipeReader] = []
        var stdinWrite: Int32 = -1
        func closeAll() {
            for fd in childEnds { _ = Glibc.close(fd) }
            if stdinWrite >= 0 { _ = Glibc.close(stdinWrite) }
            for reader in readers { reader.discard() }
        }
        let spawned: Int32
        do {
            let stdin = try Self.pipe()
            childEnds.append(stdin.read)
            stdinWrite = stdin.write
            var files: [String: Int32] = [:]
            func attach(_ output: Output) throws -> (Int32, PipeReader?) {
                switch output {
                case .capture:
                    let pipe = try Self.pipe()
                    childEnds.append(pipe.write)
                    let reader = PipeReader(FileHandle(fileDescriptor: pipe.read, closeOnDealloc: true))
                    readers.append(reader)
                    return (pipe.write, reader)
                case .file(let url):
                    // One descriptor per file, appending: a log given as both outputs keeps both streams' lines.
                    if let open = files[url.path] { return (open, nil) }
                    let fd = Glibc.open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                    guard fd >= 0 else { throw TestSupportError("cannot open \(url.path) for the child's output") }
                    files[url.path] = fd
                    childEnds.append(fd)
                    return (fd, nil)
                case .discard:
                    let fd = Glibc.open("/dev/null", O_WRONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw TestSupportError("cannot open /dev/null for the child's output") }
                    childEnds.append(fd)
                    return (fd, nil)
                }
            }
            let (out, outReader) = try attach(stdout)
            let (err, errReader) = try attach(stderr)
            stdoutReader = outReader
            stderrReader = errReader
            spawned = try Self.spawn(
                executable, arguments, environment: environment, currentDirectory: currentDirectory?.path, stdin: stdin.read, stdout: out, stderr: err)
        } catch {
            closeAll()
            throw error
        }
        pid = spawned
        Self.live.withLock { $0[spawned] = label }
        // The child has its copies: the parent's are closed (else the readers never see the end of the output).
        for fd in childEnds { _ = Glibc.close(fd) }
        // Reading starts on threads of its own (a blocking read on the cooperative pool would hold it).
        stdoutReader?.start()
        stderrReader?.start()
        // Waited for on a thread of its own (never on the cooperative pool). The rest of its group goes with it, at
        // once, while the group number is still its own: the child is not reaped before the kill.
        let state = state
        Thread.detachNewThread {
            var info = siginfo_t()
            var waited: Int32
            repeat { waited = waitid(P_PID, id_t(spawned), &info, WEXITED | WNOWAIT) } while waited != 0 && errno == EINTR
            // Only while the exited leader is still ours (not reaped) is its group number surely its own.
            if waited == 0 { _ = killpg(spawned, SIGKILL) }
            state.groupGone.withLock { $0 = true }
            var status: Int32 = 0
            while waitpid(spawned, &status, 0) < 0 && errno == EINTR {}
            ChildProcess.live.withLock { _ = $0.removeValue(forKey: spawned) }
            // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let waiters = state.exit.withLock { exit -> [@Sendable (Int32) -> Void] in
                exit.status = code
                defer { exit.waiters = [] }
                return exit.waiters
            }
            for waiter in waiters { waiter(code) }
        }
        let writer = FileHandle(fileDescriptor: stdinWrite, closeOnDealloc: true)
        if input.isEmpty {
            try? writer.close()
        } else {
            // A large input would block until the child reads it; a child that exits first would raise SIGPIPE (ignored
            // here, see installExitHandler): written on a thread of its own.
            Thread.detachNewThread {
                try? writer.write(contentsOf: input)
                try? writer.close()
            }
        }
    }

    /// `posix_spawn` of `executable` as the leader of a new process group, with `stdin`, `stdout` and `stderr` as its 0,
    /// 1 and 2 and nothing else open, default signal handling (the test process ignores SIGPIPE; a child must not
    /// inherit that) and an empty signal mask.
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], currentDirectory: String?, stdin: Int32, stdout: Int32,
        stderr: Int32
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the copy. The sources are never 0, 1 or 2 (the test process's own are open).
        for (fd, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            precondition(fd > 2, "a child's standard descriptor must not be one of the parent's own 0, 1, 2")
            posix_spawn_file_actions_adddup2(&actions, fd, target)
        }
        guard let addclosefrom = Self.addclosefrom else { throw TestSupportError("posix_spawn cannot close descriptors here (glibc < 2.34)") }
        _ = addclosefrom(&actions, 3)
        if let currentDirectory {
            guard let addchdir = Self.addchdir else { throw TestSupportError("posix_spawn cannot change directory here (glibc < 2.29)") }
            let code = currentDirectory.withCString { addchdir(&actions, $0) }
            guard code == 0 else { throw TestSupportError("posix_spawn_file_actions_addchdir_np(\(currentDirectory)) failed: \(code)") }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let code = executable.withCString { path in
            (argv + [nil]).withUnsafeBufferPointer { a in
                (envp + [nil]).withUnsafeBufferPointer { e in
                    posix_spawn(&pid, path, &actions, &attributes, a.baseAddress!, e.baseAddress!)
                }
            }
        }
        guard code == 0 else {
            throw TestSupportError("cannot start \(executable): \(String(cString: strerror(code)))")
        }
        return pid
    }

    private typealias FileActionInt = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias FileActionPath = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    /// glibc's GNU extensions, which Swift's Glibc module does not declare: looked up once.
    private static let addclosefrom: FileActionInt? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: FileActionInt.self) }
    private static let addchdir: FileActionPath? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: FileActionPath.self) }
    private static let pipe2: Pipe2? = dlsym(nil, "pipe2").map { unsafeBitCast($0, to: Pipe2.self) }

    /// A pipe whose two ends are close-on-exec from birth (`pipe2`), so that a child another test spawns meanwhile cannot
    /// inherit them (an inherited write end would keep this child's output open after it exits).
    static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard let pipe2 = Self.pipe2 else { throw TestSupportError("pipe2 is missing from this C library") }
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw TestSupportError("pipe2() failed: errno \(errno)") }
        return (fds[0], fds[1])
    }

    /// Sends `signal` to the child's group, unless the group is already gone (its number may belong to another by now).
    private func signalGroup(_ signal: Int32) {
        guard !state.groupGone.withLock({ $0 }) else { return }
        _ = killpg(pid, signal)
    }

    /// Calls `waiter` with the exit status once the child has exited (at once if it has).
    private func onExit(_ waiter: @escaping @Sendable (Int32) -> Void) {
        let now = state.exit.withLock { exit -> Int32? in
            if let status = exit.status { return status }
            exit.waiters.append(waiter)
            return nil
        }
        if let now { waiter(now) }
    }

    /// The exit status (128 + the signal when a signal ended it), once the child has exited.
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in onExit { continuation.resume(returning: $0) } }
    }

    /// Whether the child has exited.
    public var hasExited: Bool { state.exit.withLock { $0.status != nil } }

    /// The exit status, or nil when the child has not exited within `limit` (it is left running).
    public func exited(within limit: Duration) async -> Int32? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            // Whichever comes first answers: the exit or the timer.
            let once = Mutex<CheckedContinuation<Int32?, Never>?>(continuation)
            let timer = Task {
                try? await Task.sleep(for: limit)
                once.withLock { $0.take() }?.resume(returning: nil)
            }
            onExit { status in
                once.withLock { $0.take() }?.resume(returning: status)
                timer.cancel()
            }
        }
    }

    /// Ends the child and its process group: SIGTERM, SIGKILL after `grace`; the rest of the group goes when the child
    /// exits. Returns the child's exit status.
    @discardableResult
    public func end(grace: Duration = .seconds(5)) async -> Int32 {
        signalGroup(SIGTERM)
        if await exited(within: grace) == nil { signalGroup(SIGKILL) }
        return await exited()
    }

    /// Like ``end(grace:)``, without waiting: for a `defer`, which cannot await. A thread of its own sends SIGKILL after
    /// `grace` if the child is still there.
    public func endSoon(grace: Duration = .seconds(5)) {
        guard !hasExited else { return }
        signalGroup(SIGTERM)
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        Thread.detachNewThread { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            while !hasExited && Date() < deadline { usleep(20_000) }
            signalGroup(SIGKILL)
        }
    }

    /// What the child wrote to its captured outputs, once they are closed — or what was read by then, after `limit` (a
    /// process that escaped the group and holds the pipe must not hang the test).
    public func output(within limit: Duration = .seconds(60)) async -> (stdout: String, stderr: String) {
        let out = await stdoutReader?.collected(within: limit) ?? []
        let err = await stderrReader?.collected(within: limit) ?? []
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Runs to completion within `deadline`; past it the child's group is ended and the run fails, naming it.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], currentDirectory: URL? = nil, input: [UInt8] = [],
        deadline: Duration = .seconds(300)
    ) async throws -> TestSupport.ProcessResult {
        let child = try ChildProcess(executable, arguments, environment: environment, currentDirectory: currentDirectory, input: input)
        guard let status = await child.exited(within: deadline) else {
            await child.end(grace: .seconds(2))
            let partial = await child.output(within: .seconds(10))
            throw TestSupportError("\(child.label) did not finish within \(deadline); ended. Its output so far:\n\(partial.stdout.suffix(2000))\n\(partial.stderr.suffix(2000))")
        }
        let (stdout, stderr) = await child.output(within: .seconds(60))
        return TestSupport.ProcessResult(status: status, stdout: stdout, stderr: stderr)
    }

    // MARK: What is still running

    /// Process groups started and not yet ended, with what they run.
    static let live = Mutex<[Int32: String]>([:])

    /// The children still running (a test that forgot one shows here).
    public static var running: [String] { live.withLock { Array($0.values) } }

    /// Kills every group still registered: at exit of the test process, whatever happened.
    public static func endAll() {
        let groups = live.withLock { groups -> [Int32] in
            defer { groups = [:] }
            return Array(groups.keys)
        }
        for group in groups { _ = killpg(group, SIGKILL) }
    }

    /// Once per process: the registry is ended at exit, and SIGPIPE ignored (a child that exits before reading its
    /// input must fail its write, not kill the test process and everything it would have cleaned up).
    private static let installExitHandler: Void = {
        signal(SIGPIPE, SIG_IGN)
        atexit { ChildProcess.endAll() }
    }()
}

/// Reads a pipe to its end on a thread of its own, keeping what it has read so far, and hands it to whoever waits.
final class PipeReader: @unchecked Sendable {
    private let handle: FileHandle
    private let state = Mutex<(data: [UInt8], done: Bool, waiters: [@Sendable ([UInt8]) -> Void])>(([], false, []))

    init(_ handle: FileHandle) { self.handle = handle }

    func start() {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                state.withLock { $0.data += chunk }
            }
            try? handle.close()
            let (data, waiters) = state.withLock { state -> ([UInt8], [@Sendable ([UInt8]) -> Void]) in
                state.done = true
                defer { state.waiters = [] }
                return (state.data, state.waiters)
            }
            for waiter in waiters { waiter(data) }
        }
    }

    /// Closes the reading end without reading (the child never started).
    func discard() { try? handle.close() }

    /// Everything, once the writers have closed the pipe; or what was read by then, after `limit`.
    func collected(within limit: Duration) async -> [UInt8] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[UInt8], Never>) in
            let once = Mutex<CheckedContinuation<[UInt8], Never>?>(continuation)
            let now = state.withLock { state -> [UInt8]? in
                if state.done { return state.data }
                state.waiters.append { data in once.withLock { $0.take() }?.resume(returning: data) }
                return nil
            }
            if let now {
                once.withLock { $0.take() }?.resume(returning: now)
                return
            }
            Task { [self] in
                try? await Task.sleep(for: limit)
                let partial = state.withLock { $0.data }
                once.withLock { $0.take() }?.resume(returning: partial)
            }
        }
    }
}
