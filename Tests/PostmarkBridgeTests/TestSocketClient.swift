import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A response as read off the wire by ``TestSocketClient``.
struct TestHTTPResponse: Sendable {
    /// The status code from the status line.
    var status: Int
    /// The reason phrase from the status line.
    var reason: String
    /// The header fields in order, names as sent.
    var headers: [(name: String, value: String)]
    /// The body bytes (as delimited by `Content-Length`).
    var body: [UInt8]

    /// The first header called `name`, compared case-insensitively.
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body decoded as UTF-8.
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Errors of ``TestSocketClient``.
enum TestSocketError: Error, Equatable {
    /// `socket` or `connect` failed with this errno.
    case connectFailed(Int32)
    /// `send` failed with this errno.
    case sendFailed(Int32)
    /// The peer closed before a complete response arrived.
    case closedByPeer
    /// Nothing arrived within the client's safety timeout.
    case timedOut
    /// The bytes received are not an HTTP/1.1 response.
    case malformedResponse
}

/// A blocking raw-socket HTTP client for tests: it sends exactly the bytes it is given (so tests can send
/// malformed, split or pipelined requests) and reads responses one at a time. Connects to 127.0.0.1 only.
/// Every read gives up after `timeout` so a faulty server fails the test instead of hanging it.
final class TestSocketClient {
    private let fd: Int32
    private var pending: [UInt8] = []
    private var isClosed = false

    /// Connects to `127.0.0.1:port`.
    init(port: Int, timeout: Duration = .seconds(5)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSocketError.connectFailed(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            Glibc.close(fd)
            throw TestSocketError.connectFailed(error)
        }
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close()
    }

    /// Sends raw bytes.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw TestSocketError.sendFailed(errno) }
            offset += count
        }
    }

    /// Sends a string as UTF-8 (use `\r\n` line ends).
    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    /// Sends a well-formed HTTP/1.1 request with `Host` and, when there is a body, `Content-Length`.
    func sendRequest(
        method: String = "GET", target: String = "/", headers: [(String, String)] = [], body: [UInt8] = []
    ) throws {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        try send(Array((head + "\r\n").utf8) + body)
    }

    /// Sends a well-formed request and reads its response.
    func request(
        method: String = "GET", target: String = "/", headers: [(String, String)] = [], body: [UInt8] = []
    ) throws -> TestHTTPResponse {
        try sendRequest(method: method, target: target, headers: headers, body: body)
        return try readResponse(forHEAD: method == "HEAD")
    }

    /// Reads one response (status line, headers, `Content-Length` body). Interim 1xx responses are returned as
    /// responses of their own.
    func readResponse(forHEAD: Bool = false) throws -> TestHTTPResponse {
        let headEnd = try readUntil([13, 10, 13, 10])
        let headBytes = Array(pending[..<headEnd])
        pending.removeFirst(headEnd + 4)

        let lines = String(decoding: headBytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusParts.count >= 2, statusParts[0] == "HTTP/1.1", let status = Int(statusParts[1]) else {
            throw TestSocketError.malformedResponse
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw TestSocketError.malformedResponse }
            headers.append(
                (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            )
        }
        var response = TestHTTPResponse(
            status: status, reason: statusParts.count > 2 ? String(statusParts[2]) : "", headers: headers, body: [])
        if status >= 200 && !forHEAD, let length = response.header("Content-Length").flatMap(Int.init) {
            while pending.count < length { try fill() }
            response.body = Array(pending[..<length])
            pending.removeFirst(length)
        }
        return response
    }

    /// Waits until the server closes the connection (EOF or reset) and returns any bytes that came first.
    func readUntilClosed() throws -> [UInt8] {
        while true {
            do {
                try fill()
            } catch TestSocketError.closedByPeer {
                defer { pending.removeAll() }
                return pending
            }
        }
    }

    /// Whether the server has closed the connection: waits for EOF or a reset within the client timeout.
    func isClosedByServer() -> Bool {
        (try? readUntilClosed()) != nil
    }

    /// The socket descriptor.
    var descriptor: Int32 { fd }

    /// Whether bytes already read are waiting to be parsed.
    var hasPendingBytes: Bool { !pending.isEmpty }

    /// Closes the client's socket.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
    }

    private func readUntil(_ marker: [UInt8]) throws -> Int {
        var searchFrom = 0
        while true {
            if pending.count >= marker.count {
                for start in searchFrom...(pending.count - marker.count)
                where pending[start..<(start + marker.count)].elementsEqual(marker) {
                    return start
                }
                searchFrom = pending.count - marker.count + 1
            }
            try fill()
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            pending.append(contentsOf: chunk[..<count])
            return
        }
        if count == 0 { throw TestSocketError.closedByPeer }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw TestSocketError.timedOut }
        if errno == EINTR { return }
        throw TestSocketError.closedByPeer
    }
}

extension TestSocketClient {
    /// Reads a response only if bytes are already waiting; returns `nil` at once otherwise.
    func readResponseIfReady() throws -> TestHTTPResponse? {
        var probe: UInt8 = 0
        let count = recv(descriptor, &probe, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        guard count > 0 || hasPendingBytes else { return nil }
        return try readResponse()
    }
}
