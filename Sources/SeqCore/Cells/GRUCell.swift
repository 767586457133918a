/// The GRU (lesson 7), in its three exact variants. Stored as PyTorch and ONNX store it: gate rows
/// r, z, n in weight_ih [3H, I] and weight_hh [3H, H]; the simplified variant has rows z, n only.
///
///     r = σ(W_ir x<t> + b_ir + W_hr h<t-1> + b_hr)          reset gate (Γ_r)
///     z = σ(W_iz x<t> + b_iz + W_hz h<t-1> + b_hz)          z = 1 − Γ_u (σ(−v) = 1 − σ(v))
///     n = tanh(W_in x<t> + b_in + W_hn (r ⊙ h<t-1>) + b_hn)      classic (Cho et al.; ONNX lbr=0)
///     n = tanh(W_in x<t> + b_in + r ⊙ (W_hn h<t-1> + b_hn))      linear-before-reset (PyTorch, cuDNN)
///     n = tanh(W_in x<t> + b_in + W_hn h<t-1> + b_hn)            simplified (no r; the course's first GRU)
///     h<t> = (1 − z) ⊙ n + z ⊙ h<t-1>                        the course's c<t> = Γ_u c̃ + (1 − Γ_u) c<t-1>
///
/// Backward, with dh = ∂L/∂h<t> and primes for pre-activations:
///
///     dn′ = dh ⊙ (1 − z) ⊙ (1 − n²)        dz′ = dh ⊙ (h<t-1> − n) ⊙ z(1 − z)
///     classic:  d(r⊙h) = dn′ · W_hn,       dr′ = d(r⊙h) ⊙ h<t-1> ⊙ r(1 − r)
///     lbr:      dr′ = dn′ ⊙ (W_hn h + b_hn) ⊙ r(1 − r),  and the recurrent n-gradient is dn′ ⊙ r
///     dh<t-1> = dh ⊙ z + d(gates) · W_hh  (+ d(r⊙h) ⊙ r for classic)
final class GRUCell<S: SeqScalar>: RecurrentCell {
    typealias Scalar = S
    enum Variant { case classic, linearBeforeReset, simplified }

    let variant: Variant
    let hiddenSize: Int
    var outputSize: Int { hiddenSize }
    let gateWidth: Int
    /// Tape per row — classic: r, z, n, r⊙h<t-1> [4H]; lbr: r, z, n, W_hn h + b_hn [4H]; simplified: z, n [2H].
    let tapeWidth: Int
    let hasCellState = false
    var foldsRecurrentBias: Bool { variant != .linearBeforeReset }
    var separateRecurrentGradientWidth: Int { variant == .linearBeforeReset ? hiddenSize : 0 }
    let keepsOutputGradients = false
    let params: CellParameters<S>
    let grads: CellParameters<S>?
    /// Forward operands: W_hhᵀ (lbr, simplified) or W_h[rz]ᵀ and W_hnᵀ (classic).
    let whhT: PackedOperand<S>
    let whnT: PackedOperand<S>?
    /// Backward operands: W_hh (lbr, simplified) or W_h[rz] and W_hn (classic).
    let whh: PackedOperand<S>?
    let whn: PackedOperand<S>?
    let scratch: Buffer<S>
    /// Whether forward keeps what backward needs (training); the fused Float path skips it otherwise.
    let recordsTape: Bool

    init(hidden h: Int, variant: Variant, rows: Int, params: CellParameters<S>, grads: CellParameters<S>?,
         recordsTape: Bool = true) {
        self.variant = variant
        self.recordsTape = recordsTape
        hiddenSize = h
        gateWidth = (variant == .simplified ? 2 : 3) * h
        tapeWidth = (variant == .simplified ? 2 : 4) * h
        self.params = params
        self.grads = grads
        let training = grads != nil
        switch variant {
        case .classic:
            whhT = PackedOperand(b: params.whh, ldb: h, transB: true, k: h, n: 2 * h, cache: params.cache)
            whnT = PackedOperand(b: params.whh + 2 * h * h, ldb: h, transB: true, k: h, n: h, cache: params.cache)
            whh = training ? PackedOperand(b: params.whh, ldb: h, transB: false, k: 2 * h, n: h) : nil
            whn = training ? PackedOperand(b: params.whh + 2 * h * h, ldb: h, transB: false, k: h, n: h) : nil
        case .linearBeforeReset, .simplified:
            whhT = PackedOperand(b: params.whh, ldb: h, transB: true, k: h, n: gateWidth, cache: params.cache)
            whnT = nil
            whh = training ? PackedOperand(b: params.whh, ldb: h, transB: false, k: gateWidth, n: h) : nil
            whn = nil
        }
        // lbr forward: the recurrent product [B, 3H]; lbr backward: the step's whole recurrent
        // gradient [B, 3H]; classic backward: d(r⊙h) [B, H].
        scratch = Buffer(rows * 3 * h)
    }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 tape: UnsafeMutablePointer<S>, hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, gw = gateWidth, tw = tapeWidth
        switch variant {
        case .linearBeforeReset:
            // h<t-1>·W_hhᵀ + b_hh, the bias added as the product stores (not copied into every row first).
            let hp = scratch.pointer, bhh = params.bhh.map { UnsafePointer($0) }
            if S.self == Float.self {
                let keep = recordsTape
                func gates(_ range: Range<Int>) {
                    for b in range {
                        GRUGates.forward(x: (xp + b * gw).float, hr: (hp + b * gw).float, h: h, stride: h, hPrev: (hPrev + b * h).float,
                                         hNew: (hNew + b * h).float, tape: keep ? (tape + b * tw).float : nil)
                    }
                }
                // Rows are independent: after a large product their gates are split over the threads.
                Kernels.gemm(m: rows, a: hPrev, lda: h, packed: whhT, beta: 0, c: hp, ldc: gw, rowBias: bhh)
                Kernels.forEachRow(rows, work: 6 * h, gates)
                return
            }
            Kernels.gemm(m: rows, a: hPrev, lda: h, packed: whhT, beta: 0, c: hp, ldc: gw, rowBias: bhh)
            for b in 0 ..< rows {
                let x = xp + b * gw, r0 = hp + b * gw, t = tape + b * tw, hp0 = hPrev + b * h, out = hNew + b * h
                for j in 0 ..< 2 * h { t[j] = x[j] + r0[j] }
                Kernels.sigmoid(t, count: 2 * h)  // r, z
                for j in 0 ..< h {
                    t[3 * h + j] = r0[2 * h + j]
                    t[2 * h + j] = x[2 * h + j] + t[j] * r0[2 * h + j]
                }
                Kernels.tanh(t + 2 * h, count: h)  // n
                for j in 0 ..< h {
                    let z = t[h + j]
                    out[j] = (1 - z) * t[2 * h + j] + z * hp0[j]
                }
            }
        case .classic:
            // r and z first: their pre-activations are needed before the candidate's product.
            Kernels.gemm(m: rows, a: hPrev, lda: h, packed: whhT, beta: 1, c: xp, ldc: gw)
            for b in 0 ..< rows {
                let x = xp + b * gw, t = tape + b * tw, hp0 = hPrev + b * h
                Kernels.sigmoid(x, count: 2 * h)
                t.update(from: x, count: 2 * h)
                for j in 0 ..< h { t[3 * h + j] = t[j] * hp0[j] }
            }
            Kernels.gemm(m: rows, a: tape + 3 * h, lda: tw, packed: whnT!, beta: 1, c: xp + 2 * h, ldc: gw)
            for b in 0 ..< rows {
                let x = xp + b * gw, t = tape + b * tw, hp0 = hPrev + b * h, out = hNew + b * h
                Kernels.tanh(x + 2 * h, into: t + 2 * h, count: h)
                for j in 0 ..< h {
                    let z = t[h + j]
                    out[j] = (1 - z) * t[2 * h + j] + z * hp0[j]
                }
            }
        case .simplified:
            Kernels.gemm(m: rows, a: hPrev, lda: h, packed: whhT, beta: 1, c: xp, ldc: gw)
            for b in 0 ..< rows {
                let x = xp + b * gw, t = tape + b * tw, hp0 = hPrev + b * h, out = hNew + b * h
                Kernels.sigmoid(x, count: h)
                Kernels.tanh(x + h, count: h)
                t.update(from: x, count: 2 * h)
                for j in 0 ..< h {
                    let z = t[j]
                    out[j] = (1 - z) * t[h + j] + z * hp0[j]
                }
            }
        }
    }

    var splitsUnits: Bool { S.self == Float.self && variant == .linearBeforeReset }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?, units: Range<Int>) {
        precondition(splitsUnits, "GRUCell.forward(units:): linear-before-reset Float cells only")
        let h = hiddenSize, gw = gateWidth, hp = scratch.pointer, u0 = units.lowerBound
        Kernels.gemvUnits(m: rows, a: hPrev, lda: h, packed: whhT, beta: 0, c: hp, ldc: gw, rowBias: params.bhh.map { UnsafePointer($0) },
                          units: units, hidden: h, gates: 3)
        for b in 0 ..< rows {
            GRUGates.forward(x: (xp + b * gw + u0).float, hr: (hp + b * gw + u0).float, h: units.count, stride: h,
                             hPrev: (hPrev + b * h + u0).float, hNew: (hNew + b * h + u0).float, tape: nil)
        }
    }

    func backward(rows: Int, tape: UnsafePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                  dh: UnsafePointer<S>, dc: UnsafePointer<S>?, dGX: UnsafeMutablePointer<S>,
                  dGH: UnsafeMutablePointer<S>, dhPrev: UnsafeMutablePointer<S>, dcPrev: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, gw = gateWidth, tw = tapeWidth
        switch variant {
        case .linearBeforeReset:
            // The recurrent gradient [dr′, dz′, r ⊙ dn′] whole for this step's ∂L/∂h<t-1>; only its
            // last third, which differs from dGX, is kept for the weight gradients (dGH, [B, H]).
            let gh = scratch.pointer
            // Rows are independent: after a large product their gates are split over the threads,
            // as in forward.
            func gates(_ range: Range<Int>) {
                if S.self == Float.self {
                    for b in range {
                        GRUGates.backward(t: (tape + b * tw).float, h: h, hPrev: (hPrev + b * h).float, dh: (dh + b * h).float,
                                          gx: (dGX + b * gw).float, gh: (gh + b * gw).float, gn: (dGH + b * h).float)
                    }
                    return
                }
                for b in range {
                    let t = tape + b * tw, d = dh + b * h, hp0 = hPrev + b * h
                    let gx = dGX + b * gw, ghr = gh + b * gw, gn = dGH + b * h
                    for j in 0 ..< h {
                        let r = t[j], z = t[h + j], n = t[2 * h + j], hn = t[3 * h + j]
                        let dn = d[j] * (1 - z) * (1 - n * n)
                        let dz = d[j] * (hp0[j] - n) * z * (1 - z)
                        let dr = dn * hn * r * (1 - r)
                        gx[j] = dr; gx[h + j] = dz; gx[2 * h + j] = dn
                        ghr[j] = dr; ghr[h + j] = dz; ghr[2 * h + j] = dn * r
                        gn[j] = dn * r
                    }
                }
            }
            Kernels.forEachRow(rows, work: 8 * h, gates)
            Kernels.gemm(m: rows, a: gh, lda: gw, packed: whh!, beta: 0, c: dhPrev, ldc: h)
        case .classic:
            for b in 0 ..< rows {
                let t = tape + b * tw, d = dh + b * h, hp0 = hPrev + b * h, g = dGX + b * gw
                for j in 0 ..< h {
                    let z = t[h + j], n = t[2 * h + j]
                    g[2 * h + j] = d[j] * (1 - z) * (1 - n * n)
                    g[h + j] = d[j] * (hp0[j] - n) * z * (1 - z)
                }
            }
            let drh = scratch.pointer
            Kernels.gemm(m: rows, a: dGX + 2 * h, lda: gw, packed: whn!, beta: 0, c: drh, ldc: h)
            for b in 0 ..< rows {
                let t = tape + b * tw, hp0 = hPrev + b * h, g = dGX + b * gw, e = drh + b * h
                for j in 0 ..< h {
                    let r = t[j]
                    g[j] = e[j] * hp0[j] * r * (1 - r)
                }
            }
            Kernels.gemm(m: rows, a: dGX, lda: gw, packed: whh!, beta: 0, c: dhPrev, ldc: h)
            for b in 0 ..< rows {
                let t = tape + b * tw, e = drh + b * h, o = dhPrev + b * h
                for j in 0 ..< h { o[j] += e[j] * t[j] }
            }
        case .simplified:
            for b in 0 ..< rows {
                let t = tape + b * tw, d = dh + b * h, hp0 = hPrev + b * h, g = dGX + b * gw
                for j in 0 ..< h {
                    let z = t[j], n = t[h + j]
                    g[j] = d[j] * (hp0[j] - n) * z * (1 - z)
                    g[h + j] = d[j] * (1 - z) * (1 - n * n)
                }
            }
            Kernels.gemm(m: rows, a: dGX, lda: gw, packed: whh!, beta: 0, c: dhPrev, ldc: h)
        }
        // The direct path of h<t> = … + z ⊙ h<t-1>.
        let zOffset = variant == .simplified ? 0 : h
        Kernels.forEachRow(rows, work: h) { range in
            for b in range {
                let t = tape + b * tw, d = dh + b * h, o = dhPrev + b * h
                Kernels.addProduct(d, t + zOffset, into: o, count: h)
            }
        }
    }

    func accumulateWeightGradients(count n: Int, dGX: UnsafePointer<S>, dGH: UnsafePointer<S>, dGHSums: UnsafePointer<S>?,
                                   hPrev: UnsafePointer<S>, dh: UnsafePointer<S>?, tape: UnsafePointer<S>) {
        let h = hiddenSize, gw = gateWidth, g = grads!
        switch variant {
        case .simplified:
            accumulateRecurrentGradient(count: n, gateWidth: gw, outputSize: h, dGH: dGH, dGHSums: dGHSums, hPrev: hPrev, grads: g)
            return
        case .linearBeforeReset:
            // dW_h[rz] += d[r′ z′]ᵀ · h<t-1> (dGX's columns);  dW_hn += (r ⊙ dn′)ᵀ · h<t-1> (dGH);
            // db_hh likewise.
            Kernels.gemm(transA: true, transB: false, m: 2 * h, n: h, k: n, alpha: 1, a: dGX, lda: gw,
                         b: hPrev, ldb: h, beta: 1, c: g.whh, ldc: h)
            Kernels.gemm(transA: true, transB: false, m: h, n: h, k: n, alpha: 1, a: dGH, lda: h,
                         b: hPrev, ldb: h, beta: 1, c: g.whh + 2 * h * h, ldc: h)
            if let dbhh = g.bhh {
                Kernels.accumulateColumnSums(dGX, rows: n, n: 2 * h, ldx: gw, into: dbhh)
                Kernels.accumulateColumnSums(dGH, rows: n, n: h, ldx: h, into: dbhh + 2 * h)
            }
            return
        case .classic:
            break
        }
        // dW_h[rz] += d[r′ z′]ᵀ · h<t-1>;  dW_hn += dn′ᵀ · (r ⊙ h<t-1>)
        Kernels.gemm(transA: true, transB: false, m: 2 * h, n: h, k: n, alpha: 1, a: dGH, lda: gw,
                     b: hPrev, ldb: h, beta: 1, c: g.whh, ldc: h)
        Kernels.gemm(transA: true, transB: false, m: h, n: h, k: n, alpha: 1, a: dGH + 2 * h, lda: gw,
                     b: tape + 3 * h, ldb: tapeWidth, beta: 1, c: g.whh + 2 * h * h, ldc: h)
        addBiasGradient(count: n, width: gw, dG: dGH, sums: dGHSums, into: g.bhh)
    }
}

/// The linear-before-reset forward gate equations of one row, fused 16 units at a time (the
/// equations above; x: the input projection [r, z, n], hr: W_hh h<t-1> + b_hh [r, z, n]).
enum GRUGates {
    typealias V = SIMD16<Float>

    /// `h` units, whose gate blocks in x, hr and the tape are `stride` apart (H; h = H but for a
    /// part of a step split by units).
    static func forward(x: UnsafeMutablePointer<Float>, hr: UnsafeMutablePointer<Float>, h: Int, stride: Int,
                        hPrev: UnsafePointer<Float>, hNew: UnsafeMutablePointer<Float>, tape: UnsafeMutablePointer<Float>?) {
        var j = 0
        while j + 16 <= h {
            chunk(x: x + j, hr: hr + j, stride: stride, hp: hPrev + j, out: hNew + j, t: tape.map { $0 + j })
            j += 16
        }
        let n = h - j
        if n == 0 { return }
        VectorMath.paddedTail(vectors: 12) { b in
            let xs = b, hs = b + 48, hp = b + 96, out = b + 112, ts = b + 128
            VectorMath.gather(x + j, blocks: 3, stride: stride, count: n, into: xs)
            VectorMath.gather(hr + j, blocks: 3, stride: stride, count: n, into: hs)
            VectorMath.gather(hPrev + j, count: n, into: hp)
            chunk(x: xs, hr: hs, stride: 16, hp: hp, out: out, t: tape == nil ? nil : ts)
            VectorMath.scatter(out, count: n, into: hNew + j)
            if let t = tape { VectorMath.scatter(ts, blocks: 4, count: n, into: t + j, stride: stride) }
        }
    }

    /// 16 units; gate g of unit u at x[g·stride + u] (likewise hr and the tape r, z, n, W_hn h + b_hn).
    @inline(__always)
    static func chunk(x: UnsafeMutablePointer<Float>, hr: UnsafeMutablePointer<Float>, stride s: Int, hp: UnsafePointer<Float>,
                      out: UnsafeMutablePointer<Float>, t: UnsafeMutablePointer<Float>?) {
        let hn = VectorMath.load(hr + 2 * s)
        let r = VectorMath.sigmoid(VectorMath.load(x) + VectorMath.load(hr))
        let z = VectorMath.sigmoid(VectorMath.load(x + s) + VectorMath.load(hr + s))
        let n = VectorMath.tanh(VectorMath.load(x + 2 * s) + r * hn)
        VectorMath.store((1 - z) * n + z * VectorMath.load(hp), out)
        if let t {
            VectorMath.store(r, t); VectorMath.store(z, t + s); VectorMath.store(n, t + 2 * s); VectorMath.store(hn, t + 3 * s)
        }
    }

    /// The linear-before-reset backward equations above for one row, 16 units at a time (the same
    /// arithmetic as the scalar loop of `GRUCell.backward`): from the tape (r, z, n, W_hn h + b_hn),
    /// h<t-1> and ∂L/∂h<t>, the input-side gradient gx = [dr′, dz′, dn′], the recurrent one
    /// gh = [dr′, dz′, r ⊙ dn′] and its last block alone, gn = r ⊙ dn′ ([H]).
    static func backward(t: UnsafePointer<Float>, h: Int, hPrev: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                         gx: UnsafeMutablePointer<Float>, gh: UnsafeMutablePointer<Float>, gn: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 16 <= h {
            backwardChunk(t: t + j, stride: h, hp: hPrev + j, dh: dh + j, gx: gx + j, gh: gh + j, gn: gn + j)
            j += 16
        }
        let n = h - j
        if n == 0 { return }
        VectorMath.paddedTail(vectors: 13) { b in
            let ts = b, hp = b + 64, d = b + 80, xs = b + 96, hs = b + 144, ns = b + 192
            VectorMath.gather(t + j, blocks: 4, stride: h, count: n, into: ts)
            VectorMath.gather(hPrev + j, count: n, into: hp)
            VectorMath.gather(dh + j, count: n, into: d)
            backwardChunk(t: ts, stride: 16, hp: hp, dh: d, gx: xs, gh: hs, gn: ns)
            VectorMath.scatter(xs, blocks: 3, count: n, into: gx + j, stride: h)
            VectorMath.scatter(hs, blocks: 3, count: n, into: gh + j, stride: h)
            VectorMath.scatter(ns, count: n, into: gn + j)
        }
    }

    @inline(__always)
    static func backwardChunk(t: UnsafePointer<Float>, stride s: Int, hp: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                              gx: UnsafeMutablePointer<Float>, gh: UnsafeMutablePointer<Float>, gn: UnsafeMutablePointer<Float>) {
        let r = VectorMath.load(t), z = VectorMath.load(t + s), n = VectorMath.load(t + 2 * s), hn = VectorMath.load(t + 3 * s)
        let d = VectorMath.load(dh)
        let dn = d * (1 - z) * (1 - n * n)
        let dz = d * (VectorMath.load(hp) - n) * z * (1 - z)
        let dr = dn * hn * r * (1 - r)
        let dnr = dn * r
        VectorMath.store(dr, gx); VectorMath.store(dz, gx + s); VectorMath.store(dn, gx + 2 * s)
        VectorMath.store(dr, gh); VectorMath.store(dz, gh + s); VectorMath.store(dnr, gh + 2 * s)
        VectorMath.store(dnr, gn)
    }
}
