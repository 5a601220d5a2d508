public import Foundation
internal import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A process a test starts, waited for without holding a thread of the cooperative pool (Swift Testing runs tests on
/// it, two threads wide on two cores: a blocking `waitUntilExit()` there stalls every other test).
///
/// Every child leads its own process group (Foundation's `Process` starts it so on Linux), and ending it ends the group:
/// SIGTERM, then SIGKILL after a grace period, then SIGKILL to whatever of the group is left (a `pyenv` shim's Python,
/// a server's helper). Every child is registered until its group is gone; when the test process exits, pass or fail,
/// what is left is killed (``endAll()`` runs at exit), and `scripts/leftovers.sh` fails `make test` on any survivor.
public final class ChildProcess: @unchecked Sendable {
    public enum Output: Sendable {
        /// Collected in memory; ``output()`` returns it once the child has closed it.
        case capture
        /// Appended to a file (a server's log).
        case file(URL)
        case discard
    }

    public let process: Process
    public let label: String
    public var pid: Int32 { process.processIdentifier }
    private let state = ExitState()
    private let stdoutReader: PipeReader?
    private let stderrReader: PipeReader?

    /// What the termination handler shares with the waiters (not the child itself: no reference cycle through the
    /// handler, which Foundation never clears).
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
        process = Process()
        label = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments.prefix(3)).joined(separator: " ")
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        // Every descriptor made here is close-on-exec (FD_CLOEXEC, O_CLOEXEC): a child another test starts meanwhile does not
        // inherit it (an inherited write end would keep this child's output open after it exits). The child gets its
        // own copies as 0, 1 and 2, which dup2 makes inheritable.
        var childEnds: [FileHandle] = []
        let stdin = try Self.pipe()
        process.standardInput = stdin.read
        childEnds.append(stdin.read)
        var files: [String: FileHandle] = [:]
        func attach(_ output: Output) throws -> (FileHandle, PipeReader?) {
            switch output {
            case .capture:
                let pipe = try Self.pipe()
                childEnds.append(pipe.write)
                return (pipe.write, PipeReader(pipe.read))
            case .file(let url):
                // One handle per file, appending: a log given as both outputs keeps both streams' lines.
                if let open = files[url.path] { return (open, nil) }
                let fd = Glibc.open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw TestSupportError("cannot open \(url.path) for the child's output") }
                let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
                files[url.path] = handle
                childEnds.append(handle)
                return (handle, nil)
            case .discard:
                return (FileHandle.nullDevice, nil)
            }
        }
        let (out, outReader) = try attach(stdout)
        let (err, errReader) = try attach(stderr)
        process.standardOutput = out
        process.standardError = err
        stdoutReader = outReader
        stderrReader = errReader
        let state = state
        // Called on a thread of Foundation's own once the child has exited (never on the cooperative pool). The rest of
        // its group goes with it, at once, while the group number is still its own.
        process.terminationHandler = { process in
            let code = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
            let group = process.processIdentifier
            _ = killpg(group, SIGKILL)
            state.groupGone.withLock { $0 = true }
            ChildProcess.live.withLock { _ = $0.removeValue(forKey: group) }
            let waiters = state.exit.withLock { exit -> [@Sendable (Int32) -> Void] in
                exit.status = code
                defer { exit.waiters = [] }
                return exit.waiters
            }
            for waiter in waiters { waiter(code) }
        }
        let group: Int32
        do {
            try process.run()
            group = process.processIdentifier
            Self.live.withLock { if !state.groupGone.withLock({ $0 }) { $0[group] = label } }
        } catch {
            for handle in childEnds { try? handle.close() }
            try? stdin.write.close()
            outReader?.discard()
            errReader?.discard()
            throw error
        }
        // The child has its copies: the parent's are closed (else the readers never see the end of the output).
        for handle in childEnds { try? handle.close() }
        // Reading starts on threads of its own (a blocking read on the cooperative pool would hold it).
        outReader?.start()
        errReader?.start()
        let writer = stdin.write
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

    /// A pipe whose two ends are close-on-exec (set at once: Swift's Glibc does not offer pipe2).
    static func pipe() throws -> (read: FileHandle, write: FileHandle) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw TestSupportError("pipe() failed: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (FileHandle(fileDescriptor: fds[0], closeOnDealloc: true), FileHandle(fileDescriptor: fds[1], closeOnDealloc: true))
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
