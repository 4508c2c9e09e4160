import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server on POSIX sockets: one accept thread, and one thread per connection that reads requests,
/// calls the synchronous ``HTTPResponder`` and writes responses in order (keep-alive and pipelining).
///
/// Limits answer instead of hanging: 431 for oversized heads, 413 for oversized bodies, 408 for requests that
/// trickle in slower than ``HTTPServerConfiguration/readTimeout``, 503 with `Retry-After` beyond
/// ``HTTPServerConfiguration/maxConnections``. ``shutdown(gracePeriod:)`` stops accepting, closes idle
/// connections, lets requests in flight finish (answered with `Connection: close`), then force-closes.
///
/// ```swift
/// let server = HTTPServer(configuration: .init(port: 0), responder: router, logger: Logger(label: "http"))
/// let port = try server.start()
/// // …
/// server.shutdown(gracePeriod: .seconds(10))
/// ```
public final class HTTPServer: Sendable {
    private let context: HTTPServerContext

    /// Creates a server; nothing happens until ``start()``.
    ///
    /// - Parameters:
    ///   - configuration: Address, limits and timeouts.
    ///   - responder: Answers requests, on connection threads.
    ///   - logger: Receives info lines for listening and stopping, and debug lines per request (method, path
    ///     without query, status) and per rejected request. Header values and bodies are never logged.
    ///   - observer: Receives connection and response counts for metrics.
    public init(
        configuration: HTTPServerConfiguration, responder: some HTTPResponder, logger: Logger = Logger(label: "http"),
        observer: some HTTPServerObserver = NoHTTPServerObserver()
    ) {
        context = HTTPServerContext(
            configuration: configuration, responder: responder, logger: logger, observer: observer)
    }

    /// Binds, listens and starts accepting on a background thread.
    ///
    /// Also sets `SIGPIPE` to ignored for the process, so a client that goes away costs an error, not the
    /// process. The server then runs until ``shutdown(gracePeriod:)``, whoever holds a reference to it.
    ///
    /// - Returns: The bound port (the ephemeral one when the configured port is 0).
    /// - Throws: ``HTTPServerError`` with `invalidAddress`, `socketFailed`, `bindFailed`, `listenFailed` or
    ///   `alreadyStarted`.
    @discardableResult
    public func start() throws(HTTPServerError) -> Int {
        try context.start()
    }

    /// The bound port once started, else `nil`.
    public var port: Int? { context.boundPort }

    /// The number of connections being served now.
    public var openConnections: Int { context.openConnections }

    /// Stops the server and returns when it has stopped.
    ///
    /// Stops accepting at once and closes idle keep-alive connections. Requests already arriving or being
    /// answered finish, with `Connection: close`. After `gracePeriod` the remaining connections are
    /// force-closed (a responder still running keeps its thread until it returns, but its answer is lost).
    /// Calling it again, or concurrently, waits for the first call to finish.
    public func shutdown(gracePeriod: Duration) {
        context.shutdown(gracePeriod: gracePeriod)
    }

    /// Blocks until ``shutdown(gracePeriod:)`` has finished; returns at once if the server never started.
    public func waitUntilStopped() {
        context.waitUntilStopped()
    }
}

/// What the accept thread and the connection threads share. Connection threads keep it alive, so its
/// descriptors stay valid for as long as any of them runs.
final class HTTPServerContext: Sendable {
    private enum Phase {
        case created
        case running
        case stopping
        case stopped
    }

    private struct State {
        var phase = Phase.created
        var connections: [UInt64: Int32] = [:]
        var nextConnectionID: UInt64 = 0
        var port: Int?
    }

    /// Address, limits and timeouts.
    let configuration: HTTPServerConfiguration
    /// The application.
    let responder: any HTTPResponder
    /// Where lifecycle and per-request lines go.
    let logger: Logger
    /// Where metrics go.
    let observer: any HTTPServerObserver

    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    // Read on every wait of every connection: atomics, so connection threads never contend on a lock here.
    private let wakeRead = Atomic<Int32>(-1)
    private let wakeWrite = Atomic<Int32>(-1)
    private let acceptThread = DispatchGroup()
    private let connectionThreads = DispatchGroup()
    private let stopped = DispatchGroup()

    /// Creates the shared state of a server that has not started.
    init(
        configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger,
        observer: any HTTPServerObserver
    ) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.observer = observer
    }

    deinit {
        let read = wakeRead.load(ordering: .acquiring)
        let write = wakeWrite.load(ordering: .acquiring)
        if read >= 0 { close(read) }
        if write >= 0 { close(write) }
    }

    /// Whether shutdown has begun: responses from now on carry `Connection: close`.
    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// The read end of the pipe that becomes readable when shutdown begins.
    var wakeDescriptor: Int32 { wakeRead.load(ordering: .acquiring) }

    /// The bound port once started.
    var boundPort: Int? { state.withLock { $0.port } }

    /// The number of connections being served.
    var openConnections: Int { state.withLock { $0.connections.count } }

    /// See ``HTTPServer/start()``.
    func start() throws(HTTPServerError) -> Int {
        let claimed = state.withLock { state in
            guard state.phase == .created else { return false }
            state.phase = .running
            return true
        }
        guard claimed else { throw HTTPServerError(.alreadyStarted) }

        do {
            return try openAndAccept()
        } catch {
            state.withLock { $0.phase = .stopped }
            throw error
        }
    }

    private func openAndAccept() throws(HTTPServerError) -> Int {
        // A peer that disappears must cost an EPIPE, not the process: sends also pass MSG_NOSIGNAL.
        signal(SIGPIPE, SIG_IGN)

        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw HTTPServerError(.socketFailed, systemError: errno) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        wakeRead.store(fds[0], ordering: .releasing)
        wakeWrite.store(fds[1], ordering: .releasing)

        let (listener, port) = try Socket.listen(
            host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        state.withLock { $0.port = port }
        stopped.enter()
        acceptThread.enter()
        guard Socket.spawnThread(stackBytes: 256 * 1024, { self.acceptLoop(listener: listener) }) else {
            close(listener)
            acceptThread.leave()
            stopped.leave()
            throw HTTPServerError(.socketFailed, systemError: errno)
        }
        logger.info("listening", ["http.host": configuration.host, "http.port": "\(port)"])
        return port
    }

    private func acceptLoop(listener: Int32) {
        defer {
            close(listener)
            acceptThread.leave()
        }
        let wake = wakeDescriptor
        while true {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0 && errno != EINTR { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }

            guard let fd = Socket.accept(listener) else {
                if errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS {
                    logger.warning("accept failed for lack of resources", ["error.errno": "\(errno)"])
                    // The pending connection stays readable: back off instead of spinning on it.
                    usleep(10_000)
                }
                continue
            }
            serve(fd)
        }
    }

    private func serve(_ fd: Int32) {
        let id: UInt64? = state.withLock { state in
            guard state.phase == .running, state.connections.count < configuration.maxConnections else { return nil }
            let id = state.nextConnectionID
            state.nextConnectionID += 1
            state.connections[id] = fd
            return id
        }
        guard let id else {
            refuse(fd)
            return
        }

        connectionThreads.enter()
        observer.connectionOpened()
        let started = Socket.spawnThread(stackBytes: configuration.threadStackBytes) {
            var connection = HTTPConnection(context: self, fd: fd)
            connection.run()
            self.finish(id: id, fd: fd)
        }
        if !started {
            logger.warning("could not start a connection thread", ["error.errno": "\(errno)"])
            state.withLock { _ = $0.connections.removeValue(forKey: id) }
            observer.connectionClosed()
            connectionThreads.leave()
            refuse(fd)
        }
    }

    private func finish(id: UInt64, fd: Int32) {
        // Unregister before closing, so a force-close can never reach a descriptor number reused elsewhere.
        state.withLock { _ = $0.connections.removeValue(forKey: id) }
        close(fd)
        observer.connectionClosed()
        connectionThreads.leave()
    }

    /// Answers 503 to a connection over the limit and closes it, without blocking the accept thread.
    private func refuse(_ fd: Int32) {
        let response = HTTPResponse.serverError(
            status: 503, code: "too_many_connections", headers: [("Retry-After", "\(configuration.retryAfterSeconds)")])
        let bytes = response.serialized(close: true)

        // Whatever the client already sent is read first: closing with unread bytes would reset the connection
        // and could destroy the answer before the client reads it.
        Socket.discardAvailable(fd, limit: 64 * 1024)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        Socket.discardAvailable(fd, limit: 64 * 1024)
        close(fd)

        observer.responseSent(status: 503, duration: .zero)
        logger.debug("connection refused over the limit", ["http.max_connections": "\(configuration.maxConnections)"])
    }

    /// See ``HTTPServer/shutdown(gracePeriod:)``.
    func shutdown(gracePeriod: Duration) {
        let first = state.withLock { state in
            switch state.phase {
            case .created:
                state.phase = .stopped
                return false
            case .running:
                state.phase = .stopping
                return true
            case .stopping, .stopped:
                return false
            }
        }
        guard first else {
            stopped.wait()
            return
        }

        stopping.store(true, ordering: .relaxed)
        let writer = wakeWrite.load(ordering: .acquiring)
        var byte: UInt8 = 1
        _ = Glibc.write(writer, &byte, 1)
        logger.info("shutting down", ["http.open_connections": "\(openConnections)"])
        acceptThread.wait()

        let deadline = DispatchTime.now() + .milliseconds(Int(Socket.milliseconds(gracePeriod)))
        if connectionThreads.wait(timeout: deadline) == .timedOut {
            let forced = state.withLock { state in
                for fd in state.connections.values { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
                return state.connections.count
            }
            logger.notice("grace period over, connections force-closed", ["http.open_connections": "\(forced)"])
            // Threads blocked in I/O wake at once; one stuck in a responder is not waited for beyond this.
            _ = connectionThreads.wait(timeout: .now() + .seconds(1))
        }

        state.withLock { $0.phase = .stopped }
        logger.info("stopped")
        stopped.leave()
    }

    /// See ``HTTPServer/waitUntilStopped()``.
    func waitUntilStopped() {
        stopped.wait()
    }
}
