import Foundation

import Hummingbird
import HummingbirdTesting
import SignoffAPI
import SignoffCore
import SignoffCrypto
@testable import SignoffServer
import SignoffService
import Prometheus
import SignoffTestSupport
import Testing

/// Issue 23: gate long polls are capped per principal and in all; past a cap the answer is 429 with `Retry-After` at
/// once, and the slots come back when the waits end.
@Suite("Long poll limits")
struct LongPollLimitTests {
    static let gate = "/v1/requests/REQ-1/gate?environment=qa&digest=\(CIKitHTTPTests.digest)"

    @Test("The (cap+1)-th waiter of one principal gets 429 with Retry-After while another principal still waits; the server's cap too; wait=0 is never capped; slots come back")
    func caps() async throws {
        let (f, ciToken) = try await CIKitHTTPTests.world()
        defer { f.remove() }
        var configuration = ServerConfiguration()
        configuration.maximumWaitersPerPrincipal = 2
        configuration.maximumWaiters = 3
        let app = Application(router: buildRouter(service: f.database, configuration: configuration), logger: quietLogger)
        try await app.test(.router) { client in
            let riley = try await client.login("riley", key: f.keys["riley"]!)
            let morgan = try await client.login("morgan", key: f.keys["morgan"]!)
            @Sendable func ask(_ token: String, wait: Int) async throws -> (status: Int, headers: HTTPFields, body: String) {
                try await client.execute(uri: Self.gate + "&wait=\(wait)", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    (Int($0.status.code), $0.headers, String(buffer: $0.body))
                }
            }
            // Riley holds two (the per-principal cap), morgan one (the server's cap of three is reached).
            async let first = ask(riley, wait: 3)
            async let second = ask(riley, wait: 3)
            async let other = ask(morgan, wait: 3)
            try await Task.sleep(for: .milliseconds(700))
            let third = try await ask(riley, wait: 3)
            #expect(third.status == 429, "\(third)")
            #expect(third.headers[.retryAfter] == String(Handlers.waiterRetryAfterSeconds))
            #expect(third.headers[.contentType] == "application/problem+json" && third.body.contains("as one caller may hold at once (2)"), "\(third.body)")
            #expect(third.headers[.connection] == "close", "the refused waiter's connection is not held")
            let full = try await ask(ciToken, wait: 3)
            #expect(full.status == 429 && full.body.contains("as it holds at once (3)"), "\(full)")
            let now = try await ask(riley, wait: 0)
            #expect(now.status == 200, "a gate asked without wait is never capped: \(now)")
            // The waits in flight end normally: morgan's went on while riley was turned away.
            let answers = try await [first, second, other]
            #expect(answers.map(\.status) == [200, 200, 200], "\(answers.map(\.body))")
            // Every slot came back.
            let again = try await ask(riley, wait: 1)
            #expect(again.status == 200)
            async let a = ask(riley, wait: 1)
            async let b = ask(riley, wait: 1)
            #expect(try await [a, b].map(\.status) == [200, 200])
        }
    }

    @Test("A slot is given back when the wait ends by an error or a cancelled request")
    func released() async throws {
        let slots = WaiterSlots(perPrincipal: 1, total: 2)
        #expect(slots.acquire("riley") == nil)
        #expect(slots.acquire("riley") == .principal(1))
        #expect(slots.acquire("morgan") == nil)
        #expect(slots.acquire("sam") == .server(2))
        slots.release("riley")
        slots.release("morgan")
        #expect(slots.inUse() == 0 && slots.inUse(by: "riley") == 0)

        // Through the handler: a wait that is cancelled, and one whose evaluation fails, both give their slot back.
        let (f, _) = try await CIKitHTTPTests.world()
        defer { f.remove() }
        var configuration = ServerConfiguration()
        configuration.maximumWaitersPerPrincipal = 1
        let handlers = Handlers(
            service: f.database, auth: Authenticator(store: f.database.auth, clock: { f.database.now }), configuration: configuration,
            metrics: SignoffMetrics(registry: .init()))
        let state = try await f.database.state()
        let waiting = GateResponse(request: state.requests["REQ-1"]!, environment: "qa", digest: CIKitHTTPTests.digest, state: state, now: f.database.now)
        #expect(!waiting.isFinal(waitingUntil: f.database.now + 30_000))
        let cancelled = Task { try await handlers.gate(wait: .seconds(30), caller: "riley") { waiting } }
        try await Task.sleep(for: .milliseconds(300))
        #expect(handlers.waiters.inUse(by: "riley") == 1)
        cancelled.cancel()
        _ = try? await cancelled.value
        #expect(handlers.waiters.inUse() == 0, "a cancelled wait gives its slot back")
        struct Broken: Error {}
        await #expect(throws: Broken.self) { try await handlers.gate(wait: .seconds(30), caller: "riley") { throw Broken() } }
        #expect(handlers.waiters.inUse() == 0, "a failed wait gives its slot back")
    }
}
