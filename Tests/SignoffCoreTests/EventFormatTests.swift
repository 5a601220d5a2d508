import Foundation
@testable import SignoffCore
import SignoffCrypto
import SignoffTestSupport
import Testing

/// Ledger payload format 2 (`schema/ledger.md`): snake_case names, `sha256:` fingerprints; format 1 still read.
@Suite("Event payload formats")
struct EventFormatTests {
    static let hex = String(repeating: "ab", count: 32)
    static let digest = "sha256:" + String(repeating: "cd", count: 32)

    func decode(_ kind: String, _ json: String) throws -> Event? { try Event.decode(kind: kind, payload: Array(json.utf8)) }

    @Test("Format 1 payloads (camelCase, bare-hex fingerprints) are read; fingerprints come out as bare hex in memory")
    func readsFormatOne() throws {
        guard case .principalAdded(let p)? = try decode("principal.added", #"{"administrator":true,"kind":"user","name":"ada","verifierKey":"ada+01020304+AAAA"}"#)
        else { Issue.record("principal.added"); return }
        #expect(p.verifierKey == "ada+01020304+AAAA")
        guard case .keyEnrolled(let k)? = try decode("key.enrolled", #"{"principal":"ada","verifierKey":"ada+01020304+AAAA"}"#) else { Issue.record("key.enrolled"); return }
        #expect(k.verifierKey == "ada+01020304+AAAA" && k.approval == nil)
        guard case .keyRevoked(let r)? = try decode("key.revoked", #"{"fingerprint":"\#(Self.hex)","principal":"ada"}"#) else { Issue.record("key.revoked"); return }
        #expect(r.fingerprint == Self.hex)
        guard case .requestFiled(let f)? = try decode(
            "request.filed", #"{"bundle":"b.zip","description":"","digest":"\#(Self.digest)","environment":"prod","id":"REQ-1","project":"p","workflowDigest":"\#(Self.digest)"}"#)
        else { Issue.record("request.filed"); return }
        #expect(f.workflowDigest.description == Self.digest)
        guard case .decisionRecorded(let d)? = try decode(
            "decision.recorded",
            #"{"bundleDigest":"\#(Self.digest)","comment":"","decision":"approve","keyFingerprint":"\#(Self.hex)","request":"REQ-1","revision":1,"stage":"approved","statementDigest":"\#(Self.digest)"}"#)
        else { Issue.record("decision.recorded"); return }
        #expect(d.keyFingerprint == Self.hex && d.bundleDigest.description == Self.digest && d.statementDigest?.description == Self.digest)
        guard case .ledgerInitialized(let l)? = try decode("ledger.initialized", #"{"format":"signoff-ledger/1","ledger_key":"o+01020304+AAAA","origin":"o"}"#)
        else { Issue.record("ledger.initialized"); return }
        #expect(l.ledgerKey == "o+01020304+AAAA" && l.format == "signoff-ledger/1")
    }

    @Test("Format 2 is written: snake_case names, sha256: fingerprints, and it reads back to the same event")
    func writesFormatTwo() throws {
        let events: [Event] = [
            .ledgerInitialized(.init(origin: "o", ledgerKey: "o+01020304+AAAA")),
            .principalAdded(.init(name: "ada", kind: .user, administrator: true, verifierKey: "ada+01020304+AAAA")),
            .keyRevoked(.init(principal: "ada", fingerprint: Self.hex)),
            .decisionRecorded(.init(
                request: "REQ-1", stage: "approved", decision: .approve, comment: "", revision: 1, bundleDigest: try SHA256Digest(parsing: Self.digest),
                envelope: nil, keyFingerprint: Self.hex, statementDigest: try SHA256Digest(parsing: Self.digest))),
        ]
        for event in events {
            let text = String(decoding: event.payload, as: UTF8.self)
            #expect(!text.contains("verifierKey") && !text.contains("Fingerprint") && !text.contains("Digest\""), "\(text)")
            #expect(try Event.decode(kind: event.kind, payload: event.payload) == event)
        }
        #expect(String(decoding: events[0].payload, as: UTF8.self) == #"{"format":"signoff-ledger/2","ledger_verifier_key":"o+01020304+AAAA","origin":"o"}"#)
        #expect(String(decoding: events[2].payload, as: UTF8.self).contains(#""key_fingerprint":"sha256:\#(Self.hex)""#))
    }

    @Test("A second ledger.initialized, or one after anyone exists, is refused")
    func initializeOnce() throws {
        let key = try NoteVerifierKey(name: "signoff.test/ledger", publicKey: Ed25519.SigningKey().publicKey)
        var state = SignoffState()
        guard case .success(let events) = Engine.execute(.initializeLedger(origin: "signoff.test/ledger", ledgerKey: key), on: state, actor: "system", now: 0)
        else { Issue.record("the first initialisation was refused"); return }
        for event in events { state.apply(event, actor: "system", at: 0) }
        #expect(state.ledger?.origin == "signoff.test/ledger")
        guard case .failure(let refusal) = Engine.execute(.initializeLedger(origin: "signoff.test/ledger", ledgerKey: key), on: state, actor: "system", now: 0)
        else { Issue.record("a second initialisation was accepted"); return }
        #expect(refusal.code == .adminBootstrap)
        guard case .failure(let wrongName) = Engine.execute(.initializeLedger(origin: "other.test/x", ledgerKey: key), on: SignoffState(), actor: "system", now: 0)
        else { Issue.record("a key named for another origin was accepted"); return }
        #expect(wrongName.code == .inputName)
    }

    /// The event kinds this version reads, as of its projection format. An earlier Signoff refuses a projection of a
    /// later format (`ProjectionFormat`), and an instance meets an unknown kind only by reading afresh: both hold only if
    /// every new kind comes with a new projection format.
    static let kindsOfProjectionFormat = (
        format: "10",
        kinds: [
            "admin.quorum-set", "decision.recorded", "delegation.granted", "delegation.revoked", "deployment.recorded", "deployment.started",
            "directory.connected", "directory.disconnected", "evidence.attached", "freeze.added", "freeze.exempted", "freeze.lifted",
            "group.created", "group.linked", "group.member-added", "group.member-removed", "issuer.distrusted", "issuer.trusted",
            "key.enrolled", "key.revoked", "ledger.initialized", "principal.added", "principal.disabled", "principal.enabled",
            "project.created", "project.updated", "request.expired", "request.filed", "request.rejected", "request.revised",
            "request.withdrawn", "retrospective.recorded", "stage.entered", "token.issued", "token.revoked", "webhook.added",
            "webhook.removed", "workflow.applied",
        ]
    )

    @Test("A new event kind comes with a new projection format: the kinds Event.decode reads are those pinned to the format")
    func eventKindsPinnedToProjectionFormat() throws {
        let source = try String(contentsOf: TestSupport.projectRoot.appendingPathComponent("Sources/SignoffCore/Engine/Event.swift"), encoding: .utf8)
        let body = try #require(source.range(of: "public static func decode(kind: String, payload: [UInt8])").map { source[$0.upperBound...] })
        let end = try #require(body.range(of: "default: return nil"))
        let read = body[..<end.lowerBound].split(separator: "\n").compactMap { line -> String? in
            guard let open = line.range(of: "case \""), let close = line[open.upperBound...].firstIndex(of: "\"") else { return nil }
            return String(line[open.upperBound..<close])
        }.sorted()
        let pinned = Self.kindsOfProjectionFormat
        #expect(read == pinned.kinds.sorted(), "Event.decode reads \(Set(read).subtracting(pinned.kinds).sorted()) beyond the pinned kinds and lacks \(Set(pinned.kinds).subtracting(read).sorted()): with a new kind, raise SignoffState.projectionFormat and pin the kinds to it here")
        #expect(SignoffState.projectionFormat == pinned.format, "the projection format moved to \(SignoffState.projectionFormat): pin its kinds here")
        // Each pinned kind is one the engine reads (a payload of the wrong shape is an error, not an unknown kind).
        for kind in pinned.kinds {
            var known = true
            do { known = try Event.decode(kind: kind, payload: Array("{}".utf8)) != nil } catch { known = true }
            #expect(known, "\(kind) is pinned but Event.decode does not know it")
        }
        #expect(try Event.decode(kind: "freeze.scheduled", payload: Array("{}".utf8)) == nil, "an unknown kind reads as nothing")
    }
}
