import ArgumentParser
import SignoffCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase comes from: `--passphrase-file`, then `SIGNOFF_PASSPHRASE`, then a no-echo prompt.
struct PassphraseOptions: ParsableArguments {
    @Option(name: .long, help: "Read the passphrase from this file (first line). Otherwise SIGNOFF_PASSPHRASE, otherwise a prompt.")
    var passphraseFile: String?

    static let environmentVariable = "SIGNOFF_PASSPHRASE"

    /// Obtains the passphrase. When `confirm` is set and the prompt is used, asks twice.
    func passphrase(purpose: String, confirm: Bool) throws -> SecureBytes {
        if let path = passphraseFile {
            var bytes: [UInt8]
            do { bytes = try KeyFiles.readFile(path: path, limit: 4096) } catch { throw error.cliError }
            // The first line is the passphrase; a trailing newline is not part of it.
            if let newline = bytes.firstIndex(of: 0x0A) { bytes.removeSubrange(newline...) }
            if bytes.last == 0x0D { bytes.removeLast() }
            return SecureBytes(consuming: &bytes)
        }
        if let value = getenv(Self.environmentVariable) {
            var bytes = Array(String(cString: value).utf8)
            return SecureBytes(consuming: &bytes)
        }
        guard var first = Terminal.readSecretLine(prompt: "Passphrase for \(purpose): ") else {
            throw CLIError.badInput("no passphrase: no terminal to prompt on; use --passphrase-file FILE or set \(Self.environmentVariable)")
        }
        if confirm {
            var second = Terminal.readSecretLine(prompt: "Repeat passphrase: ") ?? []
            let same = constantTimeEquals(first, second)
            secureZero(&second)
            guard same else {
                secureZero(&first)
                throw CLIError.badInput("the two passphrases differ; nothing was written")
            }
        }
        return SecureBytes(consuming: &first)
    }
}
