/// One step of a forward stack over B sequences with everything but the arithmetic made once: the
/// cells, the packed operands, the folded biases and every buffer. A streaming session feeds one
/// step per call, and `forward`'s own work per call (a dozen small allocations, the buffer pool's
/// and the packed-weight cache's locks and lookups, the state's arrays: 2–4 µs) was a sixth of an
/// LSTM step at H = 256 and most of a small one.
///
/// A step runs exactly the products and cells `forward` runs for one step (T = 1) whose batch is
/// not split over the threads, so the results are the same to the bit. A plan stands for one
/// version of the parameters at one address (`isCurrent`); it belongs to one session (not
/// thread-safe).
final class StepPlan<S: SeqScalar> {
    typealias LayerStep = (_ x: UnsafePointer<S>, _ hPrev: UnsafePointer<S>, _ cPrev: UnsafePointer<S>?,
                           _ hNew: UnsafeMutablePointer<S>, _ cNew: UnsafeMutablePointer<S>?) -> Void
    let batch: Int
    private let version: Int
    private let base: UnsafePointer<S>
    private let outputSize: Int, hiddenSize: Int
    private let steps: [LayerStep]
    /// a<t> [L, B, Hout] and c<t> [L, B, H] of the step just run: layer l's output is layer l + 1's
    /// input, and the top layer's is the stack's.
    let hNew: Buffer<S>
    let cNew: Buffer<S>?

    /// nil when `forward` would split a step of `batch` rows over the threads (its parts' products
    /// sum in another order), or for a stack that is not forward-only.
    init?(_ layer: RecurrentLayer<S>, batch: Int, values: UnsafeBufferPointer<S>) throws {
        let c = layer.config
        guard c.direction == .forward, layer.batchSplit(batch, backward: false) == batch else { return nil }
        try layer.checkMemory(steps: 1, batch: batch, training: false)
        self.batch = batch
        version = layer.arena.version
        base = values.baseAddress!
        outputSize = c.outputSize
        hiddenSize = c.hiddenSize
        hNew = Buffer(c.numLayers * batch * c.outputSize)
        cNew = c.hasCellState ? Buffer(c.numLayers * batch * c.hiddenSize) : nil
        let cache = S.self == Float.self ? WeightCache(store: layer.packCache, version: version) : nil
        let v = UnsafeMutablePointer(mutating: base)
        let builder = Builder(batch: batch)
        for l in 0 ..< c.numLayers {
            builder.inputSize = c.layerInputSize(l)
            layer.runCells(builder, params: layer.cellParameters(v, layer: l, direction: 0, cache: cache), training: false,
                           freshInput: false)
        }
        steps = builder.steps
    }

    /// Whether the parameters are still those the plan was made for (a training step, `setValue`
    /// or a loaded checkpoint advances the version; a copy-on-write moves them).
    func isCurrent(_ layer: RecurrentLayer<S>, values: UnsafeBufferPointer<S>) -> Bool {
        layer.arena.version == version && values.baseAddress == base
    }

    /// Runs x<t> [B, I] through every layer from the state h [L, B, Hout] and c [L, B, H] (an
    /// LSTM's; nil otherwise) into `hNew` and `cNew`. Returns the top layer's a<t> [B, Hout],
    /// inside `hNew`.
    func run(x: UnsafePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?) -> UnsafePointer<S> {
        var input = x
        let hs = batch * outputSize, cs = batch * hiddenSize
        for (l, step) in steps.enumerated() {
            let out = hNew.pointer + l * hs
            step(input, h + l * hs, c.map { $0 + l * cs }, out, cNew.map { $0.pointer + l * cs })
            input = UnsafePointer(out)
        }
        return input
    }

    /// Makes each layer's step: the input projection x<t>·W_ihᵀ + b (one product, the bias added as
    /// it stores), then the cell (the recurrent product and the gates).
    private final class Builder: ForwardCells {
        let batch: Int
        var inputSize = 0
        var steps: [LayerStep] = []
        init(batch: Int) { self.batch = batch }

        func go<C: RecurrentCell>(_ makeCell: (Int) -> C, params p: CellParameters<S>) where C.Scalar == S {
            let cell = makeCell(batch), batch = batch, inputSize = inputSize, gw = cell.gateWidth, h = cell.hiddenSize
            let bias = inputProjectionBias(cell, p)
            let wihT = PackedOperand(b: p.wih, ldb: inputSize, transB: true, k: inputSize, n: gw, cache: p.cache)
            let xp = Buffer<S>(uninitialized: batch * gw)  // the product writes every element (β = 0)
            let tape = Buffer<S>(batch * cell.tapeWidth)
            // Large enough a step runs as one hand-off to the worker, split by units: each thread
            // projects its units' columns of x<t>, then of h<t-1>, then runs their gates. Split by
            // product instead, a step handed off twice, and each hand-off cost about 1.5 µs on the
            // 2-core Xeon (the worker starting 0.5–0.8 µs after the caller, its end seen as late),
            // with the gates on the caller alone. Whole slivers per part, so the same sums.
            let nr = FloatGEMM.nr
            let splits = cell.splitsUnits && batch <= FloatGEMM.smallM && h % nr == 0 && h >= 2 * nr
                && wihT.prepacked != nil && batch * gw * (inputSize + cell.outputSize) >= FloatGEMM.smallParallelThreshold
            let cut = (h / nr + 1) / 2 * nr  // the caller's units 0 ..< cut: the larger part, as the worker starts later
            steps.append { x, hPrev, cPrev, hNew, cNew in
                let biasP = bias.map { UnsafePointer($0.pointer) }  // the closure keeps `bias` alive
                if splits && Parallelism.threadCount > 1 {
                    WorkerPool.shared.run { part in
                        let units = part == 0 ? 0 ..< cut : cut ..< h
                        Kernels.gemvUnits(m: batch, a: x, lda: inputSize, packed: wihT, beta: 0, c: xp.pointer, ldc: gw, rowBias: biasP,
                                          units: units, hidden: h, gates: gw / h)
                        cell.forward(rows: batch, xp: xp.pointer, hPrev: hPrev, cPrev: cPrev, hNew: hNew, cNew: cNew, units: units)
                    }
                    return
                }
                Kernels.gemm(m: batch, a: x, lda: inputSize, packed: wihT, beta: 0, c: xp.pointer, ldc: gw, rowBias: biasP)
                cell.forward(rows: batch, xp: xp.pointer, hPrev: hPrev, cPrev: cPrev, tape: tape.pointer, hNew: hNew, cNew: cNew)
            }
        }
    }
}
