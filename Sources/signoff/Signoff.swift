import ArgumentParser

/// The `signoff` command: deployment approvals with a tamper-evident audit ledger.
@main
struct Signoff: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "signoff",
        abstract: "Deployment approvals with a tamper-evident, offline-verifiable audit ledger.",
        discussion: """
            Every approval is signed, bound to the exact bundle digest, and recorded in a hash-chained \
            Merkle-tree ledger that an auditor can verify offline with nothing but a public key.

            Exit codes:
              0   success
              1   error (I/O, storage, unexpected)
              2   refused by policy
              3   verification failed (tampering, bad signature, inconsistent data)
              64  bad input (usage, malformed file or value)
              75  `gate --wait` ran out of time
            """,
        version: version,
        subcommands: [
            KeyCommand.self, InitCommand.self, UserCommand.self, GroupCommand.self, ServiceAccountCommand.self, WorkflowCommand.self,
            ProjectCommand.self, RequestCommand.self, EvidenceCommand.self, ApproveCommand.self, RejectCommand.self, RequestChangesCommand.self, FreezeCommand.self, DelegateCommand.self, WithdrawCommand.self,
            ReviseCommand.self, StatusCommand.self, ExplainCommand.self, ListCommand.self, InboxCommand.self, DeploymentsCommand.self, GateCommand.self, DeployCommand.self,
            RetrospectiveCommand.self, AuditCommand.self, CheckpointCommand.self, ServeCommand.self, LoginCommand.self, TokenCommand.self,
            QuorumCommand.self, ApprovalCommand.self, WebhookCommand.self, IssuerCommand.self, DirectoryCommand.self, AccessCommand.self, MigrateCommand.self, WitnessCommand.self, MonitorCommand.self,
        ]
    )
}
