import ArgumentParser
struct LedgerCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Ledger operations.") }
