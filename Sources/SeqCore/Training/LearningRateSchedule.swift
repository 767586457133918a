#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning rate as a closed-form function of the scheduler step n (PyTorch's `last_epoch`: the
/// number of `scheduler.step()` calls so far, usually the epoch), with an optional linear warm-up.
///
/// γ₀ base rate, W warm-up steps, s the warm-up start factor, n' = n − W:
///
///     n < W (warm-up):   γ(n) = γ₀ (s + (1 − s) n / W)                          LinearLR(s, 1, W)
///     constant:          γ(n) = γ₀
///     step:              γ(n) = γ₀ · gamma^⌊n' / stepSize⌋                       StepLR
///     cosine:            γ(n) = η_min + (γ₀ − η_min)(1 + cos(π n' / T_max)) / 2   CosineAnnealingLR
///
/// With a warm-up this is PyTorch's `SequentialLR([LinearLR(optimizer, s, 1.0, W), main],
/// milestones=[W])`: the main schedule starts afresh after the warm-up.
///
/// ```swift
/// let schedule = try LearningRateSchedule(baseRate: 3e-3, decay: .cosine(period: 90, minimum: 1e-5),
///                                         warmupSteps: 10)
/// optimizer.learningRate = schedule.rate(at: epoch)
/// ```
public struct LearningRateSchedule: Equatable, Sendable {
    public enum Decay: Equatable, Sendable {
        /// The base rate throughout.
        case constant
        /// Multiply by `gamma` every `stepSize` steps.
        case step(stepSize: Int, gamma: Double)
        /// Half a cosine from the base rate down to `minimum` over `period` steps (T_max); past the
        /// period it rises again, as PyTorch's does.
        case cosine(period: Int, minimum: Double)
    }

    public let baseRate: Double
    public let decay: Decay
    /// W; 0 for no warm-up.
    public let warmupSteps: Int
    /// s ∈ (0, 1]: the fraction of the base rate at n = 0 (PyTorch's LinearLR default is 1/3).
    public let warmupStartFactor: Double

    public init(baseRate: Double, decay: Decay = .constant, warmupSteps: Int = 0,
                warmupStartFactor: Double = 1.0 / 3.0) throws {
        if !(baseRate >= 0 && baseRate.isFinite) {
            throw SeqError.invalid("baseRate", expected: "a finite number ≥ 0", got: baseRate)
        }
        switch decay {
        case .constant: break
        case let .step(stepSize, gamma):
            try Check.positive(stepSize, "stepSize")
            if !(gamma >= 0 && gamma.isFinite) {
                throw SeqError.invalid("gamma", expected: "a finite number ≥ 0", got: gamma)
            }
        case let .cosine(period, minimum):
            try Check.positive(period, "period")
            if !(minimum >= 0 && minimum.isFinite) {
                throw SeqError.invalid("minimum", expected: "a finite number ≥ 0", got: minimum)
            }
        }
        try Check.nonNegative(warmupSteps, "warmupSteps")
        if !(warmupStartFactor > 0 && warmupStartFactor <= 1) {
            throw SeqError.invalid("warmupStartFactor", expected: "a number in (0, 1]", got: warmupStartFactor)
        }
        self.baseRate = baseRate
        self.decay = decay
        self.warmupSteps = warmupSteps
        self.warmupStartFactor = warmupStartFactor
    }

    /// γ(n), the learning rate after n scheduler steps (n < 0 counts as 0).
    public func rate(at step: Int) -> Double {
        let n = max(step, 0)
        if n < warmupSteps {
            let s = warmupStartFactor
            return baseRate * (s + (1 - s) * Double(n) / Double(warmupSteps))
        }
        let m = n - warmupSteps
        switch decay {
        case .constant:
            return baseRate
        case let .step(stepSize, gamma):
            return baseRate * pow(gamma, Double(m / stepSize))
        case let .cosine(period, minimum):
            return minimum + (baseRate - minimum) * (1 + cos(Double.pi * Double(m) / Double(period))) / 2
        }
    }
}
