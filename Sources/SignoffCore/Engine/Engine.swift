internal import Foundation
public import SignoffCrypto

/// The engine: `(state, command, actor, time) → events | refusal`. Pure: no I/O, no clock, no randomness.
/// Storage appends the events to the ledger and folds them into the projection in one transaction.
public enum Engine {

    /// `verified` lists signatures the caller already checked (with ``preverify(_:state:actor:)``, outside the
    /// database writer); the engine then skips only the Ed25519 arithmetic for them, never the key and statement checks.
    public static func execute(
        _ command: Command, on state: SignoffState, actor: String, now: Int64, verified: Preverified = Preverified()
    ) -> Result<[Event], Refusal> {
        do {
            return .success(try Preverified.$current.withValue(verified) { try events(for: command, state: state, actor: actor, now: now) })
        } catch let refusal as Refusal {
            return .failure(refusal)
        } catch {
            return .failure(Refusal(.internalError, "unexpected error: \(error)"))
        }
    }

    /// The actor of what the system itself records (the ledger's first entries, expiries): never a principal's name.
    public static let systemActor = "system"

    /// Whether `name` is a valid name of a principal, group or project: 1–63 of `a-z 0-9 . _ -`, starting with a letter
    /// or digit — the whole string, byte by byte (a regular expression's `$` also matches before a final newline, which
    /// let `"sam\n"` pass for `sam`).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63, isLowerAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    static func isLowerAlphanumeric(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }

    static func validName(_ name: String, what: String) throws {
        guard isValidName(name) else {
            throw Refusal(.inputName, "\(what) \"\(name.prefix(80))\" must be 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    static func requireAdministrator(_ state: SignoffState, _ actor: String) throws {
        guard let principal = state.principals[actor], principal.isAdministrator, !principal.disabled else {
            throw Refusal(.adminRequired, "only an administrator may do this; \(actor) is not one")
        }
    }

    static func requireActive(_ state: SignoffState, _ id: String) throws -> DeploymentRequest {
        guard let request = state.requests[id] else { throw Refusal(.requestUnknown, "no request \(id); `signoff list` shows the requests") }
        guard request.status == .active else { throw Refusal(.requestClosed, "request \(id) is \(request.status.rawValue); nothing more can happen to it") }
        return request
    }

    /// Free text a person typed (comments, reasons, notes, descriptions, bundle names, evidence kinds): at most
    /// `maximumTextBytes`, and no control characters but newline and tab, nor the bidirectional overrides, isolates
    /// and marks, line and paragraph separators, byte order marks or interlinear annotations that make text display
    /// differently from what it says — these reach terminals, CSV files and auditors.
    public static let maximumTextBytes = 4096

    static func validText(_ text: String, what: String) throws {
        guard text.utf8.count <= maximumTextBytes else {
            throw Refusal(.inputText, "\(what) is \(text.utf8.count) bytes; at most \(maximumTextBytes)")
        }
        if let bad = text.unicodeScalars.first(where: { scalar in
            (scalar.properties.generalCategory == .control && scalar != "\n" && scalar != "\t")
                || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
                || [0x200E, 0x200F, 0x061C, 0x2028, 0x2029, 0xFEFF].contains(scalar.value) || (0xFFF9...0xFFFB).contains(scalar.value)
        }) {
            throw Refusal(.inputText, "\(what) contains the control character U+\(String(format: "%04X", bad.value)); only printable text, newlines and tabs are accepted")
        }
    }

    /// A single-line field (a bundle name, an evidence kind or status): free text with no line break or tab at all —
    /// neither `\n`, `\r`, U+0085, U+2028 nor U+2029 — so that it can never start a line of its own in a report.
    /// A single-line field also has no invisible character (format characters: bidi marks, zero-width characters,
    /// tags, the BOM, soft hyphens) and no blank at either end, so that two names that look alike are alike.
    static func validLine(_ text: String, what: String) throws {
        try validText(text, what: what)
        if let bad = text.unicodeScalars.first(where: { $0 == "\n" || $0 == "\t" || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029 }) {
            throw Refusal(.inputText, "\(what) must be one line: it contains U+\(String(format: "%04X", bad.value))")
        }
        if let bad = text.unicodeScalars.first(where: { $0.properties.generalCategory == .format }) {
            throw Refusal(.inputText, "\(what) contains the invisible character U+\(String(format: "%04X", bad.value))")
        }
        if let first = text.unicodeScalars.first, let last = text.unicodeScalars.last, first.properties.isWhitespace || last.properties.isWhitespace {
            throw Refusal(.inputText, "\(what) may not begin or end with a blank")
        }
    }

    /// A bundle name: one line of 1–255 bytes, without `/`.
    static func validBundle(_ bundle: String) throws {
        try validLine(bundle, what: "the bundle name")
        guard !bundle.isEmpty, bundle.utf8.count <= 255, !bundle.contains("/") else {
            throw Refusal(.inputBundle, "a bundle name is one line of 1–255 bytes without '/' (e.g. churn-model-v12.zip)")
        }
    }

    static func validSource(_ source: BundleSource?) throws {
        guard let problems = source?.problems(), !problems.isEmpty else { return }
        throw Refusal(.inputSource, "the bundle's source: " + problems.joined(separator: "; "))
    }

    static func validTexts(_ command: Command) throws {
        switch command {
        case .fileRequest(_, _, let bundle, _, let description, _, let reason, let source):
            try validBundle(bundle)
            try validText(description, what: "the description")
            if let reason { try validText(reason, what: "the reason") }
            try validSource(source)
        case .attachEvidence(_, let kind, let status, _, _, _, let source):
            try validSource(source)
            try validLine(kind, what: "the evidence kind")
            try validLine(status, what: "the evidence status")
        case .decide(_, _, _, let comment, _, _): try validText(comment, what: "the comment")
        case .addFreeze(let spec, _): try validText(spec.reason, what: "the reason")
        case .exemptFromFreeze(_, _, let reason, _): try validText(reason, what: "the reason")
        case .revise(_, let bundle, _, let source):
            if let bundle { try validBundle(bundle) }
            try validSource(source)
        case .withdraw(_, let reason, _): try validText(reason, what: "the reason")
        case .recordDeployment(_, _, let note), .startDeployment(_, let note), .finishDeployment(_, _, let note): try validText(note, what: "the note")
        case .recordRetrospective(_, let comment, _): try validText(comment, what: "the comment")
        default: break
        }
    }

    static func events(for command: Command, state: SignoffState, actor: String, now: Int64) throws -> [Event] {
        try validTexts(command)
        if let principal = state.principals[actor], principal.disabled {
            throw Refusal(.principalDisabled, "\(actor) is disabled and can do nothing; an administrator enables them again")
        }
        // A directory's token reaches its own changes only; nobody else makes a directory's change.
        if ConnectedDirectory.name(ofActor: actor) != nil {
            guard case .directoryChange = command else { throw Refusal(.directoryReach, "a directory only provisions users and the groups linked to it") }
        }
        try verifyAdministration(command, state: state, actor: actor, now: now)
        switch command {
        case .initializeLedger(let origin, let ledgerKey):
            return try initializeLedger(origin: origin, ledgerKey: ledgerKey, state: state, actor: actor, now: now)
        case .bootstrapAdministrator(let name, let key):
            return try bootstrapAdministrator(name: name, key: key, state: state, actor: actor, now: now)
        case .addUser(let name, let administrator, let key, let approval):
            return try addUser(name: name, administrator: administrator, key: key, approval: approval, state: state, actor: actor, now: now)
        case .addServiceAccount(let name, let key, let approval):
            return try addServiceAccount(name: name, key: key, approval: approval, state: state, actor: actor, now: now)
        case .enrollKey(let principal, let key, let approval):
            return try enrollKey(principal: principal, key: key, approval: approval, state: state, actor: actor, now: now)
        case .enrollOwnKey(let key, let proof):
            return try enrollOwnKey(key: key, proof: proof, state: state, actor: actor, now: now)
        case .revokeKey(let principal, let fingerprint, let since, let approval):
            return try revokeKey(principal: principal, fingerprint: fingerprint, compromisedSince: since, approval: approval, state: state, actor: actor, now: now)
        case .createGroup(let name, let approval):
            return try createGroup(name: name, approval: approval, state: state, actor: actor, now: now)
        case .addMember(let group, let member, let approval):
            return try addMember(group: group, member: member, approval: approval, state: state, actor: actor, now: now)
        case .removeMember(let group, let member, let approval):
            return try removeMember(group: group, member: member, approval: approval, state: state, actor: actor, now: now)
        case .applyWorkflow(let source, let file, let approval):
            return try applyWorkflow(source: source, file: file, approval: approval, state: state, actor: actor, now: now)
        case .createProject(let spec, let approval):
            return try createProject(spec: spec, approval: approval, state: state, actor: actor, now: now)
        case .updateProject(let spec, let approval):
            return try updateProject(spec: spec, approval: approval, state: state, actor: actor, now: now)
        case .disablePrincipal(let name, let approval):
            return try setEnabled(false, name: name, approval: approval, state: state, actor: actor, now: now)
        case .enablePrincipal(let name, let approval):
            return try setEnabled(true, name: name, approval: approval, state: state, actor: actor, now: now)
        case .setAdminQuorum(let quorum, let approval):
            return try setAdminQuorum(quorum, approval: approval, state: state, actor: actor, now: now)
        case .issueServiceToken(let id, let principal, let scopes, let hours, let approval):
            return try issueServiceToken(tokenID: id, principal: principal, scopes: scopes, lifetimeHours: hours, approval: approval, state: state, actor: actor, now: now)
        case .addFreeze(let spec, let approval):
            return try addFreeze(spec, approval: approval, state: state, actor: actor, now: now)
        case .liftFreeze(let id, let approval):
            return try liftFreeze(id: id, approval: approval, state: state, actor: actor, now: now)
        case .exemptFromFreeze(let id, let request, let reason, let approval):
            return try exemptFromFreeze(id: id, request: request, reason: reason, approval: approval, state: state, actor: actor, now: now)
        case .addWebhook(let spec, let approval):
            return try addWebhook(spec, approval: approval, state: state, actor: actor, now: now)
        case .removeWebhook(let id, let approval):
            return try removeWebhook(id: id, approval: approval, state: state, actor: actor, now: now)
        case .trustIssuer(let spec, let approval):
            return try trustIssuer(spec, approval: approval, state: state, actor: actor, now: now)
        case .distrustIssuer(let name, let approval):
            return try distrustIssuer(name: name, approval: approval, state: state, actor: actor, now: now)
        case .connectDirectory(let name, let tokenID, let approval):
            return try connectDirectory(name: name, tokenID: tokenID, approval: approval, state: state, actor: actor, now: now)
        case .disconnectDirectory(let name, let approval):
            return try disconnectDirectory(name: name, approval: approval, state: state, actor: actor, now: now)
        case .linkGroup(let group, let directory, let approval):
            return try linkGroup(group, directory: directory, approval: approval, state: state, actor: actor, now: now)
        case .directoryChange(let change):
            return try directoryChange(change, state: state, actor: actor, now: now)
        case .fileRequest(let projectKey, let environment, let bundle, let digest, let description, let labels, let reason, let source):
            return try fileRequest(
                projectKey: projectKey, environment: environment, bundle: bundle, digest: digest, description: description, labels: labels,
                emergencyReason: reason, source: source, state: state, actor: actor, now: now)
        case .attachEvidence(let id, let kind, let status, let digest, let tests, let labels, let source):
            return try attachEvidence(
                id: id, kind: kind, status: status, digest: digest, tests: tests, labels: labels, source: source.flatMap { $0.isEmpty ? nil : $0 }, state: state,
                actor: actor, now: now)
        case .decide(let id, let stageName, let decision, let comment, let envelope, let onBehalfOf):
            return try decide(
                id: id, stageName: stageName, decision: decision, comment: comment, envelope: envelope, onBehalfOf: onBehalfOf, state: state, actor: actor,
                now: now)
        case .delegate(let spec, let envelope):
            return try delegate(spec, envelope: envelope, state: state, actor: actor, now: now)
        case .revokeDelegation(let id, let approval):
            return try revokeDelegation(id: id, approval: approval, state: state, actor: actor, now: now)
        case .revokeToken(let id, let principal, let approval):
            return try revokeToken(id: id, principal: principal, approval: approval, state: state, actor: actor, now: now)
        case .expireStale:
            guard actor == systemActor else { throw Refusal(.adminRequired, "only the system expires stale requests (the server, or the next local command)") }
            return expireStale(state: state, now: now)
        case .revise(let id, let bundle, let digest, let source):
            return try revise(id: id, bundle: bundle, digest: digest, source: source, state: state, actor: actor, now: now)
        case .withdraw(let id, let reason, let approval):
            return try withdraw(id: id, reason: reason, approval: approval, state: state, actor: actor, now: now)
        case .recordDeployment(let id, let outcome, let note):
            return try recordDeployment(id: id, outcome: outcome, note: note, requireStarted: false, state: state, actor: actor, now: now)
        case .finishDeployment(let id, let outcome, let note):
            return try recordDeployment(id: id, outcome: outcome, note: note, requireStarted: true, state: state, actor: actor, now: now)
        case .startDeployment(let id, let note):
            return try startDeployment(id: id, note: note, state: state, actor: actor, now: now)
        case .recordRetrospective(let id, let comment, let envelope):
            return try recordRetrospective(id: id, comment: comment, envelope: envelope, state: state, actor: actor, now: now)
        }
    }

    static func workflowOf(_ request: DeploymentRequest, _ state: SignoffState) throws -> Workflow {
        guard let workflow = state.workflow(for: request)?.workflow else {
            throw Refusal(.internalError, "request \(request.id) pins workflow \(request.workflowDigest), which is not in the database")
        }
        return workflow
    }

    static func requireUnusedKey(_ state: SignoffState, _ key: NoteVerifierKey) throws {
        let fingerprint = key.publicKey.fingerprint
        if let owner = state.principals.values.first(where: { $0.keys.contains { $0.fingerprint == fingerprint } }) {
            throw Refusal(.keyDuplicate, "this key is already enrolled for \(owner.name); every person needs their own key")
        }
    }

}
