import Foundation

/// Creates notification records in Odoo; what the dispatcher needs of Odoo.
public protocol NotificationIngesting: Sendable {
    /// Creates the notifications whose `dedupe_key` Odoo does not have yet, in one transaction, and returns the record
    /// id of every given key, existing ones included.
    func ingestNotifications(_ valsList: [[String: JSONValue]]) async throws(OdooError) -> [String: Int]
}

extension OdooClient: NotificationIngesting {
    /// Calls `postmark.notification.bridge_ingest(vals_list)` with the batch timeout.
    public func ingestNotifications(_ valsList: [[String: JSONValue]]) async throws(OdooError) -> [String: Int] {
        let result = try await call(
            BridgeContract.notificationModel, BridgeContract.ingestMethod,
            arguments: ["vals_list": .array(valsList.map(JSONValue.object))],
            timeout: configuration.batchTimeout
        )
        guard let members = result.objectValue else {
            throw OdooError(code: .invalidResponse, message: "bridge_ingest did not return an object of record ids")
        }
        var ids: [String: Int] = [:]
        ids.reserveCapacity(members.count)
        for (key, value) in members {
            guard let id = value.odooID else {
                throw OdooError(
                    code: .invalidResponse, message: "bridge_ingest returned a record id that is not a number")
            }
            ids[key] = id
        }
        return ids
    }

    /// Calls `ir.mail_server.postmark_bridge_hello(public_url)`, which stores the bridge's public URL in Odoo, and
    /// returns what Odoo answers (`{server_version, addon_version}`).
    public func sayHello(publicURL: String) async throws(OdooError) -> JSONValue {
        try await call(
            BridgeContract.mailServerModel, BridgeContract.helloMethod, arguments: ["public_url": .string(publicURL)]
        )
    }

    /// Calls `ir.mail_server.postmark_bridge_report(reports)`: each report is `{id, <fields written by the bridge>}`.
    public func reportMailServers(_ reports: [[String: JSONValue]]) async throws(OdooError) {
        guard !reports.isEmpty else { return }
        _ = try await call(
            BridgeContract.mailServerModel, BridgeContract.reportMethod,
            arguments: ["reports": .array(reports.map(JSONValue.object))]
        )
    }

    /// Reads the Postmark-enabled mail servers with `search_read`, `fields` as given, ordered by id.
    ///
    /// - Parameter includeArchived: also read archived servers (`active_test: false`).
    public func readPostmarkMailServers(fields: [String], includeArchived: Bool) async throws(OdooError) -> [JSONValue]
    {
        let result = try await call(
            BridgeContract.mailServerModel, "search_read",
            arguments: [
                "domain": [["postmark_enabled", "=", true]],
                "fields": .array(fields.map(JSONValue.string)),
                "order": "id",
            ],
            context: includeArchived ? ["active_test": false] : nil
        )
        guard let records = result.arrayValue else {
            throw OdooError(code: .invalidResponse, message: "search_read did not return a list")
        }
        return records
    }
}
