import Dispatch
import Foundation
import Synchronization
import Testing

@testable import PostmarkBridge

/// A responder for the server tests: echoes what it received, rejects `/reject` from the head, and lets a test
/// hold `/slow` requests in the responder until it opens a gate.
final class EchoResponder: HTTPResponder {
    /// Signalled each time a `/slow` request enters the responder.
    let slowEntered = DispatchSemaphore(value: 0)
    /// Waited on by `/slow` requests before they answer.
    let slowGate = DispatchSemaphore(value: 0)

    /// Rejects `/reject` with 401.
    func check(head: HTTPRequestHead) -> HTTPResponse? {
        guard head.path == "/reject" else { return nil }
        return .json(status: 401, body: #"{"error":"unauthorized"}"#)
    }

    /// Echoes `METHOD path length:body`; `/big` answers 32 MiB, `/empty` 204, `/slow` waits for the gate.
    func respond(to request: HTTPRequest) -> HTTPResponse {
        if request.path == "/big" {
            return HTTPResponse(status: 200, body: [UInt8](repeating: 0x62, count: 32 << 20))
        }
        if request.path == "/empty" {
            return HTTPResponse(status: 204, body: Array("ignored".utf8))
        }
        if request.path == "/slow" {
            slowEntered.signal()
            slowGate.wait()
        }
        let text =
            "\(request.method) \(request.path) \(request.body.count):" + String(decoding: request.body, as: UTF8.self)
        return .text(status: 200, body: text, headers: [("X-Echo", "yes")])
    }
}

/// Counts what the server reports to its observer.
final class RecordingObserver: HTTPServerObserver {
    private let state = Mutex((opened: 0, closed: 0, statuses: [Int]()))

    /// Counts an opened connection.
    func connectionOpened() { state.withLock { $0.opened += 1 } }
    /// Counts a closed connection.
    func connectionClosed() { state.withLock { $0.closed += 1 } }
    /// Records a status.
    func responseSent(status: Int, duration: Duration) { state.withLock { $0.statuses.append(status) } }

    /// Connections opened so far.
    var opened: Int { state.withLock { $0.opened } }
    /// Connections closed so far.
    var closed: Int { state.withLock { $0.closed } }
    /// Statuses sent so far, in order.
    var statuses: [Int] { state.withLock { $0.statuses } }

    /// Waits up to two seconds for `condition` to hold (the server reports after the client has its answer).
    func eventually(_ condition: (RecordingObserver) -> Bool) -> Bool {
        for _ in 0..<200 {
            if condition(self) { return true }
            usleep(10_000)
        }
        return condition(self)
    }
}

extension HTTPServerConfiguration {
    /// Port 0 on 127.0.0.1 with small limits and short timeouts, so limit and timeout tests run fast.
    static func testing(
        maxConnections: Int = 64, readTimeout: Duration = .milliseconds(200), idleTimeout: Duration = .milliseconds(200)
    ) -> HTTPServerConfiguration {
        HTTPServerConfiguration(
            host: "127.0.0.1", port: 0, maxHeaderBytes: 1024, maxBodyBytes: 4096, readTimeout: readTimeout,
            idleTimeout: idleTimeout, writeTimeout: .seconds(2), maxConnections: maxConnections)
    }
}

/// Starts a server on an ephemeral port, runs `body`, and shuts the server down.
func withTestServer(
    _ configuration: HTTPServerConfiguration = .testing(), responder: EchoResponder = EchoResponder(),
    observer: RecordingObserver = RecordingObserver(), _ body: (HTTPServer, Int) throws -> Void
) throws {
    let server = HTTPServer(
        configuration: configuration, responder: responder, logger: Logger(label: "http-test"), observer: observer)
    let port = try server.start()
    defer { server.shutdown(gracePeriod: .seconds(2)) }
    try body(server, port)
}

@Suite struct HTTPServerTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
        let observer = RecordingObserver()
        try withTestServer(observer: observer) { _, port in
            let client = try TestSocketClient(port: port)
            for index in 0..<5 {
                let response = try client.request(
                    method: "POST", target: "/n/\(index)?q=1", body: Array("b\(index)".utf8))
                #expect(response.status == 200)
                #expect(response.reason == "OK")
                #expect(response.bodyText == "POST /n/\(index) 2:b\(index)")
                #expect(response.header("Connection") == nil)
                #expect(response.header("Content-Length") == "\(response.body.count)")
                #expect(response.header("X-Echo") == "yes")
                #expect(response.header("Date")?.hasSuffix(" GMT") == true)
            }
            #expect(observer.opened == 1)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            try client.send(
                "GET /first HTTP/1.1\r\nHost: t\r\n\r\n"
                    + "POST /second HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                    + "POST /third HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxy")

            #expect(try client.readResponse().bodyText == "GET /first 0:")
            #expect(try client.readResponse().bodyText == "POST /second 3:abc")
            #expect(try client.readResponse().bodyText == "POST /third 2:xy")
        }
    }

    @Test func expectContinueIsAnsweredBeforeTheBodyIsSent() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            try client.send("POST /hook HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")

            let interim = try client.readResponse()
            #expect(interim.status == 100)
            #expect(interim.reason == "Continue")

            try client.send("hello")
            let final = try client.readResponse()
            #expect(final.status == 200)
            #expect(final.bodyText == "POST /hook 5:hello")
        }
    }

    @Test func expectContinueRejectedEarlyClosesWithoutReadingTheBody() throws {
        let observer = RecordingObserver()
        try withTestServer(observer: observer) { _, port in
            let client = try TestSocketClient(port: port)
            try client.send("POST /reject HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4000\r\n\r\n")

            let response = try client.readResponse()
            #expect(response.status == 401)
            #expect(response.bodyText == #"{"error":"unauthorized"}"#)
            #expect(response.header("Connection") == "close")
            #expect(client.isClosedByServer())
            #expect(observer.eventually { $0.statuses == [401] })
        }
    }

    @Test func expectContinueWithTooLargeALengthIsAnswered413WithoutTheBody() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            try client.send("POST /hook HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n")

            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(response.reason == "Content Too Large")
            #expect(client.isClosedByServer())
        }
    }

    @Test func rejectionWithoutExpectDiscardsTheBodyAndKeepsTheConnection() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            let rejected = try client.request(method: "POST", target: "/reject", body: Array("secret body".utf8))
            #expect(rejected.status == 401)
            #expect(rejected.header("Connection") == nil)

            let next = try client.request(target: "/after")
            #expect(next.status == 200)
            #expect(next.bodyText == "GET /after 0:")
        }
    }

    @Test(
        arguments: [
            ("GARBAGE\r\n\r\n", 400, "malformed_request_line"),
            ("GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", 400, "obsolete_line_folding"),
            (
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400,
                "duplicate_content_length"
            ),
            (
                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                "conflicting_framing"
            ),
            ("GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505, "unsupported_version"),
            ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: br\r\n\r\n", 501, "unsupported_transfer_encoding"),
            ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4097\r\n\r\n", 413, "body_too_large"),
            (
                "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "x", count: 2000) + "\r\n\r\n", 431,
                "headers_too_large"
            ),
        ])
    func badRequestsAreAnsweredAndClosed(request: String, status: Int, code: String) throws {
        let observer = RecordingObserver()
        try withTestServer(observer: observer) { _, port in
            let client = try TestSocketClient(port: port)
            try client.send(request)

            let response = try client.readResponse()
            #expect(response.status == status)
            #expect(response.reason == HTTPResponse.reasonPhrase(for: status))
            #expect(response.bodyText == #"{"error":"\#(code)"}"#)
            #expect(response.header("Connection") == "close")
            #expect(client.isClosedByServer())
            #expect(observer.eventually { $0.statuses == [status] && $0.closed == 1 })
        }
    }

    @Test func bodyOverTheLimitInChunksIsAnswered413() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            let chunk = String(repeating: "z", count: 3000)
            try client.send(
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n\(chunk)\r\nbb8\r\n\(chunk)\r\n"
            )

            #expect(try client.readResponse().status == 413)
            #expect(client.isClosedByServer())
        }
    }

    @Test func slowClientGets408AndIsClosed() throws {
        let observer = RecordingObserver()
        try withTestServer(observer: observer) { _, port in
            let client = try TestSocketClient(port: port)
            try client.send("POST /hook HTTP/1.1\r\nHost: t\r\nContent-Le")

            let response = try client.readResponse()
            #expect(response.status == 408)
            #expect(response.reason == "Request Timeout")
            #expect(client.isClosedByServer())
            #expect(observer.eventually { $0.statuses == [408] })
        }
    }

    @Test func trickledBodyGets408() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            try client.send("POST /hook HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
            // Each byte arrives well within the read timeout; the whole body does not.
            var answered: TestHTTPResponse?
            var sent = 0
            while answered == nil && sent < 20 {
                try client.send("x")
                sent += 1
                usleep(50_000)
                answered = try client.readResponseIfReady()
            }
            #expect(sent < 20, "the body was not complete yet, yet the request got no answer")
            #expect(answered?.status == 408)
        }
    }

    @Test func readerThatStallsIsDroppedAfterTheWriteTimeout() throws {
        let observer = RecordingObserver()
        var configuration = HTTPServerConfiguration.testing()
        configuration.writeTimeout = .milliseconds(200)
        try withTestServer(configuration, observer: observer) { _, port in
            let client = try TestSocketClient(port: port)
            try client.sendRequest(target: "/big")

            // The client reads nothing; 32 MiB cannot fit in the socket buffers, so the write must give up.
            #expect(observer.eventually { $0.closed == 1 })
            #expect(observer.statuses == [200])
        }
    }

    @Test func noContentResponsesCarryNoLengthAndNoBody() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            let empty = try client.request(target: "/empty")
            #expect(empty.status == 204)
            #expect(empty.header("Content-Length") == nil)

            #expect(try client.request(target: "/next").bodyText == "GET /next 0:")
        }
    }

    @Test func idleKeepAliveConnectionIsClosedQuietly() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            #expect(try client.request(target: "/once").status == 200)

            #expect(try client.readUntilClosed().isEmpty)
        }
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() throws {
        try withTestServer { _, port in
            let closing = try TestSocketClient(port: port)
            try closing.send("GET /old HTTP/1.0\r\n\r\n")
            let closed = try closing.readResponse()
            #expect(closed.header("Connection") == "close")
            #expect(closing.isClosedByServer())

            let keeping = try TestSocketClient(port: port)
            try keeping.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try keeping.readResponse().header("Connection") == "keep-alive")
            try keeping.send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try keeping.readResponse().bodyText == "GET /again 0:")
        }
    }

    @Test func headResponsesCarryLengthButNoBody() throws {
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            let head = try client.request(method: "HEAD", target: "/h")
            #expect(head.header("Content-Length") == "\("HEAD /h 0:".utf8.count)")
            #expect(head.body.isEmpty)

            // Had a body been sent, it would be read here as the start of the next response.
            #expect(try client.request(target: "/next").bodyText == "GET /next 0:")
        }
    }

    @Test func connectionsOverTheLimitGet503WithRetryAfter() throws {
        let observer = RecordingObserver()
        let configuration = HTTPServerConfiguration.testing(
            maxConnections: 2, readTimeout: .seconds(5), idleTimeout: .seconds(5))
        try withTestServer(configuration, observer: observer) { _, port in
            let first = try TestSocketClient(port: port)
            let second = try TestSocketClient(port: port)
            #expect(try first.request().status == 200)
            #expect(try second.request().status == 200)

            let third = try TestSocketClient(port: port)
            let refused = try third.readResponse()
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect(refused.header("Connection") == "close")
            #expect(third.isClosedByServer())

            #expect(try first.request(target: "/still").status == 200)
            #expect(observer.statuses.contains(503))
            #expect(observer.opened == 2)
        }
    }

    @Test func gracefulShutdownFinishesTheRequestInFlightThenRefusesConnections() throws {
        let responder = EchoResponder()
        let observer = RecordingObserver()
        let configuration = HTTPServerConfiguration.testing(readTimeout: .seconds(5), idleTimeout: .seconds(5))
        let server = HTTPServer(configuration: configuration, responder: responder, observer: observer)
        let port = try server.start()

        let idle = try TestSocketClient(port: port)
        #expect(try idle.request().status == 200)
        let busy = try TestSocketClient(port: port)
        try busy.sendRequest(method: "POST", target: "/slow", body: Array("work".utf8))
        #expect(responder.slowEntered.wait(timeout: .now() + 5) == .success)

        let shutdownDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            server.shutdown(gracePeriod: .seconds(5))
            shutdownDone.signal()
        }
        #expect(idle.isClosedByServer())
        responder.slowGate.signal()

        let response = try busy.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "POST /slow 4:work")
        #expect(response.header("Connection") == "close")
        #expect(shutdownDone.wait(timeout: .now() + 5) == .success)
        #expect(throws: TestSocketError.self) { try TestSocketClient(port: port) }
        #expect(observer.opened == 2 && observer.closed == 2)
    }

    @Test func shutdownForceClosesAfterTheGracePeriod() throws {
        let configuration = HTTPServerConfiguration.testing(readTimeout: .seconds(30), idleTimeout: .seconds(30))
        let server = HTTPServer(configuration: configuration, responder: EchoResponder())
        let port = try server.start()
        let stalled = try TestSocketClient(port: port)
        try stalled.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        usleep(50_000)

        server.shutdown(gracePeriod: .milliseconds(100))
        #expect(stalled.isClosedByServer())
        server.waitUntilStopped()
    }

    @Test func manyConcurrentClientsAreAllAnswered() throws {
        try withTestServer(.testing(readTimeout: .seconds(5), idleTimeout: .seconds(5))) { _, port in
            let answered = Atomic<Int>(0)
            let group = DispatchGroup()
            for thread in 0..<50 {
                group.enter()
                Thread.detachNewThread {
                    defer { group.leave() }
                    guard let client = try? TestSocketClient(port: port) else { return }
                    for request in 0..<20 {
                        let body = Array("\(thread)-\(request)".utf8)
                        guard let response = try? client.request(method: "POST", target: "/c", body: body) else {
                            return
                        }
                        if response.status == 200 && response.bodyText == "POST /c \(body.count):\(thread)-\(request)" {
                            answered.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            #expect(group.wait(timeout: .now() + 60) == .success)
            #expect(answered.load(ordering: .relaxed) == 50 * 20)
        }
    }

    @Test func observerCountsConnectionsAndEveryStatus() throws {
        let observer = RecordingObserver()
        try withTestServer(observer: observer) { _, port in
            let client = try TestSocketClient(port: port)
            #expect(try client.request().status == 200)
            #expect(try client.request(method: "POST", target: "/reject", body: [1]).status == 401)
            try client.send("BAD\r\n\r\n")
            #expect(try client.readResponse().status == 400)

            #expect(observer.eventually { $0.statuses == [200, 401, 400] && $0.opened == 1 && $0.closed == 1 })
        }
    }

    @Test func deeplyNestedJSONFitsTheConnectionThreadStack() throws {
        struct JSONResponder: HTTPResponder {
            func respond(to request: HTTPRequest) -> HTTPResponse {
                guard let value = try? JSONValue.parse(request.body) else { return .json(status: 400, body: "{}") }
                return .json(status: 200, body: value.serialized())
            }
        }
        let depth = 512
        let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let server = HTTPServer(configuration: .testing(), responder: JSONResponder())
        let port = try server.start()
        defer { server.shutdown(gracePeriod: .seconds(1)) }

        let client = try TestSocketClient(port: port)
        let response = try client.request(method: "POST", target: "/deep", body: Array(nested.utf8))
        #expect(response.status == 200)
        #expect(response.bodyText == nested)
    }

    @Test func startFailuresAreReported() throws {
        let server = HTTPServer(configuration: .testing(), responder: EchoResponder())
        let port = try server.start()
        defer { server.shutdown(gracePeriod: .seconds(1)) }
        #expect(server.port == port)
        #expect(throws: HTTPServerError(.alreadyStarted)) { try server.start() }

        var taken = HTTPServerConfiguration.testing()
        taken.port = port
        #expect(throws: HTTPServerError(.bindFailed, systemError: EADDRINUSE)) {
            try HTTPServer(configuration: taken, responder: EchoResponder()).start()
        }

        var invalid = HTTPServerConfiguration.testing()
        invalid.host = "not-an-address"
        #expect(throws: HTTPServerError(.invalidAddress)) {
            try HTTPServer(configuration: invalid, responder: EchoResponder()).start()
        }
    }

    @Test func requestLogsCarryThePathButNeverTheQueryOrHeaders() throws {
        let lines = Mutex([String]())
        let previous = LogSink.shared.level
        LogSink.shared.configure(level: .debug, format: .text)
        LogSink.shared.capture { line in lines.withLock { $0.append(line) } }
        defer {
            LogSink.shared.capture(nil)
            LogSink.shared.configure(level: previous, format: .text)
        }

        let marker = "/log-\(UInt64.random(in: 0...UInt64.max))"
        try withTestServer { _, port in
            let client = try TestSocketClient(port: port)
            let response = try client.request(
                method: "POST", target: "\(marker)?token=query-secret", headers: [("X-Webhook-Token", "header-secret")],
                body: Array("body-secret".utf8))
            #expect(response.status == 200)
        }

        let captured = lines.withLock { $0 }
        #expect(captured.contains { $0.contains(marker) && $0.contains("http.status=200") })
        #expect(!captured.contains { $0.contains("secret") })
    }
}
