/// Token-bucket arithmetic: `burst` requests at once, then `rate` per second. Time is passed in,
/// so the policy is testable without clocks.
public struct TokenBucket: Sendable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: Double?

    public init(rate: Double, burst: Int) {
        self.rate = max(rate, 0.001)
        self.burst = Double(max(burst, 1))
        self.tokens = Double(max(burst, 1))
    }

    /// Takes a token at time `now` (seconds); returns how long the caller must wait first.
    public mutating func take(at now: Double) -> Double {
        if let last { tokens = min(burst, tokens + max(0, now - last) * rate) }
        last = now
        tokens -= 1
        return tokens >= 0 ? 0 : -tokens / rate
    }
}

/// The client-side rate limit shared by every request of a client (client-go's QPS/burst), so a
/// discovery walk cannot flood the API server.
public actor RateLimiter {
    private var bucket: TokenBucket
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    public init(rate: Double, burst: Int) {
        bucket = TokenBucket(rate: rate, burst: burst)
        start = clock.now
    }

    /// Waits until a request may be sent.
    public func acquire() async throws {
        let elapsed = clock.now - start
        let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let wait = bucket.take(at: now)
        if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
    }
}
