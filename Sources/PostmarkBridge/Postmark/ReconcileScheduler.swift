import Foundation

/// Decides which mail servers need a reconciliation now; pure, so the serve loop only feeds it and obeys.
///
/// A server is due when it was never reconciled, when its settings changed (compared by a fingerprint of what
/// reconciliation depends on, never Odoo's `write_date`, which the bridge's own reports change), when the admin
/// pressed "Sync now", when the interval passed, or sooner after a transient failure.
public struct ReconcileScheduler: Sendable {
    /// Why a server is due.
    public enum Reason: String, Sendable, Equatable {
        /// Never reconciled by this process.
        case firstRun = "first run"
        /// The settings that reconciliation depends on changed.
        case settingsChanged = "settings changed"
        /// The admin pressed "Sync now".
        case syncRequested = "sync requested"
        /// The periodic interval passed.
        case periodic
        /// The last run failed transiently and the retry interval passed.
        case retry
    }

    /// A server that needs a run now.
    public struct Due: Sendable, Equatable {
        /// The server's settings.
        public var settings: MailServerSettings
        /// Why it is due.
        public var reason: Reason
    }

    /// What the scheduler remembers of a server's last run.
    public struct Entry: Sendable, Equatable {
        /// When the run finished.
        public var lastRun: Date
        /// ``ReconcileScheduler/fingerprint(of:callbackBaseURL:)`` of the settings the run used.
        public var settingsFingerprint: CredentialFingerprint
        /// The `revision` of settings that asked for a sync and were served, so one press runs once.
        public var servedSyncRevision: String?
        /// Whether the run failed transiently.
        public var transientFailure: Bool
    }

    /// Time between runs of a server whose last run did not fail transiently (default 15 minutes).
    public var interval: Duration
    /// Time before running again after a transient failure (default 2 minutes).
    public var retryInterval: Duration
    /// Last runs, by Odoo mail server id.
    public private(set) var entries: [Int: Entry] = [:]

    /// Creates a scheduler that has run nothing yet.
    public init(interval: Duration = .seconds(15 * 60), retryInterval: Duration = .seconds(120)) {
        self.interval = interval
        self.retryInterval = retryInterval
    }

    /// The servers among `servers` that need a run at `now`, in the order given.
    public func due(_ servers: [MailServerSettings], callbackBaseURL: URL?, now: Date) -> [Due] {
        servers.compactMap { settings in
            reason(for: settings, callbackBaseURL: callbackBaseURL, now: now).map {
                Due(settings: settings, reason: $0)
            }
        }
    }

    /// Why `settings` need a run at `now`, or `nil` when they do not.
    public func reason(for settings: MailServerSettings, callbackBaseURL: URL?, now: Date) -> Reason? {
        guard let entry = entries[settings.id] else { return .firstRun }
        if entry.settingsFingerprint != Self.fingerprint(of: settings, callbackBaseURL: callbackBaseURL) {
            return .settingsChanged
        }
        if settings.syncRequested && settings.revision != entry.servedSyncRevision {
            return .syncRequested
        }
        let wait = entry.transientFailure ? retryInterval : interval
        guard now >= entry.lastRun.addingTimeInterval(wait.timeInterval) else { return nil }
        return entry.transientFailure ? .retry : .periodic
    }

    /// The earliest time one of `servers` becomes due on the clock alone; `nil` when one is due already for
    /// another reason (run now) or `servers` is empty.
    public func nextDueDate(_ servers: [MailServerSettings], callbackBaseURL: URL?, now: Date) -> Date? {
        var earliest: Date?
        for settings in servers {
            guard let entry = entries[settings.id],
                reason(for: settings, callbackBaseURL: callbackBaseURL, now: now) == nil
            else { return nil }
            let date = entry.lastRun.addingTimeInterval(
                (entry.transientFailure ? retryInterval : interval).timeInterval)
            earliest = min(earliest ?? date, date)
        }
        return earliest
    }

    /// Records a finished run of `settings`.
    public mutating func record(_ outcome: ReconcileOutcome, settings: MailServerSettings, callbackBaseURL: URL?) {
        entries[settings.id] = Entry(
            lastRun: outcome.date,
            settingsFingerprint: Self.fingerprint(of: settings, callbackBaseURL: callbackBaseURL),
            servedSyncRevision: settings.syncRequested ? settings.revision : nil,
            transientFailure: outcome.isTransientFailure)
    }

    /// Forgets servers that are no longer Postmark-enabled, so that enabling one again reconciles it at once.
    public mutating func retain(only ids: Set<Int>) {
        entries = entries.filter { ids.contains($0.key) }
    }

    /// A digest of everything reconciliation depends on: server id, account token, current verify token, SMTP
    /// API error flag, stream, triggers and the public URL. Secrets enter only hashed.
    public static func fingerprint(of settings: MailServerSettings, callbackBaseURL: URL?) -> CredentialFingerprint {
        let triggers = settings.triggers.normalized
        let flags = [
            settings.smtpAPIErrors, triggers.delivery, triggers.bounce, triggers.bounceIncludeContent,
            triggers.spamComplaint, triggers.spamComplaintIncludeContent, triggers.open, triggers.openFirstOnly,
            triggers.click, triggers.subscriptionChange,
        ]
        return CredentialFingerprint(parts: [
            "reconcile-settings",
            settings.postmarkServerID ?? "",
            settings.accountToken ?? "",
            settings.tokens.first { $0.validUntil == nil }?.value ?? "",
            settings.messageStream,
            String(flags.map { $0 ? "1" : "0" }),
            callbackBaseURL?.absoluteString ?? "",
        ])
    }
}
