import ArgumentParser
import Foundation
import SignoffCrypto

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Create and inspect Ed25519 keys (sealed private key files and public key files).",
        subcommands: [Generate.self, Show.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a key pair: PATH holds the passphrase-sealed private key (mode 0600), PATH.pub the public key.",
            discussion: "The public key file holds one line, NAME+KEYIDHEX+BASE64KEY, the C2SP signed-note verifier key."
        )

        @Option(help: "The key's name (no spaces or '+'), e.g. a user name or a ledger origin.")
        var name: String

        @Option(help: "Where to write the sealed private key; the public key goes to PATH.pub.")
        var out: String

        @OptionGroup var passphrase: PassphraseOptions

        @Flag(help: "Allow an empty passphrase (the key file is then protected by file permissions only).")
        var insecureNoPassphrase = false

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                try NoteVerifierKey.validate(name: name)
                let publicPath = out + ".pub"
                for existing in [out, publicPath] where FileManager.default.fileExists(atPath: existing) {
                    throw CLIError.badInput("\(existing) already exists; choose another --out (nothing was written)")
                }
                let secret = try passphrase.passphrase(purpose: "new key \"\(name)\"", confirm: true)
                let key = Ed25519.SigningKey()
                let sealed = try SealedKeyFile.seal(key, name: name, passphrase: secret, allowEmptyPassphrase: insecureNoPassphrase)
                let verifierKey = try NoteVerifierKey(name: name, publicKey: key.publicKey)
                // Write the public file first: if the private one then fails, nothing secret is left behind.
                try KeyFiles.writeVerifierKey(verifierKey, path: publicPath)
                try KeyFiles.createExclusive(path: out, bytes: sealed, mode: 0o600)
                if json {
                    print(JSONOutput.object([
                        "name": .string(name), "key_id": .string(verifierKey.keyIDHex),
                        "key_fingerprint": .string(key.publicKey.keyFingerprint), "verifier_key": .string(verifierKey.description),
                        "private_key_file": .string(out), "public_key_file": .string(publicPath),
                    ]))
                } else {
                    print("Generated key \"\(name)\" (key ID \(verifierKey.keyIDHex))")
                    print("  private key (sealed, mode 0600): \(out)")
                    print("  public key:                      \(publicPath)")
                    print("  verifier key: \(verifierKey)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the name, key ID and public key of a public key file (or of a sealed key file, without opening it)."
        )

        @Argument(help: "A public key file (PATH.pub) or a sealed private key file.")
        var path: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            try await reportingErrors {
                let bytes = try KeyFiles.readFile(path: path)
                let key: NoteVerifierKey
                if bytes.starts(with: SealedKeyFile.magic) {
                    key = try SealedKeyFile.header(of: bytes).verifierKey
                } else {
                    key = try KeyFiles.readVerifierKey(path: path)
                }
                if json {
                    print(JSONOutput.object([
                        "name": .string(key.name), "key_id": .string(key.keyIDHex),
                        "public_key": .string(Base64.encode(key.publicKey.bytes)),
                        "key_fingerprint": .string(key.publicKey.keyFingerprint), "verifier_key": .string(key.description),
                    ]))
                } else {
                    print("name:         \(key.name)")
                    print("key ID:       \(key.keyIDHex)")
                    print("public key:   \(Base64.encode(key.publicKey.bytes)) (Ed25519, base64)")
                    print("fingerprint:  \(key.publicKey.keyFingerprint)")
                    print("verifier key: \(key)")
                }
            }
        }
    }
}
