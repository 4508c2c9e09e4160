#if canImport(Glibc)
    import Glibc
#endif

/// Serves one accepted connection on its own thread: reads requests, asks the responder, writes responses in
/// order, and applies the limits and timeouts of ``HTTPServerConfiguration``.
struct HTTPConnection {
    private static let continueBytes = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    private static let readChunkBytes = 32 * 1024
    // After the final answer, unread bytes are drained briefly so closing does not reset the connection and
    // destroy the answer in flight (RFC 9112 §9.6).
    private static let lingerBytes = 1 << 20
    private static let lingerTime = Duration.seconds(1)

    private let context: HTTPServerContext
    private let fd: Int32
    private let wake: Int32
    // Read once per connection: the level is set at start-up, and reading it takes the log sink's lock.
    private let logsRequests: Bool
    private var date = (second: -1, text: "")
    private var parser: HTTPParser
    private let readBuffer: UnsafeMutableRawBufferPointer

    /// Prepares to serve `fd`, an accepted non-blocking socket the caller closes after ``run()``.
    init(context: HTTPServerContext, fd: Int32) {
        self.context = context
        self.fd = fd
        wake = context.wakeDescriptor
        logsRequests = context.logger.isEnabled(.debug)
        parser = HTTPParser(
            maxHeaderBytes: context.configuration.maxHeaderBytes, maxBodyBytes: context.configuration.maxBodyBytes)
        readBuffer = .allocate(byteCount: Self.readChunkBytes, alignment: 16)
    }

    /// Serves requests until the connection ends; the caller closes the descriptor.
    mutating func run() {
        defer { readBuffer.deallocate() }
        while serveOneRequest() {}
    }

    /// Serves the next request; returns whether the connection stays open for another.
    private mutating func serveOneRequest() -> Bool {
        let configuration = context.configuration

        // Between requests: wait for the next one, or close quietly on idle timeout or shutdown.
        while parser.isIdle {
            if context.isStopping { return false }
            let deadline = ContinuousClock.now + configuration.idleTimeout
            guard receive(deadline: deadline, watchShutdown: true) == .received else { return false }
        }
        let started = ContinuousClock.now
        var deadline = started + configuration.readTimeout

        guard case .head(let head) = nextEvent(deadline: deadline, started: started) else { return false }
        let rejection = context.responder.check(head: head)
        if let rejection {
            if head.expectsContinue && head.framing.hasContent {
                // The client holds its body back for our answer: answer, and close rather than read it.
                send(rejection, for: head, close: true, started: started)
                lingeringClose()
                return false
            }
            parser.skipBody()
        } else if head.expectsContinue && head.framing.hasContent && parser.bufferedByteCount == 0 {
            guard Socket.write(fd, Self.continueBytes, deadline: .now + configuration.writeTimeout) else {
                return false
            }
            deadline = .now + configuration.readTimeout
        }

        guard case .request(let request) = nextEvent(deadline: deadline, started: started) else { return false }
        let response = rejection ?? context.responder.respond(to: request)
        let close =
            !head.keepAlive || context.isStopping
            || response.headers.contains {
                HTTPHeaders.lowercase($0.0) == "connection" && HTTPHeaders.lowercase($0.1) == "close"
            }
        guard send(response, for: head, close: close, started: started) else { return false }
        if close {
            lingeringClose()
            return false
        }
        return true
    }

    private enum ReceiveOutcome: Equatable {
        case received
        case closed
        case timedOut
    }

    private mutating func receive(deadline: ContinuousClock.Instant, watchShutdown: Bool) -> ReceiveOutcome {
        switch Socket.read(fd, into: readBuffer, deadline: deadline, wake: watchShutdown ? wake : nil) {
        case .data(let count):
            parser.append(UnsafeRawBufferPointer(rebasing: readBuffer[..<count]))
            return .received
        case .timedOut:
            return .timedOut
        case .closed, .shuttingDown:
            return .closed
        }
    }

    /// Returns the next parser event, reading as needed; answers parse errors and timeouts itself (and then
    /// returns `nil`, as it does when the client goes away).
    private mutating func nextEvent(deadline: ContinuousClock.Instant, started: ContinuousClock.Instant)
        -> HTTPParser.Event?
    {
        while true {
            do {
                if let event = try parser.next() { return event }
            } catch {
                reject(status: error.status, code: error.code.rawValue, started: started)
                return nil
            }
            switch receive(deadline: deadline, watchShutdown: false) {
            case .received:
                continue
            case .timedOut:
                reject(status: 408, code: "request_timeout", started: started)
                return nil
            case .closed:
                return nil
            }
        }
    }

    private mutating func reject(status: Int, code: String, started: ContinuousClock.Instant) {
        let response = HTTPResponse.serverError(status: status, code: code)
        let bytes = response.serialized(date: currentDate(), close: true)
        _ = Socket.write(fd, bytes, deadline: .now + context.configuration.writeTimeout)
        context.observer.responseSent(status: status, duration: started.duration(to: .now))
        context.logger.debug("request rejected", ["http.status": "\(status)", "http.error": code])
        lingeringClose()
    }

    /// The `Date` header value, formatted at most once per second per connection (a shared cache would make
    /// every response take a lock).
    private mutating func currentDate() -> String {
        let now = time(nil)
        if date.second != now {
            date = (now, HTTPDate.format(now))
        }
        return date.text
    }

    @discardableResult
    private mutating func send(
        _ response: HTTPResponse, for head: HTTPRequestHead, close: Bool, started: ContinuousClock.Instant
    )
        -> Bool
    {
        let bytes = response.serialized(
            date: currentDate(), close: close, keepAliveForHTTP10: !close && head.version.minor == 0,
            includeBody: head.method != "HEAD")
        let written = Socket.write(fd, bytes, deadline: .now + context.configuration.writeTimeout)
        let duration = started.duration(to: .now)
        context.observer.responseSent(status: response.status, duration: duration)

        if logsRequests {
            let (seconds, attoseconds) = duration.components
            let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
            context.logger.debug(
                "request handled",
                [
                    "http.method": head.method, "http.path": head.path, "http.status": "\(response.status)",
                    "http.duration_us": "\(micros)",
                ])
        }
        return written
    }

    /// Stops sending, then reads and discards what the client still sends for a short while, so the final
    /// answer reaches it before the descriptor is closed.
    private func lingeringClose() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
        let deadline = ContinuousClock.now + min(Self.lingerTime, context.configuration.readTimeout)
        var drained = 0
        while drained < Self.lingerBytes {
            guard case .data(let count) = Socket.read(fd, into: readBuffer, deadline: deadline) else { return }
            drained += count
        }
    }
}
