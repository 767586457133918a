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
    let separateRecurrentGradientWidth = 0
    var keepsOutputGradients: Bool { projected }
    let params: CellParameters<S>
    let grads: CellParameters<S>?
    let whhT: PackedOperand<S>
    let whrT: PackedOperand<S>?
    let whh: PackedOperand<S>?
    let whr: PackedOperand<S>?
    let scratch: Buffer<S>
    /// h<t-1>·W_hhᵀ of one step [rows, 4H] (Float): the product stores here instead of adding into
    /// the step's input projection, which was written long before (it is 100 steps' worth) and so
    /// stalled the product's stores on cache misses; the gate pass reads both, in sequence. Not
    /// when the runner projects each step just before it (`freshInput`): then the product adds
    /// into the projection, still in L1, and the gate pass reads one array instead of two.
    let recurrent: Buffer<S>?
    /// The 16-lane gate pass (Float).
    let vectorGates: Bool
    /// Whether forward keeps gate values for backward (training); inference writes only what the
    /// projection reads.
    let recordsTape: Bool

    var projected: Bool { params.whr != nil }

    init(hidden h: Int, projection p: Int, rows: Int, params: CellParameters<S>, grads: CellParameters<S>?,
         recordsTape: Bool = true, freshInput: Bool = false) {
        hiddenSize = h
        self.recordsTape = recordsTape
        outputSize = p > 0 ? p : h
        tapeWidth = p > 0 ? 7 * h : 6 * h
        self.params = params
        self.grads = grads
        let hout = outputSize, training = grads != nil
        whhT = PackedOperand(b: params.whh, ldb: hout, transB: true, k: hout, n: 4 * h, cache: params.cache)
        whh = training ? PackedOperand(b: params.whh, ldb: hout, transB: false, k: 4 * h, n: hout) : nil
        if p > 0, let w = params.whr {
            whrT = PackedOperand(b: w, ldb: h, transB: true, k: h, n: p, cache: params.cache)
            whr = training ? PackedOperand(b: w, ldb: h, transB: false, k: p, n: h) : nil
        } else {
            whrT = nil
            whr = nil
        }
        scratch = Buffer(rows * h)  // dm with a projection
        vectorGates = S.self == Float.self
        recurrent = vectorGates && !freshInput ? Buffer(uninitialized: rows * 4 * h) : nil
    }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 tape: UnsafeMutablePointer<S>, hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, hout = outputSize, tw = tapeWidth, cPrev = cPrev!, cNew = cNew!
        let peep = params.peephole, keep = recordsTape, projected = projected, recurrent = recurrent
        let vectorGates = vectorGates
        // Rows are independent: after a large product their gates are split over the threads (Kernels.forEachRow).
        func gates(_ range: Range<Int>) {
            for b in range {
                let x = xp + b * 4 * h, t = tape + b * tw, cp = cPrev + b * h, cn = cNew + b * h
                let m = projected ? t + 6 * h : hNew + b * h
                if vectorGates {
                    LSTMGates.forward(x: x.float, hr: recurrent.map { UnsafePointer($0.pointer + b * 4 * h).float }, h: h, stride: h,
                                      cPrev: cp.float,
                                      cNew: cn.float, m: m.float, tape: keep ? t.float : nil,
                                      peephole: peep.map { UnsafePointer($0).float })
                    continue
                }
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
                for j in 0 ..< h { m[j] = x[3 * h + j] * t[5 * h + j] }
            }
        }
        Kernels.gemm(m: rows, a: hPrev, lda: hout, packed: whhT, beta: recurrent == nil ? 1 : 0,
                     c: recurrent?.pointer ?? xp, ldc: 4 * h)
        Kernels.forEachRow(rows, work: 8 * h, gates)
        if let w = whrT {
            Kernels.gemm(m: rows, a: tape + 6 * h, lda: tw, packed: w, beta: 0, c: hNew, ldc: hout)
        }
    }

    var splitsUnits: Bool { vectorGates && !projected && recurrent != nil }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?, units: Range<Int>) {
        guard splitsUnits, let recurrent, let cPrev, let cNew else {
            preconditionFailure("LSTMCell.forward(units:): Float cells without a projection only")
        }
        let h = hiddenSize, u0 = units.lowerBound, peep = params.peephole
        Kernels.gemvUnits(m: rows, a: hPrev, lda: h, packed: whhT, beta: 0, c: recurrent.pointer, ldc: 4 * h, rowBias: nil,
                          units: units, hidden: h, gates: 4)
        for b in 0 ..< rows {
            LSTMGates.forward(x: UnsafePointer(xp + b * 4 * h + u0).float, hr: UnsafePointer(recurrent.pointer + b * 4 * h + u0).float,
                              h: units.count, stride: h, cPrev: (cPrev + b * h + u0).float, cNew: (cNew + b * h + u0).float,
                              m: (hNew + b * h + u0).float, tape: nil, peephole: peep.map { UnsafePointer($0 + u0).float })
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
        if S.self == Float.self && peep == nil {
            // Rows are independent without peepholes (their gradient is a sum over rows): gates split
            // over the threads as in forward, then ∂L/∂a<t-1>.
            func gates(_ range: Range<Int>) {
                for b in range {
                    LSTMGates.backward(t: (tape + b * tw).float, h: h, cPrev: (cPrev + b * h).float, dm: (dm + b * h).float,
                                       dc: (dc + b * h).float, dGates: (dGX + b * 4 * h).float, dcPrev: (dcPrev + b * h).float)
                }
            }
            let w = whh!
            Kernels.forEachRow(rows, work: 8 * h, gates)
            Kernels.gemm(m: rows, a: dGX, lda: 4 * h, packed: w, beta: 0, c: dhPrev, ldc: hout)
            return
        }
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

    func accumulateWeightGradients(count n: Int, dGX: UnsafePointer<S>, dGH: UnsafePointer<S>, dGHSums: UnsafePointer<S>?,
                                   hPrev: UnsafePointer<S>, dh: UnsafePointer<S>?, tape: UnsafePointer<S>) {
        let h = hiddenSize, g = grads!
        accumulateRecurrentGradient(count: n, gateWidth: 4 * h, outputSize: outputSize, dGH: dGH, dGHSums: dGHSums, hPrev: hPrev, grads: g)
        if let dwhr = g.whr {
            // dW_hr += (∂L/∂a)ᵀ · m over every step and row.
            Kernels.gemm(transA: true, transB: false, m: outputSize, n: h, k: n, alpha: 1, a: dh!, lda: outputSize,
                         b: tape + 6 * h, ldb: tapeWidth, beta: 1, c: dwhr, ldc: h)
        }
    }
}

/// The forward gate equations of one row, fused: 16 units at a time through every gate, so the
/// pre-activations are read once and nothing but c<t>, a<t> (and the tape in training) is written.
enum LSTMGates {
    typealias V = SIMD16<Float>

    /// x: the row's input projection, hr: its recurrent product (pre-activation z = x + hr; x alone
    /// when hr is nil: the product was added into x). `h` units, whose gate blocks in x, hr, the
    /// peepholes and the tape are `stride` apart (H; h = H but for a part of a step split by units).
    static func forward(x: UnsafePointer<Float>, hr: UnsafePointer<Float>?, h: Int, stride: Int, cPrev: UnsafePointer<Float>,
                        cNew: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                        tape: UnsafeMutablePointer<Float>?, peephole p: UnsafePointer<Float>?) {
        var j = 0
        while j + 16 <= h {
            chunk(x: x + j, hr: hr.map { $0 + j }, cp: cPrev + j, p: p.map { $0 + j }, stride: stride, cn: cNew + j, m: m + j,
                  t: tape.map { $0 + j })
            j += 16
        }
        let n = h - j
        if n == 0 { return }
        VectorMath.paddedTail(vectors: 16) { b in
            // The tape's copy may reuse xs and hs: the chunk reads all its inputs before it writes.
            let xs = b, hs = b + 64, cp = b + 128, ps = b + 144, cn = b + 192, ms = b + 208, ts = b
            VectorMath.gather(x + j, blocks: 4, stride: stride, count: n, into: xs)
            if let hr { VectorMath.gather(hr + j, blocks: 4, stride: stride, count: n, into: hs) }
            VectorMath.gather(cPrev + j, count: n, into: cp)
            if let p { VectorMath.gather(p + j, blocks: 3, stride: stride, count: n, into: ps) }
            chunk(x: xs, hr: hr == nil ? nil : UnsafePointer(hs), cp: cp, p: p == nil ? nil : UnsafePointer(ps), stride: 16, cn: cn, m: ms,
                  t: tape == nil ? nil : ts)
            VectorMath.scatter(cn, count: n, into: cNew + j)
            VectorMath.scatter(ms, count: n, into: m + j)
            if let t = tape { VectorMath.scatter(ts, blocks: 6, count: n, into: t + j, stride: stride) }
        }
    }

    /// 16 units; gate g of unit u at x[g·stride + u] (likewise hr, the peepholes and the tape).
    @inline(__always)
    static func chunk(x: UnsafePointer<Float>, hr: UnsafePointer<Float>?, cp cpPointer: UnsafePointer<Float>,
                      p: UnsafePointer<Float>?, stride s: Int,
                      cn: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, t: UnsafeMutablePointer<Float>?) {
        let cp = VectorMath.load(cpPointer)
        var zi = VectorMath.load(x), zf = VectorMath.load(x + s), zo = VectorMath.load(x + 3 * s)
        var zg = VectorMath.load(x + 2 * s)
        if let hr {
            zi += VectorMath.load(hr); zf += VectorMath.load(hr + s)
            zo += VectorMath.load(hr + 3 * s); zg += VectorMath.load(hr + 2 * s)
        }
        if let p {
            zi = zi.addingProduct(VectorMath.load(p), cp)
            zf = zf.addingProduct(VectorMath.load(p + s), cp)
        }
        let i = VectorMath.sigmoid(zi), f = VectorMath.sigmoid(zf), g = VectorMath.tanh(zg)
        let c = f * cp + i * g
        if let p { zo = zo.addingProduct(VectorMath.load(p + 2 * s), c) }
        let o = VectorMath.sigmoid(zo), tc = VectorMath.tanh(c)
        VectorMath.store(c, cn)
        VectorMath.store(o * tc, m)
        if let t {
            VectorMath.store(i, t); VectorMath.store(f, t + s); VectorMath.store(g, t + 2 * s)
            VectorMath.store(o, t + 3 * s); VectorMath.store(c, t + 4 * s); VectorMath.store(tc, t + 5 * s)
        }
    }

    /// The backward equations above for one row without peepholes, 16 units at a time.
    static func backward(t: UnsafePointer<Float>, h: Int, cPrev: UnsafePointer<Float>, dm: UnsafePointer<Float>,
                         dc: UnsafePointer<Float>, dGates: UnsafeMutablePointer<Float>, dcPrev: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 16 <= h {
            backwardChunk(t: t + j, stride: h, cp: cPrev + j, dm: dm + j, dc: dc + j, dg: dGates + j, dcp: dcPrev + j)
            j += 16
        }
        let n = h - j
        if n == 0 { return }
        VectorMath.paddedTail(vectors: 14) { b in
            let ts = b, cp = b + 96, dms = b + 112, dcs = b + 128, dg = b + 144, dcp = b + 208
            VectorMath.gather(t + j, blocks: 6, stride: h, count: n, into: ts)
            VectorMath.gather(cPrev + j, count: n, into: cp)
            VectorMath.gather(dm + j, count: n, into: dms)
            VectorMath.gather(dc + j, count: n, into: dcs)
            backwardChunk(t: ts, stride: 16, cp: cp, dm: dms, dc: dcs, dg: dg, dcp: dcp)
            VectorMath.scatter(dg, blocks: 4, count: n, into: dGates + j, stride: h)
            VectorMath.scatter(dcp, count: n, into: dcPrev + j)
        }
    }

    @inline(__always)
    static func backwardChunk(t: UnsafePointer<Float>, stride s: Int, cp: UnsafePointer<Float>, dm: UnsafePointer<Float>,
                              dc: UnsafePointer<Float>, dg: UnsafeMutablePointer<Float>, dcp: UnsafeMutablePointer<Float>) {
        let i = VectorMath.load(t), f = VectorMath.load(t + s), g = VectorMath.load(t + 2 * s)
        let o = VectorMath.load(t + 3 * s), tc = VectorMath.load(t + 5 * s)
        let dmv = VectorMath.load(dm)
        let dpo = dmv * tc * o * (1 - o)
        let dcT = VectorMath.load(dc) + dmv * o * (1 - tc * tc)
        VectorMath.store(dcT * g * i * (1 - i), dg)
        VectorMath.store(dcT * VectorMath.load(cp) * f * (1 - f), dg + s)
        VectorMath.store(dcT * i * (1 - g * g), dg + 2 * s)
        VectorMath.store(dpo, dg + 3 * s)
        VectorMath.store(dcT * f, dcp)
    }
}
