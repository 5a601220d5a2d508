internal import Foundation
internal import Yams

/// Reads a workflow file, refusing anything wrong with file, line, column and a sentence saying what.
public enum WorkflowParser {
    static let namePattern = "^[a-z0-9][a-z0-9-]{0,62}$"
    static let weekdays = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]

    /// `recorded`: the text comes from the ledger. A workflow applied in round 1 named groups (`group:` keys, `attached_by`
    /// and `actors` naming groups or principals, top-level `retrospective`, `freezes` in gates); such a file is still
    /// read from the ledger, and ``Workflow/namesGroups`` says so. A workflow applied now must name roles.
    public static func parse(_ text: String, file: String, recorded: Bool = false) throws(WorkflowError) -> Workflow {
        do {
            return try read(text, file: file, legacy: false)
        } catch {
            guard recorded, let legacy = try? read(text, file: file, legacy: true) else { throw error }
            return legacy
        }
    }

    static func read(_ text: String, file: String, legacy: Bool) throws(WorkflowError) -> Workflow {
        var reader = Reader(file: file, legacy: legacy)
        do {
            var workflow = try reader.workflow(text)
            workflow.namesGroups = legacy
            return workflow
        } catch let error as WorkflowError {
            throw error
        } catch let error as YamlError {
            throw reader.yamlError(error)
        } catch {
            throw WorkflowError(file: file, line: 1, column: 1, "cannot read the file as YAML")
        }
    }

    /// Parses a duration such as `90s`, `30m`, `72h` or `7d`.
    public static func seconds(ofDuration text: String) -> Int64? {
        guard let unit = text.last, let number = Int64(text.dropLast()), number > 0, number < 10_000_000 else { return nil }
        switch unit {
        case "s": return number
        case "m": return number * 60
        case "h": return number * 3600
        case "d": return number * 86400
        default: return nil
        }
    }

    struct Reader {
        let file: String
        /// Reading a round-1 file from the ledger: `group:` for `role:`, top-level `retrospective`, gate `freezes`.
        let legacy: Bool

        func fail(_ node: Node?, _ message: String) -> WorkflowError {
            let mark = node?.mark
            return WorkflowError(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message)
        }

        func location(_ node: Node) -> SourceLocation {
            SourceLocation(line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        }

        func yamlError(_ error: YamlError) -> WorkflowError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                return WorkflowError(file: file, line: mark.line, column: mark.column, "invalid YAML: \(problem)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                return WorkflowError(file: file, line: context.mark.line, column: context.mark.column, "duplicate key \(duplicates.joined(separator: ", "))")
            default:
                return WorkflowError(file: file, line: 1, column: 1, "invalid YAML: \(error)")
            }
        }

        /// Keys of round-1 files that mean something else now, with what to write instead.
        static let movedKeys = [
            "group": "workflows name roles, not groups: write role: and bind the role to groups in each project (signoff project create --role ROLE=GROUP)",
            "freezes": "freezes are their own objects, consulted live for every request: signoff freeze add --env ENV --from … --until … --reason …",
            "retrospective": "a retrospective belongs to the emergency: section (emergency: {filed_by, waives, retrospective: {role, within}})",
        ]

        /// A mapping's entries by key, refusing keys that are not allowed, missing required keys and duplicates.
        func mapping(_ node: Node, what: String, required: [String], optional: [String]) throws(WorkflowError) -> [String: (key: Node, value: Node)] {
            guard case .mapping(let mapping) = node else { throw fail(node, "\(what) must be a mapping of keys to values") }
            var entries: [String: (key: Node, value: Node)] = [:]
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else { throw fail(key, "\(what): keys must be plain words") }
                let name = scalar.string
                guard required.contains(name) || optional.contains(name) else {
                    if let hint = Self.movedKeys[name], !legacy { throw fail(key, "\(what): \(hint)") }
                    let allowed = (required + optional).sorted().joined(separator: ", ")
                    throw fail(key, "\(what): unknown key \"\(name)\" (allowed: \(allowed))")
                }
                guard entries[name] == nil else { throw fail(key, "\(what): duplicate key \"\(name)\"") }
                entries[name] = (key, value)
            }
            for name in required where entries[name] == nil {
                throw fail(node, "\(what): missing required key \"\(name)\"")
            }
            return entries
        }

        func string(_ node: Node, what: String) throws(WorkflowError) -> String {
            guard case .scalar(let scalar) = node, node.tag.rawValue != Tag.Name.null.rawValue, !scalar.string.isEmpty else {
                throw fail(node, "\(what) must be a non-empty text value")
            }
            return scalar.string
        }

        func name(_ node: Node, what: String) throws(WorkflowError) -> String {
            let text = try string(node, what: what)
            guard text.range(of: WorkflowParser.namePattern, options: .regularExpression) != nil else {
                throw fail(node, "\(what) \"\(text)\" must be lowercase letters, digits and hyphens, starting with a letter or digit")
            }
            return text
        }

        func bool(_ node: Node, what: String) throws(WorkflowError) -> Bool {
            guard case .scalar = node, let value = node.bool else { throw fail(node, "\(what) must be true or false") }
            return value
        }

        func sequence(_ node: Node, what: String) throws(WorkflowError) -> [Node] {
            guard case .sequence(let sequence) = node else { throw fail(node, "\(what) must be a list") }
            return Array(sequence)
        }

        func names(_ node: Node, what: String) throws(WorkflowError) -> [Located<String>] {
            var out: [Located<String>] = []
            for item in try sequence(node, what: what) {
                out.append(Located(try name(item, what: "an entry of \(what)"), at: location(item)))
            }
            return out
        }

        func duration(_ node: Node, what: String) throws(WorkflowError) -> Int64 {
            let text = try string(node, what: what)
            guard let seconds = WorkflowParser.seconds(ofDuration: text) else {
                throw fail(node, "\(what) \"\(text)\" is not a duration such as 30m, 72h or 7d")
            }
            return seconds
        }

        func timestamp(_ node: Node, what: String) throws(WorkflowError) -> Int64 {
            let text = try string(node, what: what)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            guard let date = formatter.date(from: text) else {
                throw fail(node, "\(what) \"\(text)\" is not an RFC 3339 time such as 2026-12-24T00:00:00Z")
            }
            return Int64((date.timeIntervalSince1970 * 1000).rounded())
        }

        mutating func workflow(_ text: String) throws -> Workflow {
            guard let root = try Yams.compose(yaml: text) else { throw WorkflowError(file: file, line: 1, column: 1, "the file is empty") }
            let top = try mapping(
                root, what: "a workflow", required: ["workflow", "stages"],
                optional: [
                    "description", "requester_may_decide", "requester_may_deploy", "separation_opt_out_reason", "emergency", "request_expiry",
                    "remind_after", "escalate_after", "escalate_to", "labels_from",
                ]
                    + (legacy ? ["retrospective"] : []))
            let name = try self.name(top["workflow"]!.value, what: "the workflow name")
            let description = try top["description"].map { try string($0.value, what: "description") } ?? ""
            let requesterMayDecide = try top["requester_may_decide"].map { try bool($0.value, what: "requester_may_decide") } ?? false
            let optOutReason = try top["separation_opt_out_reason"].map { try string($0.value, what: "separation_opt_out_reason") }
            let requesterMayDeploy = try top["requester_may_deploy"].map { try bool($0.value, what: "requester_may_deploy") } ?? false
            if requesterMayDecide && optOutReason == nil {
                throw fail(top["requester_may_decide"]!.key, "requester_may_decide: true needs a separation_opt_out_reason saying why this team cannot separate duties")
            }
            if requesterMayDeploy && optOutReason == nil {
                throw fail(top["requester_may_deploy"]!.key, "requester_may_deploy: true needs a separation_opt_out_reason saying why the requester must deploy")
            }
            if !requesterMayDecide && !requesterMayDeploy, let reason = top["separation_opt_out_reason"] {
                throw fail(reason.key, "separation_opt_out_reason is only meaningful with requester_may_decide or requester_may_deploy: true")
            }
            var retrospective: Workflow.Retrospective?
            if let node = top["retrospective"]?.value { retrospective = try self.retrospective(node) }
            var requestExpiry: Int64?
            if let node = top["request_expiry"] { requestExpiry = try duration(node.value, what: "request_expiry") }
            let remindAfter = try top["remind_after"].map { try duration($0.value, what: "remind_after") }
            let escalateAfter = try top["escalate_after"].map { try duration($0.value, what: "escalate_after") }
            let escalateTo = try top["escalate_to"].map { Located(try self.name($0.value, what: "escalate_to"), at: location($0.value)) }
            if (escalateAfter == nil) != (escalateTo == nil) {
                throw fail((top["escalate_after"] ?? top["escalate_to"])!.key, "escalate_after and escalate_to go together: how long a stage may wait, and the role it is escalated to")
            }
            if let remindAfter, let escalateAfter, escalateAfter <= remindAfter {
                throw fail(top["escalate_after"]!.key, "escalate_after must be longer than remind_after: people are reminded before their wait is escalated")
            }

            let stageNodes = try sequence(top["stages"]!.value, what: "stages")
            guard stageNodes.count >= 2 else {
                throw fail(top["stages"]!.value, "a workflow needs at least two stages: where a request starts and where it is deployed")
            }
            var stages: [Workflow.Stage] = []
            for (index, node) in stageNodes.enumerated() {
                let fields = try mapping(node, what: "a stage", required: ["name"], optional: ["gate", "when"])
                let stageName = try self.name(fields["name"]!.value, what: "a stage name")
                if Workflow.reservedNames.contains(stageName) {
                    throw fail(fields["name"]!.value, "\"\(stageName)\" is a terminal state every workflow has; it cannot be a stage")
                }
                if stages.contains(where: { $0.name == stageName }) {
                    throw fail(fields["name"]!.value, "duplicate stage \"\(stageName)\"")
                }
                var gate = Workflow.Gate()
                if let gateNode = fields["gate"]?.value {
                    if index == 0 { throw fail(fields["gate"]!.key, "the first stage is where a request starts; it cannot have a gate") }
                    gate = try self.gate(gateNode, earlierStages: stages.map(\.name), allStages: try allStageNames(stageNodes))
                }
                if index > 0 && gate.evidence.isEmpty && gate.approvals.isEmpty && !gate.isAction {
                    throw fail(node, "stage \"\(stageName)\" has no gate: give it evidence, approvals or actors, or remove it")
                }
                if index == stageNodes.count - 1 && !gate.isAction {
                    throw fail(node, "the last stage \"\(stageName)\" is the deployment: its gate must name the actors who may record it")
                }
                if let actors = gate.actors, actors.isEmpty {
                    throw fail(node, "stage \"\(stageName)\" cannot be reached: its actors list is empty, so nobody may enter it")
                }
                if let window = gate.window, window.days.isEmpty || window.startMinute >= window.endMinute {
                    throw fail(node, "stage \"\(stageName)\" cannot be reached: its deployment window is never open")
                }
                var stage = Workflow.Stage(name: stageName, location: location(fields["name"]!.value), gate: gate)
                if let when = fields["when"] {
                    if index == 0 || index == stageNodes.count - 1 {
                        throw fail(when.key, "the first and the last stage apply to every request; only a stage between them may have when:")
                    }
                    stage.when = try self.when(when.value)
                }
                stages.append(stage)
            }
            var emergency: Workflow.Emergency?
            if let node = top["emergency"]?.value { emergency = try self.emergency(node, stages: stages) }
            if requesterMayDeploy && retrospective == nil && emergency == nil {
                throw fail(top["requester_may_deploy"]!.key, "requester_may_deploy applies to emergency requests (an emergency: section); elsewhere use a stage's not_requester")
            }
            var workflow = Workflow(
                name: name, description: description, stages: stages, requesterMayDecide: requesterMayDecide,
                separationOptOutReason: optOutReason, retrospective: retrospective)
            workflow.requesterMayDeploy = requesterMayDeploy
            workflow.emergency = emergency
            workflow.requestExpirySeconds = requestExpiry
            workflow.remindAfterSeconds = remindAfter
            workflow.escalateAfterSeconds = escalateAfter
            workflow.escalateTo = escalateTo
            if let node = top["labels_from"]?.value {
                let fields = try mapping(node, what: "labels_from", required: ["evidence", "attached_by"], optional: [])
                let kind = try self.name(fields["evidence"]!.value, what: "labels_from evidence")
                let roles = try names(fields["attached_by"]!.value, what: "labels_from attached_by")
                if roles.isEmpty { throw fail(fields["attached_by"]!.value, "labels_from attached_by must name at least one role (whose evidence counts)") }
                if !stages.contains(where: { $0.when != nil }) {
                    throw fail(top["labels_from"]!.key, "labels_from adds labels for when:, and no stage has a when:")
                }
                workflow.labelsFrom = Workflow.LabelsFrom(evidence: kind, attachedBy: roles)
            }
            return workflow
        }

        func retrospective(_ node: Node) throws(WorkflowError) -> Workflow.Retrospective {
            let key = legacy ? "group" : "role"
            let fields = try mapping(node, what: "retrospective", required: [key, "within"], optional: [])
            return Workflow.Retrospective(
                role: Located(try self.name(fields[key]!.value, what: "retrospective \(key)"), at: location(fields[key]!.value)),
                withinSeconds: try duration(fields["within"]!.value, what: "retrospective within"))
        }

        /// `when:` — label → one value or a list of values; the stage applies when, for every label, the request has one.
        func when(_ node: Node) throws(WorkflowError) -> [String: [String]] {
            guard case .mapping(let mapping) = node, !mapping.isEmpty else {
                throw fail(node, "when must map labels to values, e.g. when: {touches: [connections, plugins]}")
            }
            var out: [String: [String]] = [:]
            for (key, value) in mapping {
                let label = try name(key, what: "a when label")
                guard out[label] == nil else { throw fail(key, "when: duplicate label \"\(label)\"") }
                let values: [String]
                if case .scalar = value { values = [try name(value, what: "a value of \(label)")] } else {
                    values = try names(value, what: "when \(label)").map(\.value)
                }
                guard !values.isEmpty else { throw fail(value, "when \(label) must list at least one value") }
                out[label] = values
            }
            return out
        }

        func emergency(_ node: Node, stages: [Workflow.Stage]) throws(WorkflowError) -> Workflow.Emergency {
            let fields = try mapping(node, what: "emergency", required: ["filed_by", "waives", "retrospective"], optional: ["outside_window"])
            let filedBy = try names(fields["filed_by"]!.value, what: "emergency filed_by")
            if filedBy.isEmpty { throw fail(fields["filed_by"]!.value, "emergency filed_by must name at least one role") }
            let waives = try names(fields["waives"]!.value, what: "emergency waives")
            for stage in waives {
                guard let index = stages.firstIndex(where: { $0.name == stage.value }) else {
                    throw WorkflowError(file: file, at: stage.location, "emergency waives unknown stage \"\(stage.value)\"")
                }
                guard index > 0 && index < stages.count - 1 else {
                    throw WorkflowError(file: file, at: stage.location, "an emergency cannot waive \"\(stage.value)\": the first and the last stage are every request's")
                }
            }
            var emergency = Workflow.Emergency(filedBy: filedBy, waives: waives, retrospective: try retrospective(fields["retrospective"]!.value))
            if let outside = fields["outside_window"] { emergency.outsideWindow = try bool(outside.value, what: "outside_window") }
            return emergency
        }

        func allStageNames(_ nodes: [Node]) throws(WorkflowError) -> [String] {
            nodes.compactMap { node in node.mapping?["name"]?.string }
        }

        func gate(_ node: Node, earlierStages: [String], allStages: [String]) throws(WorkflowError) -> Workflow.Gate {
            let fields = try mapping(
                node, what: "a gate", required: [],
                optional: [
                    "evidence", "approvals", "not_deciders_of", "not_requester", "signatures", "expiry", "reason_required", "actors", "window",
                ] + (legacy ? ["freezes"] : []))
            var gate = Workflow.Gate()
            if let evidence = fields["evidence"]?.value {
                for item in try sequence(evidence, what: "evidence") {
                    let e = try mapping(item, what: "an evidence requirement", required: ["kind", "status", "attached_by"], optional: ["max_age"])
                    let attachedBy = try names(e["attached_by"]!.value, what: "attached_by")
                    if attachedBy.isEmpty { throw fail(e["attached_by"]!.value, "attached_by must name at least one role") }
                    let statusNode = e["status"]!.value
                    let statusText = try string(statusNode, what: "evidence status")
                    guard let status = EvidenceStatus(rawValue: statusText) else {
                        throw fail(statusNode, "evidence status \"\(statusText)\" is not one of \(EvidenceStatus.vocabulary)")
                    }
                    let kind = try name(e["kind"]!.value, what: "evidence kind")
                    if gate.evidence.contains(where: { $0.kind == kind }) {
                        throw fail(e["kind"]!.value, "evidence kind \"\(kind)\" appears twice in this gate")
                    }
                    var requirement = Workflow.EvidenceRequirement(kind: kind, status: status, attachedBy: attachedBy)
                    if let maxAge = e["max_age"] { requirement.maxAgeSeconds = try duration(maxAge.value, what: "max_age") }
                    gate.evidence.append(requirement)
                }
            }
            if let approvals = fields["approvals"]?.value {
                for item in try sequence(approvals, what: "approvals") {
                    let roleKey = legacy ? "group" : "role"
                    let a = try mapping(item, what: "an approval rule", required: [roleKey, "count"], optional: [])
                    let countNode = a["count"]!.value
                    guard case .scalar = countNode, let count = countNode.int else { throw fail(countNode, "count must be a whole number") }
                    guard count >= 1 else { throw fail(countNode, "count must be at least 1 (got \(count))") }
                    guard count <= 100 else { throw fail(countNode, "count must be at most 100 (got \(count))") }
                    let role = Located(try name(a[roleKey]!.value, what: "approval role"), at: location(a[roleKey]!.value))
                    if gate.approvals.contains(where: { $0.role.value == role.value }) {
                        throw fail(a[roleKey]!.value, "role \"\(role.value)\" appears twice in approvals: give one rule with the total count")
                    }
                    gate.approvals.append(Workflow.ApprovalRule(role: role, count: count))
                }
                if gate.approvals.isEmpty { throw fail(approvals, "approvals must list at least one {role, count} rule") }
            }
            if let notDeciders = fields["not_deciders_of"]?.value {
                for item in try names(notDeciders, what: "not_deciders_of") {
                    guard allStages.contains(item.value) else {
                        throw WorkflowError(file: file, at: item.location, "not_deciders_of names unknown stage \"\(item.value)\"")
                    }
                    guard earlierStages.contains(item.value) else {
                        throw WorkflowError(file: file, at: item.location, "not_deciders_of must name an earlier stage; \"\(item.value)\" is not earlier")
                    }
                    gate.notDecidersOf.append(item)
                }
            }
            if let signatures = fields["signatures"]?.value {
                let value = try string(signatures, what: "signatures")
                guard value == "required" || value == "optional" else { throw fail(signatures, "signatures must be \"required\" or \"optional\"") }
                gate.signaturesRequired = value == "required"
            }
            if let expiry = fields["expiry"]?.value { gate.expirySeconds = try duration(expiry, what: "expiry") }
            if let reason = fields["reason_required"]?.value { gate.reasonRequired = try bool(reason, what: "reason_required") }
            if let actors = fields["actors"]?.value { gate.actors = try names(actors, what: "actors") }
            if let window = fields["window"]?.value { gate.window = try self.window(window) }
            if let freezes = fields["freezes"]?.value {
                for item in try sequence(freezes, what: "freezes") {
                    let f = try mapping(item, what: "a freeze", required: ["from", "to", "reason"], optional: [])
                    let from = try timestamp(f["from"]!.value, what: "freeze from"), to = try timestamp(f["to"]!.value, what: "freeze to")
                    guard from < to else { throw fail(f["to"]!.value, "a freeze must end after it starts") }
                    gate.freezes.append(Workflow.WorkflowFreeze(fromMilliseconds: from, toMilliseconds: to, reason: try string(f["reason"]!.value, what: "freeze reason")))
                }
            }
            if let notRequester = fields["not_requester"] {
                gate.notRequester = try bool(notRequester.value, what: "not_requester")
                if gate.actors == nil { throw fail(notRequester.key, "not_requester applies to an action stage (one with actors); approvals never come from the requester") }
            }
            if (gate.expirySeconds != nil || gate.reasonRequired) && gate.approvals.isEmpty {
                throw fail(node, "expiry and reason_required apply to approvals; this gate has none")
            }
            if !gate.notDecidersOf.isEmpty && gate.approvals.isEmpty && gate.actors == nil {
                throw fail(node, "not_deciders_of applies to approvals or to an action stage's actors; this gate has neither")
            }
            return gate
        }

        func window(_ node: Node) throws(WorkflowError) -> Workflow.DeploymentWindow {
            let w = try mapping(node, what: "a window", required: ["timezone", "days", "hours"], optional: [])
            let zone = try string(w["timezone"]!.value, what: "timezone")
            guard TimeZone(identifier: zone) != nil else {
                throw fail(w["timezone"]!.value, "unknown time zone \"\(zone)\"; use an IANA name such as Europe/Paris or UTC")
            }
            var days = Set<Int>()
            for item in try sequence(w["days"]!.value, what: "days") {
                let day = try string(item, what: "a day")
                guard let number = WorkflowParser.weekdays[day] else { throw fail(item, "unknown day \"\(day)\"; use mon, tue, wed, thu, fri, sat, sun") }
                days.insert(number)
            }
            let hoursNode = w["hours"]!.value
            let hours = try string(hoursNode, what: "hours")
            let parts = hours.split(separator: "-")
            guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]) else {
                throw fail(hoursNode, "hours \"\(hours)\" must look like 09:00-17:00")
            }
            return Workflow.DeploymentWindow(timeZone: zone, days: days, startMinute: start, endMinute: end)
        }

        func minutes(_ text: Substring) -> Int? {
            let hm = text.split(separator: ":")
            guard hm.count == 2, hm[0].count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...24).contains(h), (0..<60).contains(m),
                h * 60 + m <= 24 * 60
            else { return nil }
            return h * 60 + m
        }
    }
}
