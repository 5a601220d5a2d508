/// A rule the engine (or the API in front of it) refuses by: a stable name that clients and auditors can rely on, a
/// category that decides the HTTP status and the CLI's exit code, and one sentence. The catalogue is closed: every
/// refusal names one of ``all``, and `schema/refusals.md` lists them (a test keeps the two equal).
public struct RefusalRule: Hashable, Sendable, CustomStringConvertible {
    /// What kind of "no" a rule gives; decides the HTTP status and the exit code.
    public enum Category: String, Hashable, Sendable, CaseIterable {
        /// The caller may not do this (HTTP 403, exit 2).
        case permission
        /// Something named does not exist (HTTP 404, exit 64).
        case notFound = "not-found"
        /// The input is malformed or incomplete (HTTP 422, exit 64).
        case invalidInput = "invalid-input"
        /// A signature is missing, invalid or not over this exact thing (HTTP 422, exit 2).
        case signature
        /// The state does not allow it now (HTTP 409, exit 2).
        case conflict
        /// The gate does not allow this deployment now (HTTP 409, exit 2).
        case gate
        /// The stored state is inconsistent (HTTP 500, exit 1).
        case `internal`

        /// The HTTP status code of a refusal in this category.
        public var httpStatus: Int {
            switch self {
            case .permission: 403
            case .notFound: 404
            case .invalidInput, .signature: 422
            case .conflict, .gate: 409
            case .internal: 500
            }
        }

        /// The CLI's exit code for a refusal in this category (README: 1 error, 2 refused, 64 bad input).
        public var exitCode: Int32 {
            switch self {
            case .permission, .signature, .conflict, .gate: 2
            case .notFound, .invalidInput: 64
            case .internal: 1
            }
        }
    }

    public let name: String
    public let category: Category
    public let summary: String

    init(_ name: String, _ category: Category, _ summary: String) {
        self.name = name
        self.category = category
        self.summary = summary
    }

    public var description: String { name }

    public static let adminRequired = RefusalRule("admin.required", .permission, "Only an administrator (or, for some changes, the principal concerned) may do this.")
    public static let adminBootstrap = RefusalRule("admin.bootstrap", .conflict, "The ledger is initialised and its first administrator created once, on an empty ledger.")
    public static let adminSignatureRequired = RefusalRule("admin.signature-required", .signature, "This administrative change touches a regulated project and must be signed by an administrator's key.")
    public static let adminSignature = RefusalRule("admin.signature", .signature, "The administrator's signature is not over this exact change.")
    public static let adminUntrustedKey = RefusalRule("admin.untrusted-key", .signature, "An administrative signature counts only with a key whose own enrolment was signed by administrators (or the first administrator's key).")
    public static let directoryReach = RefusalRule("directory.reach", .permission, "A directory changes only the users it added and the groups linked to it, never administrators, auditors, keys, bindings or the quorum, and enables nobody again in a ledger with a regulated project.")
    public static let staffingGap = RefusalRule("staffing.gap", .conflict, "With --strict, a change that would leave a stage, filing or emergency filing of a project with nobody (or too few) able to act is refused.")
    public static let adminQuorum = RefusalRule("admin.quorum", .signature, "A change to what a regulated project relies on needs the signatures of admin_quorum distinct administrators.")
    public static let principalDisabled = RefusalRule("principal.disabled", .permission, "A disabled user or service account can do nothing until an administrator enables them.")
    public static let tokenScope = RefusalRule("token.scope", .permission, "A service token may only do what its scopes name (ACTION:PROJECT).")
    public static let inputName = RefusalRule("input.name", .invalidInput, "A name must be 1–63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.")
    public static let inputText = RefusalRule("input.text", .invalidInput, "Free text is at most 4 KiB of printable characters (no control or bidi-override characters).")
    public static let inputBundle = RefusalRule("input.bundle", .invalidInput, "A bundle name is 1–255 bytes without '/'.")
    public static let inputDigest = RefusalRule("input.digest", .invalidInput, "A revision must carry a bundle digest different from the current one.")
    public static let inputDuplicate = RefusalRule("input.duplicate", .conflict, "The thing to create already exists (user, group, member, project, workflow bytes).")
    public static let inputUnknown = RefusalRule("input.unknown", .notFound, "A named user, service account, group or project does not exist.")
    public static let keyDuplicate = RefusalRule("key.duplicate", .conflict, "A key is enrolled for one principal only; every person needs their own key.")
    public static let keyCompromiseSignature = RefusalRule("key.compromise-signature", .signature, "Marking a key compromised takes back what it signed: it is signed by another current key of its owner (never the key marked) or by administrators, under the quorum where a regulated project relies on its owner.")
    public static let keyCompromisedSince = RefusalRule("key.compromised-since", .invalidInput, "A key's compromised_since lies between its enrolment and now.")
    public static let keyUnknown = RefusalRule("key.unknown", .notFound, "The principal has no unrevoked key with that fingerprint.")
    public static let workflowInvalid = RefusalRule("workflow.invalid", .invalidInput, "The workflow file does not parse or names something that does not exist (reported as file:line:column).")
    public static let projectInvalid = RefusalRule("project.invalid", .invalidInput, "A project needs environments mapped to applied workflows, existing requester groups and deployers only for its environments.")
    public static let projectEnvironment = RefusalRule("project.environment", .invalidInput, "The project has no such environment.")
    public static let projectRequesters = RefusalRule("project.requesters", .permission, "Only holders of the project's requesters role (on that environment) may file requests for it.")
    public static let inputSource = RefusalRule(
        "input.source", .invalidInput, "A bundle's source links are http or https URLs, its commit 7–64 lowercase hex digits, its ref and bundle id one printable line.")
    public static let inputLabel = RefusalRule("input.label", .invalidInput, "A request has at most 16 labels, each a name with 1–16 distinct name values.")
    public static let emergencyNone = RefusalRule("emergency.none", .invalidInput, "The environment's workflow has no emergency: section, so it allows no emergency requests.")
    public static let emergencyFiledBy = RefusalRule("emergency.filed-by", .permission, "Only holders of the roles the workflow's emergency filed_by names may file an emergency request.")
    public static let emergencyReason = RefusalRule("emergency.reason", .invalidInput, "An emergency request needs a reason.")
    public static let freezeInvalid = RefusalRule("freeze.invalid", .invalidInput, "A freeze ends after it starts and in the future, has a reason, and is lifted once.")
    public static let delegationInvalid = RefusalRule("delegation.invalid", .invalidInput, "A user delegates to another enabled user, for at most 92 days ending in the future; a delegation is revoked once.")
    public static let delegationNone = RefusalRule("delegation.none", .permission, "Deciding for someone needs their delegation to you, in force now, for this project.")
    public static let requestUnknown = RefusalRule("request.unknown", .notFound, "No such request.")
    public static let requestClosed = RefusalRule("request.closed", .conflict, "The request is rejected, withdrawn, expired or deployed; nothing more can happen to it.")
    public static let requestOwner = RefusalRule("request.owner", .permission, "Only the requester may revise a request; only the requester or an administrator may withdraw one.")
    public static let evidenceKind = RefusalRule("evidence.kind", .invalidInput, "The request's workflow asks for no evidence of this kind.")
    public static let evidenceAttachedBy = RefusalRule("evidence.attached-by", .permission, "Only holders of the roles the workflow names (attached_by) may attach this kind of evidence.")
    public static let evidenceStatus = RefusalRule("evidence.status", .invalidInput, "Evidence status is one of passed, failed, errored, skipped, pending (any case), and agrees with the test counts given.")
    public static let evidenceLabels = RefusalRule(
        "evidence.labels", .invalidInput, "Evidence carries labels only when it is of the kind the workflow's labels_from names (what CI detected in the bundle).")
    public static let evidenceConflict = RefusalRule("evidence.conflict", .conflict, "The same evidence digest is already attached with another status.")
    public static let decisionStage = RefusalRule("decision.stage", .conflict, "A decision is for a stage ahead on the request's path, entered by approvals.")
    public static let decisionRole = RefusalRule("decision.role", .permission, "Only holders of the stage's approval roles in the request's project and environment (or their delegates) may decide it.")
    public static let decisionReason = RefusalRule("decision.reason", .invalidInput, "The stage requires a reason (comment) with every decision; a request for changes says what to change.")
    public static let decisionDuplicate = RefusalRule("decision.duplicate", .conflict, "A person decides a stage once per revision.")
    public static let separationRequester = RefusalRule("separation.requester", .permission, "The requester may not decide on their own request.")
    public static let separationEarlierStage = RefusalRule("separation.earlier-stage", .permission, "Whoever decided an earlier stage may not decide a later one the workflow keeps apart.")
    public static let separationRetrospective = RefusalRule("separation.retrospective", .permission, "A retrospective is done by someone other than the requester and the deployer.")
    public static let signatureRequired = RefusalRule("signature.required", .signature, "The workflow or the project's regulated flag requires a signed decision (--key); a regulated project, a signed retrospective; a ledger with a regulated project, a signed delegation.")
    public static let signatureInvalid = RefusalRule("signature.invalid", .signature, "The envelope's payload type is wrong or its signature does not verify.")
    public static let signatureStatement = RefusalRule("signature.statement", .signature, "The signed payload is not a Signoff decision statement (in-toto Statement v1 with the decision predicate) matching the command.")
    public static let signatureDigest = RefusalRule("signature.digest", .signature, "The signed statement is for another bundle (digest or name) than the request's.")
    public static let signatureRequest = RefusalRule("signature.request", .signature, "The signed statement is for another request.")
    public static let signatureStage = RefusalRule("signature.stage", .signature, "The signed statement decides another stage or decision.")
    public static let signatureActor = RefusalRule("signature.actor", .signature, "The signed statement names another person as the actor.")
    public static let signatureRevision = RefusalRule("signature.revision", .signature, "The signed statement is for another revision or workflow version of the request.")
    public static let signatureExpired = RefusalRule("signature.expired", .signature, "The statement's time is outside the freshness window (10 minutes).")
    public static let signatureBackdated = RefusalRule("signature.backdated", .signature, "The statement is dated before its key was enrolled or before the request was filed.")
    public static let signatureReplay = RefusalRule("signature.replay", .signature, "The signed statement was already used; every decision or change needs a fresh signature.")
    public static let signatureUnknownKey = RefusalRule("signature.unknown-key", .signature, "The signing key is not enrolled for the actor.")
    public static let signatureWrongKey = RefusalRule("signature.wrong-key", .signature, "The envelope's signature is not by a key of the actor.")
    public static let signatureRevokedKey = RefusalRule("signature.revoked-key", .signature, "The signing key was revoked.")
    public static let retrospectiveNone = RefusalRule("retrospective.none", .conflict, "The request needs no retrospective review.")
    public static let retrospectiveDone = RefusalRule("retrospective.done", .conflict, "The retrospective is already recorded.")
    public static let retrospectiveRole = RefusalRule("retrospective.role", .permission, "Only holders of the retrospective's role in the request's project may record it.")
    public static let retrospectiveReason = RefusalRule("retrospective.reason", .invalidInput, "A retrospective needs a comment saying what was reviewed.")
    public static let gateEnvironment = RefusalRule("gate.environment", .gate, "The request is for another environment.")
    public static let gateDigest = RefusalRule("gate.digest", .gate, "The request approves another bundle digest.")
    public static let gateStage = RefusalRule("gate.stage", .gate, "The request has not reached the stage before deployment.")
    public static let gateExpired = RefusalRule("gate.expired", .gate, "The approvals that let the request deploy have expired.")
    public static let gateEvidence = RefusalRule("gate.evidence", .gate, "Evidence the deployment stage requires is missing or not passed.")
    public static let gateApprovals = RefusalRule("gate.approvals", .gate, "Approvals the deployment stage requires are missing.")
    public static let gateActors = RefusalRule("gate.actors", .permission, "Only the principals the stage names (the project's deployers) may record it.")
    public static let gateSeparation = RefusalRule("gate.separation", .permission, "The deployment (an action stage) may not be recorded by the requester or by who decided the stages the workflow names (not_requester, not_deciders_of; an emergency requester never deploys their own request unless the workflow says so).")
    public static let gateWindow = RefusalRule("gate.window", .gate, "The deployment window is closed now.")
    public static let gateCompromised = RefusalRule("gate.compromised", .gate, "Approvals signed with a key revoked as compromised no longer count, and without them a passed stage's approvals do not hold.")
    public static let gateFreeze = RefusalRule("gate.freeze", .gate, "A change freeze is in force for the request's environment (of its project or of every project).")
    public static let gateChangesRequested = RefusalRule("gate.changes-requested", .gate, "A decider requested changes; the request must be revised.")
    public static let deploymentInProgress = RefusalRule("deployment.in-progress", .conflict, "A deployment of the request is under way: its outcome is recorded (deploy --finish) before it starts again, is revised or withdrawn.")
    public static let deploymentNotStarted = RefusalRule("deployment.not-started", .conflict, "deploy --finish records the outcome of a started deployment, and none is under way.")
    public static let webhookPrivateTarget = RefusalRule(
        "webhook.private-target", .invalidInput,
        "A webhook URL may not name a loopback, private, shared (CGNAT), link-local, unspecified or unique-local address or localhost, unless the subscription says allow_private (--allow-private).")
    public static let idempotencyInUse = RefusalRule(
        "idempotency.in-use", .conflict, "Another call with the same Idempotency-Key is being recorded at this moment; retry it to get the first call's answer.")
    public static let idempotencyKeyReused = RefusalRule(
        "idempotency.key-reused", .invalidInput, "An Idempotency-Key names one call: the same key with another method, path or body is refused (HTTP 422).")
    public static let internalError = RefusalRule("internal", .internal, "The engine met a state it cannot decide on (a missing workflow version); run `signoff audit verify --db`.")

    /// Every rule, in catalogue order.
    public static let all: [RefusalRule] = [adminRequired, adminBootstrap, adminSignatureRequired, adminSignature, adminUntrustedKey, adminQuorum, directoryReach, staffingGap, principalDisabled, tokenScope, inputName, inputText, inputBundle, inputDigest, inputDuplicate, inputUnknown, keyDuplicate, keyCompromiseSignature, keyCompromisedSince, keyUnknown, workflowInvalid, projectInvalid, projectEnvironment, projectRequesters, inputLabel, inputSource, emergencyNone, emergencyFiledBy, emergencyReason, freezeInvalid, delegationInvalid, delegationNone, requestUnknown, requestClosed, requestOwner, evidenceKind, evidenceAttachedBy, evidenceStatus, evidenceLabels, evidenceConflict, decisionStage, decisionRole, decisionReason, decisionDuplicate, separationRequester, separationEarlierStage, separationRetrospective, signatureRequired, signatureInvalid, signatureStatement, signatureDigest, signatureRequest, signatureStage, signatureActor, signatureRevision, signatureExpired, signatureBackdated, signatureReplay, signatureUnknownKey, signatureWrongKey, signatureRevokedKey, retrospectiveNone, retrospectiveDone, retrospectiveRole, retrospectiveReason, gateEnvironment, gateDigest, gateStage, gateExpired, gateEvidence, gateApprovals, gateActors, gateSeparation, gateWindow, gateCompromised, gateFreeze, gateChangesRequested, deploymentInProgress, deploymentNotStarted, webhookPrivateTarget, idempotencyInUse, idempotencyKeyReused, internalError]

    private static let byName: [String: RefusalRule] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The rule of this name, or nil when the catalogue has none.
    public static func named(_ name: String) -> RefusalRule? { byName[name] }

    /// The gate rule of a failed gate condition (`evidence`, `approvals`, `actors`, `window`, `freeze`).
    public static func gate(condition: String) -> RefusalRule { byName["gate." + condition] ?? .internalError }
}
