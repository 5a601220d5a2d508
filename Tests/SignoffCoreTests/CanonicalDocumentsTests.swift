import Foundation
@testable import SignoffCore
import SignoffCrypto
import Testing

/// The request documents and decision events write their canonical JSON themselves (``CanonicalJSONWritable``): the
/// bytes must be Foundation's for the same value, with every optional field set or absent and with hostile text.
/// (`EngineFixture` checks the same on every event and touched document of every test world.)
@Suite("Canonical documents written member by member")
struct CanonicalDocumentsTests {
    static let hostile: [String] = {
        var all = ""
        for byte in 0..<0x80 { all.unicodeScalars.append(Unicode.Scalar(UInt8(byte))) }
        return [all, "", "\"", "\\", "/", "</script>", "e\u{301}x", "é", "\u{212B}a", "\u{2028}", "😀", "a10", "a9", "B", "\u{0}", "line\nbreak", "\u{1B}[31m"]
    }()

    func same(_ value: some CanonicalJSONWritable, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let written = CanonicalJSON.encode(writable: value)
        let foundation = try CanonicalJSON.foundationEncode(value)
        #expect(written == foundation, "\(String(decoding: written, as: UTF8.self))\nvs\n\(String(decoding: foundation, as: UTF8.self))", sourceLocation: sourceLocation)
        // The generic entry point takes the same path.
        #expect(try CanonicalJSON.encode(value) == foundation, sourceLocation: sourceLocation)
    }

    static let digest = SHA256Digest.hash("bundle")
    static let source = BundleSource(
        system: "gitlab", runURL: "https://ci.example/run/1", commit: "abc1234", commitURL: "https://ci.example/c", ref: "main\"x", changeURL: "https://ci.example/mr/2",
        bundleID: "b\\1", triggeredBy: "ana", verifiedBy: "gitlab-ci")
    static let envelope = DSSEEnvelope(
        payloadType: DSSE.inTotoPayloadType, payload: Array("{\"a\":1}".utf8), signatures: [.init(keyid: "sha256:ab\"c", sig: [1, 2, 3]), .init(keyid: "", sig: [])])

    static func request(text: String, full: Bool) -> DeploymentRequest {
        var request = DeploymentRequest(
            id: "REQ-\(text)", project: text, environment: text, requester: text, description: text, filedAt: -5, workflowDigest: digest, bundle: text,
            digest: SHA256Digest.hash(text), revision: 3, stage: text, status: .withdrawn, history: [StageEntry(stage: text, at: 1, revision: 1)],
            evidence: [], decisions: [], deployments: [], retrospectiveDue: nil, retrospectiveDone: true)
        guard full else { return request }
        request.evidence = [
            Evidence(kind: text, status: .errored, digest: digest, attachedBy: text, at: 7, revision: 2),
            Evidence(
                kind: text, status: .passed, digest: digest, attachedBy: text, at: Int64.max, revision: 3, tests: TestCounts(tests: 9, failures: 1, errors: 0, skipped: 2),
                labels: [text: [text, "b"], "a": []], source: source),
        ]
        request.decisions = [
            Decision(stage: text, decision: .changesRequested, by: text, at: 2, comment: text, revision: 1, keyFingerprint: nil, statementDigest: nil),
            Decision(stage: text, decision: .approve, by: text, at: 3, comment: "", revision: 3, keyFingerprint: "ab", statementDigest: digest, onBehalfOf: text),
        ]
        request.deployments = [Deployment(outcome: .failed, by: text, at: 4, note: text, revision: 3)]
        request.retrospectiveDue = Int64.min
        request.labels = [text: [text], "risk": ["high", text]]
        request.emergency = .init(reason: text)
        request.exemptedFrom = [text, "FRZ-1"]
        request.source = source
        request.detectedLabels = ["touches": [text]]
        request.deploymentInProgress = DeploymentStart(by: text, at: 9, note: text, revision: 3)
        request.earlierRevisions = [EarlierRevision(revision: 1, bundle: text, digest: digest, replacedAt: 8, replacedBy: text)]
        return request
    }

    @Test("A request's document: every optional field absent, then every one set, with hostile text in every string")
    func requests() throws {
        for text in Self.hostile {
            try same(Self.request(text: text, full: false))
            try same(Self.request(text: text, full: true))
        }
    }

    @Test("A decision's events: signed (with its envelope, under a delegation) and not; the stage it enters")
    func decisionEvents() throws {
        for text in Self.hostile {
            try same(
                Event.DecisionRecorded(
                    request: text, stage: text, decision: .reject, comment: text, revision: 2, bundleDigest: Self.digest, envelope: nil, keyFingerprint: nil,
                    statementDigest: nil))
            try same(
                Event.DecisionRecorded(
                    request: text, stage: text, decision: .approve, comment: text, revision: 2, bundleDigest: Self.digest, envelope: Self.envelope,
                    keyFingerprint: "0123abcd", statementDigest: Self.digest, onBehalfOf: text))
            try same(Event.StageEntered(request: text, stage: text, revision: 1))
        }
        try same(Self.envelope)
        try same(Self.digest)
        try same(BundleSource())
        try same(Self.source)
    }

    @Test("The projection's request documents are these bytes: a request's document read back is the request")
    func documentsRoundTrip() throws {
        var state = SignoffState()
        state.requests["REQ-1"] = Self.request(text: "x\"y", full: true)
        let document = try #require(state.document(for: "request/REQ-1"))
        #expect(Array(document.utf8) == (try CanonicalJSON.foundationEncode(state.requests["REQ-1"]!)))
        #expect(try JSONDecoder().decode(DeploymentRequest.self, from: Data(document.utf8)) == state.requests["REQ-1"])
    }
}
