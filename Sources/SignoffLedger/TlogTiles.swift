public import SignoffCrypto

/// C2SP `tlog-tiles` paths and shapes, without I/O: a Merkle tile `tile/<L>/<N>[.p/<W>]` holds the hashes of up to
/// 256 consecutive complete subtrees of `256^L` leaves (level 0: the leaf hashes); an entry bundle
/// `tile/entries/<N>[.p/<W>]` holds up to 256 consecutive entries, each a big-endian u16 length and its bytes. `N` is
/// written in 3-digit path elements, all but the last prefixed with `x` (1234067 → `x001/x234/067`); `.p/<W>` marks a
/// partial tile of width 1 to 255.
public enum TlogTiles {
    /// Hashes (or entries) in a full tile.
    public static let width = 256

    /// A tile or an entry bundle, as a path names it.
    public struct Tile: Hashable, Sendable {
        /// The Merkle level, nil for an entry bundle.
        public let level: Int?
        public let index: UInt64
        /// How many hashes or entries: 256, or 1–255 for a partial tile.
        public let width: Int

        public init(level: Int?, index: UInt64, width: Int = TlogTiles.width) {
            self.level = level
            self.index = index
            self.width = width
        }

        /// Leaves a hash of this tile covers: `256^level` (1 for entries).
        public var leavesPerHash: UInt64? {
            var n: UInt64 = 1
            for _ in 0..<(level ?? 0) {
                let (next, overflow) = n.multipliedReportingOverflow(by: 256)
                guard !overflow else { return nil }
                n = next
            }
            return n
        }

        /// The first hash's subtree index at tree level `8 × level` (the entry's sequence for a bundle).
        public var firstNode: UInt64? {
            let (first, overflow) = index.multipliedReportingOverflow(by: UInt64(TlogTiles.width))
            return overflow ? nil : first
        }

        /// The tree size this tile needs: its last hash's subtree complete (nil on overflow).
        public var requiredSize: UInt64? {
            guard let per = leavesPerHash, let first = firstNode else { return nil }
            let (end, o1) = first.addingReportingOverflow(UInt64(width))
            let (size, o2) = end.multipliedReportingOverflow(by: per)
            return o1 || o2 ? nil : size
        }

        /// The path under the log's prefix: `tile/0/x001/067` or `tile/entries/067.p/5`.
        public var path: String {
            "tile/" + (level.map(String.init) ?? "entries") + "/" + TlogTiles.encode(index) + (width == TlogTiles.width ? "" : ".p/\(width)")
        }
    }

    /// `N` as path elements: `x001/x234/067`.
    public static func encode(_ index: UInt64) -> String {
        var groups: [String] = []
        var n = index
        repeat {
            let group = String(n % 1000)
            groups.insert(String(repeating: "0", count: 3 - group.count) + group, at: 0)
            n /= 1000
        } while n > 0
        return groups.enumerated().map { $0.offset == groups.count - 1 ? $0.element : "x" + $0.element }.joined(separator: "/")
    }

    /// Reads the path after `tile/` (its elements): nil for anything the spec does not write this way — leading zeroes
    /// in a level or width, a width of 0 or 256, a level above 63, an index element that is not 3 digits.
    public static func parse(_ elements: [Substring]) -> Tile? {
        guard elements.count >= 2 else { return nil }
        let level: Int?
        if elements[0] == "entries" {
            level = nil
        } else {
            guard let l = decimal(elements[0]), l <= 63 else { return nil }
            level = Int(l)
        }
        var rest = Array(elements.dropFirst())
        var width = TlogTiles.width
        if rest.count >= 2, rest[rest.count - 2].hasSuffix(".p") {
            guard let w = decimal(rest[rest.count - 1]), (1...255).contains(w) else { return nil }
            width = Int(w)
            rest[rest.count - 2] = rest[rest.count - 2].dropLast(2)
            rest.removeLast()
        }
        var index: UInt64 = 0
        for (position, element) in rest.enumerated() {
            var digits = element
            if position < rest.count - 1 {
                guard digits.hasPrefix("x") else { return nil }
                digits = digits.dropFirst()
            }
            guard digits.utf8.count == 3, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let group = UInt64(digits) else { return nil }
            let (scaled, o1) = index.multipliedReportingOverflow(by: 1000)
            let (sum, o2) = scaled.addingReportingOverflow(group)
            guard !o1, !o2 else { return nil }
            index = sum
        }
        // One way to write each index: no leading "x000" element.
        guard rest.count == 1 || rest[0] != "x000" else { return nil }
        return Tile(level: level, index: index, width: width)
    }

    /// A decimal without leading zeroes.
    static func decimal(_ text: Substring) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), text == "0" || !text.hasPrefix("0") else { return nil }
        return UInt64(text)
    }

    /// The tiles a tree of `size` leaves is served as at `level`: its full tiles, then a partial one when
    /// `floor(size / 256^level) mod 256` is not 0.
    public static func tiles(level: Int?, size: UInt64) -> [Tile] {
        guard let per = Tile(level: level, index: 0).leavesPerHash else { return [] }
        let hashes = size / per
        var out = (0..<(hashes / UInt64(width))).map { Tile(level: level, index: $0) }
        let partial = Int(hashes % UInt64(width))
        if partial > 0 { out.append(Tile(level: level, index: hashes / UInt64(width), width: partial)) }
        return out
    }

    /// An entry bundle's bytes: each entry as a big-endian u16 length and its bytes (nil when one is 65,536 bytes or more).
    public static func bundle(_ entries: [[UInt8]]) -> [UInt8]? {
        var out: [UInt8] = []
        for entry in entries {
            guard entry.count <= 0xFFFF else { return nil }
            out += [UInt8(entry.count >> 8), UInt8(entry.count & 0xFF)] + entry
        }
        return out
    }

    /// An entry bundle's entries, read back (the inverse of ``bundle(_:)``); a refusal naming what is wrong when the
    /// bytes end inside a length or an entry, or hold other than `expected` entries.
    public static func entries(inBundle bundle: [UInt8], expected: Int) throws(LedgerError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        while offset < bundle.count {
            guard offset + 2 <= bundle.count else { throw LedgerError(.invalidRequest, "a truncated entry length") }
            let length = Int(bundle[offset]) << 8 | Int(bundle[offset + 1])
            guard offset + 2 + length <= bundle.count else { throw LedgerError(.invalidRequest, "a truncated entry") }
            out.append(Array(bundle[(offset + 2)..<(offset + 2 + length)]))
            offset += 2 + length
        }
        guard out.count == expected else { throw LedgerError(.invalidRequest, "it holds \(out.count) entries, not \(expected)") }
        return out
    }
}
