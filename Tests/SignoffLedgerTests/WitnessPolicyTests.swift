import SignoffCrypto
@testable import SignoffLedger
import SignoffTestSupport
import Testing

/// Issue 32, part 3 without I/O: an auditor's policy in C2SP tlog-policy syntax, and a cosigned checkpoint judged by it.
@Suite("Witness policy (C2SP tlog-policy)")
struct WitnessPolicyTests {
    static let logKey = Ed25519.SigningKey()
    static let origin = "example.test/ledger"
    static let log = try! NoteVerifierKey(name: origin, publicKey: logKey.publicKey)
    static let witnessKeys = (0..<6).map { _ in Ed25519.SigningKey() }

    static func cosigner(_ i: Int, name: String? = nil) -> CosignerKey {
        try! CosignerKey(name: name ?? "witness.test/w\(i)", publicKey: witnessKeys[i].publicKey)
    }

    /// The log's checkpoint of size 10, cosigned by the witnesses `by`.
    static func note(cosignedBy by: [Int], time: UInt64 = 1_780_000_000) throws -> SignedNote {
        let text = try Checkpoint(origin: origin, size: 10, rootHash: SHA256Digest.hash("root")).text
        let note = try SignedNote.sign(text: text, name: origin, key: logKey)
        return note.adding(try by.map { try Cosignature.sign(checkpointText: text, time: time, name: cosigner($0).name, key: witnessKeys[$0]) })
    }

    static let twoOfThree = """
        # the ledger, and three witnesses run by the audit department
        log \(log)
          witness A1 \(cosigner(0))\thttps://witness-a1.example/
        witness A2 \(cosigner(1))
        witness A3 \(cosigner(2))
        group auditors 2 A1 A2 A3
        quorum auditors

        """

    @Test("2 of 3: accepted with two cosignatures, refused with one or none; the log must sign, under its origin")
    func twoOfThree() throws {
        let policy = try WitnessPolicy(parsing: Self.twoOfThree)
        #expect(policy.logs == [Self.log] && policy.witnesses.map(\.name) == ["A1", "A2", "A3"] && policy.witnesses[0].url == "https://witness-a1.example/")
        #expect(policy.quorumDescription == "2 of auditors (A1, A2, A3)")
        let two = policy.evaluate(try Self.note(cosignedBy: [0, 2]))
        #expect(two.quorumMet && two.log == Self.log && two.accepted(logsListed: true))
        #expect(two.cosigned == [.init(witness: "A1", time: 1_780_000_000), .init(witness: "A3", time: 1_780_000_000)])
        #expect(!policy.evaluate(try Self.note(cosignedBy: [1])).quorumMet)
        #expect(!policy.evaluate(try Self.note(cosignedBy: [])).accepted(logsListed: true))
        // A witness outside the policy counts for nothing.
        #expect(!policy.evaluate(try Self.note(cosignedBy: [1, 4])).quorumMet)
        // A forged cosignature under A2's name and key ID: not counted, and named.
        let note = try Self.note(cosignedBy: [0])
        let forged = note.adding([SignedNote.Signature(name: Self.cosigner(1).name, keyID: Self.cosigner(1).keyID, signature: [UInt8](repeating: 7, count: 72))])
        let verdict = policy.evaluate(forged)
        #expect(!verdict.quorumMet && verdict.badCosignatures == ["A2"])
        // Cosigned enough, but not signed by the listed log (another key under the origin's name): not accepted.
        let text = try Checkpoint(origin: Self.origin, size: 10, rootHash: SHA256Digest.hash("root")).text
        let impostor = try SignedNote.sign(text: text, name: Self.origin, key: Ed25519.SigningKey()).adding(
            try [0, 1].map { try Cosignature.sign(checkpointText: text, time: 5, name: Self.cosigner($0).name, key: Self.witnessKeys[$0]) })
        let judged = policy.evaluate(impostor)
        #expect(judged.quorumMet && judged.log == nil && !judged.accepted(logsListed: true))
    }

    @Test("Groups of groups (all, any, k), quorum none, a single witness; comments, tabs and blank lines")
    func groups() throws {
        let nested = try WitnessPolicy(parsing: """
            log \(Self.log)
            witness X1 \(Self.cosigner(0))
            witness X2 \(Self.cosigner(1))
            witness X3 \(Self.cosigner(2))
            group X-witnesses 2 X1 X2 X3
            witness Y1 \(Self.cosigner(3))
            witness Y2 \(Self.cosigner(4))
            group Y-witnesses any Y1 Y2
            group X-and-Y all X-witnesses Y-witnesses
            quorum X-and-Y
            """)
        #expect(nested.evaluate(try Self.note(cosignedBy: [0, 1, 4])).quorumMet)
        #expect(!nested.evaluate(try Self.note(cosignedBy: [0, 1])).quorumMet, "no Y")
        #expect(!nested.evaluate(try Self.note(cosignedBy: [0, 3, 4])).quorumMet, "one X")
        let none = try WitnessPolicy(parsing: "log \(Self.log)\nquorum none\n")
        let unwitnessed = none.evaluate(try Self.note(cosignedBy: []))
        #expect(unwitnessed.accepted(logsListed: true) && none.quorumDescription == "no cosignature")
        let single = try WitnessPolicy(parsing: "witness only \(Self.cosigner(5))\n\t# just one\nquorum only")
        let cosignedByOnly = single.evaluate(try Self.note(cosignedBy: [5]))
        #expect(single.logs.isEmpty && cosignedByOnly.accepted(logsListed: false))
        #expect(!single.evaluate(try Self.note(cosignedBy: [4])).quorumMet)
    }

    @Test("Names are octets: a Kelvin sign is not a K")
    func opaqueNames() throws {
        let policy = try WitnessPolicy(parsing: """
            witness K \(Self.cosigner(0))
            witness \u{212A} \(Self.cosigner(1))
            quorum \u{212A}
            """)
        #expect(policy.witnesses.count == 2)
        #expect(policy.evaluate(try Self.note(cosignedBy: [1])).quorumMet)
        #expect(!policy.evaluate(try Self.note(cosignedBy: [0])).quorumMet, "the ASCII K's cosignature is not the Kelvin sign's")
    }

    @Test("Everything the spec forbids is refused with its line")
    func refusals() throws {
        let w0 = Self.cosigner(0), w1 = Self.cosigner(1)
        let bad: [(String, String)] = [
            ("witness A \(w0)\n", "no quorum"),
            ("witness A \(w0)\nquorum A\nquorum A\n", "two quorum lines"),
            ("quorum A\nwitness A \(w0)\n", "a name used before it is defined"),
            ("witness A \(w0)\ngroup g 1 A B\nquorum g\n", "an undefined member"),
            ("witness A \(w0)\nwitness B \(w1)\ngroup g 1 A\ngroup h 1 A B\nquorum h\n", "a member of two groups"),
            ("witness A \(w0)\ngroup g 1 A A\nquorum g\n", "a member listed twice"),
            ("witness A \(w0)\ngroup g 0 A\nquorum g\n", "k = 0"),
            ("witness A \(w0)\ngroup g 2 A\nquorum g\n", "k > n"),
            ("witness A \(w0)\ngroup g 01 A\nquorum g\n", "a threshold with a leading zero"),
            ("witness A \(w0)\ngroup g all\nquorum g\n", "a group without members"),
            ("witness A \(w0)\ngroup g any A none\nquorum g\n", "none as a member"),
            ("witness none \(w0)\nquorum none\n", "none as a name"),
            ("witness A \(w0)\nwitness A \(w1)\nquorum A\n", "a name defined twice"),
            ("witness A \(w0)\nwitness B \(try CosignerKey(name: "other", publicKey: Self.witnessKeys[0].publicKey))\nquorum A\n", "one public key twice"),
            ("log \(Self.log)\nlog \(Self.log)\nquorum none\n", "a log twice"),
            ("witness A \(Self.log)\nquorum A\n", "a note key (0x01) as a witness key"),
            ("log \(w0)\nquorum none\n", "a cosigner key (0x04) as a log key"),
            ("witness A \(w0) url extra\nquorum A\n", "too many fields"),
            ("monitor A \(w0)\nquorum none\n", "an unknown keyword"),
            ("witness A \(w0)\r\nquorum A\n", "a carriage return"),
            ("quorum none\u{1}\n", "a control character"),
        ]
        for (text, why) in bad {
            #expect(throws: LedgerError.self, "\(why)") { try WitnessPolicy(parsing: text) }
        }
        do {
            _ = try WitnessPolicy(parsing: "witness A \(w0)\ngroup g 2 A\nquorum g\n")
            Issue.record("k > n was accepted")
        } catch {
            #expect(error.message.hasPrefix("policy line 2:"), "the refusal names the line: \(error.message)")
        }
    }
}
