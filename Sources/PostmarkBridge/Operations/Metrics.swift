import Foundation
import Synchronization

/// One atomic integer that arrays and dictionaries can hold (an `Atomic` itself cannot be copied into them).
final class AtomicCell: Sendable {
    let value = Atomic<Int>(0)

    func add(_ amount: Int) { value.wrappingAdd(amount, ordering: .relaxed) }
    func load() -> Int { value.load(ordering: .relaxed) }
}

/// A monotonically increasing count, optionally split by label values.
///
/// Label values declared up front (`knownLabels`) are counted with atomics, so connection threads never wait for
/// each other on the request path; any other label values fall back to a mutex.
public final class Counter: Sendable {
    /// The metric name, such as `bridge_http_requests_total`.
    public let name: String
    /// The help text.
    public let help: String
    /// The label names, in order.
    public let labelNames: [String]
    private let known: [[String]: AtomicCell]
    private let others = Mutex<[[String]: Int]>([:])

    init(name: String, help: String, labelNames: [String], knownLabels: [[String]] = [[]]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        known = Dictionary(knownLabels.map { ($0, AtomicCell()) }, uniquingKeysWith: { first, _ in first })
    }

    /// Adds `amount` to the series with `labels` (one value per label name).
    public func increment(_ labels: [String] = [], by amount: Int = 1) {
        if let cell = known[labels] {
            cell.add(amount)
        } else {
            others.withLock { $0[labels, default: 0] += amount }
        }
    }

    /// The current value of one series.
    public func value(_ labels: [String] = []) -> Double {
        if let cell = known[labels] { return Double(cell.load()) }
        return Double(others.withLock { $0[labels] ?? 0 })
    }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        var snapshot = others.withLock { $0 }
        for (labels, cell) in known where cell.load() > 0 || labels.isEmpty {
            snapshot[labels] = cell.load()
        }
        for labels in snapshot.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            out += "\(name)\(Metrics.labelText(labelNames, labels)) \(snapshot[labels]!)\n"
        }
    }
}

/// A value that goes up and down, such as open connections.
public final class Gauge: Sendable {
    /// The metric name.
    public let name: String
    /// The help text.
    public let help: String
    private let current = Mutex<Double>(0)
    private let sample: (@Sendable () -> Double)?

    init(name: String, help: String, sample: (@Sendable () -> Double)? = nil) {
        self.name = name
        self.help = help
        self.sample = sample
    }

    /// Adds `amount` (negative to subtract).
    public func add(_ amount: Double) { current.withLock { $0 += amount } }

    /// Sets the value.
    public func set(_ value: Double) { current.withLock { $0 = value } }

    /// The current value.
    public var value: Double { sample?() ?? current.withLock { $0 } }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(Metrics.number(value))\n"
    }
}

/// Observations counted into fixed buckets, as Prometheus histograms; lock-free, for the request path.
public final class Histogram: Sendable {
    /// The metric name.
    public let name: String
    /// The help text.
    public let help: String
    /// Upper bounds of the buckets, ascending; `+Inf` is implied.
    public let bounds: [Double]
    private let counts: [AtomicCell]
    private let total = AtomicCell()
    // The sum is kept in millionths, so that it too can be an atomic integer.
    private let sumMillionths = AtomicCell()

    init(name: String, help: String, bounds: [Double]) {
        self.name = name
        self.help = help
        self.bounds = bounds
        counts = bounds.map { _ in AtomicCell() }
    }

    /// Records one observation.
    public func observe(_ value: Double) {
        if let bucket = bounds.firstIndex(where: { value <= $0 }) { counts[bucket].add(1) }
        sumMillionths.add(Int((value * 1_000_000).rounded()))
        total.add(1)
    }

    /// How many observations were recorded.
    public var count: UInt64 { UInt64(total.load()) }

    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += counts[index].load()
            out += "\(name)_bucket{le=\"\(Metrics.number(bound))\"} \(cumulative)\n"
        }
        // Read last, so that +Inf is never below the finite buckets read before it.
        let count = max(total.load(), cumulative)
        out += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum \(Metrics.number(Double(sumMillionths.load()) / 1_000_000))\n\(name)_count \(count)\n"
    }
}

/// The bridge's metrics, rendered in Prometheus text format at `GET /metrics`.
public final class Metrics: Sendable {
    /// HTTP responses by status code.
    public let httpRequests = Counter(
        name: "bridge_http_requests_total", help: "HTTP responses sent, by status code.", labelNames: ["status"],
        knownLabels: [200, 400, 401, 404, 405, 408, 413, 415, 429, 431, 500, 501, 503, 505].map { [String($0)] })
    /// Open client connections.
    public let openConnections = Gauge(name: "bridge_http_open_connections", help: "Client connections open now.")
    /// Accepted webhook events by record type and state.
    public let events = Counter(
        name: "bridge_webhook_events_total", help: "Webhook events stored, by record type and state.",
        labelNames: ["record_type", "state"],
        knownLabels: RecordKind.allCases.flatMap { kind in
            NotificationState.allCases.map { [kind.rawValue, $0.rawValue] }
        })
    /// Redelivered events answered without a second row.
    public let duplicates = Counter(
        name: "bridge_webhook_duplicates_total", help: "Redelivered webhook events recognised as duplicates.",
        labelNames: [])
    /// Webhooks refused, by reason.
    public let rejections = Counter(
        name: "bridge_webhook_rejections_total", help: "Webhook requests refused, by reason.", labelNames: ["reason"],
        knownLabels: WebhookError.Code.allCases.map { [$0.rawValue] })
    /// Seconds from a webhook's arrival at the inbox to its commit.
    public let storeLatency = Histogram(
        name: "bridge_inbox_store_seconds", help: "Time to commit one webhook event to the inbox.",
        bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
    /// Events per group commit.
    public let commitBatchSize = Histogram(
        name: "bridge_inbox_commit_batch_size", help: "Events written per group commit.",
        bounds: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    private let extra = Mutex<[Gauge]>([])
    private let texts = Mutex<[@Sendable () -> String]>([])

    /// Creates an empty registry.
    public init() {}

    /// Adds a gauge read from `sample` each time metrics are rendered.
    public func addSampledGauge(name: String, help: String, sample: @escaping @Sendable () -> Double) {
        extra.withLock { $0.append(Gauge(name: name, help: help, sample: sample)) }
    }

    /// Adds metrics rendered by another component, already in Prometheus text format.
    public func addText(_ render: @escaping @Sendable () -> String) {
        texts.withLock { $0.append(render) }
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        var out = ""
        httpRequests.render(into: &out)
        openConnections.render(into: &out)
        events.render(into: &out)
        duplicates.render(into: &out)
        rejections.render(into: &out)
        storeLatency.render(into: &out)
        commitBatchSize.render(into: &out)
        for gauge in extra.withLock({ $0 }) { gauge.render(into: &out) }
        for render in texts.withLock({ $0 }) { out += render() }
        return out
    }

    static func labelText(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        let pairs = zip(names, values).map { name, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
            return "\(name)=\"\(escaped)\""
        }
        return "{\(pairs.joined(separator: ","))}"
    }

    static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
