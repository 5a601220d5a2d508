import ArgumentParser
import SignoffCrypto
import SignoffLedger

/// Exit codes, documented in `signoff --help`.
enum ExitStatus {
    static let failure: Int32 = 1
    static let refused: Int32 = 2
    static let verificationFailed: Int32 = 3
    static let badInput: Int32 = 64
    /// `gate --wait` ran out of time (sysexits' EX_TEMPFAIL: try again later).
    static let timedOut: Int32 = 75
}

/// An error the CLI reports in one line and maps to a documented exit code.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let exitCode: Int32
    /// The refusal rule, when the engine or the server refused (`schema/refusals.md`).
    var rule: String? = nil

    static func badInput(_ message: String) -> CLIError { CLIError(message: message, exitCode: ExitStatus.badInput) }
    static func failure(_ message: String) -> CLIError { CLIError(message: message, exitCode: ExitStatus.failure) }
    static func verificationFailed(_ message: String) -> CLIError { CLIError(message: message, exitCode: ExitStatus.verificationFailed) }

    var description: String { message }
}

extension CryptoError {
    /// Which exit code a crypto failure maps to: malformed input is the caller's to fix; a key that
    /// does not open or a file that fails its check is a verification failure.
    var cliError: CLIError {
        switch code {
        case .corrupted, .badSignature, .thresholdNotMet: .verificationFailed(message)
        case .fileIO, .libraryUnavailable: .failure(message)
        default: .badInput(message)
        }
    }
}

/// Runs `body`, printing a failure as `signoff: error: …` on standard error and exiting with its code. With `--json`,
/// the failure is also one JSON document on standard output (`{"error":{"exit_code":…,"message":…,"rule":…}}`), so
/// that a script reading the answer always reads JSON.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as CLIError {
        throw failed(error)
    } catch let error as CryptoError {
        throw failed(error.cliError)
    } catch let error as LedgerError {
        throw failed(error.cliError)
    } catch let error as LedgerVerificationFailure {
        // A database whose metadata or contents fail a check is a verification failure, named.
        throw failed(CLIError(message: "verification FAILED (\(error.kind.rawValue)): \(error.message)", exitCode: ExitStatus.verificationFailed))
    } catch let error as ExitCode {
        throw error
    } catch {
        // Storage errors and the like: a local operator needs the text to act on it.
        throw failed(CLIError(message: "\(error)", exitCode: ExitStatus.failure))
    }
}

/// Reports `error` (standard error; with `--json`, standard output too) and returns the exit to throw.
private func failed(_ error: CLIError) -> ExitCode {
    printError(error.message)
    if CommandLine.arguments.dropFirst().contains("--json") {
        struct Failure: Encodable {
            struct Detail: Encodable {
                let exit_code: Int32
                let message: String
                let rule: String?
            }
            let error: Detail
        }
        printJSON(Failure(error: .init(exit_code: error.exitCode, message: error.message, rule: error.rule)))
    }
    return ExitCode(error.exitCode)
}

/// Progress of long work, on standard error (so that standard output stays the answer).
func printProgress(_ message: String) {
    var stderr = StandardError()
    print("signoff: \(message)", to: &stderr)
}

func printError(_ message: String) {
    var stderr = StandardError()
    print("signoff: error: \(message)", to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.write(fd: 2, string)
    }
}
