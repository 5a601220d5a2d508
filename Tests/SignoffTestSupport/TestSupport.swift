public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Paths and helpers shared by Signoff's test targets.
public enum TestSupport {
    /// The package root, found from this file's location so tests do not depend on the working directory.
    public static let projectRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SignoffTestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// `../shared/testdata/<relative>` beside the project. Throws — never skips — when it is missing.
    public static func sharedTestData(_ relative: String) throws -> URL {
        let url = projectRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TestSupportError("missing shared test data \(url.path): the tests need ../shared/testdata beside the project")
        }
        return url
    }

    /// The built `signoff` executable, next to the test bundle (`swift build --build-tests` builds both).
    public static var signoffExecutable: String {
        get throws {
            let candidates = [
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("signoff"),
                projectRoot.appendingPathComponent(".build/debug/signoff"),
            ]
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
                throw TestSupportError("the signoff executable is not built; run `swift build --build-tests` first")
            }
            return found.path
        }
    }

    /// Runs the built `signoff` with `arguments`.
    public static func signoff(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) async throws -> ProcessResult {
        try await run(try signoffExecutable, arguments, environment: environment, currentDirectory: directory)
    }

    /// A new empty temporary directory.
    public static func temporaryDirectory(_ label: String = "signoff-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public struct ProcessResult: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The environment of a child process: `inherited` (this process's), without any `SIGNOFF_*` variable (a
    /// developer's SIGNOFF_PASSPHRASE, SIGNOFF_DB, SIGNOFF_SERVER… must not change what a test sees), plus `explicit`.
    public static func childEnvironment(_ explicit: [String: String] = [:], inherited: [String: String] = processEnvironment) -> [String: String] {
        var env = inherited.filter { !$0.key.hasPrefix(signoffPrefix) }
        for (k, v) in explicit { env[k] = v }
        return env
    }

    /// This process's environment, read once: tests never change it (`setenv` while another thread reads the
    /// environment — Foundation's `Process.run`, `ProcessInfo` — is undefined behaviour, and crashed a run).
    public static let processEnvironment = ProcessInfo.processInfo.environment

    /// The prefix of the variables the `signoff` binary reads.
    public static let signoffPrefix = "SIGNOFF_"

    /// Runs a program to completion, feeding `input` on standard input, within `deadline` (past it the program's process
    /// group is ended and the run throws). The child's environment is ``childEnvironment(_:)``: only the `SIGNOFF_*`
    /// variables in `environment` reach it. Waits without holding a thread (``ChildProcess``).
    public static func run(
        _ executable: String,
        _ arguments: [String],
        input: [UInt8] = [],
        environment: [String: String] = [:],
        currentDirectory: URL? = nil,
        deadline: Duration = .seconds(300)
    ) async throws -> ProcessResult {
        try await ChildProcess.run(
            executable, arguments, environment: childEnvironment(environment), currentDirectory: currentDirectory, input: input, deadline: deadline)
    }

    /// Runs `Tests/python/<script>` with Python 3. The Python packages it needs (PyNaCl, securesystemslib)
    /// are installed by `scripts/setup.sh`; a missing one fails the test rather than skipping it.
    public static func runPython(_ script: String, _ arguments: [String], input: [UInt8] = [], deadline: Duration = .seconds(300)) async throws -> ProcessResult {
        let path = projectRoot.appendingPathComponent("Tests/python").appendingPathComponent(script).path
        return try await run(try await python(), [path] + arguments, input: input, deadline: deadline)
    }

    /// The Python 3 interpreter itself (`sys.executable`), not a `pyenv` shim: a shim is a shell script that starts
    /// Python as its child, costs a process per run, and survived SIGTERM with the Python under it still running.
    public static func python() async throws -> String { try await PythonLocator.shared.path() }

    /// A free loopback TCP port, as the kernel assigns one: bound to port 0, read back, closed. A server started on it
    /// right after may still lose it to another process; ``RunningServer`` and the Python servers retry on another.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw TestSupportError("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard named == 0 else { throw TestSupportError("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Finds the Python interpreter once.
actor PythonLocator {
    static let shared = PythonLocator()
    private var found: String?

    func path() async throws -> String {
        if let found { return found }
        let result = try await ChildProcess.run(
            "/usr/bin/env", ["python3", "-c", "import sys; print(sys.executable)"], environment: TestSupport.childEnvironment(), deadline: .seconds(60))
        let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSupportError("python3 is not installed or not runnable: \(result.stderr)")
        }
        found = path
        return path
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A small deterministic random generator (SplitMix64), so that property tests reproduce from their seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
