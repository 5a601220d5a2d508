internal import Foundation
public import SignoffCrypto

/// Signed decisions and signed administrative changes: who signed, over exactly what, how recently, once.
extension Engine {
    /// Checks a signed decision: signed by a key of `actor` enrolled and unrevoked now, over a statement that names
    /// exactly this request, bundle digest, stage, decision, revision and workflow, made recently, and never seen before.
    static func verifyDecision(
        _ envelope: DSSEEnvelope, request: DeploymentRequest, stage: String, decision: DecisionKind, comment: String, onBehalfOf: String?,
        state: SignoffState, actor: String, now: Int64
    ) throws -> (String, SHA256Digest) {
        let key = try verifySigner(envelope, payloadType: DSSE.inTotoPayloadType, state: state, actor: actor, now: now)
        // The statement as ``preverify`` read it, outside the writer, when it read these very bytes; else read now.
        let payloadDigest = SHA256Digest.hash(envelope.payload)
        let statement = try Preverified.current.decisionStatements[payloadDigest] ?? readDecisionStatement(envelope.payload)
        let p = statement.predicate
        guard statement.type == DecisionStatement.statementType, statement.predicateType == DecisionStatement.predicateType else {
            throw Refusal(.signatureStatement, "the signed statement is not an in-toto Statement v1 with predicate \(DecisionStatement.predicateType)")
        }
        guard statement.subject.count == 1, statement.subject[0].digest["sha256"] == request.digest.hex else {
            throw Refusal(.signatureDigest, "the signature approves another bundle digest than \(request.id)'s \(request.digest)")
        }
        guard statement.subject[0].name == request.bundle else {
            throw Refusal(.signatureDigest, "the signature names bundle \(statement.subject[0].name), not \(request.bundle)")
        }
        guard p.request == request.id, p.project == request.project, p.environment == request.environment else {
            throw Refusal(.signatureRequest, "the signature is for \(p.request) (\(p.project), \(p.environment)), not \(request.id)")
        }
        guard p.actor == actor else {
            throw Refusal(.signatureActor, "the signed statement names \(p.actor) as the one deciding, not \(actor)")
        }
        guard p.stage == stage, p.decision == decision else {
            throw Refusal(.signatureStage, "the signature decides \(p.decision.rawValue) at \(p.stage), not \(decision.rawValue) at \(stage)")
        }
        guard p.revision == request.revision, p.workflowDigest == request.workflowDigest.description else {
            throw Refusal(.signatureRevision, "the signature is for revision \(p.revision) under workflow \(p.workflowDigest); the request is at revision \(request.revision)")
        }
        guard p.comment == comment else { throw Refusal(.signatureStatement, "the comment differs from the signed comment") }
        guard p.labels == request.labels, p.emergency == (request.emergency != nil) else {
            throw Refusal(.signatureRequest, "the signature is over other labels or another emergency mode than \(request.id)'s")
        }
        guard p.onBehalfOf == onBehalfOf else {
            throw Refusal(.signatureActor, "the signed statement says on behalf of \(p.onBehalfOf ?? "nobody"), not \(onBehalfOf ?? "nobody")")
        }
        let digest = try requireFreshAndUnused(payloadDigest, signedTime: p.time, state: state, now: now)
        if let signed = Timestamps.milliseconds(rfc3339: p.time) {
            guard signed >= key.enrolledAt else {
                throw Refusal(.signatureBackdated, "the statement is dated \(p.time), before the signing key was enrolled (\(Timestamps.rfc3339(key.enrolledAt)))")
            }
            guard signed >= request.filedAt else {
                throw Refusal(.signatureBackdated, "the statement is dated \(p.time), before \(request.id) was filed (\(Timestamps.rfc3339(request.filedAt)))")
            }
        }
        return (key.fingerprint, digest)
    }

    /// A signed payload read as a decision statement, strictly: no key twice, only the fields the statement and its
    /// predicate define (an extra field, an `approver` beside `actor`, say, could make another reader see something
    /// else), a whole-number revision. Depends on the bytes alone, so ``preverify`` reads it ahead, outside the writer.
    /// One strict parse (``JSONValue``: a key twice, bad UTF-8 or a lone surrogate refused), then the fields read by
    /// type — what `JSONDecoder` read them as (members of a subject beyond its name and digest are ignored, as it did;
    /// `on_behalf_of` may be null or absent).
    static func readDecisionStatement(_ payload: [UInt8]) throws -> DecisionStatement {
        let notStatement = Refusal(
            .signatureStatement,
            "the signed payload is not a Signoff decision statement; sign the decision again with `signoff approve ID --stage STAGE --key KEY` (or `reject`, `request-changes`), or in the console, which write one")
        let value: JSONValue
        do { value = try JSONValue.parse(payload) } catch {
            if let key = error.duplicateKey {
                throw Refusal(.signatureStatement, "the signed statement has the key \"\(String(decoding: key, as: UTF8.self).prefix(40))\" twice: verifiers would read it differently")
            }
            throw notStatement
        }
        guard let keys = value.objectKeys else { throw notStatement }
        let statementKeys: Set<String> = ["_type", "subject", "predicateType", "predicate"]
        let predicate = value["predicate"]
        if let extra = Set(keys).subtracting(statementKeys).sorted().first ?? Set(predicate?.objectKeys ?? []).subtracting(DecisionStatement.Predicate.fieldNames).sorted().first {
            throw Refusal(.signatureStatement, "the signed statement has a field \"\(extra.prefix(40))\" a decision statement does not define")
        }
        if let revision = predicate?["revision"], case .number = revision {
            throw Refusal(.signatureStatement, "the signed statement's revision is not a whole number written as one")
        }
        guard let statement = DecisionStatement(strict: value) else { throw notStatement }
        return statement
    }

    /// `-?[0-9]+`: a JSON integer as written, not `1.0`, `1e0`, `"1"` or `true`.
    static func isWholeNumber(_ token: String) -> Bool {
        let digits = token.hasPrefix("-") ? token.utf8.dropFirst() : token.utf8[...]
        return !digits.isEmpty && digits.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// A statement `actor` signed (a retrospective, a delegation): by a key of theirs valid now, decoded strictly (no
    /// key twice), saying what `matches` expects, fresh and never used before.
    static func verifyActorStatement<Statement: Decodable>(
        _ envelope: DSSEEnvelope, as type: Statement.Type, payloadType: String, signedTime: KeyPath<Statement, String>, describing what: String,
        state: SignoffState, actor: String, now: Int64, matches: (Statement) -> Bool
    ) throws {
        _ = try verifySigner(envelope, payloadType: payloadType, state: state, actor: actor, now: now)
        guard StrictJSON.duplicateKey(in: envelope.payload) == nil, let statement = try? JSONDecoder().decode(type, from: Data(envelope.payload)),
            matches(statement)
        else { throw Refusal(.signatureStatement, "the signed statement is not \(what)") }
        _ = try requireFreshAndUnused(SHA256Digest.hash(envelope.payload), signedTime: statement[keyPath: signedTime], state: state, now: now)
    }

    /// Regulated projects that bind `group` to one of their roles.
    public static func regulatedProjects(relyingOn group: String, _ state: SignoffState) -> [String] {
        state.projects.values.filter { $0.regulated && ($0.boundGroups.contains(group) || ($0.namesGroups && namedByWorkflows($0, group, state))) }
            .map(\.key).sorted()
    }

    /// Round-1 projects only: whether the workflows of `project`'s environments name `group` (as a role of that name).
    static func namedByWorkflows(_ project: Project, _ group: String, _ state: SignoffState) -> Bool {
        project.environments.values.contains { name in
            guard let digest = state.currentWorkflows[name], let workflow = state.workflows[digest]?.workflow else { return false }
            return workflow.roleReferences.contains { $0.value == group }
        }
    }

    /// A signed statement counts only if made within the last 10 minutes (1 minute of clock skew allowed) and never
    /// used before. Returns its digest, which the ledger keeps to refuse replays.
    static func requireFreshAndUnused(_ digest: SHA256Digest, signedTime: String, state: SignoffState, now: Int64) throws -> SHA256Digest {
        guard let time = Timestamps.milliseconds(rfc3339: signedTime) else { throw Refusal(.signatureStatement, "the signed time is not RFC 3339") }
        guard now - time <= DecisionStatement.maximumAgeMilliseconds, time - now <= DecisionStatement.maximumClockSkewMilliseconds else {
            throw Refusal(.signatureExpired, "the statement was signed at \(signedTime), outside the 10 minutes a signature stays fresh; sign again")
        }
        guard !state.usedStatements.contains(digest) else {
            throw Refusal(.signatureReplay, "this signed statement was already used; every decision or change needs a fresh signature")
        }
        return digest
    }

    /// Whether `signature` by `key` verifies over `message`: already checked outside the writer (``preverify``), or now.
    static func verifies(_ signature: [UInt8], by key: EnrolledKey, over message: [UInt8]) -> Bool {
        guard let publicKey = key.publicKey else { return false }
        return Preverified.current.signatures.contains(VerifiedSignature(fingerprint: key.fingerprint, message: message, signature: signature))
            || publicKey.isValidSignature(signature, for: message)
    }

    /// The enrolled key of `actor` that signed `envelope` (its one signature), valid now; otherwise a refusal naming what is
    /// wrong.
    static func verifySigner(_ envelope: DSSEEnvelope, payloadType: String, state: SignoffState, actor: String, now: Int64) throws -> EnrolledKey {
        // One signature, the signer's own: a second one (a forged "co-signature" under an administrator's key, say) would be
        // kept in the ledger and shown to every reader of the envelope though it never verified.
        guard envelope.signatures.count == 1 else {
            throw Refusal(
                .signatureInvalid, "a statement signed by \(actor) carries exactly one signature, by a key of theirs; this envelope carries \(envelope.signatures.count)")
        }
        guard envelope.payloadType == payloadType else {
            throw Refusal(.signatureInvalid, "the envelope's payloadType is \(envelope.payloadType), expected \(payloadType)")
        }
        guard let principal = state.principals[actor] else { throw Refusal(.inputUnknown, "no user \(actor)") }
        let message = envelope.signedBytes
        for signature in envelope.signatures {
            for key in principal.keys where key.fingerprint == Ed25519.PublicKey.fingerprintHex(signature.keyid) {
                guard verifies(signature.sig, by: key, over: message) else { continue }
                guard key.counts(signedAt: now) else {
                    throw Refusal(.signatureRevokedKey, "the decision is signed with a key of \(actor) that was revoked")
                }
                return key
            }
        }
        for signature in envelope.signatures {
            if let other = state.principals.values.first(where: { $0.name != actor && $0.keys.contains { $0.fingerprint == Ed25519.PublicKey.fingerprintHex(signature.keyid) } }) {
                throw Refusal(.signatureWrongKey, "the decision is signed with a key of \(other.name), not of \(actor)")
            }
        }
        if envelope.signatures.contains(where: { s in principal.keys.contains { $0.fingerprint == Ed25519.PublicKey.fingerprintHex(s.keyid) } }) {
            throw Refusal(.signatureInvalid, "the signature does not verify: the signed bytes were changed")
        }
        throw Refusal(.signatureUnknownKey, "the decision is signed with a key that is not enrolled for \(actor)")
    }
}

/// A signature already verified with Ed25519, so that the expensive check can run before the write transaction.
public struct VerifiedSignature: Hashable, Sendable {
    public let fingerprint: String
    public let message: SHA256Digest
    public let signature: SHA256Digest

    public init(fingerprint: String, message: [UInt8], signature: [UInt8]) {
        self.fingerprint = fingerprint
        self.message = SHA256Digest.hash(message)
        self.signature = SHA256Digest.hash(signature)
    }
}

/// What ``Engine/preverify(_:state:actor:)`` worked out ahead, outside the writer, for one command: the signatures that
/// verify, and the decision statements read from signed payloads (keyed by the payload's SHA-256, so that only the very
/// bytes read count). The engine uses them to skip work, never to decide: anything missing it checks again itself.
public struct Preverified: Sendable, Equatable {
    public var signatures: Set<VerifiedSignature> = []
    var decisionStatements: [SHA256Digest: DecisionStatement] = [:]

    public init(signatures: Set<VerifiedSignature> = []) { self.signatures = signatures }

    @TaskLocal static var current = Preverified()
}

extension Engine {
    /// Verifies the signatures a command carries against the actor's enrolled keys, without touching storage.
    /// Run it outside the database writer and pass the result to ``execute(_:on:actor:now:verified:)``.
    public static func preverify(_ command: Command, state: SignoffState, actor: String) -> Preverified {
        let envelope: DSSEEnvelope?
        // A decision is signed by its actor; an approval by administrators.
        let signers: [Principal]
        if case .decide(_, _, _, _, let e, _) = command {
            envelope = e
            signers = state.principals[actor].map { [$0] } ?? []
        } else if case .delegate(_, let e) = command {
            envelope = e
            signers = state.principals[actor].map { [$0] } ?? []
        } else if case .recordRetrospective(_, _, let e) = command {
            envelope = e
            signers = state.principals[actor].map { [$0] } ?? []
        } else {
            envelope = command.approval
            signers = Array(state.principals.values.filter(\.isAdministrator))
        }
        // Over the cap, nothing is verified ahead: the engine refuses the envelope without any signature arithmetic.
        guard let envelope, envelope.signatures.count <= DSSEEnvelope.maximumSignatures else { return Preverified() }
        let message = envelope.signedBytes
        var out = Preverified()
        if case .decide = command, envelope.payloadType == DSSE.inTotoPayloadType, let statement = try? readDecisionStatement(envelope.payload) {
            out.decisionStatements[SHA256Digest.hash(envelope.payload)] = statement
        }
        for signature in envelope.signatures {
            for key in signers.flatMap(\.keys) where key.fingerprint == Ed25519.PublicKey.fingerprintHex(signature.keyid) {
                if key.publicKey?.isValidSignature(signature.sig, for: message) == true {
                    out.signatures.insert(VerifiedSignature(fingerprint: key.fingerprint, message: message, signature: signature.sig))
                }
            }
        }
        return out
    }
}
