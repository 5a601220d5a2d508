import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ServiceLifecycle
import SignoffLedger
import SignoffService

/// `add-checkpoint` over HTTP with Foundation's URLSession: a 30-second timeout, no cookies or caches, at most 64 KiB
/// of answer read.
struct URLSessionWitnessTransport: WitnessTransport {
    /// One for the process: a URLSession lives until it is invalidated, so one is made, not one per submission.
    static let shared = URLSessionWitnessTransport()

    let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }()

    struct BadURL: Error, CustomStringConvertible {
        let url: String
        var description: String { "\(url) is not an http or https URL" }
    }

    func post(_ url: String, body: String) async throws -> (status: Int, contentType: String?, body: String) {
        guard let target = URL(string: url), target.scheme == "https" || target.scheme == "http" else { throw BadURL(url: url) }
        var request = URLRequest(url: target)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await session.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "Content-Type"), String(decoding: data.prefix(64 * 1024), as: UTF8.self))
    }
}

/// Offers the newest checkpoint to the witnesses (``WitnessClient``) every `intervalSeconds`, on the leader only (the
/// instance that signs checkpoints): the cosignatures are stored with the checkpoint, and a fork alarm is logged at
/// critical level once, kept on the status board for `/readyz`, the ledger's health and the metrics.
struct WitnessSubmissionService: Service {
    let service: SignoffService
    let endpoints: [WitnessEndpoint]
    let transport: any WitnessTransport
    let intervalSeconds: Int64
    let logger: Logger

    func run() async throws {
        guard !endpoints.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        service.witnesses.register(endpoints)
        let client = WitnessClient(ledger: service.ledger, endpoints: endpoints, transport: transport, board: service.witnesses)
        var said: [String: String] = [:]
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if await service.leadership.isLeader() {
                do {
                    for (endpoint, outcome) in try await client.submitNewest() {
                        switch outcome {
                        case .cosigned(let size):
                            logger.info("witness cosigned", metadata: ["witness": .string(endpoint.name), "size": .stringConvertible(size)])
                            said[endpoint.name] = nil
                        case .alreadyCosigned:
                            break
                        case .failed(let reason):
                            // Said once per distinct failure, not every interval.
                            if said[endpoint.name] != reason {
                                logger.warning("witness: no cosignature", metadata: ["witness": .string(endpoint.name), "reason": .string(reason)])
                                said[endpoint.name] = reason
                            }
                        case .alarm(let reason):
                            if said[endpoint.name] != reason {
                                logger.critical(
                                    "witness: fork alarm",
                                    metadata: [
                                        "witness": .string(endpoint.name), "reason": .string(reason),
                                        "next": .string("run `signoff audit verify --db` and compare `signoff checkpoint` with the witness's; restart the server once resolved (the alarm is kept until then)"),
                                    ])
                                said[endpoint.name] = reason
                            }
                        }
                    }
                } catch {
                    logger.error("witness: the newest checkpoint cannot be read", metadata: ["error": .string("\(error)")])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
        }
    }
}
