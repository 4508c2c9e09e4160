import Foundation

/// A Prometheus-style histogram: counts of observations at or below each bound, plus their sum and count.
public struct DispatcherHistogram: Sendable, Equatable {
    /// The upper bounds of the buckets, ascending; a last `+Inf` bucket is implied.
    public let bounds: [Double]
    /// Observations per bucket (not cumulative), one more than `bounds` for `+Inf`.
    public private(set) var counts: [Int]
    /// The sum of all observations.
    public private(set) var sum: Double = 0
    /// The number of observations.
    public private(set) var count: Int = 0

    /// Creates an empty histogram with the given bucket bounds.
    public init(bounds: [Double]) {
        self.bounds = bounds.sorted()
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// Adds one observation.
    public mutating func observe(_ value: Double) {
        let index = bounds.firstIndex { value <= $0 } ?? bounds.count
        counts[index] += 1
        sum += value
        count += 1
    }

    /// Cumulative counts per bound, as Prometheus exposes them; the last entry is `+Inf`.
    public var cumulativeCounts: [Int] {
        var total = 0
        return counts.map {
            total += $0
            return total
        }
    }

    /// The histogram in Prometheus text format under `name`.
    public func prometheusLines(name: String, help: String) -> [String] {
        var lines = ["# HELP \(name) \(help)", "# TYPE \(name) histogram"]
        let cumulative = cumulativeCounts
        for (index, bound) in bounds.enumerated() {
            lines.append("\(name)_bucket{le=\"\(Self.format(bound))\"} \(cumulative[index])")
        }
        lines.append("\(name)_bucket{le=\"+Inf\"} \(cumulative.last ?? 0)")
        lines.append("\(name)_sum \(Self.format(sum))")
        lines.append("\(name)_count \(count)")
        return lines
    }

    /// A number as Prometheus prints it: integers without a fraction.
    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// What the dispatcher did since start, for `/metrics` and `status`.
public struct DispatcherStatistics: Sendable {
    /// Events Odoo confirmed and the inbox marked forwarded.
    public var forwarded = 0
    /// `bridge_ingest` calls that succeeded.
    public var batches = 0
    /// Events per successful `bridge_ingest` call.
    public var batchSizes = DispatcherHistogram(bounds: [1, 5, 10, 25, 50, 100, 250, 500, 1000])
    /// Seconds from the webhook's acceptance to Odoo's confirmation, per forwarded event.
    public var forwardLatency = DispatcherHistogram(bounds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600])
    /// Events put back for a later attempt.
    public var retried = 0
    /// Events parked because Odoo refused them for good.
    public var parked = 0
    /// Failed Odoo calls, by kind.
    public var odooErrors: [OdooError.Kind: Int] = [:]
    /// The last Odoo error, as text safe for logs; kept after recovery so `status` can show it.
    public var lastOdooError: String?
    /// When the last Odoo error happened.
    public var lastOdooErrorAt: Date?
    /// Inbox operations (claim, mark, reschedule, park) that failed.
    public var inboxErrors = 0
    /// Batches being forwarded right now.
    public var inFlightBatches = 0
    /// Until when the dispatcher waits before claiming again, after Odoo failed.
    public var pausedUntil: Date?

    /// Creates empty statistics.
    public init() {}

    /// The statistics in Prometheus text format, metric names prefixed with `prefix`.
    public func prometheusText(prefix: String = "postmark_bridge") -> String {
        var lines: [String] = []
        func counter(_ name: String, _ help: String, _ value: Int) {
            lines += [
                "# HELP \(prefix)_\(name) \(help)", "# TYPE \(prefix)_\(name) counter", "\(prefix)_\(name) \(value)",
            ]
        }

        counter("forwarded_events_total", "Events created in Odoo (or found there) and marked forwarded.", forwarded)
        counter("forward_batches_total", "Successful bridge_ingest calls.", batches)
        counter("forward_retries_total", "Events put back in the inbox for a later attempt.", retried)
        counter("parked_events_total", "Events parked because Odoo refused them for good.", parked)
        counter("dispatcher_inbox_errors_total", "Inbox operations of the dispatcher that failed.", inboxErrors)
        lines += [
            "# HELP \(prefix)_odoo_errors_total Failed Odoo calls of the dispatcher, by kind.",
            "# TYPE \(prefix)_odoo_errors_total counter",
        ]
        for kind in OdooError.Kind.allCases {
            lines.append("\(prefix)_odoo_errors_total{kind=\"\(kind.rawValue)\"} \(odooErrors[kind, default: 0])")
        }
        lines += [
            "# HELP \(prefix)_forward_in_flight_batches Batches being forwarded now.",
            "# TYPE \(prefix)_forward_in_flight_batches gauge",
            "\(prefix)_forward_in_flight_batches \(inFlightBatches)",
        ]
        lines += batchSizes.prometheusLines(
            name: "\(prefix)_forward_batch_size", help: "Events per bridge_ingest call.")
        lines += forwardLatency.prometheusLines(
            name: "\(prefix)_forward_latency_seconds", help: "Time from accepting a webhook to its record in Odoo."
        )
        return lines.joined(separator: "\n") + "\n"
    }
}
