import Foundation
import Synchronization

/// The mail servers the bridge accepts webhooks for, by Odoo mail server id.
///
/// Two sources: the servers file (configuration as code, fixed for the process's life) and the settings synced
/// from Odoo (``replace(with:)``), which are also kept in a ``ServerSettingsStore`` so the next start knows them
/// before Odoo answers (``loadFromStore()``). For the same id the file wins.
///
/// It also raises a rate-limited "unrecognised" signal when a webhook names an unknown server or presents a token
/// no server accepts, so the Odoo sync can refresh early instead of waiting for its next round.
public final class ServerDirectory: Sendable {
    private struct State {
        var synced: [Int: MailServerSettings] = [:]
        var lastSignal: Date?
        var onUnrecognised: (@Sendable () -> Void)?
    }

    private let fileServers: [Int: MailServerSettings]
    private let store: (any ServerSettingsStore)?
    private let signalInterval: TimeInterval
    private let clock: @Sendable () -> Date
    private let state: Mutex<State>

    /// Creates a directory.
    /// - Parameters:
    ///   - fileServers: the servers file's entries (``ServersFile/load(path:)``); they win over synced ones.
    ///   - store: where synced settings are persisted; `nil` keeps them in memory only.
    ///   - unrecognisedSignalInterval: the least time between two "unrecognised" signals, in seconds.
    ///   - clock: the current time (injectable for tests).
    ///   - onUnrecognised: called, at most once per interval, when ``noteUnrecognised()`` is.
    public init(
        fileServers: [MailServerSettings] = [],
        store: (any ServerSettingsStore)? = nil,
        unrecognisedSignalInterval: TimeInterval = 30,
        clock: @escaping @Sendable () -> Date = { Date() },
        onUnrecognised: (@Sendable () -> Void)? = nil
    ) {
        self.fileServers = Dictionary(fileServers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.store = store
        self.signalInterval = unrecognisedSignalInterval
        self.clock = clock
        self.state = Mutex(State(onUnrecognised: onUnrecognised))
    }

    /// The settings of mail server `id`, or `nil` when no source knows it.
    public func settings(for id: Int) -> MailServerSettings? {
        if let file = fileServers[id] { return file }
        return state.withLock { $0.synced[id] }
    }

    /// Every known server, file entries replacing synced ones with the same id, sorted by id.
    public var servers: [MailServerSettings] {
        let synced = state.withLock { $0.synced }
        return synced.merging(fileServers) { _, file in file }.values.sorted { $0.id < $1.id }
    }

    /// The ids defined by the servers file (the Odoo sync must not expect to change them).
    public var fileServerIDs: Set<Int> { Set(fileServers.keys) }

    /// Replaces the synced settings with `servers` (the Odoo sync's latest read), then persists them.
    ///
    /// Memory is updated first, so webhooks use the new tokens at once even if persisting fails.
    /// - Throws: the store's error when persisting fails.
    public func replace(with servers: [MailServerSettings]) throws {
        let synced = Dictionary(servers.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        state.withLock { $0.synced = synced }
        try store?.saveServers(servers)
    }

    /// Loads the last persisted settings as the synced ones (at start, before Odoo is reached).
    /// - Returns: how many servers were loaded.
    /// - Throws: the store's error; the directory is unchanged then.
    @discardableResult
    public func loadFromStore() throws -> Int {
        guard let store else { return 0 }
        let servers = try store.loadServers()
        let synced = Dictionary(servers.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        state.withLock { $0.synced = synced }
        return synced.count
    }

    /// Sets (or clears) the handler of the "unrecognised" signal.
    public func setUnrecognisedHandler(_ handler: (@Sendable () -> Void)?) {
        state.withLock { $0.onUnrecognised = handler }
    }

    /// Reports an unknown server or token; calls the handler unless it was called less than the interval ago.
    /// - Returns: whether the handler was called.
    @discardableResult
    public func noteUnrecognised() -> Bool {
        let now = clock()
        let handler: (@Sendable () -> Void)? = state.withLock { state in
            // A clock that went backwards must not silence the signal for good.
            if let last = state.lastSignal, now.timeIntervalSince(last) < signalInterval, now >= last { return nil }
            guard let handler = state.onUnrecognised else { return nil }
            state.lastSignal = now
            return handler
        }
        // Called outside the lock: the handler may read the directory.
        handler?()
        return handler != nil
    }
}
