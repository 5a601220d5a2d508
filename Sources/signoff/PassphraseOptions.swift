import ArgumentParser
import SignoffCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase comes from, in order: a file option, an environment variable, a no-echo prompt.
struct PassphraseSource {
    let file: String?
    let environmentVariable: String
    let fileOptionName: String

    /// Obtains the passphrase. When `confirm` is set and the prompt is used, asks twice.
    func read(purpose: String, confirm: Bool) throws -> SecureBytes {
        if let path = file {
            var bytes: [UInt8]
            do { bytes = try KeyFiles.readFile(path: path, limit: 4096) } catch { throw error.cliError }
            // The first line is the passphrase; its line ending is not part of it.
            if let newline = bytes.firstIndex(of: 0x0A) { bytes.removeSubrange(newline...) }
            if bytes.last == 0x0D { bytes.removeLast() }
            return SecureBytes(consuming: &bytes)
        }
        if let value = getenv(environmentVariable) {
            var bytes = Array(String(cString: value).utf8)
            return SecureBytes(consuming: &bytes)
        }
        guard var first = Terminal.readSecretLine(prompt: "Passphrase for \(purpose): ") else {
            throw CLIError.badInput("no passphrase for \(purpose): no terminal to prompt on; use \(fileOptionName) FILE or set \(environmentVariable)")
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

/// The passphrase of a user's key: `--passphrase-file`, then `SIGNOFF_PASSPHRASE`, then a prompt.
struct PassphraseOptions: ParsableArguments {
    @Option(name: .long, help: "Read the key's passphrase from this file (first line). Otherwise SIGNOFF_PASSPHRASE, otherwise a prompt.")
    var passphraseFile: String?

    var source: PassphraseSource {
        PassphraseSource(file: passphraseFile, environmentVariable: "SIGNOFF_PASSPHRASE", fileOptionName: "--passphrase-file")
    }

    func passphrase(purpose: String, confirm: Bool) throws -> SecureBytes {
        try source.read(purpose: purpose, confirm: confirm)
    }
}
