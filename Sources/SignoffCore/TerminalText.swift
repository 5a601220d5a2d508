internal import Foundation

/// Recorded free text (comments, reasons, notes, details that quote them, and text an audit export's verifier quotes
/// from the folder) as one line of a terminal report: a line break shows as `⏎`, a tab as a space, and any other
/// control or invisible format character as U+FFFD — so that no recorded or received text can print a line that looks
/// like Signoff's own (a forged "[x] approvals: …", or an "OK:") or move the terminal's cursor.
public func oneLine(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out.append(contentsOf: " ⏎ ".unicodeScalars)
        case "\r": continue
        case "\t": out.append(" ")
        default:
            let category = scalar.properties.generalCategory
            if category == .control || category == .format || category == .lineSeparator || category == .paragraphSeparator {
                out.append("\u{FFFD}")
            } else {
                out.append(scalar)
            }
        }
    }
    return String(out)
}

/// A field of the CSV files Signoff writes (audit exports' `decisions.csv` and `administration.csv`, access reviews):
/// text that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is
/// prefixed with `'`; a field holding `,`, `;`, a tab, `"` or a line break is quoted, its `"` doubled
/// (`schema/audit-export.md`, "CSV").
public enum CSVText {
    public static func field(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { text = "'" + text }
        if text.unicodeScalars.contains(where: { $0 == "," || $0 == ";" || $0 == "\t" || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            text = "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return text
    }

    /// One row: fields joined by commas, ending with CRLF.
    public static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }

    /// How many records (rows, the header among them) a CSV file as written by ``row(_:)`` holds: its line breaks outside
    /// quoted fields — a comment's own line breaks, inside its quotes, do not end a record. A last record without its
    /// line break counts too.
    public static func records(in bytes: some Sequence<UInt8>) -> Int {
        var records = 0, quoted = false, open = false
        for byte in bytes {
            switch byte {
            // A doubled quote inside a quoted field turns it off and on again: the field stays quoted.
            case UInt8(ascii: "\""): quoted.toggle(); open = true
            case UInt8(ascii: "\n") where !quoted: records += 1; open = false
            default: open = true
            }
        }
        return records + (open ? 1 : 0)
    }
}
