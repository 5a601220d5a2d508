public import Foundation

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
    public static func signoff(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws -> ProcessResult {
        try run(try signoffExecutable, arguments, environment: environment, currentDirectory: directory)
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

    /// The environment of a child process: this process's, without any `SIGNOFF_*` variable (a developer's
    /// SIGNOFF_PASSPHRASE, SIGNOFF_DB, SIGNOFF_SERVER… must not change what a test sees), plus `explicit`.
    public static func childEnvironment(_ explicit: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix(signoffPrefix) }
        for (k, v) in explicit { env[k] = v }
        return env
    }

    /// The prefix of the variables the `signoff` binary reads.
    public static let signoffPrefix = "SIGNOFF_"

    /// Runs a program to completion, feeding `input` on standard input. The child's environment is
    /// ``childEnvironment(_:)``: only the `SIGNOFF_*` variables in `environment` reach it.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        input: [UInt8] = [],
        environment: [String: String] = [:],
        currentDirectory: URL? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = childEnvironment(environment)
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data()
        nonisolated(unsafe) var err = Data()
        group.enter()
        DispatchQueue.global().async { out = stdoutPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { err = stderrPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if !input.isEmpty { stdinPipe.fileHandleForWriting.write(Data(input)) }
        try stdinPipe.fileHandleForWriting.close()
        process.waitUntilExit()
        group.wait()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self)
        )
    }

    /// Runs `Tests/python/<script>` with python3. The Python packages it needs (PyNaCl, securesystemslib)
    /// are installed by `scripts/setup.sh`; a missing one fails the test rather than skipping it.
    public static func runPython(_ script: String, _ arguments: [String], input: [UInt8] = []) throws -> ProcessResult {
        let path = projectRoot.appendingPathComponent("Tests/python").appendingPathComponent(script).path
        return try run("/usr/bin/env", ["python3", path] + arguments, input: input)
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
