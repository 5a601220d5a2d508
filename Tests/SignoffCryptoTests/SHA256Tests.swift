import CSodium
import Foundation
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Signoff's SHA-256 (`Sources/CSHA256`: the x86-64 SHA extensions where the processor has them, portable C otherwise)
/// against FIPS 180-4's examples, libsodium's and Python's `hashlib`, each compression function on its own.
@Suite("SHA-256, both compression functions")
struct SHA256Tests {
    static func sodium(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&out, bytes, UInt64(bytes.count))
        return out
    }

    /// `bytes` hashed by `hasher`, given in pieces cut at `splits`.
    static func streamed(_ bytes: [UInt8], splits: [Int], into hasher: SHA256Hasher) -> [UInt8] {
        var hasher = hasher
        var at = 0
        for split in splits.sorted() where split >= at && split <= bytes.count {
            hasher.update(bytes[at..<split])
            at = split
        }
        hasher.update(bytes[at...])
        return hasher.finalize().bytes
    }

    static func portable(_ bytes: [UInt8], splits: [Int] = []) -> [UInt8] { streamed(bytes, splits: splits, into: .portable()) }

    static func hardware(_ bytes: [UInt8], splits: [Int] = []) -> [UInt8] { streamed(bytes, splits: splits, into: SHA256Hasher()) }

    @Test("FIPS 180-4's examples and the million a's, one-shot and streamed, both ways")
    func knownAnswers() {
        let vectors: [([UInt8], String)] = [
            ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            (Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8),
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
            ([UInt8](repeating: 0x61, count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ]
        for (message, expected) in vectors {
            #expect(Hex.encode(SHA256Digest.hash(message).bytes) == expected)
            #expect(Hex.encode(Self.portable(message)) == expected)
            #expect(Hex.encode(Self.hardware(message, splits: [1, 63, 64, 65, 130])) == expected)
            #expect(Hex.encode(Self.portable(message, splits: [55, 56, 57, 119, 120])) == expected)
        }
    }

    @Test("every length from 0 to 1,100 bytes and random messages split at random places: both functions equal libsodium's")
    func againstLibsodium() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...1_100 {
            let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Self.sodium(message)
            #expect(SHA256Digest.hash(message).bytes == expected, "length \(length)")
            #expect(Self.portable(message) == expected, "length \(length), portable")
            let splits = (0..<3).map { _ in Int.random(in: 0...length) }
            #expect(Self.hardware(message, splits: splits) == expected, "length \(length), split at \(splits)")
            #expect(Self.portable(message, splits: splits) == expected, "length \(length), portable, split at \(splits)")
        }
        for _ in 0..<200 {
            let message = (0..<Int.random(in: 0...20_000)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(SHA256Digest.hash(message).bytes == Self.sodium(message))
        }
    }

    @Test("Python's hashlib agrees on 300 random messages")
    func againstPython() async throws {
        var messages: [[UInt8]] = []
        for i in 0..<300 { messages.append((0..<(i * 7 % 1_000)).map { _ in UInt8.random(in: 0...255) }) }
        let input = messages.map { Hex.encode($0) }.joined(separator: "\n") + "\n"
        let script = "import sys, hashlib\nfor line in sys.stdin.read().split('\\n')[:-1]: print(hashlib.sha256(bytes.fromhex(line)).hexdigest())"
        let result = try await TestSupport.run(try await TestSupport.python(), ["-c", script], input: Array(input.utf8))
        try #require(result.status == 0, "\(result.stderr)")
        let digests = result.stdout.split(separator: "\n").map(String.init)
        #expect(digests == messages.map { Hex.encode(SHA256Digest.hash($0).bytes) })
    }

    @Test("this machine's processor: which function is used is reported (the x86-64 runners have the SHA extensions)")
    func hardwareReported() {
        #if arch(x86_64)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        #expect(SHA256Hasher.usesHardware == flags.contains(" sha_ni"), "cpuinfo says sha_ni: \(flags.contains(" sha_ni"))")
        #else
        #expect(!SHA256Hasher.usesHardware)
        #endif
    }
}
