#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Optimizers over one parameter arena: one `step` is one loop over the flat buffers
// θ = arena.values and g = arena.gradients (same layout), plus the optimizer's own moment buffers of
// the same length. Every formula, and the order of its operations, is torch.optim's
// (single-tensor CPU path): the same hyperparameters give the same parameters after each step.
// Hyperparameters are Double; each step converts its coefficients to the arena's scalar type once,
// as PyTorch converts Python floats to the tensor's type.

/// An optimisation algorithm and its hyperparameters (all but the learning rate), with PyTorch's
/// defaults. θ parameters, g gradient, λ weight decay, γ learning rate, t the step (from 1).
public enum OptimizerAlgorithm: Equatable, Sendable {
    /// `torch.optim.SGD`:
    ///
    ///     g ← g + λθ
    ///     b ← g (first step),  b ← μ b + (1 − dampening) g (later steps)      if μ ≠ 0
    ///     g ← g + μ b (Nesterov)  or  g ← b                                      if μ ≠ 0
    ///     θ ← θ − γ g
    ///
    /// Nesterov needs μ > 0 and dampening = 0.
    case sgd(momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false, weightDecay: Double = 0)

    /// `torch.optim.Adam` (λ added to the gradient: L2 regularisation):
    ///
    ///     g ← g + λθ
    ///     m ← m + (1 − β₁)(g − m);   v ← β₂ v + (1 − β₂) g²
    ///     v̂max ← max(v̂max, v) (AMSGrad, used in place of v below)
    ///     θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
    case adam(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
              weightDecay: Double = 0, amsgrad: Bool = false)

    /// `torch.optim.AdamW`: Adam with decoupled weight decay, θ ← θ (1 − γλ) before the moments
    /// are updated (and λ not added to g).
    case adamW(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
               weightDecay: Double = 0.01, amsgrad: Bool = false)

    /// `torch.optim.RMSprop`:
    ///
    ///     g ← g + λθ
    ///     s ← α s + (1 − α) g²
    ///     ḡ ← ḡ + (1 − α)(g − ḡ);  d = √(s − ḡ²) + ε     (centered)   or   d = √s + ε
    ///     b ← μ b + g/d;  θ ← θ − γ b       (μ > 0)      or      θ ← θ − γ g/d
    case rmsprop(alpha: Double = 0.99, epsilon: Double = 1e-8, momentum: Double = 0,
                 centered: Bool = false, weightDecay: Double = 0)

    /// "sgd", "adam", "adamw" or "rmsprop".
    public var name: String {
        switch self {
        case .sgd: return "sgd"
        case .adam: return "adam"
        case .adamW: return "adamw"
        case .rmsprop: return "rmsprop"
        }
    }

    /// Names of the per-parameter state buffers, as PyTorch names them in `optimizer.state`.
    public var bufferNames: [String] {
        switch self {
        case let .sgd(momentum, _, _, _):
            return momentum != 0 ? ["momentum_buffer"] : []
        case let .adam(_, _, _, _, amsgrad), let .adamW(_, _, _, _, amsgrad):
            return amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
        case let .rmsprop(_, _, momentum, centered, _):
            return ["square_avg"] + (momentum > 0 ? ["momentum_buffer"] : []) + (centered ? ["grad_avg"] : [])
        }
    }

    /// Throws, naming the hyperparameter, when a value is outside PyTorch's accepted range.
    func validate() throws {
        func finite(_ x: Double, _ name: String) throws {
            if !x.isFinite { throw SeqError.invalid(name, expected: "a finite number", got: x) }
        }
        func nonNegative(_ x: Double, _ name: String) throws {
            if !(x >= 0 && x.isFinite) { throw SeqError.invalid(name, expected: "a finite number ≥ 0", got: x) }
        }
        func beta(_ x: Double, _ name: String) throws {
            if !(x >= 0 && x < 1) { throw SeqError.invalid(name, expected: "a number in [0, 1)", got: x) }
        }
        switch self {
        case let .sgd(momentum, dampening, nesterov, weightDecay):
            try nonNegative(momentum, "momentum")
            try finite(dampening, "dampening")
            try nonNegative(weightDecay, "weightDecay")
            if nesterov && (momentum <= 0 || dampening != 0) {
                throw SeqError.invalid("nesterov", expected: "momentum > 0 and dampening = 0 with Nesterov",
                                       got: "momentum \(momentum), dampening \(dampening)")
            }
        case let .adam(beta1, beta2, epsilon, weightDecay, _), let .adamW(beta1, beta2, epsilon, weightDecay, _):
            try beta(beta1, "beta1")
            try beta(beta2, "beta2")
            try nonNegative(epsilon, "epsilon")
            try nonNegative(weightDecay, "weightDecay")
        case let .rmsprop(alpha, epsilon, momentum, _, weightDecay):
            try nonNegative(alpha, "alpha")
            try nonNegative(epsilon, "epsilon")
            try nonNegative(momentum, "momentum")
            try nonNegative(weightDecay, "weightDecay")
        }
    }
}

/// Everything an optimizer carries between steps, so a checkpoint resumes a run exactly.
public struct OptimizerState<Scalar: SeqScalar>: Equatable, Sendable {
    /// `OptimizerAlgorithm.name` of the optimizer that exported it.
    public var algorithm: String
    /// Number of steps taken (PyTorch's `state['step']`).
    public var step: Int
    /// The learning rate at export (PyTorch keeps it in `param_groups`).
    public var learningRate: Double
    /// The per-parameter buffers named by `OptimizerAlgorithm.bufferNames`, each P long (P the
    /// arena's scalar count), in the arena's layout.
    public var buffers: [String: [Scalar]]

    public init(algorithm: String, step: Int, learningRate: Double, buffers: [String: [Scalar]]) {
        self.algorithm = algorithm
        self.step = step
        self.learningRate = learningRate
        self.buffers = buffers
    }
}

/// One optimizer for all parameters of one arena (P scalars).
///
/// ```swift
/// let opt = try Optimizer<Float>(.adamW(weightDecay: 0.01), learningRate: 1e-3, for: arena)
/// for epoch in 0 ..< epochs {
///     opt.learningRate = schedule.rate(at: epoch)
///     arena.zeroGradients(); /* forward, loss, backward */
///     try arena.clipGradientNorm(maxNorm: 1)
///     try opt.step(arena)
/// }
/// ```
///
/// Not thread-safe: one optimizer, one training loop.
public final class Optimizer<Scalar: SeqScalar> {
    public let algorithm: OptimizerAlgorithm
    /// γ, used by the next `step`; set it from a `LearningRateSchedule` between steps.
    public var learningRate: Double
    /// Ascend instead of descend (PyTorch's `maximize`): g is negated before anything else.
    public var maximize: Bool
    /// P, the number of scalars each step updates.
    public let parameterCount: Int
    /// Steps taken so far.
    public private(set) var stepCount = 0

    // Per-parameter buffers (empty when the algorithm does not use them).
    private var momentumBuffer: [Scalar] = []
    private var expAvg: [Scalar] = []
    private var expAvgSq: [Scalar] = []
    private var maxExpAvgSq: [Scalar] = []
    private var squareAvg: [Scalar] = []
    private var gradAvg: [Scalar] = []
    /// The buffers are made (P zeros each) at the first step, or by `importState`: a model that is
    /// only loaded and run never holds them.
    private var buffersAllocated = false

    /// Creates an optimizer for `parameterCount` scalars; throws on a hyperparameter out of range.
    @_specialize(where Scalar == Float)
    public init(_ algorithm: OptimizerAlgorithm, learningRate: Double, parameterCount: Int,
                maximize: Bool = false) throws {
        try algorithm.validate()
        try Self.checkLearningRate(learningRate)
        try Check.nonNegative(parameterCount, "parameterCount")
        if parameterCount > Limits.maxElements {
            throw SeqError(.resourceLimit, "argument 'parameterCount': \(parameterCount) exceeds \(Limits.maxElements)")
        }
        self.algorithm = algorithm
        self.learningRate = learningRate
        self.maximize = maximize
        self.parameterCount = parameterCount
    }

    /// Creates an optimizer for every parameter of `arena` (its size at this moment).
    @_specialize(where Scalar == Float)
    public convenience init(_ algorithm: OptimizerAlgorithm, learningRate: Double,
                            for arena: ParameterArena<Scalar>, maximize: Bool = false) throws {
        try self.init(algorithm, learningRate: learningRate, parameterCount: arena.count, maximize: maximize)
    }

    private func allocateBuffers() {
        // One allocation each: buffers sharing one array of zeros would each copy it at the first step.
        for name in algorithm.bufferNames { self[buffer: name] = [Scalar](repeating: 0, count: parameterCount) }
        buffersAllocated = true
    }

    private func releaseBuffers() {
        momentumBuffer = []; expAvg = []; expAvgSq = []; maxExpAvgSq = []; squareAvg = []; gradAvg = []
        buffersAllocated = false
    }

    /// Forgets all state (moments, step count), as a freshly created optimizer.
    @_specialize(where Scalar == Float)
    public func reset() {
        stepCount = 0
        releaseBuffers()
    }

    private subscript(buffer name: String) -> [Scalar] {
        get {
            switch name {
            case "momentum_buffer": return momentumBuffer
            case "exp_avg": return expAvg
            case "exp_avg_sq": return expAvgSq
            case "max_exp_avg_sq": return maxExpAvgSq
            case "square_avg": return squareAvg
            case "grad_avg": return gradAvg
            default: return []
            }
        }
        set {
            switch name {
            case "momentum_buffer": momentumBuffer = newValue
            case "exp_avg": expAvg = newValue
            case "exp_avg_sq": expAvgSq = newValue
            case "max_exp_avg_sq": maxExpAvgSq = newValue
            case "square_avg": squareAvg = newValue
            case "grad_avg": gradAvg = newValue
            default: break
            }
        }
    }

    private static func checkLearningRate(_ lr: Double) throws {
        if !(lr >= 0 && lr.isFinite) {
            throw SeqError.invalid("learningRate", expected: "a finite number ≥ 0", got: lr)
        }
    }

    // MARK: Step

    /// One update of every parameter of `arena` from its gradients (gradients are not cleared).
    @_specialize(where Scalar == Float)
    public func step(_ arena: ParameterArena<Scalar>) throws {
        try Check.count(arena.values.count, parameterCount, "arena",
                        shape: "the optimizer's parameter count")
        try Check.count(arena.gradients.count, parameterCount, "arena.gradients",
                        shape: "the optimizer's parameter count")
        try arena.values.withUnsafeMutableBufferPointer { v in
            try arena.gradients.withUnsafeBufferPointer { g in try step(values: v, gradients: g) }
        }
    }

    /// One update of `values` (θ, P scalars) from `gradients` (g, P scalars): the form for
    /// buffers owned elsewhere (e.g. the C ABI).
    @_specialize(where Scalar == Float)
    public func step(values: UnsafeMutableBufferPointer<Scalar>, gradients: UnsafeBufferPointer<Scalar>) throws {
        try Check.count(values.count, parameterCount, "values", shape: "the optimizer's parameter count")
        try Check.count(gradients.count, parameterCount, "gradients", shape: "the optimizer's parameter count")
        try Self.checkLearningRate(learningRate)
        guard let theta = values.baseAddress, let grad = gradients.baseAddress else {
            stepCount += 1          // P = 0: nothing to update, but the step still counts
            return
        }
        if !buffersAllocated { allocateBuffers() }
        switch algorithm {
        case let .sgd(momentum, dampening, nesterov, weightDecay):
            sgdStep(theta, grad, momentum: momentum, dampening: dampening, nesterov: nesterov,
                    weightDecay: weightDecay)
        case let .adam(beta1, beta2, epsilon, weightDecay, amsgrad):
            adamStep(theta, grad, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
                     amsgrad: amsgrad, decoupled: false)
        case let .adamW(beta1, beta2, epsilon, weightDecay, amsgrad):
            adamStep(theta, grad, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
                     amsgrad: amsgrad, decoupled: true)
        case let .rmsprop(alpha, epsilon, momentum, centered, weightDecay):
            rmspropStep(theta, grad, alpha: alpha, epsilon: epsilon, momentum: momentum, centered: centered,
                        weightDecay: weightDecay)
        }
    }

    /// PyTorch's `lerp`: a + w (b − a), evaluated from the nearer end for accuracy.
    @inline(__always)
    private static func lerp(_ a: Scalar, _ b: Scalar, _ w: Scalar) -> Scalar {
        abs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w)
    }

    private func sgdStep(_ theta: UnsafeMutablePointer<Scalar>, _ grad: UnsafePointer<Scalar>,
                         momentum: Double, dampening: Double, nesterov: Bool, weightDecay: Double) {
        let lr = Scalar(learningRate), lambda = Scalar(weightDecay)
        let mu = Scalar(momentum), keep = Scalar(1 - dampening)
        let sign: Scalar = maximize ? -1 : 1
        let first = stepCount == 0
        let n = parameterCount
        momentumBuffer.withUnsafeMutableBufferPointer { buf in
            for i in 0 ..< n {
                var d = sign * grad[i]
                if weightDecay != 0 { d = d + lambda * theta[i] }
                if momentum != 0 {
                    // The buffer starts as the first gradient itself (no dampening on step 1).
                    buf[i] = first ? d : buf[i] * mu + keep * d
                    d = nesterov ? d + mu * buf[i] : buf[i]
                }
                theta[i] = theta[i] - lr * d
            }
        }
        stepCount += 1
    }

    private func adamStep(_ theta: UnsafeMutablePointer<Scalar>, _ grad: UnsafePointer<Scalar>,
                          beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double,
                          amsgrad: Bool, decoupled: Bool) {
        stepCount += 1
        let t = Double(stepCount)
        // Bias corrections in Double, as PyTorch computes them in Python floats.
        let biasCorrection1 = 1 - pow(beta1, t)
        let biasCorrection2 = 1 - pow(beta2, t)
        let stepSize = Scalar(learningRate / biasCorrection1)
        let correction2Root = Scalar(biasCorrection2.squareRoot())
        let decay = Scalar(1 - learningRate * weightDecay)
        let lambda = Scalar(weightDecay), eps = Scalar(epsilon)
        let w1 = Scalar(1 - beta1), b2 = Scalar(beta2), w2 = Scalar(1 - beta2)
        let sign: Scalar = maximize ? -1 : 1
        let n = parameterCount
        expAvg.withUnsafeMutableBufferPointer { m in
            expAvgSq.withUnsafeMutableBufferPointer { v in
                maxExpAvgSq.withUnsafeMutableBufferPointer { vmax in
                    for i in 0 ..< n {
                        var d = sign * grad[i]
                        if weightDecay != 0 {
                            if decoupled { theta[i] = theta[i] * decay } else { d = d + lambda * theta[i] }
                        }
                        m[i] = Self.lerp(m[i], d, w1)
                        v[i] = v[i] * b2 + w2 * d * d
                        var second = v[i]
                        if amsgrad {
                            vmax[i] = max(vmax[i], v[i])
                            second = vmax[i]
                        }
                        let denominator = Scalar.sqrt(second) / correction2Root + eps
                        theta[i] = theta[i] - stepSize * (m[i] / denominator)
                    }
                }
            }
        }
    }

    private func rmspropStep(_ theta: UnsafeMutablePointer<Scalar>, _ grad: UnsafePointer<Scalar>,
                             alpha: Double, epsilon: Double, momentum: Double, centered: Bool,
                             weightDecay: Double) {
        stepCount += 1
        let lr = Scalar(learningRate), lambda = Scalar(weightDecay), eps = Scalar(epsilon)
        let a = Scalar(alpha), w = Scalar(1 - alpha), mu = Scalar(momentum)
        let sign: Scalar = maximize ? -1 : 1
        let n = parameterCount
        squareAvg.withUnsafeMutableBufferPointer { s in
            gradAvg.withUnsafeMutableBufferPointer { gbar in
                momentumBuffer.withUnsafeMutableBufferPointer { buf in
                    for i in 0 ..< n {
                        var d = sign * grad[i]
                        if weightDecay != 0 { d = d + lambda * theta[i] }
                        s[i] = s[i] * a + w * d * d
                        var avg: Scalar
                        if centered {
                            gbar[i] = Self.lerp(gbar[i], d, w)
                            avg = Scalar.sqrt(s[i] - gbar[i] * gbar[i])
                        } else {
                            avg = Scalar.sqrt(s[i])
                        }
                        avg = avg + eps
                        if momentum > 0 {
                            buf[i] = buf[i] * mu + d / avg
                            theta[i] = theta[i] - lr * buf[i]
                        } else {
                            theta[i] = theta[i] - lr * (d / avg)
                        }
                    }
                }
            }
        }
    }

    // MARK: State

    /// A copy of the optimizer's state, for a checkpoint.
    @_specialize(where Scalar == Float)
    public func exportState() -> OptimizerState<Scalar> {
        var buffers: [String: [Scalar]] = [:]
        for name in algorithm.bufferNames {
            buffers[name] = buffersAllocated ? self[buffer: name] : [Scalar](repeating: 0, count: parameterCount)
        }
        return OptimizerState(algorithm: algorithm.name, step: stepCount, learningRate: learningRate,
                              buffers: buffers)
    }

    /// Restores a state from `exportState()` of an optimizer with the same algorithm, options that
    /// need the same buffers, and the same parameter count. Nothing changes when it throws.
    @_specialize(where Scalar == Float)
    public func importState(_ state: OptimizerState<Scalar>) throws {
        if state.algorithm != algorithm.name {
            throw SeqError.invalid("state.algorithm", expected: "'\(algorithm.name)'", got: "'\(state.algorithm)'")
        }
        try Check.nonNegative(state.step, "state.step")
        try Self.checkLearningRate(state.learningRate)
        let expected = algorithm.bufferNames
        if Set(state.buffers.keys) != Set(expected) {
            throw SeqError.invalid("state.buffers", expected: "buffers \(expected)",
                                   got: "\(state.buffers.keys.sorted())")
        }
        for name in expected {
            let b = state.buffers[name] ?? []
            try Check.count(b.count, parameterCount, "state.buffers['\(name)']", shape: "the parameter count")
            if let bad = b.firstIndex(where: { !$0.isFinite }) {
                throw SeqError.invalid("state.buffers['\(name)']", expected: "finite values",
                                       got: "\(b[bad]) at index \(bad)")
            }
        }
        for name in expected { self[buffer: name] = state.buffers[name] ?? [] }
        buffersAllocated = true
        stepCount = state.step
        learningRate = state.learningRate
    }
}
