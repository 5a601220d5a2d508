internal import Foundation

/// RFC 3339 timestamps, formatted and parsed by hand: Foundation's ISO8601DateFormatter builds an ICU formatter on
/// every use, which was a tenth of the engine's time per signed decision.
public enum Timestamps {
    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-30T09:00:00.000Z`.
    /// Times outside years 0000–9999 (which no real entry has, but a crafted one may) are shown at that range's edge.
    public static func rfc3339(_ milliseconds: Int64) -> String {
        let milliseconds = min(max(milliseconds, -62_167_219_200_000), 253_402_300_799_999)
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let inDay = milliseconds - days * 86_400_000
        let (year, month, day) = civil(fromDays: days)
        let fields: [(Int64, Int)] = [
            (year, 4), (month, 2), (day, 2), (inDay / 3_600_000, 2), (inDay / 60_000 % 60, 2), (inDay / 1000 % 60, 2), (inDay % 1000, 3),
        ]
        let separators: [UInt8] = Array("--T::.Z".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        for (index, (value, width)) in fields.enumerated() {
            var digits: [UInt8] = []
            var v = value
            for _ in 0..<width {
                digits.append(UInt8(0x30 + v % 10))
                v /= 10
            }
            out += digits.reversed()
            out.append(separators[index])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Milliseconds since the epoch of an RFC 3339 date-time (`T` or `t`, `Z`, `z` or a `±HH:MM` offset, any number of
    /// fraction digits, of which milliseconds are kept); nil for anything else or an impossible date.
    public static func milliseconds(rfc3339 text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var value: Int64 = 0
            for c in b[from..<from + count] {
                guard c >= 0x30 && c <= 0x39 else { return nil }
                value = value * 10 + Int64(c - 0x30)
            }
            return value
        }
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74, b[13] == 0x3A, b[16] == 0x3A,
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if b[i] == 0x2E {
            i += 1
            let start = i
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                if i - start < 3 { fraction = fraction * 10 + Int64(b[i] - 0x30) }
                i += 1
            }
            guard i > start else { return nil }
            for _ in min(3, i - start)..<3 { fraction *= 10 }
        }
        var offsetMinutes: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 0x5A || b[i] == 0x7A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            guard let h = number(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let m = number(i + 4, 2), h <= 23, m <= 59 else { return nil }
            offsetMinutes = (h * 60 + m) * (b[i] == 0x2D ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = self.days(fromCivil: year, month, day)
        return ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 + second * 1000 + fraction
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day number since 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Timestamps {
    /// Decodes an RFC 3339 time field as milliseconds since the epoch, refusing anything else.
    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Int64 {
        let text = try container.decode(String.self, forKey: key)
        guard let milliseconds = milliseconds(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(text.prefix(40)) is not an RFC 3339 time")
        }
        return milliseconds
    }
}
