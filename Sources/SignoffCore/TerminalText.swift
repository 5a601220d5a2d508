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
