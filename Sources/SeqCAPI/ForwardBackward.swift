// MARK: - Forward and backward, for a loss of the caller's
//
// seq_model_train_step and seq_model_compute_gradients run the model's own loss. These two split
// that in PyTorch's way: seq_model_forward returns the logits z (and keeps the pass's tape),
// the caller computes any loss L(z) and its gradient ∂L/∂z, and seq_model_backward carries that
// gradient back through the head and the recurrent stack (BPTT) into the parameters' gradients,
// the inputs and the initial state. The initial state may be given (PyTorch's h0, c0), and the
// final one read back, so the caller can also carry state from one call to the next.

import SeqCore

/// The last `seq_model_forward` of a model: what `seq_model_backward` and `seq_model_final_state`
/// read.
struct ForwardRecord {
    /// The pass with its tape, while it can be backpropagated: from a forward with training 1 until
    /// its backward (nil then, and for training 0, so that the activations are not held).
    var pass: SequenceModel<Float>.Pass?
    /// Why `pass` is nil, for the message of a backward that cannot run.
    var noPass = "the last seq_model_forward ran with training 0"
    var layout: Layout
    /// The parameters' version the pass ran with: a backward after they change would mix two sets
    /// of weights.
    var version: Int
    var finalState: (h: Tensor<Float>, c: Tensor<Float>?)
}

/// A state given by the caller — h [L·D, B, Hout] and, for an LSTM, c [L·D, B, H] — checked and
/// copied. The counts are the arguments `hName`_count and `cName`_count; `directions` says whether
/// the shapes' legend names D. A NULL c is nil (zeros), a NULL h too unless `hRequired`.
func readState(h: UnsafePointer<Float>?, hCount: Int64, c: UnsafePointer<Float>?, cCount: Int64,
               hShape: [Int], cShape: [Int]?, hName: String, cName: String, directions: Bool,
               hRequired: Bool) throws -> (h: Tensor<Float>?, c: Tensor<Float>?) {
    let d = directions ? "L * D * B" : "L * B"
    func read(_ p: UnsafePointer<Float>, _ count: Int64, _ shape: [Int], _ name: String, _ legend: String) throws -> Tensor<Float> {
        let needed = shape.reduce(1, *)
        guard count == Int64(needed) else {
            throw SeqError.invalid(name + "_count",
                                   expected: "\(needed) (\(legend) = \(shape.map(String.init).joined(separator: " * ")))", got: count)
        }
        try Arg.finite(p, count: needed, name)
        return try Tensor(shape: shape, data: Array(UnsafeBufferPointer(start: p, count: needed)))
    }
    var hTensor: Tensor<Float>?
    if let h {
        hTensor = try read(h, hCount, hShape, hName, d + " * Hout")
    } else if hRequired {
        throw ABIError.nullPointer(hName)
    } else {
        guard hCount == 0 else { throw SeqError.invalid(hName + "_count", expected: "0 when \(hName) is NULL", got: hCount) }
    }
    var cTensor: Tensor<Float>?
    if let c {
        guard let cShape else {
            throw SeqError.invalid(cName, expected: "NULL (only an LSTM has a memory cell)", got: "a pointer")
        }
        cTensor = try read(c, cCount, cShape, cName, d + " * H")
    } else {
        guard cCount == 0 else { throw SeqError.invalid(cName + "_count", expected: "0 when \(cName) is NULL", got: cCount) }
    }
    return (hTensor, cTensor)
}

/// Copies a state (h, and c or nothing) into a caller's two buffers, each following the size
/// convention of `seq_model_predict`; checks both before writing either.
func writeState(_ h: Tensor<Float>, _ c: Tensor<Float>?,
                into hBuffer: UnsafeMutablePointer<Float>?, _ hCapacity: Int64, _ hCount: UnsafeMutablePointer<Int64>?,
                _ cBuffer: UnsafeMutablePointer<Float>?, _ cCapacity: Int64, _ cCount: UnsafeMutablePointer<Int64>?) throws {
    let hOut = try Arg.output(hBuffer, hCapacity, hCount, needed: h.count, name: "h", capacityName: "h_capacity")
    let cOut = try Arg.output(cBuffer, cCapacity, cCount, needed: c?.count ?? 0, name: "c", capacityName: "c_capacity")
    if let hOut { h.data.withUnsafeBufferPointer { hOut.update(from: $0.baseAddress!, count: $0.count) } }
    if let cOut, let c { c.data.withUnsafeBufferPointer { cOut.update(from: $0.baseAddress!, count: $0.count) } }
}

/// Sets the rows (t, b) of a time-major [T, B, width] array with t >= lengths[b] to zero.
private func zeroPastLengths(_ a: inout [Float], _ lengths: [Int]?, steps: Int, batch: Int, width: Int) {
    guard let lengths else { return }
    for t in 0 ..< steps {
        for b in 0 ..< batch where t >= lengths[b] {
            for j in 0 ..< width { a[(t * batch + b) * width + j] = 0 }
        }
    }
}

extension ModelObject {
    /// The shapes of the recurrent stack's state for `batch` sequences: h [L·D, B, Hout] and, for
    /// an LSTM, c [L·D, B, H].
    func stateShapes(batch: Int) -> (h: [Int], c: [Int]?) {
        let r = config.rnn, k = r.numLayers * r.numDirections
        return ([k, batch, r.outputSize], r.hasCellState ? [k, batch, r.hiddenSize] : nil)
    }
}

/// Runs a model on a batch and writes its logits z, the head's output before any activation
/// (before the sigmoid of "binary", the softmax of "classes"; the values of "regression"), for a
/// loss the caller computes. With `training` 1 the pass runs as in training (dropout active) and
/// is kept for `seq_model_backward`, which takes the caller's dL/dz; with 0 it runs as
/// `seq_model_predict` does and nothing is kept for a backward. Either way its final state is
/// kept for `seq_model_final_state`, until the next forward. Not for seq2seq models.
///
/// Input and output as `seq_model_predict`: [T, B, K] in `layout` for a tagger or language model
/// (zeros at steps t >= lengths[b]), [B, K] for a classifier. The initial state, as PyTorch's h0
/// and c0: h0 [L*D, B, Hout] and c0 [L*D, B, H] (LSTM), layer-major with a layer's reverse
/// direction after its forward one, in this order whatever the layout; NULL for zeros.
///
/// - Parameters:
///   - model: a live `seq_model`, not seq2seq.
///   - features: as `seq_model_predict`.
///   - tokens: as `seq_model_predict`.
///   - steps: as `seq_model_predict`.
///   - batch: as `seq_model_predict`.
///   - input_size: as `seq_model_predict`.
///   - lengths: as `seq_model_predict`.
///   - layout: as `seq_model_predict`.
///   - h0: L*D*B*Hout finite floats, or NULL for zeros.
///   - h0_count: L*D*B*Hout with `h0`, 0 without.
///   - c0: for an LSTM, L*D*B*H finite floats, or NULL for zeros; NULL for other cells.
///   - c0_count: L*D*B*H with `c0`, 0 without.
///   - training: 1 to keep the pass for `seq_model_backward` (dropout active), 0 for inference.
///   - output: receives the logits; may be NULL only when `capacity` is 0.
///   - capacity: size of `output` in floats.
///   - count: as `seq_model_predict` (with `output` NULL and `capacity` 0 only sets it, runs
///     nothing and keeps the previous pass).
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (as `seq_model_predict`; a state count that does not match, NaN or infinite state values,
///   `c0` for a cell without a memory cell, `training` not 0 or 1); `SEQ_ERR_BUFFER_TOO_SMALL`;
///   `SEQ_ERR_RESOURCE_LIMIT`. On failure the previous pass is kept.
/// - Thread safety: safe to call from any thread (calls on one model are serialised). One pass is
///   kept per model: between a forward and its backward, a forward from another thread replaces it.
@c public func seq_model_forward(_ model: SeqModelHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                 _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ lengths: UnsafePointer<Int64>?,
                                 _ layout: SeqLayout, _ h0: UnsafePointer<Float>?, _ h0_count: Int64,
                                 _ c0: UnsafePointer<Float>?, _ c0_count: Int64, _ training: Int32,
                                 _ output: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                 _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        if m.config.architecture == .seq2seq {
            throw SeqError.invalid("model", expected: "a tagger, classifier or language model (a seq2seq model trains with "
                                   + "seq_model_train_step)", got: "a seq2seq model")
        }
        guard training == 0 || training == 1 else {
            throw SeqError.invalid("training", expected: "0 (inference) or 1 (keep the pass for seq_model_backward)", got: training)
        }
        let input = try m.check(InputArguments(features: features, tokens: tokens, steps: steps, batch: batch,
                                               inputSize: input_size, lengths: lengths, layout: layout))
        let shapes = m.stateShapes(batch: input.batch)
        let state = try readState(h: h0, hCount: h0_count, c: c0, cCount: c0_count, hShape: shapes.h, cShape: shapes.c,
                                  hName: "h0", cName: "c0", directions: true, hRequired: false)
        let k = m.config.outputSize, perStep = m.config.architecture != .classifier
        let rows = perStep ? input.steps : 1
        guard let output = try Arg.output(output, capacity, count, needed: rows * input.batch * k, name: "output") else { return }
        let pass = try m.locked {
            let p = try m.model.forward(SequenceBatch(input: input.input, lengths: input.lengths, h0: state.h, c0: state.c),
                                        training: training == 1)
            m.lastForward = ForwardRecord(pass: training == 1 ? p : nil, layout: input.layout,
                                          version: m.model.arena.version, finalState: p.finalState)
            return p
        }
        var z = pass.logits.data
        // The head's bias reaches the padded steps; the caller sees zeros there, as from predict.
        if perStep { zeroPastLengths(&z, input.lengths, steps: input.steps, batch: input.batch, width: k) }
        input.layout.store(z, steps: rows, batch: input.batch, width: k, into: output)
    }
}

/// Backpropagates the caller's dL/dz, the gradient of its loss with respect to the logits of the
/// last `seq_model_forward` (run with training 1), through the head and the recurrent stack:
/// each parameter's gradient is ADDED to (as PyTorch's backward accumulates; zero them first with
/// `seq_model_zero_gradients`), and dL/dx, dL/dh0 and dL/dc0 are kept for
/// `seq_model_input_gradient` and `seq_model_state_gradient`, the per-step norms for
/// `seq_model_gradient_norms`. Then update with `seq_model_apply_gradients`. A pass is
/// backpropagated once.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - gradient: dL/dz, shaped and laid out as that forward's output ([T, B, K] or [B, K] in its
///     layout); finite. Values at steps t >= lengths[b] are ignored.
///   - count: the number of floats in `gradient`, the forward's `count`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_STATE` (no
///   forward with training 1 since the last backward, or the parameters changed since it: the
///   pass is dropped); `SEQ_ERR_INVALID_ARGUMENT` (a seq2seq model, a count that does not match,
///   NaN or infinite values: nothing changes, the pass is kept); `SEQ_ERR_NUMERIC` (finite values
///   whose backward would make a gradient overflow: the gradients are left as they were, the pass
///   is spent).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_backward(_ model: SeqModelHandle?, _ gradient: UnsafePointer<Float>?, _ count: Int64) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        if m.config.architecture == .seq2seq {
            throw SeqError.invalid("model", expected: "a tagger, classifier or language model (seq_model_forward refuses "
                                   + "seq2seq models)", got: "a seq2seq model")
        }
        let g = try Arg.pointer(gradient, "gradient")
        try m.locked {
            guard let record = m.lastForward, let pass = record.pass else {
                let why = m.lastForward?.noPass ?? "no seq_model_forward yet"
                throw SeqError(.state, "argument 'model': nothing to backpropagate (\(why); call seq_model_forward with training 1)")
            }
            guard record.version == m.model.arena.version else {
                m.lastForward?.pass = nil
                m.lastForward?.noPass = "the parameters changed since the last seq_model_forward"
                throw SeqError(.state, "argument 'model': the parameters changed since seq_model_forward (an update, "
                    + "seq_model_set_parameter or a load): run the forward again")
            }
            let logits = pass.logits
            let perStep = logits.shape.count == 3
            let steps = perStep ? logits.shape[0] : 1, batch = perStep ? logits.shape[1] : logits.shape[0]
            let k = logits.shape[logits.shape.count - 1]
            guard count == Int64(logits.count) else {
                throw SeqError.invalid("count", expected: "\(logits.count) (the forward's output: "
                    + (perStep ? "T * B * K = \(steps) * \(batch) * \(k))" : "B * K = \(batch) * \(k))"), got: count)
            }
            var dz = [Float](repeating: 0, count: logits.count)
            dz.withUnsafeMutableBufferPointer { record.layout.copyTimeMajor(g, steps: steps, batch: batch, width: k, into: $0.baseAddress!) }
            if perStep { zeroPastLengths(&dz, pass.lengths, steps: steps, batch: batch, width: k) }
            // Padded values are ignored: only the ones that count must be finite.
            if let bad = dz.firstIndex(where: { !$0.isFinite }) {
                let t = perStep ? bad / (batch * k) : 0, b = (bad / k) % batch
                throw SeqError.invalid("gradient", expected: "finite values",
                                       got: "\(dz[bad]) at element \(record.layout.index(t, b, bad % k, steps: steps, batch: batch, width: k))")
            }
            m.lastForward?.pass = nil
            m.lastForward?.noPass = "the last seq_model_forward has been backpropagated already"
            // A finite dL/dz can still overflow Float on its way back (a huge loss): keep what the
            // gradients were (copied lazily, by the backward's first write) to leave them so.
            let saved = m.model.arena.gradients
            let stack = try m.model.stackBackward(pass, logitsGradient: dz)
            guard try m.model.arena.gradientNorm(normType: .infinity).isFinite else {
                m.model.arena.gradients = saved
                throw SeqError(.numeric, "argument 'gradient': backpropagated, it makes a parameter's gradient overflow "
                    + "Float (scale the loss down); the gradients are unchanged and the pass is spent")
            }
            m.lastStackGradients = (stack, record.layout)
            m.lastGradientNorms = stack.stepGradientNorms
        }
    }
}

/// The final state of the last `seq_model_forward`: h_n = a<T> [L*D, B, Hout] and, for an LSTM,
/// c_n = c<T> [L*D, B, H], taken at each sequence's own length (the reverse direction's at its
/// step 0), as PyTorch's h_n and c_n. For a stack whose direction is forward, pass it as the
/// next call's h0 and c0 to carry the state from one piece of a long sequence to the next (a
/// reverse direction's state belongs to the piece's start: it carries nothing forward). Each
/// output follows the size convention of `seq_model_predict`: NULL with capacity 0 only sets the
/// count.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - h: receives L*D*B*Hout floats; may be NULL only when `h_capacity` is 0.
///   - h_capacity: size of `h` in floats.
///   - h_count: if not NULL, receives L*D*B*Hout.
///   - c: receives L*D*B*H floats for an LSTM; may be NULL only when `c_capacity` is 0.
///   - c_capacity: size of `c` in floats.
///   - c_count: if not NULL, receives L*D*B*H for an LSTM, 0 for other cells.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_STATE` (no
///   forward yet); `SEQ_ERR_BUFFER_TOO_SMALL` (buffers untouched); `SEQ_ERR_INVALID_ARGUMENT`
///   (negative capacity).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_final_state(_ model: SeqModelHandle?, _ h: UnsafeMutablePointer<Float>?, _ h_capacity: Int64,
                                     _ h_count: UnsafeMutablePointer<Int64>?, _ c: UnsafeMutablePointer<Float>?,
                                     _ c_capacity: Int64, _ c_count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.locked {
            guard let state = m.lastForward?.finalState else {
                throw SeqError(.state, "argument 'model': no final state (call seq_model_forward first)")
            }
            try writeState(state.h, state.c, into: h, h_capacity, h_count, c, c_capacity, c_count)
        }
    }
}

/// dL/dh0 and dL/dc0, the gradient of the loss with respect to the initial state (PyTorch's
/// h0.grad and c0.grad), of the last `seq_model_backward`, `seq_model_compute_gradients` or
/// `seq_model_train_step` (for seq2seq, the encoder's): [L*D, B, Hout] and, for an LSTM,
/// [L*D, B, H]. Sizes as `seq_model_final_state`.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - h: receives L*D*B*Hout floats; may be NULL only when `h_capacity` is 0.
///   - h_capacity: size of `h` in floats.
///   - h_count: if not NULL, receives L*D*B*Hout.
///   - c: receives L*D*B*H floats for an LSTM; may be NULL only when `c_capacity` is 0.
///   - c_capacity: size of `c` in floats.
///   - c_count: if not NULL, receives L*D*B*H for an LSTM, 0 for other cells.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_STATE` (no
///   such call yet, or `seq_model_fit` since); `SEQ_ERR_BUFFER_TOO_SMALL` (buffers untouched);
///   `SEQ_ERR_INVALID_ARGUMENT` (negative capacity).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_state_gradient(_ model: SeqModelHandle?, _ h: UnsafeMutablePointer<Float>?, _ h_capacity: Int64,
                                        _ h_count: UnsafeMutablePointer<Int64>?, _ c: UnsafeMutablePointer<Float>?,
                                        _ c_capacity: Int64, _ c_count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.locked {
            guard let stack = m.lastStackGradients?.gradients else {
                throw SeqError(.state, "argument 'model': no state gradient (call seq_model_backward, "
                    + "seq_model_compute_gradients or seq_model_train_step first; seq_model_fit keeps none)")
            }
            try writeState(stack.h0, stack.c0, into: h, h_capacity, h_count, c, c_capacity, c_count)
        }
    }
}
