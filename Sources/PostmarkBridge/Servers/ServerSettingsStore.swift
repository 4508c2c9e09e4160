/// Where the bridge keeps the last known mail server settings, so it accepts webhooks at start even while Odoo
/// is unreachable. The inbox implements it on PostgreSQL.
public protocol ServerSettingsStore: Sendable {
    /// Replaces the stored settings with `servers`.
    func saveServers(_ servers: [MailServerSettings]) throws
    /// The stored settings; empty when none were ever saved.
    func loadServers() throws -> [MailServerSettings]
}
