@testable import SignoffLedger
import Testing

/// Issue 32, part 4 without I/O: C2SP tlog-tiles paths and the tiles a tree is served as, checked against the spec's
/// own examples.
@Suite("tlog-tiles paths and shapes")
struct TlogTilesTests {
    @Test("Paths: x001/x234/067 for 1234067, .p/W for partial tiles, entries bundles; anything written otherwise refused")
    func paths() {
        #expect(TlogTiles.encode(1_234_067) == "x001/x234/067")
        #expect(TlogTiles.encode(0) == "000" && TlogTiles.encode(999) == "999" && TlogTiles.encode(1000) == "x001/000")
        #expect(TlogTiles.Tile(level: 2, index: 1_234_067, width: 5).path == "tile/2/x001/x234/067.p/5")
        #expect(TlogTiles.Tile(level: nil, index: 67).path == "tile/entries/067")
        for tile in [TlogTiles.Tile(level: 0, index: 0), .init(level: 63, index: UInt64.max / 1000, width: 255), .init(level: nil, index: 1_234_067, width: 1)] {
            let elements = tile.path.split(separator: "/").dropFirst()
            #expect(TlogTiles.parse(Array(elements)) == tile, "\(tile.path)")
        }
        for bad in [
            "01/000", "64/000", "0/67", "0/0067", "0/x001", "0/001/002", "0/x000/067", "0/000.p/0", "0/000.p/256", "0/000.p/05", "0/000.p",
            "entries", "0/y001/000", "0/x001/0a7", "-1/000", "0/x99999999999999999/000",
        ] {
            #expect(TlogTiles.parse(bad.split(separator: "/", omittingEmptySubsequences: false)) == nil, "\(bad)")
        }
    }

    @Test("The spec's examples: a tree of 70,000 is 273 full level-0 tiles and one of width 112, one full level-1 tile and one of width 17, one level-2 tile of width 1; 256 is a full level-0 tile and a level-1 tile of width 1")
    func shapes() {
        let l0 = TlogTiles.tiles(level: 0, size: 70_000)
        #expect(l0.count == 274 && l0.dropLast().allSatisfy { $0.width == 256 } && l0.last?.width == 112)
        let l1 = TlogTiles.tiles(level: 1, size: 70_000)
        #expect(l1.map(\.width) == [256, 17])
        #expect(TlogTiles.tiles(level: 2, size: 70_000).map(\.width) == [1])
        #expect(TlogTiles.tiles(level: 3, size: 70_000).isEmpty, "empty tiles are not served")
        #expect(TlogTiles.tiles(level: 0, size: 256).map(\.width) == [256] && TlogTiles.tiles(level: 1, size: 256).map(\.width) == [1])
        #expect(TlogTiles.tiles(level: nil, size: 70_000).count == 274, "entry bundles follow level 0")
        // What tree size a tile needs: its last hash complete.
        #expect(TlogTiles.Tile(level: 1, index: 0, width: 17).requiredSize == 17 * 256)
        #expect(TlogTiles.Tile(level: 0, index: 273, width: 112).requiredSize == 70_000)
        #expect(TlogTiles.Tile(level: 63, index: 1).requiredSize == nil, "overflow is nil, not a wrap")
    }

    @Test("Entry bundles: big-endian u16 lengths; an entry of 65,536 bytes or more cannot be bundled")
    func bundles() throws {
        #expect(TlogTiles.bundle([[1, 2, 3], []]) == [0, 3, 1, 2, 3, 0, 0])
        #expect(TlogTiles.bundle([[UInt8](repeating: 7, count: 0x1234)])?.prefix(2) == [0x12, 0x34])
        #expect(TlogTiles.bundle([[UInt8](repeating: 0, count: 0x10000)]) == nil)
        // Read back: the same entries; bytes that end inside a length or an entry, or hold another count, are refused.
        let entries: [[UInt8]] = [[1, 2, 3], [], [UInt8](repeating: 9, count: 300)]
        let bytes = try #require(TlogTiles.bundle(entries))
        #expect(try TlogTiles.entries(inBundle: bytes, expected: 3) == entries)
        for (bad, expected, reason) in [
            (Array(bytes.dropLast()), 3, "a truncated entry"), (bytes + [0], 3, "a truncated entry length"), (bytes, 2, "holds 3 entries, not 2"),
        ] {
            #expect(throws: LedgerError.self, "\(reason)") { _ = try TlogTiles.entries(inBundle: bad, expected: expected) }
            do { _ = try TlogTiles.entries(inBundle: bad, expected: expected) } catch { #expect(error.message.contains(reason), "\(error.message)") }
        }
    }
}
