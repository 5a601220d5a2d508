import Foundation

/// A console page's data, typed: one view model per page, which swift-mustache renders by reading its stored properties
/// by name (a `nil` optional is absent, `false` and an empty list close a section). The template is named by the type,
/// and every page carries its ``PageChrome``, which the header partial shows (`{{#chrome}}…{{/chrome}}`).
///
/// Text that may be missing is an optional, never an empty string: a present value opens a `{{#section}}` whatever it
/// holds. ``nonEmpty(_:)`` says so where a value comes as text.
protocol ConsolePage {
    static var template: String { get }
    var chrome: PageChrome { get }
}

/// Text, or nil when there is none.
func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

/// What every page shows around its content: its title, and for a person logged in, their name, the page's CSRF token
/// and the main navigation with the page's area marked (`aria-current="page"`).
struct PageChrome {
    /// The areas of the main navigation.
    enum Area { case inbox, file, dashboard, audit, access }

    /// Which link of the main navigation is the current page's.
    struct Navigation {
        let inbox, file, dashboard, audit, access: Bool
    }

    let title: String
    let user: String?
    let csrf: String?
    let nav: Navigation

    init(_ title: String, user: String? = nil, csrf: String? = nil, area: Area? = nil) {
        self.title = title
        self.user = user
        self.csrf = csrf
        nav = Navigation(inbox: area == .inbox, file: area == .file, dashboard: area == .dashboard, audit: area == .audit, access: area == .access)
    }
}

/// A moment as the console shows it (`<time datetime="{{iso}}" title="{{iso}}">{{ago}}</time>`): "12 min ago", with the
/// exact RFC 3339 time in `datetime` and on hover.
struct Moment: Equatable {
    let iso: String
    let ago: String
}

/// An option of a filter's `<select>`.
struct Choice {
    let name: String
    let selected: Bool
}

// MARK: Session pages

struct LoginPage: ConsolePage {
    static let template = "login"
    let chrome = PageChrome("Log in")
    /// The single sign-on issuer, when one is configured.
    let ssoIssuer: String?
    /// After a logout: the issuer's own sign-out page.
    let endSession: String?
}

struct SetupPage: ConsolePage {
    static let template = "setup"
    let chrome = PageChrome("Set up this browser")
    /// The user name the form starts with (a valid name from the link, or none).
    let setupUser: String?
}

struct SignedInPage: ConsolePage {
    static let template = "signed-in"
    let chrome = PageChrome("Signed in")
    let signedIn: String
    let issuer: String
    let next: String
    let hasKey: Bool
}

struct ErrorPage: ConsolePage {
    static let template = "error"
    let chrome: PageChrome
    let message: String
}

// MARK: Inbox

struct InboxPage: ConsolePage {
    static let template = "inbox"
    let chrome: PageChrome
    let items: [Item]
    let hasItems: Bool
    /// Said when the page shows fewer than all.
    let more: String?

    struct Item {
        let request: String
        let bundle: String
        /// What is asked, as a sentence's start: "Decide at approved".
        let what: String
        let onBehalfOf: String?
        let project: String
        let environment: String
        let detail: String?
        let emergency: Bool
        let waiting: Moment
        let filed: Moment
        let requester: String?
        let description: String?
        let run: String?
        let tests: TestBadge?
    }
}

/// The newest test report of a request's current revision, as a badge.
struct TestBadge {
    let status: String
    let statusClass: String
    let counts: String?
}

// MARK: Requests

struct FilePage: ConsolePage {
    static let template = "file"
    let chrome: PageChrome
    let places: [Place]
    let hasPlaces: Bool

    /// Where the person may file: a project's environment and the workflow it follows.
    struct Place {
        let project: String
        let environment: String
        let workflow: String
    }
}

struct RequestPage: ConsolePage {
    static let template = "request"
    let chrome: PageChrome

    // The request
    let request: String
    let project: String
    let environment: String
    let statusText: String
    let statusClass: String
    let emergency: Bool
    let emergencyReason: String?
    let bundle: String
    let digest: String
    let revision: Int
    let requester: String
    let filed: Moment
    let description: String?
    let labelsText: String?
    /// The labels as JSON, for the decision the browser signs.
    let labelsJSON: String
    /// The workflow by name and version ("standard v1"), and the digest of that version.
    let workflow: String
    let workflowDigest: String
    let hasSource: Bool
    let sourceParts: [SourcePart]

    // What is asked, first
    let closed: Closed?
    let askedOfYou: String?
    let missing: Missing?
    let exemptions: [Exemption]
    let changed: RevisionChange?

    // Deciding, withdrawing, revising
    let canDecide: Bool
    /// The stages the person may decide, in the workflow's order.
    let awaiting: [String]
    let delegators: [Delegator]?
    let mayWithdraw: Bool
    let mayRevise: Bool

    // The record
    let gates: [Gate]
    let evidence: [EvidenceRow]
    let hasEvidence: Bool
    let decisions: [DecisionRow]
    let hasDecisions: Bool
    let deployments: [DeploymentRow]
    let started: Started?
    let history: [HistoryRow]
    let historyCount: Int
    let entries: [LedgerEntryRow]
    let entryCount: Int

    /// Why a request that is no longer active ended: a rejection with its reason.
    struct Closed {
        let headline: String
        let reason: String?
    }

    struct Condition {
        let rule: String
        let met: Bool
        let detail: String
        let supply: String?
    }

    struct Gate {
        let stage: String
        let satisfied: Bool
        let conditions: [Condition]
    }

    /// What the next stage still lacks.
    struct Missing {
        let stage: String
        let conditions: [Condition]
    }

    struct Exemption {
        let freeze: String
        let by: String
        let reason: String
    }

    struct Delegator {
        let name: String
        let stages: String
    }

    struct EvidenceRow {
        let kind: String
        let status: String
        let statusClass: String
        let actor: String
        let at: Moment
        let digest: String
        let counts: String?
        let revision: Int
        /// Of an earlier revision: no longer counts.
        let old: Bool
        let link: String
    }

    struct DecisionRow {
        let stage: String
        let decision: String
        let actor: String
        let onBehalfOf: String?
        let at: Moment
        let signed: Bool
        let key: String?
        let comment: String?
        let revision: Int
        let old: Bool
    }

    struct DeploymentRow {
        let outcome: String
        let actor: String
        let at: Moment
        let note: String?
    }

    struct Started {
        let actor: String
        let at: Moment
    }

    struct HistoryRow {
        let at: Moment
        let stage: String
        let revision: Int
    }

    /// What a revision changed against the one it replaced.
    struct RevisionChange {
        let previous: Int
        let current: Int
        let oldBundle: String
        let newBundle: String
        let bundleChanged: Bool
        let oldDigest: String
        let newDigest: String
        let digestChanged: Bool
        let by: String
        let at: Moment
        let asked: Asked?
        /// What no longer counts.
        let carried: String

        struct Asked {
            let stage: String
            let actor: String
            let comment: String?
        }
    }
}

/// A part of where a bundle came from: text, a link when there is one; `first` has no separator before it.
struct SourcePart {
    let text: String
    let href: String?
    let first: Bool
}

/// A ledger entry about a request; on the audit timeline with its inclusion proof in the newest signed checkpoint.
struct LedgerEntryRow {
    let sequence: UInt64
    let kind: String
    let at: Moment
    let actor: String
    let leafHash: String
    let proof: [String]
    let hasProof: Bool
    /// The proof verifies against the checkpoint's root.
    let included: Bool
    /// A proof was computed and does not verify.
    let notIncluded: Bool
    /// Newer than the checkpoint: not in it yet.
    let pending: Bool
}

struct EvidencePage: ConsolePage {
    static let template = "evidence"
    let chrome: PageChrome
    let request: String
    let kind: String
    let status: String
    let statusClass: String
    let actor: String
    let at: String
    let revision: Int
    let digest: String
    /// The document is stored (uploaded), not only its digest.
    let stored: Bool
    let mediaType: String?
    let size: Int?
    let download: String?
    let junit: JUnit?
    let markdown: String?
    let text: String?

    struct JUnit {
        let summary: String?
        let cases: [Case]
    }

    struct Case {
        let classname: String
        let name: String
        let outcome: String
        let outcomeClass: String
        let suite: String?
        let message: String?
    }
}

// MARK: Dashboard

struct DashboardPage: ConsolePage {
    static let template = "dashboard"
    let chrome: PageChrome
    let projects: [Choice]
    let teams: [Choice]
    let environments: [Choice]
    let states: [Choice]
    let rows: [Row]
    let hasRows: Bool

    /// A project's environment: what runs, what is deploying, pending and stuck.
    struct Row {
        let project: String
        let environment: String
        /// The freezes in force, named.
        let frozen: String?
        let running: Running?
        let deploying: [Deploying]
        let pendingCount: Int
        /// How long the oldest pending request has waited.
        let oldest: String?
        let stuck: [Stuck]
    }

    struct Running {
        let request: String
        let bundle: String
        let deployed: Moment
        let actor: String
        let emergency: Bool
        let retrospective: String?
    }

    struct Deploying {
        let request: String
    }

    struct Stuck {
        let request: String
        let stage: String
        let why: String
    }
}

// MARK: Audit

struct AuditPage: ConsolePage {
    static let template = "audit"
    let chrome: PageChrome
    let origin: String
    let size: UInt64
    let healthy: Bool
    let unhealthy: Bool
    let ledgerKey: String
    let checkpoint: Checkpoint?
    let checks: [Check]
    let verification: Verification?
    /// A full verification is running now.
    let running: Bool
    /// The person may export every project.
    let everything: Bool
    let exports: [Export]

    struct Checkpoint {
        let size: UInt64
        let root: String
        let coversUntil: String?
        let coversAge: String?
        /// The entries newer than the checkpoint, said in words.
        let uncovered: String?
        let note: String
    }

    struct Check {
        let check: String
        let passed: Bool
        let detail: String
    }

    /// The newest full verification, and how far the ledger has grown since.
    struct Verification {
        let finished: Moment
        /// "28 entries", "1 checkpoint": what it re-read, counted in words.
        let entries: String
        let checkpoints: String
        let seconds: String
        let grown: String?
        let passed: Bool
        let failure: String?
    }

    struct Export {
        let project: String
        /// `?project=…`, percent-encoded.
        let query: String
    }
}

struct TimelinePage: ConsolePage {
    static let template = "timeline"
    let chrome: PageChrome
    let request: String
    let entries: [LedgerEntryRow]
    /// The newest signed checkpoint as signed, and its size.
    let checkpoint: String?
    let checkpointSize: UInt64?
    let ledgerKey: String
}

// MARK: Access

struct AccessPage: ConsolePage {
    static let template = "access"
    let chrome: PageChrome
    let project: String
    let projects: [Choice]
    // The form's values, as given.
    let environment: String?
    let at: String?
    let from: String?
    let to: String?
    /// Why the review could not be made (a bad time, an unknown environment).
    let error: String?
    let csv: String
    let snapshots: [Snapshot]
    let period: Period?

    /// Who can act on each duty at one moment.
    struct Snapshot {
        let heading: String
        let duties: [Duty]
    }

    struct Duty {
        let environment: String
        let stage: String
        let duty: String
        let roles: String
        let holders: [Holder]
    }

    struct Holder {
        let principal: String
        let through: String
        let canSign: Bool
    }

    /// What was decided in a period.
    struct Period {
        let from: String
        let to: String
        let hasActions: Bool
        let actions: [Action]
    }

    struct Action {
        let time: String
        let request: String
        let environment: String
        let stage: String
        let decision: String
        let by: String
        let onBehalfOf: String?
        let counted: Bool
        let note: String?
    }
}
