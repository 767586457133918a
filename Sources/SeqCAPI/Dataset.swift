// MARK: - Datasets and training loops
//
// A dataset is N sequences with their targets, copied from the caller's arrays; seq_model_fit
// trains a model on it for a number of epochs in shuffled minibatches, calling a C function after
// every batch.
//
// The loop is deliberately the plain one (seeded shuffle, gather, the very step of
// seq_model_train_step with its clipping and its roll-back of non-finite updates, or truncated
// BPTT's windows through SequenceModel.truncatedBPTT) rather than SeqCore's Trainer: a C dataset
// is padded arrays, and validation and early stopping are left to the caller's callback.

import SeqCore
import Synchronization

/// N training sequences with their targets, copied from C arrays. Create with
/// `seq_dataset_create`, fill with `seq_dataset_set_inputs` and `seq_dataset_set_targets`, train
/// with `seq_model_fit`, free with `seq_dataset_free`. A dataset is checked against a model only
/// when it is used, so one dataset may serve several models.
public typealias SeqDatasetHandle = OpaquePointer

/// Training progress, given by pointer to a `seq_progress_callback` after every batch of
/// `seq_model_fit`. Fields are only ever appended: read `size` before a field added after the
/// version you compiled against.
struct SeqProgress {
    /// sizeof(seq_progress) in the library that filled the struct.
    var size: Int64
    /// The epoch in progress, 1...epochs.
    var epoch: Int64
    /// The number of epochs requested.
    var epochs: Int64
    /// The batch just trained on, 1...batches.
    var batch: Int64
    /// Batches per epoch.
    var batches: Int64
    /// Optimizer steps taken since seq_model_fit started (with "truncated_bptt", one per window).
    var step: Int64
    /// The loss of the batch just trained on, computed before its update (with "truncated_bptt",
    /// the mean of its windows' losses, each computed before that window's update).
    var loss: Double
    /// The mean loss of the epoch so far: batch losses weighted by their numbers of sequences.
    var epochLoss: Double
    /// The learning rate of the step just taken (the batch's last).
    var learningRate: Double
}

/// Points to a `seq_progress`.
public typealias SeqProgressPointer = UnsafeRawPointer

/// The function `seq_model_fit` calls after every batch, with the progress (valid only during the
/// call) and the `user_data` given to seq_model_fit. Return 0 to go on, non-zero to stop training
/// after this batch (seq_model_fit then returns SEQ_OK). It runs on the thread that called
/// seq_model_fit, with no lock held: it may call any function, also on the model being trained
/// (e.g. `seq_model_save` for a checkpoint, `seq_model_set_learning_rate` for a schedule).
public typealias SeqProgressCallback = @convention(c) (_ progress: SeqProgressPointer?, _ userData: UnsafeMutableRawPointer?) -> Int32

/// The object behind a `seq_dataset *`. Arrays are kept time-major, as C types, so that a dataset
/// and a batch are checked by the same code (`ModelObject.check`, `ModelObject.batch`).
final class DatasetObject: HandleValue {
    static let handleKind = HandleKind.dataset

    struct Inputs {
        var features: [Float]?
        var tokens: [Int32]?
        var count: Int, steps: Int, width: Int
        var lengths: [Int64]?
    }

    struct Targets {
        var ids: [Int32]?
        var values: [Float]?
        var count: Int, steps: Int, width: Int
        var lengths: [Int64]?
    }

    let inputs = Mutex<Inputs?>(nil)
    let targets = Mutex<Targets?>(nil)
}

/// Checks the shared part of both setters: layout, sizes, lengths; returns (layout, count, steps, width, lengths).
private func readShape(count: Int64, steps: Int64, width: Int64, widthName: String, stepsName: String,
                       lengths: UnsafePointer<Int64>?, lengthsName: String, layout: SeqLayout) throws
    -> (Layout, Int, Int, Int, [Int64]?) {
    let layout = try Layout(checking: layout, "layout")
    let n = try Arg.positive(count, "count"), t = try Arg.positive(steps, stepsName), w = try Arg.positive(width, widthName)
    _ = try Arg.elementCount(of: "data", ("count", count), (stepsName, steps), (widthName, width))
    var copied: [Int64]?
    if let lengths {
        for i in 0 ..< n where lengths[i] < 1 || lengths[i] > steps {
            throw SeqError.invalid(lengthsName, expected: "every length in 1...\(t) (\(stepsName))", got: "\(lengths[i]) at index \(i)")
        }
        copied = Array(UnsafeBufferPointer(start: lengths, count: n))
    }
    return (layout, n, t, w, copied)
}

/// Creates an empty dataset.
///
/// - Parameter out: receives the new dataset; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`.
/// - Ownership: the caller owns the dataset and frees it with `seq_dataset_free`.
/// - Thread safety: safe to call from any thread.
@c public func seq_dataset_create(_ out: UnsafeMutablePointer<SeqDatasetHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        out.pointee = Handles.create(DatasetObject())
    }
}

/// Frees a dataset.
///
/// - Parameter dataset: the dataset to free. NULL is a no-op. A pointer that is not a live
///   `seq_dataset` is left alone and the reason is stored for `seq_last_error()`.
/// - Thread safety: safe to call from any thread, but the handle must not be used after or while
///   it is freed.
@c public func seq_dataset_free(_ dataset: SeqDatasetHandle?) {
    Handles.release(dataset, as: DatasetObject.self, argument: "dataset")
}

/// Copies the inputs of N sequences into the dataset (replacing any set before): features
/// [T, N, I] or token ids [T, N] (time-major), or [N, T, I] / [N, T] (batch-first). Token ids are
/// checked against a model's vocabulary when the dataset is used.
///
/// - Parameters:
///   - dataset: a live `seq_dataset`.
///   - features: count * steps * input_size finite floats, or NULL when giving tokens.
///   - tokens: count * steps token ids >= 0, or NULL when giving features.
///   - count: N >= 1, the number of sequences.
///   - steps: T >= 1, the steps of the longest sequence.
///   - input_size: features per step; 1 for tokens.
///   - lengths: N lengths in 1...T, or NULL when every sequence has T steps.
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (both or neither of features and tokens, sizes, NaN or infinite features, negative token ids,
///   lengths); `SEQ_ERR_RESOURCE_LIMIT`. On failure the dataset is unchanged.
/// - Thread safety: safe to call from any thread.
@c public func seq_dataset_set_inputs(_ dataset: SeqDatasetHandle?, _ features: UnsafePointer<Float>?,
                                      _ tokens: UnsafePointer<Int32>?, _ count: Int64, _ steps: Int64, _ input_size: Int64,
                                      _ lengths: UnsafePointer<Int64>?, _ layout: SeqLayout) -> SeqStatus {
    guarded {
        let d = try Handles.value(dataset, as: DatasetObject.self, argument: "dataset")
        if features != nil && tokens != nil {
            throw SeqError.invalid("tokens", expected: "NULL when features are given", got: "a pointer")
        }
        if features == nil && tokens == nil { throw ABIError.nullPointer("features' or 'tokens") }
        let (layout, n, t, w, lengthsCopy) = try readShape(count: count, steps: steps, width: input_size, widthName: "input_size",
                                                           stepsName: "steps", lengths: lengths, lengthsName: "lengths", layout: layout)
        // Time-major [T, N, W] from the caller's layout (batch-first is [N, T, W]).
        var inputs = DatasetObject.Inputs(features: nil, tokens: nil, count: n, steps: t, width: w, lengths: lengthsCopy)
        if let features {
            try Arg.finite(features, count: n * t * w, "features")
            inputs.features = layout.timeMajor(features, steps: t, batch: n, width: w) { $0 }
        } else if let tokens {
            guard w == 1 else { throw SeqError.invalid("input_size", expected: "1 (one token id per step)", got: w) }
            for i in 0 ..< n * t where tokens[i] < 0 {
                throw SeqError.invalid("tokens", expected: "token ids >= 0", got: "\(tokens[i]) at index \(i)")
            }
            inputs.tokens = layout.timeMajor(tokens, steps: t, batch: n, width: 1) { $0 }
        }
        d.inputs.withLock { $0 = inputs }
    }
}

/// Copies the targets of the N sequences into the dataset (replacing any set before), shaped as
/// the targets of `seq_model_train_step` with N in place of B: class ids [target_steps, N] or
/// values [target_steps, N, width] time-major ([N, target_steps(, width)] batch-first).
///
/// - Parameters:
///   - dataset: a live `seq_dataset`.
///   - target_ids: count * target_steps class ids or target tokens, or NULL when giving values.
///   - target_values: count * target_steps * width finite floats, or NULL when giving ids.
///   - count: N, the number of sequences (the inputs' N when the dataset is used).
///   - target_steps: T for a tagger or language model, 1 for a classifier, Ty for seq2seq.
///   - width: values per step: the model's output_size for values, 1 for ids.
///   - target_lengths: seq2seq only: N target lengths in 1...target_steps, or NULL.
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`.
/// - Returns: as `seq_dataset_set_inputs`.
/// - Thread safety: safe to call from any thread.
@c public func seq_dataset_set_targets(_ dataset: SeqDatasetHandle?, _ target_ids: UnsafePointer<Int32>?,
                                       _ target_values: UnsafePointer<Float>?, _ count: Int64, _ target_steps: Int64,
                                       _ width: Int64, _ target_lengths: UnsafePointer<Int64>?, _ layout: SeqLayout) -> SeqStatus {
    guarded {
        let d = try Handles.value(dataset, as: DatasetObject.self, argument: "dataset")
        if target_ids != nil && target_values != nil {
            throw SeqError.invalid("target_values", expected: "NULL when target_ids are given", got: "a pointer")
        }
        if target_ids == nil && target_values == nil { throw ABIError.nullPointer("target_ids' or 'target_values") }
        let (layout, n, t, w, lengthsCopy) = try readShape(count: count, steps: target_steps, width: width, widthName: "width",
                                                           stepsName: "target_steps", lengths: target_lengths,
                                                           lengthsName: "target_lengths", layout: layout)
        var targets = DatasetObject.Targets(ids: nil, values: nil, count: n, steps: t, width: w, lengths: lengthsCopy)
        if let target_values {
            try Arg.finite(target_values, count: n * t * w, "target_values")
            targets.values = layout.timeMajor(target_values, steps: t, batch: n, width: w) { $0 }
        } else if let target_ids {
            guard w == 1 else { throw SeqError.invalid("width", expected: "1 (one id per step)", got: w) }
            targets.ids = layout.timeMajor(target_ids, steps: t, batch: n, width: 1) { $0 }
        }
        d.targets.withLock { $0 = targets }
    }
}

/// The number of sequences whose inputs are set (0 before `seq_dataset_set_inputs`).
///
/// - Parameters:
///   - dataset: a live `seq_dataset`.
///   - count: receives N. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Thread safety: safe to call from any thread.
@c public func seq_dataset_count(_ dataset: SeqDatasetHandle?, _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let d = try Handles.value(dataset, as: DatasetObject.self, argument: "dataset")
        let count = try Arg.pointer(count, "count")
        count.pointee = Int64(d.inputs.withLock { $0?.count ?? 0 })
    }
}

/// Training arguments gathered from a dataset for a subset of its sequences, time-major, trimmed
/// to the longest sequence of the subset. The arrays live as long as this value.
private struct Gathered {
    var features: [Float]?
    var tokens: [Int32]?
    var steps: Int
    var width: Int
    var lengths: [Int64]?
    var ids: [Int32]?
    var values: [Float]?
    var targetSteps: Int
    var targetWidth: Int
    var targetLengths: [Int64]?

    /// Rows `order` of time-major [T, N, W] arrays, first `steps` steps: [steps, order.count, W].
    static func rows<T>(_ a: [T], _ order: ArraySlice<Int>, n: Int, steps: Int, width: Int) -> [T] {
        var out: [T] = []
        out.reserveCapacity(steps * order.count * width)
        for t in 0 ..< steps {
            for i in order { out.append(contentsOf: a[(t * n + i) * width ..< (t * n + i + 1) * width]) }
        }
        return out
    }

    init(_ x: DatasetObject.Inputs, _ y: DatasetObject.Targets, _ order: ArraySlice<Int>, perStepTargets: Bool) {
        let n = x.count
        let lengths = x.lengths.map { l in order.map { l[$0] } }
        let steps = lengths.map { Int($0.max() ?? 1) } ?? x.steps
        let targetLengths = y.lengths.map { l in order.map { l[$0] } }
        let targetSteps = perStepTargets ? steps : (targetLengths.map { Int($0.max() ?? 1) } ?? y.steps)
        self.lengths = lengths
        self.steps = steps
        self.targetLengths = targetLengths
        self.targetSteps = targetSteps
        width = x.width
        targetWidth = y.width
        features = x.features.map { Self.rows($0, order, n: n, steps: steps, width: x.width) }
        tokens = x.tokens.map { Self.rows($0, order, n: n, steps: steps, width: x.width) }
        ids = y.ids.map { Self.rows($0, order, n: n, steps: targetSteps, width: y.width) }
        values = y.values.map { Self.rows($0, order, n: n, steps: targetSteps, width: y.width) }
    }

    /// Checks and converts through the same path as `seq_model_train_step`; `checksWorkSize`
    /// false checks the values only (a whole dataset, whose batches are sized separately).
    func batch(for m: ModelObject, count: Int, prefix: String, checksWorkSize: Bool = true) throws -> SequenceBatch<Float> {
        try withPointers { f, t, l, ids, values, tl in
            try m.trainingBatch(
                InputArguments(features: f, tokens: t, steps: Int64(steps), batch: Int64(count), inputSize: Int64(width),
                               lengths: l, layout: Layout.timeMajor.rawValue, batchName: "count", prefix: prefix,
                               windowSteps: m.truncatedBPTT > 0 ? m.truncatedBPTT : nil, checksWorkSize: checksWorkSize),
                TargetArguments(ids: ids, values: values, steps: Int64(targetSteps), lengths: tl, prefix: prefix))
        }
    }

    private func withPointers<R>(_ body: (UnsafePointer<Float>?, UnsafePointer<Int32>?, UnsafePointer<Int64>?,
                                          UnsafePointer<Int32>?, UnsafePointer<Float>?, UnsafePointer<Int64>?) throws -> R) throws -> R {
        func with<T, U>(_ a: [T]?, _ next: (UnsafePointer<T>?) throws -> U) rethrows -> U {
            guard let a else { return try next(nil) }
            return try a.withUnsafeBufferPointer { try next($0.baseAddress) }
        }
        return try with(features) { f in try with(tokens) { t in try with(lengths) { l in
            try with(ids) { i in try with(values) { v in try with(targetLengths) { tl in try body(f, t, l, i, v, tl) } } }
        } } }
    }
}

/// Trains a model on a dataset: `epochs` passes over it in shuffled minibatches of `batch_size`
/// sequences (the last one smaller when batch_size does not divide N), one
/// `seq_model_train_step` per batch. With the configuration key "truncated_bptt" set to k >= 1
/// (a tagger or language model with direction "forward"), each batch is trained in windows of k
/// steps, one optimizer step per window: each window starts from the state a<t> (and c<t>) the
/// previous one ended in, and its gradient stops at the window's first step; sequences that have
/// ended drop out of later windows. The shuffling is seeded from the model's "seed" and the
/// number of steps it has taken: the same model, dataset and calls train the same way, and two
/// calls in a row shuffle differently. After every batch `callback`, if not NULL, receives the
/// progress and may stop the training.
///
/// The whole dataset is checked against the model before the first step (inputs and targets set,
/// the same N, shapes and values as `seq_model_train_step` requires, target width equal to
/// output_size for values); messages name the dataset's arguments ("dataset.tokens", ...).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - dataset: a live `seq_dataset` with inputs and targets set.
///   - epochs: >= 1.
///   - batch_size: sequences per step, >= 1 (more than N means N).
///   - callback: called after every batch, or NULL.
///   - user_data: passed to `callback` unchanged; may be NULL.
/// - Returns: `SEQ_OK` (also when the callback stopped training); `SEQ_ERR_NULL_POINTER`;
///   `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_STATE` (inputs or targets not set);
///   `SEQ_ERR_INVALID_ARGUMENT` (the dataset does not fit the model, epochs or batch_size < 1);
///   `SEQ_ERR_NUMERIC` (a loss or gradient became NaN or infinite: training stops, and the
///   parameters are those of the last good step); `SEQ_ERR_RESOURCE_LIMIT`.
/// - Thread safety: safe to call from any thread. The model's lock is taken for each step and
///   released around the callback, so other threads' calls on the model interleave with training.
@c public func seq_model_fit(_ model: SeqModelHandle?, _ dataset: SeqDatasetHandle?, _ epochs: Int64, _ batch_size: Int64,
                             _ callback: SeqProgressCallback?, _ user_data: UnsafeMutableRawPointer?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let d = try Handles.value(dataset, as: DatasetObject.self, argument: "dataset")
        let epochs = try Arg.positive(epochs, "epochs")
        let batchSize = try Arg.positive(batch_size, "batch_size")
        guard let x = d.inputs.withLock({ $0 }) else {
            throw SeqError(.state, "argument 'dataset': no inputs (call seq_dataset_set_inputs first)")
        }
        guard let y = d.targets.withLock({ $0 }) else {
            throw SeqError(.state, "argument 'dataset': no targets (call seq_dataset_set_targets first)")
        }
        guard x.count == y.count else {
            throw SeqError.invalid("dataset", expected: "as many targets as inputs (\(x.count) sequences)", got: "\(y.count) targets")
        }
        let c = m.config
        let expectedWidth = y.values != nil ? c.outputSize : 1
        guard y.width == expectedWidth else {
            throw SeqError.invalid("dataset", expected: "targets of width \(expectedWidth)"
                + (y.values != nil ? " (output_size)" : " (one id per step)"), got: "width \(y.width)")
        }
        let perStep = c.architecture == .tagger || c.architecture == .languageModel
        if perStep && y.steps != x.steps {
            throw SeqError.invalid("dataset", expected: "target_steps equal to the inputs' steps (\(x.steps)) for a "
                + "\(c.architecture.rawValue)", got: "target_steps \(y.steps)")
        }
        let n = x.count
        // Check every value once, through the same code as a single step; the size of the work is
        // that of a batch (of a window with truncated BPTT), checked before the first step.
        _ = try Gathered(x, y, Array(0 ..< n)[...], perStepTargets: perStep)
            .batch(for: m, count: n, prefix: "dataset.", checksWorkSize: false)
        let passSteps = m.truncatedBPTT > 0 ? min(x.steps, m.truncatedBPTT) : x.steps
        do {
            try m.checkWork(steps: passSteps, batch: min(batchSize, n), "batch_size")
        } catch let e as SeqError {
            throw SeqError(e.kind, e.message + (m.truncatedBPTT > 0 ? " (steps: truncated_bptt)" : "; a smaller batch_size, or "
                + "\"truncated_bptt\" for a tagger or language model, makes each pass smaller"))
        }
        guard MemoryLayout<SeqProgress>.size == 9 * 8 else {
            throw ABIError(status: .internal, message: "seq_progress has an unexpected layout in this build")
        }

        let size = min(batchSize, n), batches = (n + size - 1) / size
        let stepsBefore = try m.locked { m.optimizer.stepCount }
        var rng = SeqRandom(seed: m.seed ^ 0x5EED_0F_F17 ^ (UInt64(stepsBefore) &* 0x9E37_79B9_7F4A_7C15))
        var order = Array(0 ..< n)
        var step = 0
        for epoch in 1 ... epochs {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var total = 0.0, seen = 0
            for index in 0 ..< batches {
                let members = order[index * size ..< min(n, (index + 1) * size)]
                let batch = try Gathered(x, y, members, perStepTargets: perStep).batch(for: m, count: members.count, prefix: "dataset.")
                let (loss, taken, rate) = try m.locked {
                    let (loss, taken) = try m.trainOnBatch(batch)
                    return (loss, taken, m.optimizer.learningRate)  // the rate the last step used (its schedule's)
                }
                step += taken
                total += loss * Double(members.count)
                seen += members.count
                guard let callback else { continue }
                var progress = SeqProgress(size: Int64(MemoryLayout<SeqProgress>.size), epoch: Int64(epoch), epochs: Int64(epochs),
                                           batch: Int64(index + 1), batches: Int64(batches), step: Int64(step), loss: loss,
                                           epochLoss: total / Double(seen), learningRate: rate)
                let stop = withUnsafePointer(to: &progress) { callback(UnsafeRawPointer($0), user_data) }
                if stop != 0 { return }
            }
        }
    }
}
