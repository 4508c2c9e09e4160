import Foundation
import Testing

@testable import PostmarkBridge

/// The backlog size of the dispatcher benchmark, from `BRIDGE_BENCHMARK_EVENTS`.
let dispatcherBenchmarkBacklog: Int? = ProcessInfo.processInfo.environment["BRIDGE_BENCHMARK_EVENTS"].flatMap {
    Int($0)
}

/// Forwarding throughput from the PostgreSQL inbox into ``FakeOdoo``: a figure for the bridge's own overhead, printed,
/// never asserted. Runs only when `BRIDGE_BENCHMARK_EVENTS` names the backlog size (and PostgreSQL is configured).
@Suite(
    .enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason),
    .enabled(if: dispatcherBenchmarkBacklog != nil, "BRIDGE_BENCHMARK_EVENTS is not set")
)
struct DispatcherBenchmarkTests {
    /// The process's resident set size in KiB, from `/proc/self/status`.
    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func drainBacklogIntoOdoo() async throws {
        let count = try #require(dispatcherBenchmarkBacklog)
        let harness = try DispatcherTests.Harness()
        harness.odoo.setKeepsValues(false)

        let storeStart = ContinuousClock.now
        try harness.storeEvents(count, prefix: "bench")
        let storeTime = ContinuousClock.now - storeStart
        let rssBefore = Self.residentKiB()

        let dispatcher = harness.dispatcher(batchSize: 500, concurrentBatches: 2)
        let start = ContinuousClock.now
        let running = Task { await dispatcher.run() }
        var peakRSS = rssBefore
        var quarters: [Int] = []
        while true {
            let forwarded = try harness.inbox.status().forwarded
            let rss = Self.residentKiB()
            peakRSS = max(peakRSS, rss)
            if forwarded * 4 >= count * (quarters.count + 1) { quarters.append(rss / 1024) }
            if forwarded >= count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let forwardTime = ContinuousClock.now - start
        dispatcher.stop()
        await running.value

        let seconds = Double(forwardTime.components.seconds) + Double(forwardTime.components.attoseconds) / 1e18
        let storeSeconds = Double(storeTime.components.seconds) + Double(storeTime.components.attoseconds) / 1e18
        let figures = """
            dispatcher benchmark: \(count) events stored in \(String(format: "%.2f", storeSeconds)) s; \
            forwarded in \(String(format: "%.2f", seconds)) s = \(Int(Double(count) / seconds)) events/s \
            in \(harness.odoo.ingestBatchSizes.count) bridge_ingest calls; \
            RSS \(rssBefore / 1024) MiB before, at each quarter drained \(quarters) MiB, \(peakRSS / 1024) MiB peak
            """
        FileHandle.standardError.write(Data((figures + "\n").utf8))
        try harness.expectForwardedExactlyOnce(count)
    }
}
