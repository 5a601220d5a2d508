internal import Foundation
#if canImport(Glibc)
internal import Glibc
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address): what `--trusted-proxy` names.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    let address: [UInt8]
    let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = Self.bytes(String(parts[0])) else { return nil }
        let bits = address.count * 8
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bits).contains(parsed), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = parsed
        } else {
            length = bits
        }
        self.address = address
        prefixLength = length
        description = text
    }

    /// The bytes of an IPv4 (4) or IPv6 (16) address; nil for anything else. An IPv4-mapped IPv6 address is its IPv4.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }

    public func contains(_ text: String) -> Bool {
        guard let other = Self.bytes(text), other.count == address.count else { return false }
        var remaining = prefixLength
        for index in address.indices where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if address[index] & mask != other[index] & mask { return false }
            remaining -= 8
        }
        return true
    }
}

/// The client's address as the limits and logs see it: the peer's, unless the peer is a trusted proxy
/// (`--trusted-proxy`), in which case the nearest address of `X-Forwarded-For` that is not itself a trusted proxy
/// (read from the right: the entries to its left are the client's to write). Without trusted proxies the header is
/// never read: any client could otherwise claim any address.
public enum ClientAddress {
    public static func resolve(peer: String?, forwardedFor: [String], trusted: [IPNetwork]) -> String? {
        guard let peer, !trusted.isEmpty, trusted.contains(where: { $0.contains(peer) }) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() {
            // A hop that is not an address (a proxy that writes names, or garbage): stop at the last one known good.
            guard IPNetwork.bytes(hop) != nil else { break }
            client = hop
            if !trusted.contains(where: { $0.contains(hop) }) { break }
        }
        return client
    }
}
