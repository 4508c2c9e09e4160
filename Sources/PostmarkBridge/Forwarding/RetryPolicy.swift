import Foundation

/// Exponential backoff with full jitter: after the n-th consecutive failure the next attempt waits a random time
/// between zero and `min(maximumDelay, initialDelay × multiplier^(n-1))`.
///
/// Full jitter spreads the retries of many events and bridge processes over the whole window, so an Odoo that comes
/// back is not hit by every waiting batch at once.
public struct RetryPolicy: Sendable, Equatable {
    /// The upper bound of the wait after the first failure.
    public var initialDelay: Duration
    /// The upper bound no wait exceeds.
    public var maximumDelay: Duration
    /// How much the upper bound grows with each further failure.
    public var multiplier: Double

    /// Creates a policy; the defaults wait up to 1 s after the first failure and never more than 5 minutes.
    public init(initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(300), multiplier: Double = 2) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = max(1, multiplier)
    }

    /// The upper bound of the wait after `failures` consecutive failures (at least one).
    public func ceiling(afterFailures failures: Int) -> Duration {
        let initial = initialDelay.timeInterval
        let maximum = maximumDelay.timeInterval
        let exponent = Double(max(0, failures - 1))
        // Growth past the cap is cut before it can overflow to infinity.
        let grown = initial * pow(multiplier, min(exponent, 1024))
        return .seconds(min(maximum, grown.isFinite ? grown : maximum))
    }

    /// The wait after `failures` consecutive failures, with `jitter` in `0...1` choosing where in the window it falls.
    public func delay(afterFailures failures: Int, jitter: Double) -> Duration {
        let unit = min(1, max(0, jitter.isFinite ? jitter : 0))
        return .seconds(ceiling(afterFailures: failures).timeInterval * unit)
    }

    /// The wait after `failures` consecutive failures, drawing the jitter from `generator`.
    public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        delay(afterFailures: failures, jitter: Double.random(in: 0...1, using: &generator))
    }

    /// The wait after `failures` consecutive failures, with system randomness.
    public func delay(afterFailures failures: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterFailures: failures, using: &generator)
    }
}
