import Foundation

/// An inbox event claimed for forwarding to Odoo.
public struct PendingEvent: Sendable, Equatable {
    /// The inbox row id.
    public var id: Int64
    /// The Odoo `ir.mail_server` id the webhook was addressed to.
    public var mailServerID: Int
    /// The key Odoo keeps unique, so a second forward of the same event creates nothing.
    public var dedupeKey: String
    /// How many forwarding attempts failed before this one.
    public var attempts: Int
    /// When the bridge accepted the webhook.
    public var receivedAt: Date
    /// The request body as received.
    public var payload: [UInt8]

    /// Creates a pending event from its parts.
    public init(id: Int64, mailServerID: Int, dedupeKey: String, attempts: Int, receivedAt: Date, payload: [UInt8]) {
        self.id = id
        self.mailServerID = mailServerID
        self.dedupeKey = dedupeKey
        self.attempts = attempts
        self.receivedAt = receivedAt
        self.payload = payload
    }
}

/// Where the dispatcher takes events from and reports outcomes to.
public protocol ForwardingQueue: Sendable {
    /// Claims up to `limit` due events for `lease`; claimed events are invisible to other claimers until the lease
    /// ends.
    func claim(limit: Int, lease: Duration) throws -> [PendingEvent]

    /// Extends the lease of events still claimed and pending to `lease` from now; forwarded, parked and rescheduled
    /// events are left alone.
    func extendLease(_ ids: [Int64], lease: Duration) throws

    /// Marks events as forwarded, with the Odoo record id of each, keyed by inbox id.
    func markForwarded(_ odooIDs: [Int64: Int]) throws

    /// Puts events back for a later attempt, recording the error.
    func reschedule(_ ids: [Int64], notBefore: Date, error: String) throws

    /// Parks an event Odoo refused for good, with Odoo's reason.
    func park(_ id: Int64, reason: String) throws
}
