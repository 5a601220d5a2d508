#if canImport(Glibc)
internal import Glibc
#endif

/// Reading and writing key files. Private key files are created with mode 0600 and never overwritten.
public enum KeyFiles {
    /// Writes `bytes` to a new file with the given mode, refusing to replace an existing file, and syncs it.
    public static func createExclusive(path: String, bytes: [UInt8], mode: UInt32) throws(CryptoError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw CryptoError(.fileIO, "\(path) already exists; choose another path or remove it first (nothing was overwritten)")
            }
            throw CryptoError(.fileIO, "cannot create \(path): \(String(cString: strerror(code)))")
        }
        defer { _ = close(fd) }
        // umask may have narrowed the mode; make it exactly what was asked.
        _ = fchmod(fd, mode_t(mode))
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(.fileIO, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw CryptoError(.fileIO, "cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Reads a whole file.
    public static func readFile(path: String, limit: Int = 1 << 20) throws(CryptoError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CryptoError(.fileIO, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { _ = close(fd) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(.fileIO, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out.append(contentsOf: buffer[..<n])
            guard out.count <= limit else { throw CryptoError(.fileIO, "\(path) is larger than \(limit) bytes; is it the right file?") }
        }
        return out
    }

    /// Reads a sealed private key and opens it with `passphrase`.
    public static func openSealedKey(path: String, passphrase: SecureBytes) throws(CryptoError) -> SealedKeyFile.OpenedKey {
        try SealedKeyFile.open(readFile(path: path), passphrase: passphrase)
    }

    /// Reads a public key file: one verifier-key line.
    public static func readVerifierKey(path: String) throws(CryptoError) -> NoteVerifierKey {
        let bytes = try readFile(path: path, limit: 4096)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CryptoError(.invalidEncoding, "\(path) is not UTF-8 text; a public key file holds one NAME+KEYID+KEY line")
        }
        do throws(CryptoError) {
            // Exactly one line, with or without one final LF (`key-file.md`); a CR, a second line or a blank line is refused.
            let lineBytes = bytes.last == 0x0A ? Array(bytes.dropLast()) : bytes
            let line = String(decoding: lineBytes, as: UTF8.self)
            guard !lineBytes.contains(0x0A), !lineBytes.contains(0x0D) else {
                throw CryptoError(.invalidEncoding, "a public key file holds exactly one NAME+KEYID+KEY line, optionally ending in one LF (no CR, no other lines)")
            }
            return try NoteVerifierKey(parsing: line)
        } catch {
            throw CryptoError(error.code, "\(path): \(error.message)")
        }
    }

    /// Writes a public key file (mode 0644): the verifier key line and a newline.
    public static func writeVerifierKey(_ key: NoteVerifierKey, path: String) throws(CryptoError) {
        try createExclusive(path: path, bytes: Array((key.description + "\n").utf8), mode: 0o644)
    }
}

