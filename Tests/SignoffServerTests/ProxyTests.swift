import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import SignoffServer
import SignoffService
import SignoffStore
import Testing

/// Behind a load balancer (issue 26): whose `X-Forwarded-For` is believed, and login limits that every instance on one
/// database counts together.
@Suite("Behind a load balancer: trusted proxies and shared login limits")
struct ProxyTests {
    @Test("CIDR networks: IPv4, IPv6, single addresses, IPv4-mapped IPv6; malformed ones refused")
    func networks() throws {
        let ten = try #require(IPNetwork("10.0.0.0/8"))
        #expect(ten.contains("10.200.3.4") && !ten.contains("11.0.0.1") && !ten.contains("fd00::1"))
        #expect(ten.contains("::ffff:10.1.2.3"), "an IPv4-mapped address is its IPv4")
        let one = try #require(IPNetwork("192.0.2.7"))
        #expect(one.contains("192.0.2.7") && !one.contains("192.0.2.8"))
        let ula = try #require(IPNetwork("fd00::/8"))
        #expect(ula.contains("fd12:3456::1") && !ula.contains("fe80::1") && !ula.contains("10.0.0.1"))
        let odd = try #require(IPNetwork("192.0.2.0/23"))
        #expect(odd.contains("192.0.3.255") && !odd.contains("192.0.4.0"))
        #expect(IPNetwork("0.0.0.0/0")?.contains("203.0.113.9") == true)
        for bad in ["10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "example.com", "fd00::/129", "10.0.0.0/8/8", "", "10.0.0.0/+8"] {
            #expect(IPNetwork(bad) == nil, "\(bad) is refused")
        }
    }

    @Test("X-Forwarded-For is read only from a trusted peer, from the right, stopping at the first untrusted hop")
    func clientAddress() throws {
        let trusted = [IPNetwork("10.0.0.0/8")!]
        // No trusted proxies: the header is never read, whatever it says.
        #expect(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: ["203.0.113.9"], trusted: []) == "10.0.0.5")
        // An untrusted peer cannot claim another address.
        #expect(ClientAddress.resolve(peer: "198.51.100.4", forwardedFor: ["203.0.113.9"], trusted: trusted) == "198.51.100.4")
        // A trusted proxy names the client.
        #expect(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: ["203.0.113.9"], trusted: trusted) == "203.0.113.9")
        // Entries left of the first untrusted hop are the client's own words, not believed.
        #expect(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: ["1.2.3.4, 203.0.113.9, 10.0.0.7"], trusted: trusted) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: ["1.2.3.4", "203.0.113.9"], trusted: trusted) == "203.0.113.9")
        // Garbage stops the walk at the last address known good.
        #expect(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: ["203.0.113.9, not-an-address"], trusted: trusted) == "10.0.0.5")
        #expect(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: [], trusted: trusted) == "10.0.0.5")
    }

    @Test("Failed logins count per forwarded client behind a trusted proxy, per peer otherwise, and two instances on one database share the counts")
    func sharedLimits() async throws {
        let f = try await ServerFixture()
        defer { try? FileManager.default.removeItem(at: f.directory) }
        var configuration = ServerConfiguration()
        configuration.failedLoginsPerAddressPerFiveMinutes = 3
        configuration.failedLoginsPerNamePerFiveMinutes = 100
        var proxied = configuration
        proxied.trustedProxies = [IPNetwork("127.0.0.1")!]
        // Two instances over the same file: their own SignoffService, their own storage, one database.
        let second = SignoffService(storage: try SQLiteStorage.open(path: f.directory.appendingPathComponent("s.sqlite").path))
        let a = Application(router: buildRouter(service: f.database, configuration: proxied), logger: quietLogger)
        let b = Application(router: buildRouter(service: second, configuration: proxied), logger: quietLogger)
        let bad = try JSONSerialization.data(withJSONObject: ["user": "ada", "challenge": "AAAA", "signature": "AAAA"])
        @Sendable func attempt(_ client: any TestClientProtocol, from address: String?) async throws -> Int {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let address { headers[.xForwardedFor] = address }
            return try await client.execute(uri: "/v1/auth/token", method: .post, headers: headers, body: ByteBuffer(bytes: bad)) { $0.status.code }
        }
        var statuses = try await a.testLive { client in
            var statuses: [Int] = []
            for _ in 0..<2 { statuses.append(try await attempt(client, from: "203.0.113.9")) }
            // Another client behind the same proxy has its own count.
            statuses.append(try await attempt(client, from: "198.51.100.20"))
            return statuses
        }
        statuses += try await b.testLive { client in
            // The third failure of 203.0.113.9 lands on the other instance, and still counts: the fourth is refused.
            [try await attempt(client, from: "203.0.113.9"), try await attempt(client, from: "203.0.113.9"), try await attempt(client, from: "198.51.100.20")]
        }
        #expect(statuses == [401, 401, 401, 401, 429, 401], "\(statuses)")
        // Without trusted proxies the header is ignored: every attempt is the peer's (127.0.0.1), one count for all.
        let plain = Application(router: buildRouter(service: second, configuration: configuration), logger: quietLogger)
        try await plain.testLive { client in
            // 127.0.0.1 itself has no failures yet: three "different" forwarded clients exhaust its one count.
            var own: [Int] = []
            for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] { own.append(try await attempt(client, from: address)) }
            #expect(own == [401, 401, 401, 429], "an untrusted X-Forwarded-For changes nothing: \(own)")
        }
    }
}
