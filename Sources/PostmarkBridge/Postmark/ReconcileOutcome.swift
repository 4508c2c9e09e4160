import Foundation

/// The sync states of a mail server, as the bridge contract (`mail_server.sync_states`) names them.
public enum PostmarkSyncState: String, Sendable, Equatable, CaseIterable {
    /// Nothing was configured on Postmark's side yet (settings incomplete).
    case never
    /// The admin asked for a sync that has not run yet.
    case pending
    /// Postmark matches the settings.
    case ok
    /// The last reconciliation failed; the message says why.
    case error
}

/// What one reconciliation did and what the admin should read about it.
///
/// Carries no secrets: ``message`` and ``applied`` name ids, streams and trigger names only.
public struct ReconcileOutcome: Sendable, Equatable {
    /// A change that was made on Postmark's side.
    public enum Applied: Sendable, Equatable {
        /// `EnableSmtpApiErrorHooks` was set to this value.
        case smtpApiErrorHooks(Bool)
        /// The bridge's webhook was created with this id.
        case webhookCreated(id: Int64)
        /// The bridge's webhook was updated for these reasons.
        case webhookUpdated(id: Int64, reasons: [ReconcilePlan.UpdateReason])
        /// One of the bridge's own extra webhooks was deleted.
        case webhookDeleted(id: Int64, messageStream: String, reason: ReconcilePlan.DeleteReason)
    }

    /// The Odoo `ir.mail_server` id.
    public var mailServerID: Int
    /// The state to show the admin.
    public var state: PostmarkSyncState
    /// An admin-readable summary, such as `SMTP API error hooks on; Webhook created`.
    public var message: String
    /// The changes made, in order (including those of attempts that later failed).
    public var applied: [Applied]
    /// The error that ended the reconciliation, if any.
    public var error: PostmarkAPIError?
    /// How many passes were made (1 unless transient errors were retried).
    public var attempts: Int
    /// The bridge's webhook on the chosen stream after the run, when known.
    public var webhookID: Int64?
    /// When the reconciliation finished.
    public var date: Date

    /// Creates an outcome.
    public init(
        mailServerID: Int,
        state: PostmarkSyncState,
        message: String,
        applied: [Applied] = [],
        error: PostmarkAPIError? = nil,
        attempts: Int = 0,
        webhookID: Int64? = nil,
        date: Date
    ) {
        self.mailServerID = mailServerID
        self.state = state
        self.message = message
        self.applied = applied
        self.error = error
        self.attempts = attempts
        self.webhookID = webhookID
        self.date = date
    }

    /// Whether the run failed for a reason that may go away by itself (Postmark down, slow, rate limiting), so
    /// a scheduler may try again sooner than its usual interval.
    public var isTransientFailure: Bool { error?.isTransient ?? false }

    /// The record for the contract's `report_method` (`postmark_bridge_report`): the mail server id and the
    /// fields the bridge writes (`postmark_sync_state`, `_message`, `_date` in Odoo's UTC format, and
    /// `postmark_sync_requested` cleared), as `OdooBridgeAPI.reportMailServers` takes it.
    public var odooReport: [String: JSONValue] {
        [
            "id": .int(Int64(mailServerID)),
            "postmark_sync_state": .string(state.rawValue),
            "postmark_sync_message": .string(message),
            "postmark_sync_date": .string(OdooDateTime.string(from: date)),
            "postmark_sync_requested": false,
        ]
    }
}

extension ReconcileOutcome.Applied {
    /// The admin-readable phrase for this change.
    public var message: String {
        switch self {
        case .smtpApiErrorHooks(let enabled):
            return enabled ? "SMTP API error hooks on" : "SMTP API error hooks off"
        case .webhookCreated:
            return "Webhook created"
        case .webhookUpdated(_, let reasons):
            return "Webhook updated (\(reasons.map(\.description).joined(separator: ", ")))"
        case .webhookDeleted(let id, let stream, .duplicate):
            return "Removed duplicate webhook \(id) on stream \(stream)"
        case .webhookDeleted(let id, let stream, .otherStream):
            return "Removed the bridge's old webhook \(id) on stream \(stream)"
        }
    }
}
