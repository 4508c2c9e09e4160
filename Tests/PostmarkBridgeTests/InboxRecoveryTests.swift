import Foundation
import Testing

@testable import PostmarkBridge

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct InboxRecoveryTests {
    /// A store that reaches the test database through `proxy`, with short timeouts and reconnect delays.
    func makeStore(_ database: TestDatabase, proxy: TCPProxy, waitTimeout: Duration = .seconds(5)) -> InboxStore {
        var configuration = database.configuration
            .overriding("host", "127.0.0.1")
            .overriding("hostaddr", "127.0.0.1")
            .overriding("port", String(proxy.port))
        configuration.connectTimeout = .seconds(2)
        configuration.statementTimeout = .seconds(2)
        return InboxStore(
            configuration: .init(
                database: configuration,
                writers: 2,
                waitTimeout: waitTimeout,
                reconnectDelay: .milliseconds(20),
                maxReconnectDelay: .milliseconds(200)
            )
        )
    }

    @Test func storesFailFastWhileTheDatabaseIsGoneAndSucceedOnceItIsBack() throws {
        try withTestDatabase { database in
            try database.migratedInbox().close()
            let proxy = try TCPProxy(upstreamOf: database)
            defer { proxy.stop() }
            let store = makeStore(database, proxy: proxy)
            defer { store.close() }
            _ = try store.store(sampleEvent("before"))

            proxy.cut()
            var errors: [InboxError] = []
            for index in 0..<20 {
                #expect(throws: InboxError.self) {
                    do throws(InboxError) {
                        _ = try store.store(sampleEvent("during-\(index)"))
                    } catch {
                        errors.append(error)
                        throw error
                    }
                }
            }
            #expect(errors.allSatisfy { $0.isTransient })
            #expect(errors.last?.code == .unavailable)
            #expect(!store.isAvailable)

            proxy.restore()
            try waitUntil("the store recovers") { (try? store.store(sampleEvent("after"))) != nil }

            #expect(store.isAvailable)
            #expect(try rowCount(database) == 2)
        }
    }

    @Test func hungDatabaseTimesOutInsteadOfHanging() throws {
        try withTestDatabase { database in
            try database.migratedInbox().close()
            let proxy = try TCPProxy(upstreamOf: database)
            defer { proxy.stop() }
            let store = makeStore(database, proxy: proxy, waitTimeout: .milliseconds(500))
            defer { store.close() }
            _ = try store.store(sampleEvent("before"))

            proxy.stall()
            let error = #expect(throws: InboxError.self) { try store.store(sampleEvent("stalled")) }

            #expect(error?.code == .timedOut)
            proxy.restore()
            try waitUntil("the store recovers") { (try? store.store(sampleEvent("after"))) != nil }
        }
    }

    @Test func serverSideDisconnectBetweenBatchesIsInvisibleToCallers() throws {
        try withTestDatabase { database in
            try database.migratedInbox().close()
            let store = InboxStore(configuration: .init(database: database.configuration, writers: 1))
            defer { store.close() }
            _ = try store.store(sampleEvent("first"))
            let admin = try database.connect()
            defer { admin.close() }

            try admin.execute(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                """
            )
            let outcome = try store.store(sampleEvent("second"))

            #expect(outcome != .duplicate(nil))
            #expect(try rowCount(database) == 2)
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of the test database, which a test can cut (connections reset, new ones
/// closed at once), stall (bytes swallowed) and restore.
final class TCPProxy: @unchecked Sendable {
    private enum Mode { case forward, refuse, stall }

    /// The local port the proxy listens on.
    let port: Int
    private let listener: Int32
    private let upstreamHost: String
    private let upstreamPort: Int
    private let lock = NSLock()
    private var mode = Mode.forward
    private var open: Set<Int32> = []
    private var isStopped = false

    /// Starts a proxy to the server `database` lives on.
    convenience init(upstreamOf database: TestDatabase) throws {
        let connection = try database.connect()
        defer { connection.close() }
        let address = try #require(connection.serverAddress)
        try self.init(host: address.host, port: Int(address.port) ?? 5432)
    }

    init(host: String, port upstream: Int) throws {
        upstreamHost = host
        upstreamPort = upstream
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// Resets every open connection and closes new ones at once, as a stopped server would.
    func cut() {
        lock.lock()
        defer { lock.unlock() }
        mode = .refuse
        for descriptor in open { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Keeps connections open but swallows every byte, as a hung server or a lost network would.
    func stall() {
        lock.lock()
        defer { lock.unlock() }
        mode = .stall
    }

    /// Forwards again.
    func restore() {
        lock.lock()
        defer { lock.unlock() }
        mode = .forward
    }

    /// Stops listening and resets every connection.
    func stop() {
        cut()
        lock.lock()
        isStopped = true
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private var currentMode: Mode {
        lock.lock()
        defer { lock.unlock() }
        return mode
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            lock.lock()
            let stopped = isStopped
            let refuse = mode == .refuse
            lock.unlock()
            if stopped {
                if client >= 0 { close(client) }
                close(listener)
                return
            }
            guard client >= 0 else { continue }
            guard !refuse, let server = connectUpstream() else {
                close(client)
                continue
            }
            lock.lock()
            open.formUnion([client, server])
            lock.unlock()
            let remaining = LockedBox(2)
            let finish: @Sendable () -> Void = { [self] in
                guard
                    remaining.mutate({
                        $0 -= 1; return $0
                    }) == 0
                else { return }
                lock.lock()
                open.subtract([client, server])
                lock.unlock()
                close(client)
                close(server)
            }
            Thread { [self] in
                pump(from: client, to: server)
                finish()
            }.start()
            Thread { [self] in
                pump(from: server, to: client)
                finish()
            }.start()
        }
    }

    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        loop: while true {
            let count = read(source, &buffer, buffer.count)
            if count <= 0 { break }
            if currentMode == .stall { continue }
            var offset = 0
            while offset < count {
                let written = buffer[offset..<count].withUnsafeBytes { write(destination, $0.baseAddress, $0.count) }
                if written <= 0 { break loop }
                offset += written
            }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }

    private func connectUpstream() -> Int32? {
        if upstreamHost.hasPrefix("/") {
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array("\(upstreamHost)/.s.PGSQL.\(upstreamPort)".utf8CString)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.prefix(raw.count - 1).enumerated() { raw[index] = UInt8(bitPattern: byte) }
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if connected == 0 { return descriptor }
            close(descriptor)
            return nil
        }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: upstreamPort)
        address.sin_addr.s_addr = inet_addr(upstreamHost == "localhost" ? "127.0.0.1" : upstreamHost)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if connected == 0 { return descriptor }
        close(descriptor)
        return nil
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// Stops and starts the real test server with `BRIDGE_TEST_PG_CTL`. Every other database test running at the same
/// time would fail with it, so it runs only when asked, alone:
/// `BRIDGE_TEST_RESTART=1 scripts/with-postgres.sh swift test --filter InboxRestartTests`.
@Suite(
    .enabled(
        if: TestDatabase.isConfigured && ProcessInfo.processInfo.environment["BRIDGE_TEST_RESTART"] != nil
            && ProcessInfo.processInfo.environment["BRIDGE_TEST_PG_CTL"] != nil,
        "set BRIDGE_TEST_RESTART=1 to stop and start the test server"
    )
)
struct InboxRestartTests {
    @Test func storeAndQueueSurviveAServerRestart() throws {
        try withTestDatabase { database in
            let inbox = try database.migratedInbox()
            defer { inbox.close() }
            var configuration = database.configuration
            configuration.connectTimeout = .seconds(2)
            let store = InboxStore(
                configuration: .init(
                    database: configuration,
                    reconnectDelay: .milliseconds(20),
                    maxReconnectDelay: .milliseconds(200)
                )
            )
            defer { store.close() }
            _ = try store.store(sampleEvent("before"))
            _ = try inbox.status()

            try pgCtl("stop", "-m", "fast")
            let whileDown = #expect(throws: InboxError.self) { try store.store(sampleEvent("down")) }
            #expect(whileDown?.isTransient == true)
            try pgCtl("start")
            try waitUntil("the store recovers") { (try? store.store(sampleEvent("after"))) != nil }

            #expect(try inbox.status().pending == 2)
        }
    }

    /// Runs the `BRIDGE_TEST_PG_CTL` script and waits for it (with `waitpid`: Foundation's `Process` can miss the
    /// exit of a child that itself forks a daemon).
    private func pgCtl(_ arguments: String...) throws {
        let script = ProcessInfo.processInfo.environment["BRIDGE_TEST_PG_CTL"]!
        let argv = ([script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, script, &actions, nil, argv, environ)
        try #require(spawned == 0, "cannot run BRIDGE_TEST_PG_CTL")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}

        #expect(status == 0, "pg_ctl \(arguments.joined(separator: " ")) exited with \(status)")
    }
}
