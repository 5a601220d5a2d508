import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An open-loop load of HTTP/1.1 GETs at a fixed rate over keep-alive connections, one thread and one plain socket
/// each: cheaper per request than URLSession (libcurl on Linux), which on two cores left less CPU for the servers than
/// they needed at 1,000 requests/s. Each request's latency runs from the moment it was due, not from when a connection
/// was free to send it, so that a server falling behind shows as the queue it causes (no coordinated omission).
enum LoadGenerator {
    struct Result {
        let p50: Double
        let p99: Double
        let achieved: Double
        let errors: Int
    }

    static func run(urls: [URL], path: String, token: String, rate: Int, seconds: Int, connections: Int = 32) -> Result {
        let total = rate * seconds
        let next = Atomic<Int>(0)
        let latencies = Mutex<[Double]>([])
        let errors = Atomic<Int>(0)
        let start = ContinuousClock.now + .milliseconds(50)
        let done = DispatchGroup()
        for worker in 0..<connections {
            let url = urls[worker % urls.count]
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                var socket = Connection(port: url.port ?? 80)
                let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(url.port ?? 80)\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8)
                var mine: [Double] = []
                while true {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    guard i < total else { break }
                    let due = start + .microseconds(Int64(i) * 1_000_000 / Int64(rate))
                    let wait = due - ContinuousClock.now
                    if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.attoseconds) / 1e18 + Double(wait.components.seconds)) }
                    if socket == nil { socket = Connection(port: url.port ?? 80) }
                    guard let open = socket, open.send(request), open.readResponse() == 200 else {
                        errors.add(1, ordering: .relaxed)
                        socket?.close()
                        socket = nil
                        continue
                    }
                    let elapsed = ContinuousClock.now - due
                    mine.append((Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * 1000)
                }
                socket?.close()
                latencies.withLock { $0 += mine }
            }
            thread.start()
        }
        done.wait()
        let elapsed = ContinuousClock.now - start
        let all = latencies.withLock { $0 }
        guard !all.isEmpty else { return Result(p50: 0, p99: 0, achieved: 0, errors: errors.load(ordering: .relaxed)) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Result(p50: Bench.median(all), p99: Bench.percentile(all, 0.99), achieved: Double(all.count) / seconds, errors: errors.load(ordering: .relaxed))
    }

    /// One keep-alive connection to 127.0.0.1.
    final class Connection {
        let fd: Int32
        private var buffer: [UInt8] = []

        init?(port: Int) {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return nil }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                Glibc.close(fd)
                return nil
            }
        }

        func close() { Glibc.close(fd) }

        func send(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { return false }
                sent += n
            }
            return true
        }

        /// Reads one response (headers, then Content-Length bytes of body); its status, or nil.
        func readResponse() -> Int? {
            var headerEnd: Int?
            while headerEnd == nil {
                headerEnd = Self.find(buffer)
                if headerEnd == nil, !fill() { return nil }
            }
            let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
            let lines = head.split(separator: "\r\n")
            guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
            let length = lines.dropFirst().first { $0.lowercased().hasPrefix("content-length:") }.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let end = headerEnd! + 4 + length
            while buffer.count < end { if !fill() { return nil } }
            buffer.removeFirst(end)
            return status
        }

        private func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16_384)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return false }
            buffer += chunk[..<n]
            return true
        }

        static func find(_ bytes: [UInt8]) -> Int? {
            guard bytes.count >= 4 else { return nil }
            for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
            return nil
        }
    }
}
