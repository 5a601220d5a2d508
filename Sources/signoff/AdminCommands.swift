import ArgumentParser
import Foundation
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffAPI

/// Shared options of every command that changes the database.
struct WriteOptions: ParsableArguments {
    @OptionGroup var target: ClientOptions
    var actor: ActorOptions { target.actor }
    func client() throws -> any SignoffClient { try target.client() }
    @Flag(help: "Print JSON instead of text.")
    var json = false
}

/// Runs a command as the acting user and reports its entries; with `signing`, signs the administrative change it
/// makes (for the commands that can need an administrator's signature).
func runRecorded(_ make: (DSSEEnvelope?) -> Command, options: WriteOptions, signing: SigningOptions?, done: String) async throws {
    let client = try options.client()
    let actor = try options.actor.name
    var approval: DSSEEnvelope?
    if let signing, let key = try signing.signingKey(), let change = make(nil).adminChange {
        approval = AdminApproval(change: change, time: client.now).signed(with: key)
    }
    report(try await client.run(make(approval), as: actor), json: options.json, text: done)
}

func readPublicKey(_ path: String) throws -> NoteVerifierKey {
    try KeyFiles.readVerifierKey(path: path)
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Administer users and their keys.", subcommands: [Add.self, EnrollKey.self, RevokeKey.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user with their public key (administrators only).")
        @Argument(help: "The user name.") var name: String
        @Option(name: .customLong("key-file"), help: "The user's public key file (NAME.key.pub).") var keyFile: String?
        @Flag(help: "Make the user an administrator.") var admin = false
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let key = try keyFile.map(readPublicKey)
                try await runRecorded({ _ in .addUser(name: name, administrator: admin, key: key) }, options: options, signing: nil, done: "Added user \(name)")
            }
        }
    }

    struct EnrollKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll-key", abstract: "Enrol another public key for a user or service account (administrators only).")
        @Argument var name: String
        @Option(name: .customLong("key-file"), help: "The public key file to enrol.") var keyFile: String
        @OptionGroup var signing: SigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let key = try readPublicKey(keyFile)
                try await runRecorded(
                    { .enrollKey(principal: name, key: key, approval: $0) }, options: options, signing: signing,
                    done: "Enrolled key \(key.publicKey.keyFingerprint) for \(name)")
            }
        }
    }

    struct RevokeKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-key", abstract: "Revoke a key: signatures made with it from now on are refused.")
        @Argument var name: String
        @Option(name: .customLong("key-file"), help: "The public key file of the key to revoke.") var keyFile: String?
        @Option(help: "The key's fingerprint (sha256:HEX of the public key), instead of --key-file.") var fingerprint: String?
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard let fingerprint = try fingerprint ?? keyFile.map({ try readPublicKey($0).publicKey.keyFingerprint }) else {
                    throw CLIError.badInput("name the key with --key-file FILE.pub or --fingerprint HEX")
                }
                try await runRecorded({ _ in .revokeKey(principal: name, fingerprint: fingerprint) }, options: options, signing: nil, done: "Revoked key \(fingerprint) of \(name)")
            }
        }
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Administer groups.", subcommands: [Add.self, AddMember.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group (administrators only).")
        @Argument var name: String
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors { try await runRecorded({ _ in .createGroup(name: name) }, options: options, signing: nil, done: "Created group \(name)") }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-member", abstract: "Add a user or service account to a group (signed with --key when a regulated project relies on the group).")
        @Argument var group: String
        @Argument var member: String
        @OptionGroup var signing: SigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                try await runRecorded({ .addMember(group: group, member: member, approval: $0) }, options: options, signing: signing, done: "Added \(member) to \(group)")
            }
        }
    }
}

struct ServiceAccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "service-account", abstract: "Administer service accounts for automation.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a service account (e.g. a CI system), with its public key.")
        @Argument var name: String
        @Option(name: .customLong("key-file"), help: "The service account's public key file.") var keyFile: String?
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                let key = try keyFile.map(readPublicKey)
                try await runRecorded({ _ in .addServiceAccount(name: name, key: key) }, options: options, signing: nil, done: "Added service account \(name)")
            }
        }
    }
}

struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workflow", abstract: "Policy as code: apply and show workflows.", subcommands: [Apply.self, Show.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate and apply a workflow file; its exact bytes and digest go into the ledger.",
            discussion: "A bad file is refused with file:line:column and what is wrong; nothing is changed.")
        @Argument(help: "The workflow YAML file.") var file: String
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file), let source = String(data: data, encoding: .utf8) else {
                    throw CLIError.badInput("cannot read \(file) as UTF-8 text")
                }
                let applied: AppliedWorkflow
                do { applied = try AppliedWorkflow(source: source, file: file) } catch let error as WorkflowError { throw CLIError.badInput(error.description) }
                try await runRecorded(
                    { _ in .applyWorkflow(source: source, file: file) }, options: options, signing: nil,
                    done: "Applied workflow \(applied.workflow.name) (\(applied.digest)): \(applied.workflow.stages.map(\.name).joined(separator: " → "))")
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
                let (digest, source) = (workflow.digest, workflow.source)
                if read.json {
                    printJSON(workflow)
                } else {
                    print("# workflow \(name), \(digest)")
                    print(source, terminator: source.hasSuffix("\n") ? "" : "\n")
                }
            }
        }
    }
}

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "project", abstract: "Administer projects.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a project: its environments' workflows, who may request and who may deploy where.",
            discussion: "A regulated project must be created with the administrator's --key: the change is signed.")
        @Argument(help: "The project key, e.g. churn-model.") var key: String
        @Flag(help: "Every decision must be signed, and administrative changes too.") var regulated = false
        @Option(parsing: .upToNextOption, help: "ENV=WORKFLOW, e.g. qa=standard prod=regulated.") var env: [String] = []
        @Option(parsing: .upToNextOption, help: "Groups whose members may file requests.") var requesters: [String] = []
        @Option(parsing: .upToNextOption, help: "ENV=GROUP: who may deploy to each environment.") var deployers: [String] = []
        @OptionGroup var signing: SigningOptions
        @OptionGroup var options: WriteOptions

        func pairs(_ values: [String], option: String) throws -> [(String, String)] {
            try values.map { value in
                let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw CLIError.badInput("--\(option) \(value): expected ENV=NAME") }
                return (parts[0], parts[1])
            }
        }

        func run() async throws {
            try await reportingErrors {
                var environments: [String: String] = [:]
                for (env, workflow) in try pairs(env, option: "env") { environments[env] = workflow }
                var deployerGroups: [String: [String]] = [:]
                for (env, group) in try pairs(deployers, option: "deployers") { deployerGroups[env, default: []].append(group) }
                let spec = ProjectSpec(key: key, regulated: regulated, environments: environments, requesters: requesters, deployers: deployerGroups)
                try await runRecorded({ .createProject(spec, approval: $0) }, options: options, signing: signing, done: "Created project \(key)" + (regulated ? " (regulated)" : ""))
            }
        }
    }
}
