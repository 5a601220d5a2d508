import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore
import SignoffCrypto
import SignoffLedger

/// Shared options of every command that changes the database.
struct WriteOptions: ParsableArguments {
    @OptionGroup var target: ClientOptions
    var actor: ActorOptions { target.actor }
    func client() async throws -> any SignoffClient { try await target.client() }
    @Flag(help: "Print JSON instead of text.")
    var json = false
}

/// How an administrative change is signed: `--key` signs it here; a quorum of administrators signs one statement in
/// turn (`--approval-out FILE` on the first machine, `signoff approval cosign FILE --key …` on the others, then
/// `--approval FILE` to submit it).
struct AdminSigningOptions: ParsableArguments {
    @OptionGroup var signing: SigningOptions

    @Option(help: "A signed approval of this exact change (from --approval-out and `signoff approval cosign`); --key adds your signature to it.")
    var approval: String?

    @Option(name: .customLong("approval-out"), help: "Write the signed approval of this change to FILE for other administrators to cosign, instead of submitting it.")
    var approvalOut: String?
}

/// Runs a command as the acting user and reports its entries (request commands: no administrators' approval).
func runRecorded(_ command: Command, options: WriteOptions, done: String) async throws {
    report(try await options.client().run(command, as: try options.actor.name), json: options.json, text: done)
}

/// The administrators' approval of `command` as `signing` says: made and signed here with `--key`, or read from
/// `--approval FILE` (with `--key` adding this administrator's signature). Nil without either. With `--approval-out`,
/// written to that file instead (and the caller submits nothing: `written` is true).
func adminApproval(_ command: Command, client: any SignoffClient, signing: AdminSigningOptions) throws -> (approval: DSSEEnvelope?, written: Bool) {
    guard let change = command.adminChange else { throw CLIError.failure("not an administrative change") }
    var approval: DSSEEnvelope?
    if let path = signing.approval {
        guard let data = FileManager.default.contents(atPath: path), var envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: data) else {
            throw CLIError.badInput("\(path) is not a signed approval (a DSSE envelope)")
        }
        guard let statement = try? JSONDecoder().decode(AdminApproval.self, from: Data(envelope.payload)), statement.change == change else {
            throw CLIError.badInput("\(path) approves another change than this one; sign this change (the engine would refuse it)")
        }
        if let key = try signing.signing.signingKey() { envelope.addSignature(with: key) }
        approval = envelope
    } else if let key = try signing.signing.signingKey() {
        approval = AdminApproval(change: change, time: client.now).signed(with: key)
    }
    guard let out = signing.approvalOut else { return (approval, false) }
    guard let approval else { throw CLIError.badInput("--approval-out needs --key (or --approval) to sign the change") }
    try KeyFiles.createExclusive(path: out, bytes: approval.jsonBytes(), mode: 0o600)
    print("Wrote the signed approval to \(out); other administrators run `signoff approval cosign \(out) --key THEIR.key` within 10 minutes, then submit with --approval \(out)")
    return (approval, true)
}

/// Runs an administrative change, signed as `signing` says: required for every change once the ledger has a
/// regulated project (`schema/refusals.md`: `admin.signature-required`).
func runAdministration(
    _ command: Command, options: WriteOptions, signing: AdminSigningOptions, done: String, strict: Bool = false, client given: (any SignoffClient)? = nil
) async throws {
    let client: any SignoffClient
    if let given { client = given } else { client = try await options.client() }
    let (approval, written) = try adminApproval(command, client: client, signing: signing)
    if written { return }
    report(try await client.run(command.approved(by: approval), as: try options.actor.name, strict: strict), json: options.json, text: done)
}

/// `--strict`: refuse a change that would leave a project's stage, filing or emergency filing with nobody to act.
struct StrictOption: ParsableArguments {
    @Flag(help: "Refuse the change if it would leave a stage, filing or emergency filing of a project with nobody (or too few) able to act; without it, that is a warning.")
    var strict = false
}

func readPublicKey(_ path: String) throws -> NoteVerifierKey {
    try KeyFiles.readVerifierKey(path: path)
}

/// An RFC 3339 option value.
func milliseconds(_ text: String, option: String) throws -> Int64 {
    guard let ms = Timestamps.milliseconds(rfc3339: text) else { throw CLIError.badInput("--\(option) \(text) is not an RFC 3339 time such as 2026-11-01T00:00:00Z") }
    return ms
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Administer users and their keys; list and show who exists.",
        subcommands: [Add.self, EnrollKey.self, RevokeKey.self, Disable.self, Enable.self, SetChat.self, List.self, Show.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user with their public key (administrators only).")
        @Argument(help: "The user name.") var name: String
        @Option(name: .customLong("key-file"), help: "The user's public key file (NAME.key.pub).") var keyFile: String?
        @Flag(help: "Make the user an administrator.") var admin = false
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let key = try keyFile.map(readPublicKey)
                try await runAdministration(.addUser(name: name, administrator: admin, key: key), options: options, signing: signing, done: "Added user \(name)")
            }
        }
    }

    struct EnrollKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll-key", abstract: "Enrol another public key: an administrator's change, or your own key with a signature by a key you have.",
            discussion: """
                An administrator enrols any user's or service account's key (a signed change in a regulated ledger); a key \
                enrolled so may itself sign administration, if its owner is an administrator. A person adds a key of their \
                own (a browser's, a new laptop's) with --self, the default when NAME is you and you are no administrator, \
                and --key one of their current keys: proof of possession, not an administrative change. Such a key signs \
                decisions, never administration, and exports flag it as self-enrolled.
                """)
        @Argument var name: String
        @Option(name: .customLong("key-file"), help: "The public key file to enrol.") var keyFile: String
        @Flag(name: .customLong("self"), help: "Add a key of your own, proven with --key (one of your current keys).") var own = false
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let key = try readPublicKey(keyFile)
                let actor = try options.actor.name
                let client = try await options.client()
                let administrator = (try? await client.principal(actor))?.administrator ?? false
                if own || (name == actor && !administrator) {
                    guard name == actor else { throw CLIError.badInput("--self adds a key of your own: NAME must be you (\(actor))") }
                    guard let signer = try signing.signing.signingKey() else {
                        throw CLIError.badInput("adding a key of your own is proven with one you have: give --key YOUR.key")
                    }
                    let proof = KeyEnrolmentStatement(principal: name, verifierKey: key, time: client.now).signed(with: signer)
                    report(
                        try await client.run(.enrollOwnKey(key: key, proof: proof), as: actor), json: options.json,
                        text: "Enrolled your key \(key.publicKey.keyFingerprint) (self-enrolled: it signs decisions, not administration)")
                    return
                }
                try await runAdministration(
                    .enrollKey(principal: name, key: key), options: options, signing: signing, done: "Enrolled key \(key.publicKey.keyFingerprint) for \(name)")
            }
        }
    }

    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-key",
            abstract: "Revoke a key: signatures made with it from now on are refused, and every session obtained with it ends.",
            discussion: """
                With --compromised-since TIME, signatures made with the key from TIME on stop counting for requests not yet \
                deployed (the gate re-evaluates; explain says why), and exports flag every decision it signed.
                """)
        @Argument var name: String
        @Option(name: .customLong("key-file"), help: "The public key file of the key to revoke.") var keyFile: String?
        @Option(help: "The key's fingerprint (sha256:HEX of the public key), instead of --key-file.") var fingerprint: String?
        @Option(name: .customLong("compromised-since"), help: "RFC 3339: the key is compromised since then.") var compromisedSince: String?
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard let fingerprint = try fingerprint ?? keyFile.map({ try readPublicKey($0).publicKey.keyFingerprint }) else {
                    throw CLIError.badInput("name the key with --key-file FILE.pub or --fingerprint sha256:HEX")
                }
                let since = try compromisedSince.map { try milliseconds($0, option: "compromised-since") }
                try await runAdministration(
                    .revokeKey(principal: name, fingerprint: fingerprint, compromisedSince: since), options: options, signing: signing,
                    done: "Revoked key \(fingerprint) of \(name)" + (compromisedSince.map { " (compromised since \($0))" } ?? ""))
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user or service account (offboarding): they can do nothing, and all their tokens end.")
        @Argument var name: String
        @OptionGroup var strictness: StrictOption
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runAdministration(.disablePrincipal(name: name), options: options, signing: signing, done: "Disabled \(name)", strict: strictness.strict)
            }
        }
    }

    struct SetChat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-chat",
            abstract: "Set a person's chat handles, used to mention them in Slack and Teams messages (your own, or anyone's as an administrator).",
            discussion: "Each option given replaces that handle; an option left out removes it. Not in the ledger: handles are not authority.")
        @Argument(help: "The user.") var name: String
        @Option(help: "Their Slack member ID (U… or W…; Slack: profile → ⋮ → Copy member ID).") var slack: String?
        @Option(help: "Their Teams user: Entra ID object ID (a UUID) or user principal name (name@example.com).") var teams: String?
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let set = try await options.client().setChatHandles(ChatHandles(slack: slack, teams: teams), of: name, as: try options.actor.name)
                if options.json { printJSON(set); return }
                print(set.slack == nil && set.teams == nil
                    ? "\(name) has no chat handles: messages name them without a mention"
                    : "\(name): Slack \(set.slack ?? "none"), Teams \(set.teams ?? "none") — messages naming them mention them")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user or service account again.")
        @Argument var name: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors { try await runAdministration(.enablePrincipal(name: name), options: options, signing: signing, done: "Enabled \(name)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users (administrators and auditors).")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { printPrincipals(try await read.client.client().principals(kind: .user), json: read.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user or service account: keys, groups, status.")
        @Argument var name: String
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { printPrincipals([try await read.client.client().principal(name)], json: read.json, single: true) }
        }
    }
}

func printPrincipals(_ principals: [PrincipalView], json: Bool, single: Bool = false) {
    if json {
        if single, let one = principals.first { printJSON(one) } else { printJSON(principals) }
        return
    }
    for p in principals {
        print("\(p.name)\t\(p.kind)\(p.administrator ? ", administrator" : "")\(p.disabled ? ", DISABLED" : "")\tgroups: \(p.groups.joined(separator: ", "))")
        for k in p.keys {
            let status = k.revoked_at.map { "revoked \($0)" + (k.compromised_since.map { ", compromised since \($0)" } ?? "") } ?? "valid"
            print("  key \(k.key_id) \(k.key_fingerprint) enrolled \(k.enrolled_at)\(k.trusted ? " (signed enrolment)" : ""), \(status)")
        }
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Administer groups and their members.", subcommands: [Add.self, AddMember.self, RemoveMember.self, Link.self, Unlink.self, List.self, Show.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group (administrators only).")
        @Argument var name: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors { try await runAdministration(.createGroup(name: name), options: options, signing: signing, done: "Created group \(name)") }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Add a user or service account to a group.")
        @Argument var group: String
        @Argument var member: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runAdministration(.addMember(group: group, member: member), options: options, signing: signing, done: "Added \(member) to \(group)")
            }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Remove a user or service account from a group (offboarding).")
        @Argument var group: String
        @Argument var member: String
        @OptionGroup var strictness: StrictOption
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runAdministration(
                    .removeMember(group: group, member: member), options: options, signing: signing, done: "Removed \(member) from \(group)", strict: strictness.strict)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups with their members (administrators and auditors).")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { printGroups(try await read.client.client().groups(), json: read.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a group: its members and the regulated projects that rely on it.")
        @Argument var name: String
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let group = try await read.client.client().group(name)
                if read.json { printJSON(group) } else { printGroups([group], json: false) }
            }
        }
    }
}

func printGroups(_ groups: [GroupView], json: Bool) {
    if json { printJSON(groups); return }
    for g in groups {
        let disabled = Set(g.disabled_members ?? [])
        let members = g.members.map { disabled.contains($0) ? "\($0) (disabled)" : $0 }.joined(separator: ", ")
        print("\(g.name)\t\(members)" + (g.directory.map { "\tkept by directory \($0)" } ?? "")
            + (g.regulated_projects.isEmpty ? "" : "\tregulated projects rely on it: \(g.regulated_projects.joined(separator: ", "))"))
    }
}

struct ServiceAccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-account", abstract: "Administer service accounts for automation.", subcommands: [Add.self, List.self, Show.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a service account (e.g. a CI system), with its public key.")
        @Argument var name: String
        @Option(name: .customLong("key-file"), help: "The service account's public key file.") var keyFile: String?
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let key = try keyFile.map(readPublicKey)
                try await runAdministration(.addServiceAccount(name: name, key: key), options: options, signing: signing, done: "Added service account \(name)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List service accounts (administrators and auditors).")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { printPrincipals(try await read.client.client().principals(kind: .serviceAccount), json: read.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a service account.")
        @Argument var name: String
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { printPrincipals([try await read.client.client().principal(name)], json: read.json, single: true) }
        }
    }
}

struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow", abstract: "Policy as code: apply, list and show workflows.", subcommands: [Apply.self, List.self, Show.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate and apply a workflow file; its exact bytes and digest go into the ledger.",
            discussion: "A bad file is refused with file:line:column and what is wrong; nothing is changed.")
        @Argument(help: "The workflow YAML file.") var file: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file), let source = String(data: data, encoding: .utf8) else {
                    throw CLIError.badInput("cannot read \(file) as UTF-8 text")
                }
                let applied: AppliedWorkflow
                do { applied = try AppliedWorkflow(source: source, file: file) } catch let error as WorkflowError { throw CLIError.badInput(error.description) }
                try await runAdministration(
                    .applyWorkflow(source: source, file: file), options: options, signing: signing,
                    done: "Applied workflow \(applied.workflow.name) (\(applied.digest)): \(applied.workflow.stages.map(\.name).joined(separator: " → "))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the applied workflows with their digests (administrators and auditors).")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let workflows = try await read.client.client().workflows()
                if read.json { printJSON(workflows) } else { for w in workflows { print("\(w.name)\t\(w.digest)") } }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the applied version of a workflow: its digest and exact source.")
        @Argument var name: String
        @OptionGroup var read: ReadOptions

        func run() async throws {
            try await reportingErrors {
                let workflow = try await read.client.client().workflow(name)
                if read.json {
                    printJSON(workflow)
                } else {
                    print("# workflow \(name), \(workflow.digest)")
                    print(workflow.source, terminator: workflow.source.hasSuffix("\n") ? "" : "\n")
                }
            }
        }
    }
}

/// `--env` and `--role` of `project create` and `project update`.
struct ProjectOptions: ParsableArguments {
    @Flag(help: "Every decision must be signed, and administrative changes too (a regulated project stays regulated).") var regulated = false
    @Option(parsing: .upToNextOption, help: "ENV=WORKFLOW, e.g. qa=standard prod=regulated.") var env: [String] = []
    @Option(
        parsing: .upToNextOption,
        help: "ROLE=GROUP[,GROUP] or ROLE@ENV=GROUP[,GROUP]: who holds each role the workflows name, e.g. approvers=fraud-leads deployers@prod=fraud-deployers. Every project binds requesters.")
    var role: [String] = []

    func pairs(_ values: [String], option: String, shape: String) throws -> [(String, String)] {
        try values.map { value in
            let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw CLIError.badInput("--\(option) \(value): expected \(shape)") }
            return (parts[0], parts[1])
        }
    }

    /// The bindings given, `ROLE[@ENV]` → groups.
    func bindings() throws -> [String: [String]] {
        var roles: [String: [String]] = [:]
        for (binding, groups) in try pairs(role, option: "role", shape: "ROLE=GROUP or ROLE@ENV=GROUP") {
            let list = groups.split(separator: ",").map { String($0) }
            guard !list.isEmpty, !list.contains(where: \.isEmpty) else { throw CLIError.badInput("--role \(binding)=\(groups): expected GROUP[,GROUP]") }
            guard roles[binding] == nil else { throw CLIError.badInput("--role \(binding) is given twice; list its groups once, separated by commas") }
            roles[binding] = list
        }
        return roles
    }

    func environments() throws -> [String: String] {
        var environments: [String: String] = [:]
        for (env, workflow) in try pairs(env, option: "env", shape: "ENV=WORKFLOW") { environments[env] = workflow }
        return environments
    }

    func spec(key: String) throws -> ProjectSpec {
        ProjectSpec(key: key, regulated: regulated, environments: try environments(), roles: try bindings())
    }
}

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Administer projects.", subcommands: [Create.self, Update.self, List.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a project: its environments' workflows and the groups bound to the roles they name.",
            discussion: """
                Example: signoff project create fraud-scoring --env qa=standard prod=regulated --role requesters=fraud-team \\
                  --role approvers=fraud-leads --role compliance=compliance --role ci=ci-bots --role platform=platform \\
                  --role deployers@prod=fraud-deployers --role deployers@qa=fraud-team --regulated --key ada.key
                Every role the environments' workflows name must be bound. A regulated project must be created with the
                administrator's --key; from then on every administrative change is signed.
                """)
        @Argument(help: "The project key, e.g. churn-model.") var key: String
        @OptionGroup var project: ProjectOptions
        @OptionGroup var strictness: StrictOption
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runAdministration(
                    .createProject(try project.spec(key: key), approval: nil), options: options, signing: signing,
                    done: "Created project \(key)" + (project.regulated ? " (regulated)" : ""), strict: strictness.strict)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a project's environments and role bindings (a signed administrative change in a regulated ledger).",
            discussion: """
                Starts from the project as it is: --env adds or replaces environments, --role replaces the named bindings,
                --unbind removes bindings. A regulated project stays regulated.
                """)
        @Argument var key: String
        @OptionGroup var project: ProjectOptions
        @Option(parsing: .upToNextOption, help: "ROLE or ROLE@ENV: bindings to remove.") var unbind: [String] = []
        @Option(parsing: .upToNextOption, help: "Environments to remove.") var removeEnv: [String] = []
        @OptionGroup var strictness: StrictOption
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let current = try await options.client().project(key)
                var environments = current.environments
                for env in removeEnv {
                    guard environments.removeValue(forKey: env) != nil else { throw CLIError.badInput("--remove-env \(env): \(key) has no such environment") }
                }
                environments.merge(try project.environments()) { _, new in new }
                var roles = current.roles
                for binding in unbind {
                    guard roles.removeValue(forKey: binding) != nil else { throw CLIError.badInput("--unbind \(binding): \(key) has no such binding") }
                }
                roles.merge(try project.bindings()) { _, new in new }
                let spec = ProjectSpec(key: key, regulated: current.regulated || project.regulated, environments: environments, roles: roles)
                try await runAdministration(.updateProject(spec), options: options, signing: signing, done: "Updated project \(key)", strict: strictness.strict)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects (administrators and auditors).")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors { printProjects(try await read.client.client().projects(), json: read.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a project's definition.")
        @Argument var key: String
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let project = try await read.client.client().project(key)
                if read.json { printJSON(project) } else { printProjects([project], json: false) }
            }
        }
    }
}

func printProjects(_ projects: [ProjectView], json: Bool) {
    if json { printJSON(projects); return }
    for p in projects {
        let envs = p.environments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let roles = p.roles.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.joined(separator: ","))" }.joined(separator: " ")
        print("\(p.key)\(p.regulated ? " (regulated)" : "")\tenvironments: \(envs)\troles: \(roles)")
    }
}

struct QuorumCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-quorum",
        abstract: "Set how many distinct administrators must sign a change to what a regulated project relies on (1 to 5).",
        discussion: "The change itself must meet the quorum in force. A quorum never exceeds the administrators who hold a key that may sign.")
    @Argument var quorum: Int
    @OptionGroup var signing: AdminSigningOptions
    @OptionGroup var options: WriteOptions

    func run() async throws {
        try await reportingErrors {
            // A quorum never exceeds the administrators who may sign: say so when it is more than there are now.
            let client = try await options.client()
            let signers = (try? await client.principals(kind: .user))?.filter { person in
                person.administrator && !person.disabled && person.keys.contains { $0.revoked_at == nil && $0.trusted && !$0.self_enrolled }
            }.count
            var done = "The administrators' quorum is now \(quorum)"
            if let signers, signers < quorum {
                done += "; with \(signers) administrator\(signers == 1 ? "" : "s") able to sign, \(signers == 1 ? "one signature suffices" : "\(signers) signatures suffice") until there are \(quorum)"
            }
            try await runAdministration(.setAdminQuorum(quorum), options: options, signing: signing, done: done, client: client)
        }
    }
}

struct ApprovalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approval", abstract: "Cosign an administrative change another administrator prepared with --approval-out.", subcommands: [Cosign.self])

    struct Cosign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add your signature to a signed approval file (after reading what it approves).")
        @Argument var file: String
        @OptionGroup var signing: SigningOptions

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file), var envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: data),
                    let statement = try? JSONDecoder().decode(AdminApproval.self, from: Data(envelope.payload))
                else { throw CLIError.badInput("\(file) is not a signed approval") }
                guard let key = try signing.signingKey() else { throw CLIError.badInput("cosigning needs your key: --key YOUR.key") }
                // A second signature by one key counts once: refused here rather than found short at submission.
                if envelope.signatures.contains(where: { $0.keyid == key.publicKey.keyFingerprint && key.publicKey.isValidSignature($0.sig, for: envelope.signedBytes) }) {
                    throw CLIError.badInput("\(file) is already signed with this key; nothing was added (each administrator signs once, with their own key)")
                }
                envelope.addSignature(with: key)
                try Data(envelope.jsonBytes()).write(to: URL(fileURLWithPath: file))
                let changeText = String(decoding: try WireCoding.encode(statement.change), as: UTF8.self)
                print("Cosigned \(statement.change.action) (signed at \(statement.time)): \(changeText)")
                printProgress("note: a signature counts when the change is submitted if its key is an enabled administrator's, enrolled with a signed change")
            }
        }
    }
}
