/// Test counts from a JUnit XML report (the format of JUnit, pytest `--junitxml`, `swift test --xunit-output`, Maven
/// Surefire, …): every `<testcase>` anywhere under the root `<testsuites>` or `<testsuite>` — suites may nest — counts
/// once, as errored when it holds an `<error>`, else failed with a `<failure>`, else skipped with a `<skipped>`, else
/// passed. The suites' own `tests=` / `failures=` attributes are not trusted: they are what a tool claims, the test
/// cases are what ran. A small reader of just enough XML (elements, attributes, comments, CDATA, processing
/// instructions); a document type declaration is refused (no entity expansion, ever).
public enum JUnitReport {
    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// At most this many bytes: a test report, not an archive.
    public static let maximumBytes = 64 << 20

    /// One test case as a report lists it, for people to read (the counts above decide the status).
    public struct Case: Hashable, Sendable {
        public enum Outcome: String, Sendable { case passed, skipped, failed, errored }
        public let suite: String
        public let classname: String
        public let name: String
        public var outcome: Outcome
        /// The `message` of its failure, error or skip, if any.
        public var message: String
    }

    /// Every test case, in document order (the same reading as ``counts(of:)``).
    public static func cases(of bytes: [UInt8]) throws(Malformed) -> [Case] {
        _ = try counts(of: bytes)  // the same checks first
        var reader = Reader(bytes: bytes)
        var stack: [String] = []
        var suites: [String] = []
        var out: [Case] = []
        var open: Int?
        while let token = try reader.next() {
            switch token {
            case .open(let qualified, let selfClosing, let attributes):
                let name = Self.localName(qualified)
                if name == "testsuite" && !selfClosing { suites.append(attributes["name"] ?? "") }
                if name == "testcase" {
                    out.append(Case(suite: suites.last ?? "", classname: attributes["classname"] ?? "", name: attributes["name"] ?? "", outcome: .passed, message: ""))
                    if !selfClosing { open = out.count - 1 }
                } else if let index = open, stack.last == "testcase" {
                    let outcome: Case.Outcome? = ["skipped": .skipped, "failure": .failed, "error": .errored][name]
                    let rank: [Case.Outcome: Int] = [.passed: 0, .skipped: 1, .failed: 2, .errored: 3]
                    if let outcome, rank[outcome]! > rank[out[index].outcome]! {
                        out[index].outcome = outcome
                        out[index].message = attributes["message"] ?? ""
                    }
                }
                if !selfClosing { stack.append(name) }
            case .close(let qualified):
                let name = Self.localName(qualified)
                stack.removeLast()
                if name == "testcase" { open = nil }
                if name == "testsuite" { suites.removeLast() }
            }
        }
        return out
    }

    /// XML's five entities and numeric character references; anything else is left as written.
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += rest[amp...]
                return out
            }
            let entity = rest[rest.index(after: amp)..<semi]
            let named = ["lt": "<", "gt": ">", "amp": "&", "quot": "\"", "apos": "'"][String(entity)]
            if let named {
                out += named
            } else if entity.hasPrefix("#x"), let value = UInt32(entity.dropFirst(2), radix: 16), let scalar = Unicode.Scalar(value) {
                out.unicodeScalars.append(scalar)
            } else if entity.hasPrefix("#"), let value = UInt32(entity.dropFirst()), let scalar = Unicode.Scalar(value) {
                out.unicodeScalars.append(scalar)
            } else {
                out += rest[amp...semi]
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    public static func counts(of bytes: [UInt8]) throws(Malformed) -> TestCounts {
        guard bytes.count <= maximumBytes else { throw Malformed(description: "the report is larger than \(maximumBytes >> 20) MiB") }
        var reader = Reader(bytes: bytes)
        var stack: [String] = []
        // Per open test case: its worst outcome so far (0 passed, 1 skipped, 2 failed, 3 errored).
        var outcomes: [Int] = []
        var tests = 0, failures = 0, errors = 0, skipped = 0
        var sawRoot = false
        while let token = try reader.next() {
            switch token {
            case .open(let qualified, let selfClosing, _):
                // A namespace prefix does not change what an element is (`<j:failure>` is a failure).
                let name = Self.localName(qualified)
                if stack.isEmpty {
                    guard !sawRoot else { throw Malformed(description: "a second root element <\(name)>") }
                    guard name == "testsuites" || name == "testsuite" else {
                        throw Malformed(description: "not a JUnit report: the root element is <\(name)>, not <testsuites> or <testsuite>")
                    }
                    sawRoot = true
                }
                if name == "testcase" { outcomes.append(0) }
                if !outcomes.isEmpty && stack.last == "testcase" {
                    let severity = ["skipped": 1, "failure": 2, "error": 3][name] ?? 0
                    outcomes[outcomes.count - 1] = max(outcomes[outcomes.count - 1], severity)
                }
                if selfClosing {
                    if name == "testcase" { close(outcomes.removeLast()) }
                } else {
                    stack.append(name)
                }
            case .close(let qualified):
                let name = Self.localName(qualified)
                guard stack.last == name else {
                    throw Malformed(description: "</\(name)> closes \(stack.last.map { "<\($0)>" } ?? "nothing")")
                }
                stack.removeLast()
                if name == "testcase" { close(outcomes.removeLast()) }
            }
        }
        guard sawRoot else { throw Malformed(description: "not a JUnit report: no <testsuites> or <testsuite> element") }
        guard stack.isEmpty else { throw Malformed(description: "the report ends inside <\(stack.last!)>") }
        return TestCounts(tests: tests, failures: failures, errors: errors, skipped: skipped)

        func close(_ outcome: Int) {
            tests += 1
            switch outcome {
            case 1: skipped += 1
            case 2: failures += 1
            case 3: errors += 1
            default: break
            }
        }
    }

    static func localName(_ name: String) -> String { name.split(separator: ":").last.map(String.init) ?? name }

    enum Token {
        case open(String, selfClosing: Bool, attributes: [String: String])
        case close(String)
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            // A UTF-8 byte order mark.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        func fail(_ message: String) -> Malformed { Malformed(description: "\(message) (byte \(index))") }

        func starts(with text: String) -> Bool { bytes[index...].starts(with: text.utf8) }

        mutating func skip(past text: String) throws(Malformed) {
            let pattern = Array(text.utf8)
            while index + pattern.count <= bytes.count {
                if bytes[index..<index + pattern.count].elementsEqual(pattern) {
                    index += pattern.count
                    return
                }
                index += 1
            }
            throw fail("unterminated markup: no \(text)")
        }

        static func isNameByte(_ b: UInt8) -> Bool {
            (0x61...0x7A).contains(b) || (0x41...0x5A).contains(b) || (0x30...0x39).contains(b) || b == 0x5F || b == 0x2D || b == 0x2E || b == 0x3A || b >= 0x80
        }

        static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

        mutating func name() throws(Malformed) -> String {
            let start = index
            while index < bytes.count, Self.isNameByte(bytes[index]) { index += 1 }
            guard index > start else { throw fail("expected an element name") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func skipSpace() { while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 } }

        /// The next element start or end, skipping text, comments, CDATA and processing instructions.
        mutating func next() throws(Malformed) -> Token? {
            while index < bytes.count {
                guard bytes[index] == UInt8(ascii: "<") else {
                    index += 1
                    continue
                }
                if starts(with: "<!--") {
                    try skip(past: "-->")
                } else if starts(with: "<![CDATA[") {
                    try skip(past: "]]>")
                } else if starts(with: "<?") {
                    try skip(past: "?>")
                } else if starts(with: "<!") {
                    throw fail("a document type declaration or entity is not accepted in a test report")
                } else if starts(with: "</") {
                    index += 2
                    let name = try name()
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { throw fail("expected > after </\(name)") }
                    index += 1
                    return .close(name)
                } else {
                    index += 1
                    let name = try name()
                    // Attributes: name = "value" or 'value'.
                    var attributes: [String: String] = [:]
                    while true {
                        skipSpace()
                        guard index < bytes.count else { throw fail("the report ends inside <\(name)>") }
                        if bytes[index] == UInt8(ascii: ">") {
                            index += 1
                            return .open(name, selfClosing: false, attributes: attributes)
                        }
                        if starts(with: "/>") {
                            index += 2
                            return .open(name, selfClosing: true, attributes: attributes)
                        }
                        let attribute = try self.name()
                        skipSpace()
                        guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw fail("expected = after an attribute of <\(name)>") }
                        index += 1
                        skipSpace()
                        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                            throw fail("an attribute value of <\(name)> must be quoted")
                        }
                        let quote = bytes[index]
                        index += 1
                        let start = index
                        while index < bytes.count, bytes[index] != quote {
                            guard bytes[index] != UInt8(ascii: "<") else { throw fail("< inside an attribute value of <\(name)>") }
                            index += 1
                        }
                        guard index < bytes.count else { throw fail("unterminated attribute value in <\(name)>") }
                        attributes[JUnitReport.localName(attribute)] = JUnitReport.decodeEntities(String(decoding: bytes[start..<index], as: UTF8.self))
                        index += 1
                    }
                }
            }
            return nil
        }
    }
}
