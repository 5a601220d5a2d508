/// What the scheduler owes people now: reminders of what has waited for them longer than their workflows'
/// `remind_after`, escalations of what has waited longer than `escalate_after`, and overdue retrospectives. Each
/// has a key: the scheduler sends each key once (so a reminder is one message per stage and revision, not one per
/// scheduler run).
public enum Reminders {
    public struct Due: Hashable, Sendable {
        public enum Kind: String, Hashable, Sendable { case reminder, escalation }
        public let kind: Kind
        public let person: String
        public let key: String
        public let item: Notification.Item
    }

    /// Reminders and escalations due at `now`, for the active requests of `state`.
    public static func due(in state: SignoffState, now: Int64) -> [Due] {
        var out: [Due] = []
        for id in state.openRequests {
            guard let r = state.requests[id], r.status == .active, r.deploymentInProgress == nil else { continue }
            guard let workflow = state.workflow(for: r)?.workflow, workflow.remindAfterSeconds != nil || workflow.escalateAfterSeconds != nil else { continue }
            let waiting = Notification.Request(r, state: state, now: now)
            guard let next = waiting.next_stage else { continue }
            let item = Notification.Item(
                request: r.id, project: r.project, environment: r.environment, stage: next, waiting_seconds: waiting.waiting_seconds,
                detail: waiting.waiting_for.joined(separator: "; "), link: Notifications.consolePath(r.id))
            let base = "\(r.id)/\(r.revision)/\(r.stage)"
            if let after = workflow.remindAfterSeconds, waiting.waiting_seconds >= after {
                for person in waiting.who_can_act where state.principals[person]?.kind == .user {
                    out.append(Due(kind: .reminder, person: person, key: "reminder/\(base)/\(person)", item: item))
                }
            }
            if let after = workflow.escalateAfterSeconds, let role = workflow.escalateTo?.value, waiting.waiting_seconds >= after {
                for person in state.holders(of: role, project: r.project, environment: r.environment) where state.principals[person]?.kind == .user {
                    out.append(Due(kind: .escalation, person: person, key: "escalation/\(base)/\(person)", item: item))
                }
            }
        }
        return out.sorted { ($0.person, $0.item.waiting_seconds, $0.key) < ($1.person, $1.item.waiting_seconds, $1.key) }
    }

    /// The overdue retrospectives at `now`: a notification each, keyed by request.
    public static func overdueRetrospectives(in state: SignoffState, now: Int64) -> [(key: String, notification: Notification)] {
        state.openRequests.compactMap { id -> (String, Notification)? in
            guard let r = state.requests[id], let due = r.retrospectiveDue, !r.retrospectiveDone, now > due else { return nil }
            return (
                "retrospective-overdue/\(r.id)",
                Notifications.about(
                    r, .retrospectiveOverdue, actor: nil, state: state, now: now,
                    summary: "the retrospective of emergency \(r.id) (\(r.project) \(r.environment)) is overdue since \(Timestamps.rfc3339(due))")
            )
        }.sorted { $0.0 < $1.0 }
    }

    /// One digest for `person` of `items` (a reminder or an escalation), oldest first.
    public static func digest(_ kind: Due.Kind, for person: String, items: [Notification.Item], project: String?, now: Int64) -> Notification {
        let sorted = items.sorted { $0.waiting_seconds > $1.waiting_seconds }
        let summary =
            kind == .reminder
            ? "\(person): \(sorted.count) request\(sorted.count == 1 ? "" : "s") wait\(sorted.count == 1 ? "s" : "") for you"
            : "\(person): \(sorted.count) request\(sorted.count == 1 ? " has" : "s have") waited too long and \(sorted.count == 1 ? "is" : "are") escalated to you"
        return Notification(
            type: kind == .reminder ? .reminder : .escalation, project: project, environment: nil, actor: nil, summary: summary, recipient: person,
            items: sorted, link: "/inbox", time: now)
    }
}
