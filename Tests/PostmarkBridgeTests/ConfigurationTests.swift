import Foundation
import Testing

@testable import PostmarkBridge

@Suite struct ConfigurationTests {
    let minimal = ["BRIDGE_DATABASE_URL": "postgresql://bridge:s3cret@127.0.0.1/inbox"]

    @Test func appliesDocumentedDefaults() throws {
        let configuration = try BridgeConfiguration.load(environment: minimal)
        #expect(configuration.listenHost == "127.0.0.1")
        #expect(configuration.listenPort == 8080)
        #expect(configuration.postmarkAPIURL.absoluteString == "https://api.postmarkapp.com")
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .text)
        #expect(configuration.odoo == nil)
        #expect(configuration.maxBodyBytes == 10 << 20)
    }

    @Test func requiresTheDatabaseURL() {
        #expect(throws: ConfigurationError(code: .missing, variable: "BRIDGE_DATABASE_URL")) {
            try BridgeConfiguration.load(environment: ["BRIDGE_DATABASE_URL": "  "])
        }
    }

    @Test func namesTheMissingOdooVariablesWithoutValues() throws {
        var environment = minimal
        environment["ODOO_URL"] = "http://127.0.0.1:8069"
        environment["ODOO_API_KEY"] = "k3y-that-must-not-leak"
        do {
            _ = try BridgeConfiguration.load(environment: environment)
            Issue.record("an incomplete Odoo configuration was accepted")
        } catch {
            #expect(error.code == .incomplete(missing: ["ODOO_DB", "ODOO_USER"]))
            #expect(!error.description.contains("k3y"))
            #expect(error.description.contains("ODOO_DB"))
        }
    }

    @Test(
        "rejects bad values and names the variable",
        arguments: [
            ("BRIDGE_LISTEN", "9090"), ("BRIDGE_LISTEN", "host:99999"), ("LOG_LEVEL", "loud"),
            ("LOG_FORMAT", "xml"), ("BRIDGE_PUBLIC_URL", "ftp://x"), ("BRIDGE_MAX_BODY_BYTES", "12abc"),
            ("BRIDGE_MAX_CONNECTIONS", "0"), ("POSTMARK_API_URL", "not a url"),
        ]
    )
    func rejectsBadValues(variable: String, value: String) {
        var environment = minimal
        environment[variable] = value
        do {
            _ = try BridgeConfiguration.load(environment: environment)
            Issue.record("\(variable) accepted an invalid value")
        } catch {
            #expect(error.variable == variable)
            #expect(!error.description.contains(value))
        }
    }

    @Test func parsesEverything() throws {
        let configuration = try BridgeConfiguration.load(environment: [
            "BRIDGE_DATABASE_URL": "dbname=inbox", "ODOO_URL": "http://127.0.0.1:8069", "ODOO_DB": "prod",
            "ODOO_USER": "postmark-bridge", "ODOO_API_KEY": "abc", "BRIDGE_LISTEN": "[::1]:0",
            "BRIDGE_PUBLIC_URL": "https://bridge.example.com/", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json",
        ])
        #expect(configuration.odoo?.database == "prod")
        #expect(configuration.listenHost == "::1")
        #expect(configuration.listenPort == 0)
        #expect(configuration.publicURL?.absoluteString == "https://bridge.example.com")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .json)
        #expect(!String(describing: configuration).contains("abc"))
        #expect(!String(describing: configuration.odoo!).contains("abc"))
    }
}

@Suite struct MetricsTests {
    @Test func rendersPrometheusText() {
        let metrics = Metrics()
        metrics.httpRequests.increment(["200"])
        metrics.httpRequests.increment(["200"])
        metrics.httpRequests.increment(["401"])
        metrics.storeLatency.observe(0.002)
        metrics.storeLatency.observe(3)
        let text = metrics.render()
        #expect(text.contains("bridge_http_requests_total{status=\"200\"} 2\n"))
        #expect(text.contains("bridge_http_requests_total{status=\"401\"} 1\n"))
        #expect(text.contains("bridge_inbox_store_seconds_bucket{le=\"0.0025\"} 1\n"))
        #expect(text.contains("bridge_inbox_store_seconds_bucket{le=\"+Inf\"} 2\n"))
        #expect(text.contains("bridge_inbox_store_seconds_count 2\n"))
    }
}
