/// The application behind an ``HTTPServer``: it answers each request, synchronously, on the connection's own
/// thread (it may block, for instance on a database commit).
public protocol HTTPResponder: Sendable {
    /// Inspects a request before its body is read, and returns a response to reject it early, or `nil` to go on.
    ///
    /// Called for every request once its head is parsed. A rejection of a request sent with
    /// `Expect: 100-continue` is answered without reading the body, and the connection is closed; any other
    /// rejected request has its body read and discarded so the connection can be kept alive. The default
    /// accepts everything.
    func check(head: HTTPRequestHead) -> HTTPResponse?

    /// Answers a complete request.
    func respond(to request: HTTPRequest) -> HTTPResponse
}

extension HTTPResponder {
    /// Accepts every request head.
    public func check(head: HTTPRequestHead) -> HTTPResponse? { nil }
}

/// Receives counts from an ``HTTPServer`` for metrics. Called on connection threads: keep it fast and
/// non-blocking. Every method defaults to doing nothing.
public protocol HTTPServerObserver: Sendable {
    /// A connection was accepted and is being served (not called for connections refused with 503).
    func connectionOpened()

    /// A served connection was closed.
    func connectionClosed()

    /// A final response was written (or its write was attempted), including those the server generates itself:
    /// 400, 408, 413, 431, 501, 505, and 503 for connections over the limit.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - duration: From the first byte of the request to the end of the write; zero for 503 refusals.
    func responseSent(status: Int, duration: Duration)
}

extension HTTPServerObserver {
    /// Does nothing.
    public func connectionOpened() {}
    /// Does nothing.
    public func connectionClosed() {}
    /// Does nothing.
    public func responseSent(status: Int, duration: Duration) {}
}

/// An observer that ignores everything.
public struct NoHTTPServerObserver: HTTPServerObserver {
    /// Creates the observer.
    public init() {}
}
