#if canImport(Glibc)
import Glibc
#endif
import SignoffCrypto

enum FileHandleWriter {
    static func write(fd: Int32, _ string: String) {
        var bytes = Array(string.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno == EINTR { continue } else { return } }
            offset += n
        }
        bytes.removeAll()
    }
}

enum Terminal {
    static var standardInputIsTerminal: Bool { isatty(0) == 1 }
    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }

    /// Reads one line from the controlling terminal with echo off. Returns nil when there is no terminal.
    static func readSecretLine(prompt: String) -> [UInt8]? {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        FileHandleWriter.write(fd: fd, prompt)
        var original = termios()
        guard tcgetattr(fd, &original) == 0 else { return nil }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ECHONL)
        _ = tcsetattr(fd, TCSAFLUSH, &silent)
        defer { _ = tcsetattr(fd, TCSAFLUSH, &original) }
        var line = [UInt8]()
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == 0x0A { break }
            if byte != 0x0D { line.append(byte) }
        }
        return line
    }
}
