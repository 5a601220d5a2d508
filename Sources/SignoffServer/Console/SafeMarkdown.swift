import Foundation

/// Markdown for evidence documents, rendered so that nothing in it is markup of ours: every character is escaped first,
/// then a few constructs become elements — headings (from h3 down, under the page's own), paragraphs, bullet lists,
/// fenced code, inline code, bold and italics. Raw HTML stays text; a link shows its label and address as text and is
/// never an anchor (no `javascript:`, no phishing through a model card).
enum SafeMarkdown {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func render(_ text: String) -> String {
        var html = ""
        var paragraph: [String] = []
        var list: [String] = []
        var code: [String]?
        func flush() {
            if !paragraph.isEmpty { html += "<p>" + paragraph.map(inline).joined(separator: " ") + "</p>\n" }
            if !list.isEmpty { html += "<ul>" + list.map { "<li>" + inline($0) + "</li>" }.joined() + "</ul>\n" }
            paragraph = []
            list = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let lines = code {
                    html += "<pre class=\"text\"><code>" + escape(lines.joined(separator: "\n")) + "</code></pre>\n"
                    code = nil
                } else {
                    flush()
                    code = []
                }
                continue
            }
            if code != nil {
                code!.append(line)
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                flush()
            } else if let level = trimmed.firstIndex(where: { $0 != "#" }).map({ trimmed.distance(from: trimmed.startIndex, to: $0) }), level >= 1, level <= 6,
                trimmed.dropFirst(level).hasPrefix(" ")
            {
                flush()
                let tag = "h\(min(6, level + 2))"
                html += "<\(tag)>" + inline(String(trimmed.dropFirst(level + 1))) + "</\(tag)>\n"
            } else if trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") {
                if !paragraph.isEmpty { flush() }
                list.append(String(trimmed.dropFirst(2)))
            } else {
                if !list.isEmpty { flush() }
                paragraph.append(trimmed)
            }
        }
        if let lines = code { html += "<pre class=\"text\"><code>" + escape(lines.joined(separator: "\n")) + "</code></pre>\n" }
        flush()
        return html
    }

    /// Inline code, bold and italics over escaped text; links become "label (address)" as text.
    static func inline(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let tick = rest.firstIndex(of: "`"), let end = rest[rest.index(after: tick)...].firstIndex(of: "`") {
            out += emphasis(escape(unlink(String(rest[..<tick]))))
            out += "<code>" + escape(String(rest[rest.index(after: tick)..<end])) + "</code>"
            rest = rest[rest.index(after: end)...]
        }
        return out + emphasis(escape(unlink(String(rest))))
    }

    /// `[label](address)` → `label (address)`, as text.
    static func unlink(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]"), rest.index(after: close) < rest.endIndex,
            rest[rest.index(after: close)] == "(", let end = rest[close...].firstIndex(of: ")")
        {
            out += rest[..<open]
            out += rest[rest.index(after: open)..<close] + " (" + rest[rest.index(close, offsetBy: 2)..<end] + ")"
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    /// `**bold**` and `*italics*` (on already escaped text: the markers are plain asterisks).
    static func emphasis(_ text: String) -> String {
        func wrap(_ text: String, _ marker: String, _ tag: String) -> String {
            let parts = text.components(separatedBy: marker)
            guard parts.count >= 3 else { return text }
            var out = parts[0]
            var index = 1
            while index + 1 < parts.count {
                out += "<\(tag)>" + parts[index] + "</\(tag)>" + parts[index + 1]
                index += 2
            }
            if index < parts.count { out += marker + parts[index] }
            return out
        }
        return wrap(wrap(text, "**", "strong"), "*", "em")
    }
}
