/// The LSTM (lesson 7). PyTorch rows i, f, g, o of weight_ih [4H, I] and weight_hh [4H, Hout] are the
/// course's Γ_u, Γ_f, c̃, Γ_o.
///
///     Γ_u = σ(W_u[a<t-1>, x<t>] + b_u (+ p_i ⊙ c<t-1>))       input (update) gate
///     Γ_f = σ(W_f[a<t-1>, x<t>] + b_f (+ p_f ⊙ c<t-1>))       forget gate
///     c̃   = tanh(W_c[a<t-1>, x<t>] + b_c)                     candidate
///     c<t> = Γ_u ⊙ c̃ + Γ_f ⊙ c<t-1>
///     Γ_o = σ(W_o[a<t-1>, x<t>] + b_o (+ p_o ⊙ c<t>))         output gate (its peephole sees the new c)
///     a<t> = Γ_o ⊙ tanh(c<t>)                                 or, with a projection (PyTorch proj_size):
///     a<t> = W_hr (Γ_o ⊙ tanh(c<t>))                          W_hr = weight_hr [P, H]
///
/// Peepholes (ONNX `P`) are stored as `peephole_l{k}` [3, H], rows i, f, o.
/// Backward, with m = Γ_o ⊙ tanh(c<t>), dm = ∂L/∂a<t> (· W_hr with a projection), primes for
/// pre-activations and dc = ∂L/∂c<t> arriving from step t+1:
///
///     dΓ_o′ = dm ⊙ tanh(c<t>) ⊙ Γ_o(1 − Γ_o)
///     dc   += dm ⊙ Γ_o ⊙ (1 − tanh²(c<t>))  (+ dΓ_o′ ⊙ p_o)
///     dΓ_u′ = dc ⊙ c̃ ⊙ Γ_u(1 − Γ_u),  dΓ_f′ = dc ⊙ c<t-1> ⊙ Γ_f(1 − Γ_f),  dc̃′ = dc ⊙ Γ_u ⊙ (1 − c̃²)
///     ∂L/∂c<t-1> = dc ⊙ Γ_f  (+ dΓ_u′ ⊙ p_i + dΓ_f′ ⊙ p_f)
///     ∂L/∂a<t-1> = d(gates) · W_hh
///
/// Tape per row: Γ_u, Γ_f, c̃, Γ_o [4H] | c<t> [H] | tanh(c<t>) [H] | m [H] (projection only).
final class LSTMCell<S: SeqScalar>: RecurrentCell {
    typealias Scalar = S
    let hiddenSize: Int
    let outputSize: Int
    var gateWidth: Int { 4 * hiddenSize }
    let tapeWidth: Int
    let hasCellState = true
    let foldsRecurrentBias = true
    let separateRecurrentGradient = false
    let params: CellParameters<S>
    let grads: CellParameters<S>?
    let whhT: PackedOperand<S>
    let whrT: PackedOperand<S>?
    let whh: PackedOperand<S>?
    let whr: PackedOperand<S>?
    let scratch: Buffer<S>

    var projected: Bool { params.whr != nil }

    init(hidden h: Int, projection p: Int, rows: Int, params: CellParameters<S>, grads: CellParameters<S>?) {
        hiddenSize = h
        outputSize = p > 0 ? p : h
        tapeWidth = p > 0 ? 7 * h : 6 * h
        self.params = params
        self.grads = grads
        let hout = outputSize, training = grads != nil
        whhT = PackedOperand(b: params.whh, ldb: hout, transB: true, k: hout, n: 4 * h)
        whh = training ? PackedOperand(b: params.whh, ldb: hout, transB: false, k: 4 * h, n: hout) : nil
        if p > 0, let w = params.whr {
            whrT = PackedOperand(b: w, ldb: h, transB: true, k: h, n: p)
            whr = training ? PackedOperand(b: w, ldb: h, transB: false, k: p, n: h) : nil
        } else {
            whrT = nil
            whr = nil
        }
        scratch = Buffer(rows * h)  // dm with a projection
    }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 tape: UnsafeMutablePointer<S>, hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, hout = outputSize, tw = tapeWidth, cPrev = cPrev!, cNew = cNew!
        Kernels.gemm(m: rows, a: hPrev, lda: hout, packed: whhT, beta: 1, c: xp, ldc: 4 * h)
        let peep = params.peephole
        // Rows are independent: the two halves of the batch go to the two threads.
        Kernels.forEachRow(rows, work: 8 * h) { range in
            for b in range {
                let x = xp + b * 4 * h, t = tape + b * tw, cp = cPrev + b * h, cn = cNew + b * h
                if let p = peep {
                    for j in 0 ..< h { x[j] += p[j] * cp[j]; x[h + j] += p[h + j] * cp[j] }
                }
                Kernels.sigmoid(x, count: 2 * h)      // Γ_u, Γ_f
                Kernels.tanh(x + 2 * h, count: h)      // c̃
                for j in 0 ..< h { cn[j] = x[h + j] * cp[j] + x[j] * x[2 * h + j] }
                if let p = peep {
                    for j in 0 ..< h { x[3 * h + j] += p[2 * h + j] * cn[j] }
                }
                Kernels.sigmoid(x + 3 * h, count: h)  // Γ_o
                t.update(from: x, count: 4 * h)
                (t + 4 * h).update(from: cn, count: h)
                Kernels.tanh(cn, into: t + 5 * h, count: h)
                let m = projected ? t + 6 * h : hNew + b * h
                for j in 0 ..< h { m[j] = x[3 * h + j] * t[5 * h + j] }
            }
        }
        if let w = whrT {
            Kernels.gemm(m: rows, a: tape + 6 * h, lda: tw, packed: w, beta: 0, c: hNew, ldc: hout)
        }
    }

    func backward(rows: Int, tape: UnsafePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                  dh: UnsafePointer<S>, dc: UnsafePointer<S>?, dGX: UnsafeMutablePointer<S>,
                  dGH: UnsafeMutablePointer<S>, dhPrev: UnsafeMutablePointer<S>, dcPrev: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, hout = outputSize, tw = tapeWidth
        let cPrev = cPrev!, dc = dc!, dcPrev = dcPrev!
        var dm = dh
        if let w = whr {
            Kernels.gemm(m: rows, a: dh, lda: hout, packed: w, beta: 0, c: scratch.pointer, ldc: h)
            dm = UnsafePointer(scratch.pointer)
        }
        let peep = params.peephole, dpeep = grads?.peephole
        for b in 0 ..< rows {
            let t = tape + b * tw, cp = cPrev + b * h, g = dGX + b * 4 * h
            let dmr = dm + b * h, dcr = dc + b * h, dcp = dcPrev + b * h
            for j in 0 ..< h {
                let i = t[j], f = t[h + j], gg = t[2 * h + j], o = t[3 * h + j], c = t[4 * h + j], tc = t[5 * h + j]
                let dpo = dmr[j] * tc * o * (1 - o)
                var dcT = dcr[j] + dmr[j] * o * (1 - tc * tc)
                if let p = peep { dcT += dpo * p[2 * h + j] }
                let dpi = dcT * gg * i * (1 - i)
                let dpf = dcT * cp[j] * f * (1 - f)
                let dpg = dcT * i * (1 - gg * gg)
                var dcPrevJ = dcT * f
                if let p = peep, let dp = dpeep {
                    dcPrevJ += dpi * p[j] + dpf * p[h + j]
                    dp[j] += dpi * cp[j]
                    dp[h + j] += dpf * cp[j]
                    dp[2 * h + j] += dpo * c
                }
                g[j] = dpi; g[h + j] = dpf; g[2 * h + j] = dpg; g[3 * h + j] = dpo
                dcp[j] = dcPrevJ
            }
        }
        Kernels.gemm(m: rows, a: dGX, lda: 4 * h, packed: whh!, beta: 0, c: dhPrev, ldc: hout)
    }

    func accumulateWeightGradients(count n: Int, dGH: UnsafePointer<S>, hPrev: UnsafePointer<S>,
                                   dh: UnsafePointer<S>, tape: UnsafePointer<S>) {
        let h = hiddenSize, g = grads!
        accumulateRecurrentGradient(count: n, gateWidth: 4 * h, outputSize: outputSize, dGH: dGH, hPrev: hPrev, grads: g)
        if let dwhr = g.whr {
            // dW_hr += (∂L/∂a)ᵀ · m over every step and row.
            Kernels.gemm(transA: true, transB: false, m: outputSize, n: h, k: n, alpha: 1, a: dh, lda: outputSize,
                         b: tape + 6 * h, ldb: tapeWidth, beta: 1, c: dwhr, ldc: h)
        }
    }
}
