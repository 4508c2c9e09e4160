import Foundation
import Testing

@testable import PostmarkBridge

/// Backoff, the wake-up signal and the statistics text: the dispatcher's pure parts.
@Suite struct DispatcherRetryPolicyTests {
    @Test(
        "the ceiling doubles from the initial delay up to the cap",
        arguments: [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (9, 256.0), (10, 300.0), (64, 300.0), (100_000, 300.0)]
    )
    func ceilingGrowsAndIsCapped(failures: Int, seconds: Double) {
        let policy = RetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(300))
        #expect(policy.ceiling(afterFailures: failures) == .seconds(seconds))
    }

    @Test func fullJitterSpansZeroToTheCeiling() {
        let policy = RetryPolicy(initialDelay: .milliseconds(500), maximumDelay: .seconds(60))

        #expect(policy.delay(afterFailures: 4, jitter: 0) == .zero)
        #expect(policy.delay(afterFailures: 4, jitter: 1) == .seconds(4))
        #expect(policy.delay(afterFailures: 4, jitter: 0.25) == .seconds(1))
        #expect(policy.delay(afterFailures: 4, jitter: 7) == .seconds(4))
        #expect(policy.delay(afterFailures: 4, jitter: -.infinity) == .zero)
        #expect(policy.delay(afterFailures: 0, jitter: 1) == .milliseconds(500))
    }

    @Test func randomDelaysStayWithinTheWindowAndSpreadOut() {
        let policy = RetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(30))
        var generator = SystemRandomNumberGenerator()

        let delays = (0..<200).map { _ in policy.delay(afterFailures: 5, using: &generator) }

        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .seconds(16) })
        #expect(Set(delays).count > 100)
    }

    @Test func multiplierBelowOneMeansConstantBackoff() {
        let policy = RetryPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(10), multiplier: 0.5)
        #expect(policy.ceiling(afterFailures: 1) == .seconds(2))
        #expect(policy.ceiling(afterFailures: 8) == .seconds(2))
    }

    @Test func signalBeforeWaitIsNotLost() async {
        let signal = WakeSignal()
        signal.signal()
        let started = ContinuousClock.now

        await signal.wait(timeout: .seconds(3600))

        #expect(ContinuousClock.now - started < .seconds(3600))
    }

    @Test func signalWakesEveryWaiter() async {
        let signal = WakeSignal()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await signal.wait(timeout: .seconds(3600)) } }
            // Waiters that register after this signal see it as pending, so none of them can hang.
            for _ in 0..<100 {
                signal.signal()
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    @Test func closeReleasesWaitersNowAndLater() async {
        let signal = WakeSignal()
        async let waiting: Void = signal.wait(timeout: .seconds(3600))
        signal.close()
        await waiting
        await signal.wait(timeout: .seconds(3600))
    }

    @Test func waitEndsAfterItsTimeout() async {
        await WakeSignal().wait(timeout: .milliseconds(20))
    }

    @Test func histogramCountsCumulativelyInPrometheusText() {
        var histogram = DispatcherHistogram(bounds: [1, 10])
        for value in [0.5, 1, 5, 50] { histogram.observe(value) }

        #expect(histogram.cumulativeCounts == [2, 3, 4])
        #expect(
            histogram.prometheusLines(name: "x", help: "h") == [
                "# HELP x h", "# TYPE x histogram", #"x_bucket{le="1"} 2"#, #"x_bucket{le="10"} 3"#,
                #"x_bucket{le="+Inf"} 4"#, "x_sum 56.5", "x_count 4",
            ]
        )
    }

    @Test func statisticsTextNamesEveryKind() {
        var statistics = DispatcherStatistics()
        statistics.forwarded = 12
        statistics.odooErrors[.transient] = 3

        let text = statistics.prometheusText()

        #expect(text.contains("postmark_bridge_forwarded_events_total 12\n"))
        #expect(text.contains(#"postmark_bridge_odoo_errors_total{kind="transient"} 3"#))
        #expect(text.contains(#"postmark_bridge_odoo_errors_total{kind="configuration"} 0"#))
        #expect(text.contains("postmark_bridge_forward_latency_seconds_count 0"))
    }
}
