import Foundation
import SignoffCrypto
import Testing

/// ``CanonicalJSON`` must write Foundation's bytes (`[.sortedKeys, .withoutEscapingSlashes]`) for every value: ledgers
/// written before it (and verifiers written from the spec) hold those bytes.
@Suite("Canonical JSON")
struct CanonicalJSONTests {
    func same(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = try CanonicalJSON.encode(value)
        let foundation = try CanonicalJSON.foundationEncode(value)
        #expect(ours == foundation, "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: foundation, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    /// Every character below 0x80 and some that are not, as values and as keys.
    static let hostile: [String] = {
        var all = ""
        for byte in 0..<0x80 { all.unicodeScalars.append(Unicode.Scalar(UInt8(byte))) }
        return [
            all, "", "\"", "\\", "/", "</script>", "e\u{301}x", "é", "\u{FB01}", "\u{212B}a", "\u{2028}\u{2029}", "\u{FEFF}", "😀", "a10", "a9", "B", "a",
            "\u{7F}", "\u{0}", "line\nbreak\r\ttab", "\u{1B}[31mred",
        ]
    }()

    @Test("Hostile text as values and as keys, in byte order of keys")
    func hostileText() throws {
        for text in Self.hostile { try same([text]) }
        try same(Dictionary(uniqueKeysWithValues: Self.hostile.enumerated().map { ($1, $0) }))
        try same(Dictionary(uniqueKeysWithValues: Self.hostile.enumerated().map { ($1, [$1: [$0]]) }))
    }

    struct Nested: Codable {
        var name = "x"
        var count = -7
        var big = Int64.min
        var huge = UInt64.max
        var small: Int8 = -128
        var flag = true
        var absent: String? = nil
        var present: Int? = 3
        var list: [Int] = [1, 2, 3]
        var empty: [String] = []
        var map: [String: [String]] = ["b": ["x"], "a": []]
        var byNumber: [Int: String] = [10: "ten", 9: "nine", -1: "minus"]
        var inner: Inner? = Inner()
        var innerList: [Inner] = [Inner(), Inner(value: nil)]
        struct Inner: Codable, Hashable { var value: String? = "v" }
        enum CodingKeys: String, CodingKey {
            case name, count, big, huge, small, flag, absent, present, list, empty, map, inner
            case byNumber = "by_number"
            case innerList = "inner_list"
        }
    }

    /// A value that writes its own containers: nested keyed and unkeyed containers, nil written explicitly, a key twice.
    struct Handwritten: Encodable {
        enum Key: String, CodingKey { case a, b, c, z }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode("first", forKey: .z)
            try c.encode("second", forKey: .z)
            try c.encodeNil(forKey: .a)
            var list = c.nestedUnkeyedContainer(forKey: .b)
            try list.encode(1)
            try list.encodeNil()
            var inner = list.nestedContainer(keyedBy: Key.self)
            try inner.encode(true, forKey: .c)
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encode("d")
            var object = c.nestedContainer(keyedBy: Key.self, forKey: .c)
            try object.encode(UInt8(255), forKey: .a)
        }
    }

    struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }
    struct Single: Encodable {
        let value: String
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(value)
        }
    }
    /// Types Foundation writes its own way: left to Foundation, whole.
    struct Foundationish: Encodable {
        var data = Data([0, 1, 2, 250])
        var date = Date(timeIntervalSince1970: 1_700_000_000.25)
        var url = URL(string: "https://example.com/a b")
        var double = 0.1
        var float: Float = 1.5
        var decimal = Decimal(string: "1.10")!
    }
    class Base: Encodable {
        var base = "b"
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(base, forKey: .base)
        }
        enum Key: String, CodingKey { case base, sub }
    }
    final class Sub: Base, @unchecked Sendable {
        override func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode("s", forKey: .sub)
            try super.encode(to: c.superEncoder())
        }
    }

    @Test("Structs, optionals, integers at their limits, nested and handwritten containers, empty values")
    func shapes() throws {
        try same(Nested())
        try same([Nested(), Nested(absent: "here", present: nil, inner: nil)])
        try same(Handwritten())
        // Nothing at the top level is Foundation's error; nested, an empty object.
        #expect(throws: EncodingError.self) { try CanonicalJSON.encode(Nothing()) }
        #expect(throws: EncodingError.self) { try CanonicalJSON.foundationEncode(Nothing()) }
        try same([Nothing()])
        try same(Single(value: "one\n"))
        try same([Int?.none, 1])
        try same(["k": Int?.none])
        try same(true)
        try same("top-level string")
        try same(Int.max)
    }

    @Test("Whole numbers around every power of ten and at the limits of each width, in decimal as Foundation writes them")
    func integers() throws {
        var values: [Int64] = [0, 1, -1, 9, -9, Int64.min, Int64.max, Int64.min + 1]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            values += [power - 1, power, power + 1, -power + 1, -power, -power - 1]
        }
        try same(values)
        try same(["k": values])
        try same([UInt64.max, UInt64.max - 1, 10_000_000_000_000_000_000, 9_999_999_999_999_999_999])
        try same([Int8.min, Int8.max])
        try same([UInt8.max, 0])
        try same([Int32.min, Int32.max])
    }

    /// Keys whose UTF-8 bytes order them otherwise than Swift's `<` does, prefixes of one another, and the empty key.
    @Test("Keys in the order of their UTF-8 bytes: prefixes, the empty key, characters outside ASCII")
    func keyOrder() throws {
        let keys = ["", "a", "ab", "a\u{0}", "B", "b", "é", "\u{FB01}", "😀", "\u{FFFF}", "z", "Z", "aa", "a b", "\u{7F}"]
        try same(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) }))
    }

    @Test("Data, Date, URL, floating-point numbers, Decimal and super encoders: Foundation's bytes, whole")
    func foundationTypes() throws {
        try same(Foundationish())
        try same(["nested": [Foundationish()]])
        try same(Sub())
        try same([0.1, 2.0, -0.0, 1e300])
    }

    /// A random JSON-shaped value: strings from the hostile set, numbers, booleans, nulls, arrays and objects.
    indirect enum Random: Encodable {
        case string(String), number(Int64), bool(Bool), null, array([Random]), object([String: Random])

        static func make(depth: Int, _ rng: inout some RandomNumberGenerator) -> Random {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
            case 0: return .string(hostile.randomElement(using: &rng)! + String(Int.random(in: 0..<100, using: &rng)))
            case 1: return .number(Int64.random(in: .min ... .max, using: &rng))
            case 2: return .bool(Bool.random(using: &rng))
            case 3: return .null
            case 4: return .array((0..<Int.random(in: 0..<5, using: &rng)).map { _ in make(depth: depth + 1, &rng) })
            default:
                var object: [String: Random] = [:]
                for _ in 0..<Int.random(in: 0..<6, using: &rng) { object[hostile.randomElement(using: &rng)!] = make(depth: depth + 1, &rng) }
                return .object(object)
            }
        }

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .string(let s):
                var c = encoder.singleValueContainer()
                try c.encode(s)
            case .number(let n):
                var c = encoder.singleValueContainer()
                try c.encode(n)
            case .bool(let b):
                var c = encoder.singleValueContainer()
                try c.encode(b)
            case .null:
                var c = encoder.singleValueContainer()
                try c.encodeNil()
            case .array(let items): try items.encode(to: encoder)
            case .object(let object): try object.encode(to: encoder)
            }
        }
    }

    @Test("Two thousand random values, the same bytes")
    func random() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 { try same(Random.make(depth: 0, &rng)) }
    }
}
