// Truncated backpropagation through time: a batch's steps are cut into windows of k, and each
// window is one optimizer step whose forward pass starts from the state the previous window ended
// in. The state a<t> (and c<t>) is carried from window to window, its gradient is not: ∂L/∂a<t>
// stops at the first step of each window, so a long text trains at the memory and cost of k steps
// while the model still reads it from its beginning. Used by `Trainer.fit` and by the C ABI's
// seq_model_fit (configuration key "truncated_bptt").

/// What one window of `SequenceModel.truncatedBPTT` left: which window it was, its loss and the
/// gradient norms per step. When the loss or its gradient was not finite, the loss is NaN, the
/// norms nil and `failure` the engine's error if it raised one (e.g. a loss that overflows the
/// scalar type): the gradients are unusable and the update should refuse them.
public struct WindowResult<S: SeqScalar> {
    /// 0-based index of the window in the batch, and the batch's steps it covers.
    public var index: Int
    public var steps: Range<Int>
    public var loss: Double
    public var validSteps: Int
    public var stepGradientNorms: Tensor<S>?
    public var failure: SeqError?
}

extension SequenceBatch {
    /// Steps `window` of rows `rows` of a per-step batch (tagger or language model: inputs and
    /// targets [T, B, …]), each row's length cut to the window. Every row must reach the window
    /// (length > window.lowerBound). Steps past a row's length are zero, as `SequenceDataset.batch` pads.
    public func window(rows: [Int], steps window: Range<Int>) -> SequenceBatch<S> {
        let b = input.batch, start = window.lowerBound, n = rows.count
        let lens = rows.map { min(lengths?[$0] ?? input.steps, window.upperBound) - start }
        let steps = lens.max()!
        /// Rows `rows` of a time-major [T, B, width] array, steps start ..< start + steps.
        func cut<T>(_ a: [T], width w: Int, zero: T) -> [T] {
            var out = [T](repeating: zero, count: steps * n * w)
            for (r, row) in rows.enumerated() {
                for s in 0 ..< lens[r] {
                    let from = ((start + s) * b + row) * w, to = (s * n + r) * w
                    for j in 0 ..< w { out[to + j] = a[from + j] }
                }
            }
            return out
        }
        let cutInput: SequenceInput<S>
        switch input {
        case .features(let x):
            let w = x.shape[2]
            cutInput = .features(Tensor(unchecked: [steps, n, w], data: cut(x.data, width: w, zero: 0)))
        case .tokens(let ids, _, _):
            cutInput = .tokens(cut(ids, width: 1, zero: 0), steps: steps, batch: n)
        }
        var cutTarget: SequenceTarget<S>? = nil
        switch target {
        case .classes(let ids)?: cutTarget = .classes(cut(ids, width: 1, zero: 0))
        case .values(let y)?:
            let k = y.shape[2]
            cutTarget = .values(Tensor(unchecked: [steps, n, k], data: cut(y.data, width: k, zero: 0)))
        case nil: break
        }
        return SequenceBatch(input: cutInput, lengths: lens, target: cutTarget)
    }
}

extension Tensor {
    /// Rows `keep` of a state [L·D, B, W] (the sequences still running in a later window).
    func selectingBatchRows(_ keep: [Int]) -> Tensor {
        let slots = shape[0], b = shape[1], w = shape[2]
        var out = [Scalar]()
        out.reserveCapacity(slots * keep.count * w)
        for s in 0 ..< slots { for r in keep { out += data[(s * b + r) * w ..< (s * b + r + 1) * w] } }
        return Tensor(unchecked: [slots, keep.count, w], data: out)
    }
}

extension SequenceModel {
    /// Truncated BPTT over one batch of a tagger or language model whose direction is forward: for each window
    /// of `k` steps, zeroes the gradients, runs forward from the state the previous window ended in
    /// (`batch.h0`/`c0` for the first), backpropagates within the window, and calls `update` (which
    /// takes the optimizer step, or throws to stop). Rows whose sequence has ended drop out of later
    /// windows.
    public func truncatedBPTT(_ batch: SequenceBatch<S>, window k: Int,
                              update: (WindowResult<S>) throws -> Void) throws {
        try Check.positive(k, "truncated_bptt")
        let a = config.architecture
        guard (a == .tagger || a == .languageModel) && config.rnn.direction == .forward else {
            throw SeqError.invalid("truncated_bptt", expected: "a tagger or language model with direction forward",
                                   got: "\(a.rawValue), \(config.rnn.direction.rawValue)")
        }
        let total = batch.input.steps
        let lengths = batch.lengths ?? Array(repeating: total, count: batch.input.batch)
        var rows = Array(0 ..< batch.input.batch)
        var h = batch.h0, c = batch.c0
        var start = 0
        while start < total {
            let keep = rows.indices.filter { lengths[rows[$0]] > start }
            if keep.isEmpty { break }
            if keep.count != rows.count {
                h = h?.selectingBatchRows(keep)
                c = c?.selectingBatchRows(keep)
                rows = keep.map { rows[$0] }
            }
            let span = start ..< min(start + k, total)
            var window = batch.window(rows: rows, steps: span)
            window.h0 = h
            window.c0 = c
            arena.zeroGradients()
            let pass = try forward(window, training: true)
            var result = WindowResult<S>(index: start / k, steps: span, loss: .nan, validSteps: 0)
            do {
                let (value, dz, valid) = try loss(pass, window)
                result.stepGradientNorms = try backward(pass, logitsGradient: dz)
                (result.loss, result.validSteps) = (value, valid)
            } catch let e as SeqError where e.kind == .numeric {
                result.failure = e  // the update sees a NaN loss and the cause, and refuses the step
            }
            try update(result)
            (h, c) = pass.finalState
            start += k
        }
    }
}
