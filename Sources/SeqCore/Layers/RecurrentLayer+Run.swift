/// What a training forward pass keeps for backward. Opaque: pass it to `RecurrentLayer.backward`.
/// Backward uses the layer's parameters as they are then: do not change them in between.
public final class RecurrentTape<S: SeqScalar> {
    let steps: Int
    let batch: Int
    let lengths: [Int]
    let batchFirst: Bool
    /// Time-major input of each layer [T, B, In_l] (after dropout for l > 0); nil for layer 0,
    /// whose input is `input`.
    var layerInputs: [Buffer<S>?] = []
    /// The time-major input of layer 0: the caller's array itself (or its time-major transpose),
    /// kept by reference. Copy-on-write keeps it intact if the caller changes theirs; copying it
    /// into a buffer was 2% of a small layer's training, on one thread.
    var input: [S] = []
    /// Dropout mask applied to layer l's output (0 or 1/(1−p)), for l < L−1; nil without dropout.
    var dropoutMasks: [Buffer<S>?] = []
    /// Per layer·D + direction: the cell tape [T, B, tapeWidth], h<t-1> [T, B, Hout], c<t-1> [T, B, H].
    var cellTapes: [Buffer<S>?]
    var hPrev: [Buffer<S>?]
    var cPrev: [Buffer<S>?]

    init(steps: Int, batch: Int, lengths: [Int], batchFirst: Bool, slots: Int) {
        self.steps = steps
        self.batch = batch
        self.lengths = lengths
        self.batchFirst = batchFirst
        cellTapes = Array(repeating: nil, count: slots)
        hPrev = Array(repeating: nil, count: slots)
        cPrev = Array(repeating: nil, count: slots)
    }
}

/// Result of `RecurrentLayer.forward`.
public struct RecurrentOutput<S: SeqScalar> {
    /// a<t> of the last layer at every step, [T, B, F] (or [B, T, F] when batch-first),
    /// F = D·Hout (concat) or Hout (sum); zero at steps t ≥ length.
    public var output: Tensor<S>
    /// Final a of every layer and direction at each sequence's own last valid step, [L·D, B, Hout].
    public var hN: Tensor<S>
    /// Final memory cells (LSTM), [L·D, B, H].
    public var cN: Tensor<S>?
    /// Present when `training` was true.
    public var tape: RecurrentTape<S>?
}

/// Result of `RecurrentLayer.backward`; parameter gradients go to the arena.
public struct RecurrentGradients<S: SeqScalar> {
    /// ∂L/∂x, shaped like the input (zero at padded steps).
    public var input: Tensor<S>
    /// ∂L/∂h0 [L·D, B, Hout] and ∂L/∂c0 [L·D, B, H].
    public var h0: Tensor<S>
    public var c0: Tensor<S>?
    /// ‖∂L/∂a<t>‖₂ over the batch's valid rows, for every layer·direction and step: [L·D, T].
    /// The vanishing-gradient diagnostic (lesson 5): a vanilla RNN's norms decay towards early t.
    public var stepGradientNorms: Tensor<S>
}

extension RecurrentLayer {
    /// Runs the stack over a batch of sequences.
    ///
    /// - Parameters:
    ///   - input: [T, B, I], or [B, T, I] when `batchFirst`.
    ///   - lengths: B valid lengths, each in 1...T (nil: all T). Steps past a length output zeros and
    ///     touch neither the state nor any gradient; the reverse direction starts at each sequence's
    ///     own last valid step.
    ///   - h0: [L·D, B, Hout] initial states (nil: zeros). c0: [L·D, B, H], LSTM only.
    ///   - training: keep a tape for `backward` and apply dropout between layers.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func forward(_ input: Tensor<S>, lengths: [Int]? = nil, h0: Tensor<S>? = nil, c0: Tensor<S>? = nil,
                        batchFirst: Bool = false, training: Bool = false) throws -> RecurrentOutput<S> {
        let c = config
        guard input.shape.count == 3 else {
            throw SeqError.invalid("input", expected: batchFirst ? "shape [B, T, I]" : "shape [T, B, I]", got: input.shape)
        }
        let steps = batchFirst ? input.shape[1] : input.shape[0]
        let batch = batchFirst ? input.shape[0] : input.shape[1]
        try Check.positive(steps, "input.shape (T)")
        try Check.positive(batch, "input.shape (B)")
        if input.shape[2] != c.inputSize {
            throw SeqError.invalid("input", expected: "\(c.inputSize) features (input_size) in the last dimension", got: input.shape)
        }
        let lens = try validateLengths(lengths, steps: steps, batch: batch)
        let slots = c.numLayers * c.numDirections
        try checkState(h0, "h0", [slots, batch, c.outputSize])
        if let c0 {
            guard c.hasCellState else {
                throw SeqError.invalid("c0", expected: "nil for a \(c.cell.rawValue) cell (only LSTMs have a memory cell)", got: c0.shape)
            }
            try checkState(c0, "c0", [slots, batch, c.hiddenSize])
        }
        try checkFinite(input.data, "input")
        try checkMemory(steps: steps, batch: batch, training: training)

        let hout = c.outputSize, h = c.hiddenSize, features = c.outputFeatures
        let tape = training ? RecurrentTape<S>(steps: steps, batch: batch, lengths: lens, batchFirst: batchFirst, slots: slots) : nil
        let hN = Buffer<S>(uninitialized: slots * batch * hout)
        let cN: Buffer<S>? = c.hasCellState ? Buffer(uninitialized: slots * batch * h) : nil
        // The last layer writes straight into the returned array, and a time-major input is read in
        // place: copying both in and out was a tenth of a small layer's time, on one thread.
        // Training's tape keeps the input array itself (see `RecurrentTape.input`).
        let outCount = steps * batch * features
        let timeMajor = batchFirst ? Self.transposeBT(input.data, steps, batch, c.inputSize, toTimeMajor: true) : input.data
        tape?.input = timeMajor
        let outData = [S](unsafeUninitializedCapacity: outCount) { out, initialized in
            timeMajor.withUnsafeBufferPointer { x in
                withOptionalPointer(h0?.data) { h0p in
                    withOptionalPointer(c0?.data) { c0p in
                        runLayers(input: x.baseAddress!, steps: steps, batch: batch, lengths: lens, h0: h0p, c0: c0p,
                                  output: out.baseAddress!, hN: hN.pointer, cN: cN?.pointer, tape: tape)
                    }
                }
            }
            initialized = outCount
        }
        return RecurrentOutput(
            output: Tensor(unchecked: batchFirst ? [batch, steps, features] : [steps, batch, features],
                           data: batchFirst ? Self.transposeBT(outData, steps, batch, features, toTimeMajor: false) : outData),
            hN: Tensor(unchecked: [slots, batch, hout], data: hN.array(slots * batch * hout)),
            cN: cN.map { Tensor(unchecked: [slots, batch, h], data: $0.array(slots * batch * h)) },
            tape: tape)
    }

    /// Inference on memory the caller owns: `forward` without arrays in or out, for callers that
    /// hold the input and want the result in their own buffers (the C API's streams and predict).
    ///
    /// - Parameters:
    ///   - input: T·B·I values, time-major [T, B, I], all finite.
    ///   - lengths: as for `forward` (nil: every sequence runs all T steps).
    ///   - h0: [L·D, B, Hout] initial states, nil for zeros; c0: [L·D, B, H] (LSTM), nil for zeros.
    ///   - output: receives [T, B, F] (F = `config.outputFeatures`); hN [L·D, B, Hout] and cN
    ///     [L·D, B, H] (LSTM; nil otherwise) the final states. None may overlap the input.
    @_specialize(where S == Float)
    public func forward(timeMajor input: UnsafePointer<S>, steps: Int, batch: Int, lengths: [Int]? = nil,
                        h0: UnsafePointer<S>?, c0: UnsafePointer<S>?, output: UnsafeMutablePointer<S>,
                        hN: UnsafeMutablePointer<S>, cN: UnsafeMutablePointer<S>?) throws {
        let c = config
        try Check.positive(steps, "steps")
        try Check.positive(batch, "batch")
        let lens = try validateLengths(lengths, steps: steps, batch: batch)
        if cN == nil && c.hasCellState {
            throw SeqError.invalid("cN", expected: "a buffer for the final memory cell (an LSTM)", got: "nil")
        }
        try checkMemory(steps: steps, batch: batch, training: false)
        let slots = c.numLayers * c.numDirections
        try checkFinite(UnsafeBufferPointer(start: input, count: steps * batch * c.inputSize), "input")
        if let h0 { try checkFinite(UnsafeBufferPointer(start: h0, count: slots * batch * c.outputSize), "h0") }
        if let c0 { try checkFinite(UnsafeBufferPointer(start: c0, count: slots * batch * c.hiddenSize), "c0") }
        runLayers(input: input, steps: steps, batch: batch, lengths: lens, h0: h0,
                  c0: c.hasCellState ? c0 : nil, output: output, hN: hN, cN: c.hasCellState ? cN : nil, tape: nil)
    }

    /// Every layer and direction over time-major input, the last layer writing `output`; hN and cN
    /// receive the final states. Training when `tape` is given (the tape records; dropout applies).
    private func runLayers(input: UnsafePointer<S>, steps: Int, batch: Int, lengths lens: [Int],
                           h0: UnsafePointer<S>?, c0: UnsafePointer<S>?, output lastOutput: UnsafeMutablePointer<S>,
                           hN: UnsafeMutablePointer<S>, cN: UnsafeMutablePointer<S>?, tape: RecurrentTape<S>?) {
        let c = config, training = tape != nil
        let hout = c.outputSize, h = c.hiddenSize, features = c.outputFeatures
        // Read-only access: forward never writes a parameter, so concurrent inference on one model
        // is safe (a mutable borrow would check uniqueness and could copy the array under a reader).
        // Inference reuses packed weight panels from earlier calls (training changes the weights at
        // every step, and its backward needs other layouts).
        let cache = training || S.self != Float.self ? nil : WeightCache(store: packCache, version: arena.version)
        var layerInput = Buffer(borrowing: UnsafeMutablePointer(mutating: input))
        arena.values.withUnsafeBufferPointer { values in
            let v = UnsafeMutablePointer(mutating: values.baseAddress!)
            for l in 0 ..< c.numLayers {
                let last = l == c.numLayers - 1
                // Every element is written by the directions' loops: no zero-fill.
                let output = last ? Buffer(borrowing: lastOutput) : Buffer<S>(uninitialized: steps * batch * features)
                for d in 0 ..< c.numDirections {
                    let slot = l * c.numDirections + d
                    let run = ForwardRun(
                        layer: l, direction: d, steps: steps, batch: batch, lengths: lens,
                        input: layerInput.pointer, inputSize: c.layerInputSize(l),
                        output: output.pointer, outputStride: features,
                        column: c.merge == .concat ? d * hout : 0, accumulate: c.merge == .sum && d > 0,
                        h0: h0.map { UnsafeMutablePointer(mutating: $0 + slot * batch * hout) },
                        c0: c0.map { UnsafeMutablePointer(mutating: $0 + slot * batch * h) },
                        hN: hN + slot * batch * hout, cN: cN.map { $0 + slot * batch * h },
                        tape: tape, slot: slot, reverse: c.direction == .reverse || d == 1,
                        split: batchSplit(batch, backward: false))
                    runCells(run, params: cellParameters(v, layer: l, direction: d, cache: cache), training: training,
                             freshInput: run.projectsPerStep)
                }
                tape?.layerInputs.append(l == 0 ? nil : layerInput)
                if !last {
                    let mask = training && c.dropout > 0 ? dropoutMask(steps * batch * features) : nil
                    if let mask { for i in 0 ..< steps * batch * features { output.pointer[i] *= mask.pointer[i] } }
                    tape?.dropoutMasks.append(mask)
                }
                layerInput = output
            }
        }
    }

    /// Backpropagation through time: from ∂L/∂output and ∂L/∂(final states) (nil = zero) to the
    /// gradients of every parameter (accumulated into `arena.gradients`), of the input and of the
    /// initial states, and the per-step gradient norms.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ tape: RecurrentTape<S>, gradOutput: Tensor<S>?, gradHN: Tensor<S>? = nil,
                         gradCN: Tensor<S>? = nil) throws -> RecurrentGradients<S> {
        let c = config
        let steps = tape.steps, batch = tape.batch, hout = c.outputSize, h = c.hiddenSize
        let features = c.outputFeatures, slots = c.numLayers * c.numDirections
        if tape.layerInputs.count != c.numLayers {
            throw SeqError(.state, "argument 'tape': not a completed training forward pass of this layer")
        }
        let outShape = tape.batchFirst ? [batch, steps, features] : [steps, batch, features]
        if let g = gradOutput, g.shape != outShape {
            throw SeqError.invalid("grad_output", expected: "shape \(outShape) (the output's)", got: g.shape)
        }
        try checkState(gradHN, "grad_h_n", [slots, batch, hout])
        if let g = gradCN {
            guard c.hasCellState else {
                throw SeqError.invalid("grad_c_n", expected: "nil for a \(c.cell.rawValue) cell", got: g.shape)
            }
            try checkState(g, "grad_c_n", [slots, batch, h])
        }
        let dhN = gradHN.map { Buffer($0.data) }, dcN = gradCN.map { Buffer($0.data) }
        let dh0 = Buffer<S>(slots * batch * hout)
        let dc0: Buffer<S>? = c.hasCellState ? Buffer(slots * batch * h) : nil
        let norms = Buffer<S>(slots * steps)

        func runLayers(_ topGradient: Buffer<S>, _ firstGradient: UnsafeMutablePointer<S>, _ firstInput: UnsafePointer<S>) {
            var dY = topGradient, dYStride = features
            // The weights are only read here: a mutable access to `values` would advance the
            // arena's version, as if they had changed (the packed panels would be rebuilt, and a
            // C caller's pending seq_model_backward refused).
            arena.values.withUnsafeBufferPointer { values in
                arena.gradients.withUnsafeMutableBufferPointer { gradients in
                    let v = UnsafeMutablePointer(mutating: values.baseAddress!), g = gradients.baseAddress!
                    for l in (0 ..< c.numLayers).reversed() {
                        let inputSize = c.layerInputSize(l)
                        // The first direction's product writes every element of ∂L/∂x: no zero-fill.
                        let dX = l == 0 ? Buffer(borrowing: firstGradient) : Buffer<S>(uninitialized: steps * batch * inputSize)
                        for d in 0 ..< c.numDirections {
                            let slot = l * c.numDirections + d
                            let run = BackwardRun(
                                layer: l, direction: d, tape: tape, slot: slot,
                                gradOutput: dY.pointer, gradStride: dYStride, column: c.merge == .concat ? d * hout : 0,
                                dhN: dhN.map { $0.pointer + slot * batch * hout }, dcN: dcN.map { $0.pointer + slot * batch * h },
                                dh0: dh0.pointer + slot * batch * hout, dc0: dc0.map { $0.pointer + slot * batch * h },
                                input: l == 0 ? firstInput : UnsafePointer(tape.layerInputs[l]!.pointer),
                                dX: dX.pointer, overwritesDX: d == 0, inputSize: inputSize, norms: norms.pointer + slot * steps,
                                reverse: c.direction == .reverse || d == 1, split: batchSplit(batch, backward: true))
                            let p = cellParameters(v, layer: l, direction: d), gp = cellParameters(g, layer: l, direction: d)
                            switch c.cell {
                            case .rnnTanh, .rnnReLU:
                                run.go({ _ in RNNCell(hidden: h, relu: c.cell == .rnnReLU, params: p, grads: gp) }, params: p, grads: gp)
                            case .gru:
                                run.go({ GRUCell(hidden: h, variant: gruVariant, rows: $0, params: p, grads: gp) }, params: p, grads: gp)
                            case .lstm:
                                run.go({ LSTMCell(hidden: h, projection: c.projSize, rows: $0, params: p, grads: gp) }, params: p, grads: gp)
                            }
                        }
                        if l > 0, let mask = tape.dropoutMasks[l - 1] {
                            for i in 0 ..< steps * batch * inputSize { dX.pointer[i] *= mask.pointer[i] }
                        }
                        dY = dX
                        dYStride = inputSize
                    }
                }
            }
        }
        // As in forward: a time-major ∂L/∂output is read in place and ∂L/∂x written straight into
        // the returned array.
        let inCount = steps * batch * c.inputSize
        let inData = [S](unsafeUninitializedCapacity: inCount) { dx, initialized in
            tape.input.withUnsafeBufferPointer { x in
                let x0 = x.baseAddress!
                if let gradOutput, !tape.batchFirst {
                    gradOutput.data.withUnsafeBufferPointer { gy in
                        runLayers(Buffer(borrowing: UnsafeMutablePointer(mutating: gy.baseAddress!)), dx.baseAddress!, x0)
                    }
                } else {
                    let top = gradOutput.map { Buffer(Self.transposeBT($0.data, steps, batch, features, toTimeMajor: true)) }
                    runLayers(top ?? Buffer(steps * batch * features), dx.baseAddress!, x0)
                }
            }
            initialized = inCount
        }
        return RecurrentGradients(
            input: Tensor(unchecked: tape.batchFirst ? [batch, steps, c.inputSize] : [steps, batch, c.inputSize],
                          data: tape.batchFirst ? Self.transposeBT(inData, steps, batch, c.inputSize, toTimeMajor: false) : inData),
            h0: Tensor(unchecked: [slots, batch, hout], data: dh0.array(slots * batch * hout)),
            c0: dc0.map { Tensor(unchecked: [slots, batch, h], data: $0.array(slots * batch * h)) },
            stepGradientNorms: Tensor(unchecked: [slots, steps], data: norms.array(slots * steps)))
    }

    /// What a pass over [T, B] allocates, estimated from every buffer's element count (overflow-checked):
    /// per layer the output and input projection, per direction the tape, and for training the
    /// states kept and backward's gradients of the same sizes.
    func checkMemory(steps: Int, batch: Int, training: Bool) throws {
        try Limits.checkMemory([try memoryEstimate(steps: steps, batch: batch, training: training)],
                               bytesPerScalar: MemoryLayout<S>.size, "forward on [T=\(steps), B=\(batch)]")
    }

    /// The element count `checkMemory` estimates (overflow-checked).
    func memoryEstimate(steps: Int, batch: Int, training: Bool) throws -> Int {
        let c = config, h = c.hiddenSize, gw = c.gateCount * h, slots = c.numLayers * c.numDirections
        let tape = c.cell == .lstm ? 7 * h : (c.cell == .gru ? 4 * h : h)
        let wide = max(gw, tape, c.outputFeatures, c.inputSize, c.outputSize + h)
        let rows = try Check.product([steps, batch], "input.shape (T × B)", limit: Int.max)
        let perSlot = try Check.product([rows, wide], "input.shape (T × B × gates)", limit: Int.max)
        let copies = training ? 6 * slots + 2 * c.numLayers : 3 + c.numLayers
        return try Check.product([perSlot, copies], "memory", limit: Int.max)
    }

    /// The batch rows each thread runs through the whole time loop. Rows never interact inside the
    /// loop (each sequence has its own state), so two halves can run start to finish on the two
    /// threads with one hand-off per sequence instead of one or two per step. Only while the
    /// recurrent weights stay in the caches, as both threads read all of them every step (larger
    /// weights are split by columns inside each step, so each core streams half), and with at least
    /// 8 rows a half, so no half drops to the small-M product (whose summation order differs:
    /// results must not depend on the thread count). Backward keeps one part when the cell sums a
    /// per-step parameter gradient over the rows (peepholes).
    /// Returns the rows of the first part (the batch itself when it is not split).
    func batchSplit(_ batch: Int, backward: Bool) -> Int {
        let c = config
        let weights = c.gateCount * c.hiddenSize * c.outputSize + c.projSize * c.hiddenSize
        guard Parallelism.threadCount > 1, batch >= 16, weights * MemoryLayout<S>.size <= Kernels.cachedWeightBytes,
              !(backward && c.peepholes) else { return batch }
        return batch / 2
    }

    var gruVariant: GRUCell<S>.Variant {
        switch config.gruVariant {
        case .classic: return .classic
        case .linearBeforeReset: return .linearBeforeReset
        case .simplified: return .simplified
        }
    }

    func validateLengths(_ lengths: [Int]?, steps: Int, batch: Int) throws -> [Int] {
        guard let lengths else { return Array(repeating: steps, count: batch) }
        if lengths.count != batch {
            throw SeqError.invalid("lengths", expected: "\(batch) lengths (one per sequence)", got: "\(lengths.count)")
        }
        if let i = lengths.firstIndex(where: { $0 < 1 || $0 > steps }) {
            throw SeqError.invalid("lengths", expected: "every length in 1...\(steps) (T)", got: "\(lengths[i]) at index \(i)")
        }
        return lengths
    }

    func checkState(_ t: Tensor<S>?, _ name: String, _ shape: [Int]) throws {
        guard let t else { return }
        if t.shape != shape { throw SeqError.invalid(name, expected: "shape \(shape)", got: t.shape) }
        try checkFinite(t.data, name)
    }

    func checkFinite(_ data: [S], _ name: String) throws {
        try data.withUnsafeBufferPointer { try checkFinite($0, name) }
    }

    func checkFinite(_ buffer: UnsafeBufferPointer<S>, _ name: String) throws {
        // x·0 is 0 for every finite x and NaN for ±∞ and NaN: eight independent sums of it run at
        // SIMD speed, and the index is looked for only when one of them is not 0.
        var sums = SIMD8<S>(), i = 0
        let p = buffer.baseAddress
        while i + 8 <= buffer.count {
            sums = sums.addingProduct(UnsafeRawPointer(p! + i).loadUnaligned(as: SIMD8<S>.self), 0)
            i += 8
        }
        while i < buffer.count { sums[0] += buffer[i] * 0; i += 1 }
        if sums == SIMD8<S>() { return }
        for i in buffer.indices where !buffer[i].isFinite {
            throw SeqError.invalid(name, expected: "finite values", got: "\(buffer[i]) at index \(i)")
        }
    }

    func dropoutMask(_ count: Int) -> Buffer<S> {
        let p = config.dropout, keep = S(1 / (1 - p))
        let mask = Buffer<S>(count)
        for i in 0 ..< count { mask.pointer[i] = random.nextUnit() < p ? 0 : keep }
        return mask
    }

    /// [T, B, F] ↔ [B, T, F].
    static func transposeBT(_ x: [S], _ steps: Int, _ batch: Int, _ features: Int, toTimeMajor: Bool) -> [S] {
        var y = [S](repeating: 0, count: x.count)
        for t in 0 ..< steps {
            for b in 0 ..< batch {
                let tm = (t * batch + b) * features, bm = (b * steps + t) * features
                for f in 0 ..< features {
                    if toTimeMajor { y[tm + f] = x[bm + f] } else { y[bm + f] = x[tm + f] }
                }
            }
        }
        return y
    }
}

/// Runs `loop(cell, rows, lengths)` over the batch: rows 0 ..< split with `first` on the caller and
/// split ..< batch with `second` on the worker, or every row with `first` when there is no second.
@inline(__always)
func runParts<C>(_ first: C, _ second: C?, split: Int, batch: Int, lengths: [Int],
                 _ loop: (C, Range<Int>, UnsafeBufferPointer<Int>) -> Void) {
    lengths.withUnsafeBufferPointer { lens in
        if let second {
            WorkerPool.shared.run { $0 == 0 ? loop(first, 0 ..< split, lens) : loop(second, split ..< batch, lens) }
        } else {
            loop(first, 0 ..< batch, lens)
        }
    }
}

/// What runs one direction of one layer forward with cells of any type, made by `makeCell(rows)`
/// (one per part of the batch): the sequence runner below and the streaming step (`StepPlan`).
protocol ForwardCells {
    associatedtype S: SeqScalar
    func go<C: RecurrentCell>(_ makeCell: (Int) -> C, params p: CellParameters<S>) where C.Scalar == S
}

extension RecurrentLayer {
    /// Calls `runner.go` with the cells of this layer's kind (inference when not `training`: no tape
    /// kept; `freshInput`: see `LSTMCell.recurrent`).
    func runCells<R: ForwardCells>(_ runner: R, params p: CellParameters<S>, training: Bool, freshInput: Bool) where R.S == S {
        let c = config, h = c.hiddenSize
        switch c.cell {
        case .rnnTanh, .rnnReLU:
            runner.go({ _ in RNNCell(hidden: h, relu: c.cell == .rnnReLU, params: p, grads: nil, recordsTape: training) },
                      params: p)
        case .gru:
            runner.go({ GRUCell(hidden: h, variant: gruVariant, rows: $0, params: p, grads: nil, recordsTape: training) }, params: p)
        case .lstm:
            runner.go({ LSTMCell(hidden: h, projection: c.projSize, rows: $0, params: p, grads: nil, recordsTape: training,
                                 freshInput: freshInput) }, params: p)
        }
    }
}

/// b_ih (+ b_hh when the cell folds it) as one row, added by the input projection's product as it
/// stores instead of in two more passes over its result; nil when the layer has no bias.
func inputProjectionBias<C: RecurrentCell>(_ cell: C, _ p: CellParameters<C.Scalar>) -> Buffer<C.Scalar>? {
    guard p.bih != nil || (cell.foldsRecurrentBias && p.bhh != nil) else { return nil }
    let gw = cell.gateWidth, b = Buffer<C.Scalar>(gw)
    if let bih = p.bih { Kernels.addRowVector(bih, to: b.pointer, rows: 1, n: gw, ldy: gw) }
    if cell.foldsRecurrentBias, let bhh = p.bhh { Kernels.addRowVector(bhh, to: b.pointer, rows: 1, n: gw, ldy: gw) }
    return b
}

/// One direction of one layer, forward: the input projection of all steps as one product, then the
/// time loop. Steps t ≥ length carry the state unchanged and output zero, so the final state is the
/// state at each sequence's last valid step, in either direction.
struct ForwardRun<S: SeqScalar>: ForwardCells {
    let layer: Int, direction: Int, steps: Int, batch: Int, lengths: [Int]
    let input: UnsafeMutablePointer<S>, inputSize: Int
    let output: UnsafeMutablePointer<S>, outputStride: Int, column: Int
    /// Adds to the output (the second direction of a summed pair) instead of writing it.
    let accumulate: Bool
    let h0: UnsafeMutablePointer<S>?, c0: UnsafeMutablePointer<S>?
    let hN: UnsafeMutablePointer<S>, cN: UnsafeMutablePointer<S>?
    let tape: RecurrentTape<S>?
    let slot: Int
    let reverse: Bool
    /// Rows 0 ..< split and split ..< batch run through the time loop on one thread each
    /// (`RecurrentLayer.batchSplit`; split = batch: one part).
    let split: Int
    /// A batch split over the threads projects each part's rows step by step (see `go`), so a
    /// step's input projection is fresh in L1 when its cell runs.
    var projectsPerStep: Bool { split < batch }

    /// `makeCell(rows)`: a cell for a part of `rows` rows (each part gets its own, with its own scratch).
    func go<C: RecurrentCell>(_ makeCell: (Int) -> C, params p: CellParameters<S>) where C.Scalar == S {
        let first = makeCell(split), second = split < batch ? makeCell(batch - split) : nil
        let gw = first.gateWidth, hout = first.outputSize, h = first.hiddenSize, tw = first.tapeWidth
        let rows = steps * batch, training = tape != nil, hasC = first.hasCellState
        // x<t>·W_ihᵀ + b_ih (+ b_hh) for every step at once.
        let bias = inputProjectionBias(first, p)
        let wihT = PackedOperand(b: p.wih, ldb: inputSize, transB: true, k: inputSize, n: gw, cache: p.cache)
        let biasP = bias.map { UnsafePointer($0.pointer) }
        // A batch split over the threads projects each part's rows step by step, into a buffer of
        // one step that stays in L1: all steps at once wrote T·B·G·H floats (3.2 MB for the small
        // LSTM) that the loop then read back from L3, and ran on both threads at half the speed of
        // the step's own product. The same tile sums each element in the same order either way.
        let perStep = projectsPerStep
        let xp = Buffer<S>(uninitialized: perStep ? 1 : rows * gw)  // the product writes every element (β = 0)
        if perStep {
            wihT.prepack()  // before the threads share it
        } else {
            Kernels.gemm(m: rows, a: input, lda: inputSize, packed: wihT, beta: 0, c: xp.pointer, ldc: gw, rowBias: biasP)
        }

        let hA = h0.map { Buffer(copying: $0, count: batch * hout) } ?? Buffer(batch * hout)
        let hB = Buffer<S>(batch * hout)
        let cA: Buffer<S>? = hasC ? (c0.map { Buffer(copying: $0, count: batch * h) } ?? Buffer(batch * h)) : nil
        let cB: Buffer<S>? = hasC ? Buffer(batch * h) : nil
        // Training: the cells write every tape column of every row at every step (padded ones
        // included), so no zero-fill (it was 5 MB for the small LSTM, on one thread).
        let cellTape = training ? Buffer<S>(uninitialized: rows * tw) : Buffer<S>(batch * tw)
        // Every row of every step is copied in below: no zero-fill.
        let hPrevAll: Buffer<S>? = training ? Buffer(uninitialized: rows * hout) : nil
        let cPrevAll: Buffer<S>? = training && hasC ? Buffer(uninitialized: rows * h) : nil
        let allFull = lengths.allSatisfy { $0 == steps }
        // Plain pointers for the loop, so the two threads never touch these objects' reference counts
        // (one shared cache line each) at every step.
        let xpP = xp.pointer, tapeP = cellTape.pointer, hPrevP = hPrevAll?.pointer, cPrevP = cPrevAll?.pointer
        let hAP = hA.pointer, hBP = hB.pointer, cAP = cA?.pointer, cBP = cB?.pointer
        // Every step of every row written as it is into rows of hout: the output is the state's
        // double buffer.
        let direct = allFull && !accumulate && outputStride == hout && column == 0

        // The time loop for the rows in `part`; every buffer is [.., B, width], so a part is a run of
        // rows at offset b0 of each step.
        func loop(_ cell: C, _ part: Range<Int>, _ lens: UnsafeBufferPointer<Int>) {
            let b0 = part.lowerBound, n = part.count
            var hCur = hAP + b0 * hout, hNext = hBP + b0 * hout
            var cCur = cAP.map { $0 + b0 * h }, cNext = cBP.map { $0 + b0 * h }
            let stepXP = perStep ? Buffer<S>(uninitialized: n * gw) : nil
            for s in 0 ..< steps {
                let t = reverse ? steps - 1 - s : s
                let row0 = t * batch + b0
                if let hp = hPrevP { (hp + row0 * hout).update(from: hCur, count: n * hout) }
                if let cp = cPrevP, let cc = cCur { (cp + row0 * h).update(from: cc, count: n * h) }
                var xpRows = xpP + row0 * gw
                if let stepXP {
                    xpRows = stepXP.pointer
                    Kernels.gemm(m: n, a: input + row0 * inputSize, lda: inputSize, packed: wihT, beta: 0, c: xpRows,
                                 ldc: gw, rowBias: biasP)
                }
                if direct {
                    // The step's rows of the output are the next state: the cell writes them there
                    // and the next step reads them back, with no copy (1% of a medium LSTM's time).
                    let hOut = output + row0 * hout
                    cell.forward(rows: n, xp: xpRows, hPrev: hCur, cPrev: cCur,
                                 tape: tapeP + (training ? row0 : b0) * tw, hNew: hOut, cNew: cNext)
                    hCur = hOut
                    swap(&cCur, &cNext)
                    continue
                }
                cell.forward(rows: n, xp: xpRows, hPrev: hCur, cPrev: cCur,
                             tape: tapeP + (training ? row0 : b0) * tw, hNew: hNext, cNew: cNext)
                for i in 0 ..< n {
                    let dst = output + (row0 + i) * outputStride + column
                    if !allFull && t >= lens[b0 + i] {
                        (hNext + i * hout).update(from: hCur + i * hout, count: hout)
                        if let cn = cNext, let cc = cCur { (cn + i * h).update(from: cc + i * h, count: h) }
                        if !accumulate { dst.update(repeating: 0, count: hout) }
                    } else if accumulate {
                        let src = hNext + i * hout
                        for j in 0 ..< hout { dst[j] += src[j] }
                    } else {
                        dst.update(from: hNext + i * hout, count: hout)
                    }
                }
                swap(&hCur, &hNext)
                swap(&cCur, &cNext)
            }
            (hN + b0 * hout).update(from: hCur, count: n * hout)
            if let cN, let cc = cCur { (cN + b0 * h).update(from: cc, count: n * h) }
        }
        runParts(first, second, split: split, batch: batch, lengths: lengths, loop)
        if let tape {
            tape.cellTapes[slot] = cellTape
            tape.hPrev[slot] = hPrevAll
            tape.cPrev[slot] = cPrevAll
        }
    }
}

/// One direction of one layer, backward through time. Walks the steps in the reverse of the forward
/// order carrying ∂L/∂h and ∂L/∂c; at padded steps the carry passes through untouched and nothing
/// reaches a parameter.
struct BackwardRun<S: SeqScalar> {
    let layer: Int, direction: Int
    let tape: RecurrentTape<S>, slot: Int
    let gradOutput: UnsafeMutablePointer<S>, gradStride: Int, column: Int
    let dhN: UnsafeMutablePointer<S>?, dcN: UnsafeMutablePointer<S>?
    let dh0: UnsafeMutablePointer<S>, dc0: UnsafeMutablePointer<S>?
    /// The layer's time-major input [T, B, In] (its forward's).
    let input: UnsafePointer<S>
    let dX: UnsafeMutablePointer<S>
    /// dX ← instead of += (the first direction).
    let overwritesDX: Bool
    let inputSize: Int
    let norms: UnsafeMutablePointer<S>
    let reverse: Bool
    /// Rows 0 ..< split and split ..< batch run through the time loop on one thread each, as in
    /// `ForwardRun`.
    let split: Int

    func go<C: RecurrentCell>(_ makeCell: (Int) -> C, params p: CellParameters<S>, grads g: CellParameters<S>) where C.Scalar == S {
        let steps = tape.steps, batch = tape.batch, lengths = tape.lengths
        let first = makeCell(split), second = split < batch ? makeCell(batch - split) : nil
        let gw = first.gateWidth, hout = first.outputSize, h = first.hiddenSize, tw = first.tapeWidth
        let rows = steps * batch, hasC = first.hasCellState
        let cellTape = tape.cellTapes[slot]!, hPrevAll = tape.hPrev[slot]!, cPrevAll = tape.cPrev[slot]

        let dhA = dhN.map { Buffer(copying: $0, count: batch * hout) } ?? Buffer(batch * hout)
        let dhB = Buffer<S>(batch * hout)
        let dcA: Buffer<S>? = hasC ? (dcN.map { Buffer(copying: $0, count: batch * h) } ?? Buffer(batch * h)) : nil
        let dcB: Buffer<S>? = hasC ? Buffer(batch * h) : nil
        // The cells write every row of every step (zeros where the sequence is padded): no zero-fill.
        let dGX = Buffer<S>(uninitialized: rows * gw)
        let dghWidth = first.separateRecurrentGradientWidth
        let dGH = dghWidth > 0 ? Buffer<S>(uninitialized: rows * dghWidth) : dGX
        let dghStride = dghWidth > 0 ? dghWidth : gw
        let dHAll: Buffer<S>? = first.keepsOutputGradients ? Buffer(rows * hout) : nil
        let savedH = Buffer<S>(batch * hout), savedC = Buffer<S>(batch * h)
        // ‖∂L/∂a<t>‖² of every row, summed over the rows in order after the loop (the same sum
        // however the rows were split).
        let squares = Buffer<S>(rows)
        // Plain pointers for the loop, as in ForwardRun.
        let tapeP = cellTape.pointer, hPrevP = hPrevAll.pointer, cPrevP = cPrevAll?.pointer
        let dGXP = dGX.pointer, dGHP = dGH.pointer, dHAllP = dHAll?.pointer, squaresP = squares.pointer
        let savedHP = savedH.pointer, savedCP = savedC.pointer
        let dhAP = dhA.pointer, dhBP = dhB.pointer, dcAP = dcA?.pointer, dcBP = dcB?.pointer

        func loop(_ cell: C, _ part: Range<Int>, _ lens: UnsafeBufferPointer<Int>) {
            let b0 = part.lowerBound, n = part.count
            var dh = dhAP + b0 * hout, dhPrev = dhBP + b0 * hout
            var dc = dcAP.map { $0 + b0 * h }, dcPrev = dcBP.map { $0 + b0 * h }
            for s in 0 ..< steps {
                let t = reverse ? s : steps - 1 - s
                let row0 = t * batch + b0
                var anyPadded = false
                for i in 0 ..< n {
                    let d = dh + i * hout
                    if t < lens[b0 + i] {
                        let gy = gradOutput + (row0 + i) * gradStride + column
                        for j in 0 ..< hout { d[j] += gy[j] }
                        squaresP[row0 + i] = Kernels.sumOfSquares(d, count: hout)
                        if let all = dHAllP { (all + (row0 + i) * hout).update(from: d, count: hout) }
                    } else {
                        // Padding: the state was carried, so its gradient is carried back unchanged.
                        anyPadded = true
                        (savedHP + (b0 + i) * hout).update(from: d, count: hout)
                        d.update(repeating: 0, count: hout)
                        if let dc {
                            (savedCP + (b0 + i) * h).update(from: dc + i * h, count: h)
                            (dc + i * h).update(repeating: 0, count: h)
                        }
                    }
                }
                cell.backward(rows: n, tape: tapeP + row0 * tw, hPrev: hPrevP + row0 * hout,
                              cPrev: cPrevP.map { $0 + row0 * h }, dh: dh, dc: dc,
                              dGX: dGXP + row0 * gw, dGH: dGHP + row0 * dghStride, dhPrev: dhPrev, dcPrev: dcPrev)
                if anyPadded {
                    for i in 0 ..< n where t >= lens[b0 + i] {
                        (dhPrev + i * hout).update(from: savedHP + (b0 + i) * hout, count: hout)
                        if let dcp = dcPrev { (dcp + i * h).update(from: savedCP + (b0 + i) * h, count: h) }
                    }
                }
                swap(&dh, &dhPrev)
                swap(&dc, &dcPrev)
            }
            (dh0 + b0 * hout).update(from: dh, count: n * hout)
            if let dc0, let dc { (dc0 + b0 * h).update(from: dc, count: n * h) }
        }
        runParts(first, second, split: split, batch: batch, lengths: lengths, loop)
        for t in 0 ..< steps {
            var sum: S = 0
            for b in 0 ..< batch { sum += squares.pointer[t * batch + b] }
            norms[t] = S.sqrt(sum)
        }

        // Σ_rows dGX once: db_ih's sum, and db_hh's too where the recurrent pre-activation's
        // gradient is dGX itself (every cell but the linear-before-reset GRU).
        let sharesSums = dghWidth == 0 && g.bhh != nil
        let dGXSums: Buffer<S>? = g.bih != nil || sharesSums ? Buffer(uninitialized: gw) : nil
        if let s = dGXSums { Kernels.columnSums(dGX.pointer, rows: rows, n: gw, ldx: gw, into: s.pointer) }
        first.accumulateWeightGradients(count: rows, dGX: dGX.pointer, dGH: dGH.pointer,
                                        dGHSums: sharesSums ? dGXSums.map { UnsafePointer($0.pointer) } : nil,
                                        hPrev: hPrevAll.pointer, dh: dHAll.map { UnsafePointer($0.pointer) },
                                        tape: cellTape.pointer)
        // dW_ih += dGXᵀ · X;  db_ih += Σ dGX;  dX (+)= dGX · W_ih
        Kernels.gemm(transA: true, transB: false, m: gw, n: inputSize, k: rows, alpha: 1, a: dGX.pointer, lda: gw,
                     b: input, ldb: inputSize, beta: 1, c: g.wih, ldc: inputSize)
        if let b = g.bih, let s = dGXSums { Kernels.addColumnSums(s.pointer, n: gw, into: b) }
        Kernels.gemm(transA: false, transB: false, m: rows, n: inputSize, k: gw, alpha: 1, a: dGX.pointer, lda: gw,
                     b: p.wih, ldb: inputSize, beta: overwritesDX ? 0 : 1, c: dX, ldc: inputSize)
    }
}

/// `body` with the array's storage, or with nil when there is no array.
@inline(__always)
func withOptionalPointer<T, R>(_ array: [T]?, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0.baseAddress) }
}
