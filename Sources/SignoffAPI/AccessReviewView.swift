public import SignoffCore

/// `GET /v1/projects/{key}/access-review` and `signoff access review`: who can act on each duty now, who could at a
/// time, and what was done in a period (``AccessReview``). The same document as CSV (``csv``).
public struct AccessReviewView: Codable, Sendable {
    public struct Holder: Codable, Sendable, Equatable {
        public let principal: String
        public let through: [String]
        public let can_sign: Bool
    }
    public struct Duty: Codable, Sendable, Equatable {
        public let environment: String
        public let stage: String?
        public let duty: String
        public let roles: [String]
        public let holders: [Holder]
    }
    /// Who can do what, as the ledger says at `at`.
    public struct Snapshot: Codable, Sendable {
        public let at: String
        public let duties: [Duty]
    }
    public struct Action: Codable, Sendable, Equatable {
        public let time: String
        public let request: String
        public let environment: String
        public let stage: String
        public let decision: String
        public let by: String
        public let on_behalf_of: String?
        public let counted: Bool
        public let note: String
    }
    /// What was done from `from` until before `to`.
    public struct Period: Codable, Sendable {
        public let from: String
        public let to: String
        public let actions: [Action]
    }

    public let project: String
    public let environment: String?
    public let now: Snapshot
    /// At the time asked for (`--at`), when asked.
    public let then: Snapshot?
    /// In the period asked for (`--from`, `--to`), when asked.
    public let period: Period?

    public init(project: String, environment: String?, now: (Int64, [AccessReview.Duty]), then: (Int64, [AccessReview.Duty])?, period: (Int64, Int64, [AccessReview.Action])?) {
        func snapshot(_ at: Int64, _ duties: [AccessReview.Duty]) -> Snapshot {
            Snapshot(at: Timestamps.rfc3339(at), duties: duties.map { d in
                Duty(environment: d.environment, stage: d.stage, duty: d.duty, roles: d.roles,
                    holders: d.holders.map { Holder(principal: $0.principal, through: $0.through, can_sign: $0.canSign) })
            })
        }
        self.project = project
        self.environment = environment
        self.now = snapshot(now.0, now.1)
        self.then = then.map { snapshot($0.0, $0.1) }
        self.period = period.map { from, to, actions in
            Period(from: Timestamps.rfc3339(from), to: Timestamps.rfc3339(to), actions: actions.map { a in
                Action(time: Timestamps.rfc3339(a.time), request: a.request, environment: a.environment, stage: a.stage, decision: a.decision, by: a.by,
                    on_behalf_of: a.onBehalfOf, counted: a.counted, note: a.note)
            })
        }
    }

    public static let csvHeader = "section,time,environment,stage,duty,principal,through,can_sign,request,decision,on_behalf_of,counted,note\r\n"

    /// The review as CSV (`schema/access-review.md`): a row per holder of each duty now (`section` `now`) and at the time
    /// asked (`at`), and a row per decision of the period (`did`).
    public var csv: String {
        var out = Self.csvHeader
        for (section, snapshot) in [("now", now), ("at", then)] {
            guard let snapshot else { continue }
            for duty in snapshot.duties {
                if duty.holders.isEmpty {
                    out += CSVText.row([section, snapshot.at, duty.environment, duty.stage ?? "", duty.duty, "", "nobody", "", "", "", "", "", ""])
                }
                for holder in duty.holders {
                    out += CSVText.row([
                        section, snapshot.at, duty.environment, duty.stage ?? "", duty.duty, holder.principal, holder.through.joined(separator: "; "),
                        holder.can_sign ? "yes" : "no", "", "", "", "", "",
                    ])
                }
            }
        }
        for action in period?.actions ?? [] {
            out += CSVText.row([
                "did", action.time, action.environment, action.stage, "decides", action.by, "", "", action.request, action.decision, action.on_behalf_of ?? "",
                action.counted ? "yes" : "no", action.note,
            ])
        }
        return out
    }
}
