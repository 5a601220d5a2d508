internal import Foundation

/// Canonical JSON as Signoff writes ledger payloads and projection documents (`Event.payload`, `document(for:)`): the bytes
/// Foundation's `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]` (keys in UTF-8 byte order, no
/// whitespace, `"` `\` and control characters escaped, `/` and all other characters as they are, whole numbers in
/// decimal, absent optionals left out), written by a lean encoder several times faster: the writer encodes every event
/// and every document it touches while it holds the write lock.
///
/// Values of the types Foundation writes in a way of its own (`Data`, `Date`, `URL`, `Decimal`, floating-point numbers,
/// a `superEncoder`) are handed to Foundation's encoder whole, so the bytes are the same in every case; the tests
/// compare both encoders on every event and document of the engine's test worlds and on hostile text.
public enum CanonicalJSON {
    /// The canonical JSON of `value`.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        // The types that write themselves (``CanonicalJSONWritable``): the request documents and decision events.
        if let writable = value as? any CanonicalJSONWritable { return encode(writable: writable) }
        do {
            let context = Context()
            let node = try Node.of(value, codingPath: [], context: context, topLevel: true)
            // A top-level value that encodes nothing is an error Foundation's encoder names.
            if context.unsupported || context.topLevelEmpty { throw Unsupported() }
            var out: [UInt8] = []
            out.reserveCapacity(256)
            node.write(to: &out)
            return out
        } catch is Unsupported {
            return try foundationEncode(value)
        }
    }

    /// The same bytes by Foundation's `JSONEncoder` (`[.sortedKeys, .withoutEscapingSlashes]`): the reference the tests
    /// hold ``encode(_:)`` to, and its fallback.
    public static func foundationEncode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(value))
    }

    /// A type this encoder leaves to Foundation.
    struct Unsupported: Error {}

    /// Shared by one encoding: set when something asked for what only Foundation's encoder writes (a `superEncoder`,
    /// which cannot throw), so that the whole value goes to Foundation.
    final class Context {
        var unsupported = false
        var topLevelEmpty = false
    }

    // MARK: The tree

    /// An encoded value; containers are reference boxes, so that nested containers can be filled after they are made.
    enum Node {
        case null
        case bool(Bool)
        case int(Int64)
        case uint(UInt64)
        case string(String)
        case array(ArrayBox)
        case object(ObjectBox)

        static func of<T: Encodable>(_ value: T, codingPath: [any CodingKey], context: Context, topLevel: Bool = false) throws -> Node {
            // Type identity, not casts: comparing metadata is cheap, a dynamic cast is not.
            if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
            if T.self == Int.self { return .int(Int64(unsafeBitCast(value, to: Int.self))) }
            if T.self == Int64.self { return .int(unsafeBitCast(value, to: Int64.self)) }
            if T.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
            // Foundation writes these its own way (floating-point numbers reach the containers, which refuse them).
            if T.self == Data.self || T.self == Date.self || T.self == URL.self || T.self == Decimal.self { throw Unsupported() }
            let encoder = Encoder(codingPath: codingPath, context: context)
            try value.encode(to: encoder)
            // A value that encodes nothing is an empty object, as Foundation writes it (at the top level, an error).
            if encoder.node == nil && topLevel { context.topLevelEmpty = true }
            return encoder.node ?? .object(ObjectBox())
        }

        func write(to out: inout [UInt8]) {
            switch self {
            case .null: out.append(contentsOf: "null".utf8)
            case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
            case .int(let value): CanonicalJSON.writeInteger(value, to: &out)
            case .uint(let value): CanonicalJSON.writeInteger(value, to: &out)
            case .string(let string): CanonicalJSON.write(string, to: &out)
            case .array(let box):
                out.append(UInt8(ascii: "["))
                for (index, item) in box.items.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    item.write(to: &out)
                }
                out.append(UInt8(ascii: "]"))
            case .object(let box):
                out.append(UInt8(ascii: "{"))
                // Keys in UTF-8 byte order; a key written twice keeps its last value (as a dictionary would).
                let order = box.items.indices.sorted { a, b in
                    let (x, y) = (box.items[a].key, box.items[b].key)
                    return x == y ? a < b : CanonicalJSON.keyPrecedes(x, y)
                }
                var first = true
                for (position, index) in order.enumerated() {
                    if position + 1 < order.count, box.items[order[position + 1]].key == box.items[index].key { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    CanonicalJSON.write(box.items[index].key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    box.items[index].node.write(to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    final class ArrayBox { var items: [Node] = [] }
    final class ObjectBox { var items: [(key: String, node: Node)] = [] }

    static let hex = Array("0123456789abcdef".utf8)

    /// The order of an object's keys: their UTF-8 bytes, compared one by one (as Foundation's `.sortedKeys` writes them).
    @inlinable static func keyPrecedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// A JSON string: `"` and `\` escaped, control characters as `\b \t \n \f \r` or `\u00xx`, everything else as is.
    @usableFromInline static func write(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
                case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
                case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                default: out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    static func integer(_ value: some BinaryInteger) -> Node { value < 0 ? .int(Int64(value)) : .uint(UInt64(value)) }

    // MARK: The encoder

    final class Encoder: Swift.Encoder {
        let codingPath: [any CodingKey]
        let context: Context
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        var node: Node?

        init(codingPath: [any CodingKey], context: Context) {
            self.codingPath = codingPath
            self.context = context
        }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            let box: ObjectBox
            if case .object(let existing) = node { box = existing } else {
                box = ObjectBox()
                node = .object(box)
            }
            return KeyedEncodingContainer(Keyed(box: box, codingPath: codingPath, context: context))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            let box: ArrayBox
            if case .array(let existing) = node { box = existing } else {
                box = ArrayBox()
                node = .array(box)
            }
            return Unkeyed(box: box, codingPath: codingPath, context: context)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: ObjectBox
        let codingPath: [any CodingKey]
        let context: Context

        func set(_ node: Node, _ key: Key) { box.items.append((key.stringValue, node)) }

        mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { throw Unsupported() }
        mutating func encode(_ value: Float, forKey key: Key) throws { throw Unsupported() }
        mutating func encode(_ value: Int, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { set(integer(value), key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            set(try Node.of(value, codingPath: codingPath + [key], context: context), key)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let nested = ObjectBox()
            set(.object(nested), key)
            return KeyedEncodingContainer(Keyed<NestedKey>(box: nested, codingPath: codingPath + [key], context: context))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = ArrayBox()
            set(.array(nested), key)
            return Unkeyed(box: nested, codingPath: codingPath + [key], context: context)
        }

        mutating func superEncoder() -> any Swift.Encoder { unsupported() }
        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder { unsupported() }

        func unsupported() -> any Swift.Encoder {
            context.unsupported = true
            return Encoder(codingPath: codingPath, context: context)
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let box: ArrayBox
        let codingPath: [any CodingKey]
        let context: Context
        var count: Int { box.items.count }

        mutating func encodeNil() throws { box.items.append(.null) }
        mutating func encode(_ value: Bool) throws { box.items.append(.bool(value)) }
        mutating func encode(_ value: String) throws { box.items.append(.string(value)) }
        mutating func encode(_ value: Double) throws { throw Unsupported() }
        mutating func encode(_ value: Float) throws { throw Unsupported() }
        mutating func encode(_ value: Int) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int8) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int16) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int32) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: Int64) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt8) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt16) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt32) throws { box.items.append(integer(value)) }
        mutating func encode(_ value: UInt64) throws { box.items.append(integer(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            box.items.append(try Node.of(value, codingPath: codingPath, context: context))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let nested = ObjectBox()
            box.items.append(.object(nested))
            return KeyedEncodingContainer(Keyed<NestedKey>(box: nested, codingPath: codingPath, context: context))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = ArrayBox()
            box.items.append(.array(nested))
            return Unkeyed(box: nested, codingPath: codingPath, context: context)
        }

        mutating func superEncoder() -> any Swift.Encoder {
            context.unsupported = true
            return Encoder(codingPath: codingPath, context: context)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let encoder: Encoder
        var codingPath: [any CodingKey] { encoder.codingPath }

        func set(_ node: Node) { encoder.node = node }

        mutating func encodeNil() throws { set(.null) }
        mutating func encode(_ value: Bool) throws { set(.bool(value)) }
        mutating func encode(_ value: String) throws { set(.string(value)) }
        mutating func encode(_ value: Double) throws { throw Unsupported() }
        mutating func encode(_ value: Float) throws { throw Unsupported() }
        mutating func encode(_ value: Int) throws { set(integer(value)) }
        mutating func encode(_ value: Int8) throws { set(integer(value)) }
        mutating func encode(_ value: Int16) throws { set(integer(value)) }
        mutating func encode(_ value: Int32) throws { set(integer(value)) }
        mutating func encode(_ value: Int64) throws { set(integer(value)) }
        mutating func encode(_ value: UInt) throws { set(integer(value)) }
        mutating func encode(_ value: UInt8) throws { set(integer(value)) }
        mutating func encode(_ value: UInt16) throws { set(integer(value)) }
        mutating func encode(_ value: UInt32) throws { set(integer(value)) }
        mutating func encode(_ value: UInt64) throws { set(integer(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { set(try Node.of(value, codingPath: codingPath, context: encoder.context)) }
    }
}
