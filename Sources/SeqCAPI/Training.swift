// MARK: - Training
//
// One step at a time: the loss and gradients of a batch, gradient clipping and the optimizer's
// update. seq_model_train_step is seq_model_compute_gradients followed by seq_model_apply_gradients.

import SeqCore

extension ModelObject {
    /// Zeroes the gradients and accumulates those of `batch`; returns the loss. Keeps ∂L/∂x, ∂L/∂h0
    /// and ∂L/∂c0 for `seq_model_input_gradient` and `seq_model_state_gradient` when `layout` (the
    /// caller's) is given, forgets them otherwise. Lock held.
    func computeGradients(_ batch: SequenceBatch<Float>, layout: Layout? = nil) throws -> Double {
        model.arena.zeroGradients()
        lastStackGradients = nil
        let result = try model.lossAndStackGradients(batch)
        if let layout { lastStackGradients = (result.stack, layout) }
        return try accept(loss: result.loss, norms: result.stack.stepGradientNorms)
    }

    /// Keeps the gradient norms of a computation and refuses its gradients when the loss is not
    /// finite. Lock held.
    func accept(loss: Double, norms: Tensor<Float>?) throws -> Double {
        if let norms { lastGradientNorms = norms }
        guard loss.isFinite else {
            throw SeqError(.numeric, "the loss is \(loss) (lower the learning rate, or clip gradients with "
                + "\"clip_norm\"); the parameters are unchanged")
        }
        return loss
    }

    /// Trains on `batch`: one optimizer step, or with "truncated_bptt" one per window of that many
    /// steps (the state carried from window to window, its gradient cut). Returns the loss (the
    /// mean of the windows') and the optimizer steps taken. Lock held.
    func trainOnBatch(_ batch: SequenceBatch<Float>) throws -> (loss: Double, steps: Int) {
        guard truncatedBPTT > 0 else {
            let loss = try computeGradients(batch)
            try applyGradients()
            return (loss, 1)
        }
        var total = 0.0, steps = 0
        lastStackGradients = nil
        try model.truncatedBPTT(batch, window: truncatedBPTT) { window in
            do {
                if let cause = window.failure { throw SeqError(.numeric, cause.message + "; the parameters are unchanged") }
                total += try accept(loss: window.loss, norms: window.stepGradientNorms)
                try applyGradients()
            } catch let e as SeqError where e.kind == .numeric {
                // The windows before this one have been applied: say so, and where it stopped.
                let applied = window.index == 0 ? "unchanged"
                    : "those after window \(window.index), the last applied one of this batch"
                let unchanged = "the parameters are unchanged"
                let cause = e.message.hasSuffix(unchanged) ? String(e.message.dropLast(unchanged.count)) : e.message + "; "
                throw SeqError(.numeric, "truncated BPTT window \(window.index + 1) (steps \(window.steps.lowerBound)..<"
                    + "\(window.steps.upperBound)): " + cause + "the parameters are \(applied)")
            }
            steps += 1
        }
        return (total / Double(steps), steps)
    }

    /// Clips the gradients as configured and lets the optimizer update the parameters. Refuses
    /// NaN or infinite gradients, leaving the parameters unchanged. Lock held.
    func applyGradients() throws {
        let norm = try model.arena.gradientNorm()
        guard norm.isFinite else {
            throw SeqError(.numeric, "the gradient norm is \(norm): a gradient is NaN or infinite; the parameters are unchanged")
        }
        if clipValue > 0 { try model.arena.clipGradientValues(maxValue: clipValue) }
        if clipNorm > 0 { try model.arena.clipGradientNorm(maxNorm: clipNorm) }
        // A finite gradient can still overflow float in the update (a huge learning rate): keep
        // what is needed to undo the step. The copies are made lazily, by the step's writes.
        let savedValues = model.arena.values, savedState = optimizer.exportState(), savedVersion = model.arena.version
        optimizer.learningRate = schedule.rate(at: optimizer.stepCount)
        try optimizer.step(model.arena)
        if let bad = model.arena.values.firstIndex(where: { !$0.isFinite }) {
            let value = model.arena.values[bad]
            model.arena.values = savedValues
            // The same weights as before the step, under a new version: a kept forward pass is
            // still theirs.
            if lastForward?.version == savedVersion { lastForward?.version = model.arena.version }
            try? optimizer.importState(savedState)
            let name = model.arena.table.last(where: { $0.offset <= bad })?.name ?? "?"
            throw SeqError(.numeric, "the update made '\(name)' \(value) (is the learning rate, "
                + "\(optimizer.learningRate), too large?); the parameters are unchanged")
        }
    }

    /// `check` and `batch` together: the arguments of the training functions.
    func trainingBatch(_ a: InputArguments, _ t: TargetArguments) throws -> SequenceBatch<Float> {
        try batch(check(a), t)
    }
}

/// One training step on a batch: zeroes the gradients, computes the loss and its gradients
/// (backpropagation through time), clips them as configured ("clip_norm", "clip_value") and
/// updates the parameters with the configured optimizer.
///
/// Input as `seq_model_predict`. Targets, in `layout`, K = output_size:
/// - output "classes" (also language models and seq2seq): `target_ids`, class ids in [0, K) (or
///   ignore_index), [target_steps, B]; `target_values` NULL.
/// - output "binary" or "regression": `target_values` [target_steps, B, K] (binary: in [0, 1]);
///   `target_ids` NULL.
/// target_steps is T for a tagger or language model (the target of step t; for a language model,
/// the token after step t's), 1 for a classifier, and Ty, the longest target sequence, for seq2seq
/// (the target tokens without start or stop token; the model adds them).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - features: T * B * input_size floats, all finite; NULL when the model takes tokens.
///   - tokens: T * B token ids in [0, vocab_size); NULL when the model takes features.
///   - steps: T >= 1.
///   - batch: B >= 1.
///   - input_size: the model's input_size for features; 1 for tokens.
///   - lengths: B lengths in 1...T, or NULL for all T. Steps past a length contribute nothing.
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`, for inputs and targets.
///   - target_ids: class ids or target tokens (see above), or NULL.
///   - target_values: target values (see above), or NULL.
///   - target_steps: the time dimension of the targets (see above).
///   - target_lengths: seq2seq only: B target lengths in 1...target_steps, or NULL for all
///     target_steps. NULL for the other architectures.
///   - loss: if not NULL, receives the batch's loss, computed before the update.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (any argument out of range or inconsistent with the model); `SEQ_ERR_NUMERIC` (the loss, a
///   gradient or an updated parameter would be NaN or infinite: the parameters and the optimizer
///   are left as they were); `SEQ_ERR_RESOURCE_LIMIT`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_train_step(_ model: SeqModelHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                    _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ lengths: UnsafePointer<Int64>?,
                                    _ layout: SeqLayout, _ target_ids: UnsafePointer<Int32>?, _ target_values: UnsafePointer<Float>?,
                                    _ target_steps: Int64, _ target_lengths: UnsafePointer<Int64>?,
                                    _ loss: UnsafeMutablePointer<Double>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let b = try m.trainingBatch(
            InputArguments(features: features, tokens: tokens, steps: steps, batch: batch, inputSize: input_size,
                           lengths: lengths, layout: layout),
            TargetArguments(ids: target_ids, values: target_values, steps: target_steps, lengths: target_lengths))
        let value = try m.locked {
            let value = try m.computeGradients(b, layout: Layout(rawValue: layout))
            try m.applyGradients()
            return value
        }
        loss?.pointee = value
    }
}

/// The loss of a batch, without dropout, leaving gradients and parameters untouched. Arguments as
/// `seq_model_train_step`.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - features: as `seq_model_train_step`.
///   - tokens: as `seq_model_train_step`.
///   - steps: as `seq_model_train_step`.
///   - batch: as `seq_model_train_step`.
///   - input_size: as `seq_model_train_step`.
///   - lengths: as `seq_model_train_step`.
///   - layout: as `seq_model_train_step`.
///   - target_ids: as `seq_model_train_step`.
///   - target_values: as `seq_model_train_step`.
///   - target_steps: as `seq_model_train_step`.
///   - target_lengths: as `seq_model_train_step`.
///   - loss: receives the loss. Must not be NULL.
/// - Returns: as `seq_model_train_step`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_evaluate(_ model: SeqModelHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                  _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ lengths: UnsafePointer<Int64>?,
                                  _ layout: SeqLayout, _ target_ids: UnsafePointer<Int32>?, _ target_values: UnsafePointer<Float>?,
                                  _ target_steps: Int64, _ target_lengths: UnsafePointer<Int64>?,
                                  _ loss: UnsafeMutablePointer<Double>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let out = try Arg.pointer(loss, "loss")
        let b = try m.trainingBatch(
            InputArguments(features: features, tokens: tokens, steps: steps, batch: batch, inputSize: input_size,
                           lengths: lengths, layout: layout),
            TargetArguments(ids: target_ids, values: target_values, steps: target_steps, lengths: target_lengths))
        out.pointee = try m.locked { try m.model.evaluate(b).loss }
    }
}

/// Computes the gradients of a batch's loss without updating the parameters: zeroes every
/// gradient, then fills them by backpropagation through time (read them with
/// `seq_model_get_gradient`; apply them with `seq_model_apply_gradients`). Dropout is active, as
/// in training. Arguments as `seq_model_train_step`.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - features: as `seq_model_train_step`.
///   - tokens: as `seq_model_train_step`.
///   - steps: as `seq_model_train_step`.
///   - batch: as `seq_model_train_step`.
///   - input_size: as `seq_model_train_step`.
///   - lengths: as `seq_model_train_step`.
///   - layout: as `seq_model_train_step`.
///   - target_ids: as `seq_model_train_step`.
///   - target_values: as `seq_model_train_step`.
///   - target_steps: as `seq_model_train_step`.
///   - target_lengths: as `seq_model_train_step`.
///   - loss: if not NULL, receives the loss.
/// - Returns: as `seq_model_train_step`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_compute_gradients(_ model: SeqModelHandle?, _ features: UnsafePointer<Float>?,
                                           _ tokens: UnsafePointer<Int32>?, _ steps: Int64, _ batch: Int64, _ input_size: Int64,
                                           _ lengths: UnsafePointer<Int64>?, _ layout: SeqLayout,
                                           _ target_ids: UnsafePointer<Int32>?, _ target_values: UnsafePointer<Float>?,
                                           _ target_steps: Int64, _ target_lengths: UnsafePointer<Int64>?,
                                           _ loss: UnsafeMutablePointer<Double>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let b = try m.trainingBatch(
            InputArguments(features: features, tokens: tokens, steps: steps, batch: batch, inputSize: input_size,
                           lengths: lengths, layout: layout),
            TargetArguments(ids: target_ids, values: target_values, steps: target_steps, lengths: target_lengths))
        let value = try m.locked { try m.computeGradients(b, layout: Layout(rawValue: layout)) }
        loss?.pointee = value
    }
}

/// Updates the parameters from the current gradients (as left by `seq_model_compute_gradients`
/// or `seq_model_backward`, or written with `seq_model_set_gradient`): clips them as configured,
/// then takes one optimizer step. The gradients are left as clipped.
///
/// - Parameter model: a live `seq_model`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NUMERIC` (a
///   gradient, or a parameter after the update, would be NaN or infinite; nothing changes, and a
///   pass kept by `seq_model_forward` can still be backpropagated).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_apply_gradients(_ model: SeqModelHandle?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.locked { try m.applyGradients() }
    }
}

/// Sets every gradient to zero.
///
/// - Parameter model: a live `seq_model`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_zero_gradients(_ model: SeqModelHandle?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.locked { m.model.arena.zeroGradients() }
    }
}

/// Sets the learning rate of the steps that follow (e.g. a schedule computed by the caller, or a
/// change from a `seq_progress_callback`). The optimizer's state (moments, step count) is kept.
/// With a configured schedule ("lr_schedule", "warmup_steps"), this is its base rate: the rate of
/// each later step is the schedule's at that step, as if the model had been configured with it.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - learning_rate: finite, >= 0.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_set_learning_rate(_ model: SeqModelHandle?, _ learning_rate: Double) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        guard learning_rate.isFinite && learning_rate >= 0 else {
            throw SeqError.invalid("learning_rate", expected: "a finite number >= 0", got: learning_rate)
        }
        try m.locked { try m.setLearningRate(learning_rate) }
    }
}

/// Reads the learning rate of the next step (with a schedule, the schedule's rate at that step).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - out: receives the learning rate. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_get_learning_rate(_ model: SeqModelHandle?, _ out: UnsafeMutablePointer<Double>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let out = try Arg.pointer(out, "out")
        out.pointee = try m.locked { m.schedule.rate(at: m.optimizer.stepCount) }
    }
}

/// The vanishing-gradient diagnostic of lesson 5: the norm of dL/da<t>, the gradient reaching each
/// time step's state, from the last `seq_model_compute_gradients`, `seq_model_train_step`,
/// `seq_model_backward` or `seq_model_fit` batch. One row per layer and direction (rows = L*D, layer-major, a layer's
/// reverse direction after its forward one; for seq2seq, the encoder's), one column per time step
/// of that batch (after a seq_model_fit with "truncated_bptt", of its last window: the window's
/// steps, over the sequences still running); a vanilla RNN's norms fall towards early steps where
/// a GRU's or LSTM's do not.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - buffer: receives rows*steps floats, row-major; may be NULL only when `capacity` is 0.
///   - capacity: size of `buffer` in floats; 0 with a NULL `buffer` only sets `rows` and `steps`.
///   - rows: if not NULL, receives L*D.
///   - steps: if not NULL, receives T, the time steps of that batch.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_STATE` (no
///   gradients computed yet); `SEQ_ERR_BUFFER_TOO_SMALL` (buffer untouched);
///   `SEQ_ERR_INVALID_ARGUMENT` (negative capacity).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_gradient_norms(_ model: SeqModelHandle?, _ buffer: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                        _ rows: UnsafeMutablePointer<Int64>?, _ steps: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.locked {
            guard let norms = m.lastGradientNorms else {
                throw SeqError(.state, "argument 'model': no gradients computed yet (call seq_model_compute_gradients, "
                               + "seq_model_train_step or seq_model_fit first)")
            }
            rows?.pointee = Int64(norms.shape[0])
            steps?.pointee = Int64(norms.shape[1])
            if buffer == nil && capacity == 0 { return }
            let buffer = try Arg.pointer(buffer, "buffer")
            try Arg.capacity(capacity, "capacity", needed: norms.count, buffer: "buffer")
            buffer.update(from: norms.data, count: norms.count)
        }
    }
}

/// The gradient of the loss with respect to the inputs (PyTorch's x.grad) of the last
/// `seq_model_compute_gradients`, `seq_model_train_step` or `seq_model_backward` call (of the
/// latter, that one backward's, not a sum over the backwards since the gradients were zeroed),
/// in that call's layout:
/// steps * batch * width floats, zero past each sequence's length. width is input_size for
/// feature inputs; for token inputs it is embedding_size, the gradient reaching each token's
/// embedded vector (the embedding table's own gradient is the parameter "embedding.weight"). For
/// seq2seq, the encoder's input. A train step's gradient is the one computed before its update.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - buffer: receives the gradient; may be NULL only when `capacity` is 0.
///   - capacity: size of `buffer` in floats; 0 with a NULL `buffer` only sets `count`.
///   - count: if not NULL, receives steps * batch * width.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_STATE` (no such
///   call yet, or `seq_model_fit` since: it trains on many batches and keeps none);
///   `SEQ_ERR_BUFFER_TOO_SMALL` (buffer untouched); `SEQ_ERR_INVALID_ARGUMENT` (negative capacity).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_input_gradient(_ model: SeqModelHandle?, _ buffer: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                        _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.locked {
            guard let (stack, layout) = m.lastStackGradients else {
                throw SeqError(.state, "argument 'model': no input gradient (call seq_model_compute_gradients, "
                    + "seq_model_train_step or seq_model_backward first; seq_model_fit keeps none)")
            }
            let g = stack.input
            guard let out = try Arg.output(buffer, capacity, count, needed: g.count, name: "buffer") else { return }
            layout.store(g.data, steps: g.shape[0], batch: g.shape[1], width: g.shape[2], into: out)
        }
    }
}
