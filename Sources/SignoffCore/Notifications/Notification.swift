internal import Foundation
public import SignoffCrypto

/// Something people should hear about: built from the events of one command (or by the reminder scheduler), routed
/// to the subscriptions that receive it, and rendered for each one's format when it is delivered.
public struct Notification: Hashable, Sendable, Codable {
    public struct Request: Hashable, Sendable, Codable {
        public let request: String
        public let bundle: String
        public let digest: String
        public let stage: String
        public let status: String
        public let requester: String
        public let emergency: Bool
        /// An emergency's reason, as filed (nil: not an emergency).
        public let emergency_reason: String?
        /// The next stage on its path and who can act on it now (decide, attach evidence, deploy).
        public let next_stage: String?
        public let who_can_act: [String]
        public let waiting_for: [String]
        /// Seconds since it reached its stage.
        public let waiting_seconds: Int64
    }

    /// One line of a reminder or escalation digest.
    public struct Item: Hashable, Sendable, Codable {
        public let request: String
        public let project: String
        public let environment: String
        public let stage: String
        public let waiting_seconds: Int64
        public let detail: String
        /// The request's console page (`/requests/REQ-n`; absolute once rendered with the public URL).
        public var link: String? = nil
    }

    public let type: NotificationType
    public let project: String?
    public let environment: String?
    /// Who did what this is about (nil for the scheduler's).
    public let actor: String?
    /// One sentence for people (plain text; every format escapes it for its medium).
    public let summary: String
    public let request: Request?
    /// A decision's comment or a rejection's reason, a freeze's reason: people's free text.
    public let comment: String?
    /// For `request.deployed`: succeeded or failed.
    public let outcome: String?
    /// For reminders and escalations: whom the digest is for, and what waits.
    public let recipient: String?
    public let items: [Item]?
    /// The console page a reviewer opens: the request's (`/requests/REQ-n`), or the inbox for a digest; absolute when
    /// the server knows its public URL (`--public-url`), else this path.
    public let link: String?
    public let time: Int64
    /// A `request.waiting` that says again what another message of the same command says (the filing's or the
    /// approval's, which name who acts next): a subscription receiving that type skips this one, so each channel hears of
    /// a stage change once — and one that does not (a channel for people, `--events people`) still hears who can act.
    /// Not part of the JSON.
    public var besides: NotificationType? = nil

    enum CodingKeys: String, CodingKey {
        case type, project, environment, actor, summary, request, comment, outcome, recipient, items, link, time
    }

    public init(
        type: NotificationType, project: String?, environment: String?, actor: String?, summary: String, request: Request? = nil, comment: String? = nil,
        outcome: String? = nil, recipient: String? = nil, items: [Item]? = nil, link: String? = nil, time: Int64
    ) {
        self.type = type
        self.project = project
        self.environment = environment
        self.actor = actor
        self.summary = summary
        self.request = request
        self.comment = comment
        self.outcome = outcome
        self.recipient = recipient
        self.items = items
        self.link = link
        self.time = time
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// Canonical JSON, as the outbox keeps it.
    public var json: [UInt8] { [UInt8](try! Self.encoder.encode(self)) }

    public init(json: [UInt8]) throws { self = try JSONDecoder().decode(Notification.self, from: Data(json)) }
}

public enum Notifications {
    /// The notifications of one command's events, on the state after them.
    public static func of(_ events: [Event], actor: String, state: SignoffState, now: Int64) -> [Notification] {
        var out: [Notification] = []
        // Requests that came to rest at a new stage (filed, moved on, revised): each may owe one waiting message.
        var resting: [String] = []
        // Requests whose message of this command already names who acts next (filed, approved), and that message's type.
        var told: [String: NotificationType] = [:]
        for event in events {
            switch event {
            case .requestFiled(let e):
                if let r = state.requests[e.id] {
                    let summary =
                        r.emergency.map { "EMERGENCY: \(actor) asks to deploy \(r.bundle) to \(r.project) \(r.environment) now (\(r.id)), because: \($0.reason)" }
                        ?? "\(actor) asks to deploy \(r.bundle) to \(r.project) \(r.environment) (\(r.id))"
                    out.append(about(r, .requestFiled, actor: actor, state: state, now: now, summary: summary))
                    // The filing names who acts first: the waiting message is only for channels that do not hear filings.
                    told[e.id] = .requestFiled
                }
            case .stageEntered(let e):
                resting.append(e.request)
                if let r = state.requests[e.request], let workflow = state.workflow(for: r)?.workflow {
                    let path = workflow.path(for: r)
                    if path.count >= 2, e.stage == path[path.count - 2].name {
                        // What still holds the deployment back (a freeze, the deploy window), said instead of "may be deployed".
                        let blockers = Engine.deployRefusals(r, environment: r.environment, digest: r.digest, state: state, actor: nil, now: now)
                            .filter { $0.rule == "gate.freeze" || $0.rule == "gate.window" }
                        let summary =
                            blockers.isEmpty
                            ? "\(r.id) (\(r.bundle)) is approved for \(r.project) \(r.environment): it may be deployed"
                            : "\(r.id) (\(r.bundle)) is approved for \(r.project) \(r.environment), but may not be deployed yet: "
                                + blockers.map(\.message).joined(separator: "; ")
                        out.append(about(r, .requestApproved, actor: actor, state: state, now: now, summary: summary))
                        told[r.id] = .requestApproved
                    }
                }
            case .requestRevised(let e): resting.append(e.request)
            case .decisionRecorded(let e):
                if e.decision == .changesRequested, let r = state.requests[e.request] {
                    out.append(about(r, .changesRequested, actor: actor, state: state, now: now, summary: "\(actor) asks for changes to \(r.id) at \(e.stage)", comment: e.comment))
                }
            case .requestRejected(let e):
                if let r = state.requests[e.request] {
                    let reason = r.decisions.last { $0.decision == .reject }?.comment
                    out.append(about(r, .requestRejected, actor: actor, state: state, now: now, summary: "\(actor) rejected \(r.id) at \(e.stage)", comment: reason))
                }
            case .deploymentRecorded(let e):
                if let r = state.requests[e.request] {
                    let failed = e.outcome == .failed
                    out.append(
                        about(
                            r, failed ? .deploymentFailed : .requestDeployed, actor: actor, state: state, now: now,
                            summary: failed
                                ? "the deployment of \(r.bundle) to \(r.project) \(r.environment) (\(r.id)) by \(actor) FAILED"
                                : "\(actor) deployed \(r.bundle) to \(r.project) \(r.environment) (\(r.id)): \(e.outcome.rawValue)",
                            comment: e.note.isEmpty ? nil : e.note, outcome: e.outcome.rawValue))
                    // The first attempt of a request that owes a retrospective makes it due.
                    if let due = r.retrospectiveDue, !r.retrospectiveDone, r.deployments.count == 1 {
                        out.append(about(r, .retrospectiveDue, actor: actor, state: state, now: now, summary: "the retrospective of emergency \(r.id) is due by \(Timestamps.rfc3339(due))"))
                    }
                }
            case .freezeAdded(let e):
                let f = e.freeze
                out.append(
                    Notification(
                        type: .freezeAdded, project: f.project, environment: f.environment, actor: actor,
                        summary: "\(actor) froze \(f.environment) of \(f.project ?? "every project") from \(Timestamps.rfc3339(f.from)) until \(Timestamps.rfc3339(f.until)) (\(e.id)): \(f.reason)",
                        comment: f.reason, link: dashboardPath(project: f.project, environment: f.environment), time: now))
            case .freezeLifted(let e):
                if let f = state.freezes[e.id] {
                    out.append(
                        Notification(
                            type: .freezeLifted, project: f.project, environment: f.environment, actor: actor,
                            summary: "\(actor) lifted freeze \(e.id) of \(f.environment) of \(f.project ?? "every project") (it held for: \(f.reason))", comment: f.reason,
                            link: dashboardPath(project: f.project, environment: f.environment), time: now))
                }
            case .requestWithdrawn(let e):
                if let r = state.requests[e.request] {
                    out.append(about(r, .requestWithdrawn, actor: actor, state: state, now: now, summary: "\(actor) withdrew \(r.id) (\(r.bundle), \(r.project) \(r.environment))", comment: e.reason))
                }
            case .requestExpired(let e):
                if let r = state.requests[e.request] {
                    out.append(
                        about(r, .requestExpired, actor: nil, state: state, now: now,
                            summary: "\(r.id) (\(r.bundle), \(r.project) \(r.environment)) expired: nothing happened to it since \(e.lastActivity)"))
                }
            case .keyRevoked(let e):
                out.append(
                    Notification(
                        type: .keyRevoked, project: nil, environment: nil, actor: actor,
                        summary: "\(actor) revoked a key of \(e.principal) (\(e.fingerprint))" + (e.compromisedSince.map { ", compromised since \(Timestamps.rfc3339($0))" } ?? ""),
                        link: "/audit", time: now))
            default: break
            }
        }
        // Once per stage change: where it rests now, and who can move it on — when a person can (a pipeline waiting on
        // its own evidence or deployment is told by the gate, not by a chat message); marked when this command's filing
        // or approval message says so already.
        var seen = Set<String>()
        for id in resting + told.keys.sorted() where seen.insert(id).inserted {
            guard let r = state.requests[id], r.status == .active else { continue }
            let waiting = Notification.Request(r, state: state, now: now)
            guard waiting.who_can_act.contains(where: { state.principals[$0]?.kind == .user }) else { continue }
            var message = about(
                r, .requestWaiting, actor: actor, state: state, now: now,
                summary: "\(r.id) (\(r.bundle), \(r.project) \(r.environment)) waits at \(r.stage) for \(waiting.next_stage ?? "its next stage"): \(waiting.who_can_act.joined(separator: ", ")) can act")
            message.besides = told[id]
            out.append(message)
        }
        return out
    }

    static func about(
        _ r: DeploymentRequest, _ type: NotificationType, actor: String?, state: SignoffState, now: Int64, summary: String, comment: String? = nil,
        outcome: String? = nil
    ) -> Notification {
        Notification(
            type: type, project: r.project, environment: r.environment, actor: actor, summary: summary, request: .init(r, state: state, now: now),
            comment: comment, outcome: outcome, link: consolePath(r.id), time: now)
    }

    /// The console's dashboard of `environment` (of `project`, or every project's): where a freeze shows what it holds.
    public static func dashboardPath(project: String?, environment: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let env = environment.addingPercentEncoding(withAllowedCharacters: allowed) ?? environment
        guard let project else { return "/dashboard?environment=\(env)" }
        return "/dashboard?environment=\(env)&project=\(project.addingPercentEncoding(withAllowedCharacters: allowed) ?? project)"
    }

    /// The console page of request `id`: what a reviewer opens from a message.
    public static func consolePath(_ id: String) -> String {
        "/requests/" + (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? id)
    }
}

extension Notification.Request {
    public init(_ r: DeploymentRequest, state: SignoffState, now: Int64) {
        request = r.id
        bundle = r.bundle
        digest = r.digest.description
        stage = r.stage
        status = r.status.rawValue
        requester = r.requester
        emergency = r.emergency != nil
        emergency_reason = r.emergency?.reason
        let since = r.history.last?.at ?? r.filedAt
        waiting_seconds = max(0, (now - since) / 1000)
        guard r.status == .active, let explanation = Engine.explain(r.id, state: state, now: now), let next = explanation.gates.first else {
            next_stage = nil
            who_can_act = []
            waiting_for = []
            return
        }
        next_stage = next.stage
        let unmet = next.conditions.filter { !$0.met }
        who_can_act = Array(Set(unmet.flatMap(\.whoCanSupply))).sorted()
        waiting_for = unmet.map(\.detail)
    }
}
