#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Clipping against exploding gradients (lesson 5), over the arena's whole gradient buffer g
// (P scalars, every parameter at once), as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ do
// over a model's parameters.

extension ParameterArena {
    /// ‖g‖_p over all gradients: (Σ_i |g_i|^p)^{1/p}, or max_i |g_i| for p = ∞. Accumulated in
    /// Double. `normType` must be > 0 (or `.infinity`).
    @_specialize(where Scalar == Float)
    public func gradientNorm(normType: Double = 2) throws -> Double {
        if !(normType > 0) {
            throw SeqError.invalid("normType", expected: "a number > 0 or infinity", got: normType)
        }
        return gradients.withUnsafeBufferPointer { g in
            if normType == .infinity {
                var m = 0.0
                for x in g {
                    let a = Double(abs(x))
                    if a > m || a.isNaN { m = a }
                    if m.isNaN { break }
                }
                return m
            }
            var s = 0.0
            if normType == 2 {
                for x in g { let d = Double(x); s += d * d }
                return s.squareRoot()
            }
            if normType == 1 {
                for x in g { s += Double(abs(x)) }
                return s
            }
            for x in g { s += pow(Double(abs(x)), normType) }
            return pow(s, 1 / normType)
        }
    }

    /// Rescales all gradients so their global norm is at most `maxNorm`, like
    /// `torch.nn.utils.clip_grad_norm_`:
    ///
    ///     n = ‖g‖_p;   g ← g · min(1, maxNorm / (n + 10⁻⁶))
    ///
    /// Returns n, the norm before clipping. A non-finite n makes the gradients non-finite, as in
    /// PyTorch, unless `errorIfNonfinite`, which throws a `.numeric` error and leaves them untouched.
    @_specialize(where Scalar == Float)
    @discardableResult
    public func clipGradientNorm(maxNorm: Double, normType: Double = 2,
                                 errorIfNonfinite: Bool = false) throws -> Double {
        if !(maxNorm >= 0 && maxNorm.isFinite) {
            throw SeqError.invalid("maxNorm", expected: "a finite number ≥ 0", got: maxNorm)
        }
        let total = try gradientNorm(normType: normType)
        if errorIfNonfinite && !total.isFinite {
            throw SeqError(.numeric, "clipGradientNorm: the total gradient norm of order \(normType) is \(total)")
        }
        let coefficient = min(maxNorm / (total + 1e-6), 1)   // NaN propagates, as torch.clamp does
        if !(coefficient >= 1) {
            let c = Scalar(coefficient)
            gradients.withUnsafeMutableBufferPointer { g in
                for i in g.indices { g[i] *= c }
            }
        }
        return total
    }

    /// Clamps every gradient to [−maxValue, maxValue], like `torch.nn.utils.clip_grad_value_`
    /// (NaN stays NaN).
    @_specialize(where Scalar == Float)
    public func clipGradientValues(maxValue: Double) throws {
        if !(maxValue >= 0 && maxValue.isFinite) {
            throw SeqError.invalid("maxValue", expected: "a finite number ≥ 0", got: maxValue)
        }
        let hi = Scalar(maxValue), lo = -hi
        gradients.withUnsafeMutableBufferPointer { g in
            for i in g.indices { g[i] = min(max(g[i], lo), hi) }
        }
    }
}
