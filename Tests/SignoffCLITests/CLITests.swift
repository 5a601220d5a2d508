import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SignoffCrypto
import SignoffTestSupport
import Testing

/// End-to-end tests of the built `signoff` binary, run as a subprocess.
@Suite("signoff CLI")
struct CLITests {
    let directory: URL
    let env = ["SIGNOFF_PASSPHRASE": "user secret", "SIGNOFF_LEDGER_PASSPHRASE": "ledger secret"]

    init() throws { directory = try TestSupport.temporaryDirectory("signoff-cli") }

    func signoff(_ arguments: String..., environment: [String: String]? = nil) async throws -> TestSupport.ProcessResult {
        try await TestSupport.signoff(arguments, environment: environment ?? env, in: directory)
    }

    @Test("--version and --help answer, and help documents the exit codes")
    func versionAndHelp() async throws {
        let version = try await signoff("--version")
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try await signoff("--help")
        #expect(help.status == 0)
        for text in ["key", "init", "audit", "Exit codes", "64"] { #expect(help.stdout.contains(text)) }
    }

    @Test("key generate writes a sealed key (0600) and a public key that key show reads")
    func keyGenerate() async throws {
        let result = try await signoff("key", "generate", "--name", "alice", "--out", "alice.key", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let output = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: String]
        let privatePath = directory.appendingPathComponent("alice.key").path
        let mode = try FileManager.default.attributesOfItem(atPath: privatePath)[.posixPermissions] as! NSNumber
        #expect(mode.intValue == 0o600)
        let publicText = try String(contentsOfFile: privatePath + ".pub", encoding: .utf8)
        #expect(publicText == output["verifier_key"]! + "\n")
        let verifierKey = try NoteVerifierKey(parsing: publicText.trimmingCharacters(in: .newlines))
        #expect(verifierKey.name == "alice")
        let opened = try KeyFiles.openSealedKey(path: privatePath, passphrase: { var b = Array("user secret".utf8); return SecureBytes(consuming: &b) }())
        #expect(opened.signingKey.publicKey == verifierKey.publicKey)

        let show = try await signoff("key", "show", "alice.key.pub")
        #expect(show.status == 0)
        #expect(show.stdout.contains("key ID:       \(verifierKey.keyIDHex)"))
        // The sealed file's public part can be shown without the passphrase; the secret never appears.
        let showSealed = try await signoff("key", "show", "alice.key", environment: [:])
        #expect(showSealed.status == 0)
        #expect(showSealed.stdout.contains(verifierKey.description))
    }

    @Test("key generate refuses an empty passphrase, an existing file and a bad name, and says what to do")
    func keyGenerateRefusals() async throws {
        let empty = try await signoff("key", "generate", "--name", "ci", "--out", "ci.key", environment: ["SIGNOFF_PASSPHRASE": ""])
        #expect(empty.status == 64)
        #expect(empty.stderr.contains("--insecure-no-passphrase"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("ci.key").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("ci.key.pub").path))
        let allowed = try await signoff("key", "generate", "--name", "ci", "--out", "ci.key", "--insecure-no-passphrase", environment: ["SIGNOFF_PASSPHRASE": ""])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let again = try await signoff("key", "generate", "--name", "ci", "--out", "ci.key")
        #expect(again.status == 64)
        #expect(again.stderr.contains("already exists"))
        let badName = try await signoff("key", "generate", "--name", "bad name", "--out", "bad.key")
        #expect(badName.status == 64)
        // No terminal and no passphrase source: refused with the ways to provide one.
        // (The caller's own SIGNOFF_PASSPHRASE never reaches the child: see inheritedEnvironment.)
        let noSource = try await signoff("key", "generate", "--name", "bob", "--out", "bob.key", environment: [:])
        #expect(noSource.status == 64)
        #expect(noSource.stderr.contains("--passphrase-file"))
    }

    @Test("A child process sees no SIGNOFF_* variable of the test process, only those the test passes")
    func inheritedEnvironment() async throws {
        // What a developer's shell may hold, beside this process's environment (never set in this process: setenv while
        // other tests start processes is undefined behaviour).
        var inherited = TestSupport.processEnvironment
        inherited.merge([
            "SIGNOFF_PASSPHRASE": "inherited secret", "SIGNOFF_LEDGER_PASSPHRASE": "inherited ledger secret",
            "SIGNOFF_DB": directory.appendingPathComponent("inherited.sqlite").path, "SIGNOFF_USER": "mallory",
            "SIGNOFF_SERVER": "http://127.0.0.1:9", "SIGNOFF_TOKEN_FILE": directory.appendingPathComponent("inherited.token").path,
        ]) { $1 }
        func run(_ executable: String, _ arguments: [String], explicit: [String: String] = [:]) async throws -> TestSupport.ProcessResult {
            try await ChildProcess.run(
                executable, arguments, environment: TestSupport.childEnvironment(explicit, inherited: inherited), currentDirectory: directory, deadline: .seconds(120))
        }

        // Through the same filter the signoff binary is run with: only the variable passed explicitly is there.
        let env = try await run("/usr/bin/env", [], explicit: ["SIGNOFF_USER": "explicit"])
        #expect(env.status == 0, "\(env.stderr)")
        let signoffLines = env.stdout.split(separator: "\n").filter { $0.hasPrefix(TestSupport.signoffPrefix) }
        #expect(signoffLines == ["SIGNOFF_USER=explicit"], "\(signoffLines)")
        #expect(env.stdout.contains("PATH="), "the rest of the environment is inherited")

        // A command that needs a passphrase fails as it would without one, and makes no key.
        let signoff = try TestSupport.signoffExecutable
        let noSource = try await run(signoff, ["key", "generate", "--name", "bob", "--out", "bob.key"])
        #expect(noSource.status == 64, "\(noSource.stderr)")
        #expect(noSource.stderr.contains("--passphrase-file"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("bob.key").path))
        // A command that needs a database does not find the inherited SIGNOFF_DB.
        let noDB = try await run(signoff, ["audit", "verify"])
        #expect(noDB.status == 64 && noDB.stderr.contains("SIGNOFF_DB"), "\(noDB.stderr)")
    }

    @Test("--passphrase-file takes the first line of the file")
    func passphraseFile() async throws {
        try "from file\nignored\n".write(to: directory.appendingPathComponent("pass.txt"), atomically: true, encoding: .utf8)
        let result = try await signoff("key", "generate", "--name", "dora", "--out", "dora.key", "--passphrase-file", "pass.txt", environment: [:])
        #expect(result.status == 0, "\(result.stderr)")
        let path = directory.appendingPathComponent("dora.key").path
        _ = try KeyFiles.openSealedKey(path: path, passphrase: { var b = Array("from file".utf8); return SecureBytes(consuming: &b) }())
    }

    @Test("init, checkpoint and audit verify; a change made with sqlite3 is detected with exit code 3")
    func ledgerLifecycle() async throws {
        await #expect(try signoff("key", "generate", "--name", "ada", "--out", "ada.key").status == 0)
        let initResult = try await signoff("init", "--db", "ledger.sqlite", "--origin", "signoff.test/ledger", "--admin", "ada", "--admin-key", "ada.key.pub")
        #expect(initResult.status == 0, "\(initResult.stderr)")
        let keyMode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("ledger.sqlite.ledger-key").path)[.posixPermissions] as! NSNumber
        #expect(keyMode.intValue == 0o600)

        let verifierKey = try await signoff("checkpoint", "--db", "ledger.sqlite", "--verifier-key")
        #expect(verifierKey.stdout.hasPrefix("signoff.test/ledger+"))
        let checkpoint = try await signoff("checkpoint", "--db", "ledger.sqlite")
        #expect(checkpoint.status == 0)
        #expect(checkpoint.stdout.hasPrefix("signoff.test/ledger\n2\n"))
        #expect(checkpoint.stdout.contains("\n\n\u{2014} signoff.test/ledger "))

        let verify = try await signoff("audit", "verify", "--db", "ledger.sqlite", "--json")
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("\"valid\":true"))

        let tamper = try await TestSupport.run("/usr/bin/env", ["python3", "-c", "import sqlite3; c=sqlite3.connect('ledger.sqlite'); c.execute(\"update ledger_entry set actor='mallory'\"); c.commit()"], currentDirectory: directory)
        #expect(tamper.status == 0, "\(tamper.stderr)")
        let failed = try await signoff("audit", "verify", "--db", "ledger.sqlite")
        #expect(failed.status == 3)
        #expect(failed.stderr.contains("entry 0"))

        let wrongPassphrase = try await signoff("checkpoint", "--db", "ledger.sqlite", "--sign", environment: ["SIGNOFF_LEDGER_PASSPHRASE": "nope"])
        #expect(wrongPassphrase.status != 0)
        #expect(wrongPassphrase.stderr.contains("wrong passphrase"))
        // A verb that only reads never opens the ledger key (64 MiB of Argon2id): a wrong passphrase does not stop it.
        let readOnly = try await signoff("checkpoint", "--db", "ledger.sqlite", environment: ["SIGNOFF_LEDGER_PASSPHRASE": "nope"])
        #expect(readOnly.status == 0 && readOnly.stdout.hasPrefix("signoff.test/ledger\n"), "\(readOnly.stdout) \(readOnly.stderr)")
    }

    @Test("With --json a refusal or an error is one JSON document on standard output too: its exit code, message and rule")
    func jsonFailures() async throws {
        await #expect(try signoff("key", "generate", "--name", "ada", "--out", "ada.key").status == 0)
        await #expect(try signoff("init", "--db", "l.sqlite", "--origin", "o", "--admin", "ada", "--admin-key", "ada.key.pub").status == 0)
        struct Failure: Decodable {
            struct Detail: Decodable {
                let exit_code: Int32
                let message: String
                let rule: String?
            }
            let error: Detail
        }
        let refused = try await signoff("group", "add-member", "nosuch", "ada", "--db", "l.sqlite", "--as", "ada", "--json")
        #expect(refused.status == 64, "\(refused.stderr)")
        let document = try JSONDecoder().decode(Failure.self, from: Data(refused.stdout.utf8))
        #expect(document.error.exit_code == 64 && document.error.rule == "input.unknown" && document.error.message.contains("no group nosuch"), "\(refused.stdout)")
        #expect(refused.stdout.split(separator: "\n").count == 1, "one document")
        #expect(refused.stderr.contains("no group nosuch"), "the text still goes to standard error")
        let unnamed = try await signoff("user", "list", "--db", "missing.sqlite", "--json")
        #expect(unnamed.status != 0)
        let failure = try JSONDecoder().decode(Failure.self, from: Data(unnamed.stdout.utf8))
        #expect(failure.error.exit_code == unnamed.status && failure.error.rule == nil && failure.error.message.contains("no ledger database"), "\(unnamed.stdout)")
        // Without --json, nothing on standard output.
        let plain = try await signoff("group", "add-member", "nosuch", "ada", "--db", "l.sqlite", "--as", "ada")
        #expect(plain.status == 64 && plain.stdout.isEmpty)
    }

    @Test("admin-quorum above the administrators who can sign says what suffices until there are enough")
    func quorumAboveAdministrators() async throws {
        await #expect(try signoff("key", "generate", "--name", "ada", "--out", "ada.key").status == 0)
        await #expect(try signoff("init", "--db", "l.sqlite", "--origin", "o", "--admin", "ada", "--admin-key", "ada.key.pub").status == 0)
        let set = try await signoff("admin-quorum", "2", "--db", "l.sqlite", "--as", "ada", "--key", "ada.key")
        #expect(set.status == 0 && set.stdout.contains("The administrators' quorum is now 2; with 1 administrator able to sign, one signature suffices until there are 2"), "\(set.stdout) \(set.stderr)")
        await #expect(try signoff("key", "generate", "--name", "bob", "--out", "bob.key").status == 0)
        await #expect(try signoff("user", "add", "bob", "--admin", "--key-file", "bob.key.pub", "--db", "l.sqlite", "--as", "ada", "--key", "ada.key").status == 0)
        // Two administrators: a quorum of 3 is met by both for now; a quorum of 1 needs no word.
        for (quorum, said) in [("3", "The administrators' quorum is now 3; with 2 administrators able to sign, 2 signatures suffice until there are 3"), ("1", "The administrators' quorum is now 1")] {
            let out = try await signoff("admin-quorum", quorum, "--db", "l.sqlite", "--as", "ada", "--key", "ada.key", "--approval-out", "q\(quorum).json")
            #expect(out.status == 0, "\(out.stderr)")
            await #expect(try signoff("approval", "cosign", "q\(quorum).json", "--key", "bob.key").status == 0)
            // A key signs once: a second cosignature by it is refused, the file unchanged.
            let before = try Data(contentsOf: directory.appendingPathComponent("q\(quorum).json"))
            for signer in ["bob.key", "ada.key"] {
                let twice = try await signoff("approval", "cosign", "q\(quorum).json", "--key", signer)
                #expect(twice.status == 64 && twice.stderr.contains("already signed with this key"), "\(signer): \(twice.stderr)")
            }
            #expect(try Data(contentsOf: directory.appendingPathComponent("q\(quorum).json")) == before)
            let set = try await signoff("admin-quorum", quorum, "--db", "l.sqlite", "--as", "ada", "--approval", "q\(quorum).json")
            #expect(set.status == 0 && set.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == said, "\(set.status) \(set.stdout) \(set.stderr)")
        }
    }

    @Test("init refuses to overwrite, and commands without a database say how to name one")
    func initRefusals() async throws {
        await #expect(try signoff("key", "generate", "--name", "ada", "--out", "ada.key").status == 0)
        await #expect(try signoff("init", "--db", "l.sqlite", "--origin", "o", "--admin", "ada", "--admin-key", "ada.key.pub").status == 0)
        let again = try await signoff("init", "--db", "l.sqlite", "--origin", "o", "--admin", "ada", "--admin-key", "ada.key.pub")
        #expect(again.status == 64)
        #expect(again.stderr.contains("already exists"))
        let noDB = try await signoff("audit", "verify")
        #expect(noDB.status == 64)
        #expect(noDB.stderr.contains("SIGNOFF_DB"))
        let missing = try await signoff("audit", "verify", "--db", "missing.sqlite", "--log-key", "l.sqlite.ledger-key.pub")
        #expect(missing.status != 0)
        // The command it suggests names every option `init` requires: filled in, it makes the database.
        let hint = try #require(missing.stderr.split(separator: "`").dropFirst().first.map(String.init), "\(missing.stderr)")
        #expect(hint.hasPrefix("signoff init --db missing.sqlite "), "\(hint)")
        let filled = hint.replacingOccurrences(of: "--origin NAME", with: "--origin o2").replacingOccurrences(of: "--admin NAME", with: "--admin ada")
            .replacingOccurrences(of: "KEY.pub", with: "ada.key.pub")
        let made = try await TestSupport.signoff(Array(filled.split(separator: " ").dropFirst().map(String.init)), environment: env, in: directory)
        #expect(made.status == 0, "`\(filled)`: \(made.stderr)")
    }
}
