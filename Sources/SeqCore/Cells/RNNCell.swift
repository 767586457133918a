/// The vanilla RNN cell (lesson 2).
///
///     a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a),   g ∈ {tanh, relu}
///
/// PyTorch layout: W_ax = weight_ih [H, I], W_aa = weight_hh [H, H], b_a = bias_ih + bias_hh.
/// Backward (BPTT through one step), with z the pre-activation:
///
///     ∂L/∂z = ∂L/∂a<t> ⊙ g′(z),  g′ = 1 − a² (tanh) or [a > 0] (relu), written from a alone
///     ∂L/∂a<t-1> = ∂L/∂z · W_aa
///
/// Tape per row: a<t> [H].
final class RNNCell<S: SeqScalar>: RecurrentCell {
    typealias Scalar = S
    let hiddenSize: Int
    var outputSize: Int { hiddenSize }
    var gateWidth: Int { hiddenSize }
    var tapeWidth: Int { hiddenSize }
    let hasCellState = false
    let foldsRecurrentBias = true
    let separateRecurrentGradientWidth = 0
    let keepsOutputGradients = false
    let relu: Bool
    let grads: CellParameters<S>?
    let whhT: PackedOperand<S>    // W_aaᵀ for a<t-1> · W_aaᵀ
    let whh: PackedOperand<S>?    // W_aa for ∂L/∂a<t-1> = ∂L/∂z · W_aa

    /// Whether forward keeps a<t> on the tape (training).
    let recordsTape: Bool

    init(hidden: Int, relu: Bool, params: CellParameters<S>, grads: CellParameters<S>?, recordsTape: Bool = true) {
        hiddenSize = hidden
        self.relu = relu
        self.recordsTape = recordsTape
        self.grads = grads
        whhT = PackedOperand(b: params.whh, ldb: hidden, transB: true, k: hidden, n: hidden, cache: params.cache)
        whh = grads == nil ? nil : PackedOperand(b: params.whh, ldb: hidden, transB: false, k: hidden, n: hidden)
    }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 tape: UnsafeMutablePointer<S>, hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, relu = relu, keep = recordsTape
        Kernels.gemm(m: rows, a: hPrev, lda: h, packed: whhT, beta: 1, c: xp, ldc: h)
        // Rows are independent: after a large product, g and the copies are split over the threads
        // (on the caller alone, the worker waiting, they cost the large layer's inference 4–5%).
        func activate(_ range: Range<Int>) {
            let z = xp + range.lowerBound * h, a = hNew + range.lowerBound * h, count = range.count * h
            if relu {
                for i in 0 ..< count { a[i] = Kernels.relu(z[i]) }
            } else {
                Kernels.tanh(UnsafePointer(z), into: a, count: count)
            }
            if keep { (tape + range.lowerBound * h).update(from: a, count: count) }
        }
        Kernels.forEachRow(rows, work: 4 * h, activate)
    }

    var splitsUnits: Bool { S.self == Float.self }

    func forward(rows: Int, xp: UnsafeMutablePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                 hNew: UnsafeMutablePointer<S>, cNew: UnsafeMutablePointer<S>?, units: Range<Int>) {
        let h = hiddenSize, u0 = units.lowerBound, n = units.count
        Kernels.gemvUnits(m: rows, a: hPrev, lda: h, packed: whhT, beta: 1, c: xp, ldc: h, rowBias: nil, units: units,
                          hidden: h, gates: 1)
        for b in 0 ..< rows {
            let z = xp + b * h + u0
            if relu {
                for j in 0 ..< n { z[j] = Kernels.relu(z[j]) }
            } else {
                Kernels.tanh(z, count: n)
            }
            (hNew + b * h + u0).update(from: z, count: n)
        }
    }

    func backward(rows: Int, tape: UnsafePointer<S>, hPrev: UnsafePointer<S>, cPrev: UnsafePointer<S>?,
                  dh: UnsafePointer<S>, dc: UnsafePointer<S>?, dGX: UnsafeMutablePointer<S>,
                  dGH: UnsafeMutablePointer<S>, dhPrev: UnsafeMutablePointer<S>, dcPrev: UnsafeMutablePointer<S>?) {
        let h = hiddenSize, relu = relu
        // Split over the threads by rows after a large step, as forward's activation.
        Kernels.forEachRow(rows, work: 2 * h) { range in
            for i in range.lowerBound * h ..< range.upperBound * h {
                let a = tape[i]
                dGX[i] = dh[i] * (relu ? (a > 0 ? 1 : 0) : 1 - a * a)
            }
        }
        Kernels.gemm(m: rows, a: dGX, lda: h, packed: whh!, beta: 0, c: dhPrev, ldc: h)
    }

    func accumulateWeightGradients(count n: Int, dGX: UnsafePointer<S>, dGH: UnsafePointer<S>, dGHSums: UnsafePointer<S>?,
                                   hPrev: UnsafePointer<S>, dh: UnsafePointer<S>?, tape: UnsafePointer<S>) {
        accumulateRecurrentGradient(count: n, gateWidth: hiddenSize, outputSize: hiddenSize,
                                    dGH: dGH, dGHSums: dGHSums, hPrev: hPrev, grads: grads!)
    }
}
