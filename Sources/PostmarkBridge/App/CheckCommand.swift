import Foundation

/// `postmark-bridge check`: a readable first-run report on the inbox, Odoo, the addon and the mail servers.
enum CheckCommand {
    /// Runs every check, prints the report, and returns 0 when nothing failed.
    static func run(_ configuration: BridgeConfiguration, database: InboxDatabase, json: Bool) async -> Int32 {
        var steps: [OdooCheckReport.Step] = []

        do {
            let applied = try await database.perform { database throws(InboxError) in try database.migrate() }
            let version = try await database.perform { database throws(InboxError) in try database.schemaVersion() }
            let detail = applied.isEmpty ? "schema version \(version)" : "migrated to schema version \(version)"
            steps.append(.init(title: "Inbox reachable and migrated", outcome: .ok, detail: detail))
        } catch {
            steps.append(.init(title: "Inbox reachable and migrated", outcome: .failed, detail: error.description))
        }

        if let path = configuration.serversFile {
            do {
                let servers = try ServersFile.load(path: path)
                steps.append(
                    .init(title: "Servers file", outcome: .ok, detail: "\(servers.count) mail server(s) in \(path)"))
            } catch {
                steps.append(.init(title: "Servers file", outcome: .failed, detail: error.description))
            }
        }

        var servers: [OdooCheckReport.Server] = []
        if let odoo = configuration.odoo {
            let client = OdooClient(configuration: odoo, http: URLSessionHTTPClient(), logger: Logger(label: "odoo"))
            let report = await OdooCheck.run(client: client, publicURL: configuration.publicURL?.absoluteString)
            steps += report.steps
            servers = report.servers
        } else {
            steps.append(
                .init(
                    title: "Odoo configured", outcome: .warning,
                    detail: "ODOO_URL, ODOO_DB, ODOO_USER and ODOO_API_KEY are not set: events stay in the inbox"))
        }

        print(json ? renderJSON(steps, servers) : renderText(steps, servers))
        return steps.contains { $0.outcome == .failed } ? 1 : 0
    }

    /// The report as aligned lines for a terminal.
    static func renderText(_ steps: [OdooCheckReport.Step], _ servers: [OdooCheckReport.Server]) -> String {
        var lines = steps.map { step in
            let mark: String
            switch step.outcome {
            case .ok: mark = "ok  "
            case .warning: mark = "warn"
            case .failed: mark = "FAIL"
            case .skipped: mark = "skip"
            }
            return "[\(mark)] \(step.title): \(step.detail)"
        }
        for server in servers {
            lines.append(
                "       mail server \(server.id) \(server.name): "
                    + "callback \(server.callbackURL ?? "(set BRIDGE_PUBLIC_URL)")"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The report as one JSON object: `ok`, `steps` and `servers`.
    static func renderJSON(_ steps: [OdooCheckReport.Step], _ servers: [OdooCheckReport.Server]) -> String {
        let stepValues: [JSONValue] = steps.map {
            ["title": .string($0.title), "outcome": .string($0.outcome.rawValue), "detail": .string($0.detail)]
        }
        let serverValues: [JSONValue] = servers.map {
            [
                "id": .int(Int64($0.id)), "name": .string($0.name),
                "callback_url": $0.callbackURL.map(JSONValue.string) ?? .null,
            ]
        }
        let document: JSONValue = [
            "ok": .bool(!steps.contains { $0.outcome == .failed }), "steps": .array(stepValues),
            "servers": .array(serverValues),
        ]
        return document.serialized()
    }
}
