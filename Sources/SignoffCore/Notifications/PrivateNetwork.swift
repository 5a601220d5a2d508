internal import Foundation

/// The address ranges a webhook is not sent to unless an administrator says it is meant (`allow_private`): loopback,
/// private, shared (CGNAT), link-local, unspecified and unique-local addresses, and the names `localhost` and
/// `*.localhost`. Pure: the engine classifies the URL's host as written, `signoff serve` classifies every address the
/// host resolves to just before it connects (`schema/webhooks.md`).
public enum PrivateNetwork {
    /// The range `host` (a URL's host: a name, an IPv4 address in any form `inet_aton` accepts, or an IPv6 address with
    /// or without brackets) falls in, e.g. "loopback (127.0.0.0/8)"; nil for a public address or any other name.
    public static func range(ofHost host: String) -> String? {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name = String(name.dropLast()) }
        if name == "localhost" || name.hasSuffix(".localhost") { return "the loopback name localhost" }
        if let v4 = ipv4(name) { return range(of: v4) }
        if let v6 = ipv6(name) { return range(of: v6) }
        return nil
    }

    /// The range an address (4 bytes IPv4, 16 bytes IPv6) falls in, or nil for a public one.
    public static func range(of address: [UInt8]) -> String? {
        switch address.count {
        case 4: return ipv4Range(address)
        case 16: return ipv6Range(address)
        default: return "an address of unknown form"
        }
    }

    private static func ipv4Range(_ a: [UInt8]) -> String? {
        switch (a[0], a[1]) {
        case (0, _): "unspecified (0.0.0.0/8)"
        case (127, _): "loopback (127.0.0.0/8)"
        case (10, _): "private (10.0.0.0/8)"
        case (172, 16...31): "private (172.16.0.0/12)"
        case (192, 168): "private (192.168.0.0/16)"
        case (100, 64...127): "shared, carrier-grade NAT (100.64.0.0/10)"
        case (169, 254): "link-local (169.254.0.0/16)"
        case (192, 0) where a[2] == 0: "IETF protocol assignments (192.0.0.0/24)"
        case (192, 0) where a[2] == 2, (198, 51) where a[2] == 100, (203, 0) where a[2] == 113: "documentation (TEST-NET)"
        case (198, 18...19): "benchmarking (198.18.0.0/15)"
        case (224...239, _): "multicast (224.0.0.0/4)"
        case (240...255, _): "reserved and broadcast (240.0.0.0/4)"
        default: nil
        }
    }

    private static func ipv6Range(_ a: [UInt8]) -> String? {
        let embeddedIPv4 = Array(a[12..<16])
        if a[0..<10].allSatisfy({ $0 == 0 }) {
            // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible, which also covers :: and ::1).
            if a[10] == 0xff, a[11] == 0xff { return ipv4Range(embeddedIPv4).map { "IPv4-mapped \($0)" } }
            if a[10] == 0, a[11] == 0 {
                if a[0..<15].allSatisfy({ $0 == 0 }) { return a[15] == 1 ? "loopback (::1)" : a[15] == 0 ? "unspecified (::)" : "IPv4-compatible (::/96)" }
                return ipv4Range(embeddedIPv4).map { "IPv4-compatible \($0)" } ?? "IPv4-compatible (::/96)"
            }
        }
        // 64:ff9b::/96, NAT64: the IPv4 address it translates to.
        if a[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0][...] { return ipv4Range(embeddedIPv4).map { "NAT64 \($0)" } }
        // Translations that reach whatever IPv4 address they embed, a network's own choice: never a webhook's target.
        if a[0..<6] == [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01][...] { return "local-use NAT64 (64:ff9b:1::/48)" }
        if a[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0][...] { return "IPv4-translated, SIIT (::ffff:0:0:0/96)" }
        if a[0] == 0x20, a[1] == 0x02 { return "6to4 (2002::/16)" }
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x00, a[3] == 0x00 { return "Teredo (2001::/32)" }
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x0d, a[3] == 0xb8 { return "documentation (2001:db8::/32)" }
        if a[0..<8] == [0x01, 0x00, 0, 0, 0, 0, 0, 0][...] { return "discard-only (100::/64)" }
        if a[0] == 0xff { return "multicast (ff00::/8)" }
        if a[0] & 0xfe == 0xfc { return "unique-local (fc00::/7)" }
        if a[0] == 0xfe, a[1] & 0xc0 == 0x80 { return "link-local (fe80::/10)" }
        if a[0] == 0xfe, a[1] & 0xc0 == 0xc0 { return "site-local (fec0::/10)" }
        return nil
    }

    /// An IPv4 address as `inet_aton` reads it: one to four parts separated by dots, each decimal, octal (a leading 0)
    /// or hexadecimal (0x); the last part fills the remaining bytes. So `2130706433`, `0x7f000001`, `0177.1` and
    /// `127.1` are all 127.0.0.1 — browsers and HTTP clients read them so too.
    public static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            guard let value = number(part) else { return nil }
            values.append(value)
        }
        for value in values.dropLast() where value > 255 { return nil }
        let last = values[values.count - 1]
        guard last < (UInt64(1) << (8 * UInt64(5 - values.count))) else { return nil }
        var bytes = values.dropLast().map { UInt8($0) }
        for index in stride(from: 4 - values.count, through: 0, by: -1) { bytes.append(UInt8((last >> (8 * UInt64(index))) & 0xff)) }
        return bytes
    }

    private static func number(_ part: Substring) -> UInt64? {
        var digits = part
        var radix: UInt64 = 10
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.count > 1, digits.hasPrefix("0") {
            radix = 8
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for character in digits {
            guard character.isASCII, let digit = character.hexDigitValue, UInt64(digit) < radix else { return nil }
            value = value * radix + UInt64(digit)
            if value > UInt64(UInt32.max) { return nil }
        }
        return value
    }

    /// An IPv6 address in its text form (RFC 4291 section 2.2, with an embedded dotted IPv4 tail); nil otherwise.
    /// A zone (`%eth0`) is not an address a webhook may name.
    public static func ipv6(_ text: String) -> [UInt8]? {
        guard text.contains(":"), !text.contains("%") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowIPv4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if allowIPv4, index == fields.count - 1, field.contains(".") {
                    // Only the dotted-quad form here, as inet_pton takes it.
                    let quads = field.split(separator: ".", omittingEmptySubsequences: false)
                    guard quads.count == 4 else { return nil }
                    var bytes: [UInt16] = []
                    for quad in quads {
                        guard (1...3).contains(quad.count), quad.allSatisfy(\.isASCII), let value = UInt16(quad), value <= 255 else { return nil }
                        bytes.append(value)
                    }
                    result += [bytes[0] << 8 | bytes[1], bytes[2] << 8 | bytes[3]]
                } else {
                    guard (1...4).contains(field.count), field.allSatisfy({ $0.isASCII && $0.isHexDigit }), let value = UInt16(field, radix: 16) else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        if halves.count == 2 {
            sawGap = true
            guard let h = groups(halves[0], allowIPv4: false), let t = groups(halves[1], allowIPv4: true) else { return nil }
            head = h
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let all = groups(halves[0], allowIPv4: true), all.count == 8 else { return nil }
            head = all
        }
        let words = head + (sawGap ? Array(repeating: 0, count: 8 - head.count - tail.count) : []) + tail
        guard words.count == 8 else { return nil }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}
