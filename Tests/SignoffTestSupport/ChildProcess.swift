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
    private let exitStatus = Mutex<(status: Int32?, waiters: [@Sendable (Int32) -> Void])>((nil, []))
    private let stdoutReader: PipeReader?
    private let stderrReader: PipeReader?

    /// Starts `executable` with `arguments`; `input` is written to its standard input, which is then closed.
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
        let stdinPipe = Pipe()
        process.standardInput = stdinPipe
        func attach(_ output: Output) throws -> (Any, PipeReader?) {
            switch output {
            case .capture:
                let pipe = Pipe()
                return (pipe, PipeReader(pipe.fileHandleForReading))
            case .file(let url):
                if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
                let handle = try FileHandle(forWritingTo: url)
                try handle.seekToEnd()
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
        // Called on a thread of Foundation's own once the child has exited (never on the cooperative pool).
        process.terminationHandler = { [self] process in
            let code = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
            let waiters = exitStatus.withLock { state -> [@Sendable (Int32) -> Void] in
                state.status = code
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter(code) }
        }
        try process.run()
        let group = process.processIdentifier
        Self.live.withLock { $0[group] = label }
        // Reading starts on threads of its own (a blocking read on the cooperative pool would hold it).
        outReader?.start()
        errReader?.start()
        if !input.isEmpty { try? stdinPipe.fileHandleForWriting.write(contentsOf: input) }
        try? stdinPipe.fileHandleForWriting.close()
    }

    /// Calls `waiter` with the exit status once the child has exited (at once if it has).
    private func onExit(_ waiter: @escaping @Sendable (Int32) -> Void) {
        let now = exitStatus.withLock { state -> Int32? in
            if let status = state.status { return status }
            state.waiters.append(waiter)
            return nil
        }
        if let now { waiter(now) }
    }

    /// The exit status (128 + the signal when a signal ended it), once the child has exited.
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in onExit { continuation.resume(returning: $0) } }
    }

    /// Whether the child has exited.
    public var hasExited: Bool { exitStatus.withLock { $0.status != nil } }

    /// The exit status, or nil when the child has not exited within `limit` (it is left running).
    public func exited(within limit: Duration) async -> Int32? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            // Whichever comes first answers: the exit or the timer.
            let once = Mutex<CheckedContinuation<Int32?, Never>?>(continuation)
            onExit { status in once.withLock { $0.take() }?.resume(returning: status) }
            Task {
                try? await Task.sleep(for: limit)
                once.withLock { $0.take() }?.resume(returning: nil)
            }
        }
    }

    /// Ends the child and its process group: SIGTERM, SIGKILL after `grace`, then SIGKILL to the rest of the group.
    /// Returns the child's exit status.
    @discardableResult
    public func end(grace: Duration = .seconds(5)) async -> Int32 {
        if !hasExited { _ = killpg(pid, SIGTERM) }
        if await exited(within: grace) == nil { _ = killpg(pid, SIGKILL) }
        let status = await exited()
        _ = killpg(pid, SIGKILL)  // what the group still holds
        Self.live.withLock { _ = $0.removeValue(forKey: pid) }
        return status
    }

    /// Like ``end(grace:)``, without waiting: for a `defer`, which cannot await. A thread of its own sends SIGKILL after
    /// `grace` if the child is still there.
    public func endSoon(grace: Duration = .seconds(5)) {
        guard !hasExited else {
            _ = killpg(pid, SIGKILL)
            Self.live.withLock { _ = $0.removeValue(forKey: pid) }
            return
        }
        _ = killpg(pid, SIGTERM)
        let group = pid
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        Thread.detachNewThread { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            while !hasExited && Date() < deadline { usleep(20_000) }
            _ = killpg(group, SIGKILL)
            Self.live.withLock { _ = $0.removeValue(forKey: group) }
        }
    }

    /// What the child wrote to its captured outputs, once it has closed them.
    public func output() async -> (stdout: String, stderr: String) {
        let out = await stdoutReader?.collected() ?? []
        let err = await stderrReader?.collected() ?? []
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
            let partial = await child.output()
            throw TestSupportError("\(child.label) did not finish within \(deadline); ended. Its output so far:\n\(partial.stdout.suffix(2000))\n\(partial.stderr.suffix(2000))")
        }
        _ = killpg(child.pid, SIGKILL)  // anything it left in its group
        live.withLock { _ = $0.removeValue(forKey: child.pid) }
        let (stdout, stderr) = await child.output()
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

    private static let installExitHandler: Void = { atexit { ChildProcess.endAll() } }()
}

/// Reads a pipe to its end on a thread of its own, then hands what it read to whoever waits.
final class PipeReader: @unchecked Sendable {
    private let handle: FileHandle
    private let state = Mutex<(data: [UInt8]?, waiters: [CheckedContinuation<[UInt8], Never>])>((nil, []))

    init(_ handle: FileHandle) { self.handle = handle }

    func start() {
        Thread.detachNewThread { [self] in
            let data = [UInt8](handle.readDataToEndOfFile())
            try? handle.close()
            let waiters = state.withLock { state -> [CheckedContinuation<[UInt8], Never>] in
                state.data = data
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: data) }
        }
    }

    func collected() async -> [UInt8] {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> [UInt8]? in
                if let data = state.data { return data }
                state.waiters.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}
