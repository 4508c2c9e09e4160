#if canImport(Glibc)
    import Glibc
#endif

/// Thin wrappers over the POSIX calls the server needs. Sockets are non-blocking; every wait goes through
/// `poll` with a deadline so nothing can hang.
enum Socket {
    /// The outcome of waiting for bytes.
    enum ReadResult {
        /// This many bytes were read.
        case data(Int)
        /// The peer closed, reset, or the socket was shut down.
        case closed
        /// The deadline passed first.
        case timedOut
        /// The server's shutdown signal fired first (only when asked to watch it).
        case shuttingDown
    }

    /// Opens a listening socket and returns it with the port actually bound.
    static func listen(host: String, port: Int, backlog: Int) throws(HTTPServerError) -> (fd: Int32, port: Int) {
        guard port >= 0 && port <= 65535 else { throw HTTPServerError(.invalidAddress) }
        let literal = host == "localhost" ? "127.0.0.1" : host
        let family = literal.contains(":") ? AF_INET6 : AF_INET
        var storage = sockaddr_storage()
        var length: socklen_t
        if family == AF_INET6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, literal, &address.sin6_addr) == 1 else { throw HTTPServerError(.invalidAddress) }
            withUnsafeBytes(of: address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else { throw HTTPServerError(.invalidAddress) }
            withUnsafeBytes(of: address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }

        let fd = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError(.socketFailed, systemError: errno) }
        var one: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let error = errno
            close(fd)
            throw HTTPServerError(.socketFailed, systemError: error)
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let error = errno
            close(fd)
            throw HTTPServerError(.bindFailed, systemError: error)
        }
        guard Glibc.listen(fd, Int32(clamping: backlog)) == 0 else {
            let error = errno
            close(fd)
            throw HTTPServerError(.listenFailed, systemError: error)
        }
        return (fd, boundPort(of: fd) ?? port)
    }

    private static func boundPort(of fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard found == 0 else { return nil }
        return withUnsafeBytes(of: storage) { raw in
            if Int32(storage.ss_family) == AF_INET6 {
                return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            }
            return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
        }
    }

    /// Accepts one pending connection as a non-blocking socket with `TCP_NODELAY`, or returns `nil` with `errno`.
    static func accept(_ listener: Int32) -> Int32? {
        // accept4 is hidden behind _GNU_SOURCE in Glibc's module map, hence accept and fcntl.
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var one: Int32 = 1
        // Responses are written in one call; Nagle would only hold back the tail of a large one.
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// Waits until `fd` (or `wake`, when given) is readable, or until `deadline`. Returns `nil` when `fd` is
    /// readable (or hung up), else why the wait ended.
    static func waitReadable(_ fd: Int32, wake: Int32?, deadline: ContinuousClock.Instant) -> ReadResult? {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return .timedOut }
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake ?? -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, wake == nil ? 1 : 2, milliseconds(remaining))
            if ready < 0 {
                if errno == EINTR { continue }
                return .closed
            }
            if ready == 0 { continue }
            if fds[0].revents != 0 { return nil }
            return .shuttingDown
        }
    }

    /// Reads what is available into `buffer`, first waiting for bytes until `deadline`.
    ///
    /// - Parameter wake: The read end of the server's shutdown pipe, to stop waiting when the server stops.
    static func read(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant, wake: Int32? = nil
    ) -> ReadResult {
        while true {
            if let outcome = waitReadable(fd, wake: wake, deadline: deadline) { return outcome }
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .data(count) }
            if count == 0 { return .closed }
            if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
            return .closed
        }
    }

    /// Writes all of `bytes`, waiting for room until `deadline`. Returns `false` when the peer is gone or the
    /// deadline passed.
    static func write(_ fd: Int32, _ bytes: [UInt8], deadline: ContinuousClock.Instant) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if count > 0 {
                    offset += count
                    continue
                }
                guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return false }
                guard waitWritable(fd, deadline: deadline) else { return false }
            }
            return true
        }
    }

    private static func waitWritable(_ fd: Int32, deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return false }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, milliseconds(remaining))
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }

    /// Reads and throws away whatever is immediately available, up to `limit` bytes.
    static func discardAvailable(_ fd: Int32, limit: Int) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while total < limit {
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { return }
            total += count
        }
    }

    /// Runs `body` on a new detached thread with the given stack size. Returns `false` if no thread could start.
    static func spawnThread(stackBytes: Int, _ body: @escaping @Sendable () -> Void) -> Bool {
        final class Start {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }

        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, max(stackBytes, Int(PTHREAD_STACK_MIN)))
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))

        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, start)
        if created != 0 {
            Unmanaged<Start>.fromOpaque(start).release()
            return false
        }
        return true
    }

    /// `duration` in whole milliseconds, rounded up so a wait never ends just before its deadline.
    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, millis))
    }
}
