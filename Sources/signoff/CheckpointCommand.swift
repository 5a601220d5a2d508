import ArgumentParser
import Foundation
import SignoffAPI
import SignoffAudit
import SignoffCore
import SignoffCrypto
import SignoffLedger
import SignoffService

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the newest signed checkpoint (a C2SP signed note), or the ledger's verifier key."
    )

    @OptionGroup var target: ClientOptions

    @Flag(help: "Print the ledger's verifier key line (NAME+KEYIDHEX+BASE64KEY) instead.")
    var verifierKey = false

    @Flag(help: "Sign a checkpoint of the current tree first (needs the ledger key).")
    var sign = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let client = try await target.client()
            if verifierKey {
                let key = try await client.ledgerKey()
                if json {
                    struct Key: Encodable { let ledger_verifier_key: String }
                    printJSON(Key(ledger_verifier_key: key.description))
                } else {
                    print(key.description)
                }
                return
            }
            let checkpoint = try await client.checkpoint(sign: sign)
            if json { printJSON(CheckpointResponse(checkpoint)) } else { print(checkpoint.serialized, terminator: "") }
        }
    }
}
