import Foundation
import SignoffCrypto
import SignoffTestSupport
import Testing

@Suite("Sealed key files")
struct SealedKeyFileTests {
    static func passphrase(_ text: String) -> SecureBytes {
        var bytes = Array(text.utf8)
        return SecureBytes(consuming: &bytes)
    }

    /// One sealed file shared by the corruption tests: Argon2id is deliberately slow.
    static let sample: (key: Ed25519.SigningKey, file: [UInt8]) = {
        let key = Ed25519.SigningKey()
        return (key, try! SealedKeyFile.seal(key, name: "alice", passphrase: passphrase("correct horse")))
    }()

    @Test("Round trip: the opened key signs like the original")
    func roundTrip() throws {
        let (key, file) = Self.sample
        let opened = try SealedKeyFile.open(file, passphrase: Self.passphrase("correct horse"))
        #expect(opened.name == "alice")
        #expect(opened.signingKey.publicKey == key.publicKey)
        #expect(opened.signingKey.signature(for: [1, 2, 3]) == key.signature(for: [1, 2, 3]))
        let header = try SealedKeyFile.header(of: file)
        #expect(header.limits.opsLimit >= SealedKeyFile.KDFLimits.interactive.opsLimit)
        #expect(header.limits.memLimitKiB >= SealedKeyFile.KDFLimits.interactive.memLimitKiB)
        #expect(header.verifierKey.publicKey == key.publicKey)
    }

    @Test("Each seal uses a fresh salt and nonce")
    func freshSalt() throws {
        let key = Ed25519.SigningKey()
        let a = try SealedKeyFile.seal(key, name: "k", passphrase: Self.passphrase("p"))
        let b = try SealedKeyFile.seal(key, name: "k", passphrase: Self.passphrase("p"))
        #expect(a != b)
    }

    @Test("A wrong passphrase is refused as such")
    func wrongPassphrase() {
        #expect { try SealedKeyFile.open(Self.sample.file, passphrase: Self.passphrase("correct horsf")) } throws: {
            ($0 as? CryptoError)?.code == .wrongPassphrase
        }
    }

    @Test("A truncated file is refused as truncated, at every length")
    func truncated() {
        let file = Self.sample.file
        for length in 1..<file.count {
            #expect(throws: CryptoError.self) { try SealedKeyFile.header(of: Array(file.prefix(length))) }
            do {
                _ = try SealedKeyFile.header(of: Array(file.prefix(length)))
            } catch {
                #expect(error.code == .truncated, "length \(length): \(error.message)")
            }
        }
    }

    @Test("A flipped byte anywhere is refused, and never mistaken for a wrong passphrase")
    func flippedByte() {
        let file = Self.sample.file
        for index in file.indices {
            var damaged = file
            damaged[index] ^= 0x20
            do {
                _ = try SealedKeyFile.header(of: damaged)
                Issue.record("byte \(index) flipped was accepted")
            } catch {
                // Byte 58 is the name's length: changing it makes the file look short or overlong.
                let expected: Set<CryptoError.Code> =
                    switch index {
                    case ..<8: [.notAKeyFile]
                    case 8: [.unsupportedVersion]
                    case 58: [.truncated, .corrupted]
                    default: [.corrupted]
                    }
                #expect(expected.contains(error.code), "byte \(index): \(error.code) \(error.message)")
            }
        }
    }

    @Test("An unknown format version is refused as such")
    func unknownVersion() {
        var file = Self.sample.file
        file[8] = 2
        #expect { try SealedKeyFile.open(file, passphrase: Self.passphrase("correct horse")) } throws: {
            ($0 as? CryptoError)?.code == .unsupportedVersion
        }
    }

    @Test("A file that is not a key file is refused as such")
    func notAKeyFile() {
        #expect { try SealedKeyFile.header(of: Array("PeterNeumann+c74f20a3+ARpc2Qc".utf8)) } throws: {
            ($0 as? CryptoError)?.code == .notAKeyFile
        }
    }

    @Test("A file whose Argon2id cost was lowered below INTERACTIVE is refused")
    func weakParameters() {
        var file = Self.sample.file
        file[10..<14] = [0, 0, 0, 1]  // opslimit 1
        // An attacker with write access can recompute the checksum; the cost check must still refuse.
        let body = Array(file.dropLast(32))
        file = body + SHA256Digest.hash(body).bytes
        #expect { try SealedKeyFile.open(file, passphrase: Self.passphrase("correct horse")) } throws: {
            ($0 as? CryptoError)?.code == .weakParameters
        }
    }

    @Test("An empty passphrase is refused unless explicitly allowed")
    func emptyPassphrase() throws {
        let key = Ed25519.SigningKey()
        #expect { try SealedKeyFile.seal(key, name: "ci", passphrase: Self.passphrase("")) } throws: {
            ($0 as? CryptoError)?.code == .emptyPassphrase
        }
        let file = try SealedKeyFile.seal(key, name: "ci", passphrase: Self.passphrase(""), allowEmptyPassphrase: true)
        #expect(try SealedKeyFile.open(file, passphrase: Self.passphrase("")).signingKey.publicKey == key.publicKey)
    }

    @Test("Private key files are written with mode 0600 and never overwritten")
    func fileMode() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("alice.key").path
        try KeyFiles.createExclusive(path: path, bytes: Self.sample.file, mode: 0o600)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(throws: CryptoError.self) { try KeyFiles.createExclusive(path: path, bytes: [1], mode: 0o600) }
        #expect(try KeyFiles.readFile(path: path) == Self.sample.file)
        let opened = try KeyFiles.openSealedKey(path: path, passphrase: Self.passphrase("correct horse"))
        #expect(opened.signingKey.publicKey == Self.sample.key.publicKey)
    }
}
