/// A JSON value as RFC 8259 writes it, read strictly and exactly: strings as their code points (UTF-8 bytes, never
/// compared by Unicode equivalence, as Swift's `String ==` would), integers as written, object members in order with a
/// key twice refused. What the offline verifiers compare when the spec says two JSON values are *the same*
/// (`schema/audit-export.md`, "JSON values"): a second verifier in another language reaches the same verdict.
public indirect enum JSONValue: Sendable {
    case null
    case bool(Bool)
    /// An integer as written (`-?(0|[1-9][0-9]*)`).
    case integer(String)
    /// Any other number (a fraction or an exponent): the same as no value, not even itself.
    case number(String)
    case string([UInt8])
    case array([JSONValue])
    case object([(key: [UInt8], value: JSONValue)])

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
        /// The key that appears twice in one object, when that is what is wrong.
        public var duplicateKey: [UInt8]? = nil
    }

    /// Parses one JSON text (whitespace around it allowed, nothing else): objects nest at most 64 deep, a member key
    /// may appear once per object, strings are valid UTF-8 and an escaped surrogate must be half of a pair.
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> JSONValue {
        var reader = Reader(bytes: Array(bytes))
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == reader.bytes.count else { throw ParseError(description: "trailing bytes after the JSON value") }
        return value
    }

    /// The member `key` of an object (nil: not an object, or no such member).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        let wanted = Array(key.utf8)
        return members.first { $0.key == wanted }?.value
    }

    /// The member `key`, reading a member whose value is `null` as absent.
    public func member(_ key: String) -> JSONValue? {
        guard let value = self[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    public var string: String? {
        guard case .string(let bytes) = self else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var isTrue: Bool {
        if case .bool(true) = self { return true }
        return false
    }

    /// An integer that fits in 64 bits.
    public var integer: Int64? {
        guard case .integer(let text) = self else { return nil }
        return Int64(text)
    }

    public var objectKeys: [String]? {
        guard case .object(let members) = self else { return nil }
        return members.map { String(decoding: $0.key, as: UTF8.self) }
    }

    public var array: [JSONValue]? {
        guard case .array(let items) = self else { return nil }
        return items
    }

    /// Whether two values are the same JSON: the same type; strings of the same code points; integers of the same
    /// value; arrays of the same values in the same order; objects with the same keys, each with the same value, in any
    /// order. A non-integer number is the same as nothing.
    public func isSame(as other: JSONValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.integer(let a), .integer(let b)): return Self.normalized(a) == Self.normalized(b)
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.isSame(as: $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            return a.allSatisfy { member in b.contains { $0.key == member.key && $0.value.isSame(as: member.value) } }
        default: return false
        }
    }

    private static func normalized(_ integer: String) -> String { integer == "-0" ? "0" : integer }

    /// An object of `members` (keys as given).
    public static func object(_ members: [(String, JSONValue)]) -> JSONValue {
        .object(members.map { (Array($0.0.utf8), $0.1) })
    }

    public static func text(_ value: String) -> JSONValue { .string(Array(value.utf8)) }

    struct Reader {
        let bytes: [UInt8]
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        func error(_ message: String) -> ParseError { ParseError(description: "\(message) at byte \(at)") }

        mutating func literal(_ word: String, _ value: JSONValue) throws(ParseError) -> JSONValue {
            let w = Array(word.utf8)
            guard bytes.count - at >= w.count, Array(bytes[at..<at + w.count]) == w else { throw error("not JSON") }
            at += w.count
            return value
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard depth < 64 else { throw error("nested more than 64 deep") }
            guard at < bytes.count else { throw error("a value is missing") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var members: [(key: [UInt8], value: JSONValue)] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                    at += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("an object key is missing") }
                    let key = try string()
                    guard !members.contains(where: { $0.key == key }) else {
                        throw ParseError(description: "the key \"\(String(decoding: key.prefix(40), as: UTF8.self))\" appears twice in one object", duplicateKey: key)
                    }
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("':' is missing") }
                    at += 1
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard at < bytes.count else { throw error("the object is not closed") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    guard bytes[at] == UInt8(ascii: "}") else { throw error("',' or '}' is missing") }
                    at += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [JSONValue] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                    at += 1
                    return .array(items)
                }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw error("the array is not closed") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    guard bytes[at] == UInt8(ascii: "]") else { throw error("',' or ']' is missing") }
                    at += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func digits() -> Int {
            let start = at
            while at < bytes.count, (0x30...0x39).contains(bytes[at]) { at += 1 }
            return at - start
        }

        mutating func number() throws(ParseError) -> JSONValue {
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let first = at
            guard digits() > 0 else { throw error("not JSON") }
            guard bytes[first] != 0x30 || at - first == 1 else { throw error("a number has a leading zero") }
            var integer = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { throw error("a fraction has no digits") }
                integer = false
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw error("an exponent has no digits") }
                integer = false
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            return integer ? .integer(text) : .number(text)
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard bytes.count - at >= 4 else { throw error("a \\u escape is cut short") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[at]
                let digit: UInt32
                switch b {
                case 0x30...0x39: digit = UInt32(b - 0x30)
                case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
                default: throw error("a \\u escape is not hex")
                }
                value = value << 4 | digit
                at += 1
            }
            return value
        }

        /// A string (at its opening quote), as UTF-8 bytes.
        mutating func string() throws(ParseError) -> [UInt8] {
            at += 1
            var out: [UInt8] = []
            var rawStart = at
            while true {
                guard at < bytes.count else { throw error("a string is not closed") }
                let b = bytes[at]
                if b == UInt8(ascii: "\"") {
                    out += bytes[rawStart..<at]
                    at += 1
                    break
                }
                if b < 0x20 { throw error("a control character in a string") }
                if b != UInt8(ascii: "\\") {
                    at += 1
                    continue
                }
                out += bytes[rawStart..<at]
                at += 1
                guard at < bytes.count else { throw error("an escape is cut short") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - at >= 6, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw error("an escaped surrogate is not half of a pair")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("an escaped surrogate is not half of a pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("an escaped surrogate is not half of a pair")
                    }
                    out += Array(String(Character(Unicode.Scalar(scalar)!)).utf8)
                default: throw error("an unknown escape")
                }
                rawStart = at
            }
            guard String(validating: out, as: UTF8.self) != nil else { throw error("a string is not UTF-8") }
            return out
        }
    }
}
