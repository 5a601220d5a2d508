internal import Foundation
public import SignoffCrypto
public import SignoffLedger
public import SignoffCore

/// Where an export's files go: a folder when exporting, hashing sinks when verifying.
public protocol AuditExportSink {
    /// Appends `bytes` to the file at `path` (relative to the export folder), creating it on first write.
    mutating func append(_ bytes: [UInt8], to path: String) throws
    /// The SHA-256 of every file written so far.
    var digests: [String: SHA256Digest] { get }
}

/// A sink that only hashes: what the verifier uses to rebuild an export and compare it with the folder.
public struct HashingSink: AuditExportSink {
    private var hashers: [String: SHA256Hasher] = [:]
    public init() {}
    public mutating func append(_ bytes: [UInt8], to path: String) throws {
        hashers[path, default: SHA256Hasher()].update(bytes)
    }
    public var digests: [String: SHA256Digest] {
        hashers.mapValues { var h = $0; return h.finalize() }
    }
}

/// What an export covers.
public struct AuditExportFilter: Hashable, Sendable, Codable {
    /// Why a filter is refused: its project and environment are names (`a-z 0-9 . _ -`, 1–63), as every project and
    /// environment is, and `since` comes before `until`.
    public func problem() -> String? {
        if let project, !Engine.isValidName(project) { return "project \(project.debugDescription) is not a project name; `signoff project list` shows them" }
        if let environment, !Engine.isValidName(environment) { return "environment \(environment.debugDescription) is not an environment name" }
        if let since, let until, since >= until { return "since must come before until" }
        return nil
    }

    public var project: String?
    public var environment: String?
    /// Milliseconds since the epoch, inclusive.
    public var since: Int64?
    /// Milliseconds since the epoch, exclusive.
    public var until: Int64?

    public init(project: String? = nil, environment: String? = nil, since: Int64? = nil, until: Int64? = nil) {
        self.project = project
        self.environment = environment
        self.since = since
        self.until = until
    }
}

/// Builds an audit export from ledger entries, in ledger order, each with its inclusion proof. Deterministic: the
/// offline verifier feeds the exported entries through the same builder and compares every file it produces with
/// the folder's, byte for byte. Specified in `schema/audit-export.md`.
public struct AuditExportBuilder {
    public static let format = "signoff-audit-export/3"
    public static let csvHeader = "time,request,project,environment,stage,decision,actor,key_id,signature_valid,bundle_digest,comment\r\n"

    public let checkpoint: SignedCheckpoint
    public let ledgerKey: NoteVerifierKey
    public let filter: AuditExportFilter

    /// Entry kinds exported whatever the filter: who existed, with which keys, in which groups, under which rules.
    public static let administrativeKinds: Set<String> = [
        "ledger.initialized", "principal.added", "key.enrolled", "key.revoked", "group.created", "group.member-added", "workflow.applied",
        "project.created", "group.member-removed", "project.updated", "principal.disabled", "principal.enabled", "admin.quorum-set", "token.issued",
        "freeze.added", "freeze.lifted",
    ]
    /// Entry kinds about policy rather than one request, exported with the administration: delegations.
    public static let policyKinds: Set<String> = ["delegation.granted", "delegation.revoked"]
    /// For a project's export, what it may name (from a first pass); nil: every administrative and policy entry.
    public var scope: ExportScope?
    public static let administrationCSVHeader = "time,sequence,kind,actor,signers,signature_valid\r\n"

    /// Per request in scope: a few numbers and its bundle, so that memory stays small per request (interned scopes
    /// and workflows; each decision goes to decisions.csv as it is read, not into memory).
    private var requestScope: [String: Int32] = [:]
    /// Requests in scope that are closed (rejected, withdrawn, deployed with nothing left to do): their section is
    /// already in requests.md and only their ID is kept, so memory follows the open requests, not the ledger.
    private var closedRequests: Set<String> = []
    private var closedListed = 0
    private var scopes: [(project: String, environment: String)] = []
    private var scopeIndex: [String: Int32] = [:]
    private var workflowIndex: [SHA256Digest: Int32] = [:]
    private var workflowDigests: [SHA256Digest] = []
    private var keys: [KeyRecord] = []
    private var requests: [String: RequestSummary] = [:]
    private var optOutWorkflows: [String] = []
    /// Each workflow version read, by digest: what its requests' paths and retrospectives follow.
    private var workflowsRead: [SHA256Digest: Workflow] = [:]
    private var entryCount = 0
    private var decisionCount = 0
    private var signedDecisionCount = 0
    /// Sequence numbers of decisions whose signature does not verify with a key of the decider enrolled at the time.
    public private(set) var invalidSignatures: [UInt64] = []
    private var invalidSignatureCount: Int { invalidSignatures.count }
    public var entries: Int { entryCount }
    public var decisions: Int { decisionCount }
    public var signedDecisions: Int { signedDecisionCount }
    private var adminApprovals = 0
    /// Signed decisions by the fingerprint of their key: (sequence, time), to flag those of keys later revoked as compromised.
    private var signedByKey: [String: [(sequence: UInt64, time: Int64)]] = [:]
    /// Sequence numbers of administrative changes whose approval does not verify with its signers' keys of the time.
    public private(set) var invalidApprovals: [UInt64] = []
    /// Sequence numbers of signed retrospectives and delegations whose envelope does not verify with a key their actor
    /// had enrolled at the entry's time.
    public private(set) var invalidStatements: [UInt64] = []
    private var firstTime: Int64?
    private var lastTime: Int64?

    struct KeyRecord: Encodable {
        let principal: String
        let verifierKey: String
        let fingerprint: String
        let enrolledSequence: UInt64
        let enrolledAt: String
        var revokedSequence: UInt64?
        var revokedAt: String?
        var enrolledMilliseconds: Int64
        var revokedMilliseconds: Int64?
        var compromisedSince: Int64? = nil

        enum CodingKeys: String, CodingKey {
            case principal
            case fingerprint = "key_fingerprint"
            case verifierKey = "verifier_key"
            case enrolledSequence = "enrolled_sequence"
            case enrolledAt = "enrolled_at"
            case revokedSequence = "revoked_sequence"
            case revokedAt = "revoked_at"
            case compromisedSince = "compromised_since"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(principal, forKey: .principal)
            try c.encode("sha256:" + fingerprint, forKey: .fingerprint)
            try c.encode(verifierKey, forKey: .verifierKey)
            try c.encode(enrolledSequence, forKey: .enrolledSequence)
            try c.encode(enrolledAt, forKey: .enrolledAt)
            try c.encode(revokedSequence, forKey: .revokedSequence)
            try c.encode(revokedAt, forKey: .revokedAt)
            try c.encode(compromisedSince.map(Timestamps.rfc3339), forKey: .compromisedSince)
        }
    }

    struct RequestSummary {
        let scope: Int32
        let workflow: Int32
        let bundle: String
        var digest: SHA256Digest
        var revision = 1
        var state = "requested"
        var signed: Int32 = 0
        var unsigned: Int32 = 0
        var invalid: Int32 = 0
        var retrospectiveDue: Int64?
        var retrospectiveDone = false
        var labels: [String: [String]] = [:]
        var emergencyReason: String?

        /// Nothing more can happen to it (the engine refuses commands on closed requests) and it owes no retrospective.
        var isClosed: Bool {
            (state == "withdrawn" || state == "expired" || state.hasPrefix("rejected at ") || state == "deployed")
                && (retrospectiveDue == nil || retrospectiveDone)
        }
    }

    public init(checkpoint: SignedCheckpoint, ledgerKey: NoteVerifierKey, filter: AuditExportFilter) {
        self.checkpoint = checkpoint
        self.ledgerKey = ledgerKey
        self.filter = filter
    }

    /// An entry the export includes, with its event decoded once.
    public struct Admitted {
        public let entry: LedgerEntry
        let event: Event?
    }

    /// The entry, if it belongs in the export. Call for every ledger entry up to the checkpoint, in order; it
    /// remembers which requests are in scope.
    public mutating func admit(_ entry: LedgerEntry) -> Admitted? {
        let event = try? Event.decode(kind: entry.kind, payload: entry.payload)
        if Self.administrativeKinds.contains(entry.kind) || Self.policyKinds.contains(entry.kind) {
            // A project's export names only what concerns the project (an entry that does not decode is kept: the
            // verifier then says what is wrong with it).
            if let scope, let event, !scope.admits(event) { return nil }
            return Admitted(entry: entry, event: event)
        }
        guard let event, let id = Self.requestID(of: event) else { return nil }
        if case .requestFiled(let filed) = event, (filter.project ?? filed.project) == filed.project,
            (filter.environment ?? filed.environment) == filed.environment
        {
            let key = filed.project + "\n" + filed.environment
            if scopeIndex[key] == nil {
                scopeIndex[key] = Int32(scopes.count)
                scopes.append((filed.project, filed.environment))
            }
            requestScope[id] = scopeIndex[key]
        }
        guard requestScope[id] != nil || closedRequests.contains(id), entry.timeMilliseconds >= (filter.since ?? .min), entry.timeMilliseconds < (filter.until ?? .max) else {
            return nil
        }
        return Admitted(entry: entry, event: event)
    }

    static func requestID(of event: Event) -> String? {
        switch event {
        case .requestFiled(let e): e.id
        case .evidenceAttached(let e): e.request
        case .decisionRecorded(let e): e.request
        case .stageEntered(let e): e.request
        case .requestRejected(let e): e.request
        case .requestWithdrawn(let e): e.request
        case .requestRevised(let e): e.request
        case .deploymentRecorded(let e): e.request
        case .retrospectiveRecorded(let e): e.request
        default: nil
        }
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()


    /// Adds one exported entry with its inclusion proof against the checkpoint.
    public mutating func add(_ admitted: Admitted, proof: [SHA256Digest], to sink: inout some AuditExportSink) throws {
        let entry = admitted.entry
        entryCount += 1
        firstTime = firstTime ?? entry.timeMilliseconds
        lastTime = entry.timeMilliseconds
        // Written by hand, keys sorted as JSONSerialization's `.sortedKeys` would: these two lines per entry were
        // half of an export's time through JSONSerialization.
        let leafHash = entry.leafHash.description
        var line = JSONLine()
        line.field("actor", string: entry.actor)
        line.field("entry", string: Base64.encode(entry.encoded))
        line.field("kind", string: entry.kind)
        line.field("leaf_hash", string: leafHash)
        line.field("sequence", number: entry.sequence)
        line.field("time", string: Timestamps.rfc3339(entry.timeMilliseconds))
        try sink.append(line.finish(), to: "entries.jsonl")
        line = JSONLine()
        line.field("leaf_hash", string: leafHash)
        line.field("proof", strings: proof.map(\.description))
        line.field("sequence", number: entry.sequence)
        line.field("tree_size", number: checkpoint.checkpoint.size)
        try sink.append(line.finish(), to: "proofs.jsonl")
        guard let event = admitted.event else { return }
        let time = Timestamps.rfc3339(entry.timeMilliseconds)
        if Self.administrativeKinds.contains(entry.kind) { try addAdministration(entry, event: event, to: &sink) }
        switch event {
        case .principalAdded(let e):
            if let key = e.verifierKey { addKey(principal: e.name, verifierKey: key, entry: entry) }
        case .keyEnrolled(let e):
            addKey(principal: e.principal, verifierKey: e.verifierKey, entry: entry)
            if e.approval != nil { adminApprovals += 1 }
        case .keyRevoked(let e):
            if let index = keys.firstIndex(where: { $0.principal == e.principal && $0.fingerprint == e.fingerprint && $0.revokedSequence == nil }) {
                keys[index].revokedSequence = entry.sequence
                keys[index].revokedAt = time
                keys[index].revokedMilliseconds = entry.timeMilliseconds
                keys[index].compromisedSince = e.compromisedSince
            }
        case .memberAdded(let e):
            if e.approval != nil { adminApprovals += 1 }
        case .projectCreated(let e):
            if e.approval != nil { adminApprovals += 1 }
        case .workflowApplied(let e):
            if let applied = try? AppliedWorkflow(source: e.source, recorded: true) {
                if applied.workflow.requesterMayDecide || applied.workflow.requesterMayDeploy {
                    optOutWorkflows.append("\(Self.markdownText(e.name)) (`\(e.digest)`): \(Self.markdownText(applied.workflow.separationOptOutReason ?? ""))")
                }
                workflowsRead[e.digest] = applied.workflow
            }
        case .requestFiled(let e):
            if workflowIndex[e.workflowDigest] == nil {
                workflowIndex[e.workflowDigest] = Int32(workflowDigests.count)
                workflowDigests.append(e.workflowDigest)
            }
            var summary = RequestSummary(scope: requestScope[e.id] ?? 0, workflow: workflowIndex[e.workflowDigest]!, bundle: e.bundle, digest: e.digest)
            summary.labels = e.labels
            summary.emergencyReason = e.emergencyReason
            requests[e.id] = summary
        case .decisionRecorded(let e):
            decisionCount += 1
            let scope = requestScope[e.request].map { scopes[Int($0)] }
            var keyID = ""
            var validity = "unsigned"
            if let envelope = e.envelope {
                signedDecisionCount += 1
                let key = keys.first { $0.principal == entry.actor && $0.fingerprint == e.keyFingerprint }
                let validAtTime = key.map { entry.timeMilliseconds >= $0.enrolledMilliseconds && ($0.revokedMilliseconds.map { entry.timeMilliseconds < $0 } ?? true) } ?? false
                let verifier = key.flatMap { try? NoteVerifierKey(parsing: $0.verifierKey) }
                let signatureOK = verifier.map { v in (try? envelope.verify(trustedKeys: [DSSETrustedKey(publicKey: v.publicKey)])) != nil } ?? false
                validity = validAtTime && signatureOK ? "yes" : "no"
                if validity == "no" { invalidSignatures.append(entry.sequence) }
                if let fingerprint = e.keyFingerprint { signedByKey[fingerprint, default: []].append((entry.sequence, entry.timeMilliseconds)) }
                keyID = verifier?.keyIDHex ?? ""
                try sink.append(Array("{\"envelope\":".utf8) + envelope.jsonBytes() + Array(",\"sequence\":\(entry.sequence)}\n".utf8), to: "envelopes.jsonl")
            }
            let row = [time, e.request, scope?.project ?? "", scope?.environment ?? "", e.stage, e.decision.rawValue, entry.actor, keyID, validity,
                e.bundleDigest.description, e.comment]
            try sink.append(Array((row.map(Self.csvField).joined(separator: ",") + "\r\n").utf8), to: "decisions.csv")
            switch validity {
            case "unsigned": requests[e.request]?.unsigned += 1
            case "yes": requests[e.request]?.signed += 1
            default: requests[e.request]?.invalid += 1
            }
        case .stageEntered(let e): requests[e.request]?.state = e.stage
        case .requestRejected(let e): requests[e.request]?.state = "rejected at \(e.stage)"
        case .requestWithdrawn(let e): requests[e.request]?.state = "withdrawn"
        case .requestRevised(let e):
            requests[e.request]?.digest = e.digest
            requests[e.request]?.revision = e.revision
            requests[e.request]?.state = "revised (revision \(e.revision))"
        case .deploymentRecorded(let e):
            if e.outcome == .succeeded { requests[e.request]?.state = "deployed" }
            // The first attempt, succeeded or failed, makes an emergency owe its retrospective (as the engine says).
            if let r = requests[e.request], r.retrospectiveDue == nil, let workflow = workflowsRead[workflowDigests[Int(r.workflow)]],
                let retrospective = r.emergencyReason != nil ? workflow.emergency?.retrospective : workflow.retrospective
            {
                requests[e.request]?.retrospectiveDue = entry.timeMilliseconds + retrospective.withinSeconds * 1000
            }
        case .retrospectiveRecorded(let e):
            requests[e.request]?.retrospectiveDone = true
            if let envelope = e.envelope { checkActorSignature(envelope, entry: entry) }
        case .delegationGranted(let e):
            if let envelope = e.envelope { checkActorSignature(envelope, entry: entry) }
        case .requestExpired(let e): requests[e.request]?.state = "expired"
        default: break
        }
        if let id = Self.requestID(of: event), let r = requests[id], r.isClosed {
            try sink.append(Array(section(id, r).utf8), to: "requests.md")
            requests[id] = nil
            requestScope[id] = nil
            closedRequests.insert(id)
            closedListed += 1
        }
    }

    /// The administrators' approval an administrative event carries.
    static func approval(of event: Event) -> DSSEEnvelope? {
        switch event {
        case .principalAdded(let e): e.approval
        case .keyEnrolled(let e): e.approval
        case .keyRevoked(let e): e.approval
        case .groupCreated(let e): e.approval
        case .memberAdded(let e): e.approval
        case .memberRemoved(let e): e.approval
        case .workflowApplied(let e): e.approval
        case .projectCreated(let e): e.approval
        case .projectUpdated(let e): e.approval
        case .principalDisabled(let e), .principalEnabled(let e): e.approval
        case .adminQuorumSet(let e): e.approval
        case .serviceTokenIssued(let e): e.approval
        case .freezeAdded(let e): e.approval
        case .freezeLifted(let e): e.approval
        default: nil
        }
    }

    /// A signed retrospective or delegation: every signature by a key the entry's actor had enrolled at its time.
    private mutating func checkActorSignature(_ envelope: DSSEEnvelope, entry: LedgerEntry) {
        let message = envelope.signedBytes
        let valid = !envelope.signatures.isEmpty && envelope.signatures.allSatisfy { signature in
            let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
            guard let key = keys.last(where: { $0.principal == entry.actor && $0.fingerprint == fingerprint }),
                entry.timeMilliseconds >= key.enrolledMilliseconds, key.revokedMilliseconds.map({ entry.timeMilliseconds < $0 }) ?? true,
                let verifier = try? NoteVerifierKey(parsing: key.verifierKey)
            else { return false }
            return verifier.publicKey.isValidSignature(signature.sig, for: message)
        }
        if !valid { invalidStatements.append(entry.sequence) }
    }

    /// A row of administration.csv: who signed the change (each signature checked with a key its signer had enrolled
    /// at the entry's time).
    private mutating func addAdministration(_ entry: LedgerEntry, event: Event, to sink: inout some AuditExportSink) throws {
        var signers: [String] = []
        var validity = "unsigned"
        if let envelope = Self.approval(of: event) {
            validity = "yes"
            let message = envelope.signedBytes
            for signature in envelope.signatures {
                let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
                let key = keys.last { $0.fingerprint == fingerprint }
                let valid = key.map { entry.timeMilliseconds >= $0.enrolledMilliseconds && ($0.revokedMilliseconds.map { entry.timeMilliseconds < $0 } ?? true) } ?? false
                let verifier = key.flatMap { try? NoteVerifierKey(parsing: $0.verifierKey) }
                if valid, verifier?.publicKey.isValidSignature(signature.sig, for: message) == true, let key {
                    signers.append(key.principal)
                } else {
                    validity = "no"
                }
            }
            if envelope.signatures.isEmpty { validity = "no" }
            if validity == "no" { invalidApprovals.append(entry.sequence) }
        }
        let row = [Timestamps.rfc3339(entry.timeMilliseconds), String(entry.sequence), entry.kind, entry.actor, signers.joined(separator: " "), validity]
        try sink.append(Array((row.map(Self.csvField).joined(separator: ",") + "\r\n").utf8), to: "administration.csv")
    }

    /// A request's section of requests.md.
    func section(_ id: String, _ r: RequestSummary) -> String {
        let scope = scopes[Int(r.scope)]
        let md = Self.markdownText
        var s = "## \(md(id)): \(md(scope.project)) → \(md(scope.environment)), \(md(r.state))\n\n"
        s += "Bundle \(md(r.bundle)) `\(r.digest)` (revision \(r.revision))\n\n"
        if let reason = r.emergencyReason { s += "- **EMERGENCY**: \(md(reason))\n" }
        if !r.labels.isEmpty {
            s += "- labels: " + r.labels.keys.sorted().map { "\(md($0))=\(r.labels[$0]!.map(md).joined(separator: ","))" }.joined(separator: " ") + "\n"
        }
        if let workflow = workflowsRead[workflowDigests[Int(r.workflow)]] {
            let path = workflow.path(labels: r.labels, emergency: r.emergencyReason != nil).map(\.name)
            s += "- stages: " + path.map(md).joined(separator: " → ")
            let skipped = workflow.stages.map(\.name).filter { !path.contains($0) }
            s += skipped.isEmpty ? "\n" : " (skips \(skipped.map(md).joined(separator: ", ")))\n"
        }
        s += "- decisions: \(r.signed + r.unsigned + r.invalid) (\(r.signed) signed, \(r.unsigned) unsigned\(r.invalid > 0 ? ", \(r.invalid) with an INVALID SIGNATURE" : "")); each is a row of decisions.csv\n"
        if let due = r.retrospectiveDue {
            s += r.retrospectiveDone
                ? "- retrospective review: done\n"
                : "- **retrospective review: NOT DONE, due by \(Timestamps.rfc3339(due))\((lastTime ?? 0) > due ? " — OVERDUE" : "")**\n"
        }
        return s + "\n"
    }

    private mutating func addKey(principal: String, verifierKey: String, entry: LedgerEntry) {
        guard let key = try? NoteVerifierKey(parsing: verifierKey) else { return }
        keys.append(KeyRecord(
            principal: principal, verifierKey: verifierKey, fingerprint: key.publicKey.fingerprint, enrolledSequence: entry.sequence,
            enrolledAt: Timestamps.rfc3339(entry.timeMilliseconds), revokedSequence: nil, revokedAt: nil, enrolledMilliseconds: entry.timeMilliseconds,
            revokedMilliseconds: nil))
    }

    /// A CSV field (RFC 4180) that a spreadsheet opens as text, whatever its locale's separator: first the formula
    /// guard (a leading `=`, `+`, `-`, `@`, tab or CR gets a `'` before it), then quoting — with `"` around the field and
    /// inner quotes doubled — of any field that holds a separator of a common locale (`,` `;` tab), a quote or a line
    /// break (`\r`, `\n`).
    static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { text = "'" + text }
        if text.unicodeScalars.contains(where: { $0 == "," || $0 == ";" || $0 == "\t" || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            text = "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return text
    }

    /// Text from the ledger as it goes into Markdown (`requests.md`, `SUMMARY.md`), always after other text on its line:
    /// every character that can open an inline construct — `\` `` ` `` `*` `_` `[` `]` `<` `>` `!` `|` `&` `~` `#` — escaped
    /// with a backslash (CommonMark §2.4), so that no text can open emphasis, a link, an image, a code span, an HTML
    /// comment, tag or entity, or a table cell; and every line break or tab a space, so that it never starts a line (and
    /// so never a heading or a list). Any other control or format character (bidi overrides, zero-width characters,
    /// tags) becomes U+FFFD.
    public static func markdownText(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\n", "\r", "\t", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}": out.append(" ")
            case "\\", "`", "*", "_", "[", "]", "<", ">", "!", "|", "&", "~", "#":
                out.append("\\")
                out.unicodeScalars.append(scalar)
            // Control and format characters (bidi overrides and marks, zero-width characters, tags) would make the
            // text display differently from what it says: each is shown as U+FFFD.
            case _ where scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format:
                out.append("\u{FFFD}")
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Starts the files every export has. Call once, before the first entry.
    public func start(to sink: inout some AuditExportSink) throws {
        for file in ["entries.jsonl", "proofs.jsonl", "keys.jsonl", "envelopes.jsonl"] { try sink.append([], to: file) }
        try sink.append(Array("# Requests\n\nClosed requests in the order they closed, then open ones in request order.\n\n".utf8), to: "requests.md")
        try sink.append(Array(Self.csvHeader.utf8), to: "decisions.csv")
        try sink.append(Array(Self.administrationCSVHeader.utf8), to: "administration.csv")
    }

    /// Writes the files that summarise the whole export, then `MANIFEST.json` with the SHA-256 of every other
    /// file. Call once, after the last entry.
    public func finish(to sink: inout some AuditExportSink) throws {
        for key in keys { try sink.append([UInt8](try Self.jsonEncoder.encode(key)) + [0x0A], to: "keys.jsonl") }
        try sink.append(Array(checkpoint.serialized.utf8), to: "checkpoint.txt")
        try sink.append(Array((ledgerKey.description + "\n").utf8), to: "ledger-key.pub")
        try writeSummary(to: &sink)
        let files = sink.digests.filter { $0.key != "MANIFEST.json" }
        let manifest: [String: Any] = [
            "format": Self.format, "origin": checkpoint.checkpoint.origin, "ledger_verifier_key": ledgerKey.description,
            "checkpoint_size": checkpoint.checkpoint.size, "entries": entryCount,
            "filter": [
                "project": filter.project as Any? ?? NSNull(), "environment": filter.environment as Any? ?? NSNull(),
                "since": filter.since.map(Timestamps.rfc3339) as Any? ?? NSNull(), "until": filter.until.map(Timestamps.rfc3339) as Any? ?? NSNull(),
            ],
            "files": Dictionary(uniqueKeysWithValues: files.map { ($0.key, $0.value.description) }),
        ]
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted])
        try sink.append([UInt8](data) + [0x0A], to: "MANIFEST.json")
    }

    /// SUMMARY.md, and the sections of the requests still open at the end of requests.md.
    func writeSummary(to sink: inout some AuditExportSink) throws {
        var s = "# Signoff audit export\n\n"
        s += "- Ledger: `\(checkpoint.checkpoint.origin)`, key `\(ledgerKey.description)`\n"
        s += "- Cut against the signed checkpoint of tree size \(checkpoint.checkpoint.size), root `\(checkpoint.checkpoint.rootHash)`\n"
        s += "- Filter: project \(filter.project.map(Self.markdownText) ?? "any"), environment \(filter.environment.map(Self.markdownText) ?? "any"), from \(filter.since.map(Timestamps.rfc3339) ?? "the start") to \(filter.until.map(Timestamps.rfc3339) ?? "the checkpoint")\n"
        s += "- \(entryCount) entries, each with an inclusion proof\(firstTime.map { ", from \(Timestamps.rfc3339($0))" } ?? "")\(lastTime.map { " to \(Timestamps.rfc3339($0))" } ?? "")\n"
        s += "- \(decisionCount) decisions: \(signedDecisionCount) signed, \(decisionCount - signedDecisionCount) unsigned, \(invalidSignatureCount) with an invalid signature\n"
        s += "- \(keys.count) enrolled keys, \(keys.filter { $0.revokedSequence != nil }.count) revoked; \(adminApprovals) signed administrative changes\n"
        if !optOutWorkflows.isEmpty {
            s += "\n## Flagged: separation of duties opted out\n\n" + optOutWorkflows.map { "- \($0)\n" }.joined()
        }
        let order = requests.keys.sorted { ($0.count, $0) < ($1.count, $1) }  // REQ-2 before REQ-10
        let pending = order.filter { requests[$0]!.retrospectiveDue != nil && !requests[$0]!.retrospectiveDone }
        if !pending.isEmpty { s += "\n## Flagged: emergency deployments without their retrospective review: \(pending.joined(separator: ", "))\n" }
        if invalidSignatureCount > 0 { s += "\n## Flagged: \(invalidSignatureCount) decision(s) with an invalid signature (see decisions.csv)\n" }
        if !invalidStatements.isEmpty {
            s += "\n## Flagged: signed retrospectives or delegations whose signature does not verify: entries \(invalidStatements.map(String.init).joined(separator: ", "))\n"
        }
        if !invalidApprovals.isEmpty {
            s += "\n## Flagged: \(invalidApprovals.count) administrative change(s) with an invalid signature (see administration.csv)\n"
        }
        for key in keys where key.compromisedSince != nil {
            let decisions = signedByKey[key.fingerprint] ?? []
            guard !decisions.isEmpty, let since = key.compromisedSince else { continue }
            let after = decisions.filter { $0.time >= since }.map(\.sequence)
            s += "\n## Flagged: key `sha256:\(key.fingerprint)` of \(Self.markdownText(key.principal)) was revoked as compromised since \(Timestamps.rfc3339(since))\n\n"
            s += "- \(decisions.count) decision(s) signed with it; \(after.count) at or after that time, which no longer count"
            s += after.isEmpty ? "\n" : " (entries \(after.prefix(20).map(String.init).joined(separator: ", "))\(after.count > 20 ? ", …" : ""))\n"
        }
        var open = ""
        for (index, id) in order.enumerated() {
            open += section(id, requests[id]!)
            if index % 256 == 255 {
                try sink.append(Array(open.utf8), to: "requests.md")
                open = ""
            }
        }
        try sink.append(Array(open.utf8), to: "requests.md")
        s += "\n## Requests\n\n"
        s += closedListed + order.count == 0
            ? "None in this export.\n\n"
            : "\(closedListed + order.count) requests, \(closedListed) closed and \(order.count) open: one section each in requests.md.\n\n"
        s += "Verify offline with `signoff audit verify DIR --ledger-verifier-key LEDGER.pub`; the format is `schema/audit-export.md`.\n"
        try sink.append(Array(s.utf8), to: "SUMMARY.md")
    }
}

/// One JSON object on one line, fields appended in the caller's (sorted) order: strings escaped per RFC 8259 (`"`, `\`
/// and control characters; `/` and non-ASCII left as they are), unsigned integers in decimal.
struct JSONLine {
    private var bytes: [UInt8] = [0x7B]

    mutating func field(_ key: String, string value: String) {
        name(key)
        Self.append(string: value, to: &bytes)
    }

    mutating func field(_ key: String, number value: UInt64) {
        name(key)
        bytes += Array(String(value).utf8)
    }

    mutating func field(_ key: String, strings values: [String]) {
        name(key)
        bytes.append(0x5B)
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            Self.append(string: value, to: &bytes)
        }
        bytes.append(0x5D)
    }

    private mutating func name(_ key: String) {
        if bytes.count > 1 { bytes.append(0x2C) }
        Self.append(string: key, to: &bytes)
        bytes.append(0x3A)
    }

    mutating func finish() -> [UInt8] { bytes + [0x7D, 0x0A] }

    static func append(string: String, to out: inout [UInt8]) {
        out.append(0x22)
        guard string.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
            out.append(contentsOf: string.utf8)
            out.append(0x22)
            return
        }
        for byte in string.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x00..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}
