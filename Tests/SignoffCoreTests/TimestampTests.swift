import Foundation
@testable import SignoffAudit
@testable import SignoffCore
import SignoffTestSupport
import Testing

/// The hand-written RFC 3339 formatter and parser, checked against Foundation's ISO8601DateFormatter.
@Suite("Timestamps")
struct TimestampTests {
    static func foundation(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    @Test("Formatting equals Foundation's, and parsing gives the milliseconds back, for 20,000 random instants 1970–2100 and the edges")
    func randomInstants() {
        var random = SplitMix64(seed: 3339)
        var instants: [Int64] = [0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000 /* 2000-02-29 */, 4_107_542_399_999, 1_796_029_200_000]
        for _ in 0..<20_000 { instants.append(Int64(random.next() % 4_102_444_800_000)) }
        for ms in instants {
            let text = Timestamps.rfc3339(ms)
            #expect(text == Self.foundation(ms), "\(ms)")
            #expect(Timestamps.milliseconds(rfc3339: text) == ms, "\(text)")
        }
    }

    @Test("Extreme times do not trap: they show at the edge of years 0000–9999")
    func extremes() {
        #expect(Timestamps.rfc3339(.min) == "0000-01-01T00:00:00.000Z")
        #expect(Timestamps.rfc3339(.max) == "9999-12-31T23:59:59.999Z")
    }

    @Test("Offsets, lowercase letters and fractions of any length are read as RFC 3339 says")
    func parsing() {
        let base = Timestamps.milliseconds(rfc3339: "2026-11-30T09:00:00Z")
        #expect(base == 1_796_029_200_000)
        #expect(Timestamps.milliseconds(rfc3339: "2026-11-30T10:00:00+01:00") == base)
        #expect(Timestamps.milliseconds(rfc3339: "2026-11-30T04:30:00-04:30") == base)
        #expect(Timestamps.milliseconds(rfc3339: "2026-11-30t09:00:00z") == base)
        #expect(Timestamps.milliseconds(rfc3339: "2026-11-30T09:00:00.5Z") == base! + 500)
        #expect(Timestamps.milliseconds(rfc3339: "2026-11-30T09:00:00.123456789Z") == base! + 123)
        #expect(Timestamps.milliseconds(rfc3339: "2024-02-29T00:00:00Z") != nil)
    }

    @Test("Malformed or impossible timestamps are refused", arguments: [
        "", "2026-11-30", "2026-11-30T09:00:00", "2026-11-30 09:00:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T09:60:00Z", "2026-11-30T09:00:61Z", "2026-11-30T09:00:00.Z",
        "2026-11-30T09:00:00+0100", "2026-11-30T09:00:00Z ", "２026-11-30T09:00:00Z", "2026-11-30T09:00:00+24:00", "+2026-11-30T09:00:00Z",
    ])
    func refused(_ text: String) {
        #expect(Timestamps.milliseconds(rfc3339: text) == nil)
    }
}

/// The export's hand-written JSON lines, checked against Foundation's JSON reader.
@Suite("Export JSON lines")
struct JSONLineTests {
    @Test("Every string, with quotes, backslashes, control characters, slashes and non-ASCII, reads back as written")
    func strings() throws {
        var random = SplitMix64(seed: 8259)
        let alphabet = Array("ab\"\\/\n\r\t\u{0}\u{1}\u{1F}\u{7F}é🙂 {}[],:".unicodeScalars)
        for _ in 0..<2000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(random.next() % 24) { text.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            let value = String(text)
            var line = JSONLine()
            line.field("a", string: value)
            line.field("b", number: random.next())
            line.field("c", strings: [value, "x"])
            let bytes = line.finish()
            #expect(bytes.last == 0x0A && !bytes.dropLast().contains(0x0A), "one line")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes.dropLast())) as? [String: Any])
            #expect(object["a"] as? String == value)
            #expect(object["c"] as? [String] == [value, "x"])
        }
    }
}
