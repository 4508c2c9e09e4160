import Foundation

/// The Odoo half of `postmark-bridge check`: what works and what to fix, as values the command prints.
public struct OdooCheckReport: Sendable {
    /// One line of the report.
    public struct Step: Sendable, Equatable {
        /// How a step went.
        public enum Outcome: String, Sendable {
            /// It works.
            case ok
            /// It works, but something deserves attention.
            case warning
            /// It does not work; `detail` says what to fix.
            case failed
            /// Not tried, because an earlier step failed.
            case skipped
        }

        /// What was checked, such as `Odoo reachable`.
        public var title: String
        /// How it went.
        public var outcome: Outcome
        /// What was found, or what to fix.
        public var detail: String
    }

    /// A Postmark-enabled mail server and the URL to give Postmark for it.
    public struct Server: Sendable, Equatable {
        /// The `ir.mail_server` id.
        public var id: Int
        /// Its name in Odoo.
        public var name: String
        /// `BRIDGE_PUBLIC_URL` + `/postmark/webhook/<id>`, when the public URL is known.
        public var callbackURL: String?
        /// Whether a webhook verify token is set.
        public var hasToken: Bool
        /// Postmark's server id, when set.
        public var postmarkServerID: String?
    }

    /// The checks in the order they ran.
    public var steps: [Step] = []
    /// The server version, when Odoo answered.
    public var version: OdooServerVersion?
    /// The session, when the login worked.
    public var session: OdooSession?
    /// The addon's module state (`installed`, `to upgrade`, …), when it could be read.
    public var addonState: String?
    /// The Postmark-enabled mail servers, when they could be read.
    public var servers: [Server] = []

    /// Whether no step failed.
    public var isSuccessful: Bool { !steps.contains { $0.outcome == .failed } }
}

/// Builds the Odoo half of `postmark-bridge check`.
public enum OdooCheck {
    /// Checks that Odoo answers, the login works, the addon is installed and matches the bridge, and lists the
    /// Postmark servers with their callback URLs. Never throws: every problem is a failed step.
    ///
    /// - Parameters:
    ///   - publicURL: `BRIDGE_PUBLIC_URL`, to show each server's callback URL.
    ///   - includeArchivedServers: as the settings sync is configured.
    public static func run(
        client: OdooClient,
        publicURL: String?,
        includeArchivedServers: Bool = false
    ) async -> OdooCheckReport {
        var report = OdooCheckReport()
        let target = "\(client.configuration.url.absoluteString), database \(client.configuration.database)"

        do {
            let version = try await client.serverVersion()
            report.version = version
            report.steps.append(.init(title: "Odoo reachable", outcome: .ok, detail: "Odoo \(version) at \(target)"))
        } catch {
            report.steps.append(.init(title: "Odoo reachable", outcome: .failed, detail: error.description))
            skipRest(after: 0, in: &report)
            return report
        }

        do {
            let session = try await client.login()
            report.session = session
            let uid = session.uid.map { "uid \($0)" } ?? "uid not reported"
            report.steps.append(
                .init(
                    title: "Login",
                    outcome: .ok,
                    detail: "\(client.configuration.login) logged in (\(uid)) over \(session.transport.rawValue)"
                )
            )
        } catch {
            report.steps.append(.init(title: "Login", outcome: .failed, detail: error.description))
            skipRest(after: 1, in: &report)
            return report
        }

        let addonWorks = await checkAddon(client: client, report: &report)
        guard addonWorks else {
            skipRest(after: 2, in: &report)
            return report
        }

        await checkServers(
            client: client, publicURL: publicURL, includeArchivedServers: includeArchivedServers, report: &report
        )
        return report
    }

    /// The steps' titles, in order.
    static let titles = ["Odoo reachable", "Login", "Addon installed", "Postmark mail servers"]

    private static func skipRest(after index: Int, in report: inout OdooCheckReport) {
        for title in titles.dropFirst(index + 1) {
            report.steps.append(.init(title: title, outcome: .skipped, detail: "needs the steps above"))
        }
    }

    private static func checkAddon(client: OdooClient, report: inout OdooCheckReport) async -> Bool {
        let title = titles[2]

        // The module list may be closed to the bridge's least-privileged user; the model's fields say enough.
        if let modules = try? await client.call(
            "ir.module.module", "search_read",
            arguments: [
                "domain": [["name", "=", .string(BridgeContract.addonName)]], "fields": ["state", "latest_version"],
            ],
            tracked: false
        ), let module = modules.arrayValue?.first {
            report.addonState = module["state"]?.odooString
        }

        let fields: JSONValue
        do {
            fields = try await client.call(
                BridgeContract.notificationModel, "fields_get", arguments: ["attributes": ["type"]]
            )
        } catch {
            report.steps.append(.init(title: title, outcome: .failed, detail: error.description))
            return false
        }
        let present = Set(fields.objectValue?.keys.map { $0 } ?? [])
        let missing = BridgeContract.notificationFields.subtracting(BridgeContract.adminOnlyNotificationFields)
            .subtracting(present).sorted()
        guard missing.isEmpty else {
            let detail =
                "\(BridgeContract.notificationModel) lacks fields \(missing.joined(separator: ", ")); fix: "
                + (OdooError.Code.addonOutdated.remedy ?? "")
            report.steps.append(.init(title: title, outcome: .failed, detail: detail))
            return false
        }

        let state = report.addonState ?? "state not readable by the bridge user"
        let outcome: OdooCheckReport.Step.Outcome = report.addonState == "to upgrade" ? .warning : .ok
        report.steps.append(
            .init(
                title: title, outcome: outcome,
                detail: "\(BridgeContract.addonName) (\(state)), fields match the bridge")
        )
        return true
    }

    private static func checkServers(
        client: OdooClient,
        publicURL: String?,
        includeArchivedServers: Bool,
        report: inout OdooCheckReport
    ) async {
        let title = titles[3]
        let records: [JSONValue]
        do {
            records = try await client.readPostmarkMailServers(
                fields: MailServerRecords.fields, includeArchived: includeArchivedServers
            )
        } catch {
            report.steps.append(.init(title: title, outcome: .failed, detail: error.description))
            return
        }

        let settings = MailServerRecords.settings(from: records)
        report.servers = settings.map { server in
            OdooCheckReport.Server(
                id: server.id, name: server.name,
                callbackURL: publicURL.map { callbackURL(publicURL: $0, id: server.id) },
                hasToken: !server.tokens.isEmpty, postmarkServerID: server.postmarkServerID
            )
        }

        var problems: [String] = []
        if settings.isEmpty { problems.append("no outgoing mail server has Postmark enabled") }
        let tokenless = settings.filter { $0.tokens.isEmpty }.map { String($0.id) }
        if !tokenless.isEmpty {
            problems.append("no webhook verify token on server \(tokenless.joined(separator: ", "))")
        }
        if publicURL == nil { problems.append("BRIDGE_PUBLIC_URL is not set, so callback URLs are unknown") }

        let detail = (["\(settings.count) Postmark mail server(s)"] + problems).joined(separator: "; ")
        report.steps.append(.init(title: title, outcome: problems.isEmpty ? .ok : .warning, detail: detail))
    }

    /// The callback URL of a mail server: the public URL without trailing slashes, then `/postmark/webhook/<id>`.
    public static func callbackURL(publicURL: String, id: Int) -> String {
        var base = publicURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + BridgeContract.webhookPath(mailServerID: id)
    }
}
