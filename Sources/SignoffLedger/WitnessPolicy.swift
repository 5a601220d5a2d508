public import SignoffCrypto

/// An auditor's trust policy in C2SP `tlog-policy` syntax: the logs accepted, the witnesses known, and the quorum of
/// cosignatures a checkpoint needs (a witness, `none`, or a group: `all`, `any` or at least k of its members, each a
/// witness or an earlier group).
///
///     log example.test/ledger+1a2b3c4d+AU…               # the ledger's checkpoint key (its name is the origin)
///     witness audit-1 witness.example/a1+5e6f…+BL…      # cosigner keys, type 0x04
///     witness audit-2 witness.example/a2+…
///     witness audit-3 witness.example/a3+…
///     group auditors 2 audit-1 audit-2 audit-3
///     quorum auditors
///
/// Names are opaque octet strings, as the spec says: two names are the same only byte for byte (a Kelvin sign is not
/// a K), never by Unicode equivalence.
public struct WitnessPolicy: Sendable {
    /// What a line names: a witness or a group, by its bytes.
    struct Name: Hashable, Sendable, CustomStringConvertible {
        let bytes: [UInt8]
        init(_ text: Substring) { bytes = Array(text.utf8) }
        var description: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// The quorum rule, as a tree: a witness, or a group of members of which at least `threshold` must have witnessed.
    indirect enum Rule: Sendable {
        case none
        case witness(Name)
        case group(Name, threshold: Int, members: [Rule])
    }

    public struct Witness: Sendable {
        /// The name as text, for reports (two names that read alike may still differ byte for byte).
        public var name: String { id.description }
        public let key: CosignerKey
        public let url: String?
        let id: Name
    }

    /// The logs a checkpoint may be signed by (empty: the verifier knows the log from elsewhere).
    public let logs: [NoteVerifierKey]
    /// The witnesses, in the file's order.
    public let witnesses: [Witness]
    let quorum: Rule

    /// Limits beyond the spec's recommended minimum (32 of each).
    public static let maximumEntries = 256

    /// Reads a policy file; anything the spec does not allow is refused with the line it is on.
    public init(parsing text: String) throws(LedgerError) {
        for byte in text.utf8 where byte != 0x09 && byte != 0x0A && (byte < 0x20 || byte == 0x7F) {
            throw LedgerError(.invalidRequest, "the policy holds a control character (0x\(Hex.encode([byte]))): only tab and newline are allowed")
        }
        var logs: [NoteVerifierKey] = []
        var witnesses: [Witness] = []
        var defined: [Name: Rule] = [:]
        var used: Set<Name> = []
        var quorum: Rule?
        var publicKeys: Set<[UInt8]> = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            func fail(_ message: String) -> LedgerError { LedgerError(.invalidRequest, "policy line \(line): \(message)") }
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = fields.first, !keyword.hasPrefix("#") else { continue }
            switch keyword {
            case "log":
                guard fields.count == 2 || fields.count == 3 else { throw fail("a log is \"log <vkey> [<url>]\"") }
                let key: NoteVerifierKey
                do { key = try NoteVerifierKey(parsing: String(fields[1])) } catch { throw fail("the log's key: \(error.message)") }
                guard publicKeys.insert(key.publicKey.bytes).inserted else { throw fail("a log or witness with this public key is already listed") }
                logs.append(key)
            case "witness":
                guard fields.count == 3 || fields.count == 4 else { throw fail("a witness is \"witness <name> <vkey> [<url>]\"") }
                let name = Name(fields[1])
                guard name.description != "none", defined[name] == nil else { throw fail("the name \(name) is already defined (or is none)") }
                let key: CosignerKey
                do { key = try CosignerKey(parsing: String(fields[2])) } catch { throw fail("the witness's key: \(error.message)") }
                guard publicKeys.insert(key.publicKey.bytes).inserted else { throw fail("a log or witness with this public key is already listed") }
                witnesses.append(Witness(key: key, url: fields.count == 4 ? String(fields[3]) : nil, id: name))
                defined[name] = .witness(name)
            case "group":
                guard fields.count >= 4 else { throw fail("a group is \"group <name> all|any|<k> <member>...\" with at least one member") }
                let name = Name(fields[1])
                guard name.description != "none", defined[name] == nil else { throw fail("the name \(name) is already defined (or is none)") }
                var members: [Rule] = []
                for member in fields[3...].map(Name.init) {
                    guard let rule = defined[member] else { throw fail("\(member) is not a witness or group defined above") }
                    guard used.insert(member).inserted else { throw fail("\(member) is already a member of a group: each name may be one only once") }
                    members.append(rule)
                }
                let threshold: Int
                switch fields[2] {
                case "all": threshold = members.count
                case "any": threshold = 1
                default:
                    guard fields[2].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), !fields[2].hasPrefix("0"), let k = Int(fields[2]), (1...members.count).contains(k) else {
                        throw fail("the threshold \(fields[2]) is not all, any, or a number from 1 to the \(members.count) members")
                    }
                    threshold = k
                }
                defined[name] = .group(name, threshold: threshold, members: members)
            case "quorum":
                guard fields.count == 2 else { throw fail("the quorum is \"quorum <name>\"") }
                guard quorum == nil else { throw fail("a policy has exactly one quorum line") }
                let name = Name(fields[1])
                if name.description == "none" {
                    quorum = Rule.none
                } else {
                    guard let rule = defined[name] else { throw fail("\(name) is not a witness or group defined above") }
                    quorum = rule
                }
            default:
                throw fail("\"\(keyword.prefix(40))\" is not log, witness, group or quorum")
            }
            guard logs.count + defined.count <= Self.maximumEntries else { throw fail("more than \(Self.maximumEntries) logs, witnesses and groups") }
        }
        guard let quorum else { throw LedgerError(.invalidRequest, "the policy has no quorum line (quorum none asks for no cosignature)") }
        self.logs = logs
        self.witnesses = witnesses
        self.quorum = quorum
    }

    /// What the policy says of a checkpoint note.
    public struct Verdict: Sendable, Equatable {
        /// The listed log whose signature verifies on the note (nil: none does, or the policy lists no log).
        public let log: NoteVerifierKey?
        /// The witnesses whose cosignature verifies, in the policy's order, with its time (POSIX seconds).
        public let cosigned: [Cosigned]
        /// Witnesses whose line is on the note but does not verify: refused, not counted.
        public let badCosignatures: [String]
        /// Whether the quorum is met.
        public let quorumMet: Bool

        public struct Cosigned: Sendable, Equatable {
            public let witness: String
            public let time: UInt64
        }

        /// Whether the note is valid under the policy: signed by a listed log (when the policy lists any) and
        /// cosigned as the quorum asks.
        public func accepted(logsListed: Bool) -> Bool { quorumMet && (log != nil || !logsListed) }
    }

    /// Evaluates `note` (a checkpoint with its signature and cosignature lines): which listed log signed it — only a
    /// log whose name is the checkpoint's origin counts — which witnesses cosigned it, and whether the quorum is met.
    public func evaluate(_ note: SignedNote) -> Verdict {
        let origin = (try? Checkpoint(parsing: note.text))?.origin
        let log = note.verifiedSignatures(by: logs.filter { Array($0.name.utf8) == origin.map { Array($0.utf8) } }).first
        var cosigned: [Verdict.Cosigned] = []
        var witnessed: Set<Name> = []
        var bad: [String] = []
        for witness in witnesses {
            do {
                if let time = try Cosignature.verifiedTime(of: note, by: witness.key) {
                    cosigned.append(Verdict.Cosigned(witness: witness.name, time: time))
                    witnessed.insert(witness.id)
                }
            } catch { bad.append(witness.name) }
        }
        func met(_ rule: Rule) -> Bool {
            switch rule {
            case .none: true
            case .witness(let name): witnessed.contains(name)
            case .group(_, let threshold, let members): members.filter(met).count >= threshold
            }
        }
        return Verdict(log: log, cosigned: cosigned, badCosignatures: bad, quorumMet: met(quorum))
    }

    /// The quorum in words, for a verifier's report: "2 of auditors (audit-1, audit-2, audit-3)".
    public var quorumDescription: String {
        func words(_ rule: Rule) -> String {
            switch rule {
            case .none: "no cosignature"
            case .witness(let name): "\(name)"
            case .group(let name, let threshold, let members):
                "\(threshold == members.count ? "all" : "\(threshold)") of \(name) (\(members.map(words).joined(separator: ", ")))"
            }
        }
        return words(quorum)
    }
}
