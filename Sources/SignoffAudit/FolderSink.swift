public import Foundation
public import SignoffCrypto
public import SignoffLedger

/// Writes an export's files into a folder, hashing them as it goes.
public struct FolderSink: AuditExportSink {
    let directory: URL
    private var hashers: [String: SHA256Hasher] = [:]
    private var handles: [String: FileHandle] = [:]

    public init(directory: URL) { self.directory = directory }

    public mutating func append(_ bytes: [UInt8], to path: String) throws {
        hashers[path, default: SHA256Hasher()].update(bytes)
        if let handle = handles[path] {
            try handle.write(contentsOf: bytes)
            return
        }
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: url.path, contents: Data(bytes)) else {
            throw LedgerError(.storage, "cannot create \(url.path)")
        }
        handles[path] = try FileHandle(forWritingTo: url).also { try $0.seekToEnd() }
    }

    public var digests: [String: SHA256Digest] { hashers.mapValues { var h = $0; return h.finalize() } }

    public func close() throws {
        for handle in handles.values {
            try handle.synchronize()
            try handle.close()
        }
    }
}


extension FileHandle {
    fileprivate func also(_ body: (FileHandle) throws -> Void) rethrows -> FileHandle {
        try body(self)
        return self
    }
}
