import ArgumentParser
import Foundation
import SignoffAPI
import SignoffCore
import SignoffCrypto

struct DirectoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directory",
        abstract: "Connect your organisation's directory (SCIM 2.0) to provision people and the groups linked to it.",
        discussion: """
            A connected directory provisions through `/scim/v2` with its own token: it adds users without keys, creates \
            groups of its own, keeps the membership of the groups linked to it, and disables the users it added — each a \
            ledger entry whose actor is directory:NAME. It never touches administrators, auditors, keys, role bindings or \
            the quorum, and in a ledger with a regulated project it enables nobody again. Connecting is signed with an \
            administrator's key in every ledger (`admin_quorum` administrators). README: "Connect your directory".
            """,
        subcommands: [Connect.self, List.self, Disconnect.self])

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect a directory (signed) and write its token, shown once, to --out FILE.",
            discussion: "The token is valid a year; disconnect and connect again to rotate it. Give it to your identity provider's SCIM client with the base URL https://YOUR-SERVER/scim/v2.")
        @Argument(help: "The directory's name (its entries' actor is directory:NAME).") var name: String
        @Option(name: .customLong("out"), help: "Where to write the token (created, mode 0600; never overwritten).") var tokenFile: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions

        func run() async throws {
            try await reportingErrors {
                guard !FileManager.default.fileExists(atPath: tokenFile) else { throw CLIError.badInput("\(tokenFile) exists; the token is written to a new file") }
                let client = try await options.client()
                let command = Command.connectDirectory(name: name, tokenID: "")
                let (approval, written) = try adminApproval(command, client: client, signing: signing)
                if written { return }
                let issued = try await client.createServiceToken(command.approved(by: approval), as: try options.actor.name)
                try KeyFiles.createExclusive(path: tokenFile, bytes: Array((issued.token + "\n").utf8), mode: 0o600)
                if options.json { printJSON(["name": name, "token_id": issued.token_id, "expires_at": issued.expires_at, "token_file": tokenFile]) } else {
                    print("Connected directory \(name); its token \(issued.token_id) (expires \(issued.expires_at)) is in \(tokenFile)")
                }
                printNotice("give the token to your identity provider's SCIM client with the base URL SERVER/scim/v2; it is not shown again")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the connected directories, the groups linked to each and how many users each added.")
        @OptionGroup var read: ReadOptions
        func run() async throws {
            try await reportingErrors {
                let directories = try await read.client.client().directories()
                if read.json { printJSON(ItemList(directories)); return }
                if directories.isEmpty { print("no connected directories") }
                for d in directories {
                    print("\(d.name)  token \(d.token_id)  connected by \(d.connected_by) \(d.connected_at)  \(d.users) users  groups: \(d.groups.isEmpty ? "none" : d.groups.joined(separator: ", "))")
                }
            }
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disconnect a directory: its token ends with the entry; the users and groups it made stay.")
        @Argument var name: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions
        func run() async throws {
            try await reportingErrors {
                try await runAdministration(.disconnectDirectory(name: name), options: options, signing: signing, done: "Disconnected directory \(name)")
            }
        }
    }
}

extension GroupCommand {
    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand a group's membership to a connected directory (signed; under the quorum when a regulated project binds the group).")
        @Argument var group: String
        @Option(help: "The connected directory that keeps the group's membership from now on.") var directory: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions
        func run() async throws {
            try await reportingErrors {
                try await runAdministration(
                    .linkGroup(group: group, directory: directory), options: options, signing: signing,
                    done: "Linked \(group) to directory \(directory): its SCIM client may now fill and empty it")
            }
        }
    }

    struct Unlink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a group's membership back from its directory (its members stay).")
        @Argument var group: String
        @OptionGroup var signing: AdminSigningOptions
        @OptionGroup var options: WriteOptions
        func run() async throws {
            try await reportingErrors {
                try await runAdministration(.linkGroup(group: group, directory: nil), options: options, signing: signing, done: "Unlinked \(group) from its directory")
            }
        }
    }
}
