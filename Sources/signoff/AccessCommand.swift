import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Access reviews: who can act on a project, who could, who did.", subcommands: [Review.self])

    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For each environment, stage and duty of a project: who can act now and through what; who could at --at; who decided in --from … --to.",
            discussion: """
                Through what: a group (and the directory that keeps it), a delegation, being an administrator. In a \
                regulated project a holder without a key that signs is marked. Administrators, auditors and the \
                project's administrators only. --csv writes the same as CSV (schema/access-review.md); --json the API's document.
                """)
        @Option(help: "The project.") var project: String
        @Option(name: .customLong("env"), help: "One environment only.") var environment: String?
        @Option(help: "Also who could act at this time (RFC 3339, or a date: its midnight UTC), e.g. before an offboarding.") var at: String?
        @Option(help: "Decisions from this time (RFC 3339 or a date; default the ledger's beginning)…") var from: String?
        @Option(help: "…until before this time (RFC 3339 or a date; default now). Without --from or --to no decisions are listed.") var to: String?
        @Flag(help: "Write CSV instead of text.") var csv = false
        @OptionGroup var read: ReadOptions

        func run() async throws {
            try await reportingErrors {
                // A date alone is that day's midnight, UTC (a quarter starts on a date).
                func time(_ text: String, _ option: String) throws -> Int64 {
                    let isDate = text.utf8.count == 10 && text.split(separator: "-").map(\.count) == [4, 2, 2]
                    return try milliseconds(isDate ? text + "T00:00:00Z" : text, option: option)
                }
                let at = try self.at.map { try time($0, "at") }
                let from = try self.from.map { try time($0, "from") }
                let to = try self.to.map { try time($0, "to") }
                if let from, let to, from >= to { throw CLIError.badInput("--from must be before --to") }
                let review = try await read.client.client().accessReview(
                    project: project, environment: environment, at: at, from: from, to: to, as: try read.actor.name)
                if read.json { printJSON(review); return }
                if csv { Swift.print(review.csv, terminator: ""); return }
                Self.show(review)
            }
        }

        static func show(_ review: AccessReviewView) {
            for (heading, snapshot) in [("Who can act now (\(review.now.at))", review.now), ("Who could act at \(review.then?.at ?? "")", review.then)] {
                guard let snapshot else { continue }
                Swift.print("\(heading) — \(review.project)\(review.environment.map { " on \($0)" } ?? "")")
                if snapshot.duties.isEmpty { Swift.print("  \(review.project) did not exist then") }
                for duty in snapshot.duties {
                    let place = "\(duty.environment)\(duty.stage.map { " / \($0)" } ?? "")"
                    Swift.print("  \(place): \(duty.duty) [\(duty.roles.joined(separator: " or "))]")
                    if duty.holders.isEmpty { Swift.print("    NOBODY") }
                    for holder in duty.holders {
                        Swift.print("    \(holder.principal)  through \(holder.through.joined(separator: "; "))\(holder.can_sign ? "" : "  (no key that signs)")")
                    }
                }
            }
            if let period = review.period {
                Swift.print("Decisions from \(period.from) until \(period.to)")
                if period.actions.isEmpty { Swift.print("  none") }
                for a in period.actions {
                    let who = a.on_behalf_of.map { "\(a.by) for \($0)" } ?? a.by
                    Swift.print("  \(a.time)  \(a.request) (\(a.environment)) \(a.stage): \(a.decision) by \(who)  \(a.counted ? "counted" : "NOT COUNTED: \(oneLine(a.note))")")
                }
            }
        }
    }
}
