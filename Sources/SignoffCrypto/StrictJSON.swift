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

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        /// For each open container: the keys seen so far if it is an object, nil if it is an array.
        var stack: [Set<[UInt8]>?] = []
        /// Whether the next string in the innermost object is a key.
        var expectingKey: [Bool] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func run() -> String? {
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "{"):
                    stack.append([])
                    expectingKey.append(true)
                    index += 1
                case UInt8(ascii: "["):
                    stack.append(nil)
                    expectingKey.append(false)
                    index += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if !stack.isEmpty {
                        stack.removeLast()
                        expectingKey.removeLast()
                    }
                    index += 1
                case UInt8(ascii: ","):
                    if let last = stack.last, last != nil { expectingKey[expectingKey.count - 1] = true }
                    index += 1
                case UInt8(ascii: ":"):
                    if !expectingKey.isEmpty { expectingKey[expectingKey.count - 1] = false }
                    index += 1
                case UInt8(ascii: "\""):
                    guard let string = readString() else { return nil }
                    if let top = stack.last, var keys = top, expectingKey.last == true {
                        if keys.contains(string) { return String(decoding: string, as: UTF8.self) }
                        keys.insert(string)
                        stack[stack.count - 1] = keys
                        expectingKey[expectingKey.count - 1] = false
                    }
                default:
                    index += 1
                }
            }
            return nil
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
