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

/// Builds an audit export from every ledger entry up to its checkpoint, in ledger order: the entries its filter
/// selects (and every administrative one) in full, every other one as a stub — its header and payload digest, which
/// still give its leaf hash — so that the tree's root is recomputed from all of them and nothing can be left out.
/// Deterministic: the offline verifier feeds the exported lines through the same builder and compares every file it
/// produces with the folder's and with the signed manifest. Specified in `schema/audit-export.md`.
public struct AuditExportBuilder {
    public static let format = "signoff-audit-export/7"
    /// The DSSE payload type of `MANIFEST.json`, signed by the ledger key.
    public static let manifestPayloadType = "application/vnd.signoff.export-manifest.v1+json"
    public static let csvHeader = "time,request,project,environment,stage,decision,actor,on_behalf_of,key_id,signature_valid,bundle_digest,comment\r\n"
    public static let administrationCSVHeader = "time,sequence,kind,actor,subject,signers,signature_valid\r\n"
    /// The human-readable files a verifier checks by their digest in the signed manifest only (the facts in them are
    /// those of the files it rebuilds byte for byte).
    public static let digestCheckedFiles: Set<String> = ["SUMMARY.md", "requests.md"]
    /// Every file of an export, and nothing else.
    public static let files: Set<String> = [
        "checkpoint.txt", "entries.jsonl", "keys.jsonl", "decisions.csv", "administration.csv", "SUMMARY.md", "requests.md", "MANIFEST.json",
    ]
    /// How far a signed decision's own time may be from its entry's: as the engine accepts them (at most 10 minutes
    /// old, at most 1 minute ahead).
    public static let statementMaximumAge = DecisionStatement.maximumAgeMilliseconds
    public static let statementMaximumSkew = DecisionStatement.maximumClockSkewMilliseconds
    public static let decisionPredicateTypes: Set<String> = [
        "https://signoff.dev/decision/v1", "https://signoff.dev/decision/v2", DecisionStatement.predicateType,
    ]

    public let checkpoint: SignedCheckpoint
    public let ledgerKey: NoteVerifierKey
    public let filter: AuditExportFilter
    /// Whether the evidence documents were asked for (`--documents`): the manifest says so, so that an export made with
    /// them cannot pass for one made without.
    public var documentsRequested = false

    /// The root of every entry added so far, full or stub.
    private var frontier = MerkleFrontier()
    private var fullCount = 0
    private var stubCount = 0
    /// Per request whose filing is exported: a few numbers, so that memory follows the open requests (each decision
    /// goes to decisions.csv as it is read; a closed request's section is written at once).
    private var requests: [String: RequestSummary] = [:]
    /// Requests whose section is written (closed): what later entries about them are checked against.
    private var closedRequests = ClosedRequests()
    private var closedListed = 0
    private var workflowIndex: [SHA256Digest: Int32] = [:]
    private var workflowDigests: [SHA256Digest] = []
    private var keys: [KeyRecord] = []
    private var optOutWorkflows: [String] = []
    /// Each workflow version read, by digest: what its requests' paths and retrospectives follow.
    private var workflowsRead: [SHA256Digest: Workflow] = [:]
    private var decisionCount = 0
    private var signedDecisionCount = 0
    /// Rows of administration.csv whose `signature_valid` is `yes`: the signed administrative changes SUMMARY.md counts.
    private var signedAdministration = 0
    /// Signed decisions by the fingerprint of their key: (sequence, time), to flag those of keys later revoked as compromised.
    private var signedByKey: [String: [(sequence: UInt64, time: Int64)]] = [:]
    private var firstTime: Int64?
    private var lastTime: Int64?
    /// Why entries fail the checks of their signatures and bindings (decisions, administrative approvals, signed
    /// retrospectives and delegations), by sequence: any one makes verification fail.
    public private(set) var problems: [(sequence: UInt64, message: String)] = []
    /// Whether an entry so far created or updated a project as regulated: before, administration was not required to
    /// be signed (administration.csv says `unsigned-before-regulated`).
    var regulatedSeen = false
    /// Who had authority over administration so far (every administrative entry is in full in every export).
    var authority = AdministrativeAuthority()
    /// Requests let through a freeze (`freeze.exempted`): flagged in SUMMARY.md.
    var exemptions: [(freeze: String, request: String, reason: String, actor: String, time: Int64)] = []

    /// The digests of the evidence attached in the entries in full, each with the projects of its requests: the
    /// evidence documents an export may carry (`documents/<hex>`, nothing else).
    public private(set) var evidenceDigests: [SHA256Digest: Set<String>] = [:]

    /// The folder of an export's optional evidence documents, and the largest document a verifier reads.
    public static let documentsFolder = "documents"
    public static let maximumDocumentBytes = 64 << 20

    /// `documents/<64 lowercase hex>`: the path of the evidence document whose SHA-256 is `digest`.
    public static func documentPath(_ digest: SHA256Digest) -> String { "\(documentsFolder)/\(Hex.encode(digest.bytes))" }

    public var entries: Int { fullCount }
    public var stubs: Int { stubCount }
    public var decisions: Int { decisionCount }
    public var signedDecisions: Int { signedDecisionCount }
    /// How many entries (full and stubs) have been added: the next one must have this sequence number.
    public var size: UInt64 { frontier.size }

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
        /// Enrolled by its owner's proof (`key.enrolled` with `proof`), not by administrators.
        var selfEnrolled = false
        /// May sign administration: enrolled with administrators' approval, or the first administrator's
        /// (``AdministrativeAuthority/addsTrustedKey(kind:actor:approval:)``). Not written to keys.jsonl.
        var trusted = false

        enum CodingKeys: String, CodingKey {
            case selfEnrolled = "self_enrolled"
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
            if selfEnrolled { try c.encode(true, forKey: .selfEnrolled) }
        }

        /// Valid for something signed at `time`: enrolled at or before it, not revoked at or before it.
        func isValid(at time: Int64) -> Bool { time >= enrolledMilliseconds && (revokedMilliseconds.map { time < $0 } ?? true) }
    }

    /// What the checks of a later entry need of a request whose filing is exported: kept after it closes too (in
    /// ``closedRequests``, compactly), so that an entry about it is checked however late it comes.
    struct RequestFacts {
        /// Index into ``scopes``: the request's project and environment.
        let scope: Int32
        let workflow: Int32
        let revision: Int32
        let emergency: Bool
        let digest: Digest32
        /// The first 8 bytes of the SHA-256 of the bundle's name: what a statement's subject name is compared with.
        let bundle: UInt64
        /// Nil when the request has none (most): no dictionary kept per request.
        let labels: [String: [String]]?
    }

    /// 32 bytes held inline (a ``SHA256Digest`` holds an array on the heap): what a closed request keeps costs no
    /// allocation of its own.
    struct Digest32: Hashable {
        let a, b, c, d: UInt64
        init(_ digest: SHA256Digest) {
            func word(_ i: Int) -> UInt64 { digest.bytes[i * 8..<i * 8 + 8].reduce(0) { $0 << 8 | UInt64($1) } }
            (a, b, c, d) = (word(0), word(1), word(2), word(3))
        }
        init(text: String) { self.init(SHA256Digest.hash(text)) }
    }

    static func nameHash(_ text: String) -> UInt64 { Digest32(text: text).a }

    /// The facts of closed requests, by number for the engine's `REQ-n` (an array: a dictionary of 200,000 requests
    /// took 54 MiB, most of it empty buckets), by name for any other id.
    struct ClosedRequests {
        private var numbered: [RequestFacts?] = []
        private var named: [String: RequestFacts] = [:]

        private static func number(_ id: String) -> Int? {
            guard id.hasPrefix("REQ-"), let n = Int(id.dropFirst(4)), n >= 0, String(n) == id.dropFirst(4) else { return nil }
            return n
        }

        subscript(id: String) -> RequestFacts? {
            get {
                if let n = Self.number(id), n < numbered.count { return numbered[n] }
                return named[id]
            }
            set {
                // Numbers far beyond those seen (never the engine's) go by name, so that no id can make the array huge.
                if let n = Self.number(id), n < numbered.count + 1_000_000 {
                    if n >= numbered.count { numbered += Array(repeating: nil, count: n + 1 - numbered.count) }
                    numbered[n] = newValue
                    named[id] = nil
                } else {
                    named[id] = newValue
                }
            }
        }
    }

    /// Interned (project, environment) pairs of the requests whose filing is exported.
    private var scopes: [(project: String, environment: String)] = []
    private var scopeIndex: [String: Int32] = [:]

    private mutating func intern(_ project: String, _ environment: String) -> Int32 {
        let key = project + "\n" + environment
        if let index = scopeIndex[key] { return index }
        scopes.append((project, environment))
        scopeIndex[key] = Int32(scopes.count - 1)
        return Int32(scopes.count - 1)
    }

    struct RequestSummary {
        var facts: RequestFacts {
            RequestFacts(
                scope: scope, workflow: workflow, revision: Int32(clamping: revision), emergency: emergencyReason != nil, digest: Digest32(digest),
                bundle: AuditExportBuilder.nameHash(bundle), labels: labels.isEmpty ? nil : labels)
        }
        let scope: Int32
        let project: String
        let environment: String
        let workflow: Int32
        var bundle: String
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
        /// The freezes that let it through (break-glass), with the exemption's reason.
        var exemptions: [(freeze: String, reason: String)] = []

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

    /// The kinds an export of one project shows as stubs although they are administrative: a webhook subscription's URL
    /// is a secret (a chat incoming-webhook URL posts into its channel; others carry tokens), which only administrators
    /// and auditors — who may export every project — may read (`GET /v1/webhooks`).
    public static let subscriptionKinds: Set<String> = ["webhook.added", "webhook.removed"]

    /// Whether the export shows an entry in full: every entry of encoding version 1 (it has no header to stand for
    /// it), every entry whose kind is not one of a request's life (administration, delegations, freezes, tokens, and
    /// any kind this version does not know) — except a webhook subscription's, in full only in an export of every
    /// project (``subscriptionKinds``) — and the request entries whose project, environment and time the filter
    /// selects. Every other entry is a stub.
    public func showsInFull(version: UInt8, kind: String, project: String, environment: String, time: Int64) -> Bool {
        guard version == LedgerEntry.formatVersion else { return true }
        if Self.subscriptionKinds.contains(kind) { return filter.project == nil }
        guard Event.requestKinds.contains(kind) else { return true }
        return (filter.project ?? project) == project && (filter.environment ?? environment) == environment
            && time >= (filter.since ?? .min) && time < (filter.until ?? .max)
    }

    public func showsInFull(_ entry: LedgerEntry) -> Bool {
        showsInFull(version: entry.version, kind: entry.kind, project: entry.project, environment: entry.environment, time: entry.timeMilliseconds)
    }

    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Adds the next ledger entry, in full or as a stub as ``showsInFull(_:)`` says.
    public mutating func add(_ entry: LedgerEntry, to sink: inout some AuditExportSink) throws {
        if showsInFull(entry) { try addFull(entry, to: &sink) } else { try addStub(entry.header, to: &sink) }
    }

    /// Adds an entry that the export shows only as its header and payload digest.
    public mutating func addStub(_ header: EntryHeader, to sink: inout some AuditExportSink) throws {
        precondition(header.sequence == frontier.size, "entries are added in ledger order")
        _ = frontier.append(header.leafHash)
        stubCount += 1
        if header.sequence == 0 { problems.append((0, "entry 0 is not the ledger's ledger.initialized")) }
        try sink.append(Self.stubLine(header), to: "entries.jsonl")
    }

    /// A stub's line of `entries.jsonl`: its header and payload digest as compact JSON.
    public static func stubLine(_ header: EntryHeader) -> [UInt8] {
        var line = JSONLine()
        line.field("actor", string: header.actor)
        line.field("environment", string: header.environment)
        line.field("kind", string: header.kind)
        line.field("payload_digest", string: header.payloadDigest.description)
        line.field("project", string: header.project)
        line.field("sequence", number: header.sequence)
        line.field("time", string: Timestamps.rfc3339(header.timeMilliseconds))
        return line.finish()
    }

    /// An entry in full's line of `entries.jsonl`: its header and bytes as compact JSON. Written by hand, keys sorted:
    /// JSONSerialization was half of an export's time.
    public static func fullLine(_ entry: LedgerEntry) -> [UInt8] {
        var line = JSONLine()
        line.field("actor", string: entry.actor)
        line.field("entry", string: Base64.encode(entry.encoded))
        line.field("environment", string: entry.environment)
        line.field("kind", string: entry.kind)
        line.field("project", string: entry.project)
        line.field("sequence", number: entry.sequence)
        line.field("time", string: Timestamps.rfc3339(entry.timeMilliseconds))
        return line.finish()
    }

    /// Adds an entry the export shows in full, and what it says to the derived files.
    public mutating func addFull(_ entry: LedgerEntry, to sink: inout some AuditExportSink) throws {
        precondition(entry.sequence == frontier.size, "entries are added in ledger order")
        _ = frontier.append(entry.leafHash)
        fullCount += 1
        firstTime = firstTime ?? entry.timeMilliseconds
        lastTime = entry.timeMilliseconds
        try sink.append(Self.fullLine(entry), to: "entries.jsonl")
        let event: Event?
        do { event = try Event.decode(kind: entry.kind, payload: entry.payload) } catch {
            problems.append((entry.sequence, "entry \(entry.sequence) (\(entry.kind)) holds an event that cannot be read"))
            return
        }
        // Entry 0 is the ledger's beginning, naming the key this export is verified with.
        if (entry.sequence == 0) != (entry.kind == "ledger.initialized") {
            problems.append((entry.sequence, entry.sequence == 0 ? "entry 0 is not the ledger's ledger.initialized" : "entry \(entry.sequence) initializes the ledger again"))
        }
        // Administrative payloads are read as JSON values (what the authority rules compare); every payload, once, for a
        // key twice (verifiers reading it differently).
        var raw: JSONValue?
        if event != nil, !Event.requestKinds.contains(entry.kind) || entry.kind == "request.withdrawn" {
            do { raw = try JSONValue.parse(entry.payload) } catch {
                problems.append((entry.sequence, "entry \(entry.sequence) (\(entry.kind)) holds a payload that is not well-formed JSON: \(error.description)"))
                return
            }
        } else if let key = StrictJSON.duplicateKey(in: entry.payload) {
            problems.append((entry.sequence, "entry \(entry.sequence) (\(entry.kind)) holds a payload with the key \"\(key.prefix(40))\" twice"))
            return
        }
        guard let event else {
            // A kind this version does not know: administrative (its header names no request), a row with no approval.
            if !Event.requestKinds.contains(entry.kind) {
                let row = [
                    Timestamps.rfc3339(entry.timeMilliseconds), String(entry.sequence), entry.kind, entry.actor,
                    Self.administrationSubject(kind: entry.kind, payload: entry.payload, actor: entry.actor), "", regulatedSeen ? "unsigned" : "unsigned-before-regulated",
                ]
                try sink.append(Array((row.map(Self.csvField).joined(separator: ",") + "\r\n").utf8), to: "administration.csv")
            }
            return
        }
        if let id = event.request, entry.version == LedgerEntry.formatVersion {
            // The header's project and environment are the request's (what a stub's filter rests on).
            let known: (String, String)? = if case .requestFiled(let e) = event { (e.project, e.environment) } else { facts(id).map { scopes[Int($0.scope)] } }
            if let known, known != (entry.project, entry.environment) {
                problems.append((entry.sequence, "entry \(entry.sequence): its header names project \(entry.project.debugDescription) and environment \(entry.environment.debugDescription), not its request's"))
            }
        } else if event.request == nil, entry.version == LedgerEntry.formatVersion, !entry.project.isEmpty || !entry.environment.isEmpty {
            problems.append((entry.sequence, "entry \(entry.sequence): an administrative entry's header names no project or environment"))
        }
        let time = Timestamps.rfc3339(entry.timeMilliseconds)
        if let raw {
            if case .ledgerInitialized = event, let problem = initializationProblem(raw) { problems.append((entry.sequence, "entry 0 \(problem)")) }
            var approval = Self.approval(of: event)
            if case .requestWithdrawn(let e) = event { approval = e.approval }
            if let problem = authority.problem(
                kind: entry.kind, sequence: entry.sequence, actor: entry.actor, time: entry.timeMilliseconds, event: raw, approval: approval, keys: keys)
            {
                problems.append((entry.sequence, problem))
            }
        }
        let trustsKey = authority.addsTrustedKey(kind: entry.kind, actor: entry.actor, approval: Self.approval(of: event))
        defer { if let raw { authority.apply(kind: entry.kind, actor: entry.actor, event: raw) } }
        if !Event.requestKinds.contains(entry.kind) { try addAdministration(entry, event: event, to: &sink) }
        // An administrator's withdrawal of another person's request carries their approval: checked like any other.
        if case .requestWithdrawn(let e) = event, let approval = e.approval { _ = checkApproval(approval, entry: entry) }
        switch event {
        case .principalAdded(let e):
            if let key = e.verifierKey { addKey(principal: e.name, verifierKey: key, entry: entry, trusted: trustsKey) }
        case .keyEnrolled(let e):
            // A self-enrolment's proof is checked against the keys before it: the new key cannot vouch for itself.
            if let proof = e.proof { checkEnrolmentProof(proof, event: e, entry: entry) }
            addKey(principal: e.principal, verifierKey: e.verifierKey, entry: entry, trusted: trustsKey && e.proof == nil)
            if e.proof != nil, let last = keys.indices.last, keys[last].enrolledSequence == entry.sequence { keys[last].selfEnrolled = true }
        case .keyRevoked(let e):
            if let text = raw?.member("compromised_since")?.string, Timestamps.milliseconds(rfc3339: text).map(Timestamps.rfc3339) != text {
                problems.append((entry.sequence, "the key.revoked at entry \(entry.sequence) gives compromised_since \(text.prefix(40).debugDescription), not a time in the form YYYY-MM-DDTHH:MM:SS.mmmZ"))
            }
            if let index = keys.firstIndex(where: { $0.principal == e.principal && $0.fingerprint == e.fingerprint && $0.revokedSequence == nil }) {
                keys[index].revokedSequence = entry.sequence
                keys[index].revokedAt = time
                keys[index].revokedMilliseconds = entry.timeMilliseconds
                keys[index].compromisedSince = e.compromisedSince
            }
        case .workflowApplied(let e):
            if let applied = try? AppliedWorkflow(source: e.source, recorded: true) {
                if applied.workflow.requesterMayDecide || applied.workflow.requesterMayDeploy {
                    optOutWorkflows.append("\(Self.markdownText(e.name)) (`\(e.digest)`): \(Self.markdownText(applied.workflow.separationOptOutReason ?? ""))")
                }
                workflowsRead[e.digest] = applied.workflow
            }
        case .requestFiled(let e):
            closedRequests[e.id] = nil  // filed again (never by the engine): the later filing counts
            if workflowIndex[e.workflowDigest] == nil {
                workflowIndex[e.workflowDigest] = Int32(workflowDigests.count)
                workflowDigests.append(e.workflowDigest)
            }
            var summary = RequestSummary(
                scope: intern(e.project, e.environment), project: e.project, environment: e.environment, workflow: workflowIndex[e.workflowDigest]!,
                bundle: e.bundle, digest: e.digest)
            summary.labels = e.labels
            summary.emergencyReason = e.emergencyReason
            requests[e.id] = summary
        case .decisionRecorded(let e):
            decisionCount += 1
            let request = facts(e.request)
            let requestScope = request.map { scopes[Int($0.scope)] }
            var keyID = ""
            var validity = "unsigned"
            if let envelope = e.envelope {
                signedDecisionCount += 1
                let key = keys.last { $0.principal == entry.actor && $0.fingerprint == e.keyFingerprint.map(Ed25519.PublicKey.fingerprintHex) }
                keyID = key.flatMap { try? NoteVerifierKey(parsing: $0.verifierKey) }?.keyIDHex ?? ""
                if let problem = Self.bindingProblem(
                    e, envelope: envelope, entry: entry, request: request, scope: requestScope, workflowDigest: request.map { workflowDigests[Int($0.workflow)] },
                    key: key) {
                    validity = "no"
                    problems.append((entry.sequence, "the decision at entry \(entry.sequence) \(problem)"))
                } else {
                    validity = "yes"
                }
                if let fingerprint = e.keyFingerprint { signedByKey[Ed25519.PublicKey.fingerprintHex(fingerprint), default: []].append((entry.sequence, entry.timeMilliseconds)) }
            } else if e.keyFingerprint != nil || e.statementDigest != nil {
                problems.append((entry.sequence, "the decision at entry \(entry.sequence) names a key or statement digest but carries no envelope"))
            }
            let project = entry.version == LedgerEntry.formatVersion ? entry.project : requestScope?.project ?? ""
            let environment = entry.version == LedgerEntry.formatVersion ? entry.environment : requestScope?.environment ?? ""
            let row = [time, e.request, project, environment, e.stage, e.decision.rawValue, entry.actor, e.onBehalfOf ?? "", keyID, validity,
                e.bundleDigest.description, e.comment]
            try sink.append(Array((row.map(Self.csvField).joined(separator: ",") + "\r\n").utf8), to: "decisions.csv")
            switch validity {
            case "unsigned": requests[e.request]?.unsigned += 1
            case "yes": requests[e.request]?.signed += 1
            default: requests[e.request]?.invalid += 1
            }
        case .evidenceAttached(let e):
            let project = entry.version == LedgerEntry.formatVersion ? entry.project : facts(e.request).map { scopes[Int($0.scope)].0 } ?? ""
            evidenceDigests[e.digest, default: []].insert(project)
        case .stageEntered(let e): requests[e.request]?.state = e.stage
        case .requestRejected(let e): requests[e.request]?.state = "rejected at \(e.stage)"
        case .requestWithdrawn(let e): requests[e.request]?.state = "withdrawn"
        case .requestRevised(let e):
            requests[e.request]?.bundle = e.bundle
            requests[e.request]?.digest = e.digest
            requests[e.request]?.revision = e.revision
            requests[e.request]?.state = "revised (revision \(e.revision))"
            if let c = closedRequests[e.request] {  // never by the engine; a verifier tracks revisions all the same
                closedRequests[e.request] = RequestFacts(
                    scope: c.scope, workflow: c.workflow, revision: Int32(clamping: e.revision), emergency: c.emergency, digest: Digest32(e.digest),
                    bundle: Self.nameHash(e.bundle), labels: c.labels)
            }
        case .deploymentRecorded(let e):
            if e.outcome == .succeeded { requests[e.request]?.state = "deployed" }
            // The first attempt, succeeded or failed, makes an emergency owe its retrospective (as the engine says).
            if let r = requests[e.request], r.retrospectiveDue == nil, let workflow = workflowsRead[workflowDigests[Int(r.workflow)]],
                let retrospective = workflow.retrospective(emergency: r.emergencyReason != nil, exempted: !r.exemptions.isEmpty)
            {
                requests[e.request]?.retrospectiveDue = entry.timeMilliseconds + retrospective.withinSeconds * 1000
            }
        case .retrospectiveRecorded(let e):
            requests[e.request]?.retrospectiveDone = true
            if let envelope = e.envelope { checkActorSignature(envelope, entry: entry) }
        case .delegationGranted:
            break  // its envelope is checked with the entry's administration.csv row
        case .freezeExempted(let e):
            exemptions.append((e.id, e.request, e.reason, entry.actor, entry.timeMilliseconds))
            requests[e.request]?.exemptions.append((e.id, e.reason))
        case .requestExpired(let e): requests[e.request]?.state = "expired"
        default: break
        }
        if let id = event.request, let r = requests[id], r.isClosed {
            try sink.append(Array(section(id, r).utf8), to: "requests.md")
            requests[id] = nil
            closedRequests[id] = r.facts
            closedListed += 1
        }
    }

    /// What the export knows of a request whose filing it holds in full: open or closed.
    private func facts(_ id: String) -> RequestFacts? { requests[id]?.facts ?? closedRequests[id] }

    /// What is wrong with a signed decision, or nil: the checks of `audit-export.md` ("Signed decisions"), in order.
    static func bindingProblem(
        _ e: Event.DecisionRecorded, envelope: DSSEEnvelope, entry: LedgerEntry, request: RequestFacts?, scope: (project: String, environment: String)?,
        workflowDigest: SHA256Digest?, key: KeyRecord?
    ) -> String? {
        guard envelope.payloadType == DSSE.inTotoPayloadType else { return "has payload type \(envelope.payloadType), not \(DSSE.inTotoPayloadType)" }
        if let digest = e.statementDigest, digest != SHA256Digest.hash(envelope.payload) {
            return "names a statement_digest that is not the SHA-256 of its envelope's payload"
        }
        guard let key, let fingerprint = e.keyFingerprint else { return "is signed with no key its decider had enrolled (key_fingerprint)" }
        guard key.isValid(at: entry.timeMilliseconds) else { return "is signed with a key of \(entry.actor) not enrolled, or already revoked, at its time" }
        // Exactly one signature, the decider's: the engine records no other (a second, never verified, would claim a
        // co-signer who did not sign).
        guard envelope.signatures.count == 1 else { return "carries \(envelope.signatures.count) signatures, not exactly one (its decider's)" }
        guard let verifier = try? NoteVerifierKey(parsing: key.verifierKey),
            envelope.signatures.contains(where: {
                Ed25519.PublicKey.fingerprintHex($0.keyid) == Ed25519.PublicKey.fingerprintHex(fingerprint)
                    && verifier.publicKey.isValidSignature($0.sig, for: envelope.signedBytes)
            })
        else { return "carries no signature that verifies with the key \(fingerprint) of \(entry.actor)" }
        guard StrictJSON.duplicateKey(in: envelope.payload) == nil,
            let statement = try? JSONSerialization.jsonObject(with: Data(envelope.payload)) as? [String: Any],
            let predicate = statement["predicate"] as? [String: Any], let subjects = statement["subject"] as? [[String: Any]]
        else { return "signs a payload that is not an in-toto statement" }
        guard statement["_type"] as? String == DecisionStatement.statementType, let type = statement["predicateType"] as? String,
            Self.decisionPredicateTypes.contains(type)
        else { return "signs a statement that is not an in-toto Statement v1 of a Signoff decision predicate" }
        guard subjects.count == 1, (subjects[0]["digest"] as? [String: Any])?["sha256"] as? String == e.bundleDigest.hex else {
            return "signs another bundle digest than its entry's bundle_digest \(e.bundleDigest)"
        }
        func text(_ name: String) -> String? { predicate[name] as? String }
        let project = entry.version == LedgerEntry.formatVersion ? entry.project : scope?.project
        let environment = entry.version == LedgerEntry.formatVersion ? entry.environment : scope?.environment
        let actorField = type.hasSuffix("/v1") ? "approver" : "actor"
        let revision = predicate["revision"].flatMap { $0 is Int && !"\($0)".contains(".") ? $0 as? Int : nil }
        guard text("request") == e.request, project.map({ text("project") == $0 }) ?? true, environment.map({ text("environment") == $0 }) ?? true,
            text("stage") == e.stage, text("decision") == e.decision.rawValue, revision == e.revision,
            predicate[actorField] == nil && type.hasSuffix("/v1") || text(actorField) == entry.actor
        else { return "signs a statement whose request, project, environment, stage, decision, actor or revision is not its entry's" }
        if type == DecisionStatement.predicateType, text("on_behalf_of") != e.onBehalfOf {
            return "signs a statement whose on_behalf_of is not its entry's"
        }
        if let request {
            guard e.revision == Int(request.revision), Digest32(e.bundleDigest) == request.digest,
                (subjects[0]["name"] as? String).map(Self.nameHash) == request.bundle
            else {
                return "is for another revision or bundle than its request's at the time"
            }
            // `sha256:<hex>`; a v1 statement may carry the bare hex.
            guard let workflow = text("workflow_digest"), let workflowDigest,
                workflow == workflowDigest.description || (type.hasSuffix("/v1") && workflow == workflowDigest.hex)
            else {
                return "signs another workflow digest than its request's"
            }
            if type == DecisionStatement.predicateType {
                guard predicate["labels"] as? [String: [String]] == (request.labels ?? [:]), predicate["emergency"] as? Bool == request.emergency else {
                    return "signs other labels or another emergency mode than its request's"
                }
            }
        }
        guard let signedAt = text("time").flatMap(Timestamps.milliseconds(rfc3339:)),
            signedAt >= entry.timeMilliseconds - Self.statementMaximumAge, signedAt <= entry.timeMilliseconds + Self.statementMaximumSkew
        else { return "signs a statement whose time is not within 10 minutes before (or 1 minute after) its entry's" }
        return nil
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
        case .freezeExempted(let e): e.approval
        case .webhookAdded(let e): e.approval
        case .webhookRemoved(let e): e.approval
        case .issuerTrusted(let e): e.approval
        case .issuerDistrusted(let e): e.approval
        case .directoryConnected(let e): e.approval
        case .directoryDisconnected(let e): e.approval
        case .groupLinked(let e): e.approval
        case .delegationRevoked(let e): e.approval
        case .tokenRevoked(let e): e.approval
        default: nil
        }
    }

    /// A self-enrolment's proof: by the key's own principal (the entry's actor), over exactly this key, signed with keys the
    /// principal had at the entry's time.
    private mutating func checkEnrolmentProof(_ proof: DSSEEnvelope, event: Event.KeyEnrolled, entry: LedgerEntry) {
        struct Statement: Decodable {
            let principal: String
            let verifier_key: String
            let time: String
        }
        guard entry.actor == event.principal, proof.payloadType == KeyEnrolmentStatement.payloadType, StrictJSON.duplicateKey(in: proof.payload) == nil,
            let statement = try? JSONDecoder().decode(Statement.self, from: Data(proof.payload)),
            statement.principal == event.principal, statement.verifier_key == event.verifierKey
        else {
            problems.append((entry.sequence, "the key.enrolled at entry \(entry.sequence) carries a proof that is not its principal's statement of exactly this key"))
            return
        }
        // Signed when the key was enrolled, as the engine accepts a statement: at most 10 minutes before, 1 minute after.
        guard let signed = Timestamps.milliseconds(rfc3339: statement.time), signed >= entry.timeMilliseconds - Self.statementMaximumAge,
            signed <= entry.timeMilliseconds + Self.statementMaximumSkew
        else {
            problems.append((entry.sequence, "the key.enrolled at entry \(entry.sequence) carries a proof whose time is not within 10 minutes before (or 1 minute after) its entry's"))
            return
        }
        checkActorSignature(proof, entry: entry)
    }

    /// A signed retrospective or delegation: every signature by a key the entry's actor had enrolled at its time.
    @discardableResult
    private mutating func checkActorSignature(_ envelope: DSSEEnvelope, entry: LedgerEntry) -> Bool {
        let message = envelope.signedBytes
        let valid = !envelope.signatures.isEmpty && envelope.signatures.allSatisfy { signature in
            let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
            guard let key = keys.last(where: { $0.principal == entry.actor && $0.fingerprint == fingerprint }), key.isValid(at: entry.timeMilliseconds),
                let verifier = try? NoteVerifierKey(parsing: key.verifierKey)
            else { return false }
            return verifier.publicKey.isValidSignature(signature.sig, for: message)
        }
        if !valid {
            problems.append((entry.sequence, "the \(entry.kind) at entry \(entry.sequence) carries a signature that does not verify with a key its actor had enrolled at the time"))
        }
        return valid
    }

    /// A row of administration.csv: who signed the change (each signature checked with a key its signer had enrolled
    /// at the entry's time).
    private mutating func addAdministration(_ entry: LedgerEntry, event: Event, to sink: inout some AuditExportSink) throws {
        var signers: [String] = []
        var validity = regulatedSeen ? "unsigned" : "unsigned-before-regulated"
        if let envelope = Self.approval(of: event) {
            (signers, validity) = checkApproval(envelope, entry: entry)
        } else if case .delegationGranted(let e) = event, let envelope = e.envelope {
            // A delegation is signed by who gives it: its envelope by the entry's actor.
            let valid = checkActorSignature(envelope, entry: entry)
            (signers, validity) = (valid ? [entry.actor] : [], valid ? "yes" : "no")
        }
        let row = [
            Timestamps.rfc3339(entry.timeMilliseconds), String(entry.sequence), entry.kind, entry.actor,
            Self.administrationSubject(kind: entry.kind, payload: entry.payload, actor: entry.actor), signers.joined(separator: " "), validity,
        ]
        try sink.append(Array((row.map(Self.csvField).joined(separator: ",") + "\r\n").utf8), to: "administration.csv")
        if validity == "yes" { signedAdministration += 1 }
        switch event {
        case .projectCreated(let e) where e.project.regulated: regulatedSeen = true
        case .projectUpdated(let e) where e.project.regulated: regulatedSeen = true
        default: break
        }
    }

    /// What an administrative entry changes, in one line (`schema/audit-export.md`, "administration.csv"): read from the
    /// payload's JSON, so that a verifier written from the spec makes the same text; empty when a field it names is
    /// missing or not a string.
    public static func administrationSubject(kind: String, payload: [UInt8], actor: String) -> String {
        guard let event = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else { return "" }
        func text(_ object: [String: Any]?, _ key: String) -> String? { object?[key] as? String }
        func object(_ key: String) -> [String: Any]? { event[key] as? [String: Any] }
        // JSON's true and false, and its integers, as such (JSONSerialization's numbers also cast to Bool and Int).
        func numberType(_ value: Any?) -> String? { (value as? NSNumber).map { String(cString: $0.objCType) } }
        func isTrue(_ value: Any?) -> Bool { numberType(value) == "c" && (value as? Bool) == true }
        func integer(_ value: Any?) -> Int? { ["i", "s", "l", "q", "I", "S", "L", "Q"].contains(numberType(value) ?? "") ? (value as? Int) : nil }
        let made: String?
        switch kind {
        case "ledger.initialized": made = text(event, "origin")
        case "principal.added", "group.created", "issuer.distrusted", "directory.connected", "directory.disconnected": made = text(event, "name")
        case "key.enrolled", "key.revoked", "principal.disabled", "principal.enabled": made = text(event, "principal")
        case "group.member-added": made = text(event, "member").flatMap { m in text(event, "group").map { "\(m) joins \($0)" } }
        case "group.member-removed": made = text(event, "member").flatMap { m in text(event, "group").map { "\(m) leaves \($0)" } }
        case "group.linked":
            made = text(event, "group").map { g in text(event, "directory").map { "\(g) linked to \($0)" } ?? "\(g) unlinked" }
        case "project.created", "project.updated":
            let project = object("project")
            made = text(project, "key").map { key in
                var line = key + (isTrue(project?["regulated"]) ? " (regulated)" : "")
                if let roles = project?["roles"] as? [String: Any] {
                    for role in roles.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                        line += " \(role)=" + ((roles[role] as? [Any]) ?? []).compactMap { $0 as? String }.joined(separator: "|")
                    }
                }
                return line
            }
        case "admin.quorum-set": made = integer(event["quorum"]).map { "quorum \($0)" }
        case "token.issued", "token.revoked": made = text(event, "principal").flatMap { p in text(event, "token_id").map { "\(p) token \($0)" } }
        case "workflow.applied": made = text(event, "name").flatMap { n in text(event, "digest").map { "\(n) \($0)" } }
        case "freeze.added":
            let freeze = object("freeze")
            made = text(event, "id").flatMap { id in text(freeze, "environment").map { "\(id) \($0) of \(text(freeze, "project") ?? "every project")" } }
        case "freeze.lifted", "webhook.added", "webhook.removed", "delegation.revoked": made = text(event, "id")
        case "freeze.exempted": made = text(event, "id").flatMap { id in text(event, "request").map { "\(id) lets \($0) through" } }
        case "issuer.trusted": made = text(object("issuer"), "name")
        case "delegation.granted": made = text(object("delegation"), "delegate").map { "\(actor) to \($0)" }
        default: made = nil
        }
        return made ?? ""
    }

    /// An administrative approval's signers and whether every signature counts (`yes`/`no`): each by the last key so
    /// far with its `keyid`, of any principal, valid at the entry's time. A `no` is a problem of the export.
    private mutating func checkApproval(_ envelope: DSSEEnvelope, entry: LedgerEntry) -> (signers: [String], validity: String) {
        var signers: [String] = []
        var validity = envelope.signatures.isEmpty ? "no" : "yes"
        let message = envelope.signedBytes
        for signature in envelope.signatures {
            let fingerprint = Ed25519.PublicKey.fingerprintHex(signature.keyid)
            let key = keys.last { $0.fingerprint == fingerprint }
            let valid = key?.isValid(at: entry.timeMilliseconds) ?? false
            let verifier = key.flatMap { try? NoteVerifierKey(parsing: $0.verifierKey) }
            if valid, verifier?.publicKey.isValidSignature(signature.sig, for: message) == true, let key {
                signers.append(key.principal)
            } else {
                validity = "no"
            }
        }
        if validity == "no" {
            problems.append((entry.sequence, "the administrative change at entry \(entry.sequence) carries an approval that does not verify with keys its signers had enrolled at the time"))
        }
        return (signers, validity)
    }

    /// A request's section of requests.md.
    func section(_ id: String, _ r: RequestSummary) -> String {
        let md = Self.markdownText
        var s = "## \(md(id)): \(md(r.project)) → \(md(r.environment)), \(md(r.state))\n\n"
        s += "Bundle \(md(r.bundle)) `\(r.digest)` (revision \(r.revision))\n\n"
        if let reason = r.emergencyReason { s += "- **EMERGENCY**: \(md(reason))\n" }
        for exemption in r.exemptions { s += "- **let through freeze \(md(exemption.freeze))** (break-glass): \(md(exemption.reason))\n" }
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

    private mutating func addKey(principal: String, verifierKey: String, entry: LedgerEntry, trusted: Bool) {
        guard let key = try? NoteVerifierKey(parsing: verifierKey) else { return }
        keys.append(KeyRecord(
            principal: principal, verifierKey: verifierKey, fingerprint: key.publicKey.fingerprint, enrolledSequence: entry.sequence,
            enrolledAt: Timestamps.rfc3339(entry.timeMilliseconds), revokedSequence: nil, revokedAt: nil, enrolledMilliseconds: entry.timeMilliseconds,
            revokedMilliseconds: nil, trusted: trusted))
    }

    /// What is wrong with the ledger's `ledger.initialized` (entry 0) for this export, or nil: it names the checkpoint's
    /// origin and the very key the export is verified with.
    func initializationProblem(_ event: JSONValue) -> String? {
        guard event.member("origin")?.string == checkpoint.checkpoint.origin else { return "names another origin than the checkpoint's" }
        guard (event.member("ledger_verifier_key") ?? event.member("ledger_key"))?.string == ledgerKey.description else {
            return "names another ledger key than the trusted one"
        }
        return nil
    }

    /// A CSV field (RFC 4180) that a spreadsheet opens as text, whatever its locale's separator: first the formula
    /// guard (a leading `=`, `+`, `-`, `@`, tab or CR gets a `'` before it), then quoting — with `"` around the field and
    /// inner quotes doubled — of any field that holds a separator of a common locale (`,` `;` tab), a quote or a line
    /// break (`\r`, `\n`).
    static func csvField(_ value: String) -> String { CSVText.field(value) }

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
        for file in ["entries.jsonl", "keys.jsonl"] { try sink.append([], to: file) }
        try sink.append(Array("# Requests\n\nClosed requests in the order they closed, then open ones in request order.\n\n".utf8), to: "requests.md")
        try sink.append(Array(Self.csvHeader.utf8), to: "decisions.csv")
        try sink.append(Array(Self.administrationCSVHeader.utf8), to: "administration.csv")
    }

    /// Why an export cannot be finished or does not verify.
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        public init(_ message: String) { self.message = message }
    }

    /// After the last entry: checks that the entries account for the whole checkpoint (every sequence number below
    /// its size, and the root recomputed from all of them is its root), writes the files that summarise the export,
    /// and returns the manifest's payload — which the exporter signs with the ledger key into `MANIFEST.json`, and
    /// which the verifier compares with the signed one.
    public func finish(to sink: inout some AuditExportSink) throws -> [UInt8] {
        let size = checkpoint.checkpoint.size
        guard frontier.size == size else {
            throw Failure("entries.jsonl accounts for \(frontier.size) entries, the checkpoint for \(size): entry \(frontier.size) is missing")
        }
        guard frontier.rootHash == checkpoint.checkpoint.rootHash else {
            throw Failure("the root recomputed from the \(size) entries is not the signed checkpoint's root: an entry or stub was changed")
        }
        for key in keys { try sink.append([UInt8](try Self.jsonEncoder.encode(key)) + [0x0A], to: "keys.jsonl") }
        try sink.append(Array(checkpoint.serialized.utf8), to: "checkpoint.txt")
        try writeSummary(to: &sink)
        return manifestPayload(files: sink.digests.filter { $0.key != "MANIFEST.json" })
    }

    /// The manifest: compact JSON, keys in bytewise order (`audit-export.md`, "MANIFEST.json").
    public func manifestPayload(files: [String: SHA256Digest]) -> [UInt8] {
        var filterLine = JSONLine()
        filterLine.field("environment", optional: filter.environment)
        filterLine.field("project", optional: filter.project)
        filterLine.field("since", optional: filter.since.map(Timestamps.rfc3339))
        filterLine.field("until", optional: filter.until.map(Timestamps.rfc3339))
        var filesLine = JSONLine()
        for name in files.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            filesLine.field(name, string: files[name]!.description)
        }
        var line = JSONLine()
        line.field("checkpoint_root", string: checkpoint.checkpoint.rootHash.description)
        line.field("checkpoint_size", number: checkpoint.checkpoint.size)
        line.field("documents", bool: documentsRequested)
        line.field("files", object: filesLine)
        line.field("filter", object: filterLine)
        line.field("format", string: Self.format)
        line.field("full_entries", number: UInt64(fullCount))
        line.field("ledger_verifier_key", string: ledgerKey.description)
        line.field("origin", string: checkpoint.checkpoint.origin)
        line.field("stubs", number: UInt64(stubCount))
        return line.object
    }

    /// `MANIFEST.json`: the manifest signed with the ledger key as a DSSE envelope, and a newline.
    public static func signedManifest(_ payload: [UInt8], with ledgerKey: Ed25519.SigningKey) -> [UInt8] {
        DSSE.sign(payload: payload, payloadType: manifestPayloadType, with: ledgerKey).jsonBytes() + [0x0A]
    }

    /// SUMMARY.md, and the sections of the requests still open at the end of requests.md.
    func writeSummary(to sink: inout some AuditExportSink) throws {
        let invalidDecisions = problems.filter { $0.message.hasPrefix("the decision at") }.count
        var s = "# Signoff audit export\n\n"
        s += "- Ledger: `\(checkpoint.checkpoint.origin)`, key `\(ledgerKey.description)`\n"
        s += "- Cut against the signed checkpoint of tree size \(checkpoint.checkpoint.size), root `\(checkpoint.checkpoint.rootHash)`\n"
        s += "- Filter: project \(filter.project.map(Self.markdownText) ?? "any"), environment \(filter.environment.map(Self.markdownText) ?? "any"), from \(filter.since.map(Timestamps.rfc3339) ?? "the start") to \(filter.until.map(Timestamps.rfc3339) ?? "the checkpoint")\n"
        s += "- All \(checkpoint.checkpoint.size) entries accounted for: \(fullCount) in full\(firstTime.map { ", from \(Timestamps.rfc3339($0))" } ?? "")\(lastTime.map { " to \(Timestamps.rfc3339($0))" } ?? ""), \(stubCount) outside the filter as stubs (header and payload digest)\n"
        s += "- \(decisionCount) decisions: \(signedDecisionCount) signed, \(decisionCount - signedDecisionCount) unsigned, \(invalidDecisions) with an invalid signature\n"
        s += "- \(keys.count) enrolled keys, \(keys.filter { $0.revokedSequence != nil }.count) revoked; \(signedAdministration) signed administrative changes\n"
        s += documentsRequested
            ? "- Evidence documents asked for: those the server held are in documents/ (see the manifest)\n"
            : "- Evidence documents not asked for: the export holds their digests only\n"
        if !optOutWorkflows.isEmpty {
            s += "\n## Flagged: separation of duties opted out\n\n" + optOutWorkflows.map { "- \($0)\n" }.joined()
        }
        let order = requests.keys.sorted { ($0.count, $0) < ($1.count, $1) }  // REQ-2 before REQ-10
        let pending = order.filter { requests[$0]!.retrospectiveDue != nil && !requests[$0]!.retrospectiveDone }
        if !pending.isEmpty {
            s += "\n## Flagged: emergency deployments without their retrospective review: \(pending.map(Self.markdownText).joined(separator: ", "))\n"
        }
        if !exemptions.isEmpty {
            s += "\n## Flagged: requests let through a freeze (break-glass)\n\n"
            s += exemptions.map { "- \(Self.markdownText($0.request)) through \(Self.markdownText($0.freeze)), by \(Self.markdownText($0.actor)) at \(Timestamps.rfc3339($0.time)): \(Self.markdownText($0.reason))\n" }.joined()
        }
        if !problems.isEmpty {
            s += "\n## Flagged: \(problems.count) entries whose signature or binding does not verify (this export does not verify): entries "
            s += problems.prefix(20).map { String($0.sequence) }.joined(separator: ", ") + (problems.count > 20 ? ", …" : "") + "\n"
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

    mutating func field(_ key: String, bool value: Bool) {
        name(key)
        bytes += Array((value ? "true" : "false").utf8)
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

    mutating func field(_ key: String, optional value: String?) {
        guard let value else {
            name(key)
            bytes += Array("null".utf8)
            return
        }
        field(key, string: value)
    }

    mutating func field(_ key: String, object: JSONLine) {
        name(key)
        bytes += object.object
    }

    /// The object without a newline.
    var object: [UInt8] { bytes + [0x7D] }

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
