import Foundation

/// A minimal POSIX ustar writer, to stream an audit export folder as one archive.
enum Tar {
    /// The 512-byte header of a regular file.
    static func header(path: String, size: Int) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, length: Int) {
            let bytes = Array(text.utf8.prefix(length))
            block.replaceSubrange(offset..<offset + bytes.count, with: bytes)
        }
        func octal(_ value: Int, length: Int) -> String {
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits
        }
        put(path, at: 0, length: 100)
        put(octal(0o644, length: 8), at: 100, length: 8)
        put(octal(0, length: 8), at: 108, length: 8)
        put(octal(0, length: 8), at: 116, length: 8)
        put(octal(size, length: 12), at: 124, length: 12)
        put(octal(0, length: 12), at: 136, length: 12)
        put("        ", at: 148, length: 8)  // checksum field counts as spaces
        block[156] = UInt8(ascii: "0")
        put("ustar", at: 257, length: 6)
        put("00", at: 263, length: 2)
        let checksum = block.reduce(0) { $0 + Int($1) }
        put(octal(checksum, length: 7), at: 148, length: 7)
        block[155] = 0x20
        return block
    }

    /// Zero padding after a file's content, to the next 512-byte boundary.
    static func padding(size: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (512 - size % 512) % 512)
    }

    /// The two zero blocks that end an archive.
    static let end = [UInt8](repeating: 0, count: 1024)
}
