// Losses computed from logits, masked by per-sequence lengths.
//
// Shapes: T time steps, B batch, K outputs (classes) per step. Logits are time-major [T, B, K]
// (many-to-many), or [B, K] for many-to-one (one output per sequence: T = 1, no lengths).
// Element (t, b, k) is at index (t·B + b)·K + k.
//
// Course (lesson 2): L<t>(ŷ, y) = −y log ŷ − (1−y) log(1−ŷ);  L = Σ_t L<t> over each sequence's own
// length T_y^(b). Steps t ≥ lengths[b] contribute nothing, to the loss or to the gradient (their
// gradient entries are written as 0). Every loss is computed from logits in its stable form;
// the loss is accumulated in Double whatever the scalar type.

/// How the per-step losses L<t> of a batch are combined into one number.
///
/// With L<t>_b the loss of step t of sequence b (summed over the step's K outputs for the
/// element-wise losses), and N the number of valid steps (t < lengths[b]; for softmax
/// cross-entropy, also label ≠ `ignoreIndex`):
/// - `sum`: L = Σ_b Σ_{t valid} L<t>_b
/// - `meanOverBatch`: L = (1/B) Σ_b Σ_{t valid} L<t>_b — the course's L = Σ_t L<t>, averaged over
///   the B sequences.
/// - `meanOverSteps`: L = (1/N) Σ_b Σ_{t valid} L<t>_b — PyTorch's `reduction='mean'` over the
///   valid steps (for BCE and MSE with K > 1, PyTorch's mean is this divided by K).
///
/// When N = 0 (every label ignored), `meanOverSteps` gives loss 0 and a zero gradient (PyTorch
/// gives NaN).
public enum LossReduction: String, Sendable, Equatable, CaseIterable {
    case sum
    case meanOverBatch = "mean_over_batch"
    case meanOverSteps = "mean_over_steps"
}

/// A loss value and its gradient with respect to the logits.
public struct LossResult<Scalar: SeqScalar>: Equatable {
    /// The reduced loss L.
    public var loss: Scalar
    /// ∂L/∂logits, the logits' shape ([T, B, K] or [B, K]); zero at masked and ignored steps.
    public var gradient: Tensor<Scalar>
    /// N: the number of steps that contributed (valid and not ignored).
    public var validSteps: Int
}

/// Loss functions of seqcore. Each returns the reduced loss and ∂L/∂logits, either as a
/// `LossResult` or written into a caller's buffer of logits.count elements (overwritten, not
/// accumulated).
public enum Loss {
    // MARK: Binary cross-entropy

    /// Per-step binary cross-entropy from logits z (the course's loss for sigmoid outputs):
    ///
    ///     ŷ = σ(z);  ℓ(z, y) = −y log ŷ − (1−y) log(1−ŷ) = max(z, 0) − z·y + log(1 + e^{−|z|})
    ///     ∂ℓ/∂z = σ(z) − y
    ///
    /// - Parameters:
    ///   - logits: z, [T, B, K] (or [B, K] for many-to-one).
    ///   - targets: y ∈ [0, 1], the logits' shape. Values at masked steps are not read.
    ///   - lengths: [B], each in 1...T; `nil` means every sequence has length T. Must be `nil` for
    ///     [B, K] logits.
    ///   - reduction: see `LossReduction`; L<t> sums ℓ over the step's K outputs.
    @_specialize(where Scalar == Float)
    public static func binaryCrossEntropy<Scalar: SeqScalar>(
        logits: Tensor<Scalar>, targets: Tensor<Scalar>, lengths: [Int]? = nil,
        reduction: LossReduction
    ) throws -> LossResult<Scalar> {
        var gradient = [Scalar](repeating: 0, count: logits.data.count)
        let (loss, n) = try binaryCrossEntropy(
            logits: logits, targets: targets, lengths: lengths, reduction: reduction, into: &gradient)
        return LossResult(loss: loss, gradient: Tensor(unchecked: logits.shape, data: gradient), validSteps: n)
    }

    /// `binaryCrossEntropy` writing ∂L/∂logits into `gradient` (exactly logits.count elements).
    /// Returns the loss and N, the number of valid steps.
    @_specialize(where Scalar == Float)
    @discardableResult
    public static func binaryCrossEntropy<Scalar: SeqScalar>(
        logits: Tensor<Scalar>, targets: Tensor<Scalar>, lengths: [Int]? = nil,
        reduction: LossReduction, into gradient: inout [Scalar]
    ) throws -> (loss: Scalar, validSteps: Int) {
        let m = try LossMask(logits: logits, lengths: lengths, gradientCount: gradient.count)
        try m.checkSameShape(targets, "targets")
        // Targets must be probabilities at valid steps.
        for (t, b) in m.validSteps() {
            for k in 0 ..< m.K {
                let y = targets.data[m.index(t, b, k)]
                if !(y >= 0 && y <= 1) {
                    throw SeqError.invalid("targets", expected: "values in [0, 1]",
                                           got: "\(y) at \(m.position(t, b, k))")
                }
            }
        }
        let n = m.totalValidSteps
        let scale = Scalar(m.scale(reduction, validSteps: n))
        let total = m.elementwise(logits.data, targets.data, into: &gradient, scale: scale) { z, y in
            let e = Scalar.exp(-abs(z))                           // e^{−|z|} ∈ (0, 1]
            let sigma = z >= 0 ? 1 / (1 + e) : e / (1 + e)       // σ(z) without overflow
            return (Double(max(z, 0) - z * y + Scalar.log1p(e)), sigma - y)
        }
        let loss = try m.finish(total, reduction, validSteps: n, logits: logits)
        return (loss, n)
    }

    // MARK: Softmax cross-entropy

    /// Softmax cross-entropy from logits z with integer class labels:
    ///
    ///     ℓ(z, y) = −log softmax(z)_y = log Σ_k e^{z_k} − z_y      (log-sum-exp with the max subtracted)
    ///     ∂ℓ/∂z_k = softmax(z)_k − [k = y]
    ///
    /// - Parameters:
    ///   - logits: z, [T, B, K] (or [B, K] for many-to-one).
    ///   - labels: class indices in 0..<K, time-major [T, B] (or [B]), i.e. labels[t·B + b].
    ///     Labels at masked steps are not read (any padding value will do).
    ///   - lengths: [B], each in 1...T; `nil` means every sequence has length T.
    ///   - ignoreIndex: a label value whose steps contribute nothing (PyTorch's `ignore_index`).
    ///   - reduction: see `LossReduction`; N counts the valid steps whose label is not ignored.
    @_specialize(where Scalar == Float)
    public static func softmaxCrossEntropy<Scalar: SeqScalar>(
        logits: Tensor<Scalar>, labels: [Int], lengths: [Int]? = nil, ignoreIndex: Int? = nil,
        reduction: LossReduction
    ) throws -> LossResult<Scalar> {
        var gradient = [Scalar](repeating: 0, count: logits.data.count)
        let (loss, n) = try softmaxCrossEntropy(
            logits: logits, labels: labels, lengths: lengths, ignoreIndex: ignoreIndex,
            reduction: reduction, into: &gradient)
        return LossResult(loss: loss, gradient: Tensor(unchecked: logits.shape, data: gradient), validSteps: n)
    }

    /// `softmaxCrossEntropy` writing ∂L/∂logits into `gradient` (exactly logits.count elements).
    /// Returns the loss and N, the number of valid, non-ignored steps.
    @_specialize(where Scalar == Float)
    @discardableResult
    public static func softmaxCrossEntropy<Scalar: SeqScalar>(
        logits: Tensor<Scalar>, labels: [Int], lengths: [Int]? = nil, ignoreIndex: Int? = nil,
        reduction: LossReduction, into gradient: inout [Scalar]
    ) throws -> (loss: Scalar, validSteps: Int) {
        let m = try LossMask(logits: logits, lengths: lengths, gradientCount: gradient.count)
        let labelShape = m.rank == 3 ? "[T, B] = [\(m.T), \(m.B)]" : "[B] = [\(m.B)]"
        try Check.count(labels.count, m.T * m.B, "labels", shape: labelShape)
        var n = 0
        for (t, b) in m.validSteps() {
            let y = labels[t * m.B + b]
            if y == ignoreIndex { continue }
            if y < 0 || y >= m.K {
                let at = m.rank == 3 ? "[\(t), \(b)]" : "[\(b)]"
                throw SeqError.invalid("labels", expected: "class indices in 0..<\(m.K)"
                    + (ignoreIndex.map { " or the ignore index \($0)" } ?? ""), got: "\(y) at \(at)")
            }
            n += 1
        }
        let scale = Scalar(m.scale(reduction, validSteps: n))
        var total = 0.0
        logits.data.withUnsafeBufferPointer { z in
            gradient.withUnsafeMutableBufferPointer { g in
                for t in 0 ..< m.T {
                    for b in 0 ..< m.B {
                        let base = (t * m.B + b) * m.K
                        let y = labels[t * m.B + b]
                        if t >= m.lengths[b] || y == ignoreIndex {
                            for k in 0 ..< m.K { g[base + k] = 0 }
                            continue
                        }
                        var zmax = z[base]
                        for k in 1 ..< m.K { zmax = max(zmax, z[base + k]) }
                        var s: Scalar = 0
                        for k in 0 ..< m.K {
                            let e = Scalar.exp(z[base + k] - zmax)
                            g[base + k] = e
                            s += e
                        }
                        // −log softmax(z)_y = log Σ_k e^{z_k − max} − (z_y − max): both terms small.
                        total += Double(Scalar.log(s) - (z[base + y] - zmax))
                        let r = scale / s
                        for k in 0 ..< m.K { g[base + k] *= r }
                        g[base + y] -= scale
                    }
                }
            }
        }
        let loss = try m.finish(total, reduction, validSteps: n, logits: logits)
        return (loss, n)
    }

    // MARK: Mean squared error

    /// Squared error for regression outputs (identity g_y):
    ///
    ///     ℓ(ŷ, y) = (ŷ − y)²;   ∂ℓ/∂ŷ = 2 (ŷ − y)
    ///
    /// - Parameters:
    ///   - predictions: ŷ, [T, B, K] (or [B, K] for many-to-one).
    ///   - targets: y, the predictions' shape. Values at masked steps are not read.
    ///   - lengths: [B], each in 1...T; `nil` means every sequence has length T.
    ///   - reduction: see `LossReduction`; L<t> sums ℓ over the step's K outputs.
    @_specialize(where Scalar == Float)
    public static func meanSquaredError<Scalar: SeqScalar>(
        predictions: Tensor<Scalar>, targets: Tensor<Scalar>, lengths: [Int]? = nil,
        reduction: LossReduction
    ) throws -> LossResult<Scalar> {
        var gradient = [Scalar](repeating: 0, count: predictions.data.count)
        let (loss, n) = try meanSquaredError(
            predictions: predictions, targets: targets, lengths: lengths, reduction: reduction,
            into: &gradient)
        return LossResult(loss: loss, gradient: Tensor(unchecked: predictions.shape, data: gradient),
                          validSteps: n)
    }

    /// `meanSquaredError` writing ∂L/∂predictions into `gradient` (exactly predictions.count
    /// elements). Returns the loss and N, the number of valid steps.
    @_specialize(where Scalar == Float)
    @discardableResult
    public static func meanSquaredError<Scalar: SeqScalar>(
        predictions: Tensor<Scalar>, targets: Tensor<Scalar>, lengths: [Int]? = nil,
        reduction: LossReduction, into gradient: inout [Scalar]
    ) throws -> (loss: Scalar, validSteps: Int) {
        let m = try LossMask(logits: predictions, lengths: lengths, gradientCount: gradient.count,
                             name: "predictions")
        try m.checkSameShape(targets, "targets")
        let n = m.totalValidSteps
        let scale = Scalar(m.scale(reduction, validSteps: n))
        let total = m.elementwise(predictions.data, targets.data, into: &gradient, scale: scale) { p, y in
            let d = Double(p) - Double(y)  // the loss in Double: a Float square overflows early
            return (d * d, 2 * (p - y))
        }
        if !total.isFinite || !Scalar(total * m.scale(reduction, validSteps: n)).isFinite {
            if let bad = m.firstNonFinite(targets) {
                throw SeqError(.numeric, "loss: non-finite target \(bad.value) at \(bad.position)")
            }
        }
        let loss = try m.finish(total, reduction, validSteps: n, logits: predictions, name: "predictions")
        return (loss, n)
    }
}

/// The validated geometry of a loss call: sizes, lengths and the reduction's scale.
struct LossMask {
    /// Runs `element(z, y) → (ℓ, ∂ℓ/∂z)` over every element of every valid step, writing
    /// scale · ∂ℓ/∂z into `g` (zero at masked steps), and returns Σ ℓ in Double.
    @inline(__always)
    func elementwise<S: SeqScalar>(_ z: [S], _ y: [S], into g: inout [S], scale: S,
                                   _ element: (S, S) -> (Double, S)) -> Double {
        var total = 0.0
        for t in 0 ..< T {
            for b in 0 ..< B {
                let base = (t * B + b) * K
                if t >= lengths[b] {
                    for k in 0 ..< K { g[base + k] = 0 }
                    continue
                }
                for k in 0 ..< K {
                    let (l, d) = element(z[base + k], y[base + k])
                    total += l
                    g[base + k] = scale * d
                }
            }
        }
        return total
    }

    let rank: Int
    let T: Int, B: Int, K: Int
    let lengths: [Int]

    init<Scalar: SeqScalar>(logits: Tensor<Scalar>, lengths: [Int]?, gradientCount: Int,
                            name: String = "logits") throws {
        let shape = logits.shape
        switch shape.count {
        case 3: (T, B, K) = (shape[0], shape[1], shape[2])
        case 2: (T, B, K) = (1, shape[0], shape[1])
        default:
            throw SeqError.invalid(name, expected: "shape [T, B, K] or [B, K]", got: shape)
        }
        rank = shape.count
        if shape.contains(where: { $0 < 1 }) {
            throw SeqError.invalid(name, expected: "positive sizes", got: shape)
        }
        let count = try Check.product(shape, "\(name).shape")
        try Check.count(logits.data.count, count, name, shape: "shape \(shape)")
        try Check.count(gradientCount, count, "gradient", shape: "the \(name)' shape \(shape)")
        if let lengths {
            if rank == 2 {
                throw SeqError.invalid("lengths", expected: "nil for [B, K] \(name) (many-to-one)",
                                       got: "\(lengths.count) lengths")
            }
            try Check.count(lengths.count, B, "lengths", shape: "one per sequence, B = \(B)")
            for (b, l) in lengths.enumerated() where l < 1 || l > T {
                throw SeqError.invalid("lengths", expected: "lengths in 1...\(T) (T)", got: "\(l) at [\(b)]")
            }
            self.lengths = lengths
        } else {
            self.lengths = [Int](repeating: T, count: B)
        }
    }

    @inline(__always) func index(_ t: Int, _ b: Int, _ k: Int) -> Int { (t * B + b) * K + k }

    func position(_ t: Int, _ b: Int, _ k: Int) -> String {
        rank == 3 ? "[\(t), \(b), \(k)]" : "[\(b), \(k)]"
    }

    var totalValidSteps: Int { lengths.reduce(0, +) }

    /// The (t, b) pairs with t < lengths[b], time-major.
    func validSteps() -> [(Int, Int)] {
        var steps: [(Int, Int)] = []
        steps.reserveCapacity(totalValidSteps)
        for t in 0 ..< T { for b in 0 ..< B where t < lengths[b] { steps.append((t, b)) } }
        return steps
    }

    func checkSameShape<Scalar: SeqScalar>(_ other: Tensor<Scalar>, _ name: String) throws {
        let shape = rank == 3 ? [T, B, K] : [B, K]
        if other.shape != shape {
            throw SeqError.invalid(name, expected: "shape \(shape)", got: other.shape)
        }
        try Check.count(other.data.count, T * B * K, name, shape: "shape \(shape)")
    }

    /// The factor applied to every per-step loss and gradient.
    func scale(_ reduction: LossReduction, validSteps n: Int) -> Double {
        switch reduction {
        case .sum: return 1
        case .meanOverBatch: return 1 / Double(B)
        case .meanOverSteps: return n == 0 ? 0 : 1 / Double(n)
        }
    }

    func firstNonFinite<Scalar: SeqScalar>(_ x: Tensor<Scalar>) -> (value: Scalar, position: String)? {
        for (t, b) in validSteps() {
            for k in 0 ..< K where !x.data[index(t, b, k)].isFinite {
                return (x.data[index(t, b, k)], position(t, b, k))
            }
        }
        return nil
    }

    /// Applies the reduction and refuses a non-finite loss, naming the first non-finite input.
    func finish<Scalar: SeqScalar>(_ total: Double, _ reduction: LossReduction, validSteps n: Int,
                                   logits: Tensor<Scalar>, name: String = "logits") throws -> Scalar {
        let loss = Scalar(total * scale(reduction, validSteps: n))
        if loss.isFinite { return loss }
        if let bad = firstNonFinite(logits) {
            throw SeqError(.numeric, "loss: non-finite \(name) value \(bad.value) at \(bad.position)")
        }
        throw SeqError(.numeric, "loss: the loss \(total) overflows \(Scalar.self)")
    }
}
