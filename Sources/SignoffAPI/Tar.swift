public import Foundation

/// A minimal POSIX ustar writer and reader: the server streams an audit export folder as one archive, the CLI unpacks it.
public enum Tar {
    /// The 512-byte header of a regular file.
    public static func header(path: String, size: Int) -> [UInt8] {
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
    public static func padding(size: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (512 - size % 512) % 512)
    }

    /// The two zero blocks that end an archive.
    public static let end = [UInt8](repeating: 0, count: 1024)

    /// What is wrong with an archive.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Unpacks an archive into `directory`, refusing any path that would leave it. Returns the number of files.
    public static func extract(_ archive: [UInt8], into directory: URL) throws -> Int {
        var offset = 0
        var count = 0
        while offset + 512 <= archive.count {
            let header = Array(archive[offset..<offset + 512])
            if header.allSatisfy({ $0 == 0 }) { return count }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 8), size >= 0, offset + 512 + size <= archive.count else {
                throw ReadError(description: "the export archive is malformed or incomplete; export again (nothing was verified)")
            }
            guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                throw ReadError(description: "the export archive holds an unsafe path \(name); refusing it")
            }
            let target = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(archive[(offset + 512)..<(offset + 512 + size)]).write(to: target)
            count += 1
            offset += 512 + size + (512 - size % 512) % 512
        }
        throw ReadError(description: "the export archive is truncated; export again (nothing was verified)")
    }
}
