import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the subcommands of `postmark-bridge` with a loaded configuration.
public enum BridgeApp {
    /// Runs `arguments.command` and returns the process exit status.
    public static func run(_ arguments: CommandLineArguments, configuration: BridgeConfiguration) async -> Int32 {
        let database = InboxDatabase(configuration: postgres(configuration))
        defer { database.close() }

        switch arguments.command {
        case .serve:
            return await serve(configuration, database: database)
        case .migrate:
            return await migrate(database)
        case .status:
            return await status(database, json: arguments.json)
        case .replay:
            return await replay(database)
        case .check:
            return await CheckCommand.run(configuration, database: database, json: arguments.json)
        case .help, .version:
            return 0
        }
    }

    /// How the inbox is reached, from `BRIDGE_DATABASE_URL`.
    static func postgres(_ configuration: BridgeConfiguration) -> PostgresConfiguration {
        PostgresConfiguration(connectionString: configuration.databaseURL)
    }

    private static func migrate(_ database: InboxDatabase) async -> Int32 {
        do {
            let applied = try await database.perform { database throws(InboxError) in try database.migrate() }
            let version = try await database.perform { database throws(InboxError) in try database.schemaVersion() }
            print(applied.isEmpty ? "inbox schema is current (version \(version))" : "applied migrations \(applied)")
            return 0
        } catch {
            CommandLineTool.printError("postmark-bridge: migrate failed: \(error)")
            return 1
        }
    }

    private static func status(_ database: InboxDatabase, json: Bool) async -> Int32 {
        do {
            let status = try await database.perform { database throws(InboxError) in try database.status() }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
            } else {
                print(StatusText.render(status))
            }
            return 0
        } catch {
            CommandLineTool.printError("postmark-bridge: status failed: \(error)")
            return 1
        }
    }

    private static func replay(_ database: InboxDatabase) async -> Int32 {
        do {
            let count = try await database.perform { database throws(InboxError) in try database.replay() }
            print("requeued \(count) parked event\(count == 1 ? "" : "s")")
            return 0
        } catch {
            CommandLineTool.printError("postmark-bridge: replay failed: \(error)")
            return 1
        }
    }

    private static func serve(_ configuration: BridgeConfiguration, database: InboxDatabase) async -> Int32 {
        let logger = Logger(label: "bridge")
        let signals = ShutdownSignal()
        logger.info("starting", ["version": bridgeVersion, "config": configuration.description])

        // The schema must be current before the first event is stored; while PostgreSQL is down the bridge waits
        // here rather than exiting, so a database restarted together with the bridge needs no manual step.
        guard await migrateUntilReady(database, signals: signals, logger: logger) else { return 0 }

        let service: BridgeService
        do {
            service = try BridgeService(
                configuration: configuration, database: database, postgres: postgres(configuration), logger: logger)
            try service.start()
        } catch {
            logger.critical("start failed", ["error": String(describing: error)])
            return 1
        }

        await signals.wait()
        logger.info("shutting down")
        await service.stop()
        logger.info("stopped")
        return 0
    }

    private static func migrateUntilReady(
        _ database: InboxDatabase,
        signals: ShutdownSignal,
        logger: Logger
    ) async -> Bool {
        var delay = Duration.seconds(1)
        while !signals.received {
            do {
                let applied = try await database.perform { database throws(InboxError) in try database.migrate() }
                if !applied.isEmpty { logger.info("inbox migrated", ["applied": "\(applied)"]) }
                return true
            } catch {
                logger.warning("inbox not reachable; retrying", ["error": error.description, "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
        return false
    }
}

/// Human-readable `status` output.
enum StatusText {
    /// The status as aligned lines for a terminal.
    static func render(_ status: InboxStatus) -> String {
        var lines = [
            "pending    \(status.pending)",
            "forwarded  \(status.forwarded)",
            "parked     \(status.parked)",
            "oldest pending: \(Int(status.oldestPendingSeconds)) s",
        ]
        if let lastError = status.lastError { lines.append("last Odoo error: \(lastError)") }
        if !status.eventsByState.isEmpty {
            lines.append("events by state:")
            for state in status.eventsByState.keys.sorted() {
                lines.append(
                    "  \(state.padding(toLength: 16, withPad: " ", startingAt: 0)) \(status.eventsByState[state]!)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Waits for SIGTERM or SIGINT, handled through Dispatch sources so no work happens in a signal handler.
///
/// `@unchecked` because Dispatch sources are not marked Sendable: they are created and resumed in `init` and never
/// touched again, and the mutable state sits behind a mutex.
final class ShutdownSignal: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let state = Mutex<(received: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Installs the handlers; from then on SIGTERM and SIGINT no longer end the process by themselves.
    init() {
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            // Ignored first so the default action (terminate) cannot race the Dispatch source.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for source in sources {
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
        }
    }

    /// Whether a signal arrived.
    var received: Bool { state.withLock { $0.received } }

    /// Returns once a signal has arrived.
    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.received { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.received = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
