/// Refuses JSON that different parsers would read differently: an object with the same key twice (Swift's decoder keeps
/// the first, Python's and Go's the last, so a signed statement `{"request":"REQ-4","request":"REQ-1"}` means two
/// things). Keys are compared after unescaping, so `"a"` and `"\u0061"` are the same key. A scanner, not a parser:
/// malformed JSON is left for the decoder to refuse.
public enum StrictJSON {
    /// The first key that appears twice in one object, or nil.
    public static func duplicateKey(in bytes: some Collection<UInt8>) -> String? {
        var scanner = Scanner(bytes: Array(bytes))
        return scanner.run()
    }

    /// What one pass of the scanner sees of a document shaped like a statement: the first key twice in one object, the
    /// keys of the top-level object (nil when the top level is not an object), the keys of its `member` object (nil
    /// when there is none or it is not an object), and the raw text of `field`'s value in that object (`1`, `1.0`,
    /// `"1"`, `true`…; nil when absent). Keys are unescaped. Like ``duplicateKey(in:)``, a scanner: malformed JSON is
    /// left for the decoder to refuse.
    public struct Shape: Sendable, Equatable {
        public var duplicateKey: String?
        public var topLevelKeys: [String]?
        public var memberKeys: [String]?
        public var fieldToken: String?
    }

    /// One pass over `bytes`: ``Shape`` of its top-level object, its `member` object and that object's `field`.
    public static func shape(of bytes: some Collection<UInt8>, member: String, field: String) -> Shape {
        var scanner = Scanner(bytes: Array(bytes))
        scanner.watch = (Array(member.utf8), Array(field.utf8))
        var shape = Shape()
        shape.duplicateKey = scanner.run()
        shape.topLevelKeys = scanner.topLevelKeys?.map { String(decoding: $0, as: UTF8.self) }
        shape.memberKeys = scanner.memberKeys?.map { String(decoding: $0, as: UTF8.self) }
        shape.fieldToken = scanner.fieldToken.map { String(decoding: $0, as: UTF8.self) }
        return shape
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        /// For each open container: the keys seen so far if it is an object, nil if it is an array.
        var stack: [Set<[UInt8]>?] = []
        /// Whether the next string in the innermost object is a key.
        var expectingKey: [Bool] = []
        /// For ``StrictJSON/shape(of:member:field:)``: the member and field to watch, the last key read in each open
        /// container, which container is the top-level object (depth 1) and which the member's, and what was seen.
        var watch: (member: [UInt8], field: [UInt8])?
        var lastKey: [[UInt8]?] = []
        var memberDepth: Int?
        var topLevelKeys: [[UInt8]]?
        var memberKeys: [[UInt8]]?
        var fieldToken: [UInt8]?

        init(bytes: [UInt8]) { self.bytes = bytes }

        /// A container opens: remembers whether it is the top-level object or the watched member's.
        mutating func open(object: Bool) {
            guard let watch else { return }
            if object && stack.count == 1 && topLevelKeys == nil && lastKey.isEmpty { topLevelKeys = [] }
            if object, stack.count == 2, memberDepth == nil, topLevelKeys != nil, lastKey.last == watch.member, expectingKey.count >= 2,
                expectingKey[expectingKey.count - 2] == false
            {
                memberDepth = 2
                memberKeys = []
            }
            lastKey.append(nil)
        }

        /// A key was read in the innermost object.
        mutating func sawKey(_ key: [UInt8]) {
            guard watch != nil, !lastKey.isEmpty else { return }
            lastKey[lastKey.count - 1] = key
            if stack.count == 1, topLevelKeys != nil { topLevelKeys!.append(key) }
            if stack.count == 2, memberDepth == 2, memberKeys != nil { memberKeys!.append(key) }
        }

        /// A value starts at `index` in the innermost object: the watched field's raw text is kept.
        mutating func sawValue(at start: Int) {
            guard let watch, stack.count == 2, memberDepth == 2, lastKey.last == watch.field, expectingKey.last == false else { return }
            var end = start
            var depth = 0
            var inString = false
            while end < bytes.count {
                let byte = bytes[end]
                if inString {
                    if byte == UInt8(ascii: "\\") { end += 2; continue }
                    if byte == UInt8(ascii: "\"") { inString = false }
                } else if byte == UInt8(ascii: "\"") {
                    inString = true
                } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                    depth += 1
                } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    if depth == 0 { break }
                    depth -= 1
                } else if byte == UInt8(ascii: ","), depth == 0 {
                    break
                }
                end += 1
            }
            var token = Array(bytes[start..<min(end, bytes.count)])
            while let last = token.last, [0x20, 0x09, 0x0A, 0x0D].contains(last) { token.removeLast() }
            fieldToken = token
        }

        mutating func run() -> String? {
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "{"):
                    valueStarts()
                    stack.append([])
                    expectingKey.append(true)
                    open(object: true)
                    index += 1
                case UInt8(ascii: "["):
                    valueStarts()
                    stack.append(nil)
                    expectingKey.append(false)
                    open(object: false)
                    index += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if !stack.isEmpty {
                        if stack.count == 2, memberDepth == 2 { memberDepth = -1 }  // the member object closed
                        stack.removeLast()
                        expectingKey.removeLast()
                        if watch != nil, !lastKey.isEmpty { lastKey.removeLast() }
                    }
                    index += 1
                case UInt8(ascii: ","):
                    if let last = stack.last, last != nil { expectingKey[expectingKey.count - 1] = true }
                    index += 1
                case UInt8(ascii: ":"):
                    if !expectingKey.isEmpty { expectingKey[expectingKey.count - 1] = false }
                    index += 1
                case UInt8(ascii: "\""):
                    let isKey = stack.last.map { $0 != nil } == true && expectingKey.last == true
                    if !isKey { valueStarts() }
                    guard let string = readString() else { return nil }
                    if let top = stack.last, var keys = top, expectingKey.last == true {
                        if keys.contains(string) { return String(decoding: string, as: UTF8.self) }
                        keys.insert(string)
                        stack[stack.count - 1] = keys
                        expectingKey[expectingKey.count - 1] = false
                        sawKey(string)
                    }
                case 0x20, 0x09, 0x0A, 0x0D:
                    index += 1
                default:
                    valueStarts()
                    index += 1
                }
            }
            return nil
        }

        /// A value (string, number, literal, container) begins at `index`: within the watched object, after a colon.
        mutating func valueStarts() {
            guard watch != nil, fieldToken == nil, let top = stack.last, top != nil, expectingKey.last == false else { return }
            sawValue(at: index)
        }

        /// The unescaped bytes of the string starting at `index` (an opening quote); nil when it does not end.
        mutating func readString() -> [UInt8]? {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return out
                }
                if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                    let escaped = bytes[index + 1]
                    switch escaped {
                    case UInt8(ascii: "u"):
                        guard index + 6 <= bytes.count, let unit = UInt16(String(decoding: bytes[index + 2..<index + 6], as: UTF8.self), radix: 16) else {
                            return nil
                        }
                        index += 6
                        var scalar = UInt32(unit)
                        // A surrogate pair is one character.
                        if (0xD800..<0xDC00).contains(unit), index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                            let low = UInt16(String(decoding: bytes[index + 2..<index + 6], as: UTF8.self), radix: 16), (0xDC00..<0xE000).contains(low)
                        {
                            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                            index += 6
                        }
                        out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                        continue
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    default: out.append(escaped)
                    }
                    index += 2
                    continue
                }
                out.append(byte)
                index += 1
            }
            return nil
        }
    }
}
