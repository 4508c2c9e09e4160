/// Limits and timeouts of an ``HTTPServer``. Every field has a documented default; the lead's configuration
/// fills the ones users can set.
public struct HTTPServerConfiguration: Sendable {
    /// The address to listen on: an IPv4 or IPv6 literal, or `localhost`. Default `127.0.0.1`.
    public var host: String
    /// The TCP port; 0 picks a free ephemeral port (``HTTPServer/start()`` returns it). Default 8080.
    public var port: Int
    /// The most bytes for the request line and headers, CRLFs included; beyond it the answer is 431.
    /// Also bounds chunked trailers. Default 16 KiB.
    public var maxHeaderBytes: Int
    /// The most body bytes per request, after de-chunking; beyond it the answer is 413. Default 10 MiB, enough
    /// for a Postmark Bounce with `IncludeContent`.
    public var maxBodyBytes: Int
    /// How long a request may take to arrive, from its first byte to its last (headers and body), before the
    /// server answers 408 and closes. Restarted after `100 Continue`. Default 10 s.
    public var readTimeout: Duration
    /// How long a keep-alive connection may wait for its next request before it is closed without an answer.
    /// Default 60 s.
    public var idleTimeout: Duration
    /// How long writing one response may take before the connection is dropped. Default 30 s.
    public var writeTimeout: Duration
    /// The most connections served at once; each has its own thread. Further connections are answered 503
    /// with `Retry-After` and closed. Default 512.
    public var maxConnections: Int
    /// The `Retry-After` seconds sent with a 503 for connections over the limit. Default 1.
    public var retryAfterSeconds: Int
    /// The `listen` backlog. Default 1024 (the kernel caps it at `net.core.somaxconn`).
    public var backlog: Int
    /// The stack size of each connection thread, which also runs the responder. Default 1 MiB; only the pages
    /// used count toward resident memory.
    public var threadStackBytes: Int

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxHeaderBytes: Int = 16 * 1024,
        maxBodyBytes: Int = 10 * 1024 * 1024,
        readTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        writeTimeout: Duration = .seconds(30),
        maxConnections: Int = 512,
        retryAfterSeconds: Int = 1,
        backlog: Int = 1024,
        threadStackBytes: Int = 1 << 20
    ) {
        self.host = host
        self.port = port
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxConnections = maxConnections
        self.retryAfterSeconds = retryAfterSeconds
        self.backlog = backlog
        self.threadStackBytes = threadStackBytes
    }
}
