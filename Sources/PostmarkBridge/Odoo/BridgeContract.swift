/// The names the bridge and the `wk_postmark_notification` addon agree on, as in the addon's
/// `bridge_contract.json`; a test compares the two so neither side drifts.
public enum BridgeContract {
    /// The addon's technical name.
    public static let addonName = "wk_postmark_notification"
    /// The group the bridge's Odoo user belongs to.
    public static let bridgeGroup = "wk_postmark_notification.group_postmark_bridge"

    /// The model of one Postmark event.
    public static let notificationModel = "postmark.notification"
    /// `@api.model bridge_ingest(vals_list) -> {dedupe_key: id}`.
    public static let ingestMethod = "bridge_ingest"
    /// The fields the bridge may put in a notification's values.
    public static let notificationFields: Set<String> = [
        "dedupe_key", "state", "record_type", "mail_server_id", "recipient", "subject", "postmark_message_id",
        "event_date", "message_stream", "tag", "metadata", "bounce_type", "bounce_code", "bounce_id", "description",
        "details", "inactive", "first_open", "client_name", "os_name", "platform", "user_agent", "geo_country",
        "geo_city", "click_location", "link_url", "payload",
    ]

    /// Fields of ``notificationFields`` that only administrators see (the raw payload): `fields_get` hides them from
    /// the bridge's user, while `bridge_ingest` still writes them, so the `check` command does not expect them.
    public static let adminOnlyNotificationFields: Set<String> = ["payload"]

    /// Odoo's outgoing mail server model.
    public static let mailServerModel = "ir.mail_server"
    /// `@api.model postmark_bridge_report(reports) -> True`.
    public static let reportMethod = "postmark_bridge_report"
    /// `@api.model postmark_bridge_hello(public_url) -> {server_version, addon_version}`.
    public static let helloMethod = "postmark_bridge_hello"
    /// The mail server fields the bridge reads.
    public static let mailServerFieldsRead: [String] = [
        "id", "name", "postmark_enabled", "postmark_server_id", "postmark_account_token", "postmark_webhook_token",
        "postmark_webhook_token_previous", "postmark_webhook_token_previous_until", "postmark_smtp_api_errors",
        "postmark_message_stream", "postmark_trigger_delivery", "postmark_trigger_bounce",
        "postmark_bounce_include_content", "postmark_trigger_spam_complaint", "postmark_spam_include_content",
        "postmark_trigger_open", "postmark_open_first_only", "postmark_trigger_click",
        "postmark_trigger_subscription_change", "postmark_sync_requested", "write_date",
    ]
    /// The mail server fields the bridge writes through ``reportMethod``.
    public static let mailServerFieldsWritten: Set<String> = [
        "postmark_sync_state", "postmark_sync_message", "postmark_sync_date", "postmark_last_event_date",
        "postmark_auth_failure_count", "postmark_last_auth_failure_date", "postmark_sync_requested",
    ]

    /// The path of a mail server's webhook on the bridge, to append to `BRIDGE_PUBLIC_URL`.
    public static func webhookPath(mailServerID: Int) -> String { "/postmark/webhook/\(mailServerID)" }
}
