#if canImport(Glibc)
import Glibc
#endif

/// What to do when a step's loss or gradient is NaN or infinite.
public enum NonFiniteAction: String, Sendable {
    /// Throw a `.numeric` error; weights and optimizer are exactly as before the step.
    case stop
    /// Skip the step (weights and optimizer untouched), count it in the history, go on.
    case skip
}

/// Options of `Trainer.fit`.
public struct TrainingOptions: Sendable {
    public var epochs = 10
    public var batchSize = 32
    /// Reshuffle the examples every epoch (seeded by `seed`).
    public var shuffle = true
    public var seed: UInt64 = 0
    /// Group examples of similar length into batches (less padding), batches still shuffled.
    public var bucketByLength = false
    /// Truncated BPTT: split sequences into chunks of this many steps, carrying the state between
    /// chunks but not the gradient (tagger and language model, direction forward). nil: whole sequences.
    public var truncatedBPTT: Int?
    /// Clip the gradients' global L2 norm (lesson 5) and/or each gradient's value.
    public var clipNorm: Double?
    public var clipValue: Double?
    /// Learning rate per optimizer step; nil keeps the optimizer's.
    public var schedule: LearningRateSchedule?
    /// Stop after this many epochs without a validation improvement larger than `minDelta`.
    public var earlyStoppingPatience: Int?
    public var minDelta = 0.0
    /// With early stopping: put back the weights of the best validation epoch at the end.
    public var restoreBestWeights = true
    public var onNonFinite = NonFiniteAction.stop
    /// Write a `TrainingCheckpoint` to `checkpointPath` every this many optimizer steps (atomically:
    /// an interrupted save leaves the previous checkpoint intact), and at the end of training.
    public var checkpointEvery: Int?
    public var checkpointPath: String?

    public init() {}

    func validate() throws {
        try Check.positive(epochs, "epochs")
        try Check.positive(batchSize, "batch_size")
        if let k = truncatedBPTT { try Check.positive(k, "truncated_bptt") }
        if let c = clipNorm, !(c > 0 && c.isFinite) { throw SeqError.invalid("clip_norm", expected: "a finite value > 0", got: c) }
        if let c = clipValue, !(c > 0 && c.isFinite) { throw SeqError.invalid("clip_value", expected: "a finite value > 0", got: c) }
        if let p = earlyStoppingPatience { try Check.positive(p, "patience") }
        if !(minDelta >= 0) { throw SeqError.invalid("min_delta", expected: "a value ≥ 0", got: minDelta) }
        if let n = checkpointEvery {
            try Check.positive(n, "checkpoint_every")
            if checkpointPath == nil { throw SeqError.invalid("checkpoint_path", expected: "a path when checkpoint_every is set", got: "nil") }
        }
    }
}

/// Where training is, given to the progress callback after every step and every epoch.
public struct TrainingProgress: Sendable {
    public var epoch: Int            // 1-based
    public var epochs: Int
    public var step: Int             // optimizer steps so far, all epochs
    public var totalSteps: Int       // planned (fewer if stopped early)
    public var stepInEpoch: Int
    public var stepsPerEpoch: Int
    /// Mean training loss of this epoch so far, and of the last step.
    public var loss: Double
    public var lastLoss: Double
    /// Valid (non-padded) time steps processed per second.
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
    public var etaSeconds: Double
    /// Set at the end of an epoch when there is validation data.
    public var validationLoss: Double?
    public var endOfEpoch: Bool
}

/// The record of a `fit`.
public struct TrainingHistory: Sendable {
    public var trainLoss: [Double] = []
    public var validationLoss: [Double] = []
    public var stepLoss: [Double] = []
    public var stoppedEarly = false
    /// Stopped by the callback returning false.
    public var interrupted = false
    public var bestEpoch: Int?
    public var skippedSteps = 0
}

/// The training loop: mini-batches, epochs, validation, early stopping, truncated BPTT.
///
/// One optimizer step = zero gradients → forward → loss → BPTT → (clip) → check finite → step.
/// Deterministic: the same seed, data and options give bit-identical weights, whatever the thread count.
public final class Trainer<S: SeqScalar> {
    public let model: SequenceModel<S>
    public let optimizer: Optimizer<S>
    public var options: TrainingOptions
    /// Draws the shuffling order (seeded by `options.seed`).
    var shuffleRandom: SeqRandom
    /// Optimizer steps taken (drives the schedule) and epochs completed.
    public var stepCount = 0
    public var epochCount = 0
    /// The shuffling generator as it was when the current epoch drew its order, and the batches of
    /// that epoch already done: what a checkpoint needs to resume mid-epoch exactly.
    var epochStartRandom: SeqRandom
    var batchesDoneInEpoch = 0

    public init(model: SequenceModel<S>, optimizer: Optimizer<S>, options: TrainingOptions = TrainingOptions()) throws {
        try options.validate()
        if optimizer.parameterCount != model.arena.count {
            throw SeqError.invalid("optimizer", expected: "an optimizer over the model's \(model.arena.count) parameters", got: optimizer.parameterCount)
        }
        self.model = model
        self.optimizer = optimizer
        self.options = options
        shuffleRandom = SeqRandom(seed: options.seed)
        epochStartRandom = shuffleRandom
    }

    /// Continues the training saved in `checkpoint` (written by `fit` with `checkpointEvery`, or by
    /// `checkpoint()`): same weights, optimizer state, shuffling position and step counters, so the
    /// rest of the run is bit-identical to one that was never interrupted. Early-stopping counters
    /// start afresh.
    public convenience init(resumingFrom checkpoint: TrainingCheckpoint<S>, options: TrainingOptions) throws {
        try self.init(model: checkpoint.model, optimizer: try checkpoint.makeOptimizer(), options: options)
        guard let start = checkpoint.generators["shuffle_epoch_start"] else {
            throw SeqError(.format, "checkpoint: no 'shuffle_epoch_start' generator; not written by Trainer")
        }
        epochStartRandom = start
        shuffleRandom = start
        stepCount = checkpoint.counters["step"] ?? 0
        epochCount = checkpoint.counters["epoch"] ?? 0
        batchesDoneInEpoch = checkpoint.counters["batches_done_in_epoch"] ?? 0
    }

    /// The state of training now, as a checkpoint.
    public func checkpoint() -> TrainingCheckpoint<S> {
        TrainingCheckpoint(model: model, optimizer: optimizer, generators: ["shuffle_epoch_start": epochStartRandom],
                           counters: ["step": stepCount, "epoch": epochCount, "batches_done_in_epoch": batchesDoneInEpoch],
                           schedule: options.schedule)
    }

    /// One optimizer step on a batch. Returns the loss, or nil when the step was skipped as non-finite.
    @discardableResult
    @_specialize(where S == Float)
    public func trainStep(_ batch: SequenceBatch<S>) throws -> Double? {
        model.arena.zeroGradients()
        let loss: Double
        do {
            loss = try model.lossAndGradients(batch).loss
        } catch let e as SeqError where e.kind == .numeric {
            loss = .nan  // e.g. a loss that overflows the scalar type: handled as any non-finite step
        }
        return try finishStep(loss: loss)
    }

    /// Clip, check, step: the part of a step after the gradients are in the arena.
    func finishStep(loss: Double) throws -> Double? {
        if let v = options.clipValue { try model.arena.clipGradientValues(maxValue: v) }
        let norm = try options.clipNorm.map { try model.arena.clipGradientNorm(maxNorm: $0) } ?? model.arena.gradientNorm()
        if !loss.isFinite || !norm.isFinite {
            model.arena.zeroGradients()
            if options.onNonFinite == .skip { return nil }
            throw SeqError(.numeric, "training step \(stepCount + 1): the loss is \(loss) and the gradient norm \(norm); "
                           + "weights and optimizer are unchanged (lower the learning rate, clip gradients, or check the data)")
        }
        if let s = options.schedule { optimizer.learningRate = s.rate(at: stepCount) }
        try optimizer.step(model.arena)
        stepCount += 1
        return loss
    }

    /// Truncated BPTT over one batch of examples: one optimizer step per window of k steps
    /// (`SequenceModel.truncatedBPTT`).
    func truncatedStep(_ data: SequenceDataset<S>, _ indices: [Int], chunk k: Int) throws -> (loss: Double, steps: Int, skipped: Int) {
        var total = 0.0, count = 0, skipped = 0
        try model.truncatedBPTT(data.batch(indices), window: k) { window in
            if let loss = try finishStep(loss: window.loss) { total += loss; count += 1 } else { skipped += 1 }
        }
        return (count > 0 ? total / Double(count) : .nan, count, skipped)
    }

    /// Batches of one epoch: shuffled (seeded), optionally bucketed by length.
    func epochBatches(_ data: SequenceDataset<S>) -> [[Int]] {
        var order = Array(0 ..< data.count)
        if options.shuffle { order.shuffle(using: &shuffleRandom) }
        if options.bucketByLength {
            // Sort within windows of 50 batches, so batches hold similar lengths but epochs still differ.
            let window = options.batchSize * 50
            var bucketed: [Int] = []
            for w in stride(from: 0, to: order.count, by: window) {
                bucketed += order[w ..< min(w + window, order.count)].sorted { (data.lengths[$0], $0) < (data.lengths[$1], $1) }
            }
            order = bucketed
        }
        var batches = stride(from: 0, to: order.count, by: options.batchSize).map {
            Array(order[$0 ..< min($0 + options.batchSize, order.count)])
        }
        if options.bucketByLength && options.shuffle { batches.shuffle(using: &shuffleRandom) }
        return batches
    }

    /// Trains for `options.epochs` epochs (or until early stopping, or until `callback` returns false).
    @_specialize(where S == Float)
    public func fit(_ train: SequenceDataset<S>, validation: SequenceDataset<S>? = nil,
                    callback: ((TrainingProgress) -> Bool)? = nil) throws -> TrainingHistory {
        try options.validate()
        if options.truncatedBPTT != nil {
            let a = model.config.architecture
            if !(a == .tagger || a == .languageModel) || model.config.rnn.direction != .forward {
                throw SeqError.invalid("truncated_bptt", expected: "a tagger or language model with direction forward", got: "\(a.rawValue), \(model.config.rnn.direction.rawValue)")
            }
        }
        var history = TrainingHistory()
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        let start = Self.now()
        var best = Double.infinity, bestWeights: [S]? = nil, sinceBest = 0
        var tokens = 0
        var epoch = epochCount
        while epoch < options.epochs {
            epoch += 1
            var sum = 0.0, counted = 0
            // A resumed run redraws the interrupted epoch's order from its saved start and skips the
            // batches already done.
            shuffleRandom = epochStartRandom
            let batches = epochBatches(train)
            let skip = batchesDoneInEpoch
            for (i, indices) in batches.enumerated() where i >= skip {
                var stepLoss = Double.nan
                if let k = options.truncatedBPTT {
                    let r = try truncatedStep(train, indices, chunk: k)
                    history.skippedSteps += r.skipped
                    if r.steps > 0 { stepLoss = r.loss }
                } else if let l = try trainStep(train.batch(indices)) {
                    stepLoss = l
                } else {
                    history.skippedSteps += 1
                }
                if stepLoss.isFinite { sum += stepLoss; counted += 1; history.stepLoss.append(stepLoss) }
                batchesDoneInEpoch = i + 1
                if let every = options.checkpointEvery, let path = options.checkpointPath, stepCount % every == 0 {
                    try checkpoint().save(to: path)
                }
                tokens += indices.reduce(0) { $0 + train.lengths[$1] }
                if let callback {
                    let elapsed = Self.now() - start
                    let done = (epoch - 1) * stepsPerEpoch + i + 1, total = options.epochs * stepsPerEpoch
                    let p = TrainingProgress(
                        epoch: epoch, epochs: options.epochs, step: done, totalSteps: total, stepInEpoch: i + 1,
                        stepsPerEpoch: stepsPerEpoch, loss: counted > 0 ? sum / Double(counted) : .nan, lastLoss: stepLoss,
                        tokensPerSecond: Double(tokens) / max(elapsed, 1e-9), elapsedSeconds: elapsed,
                        etaSeconds: elapsed / Double(done) * Double(total - done), validationLoss: nil, endOfEpoch: false)
                    if !callback(p) { history.interrupted = true; break }
                }
            }
            if history.interrupted { break }  // the epoch is unfinished: a checkpoint resumes inside it
            epochCount += 1
            batchesDoneInEpoch = 0
            epochStartRandom = shuffleRandom
            history.trainLoss.append(counted > 0 ? sum / Double(counted) : .nan)
            var validationLoss: Double? = nil
            if let validation {
                let v = try evaluate(validation)
                validationLoss = v
                history.validationLoss.append(v)
                if v < best - options.minDelta {
                    best = v
                    history.bestEpoch = epoch
                    sinceBest = 0
                    if options.earlyStoppingPatience != nil && options.restoreBestWeights { bestWeights = model.arena.values }
                } else {
                    sinceBest += 1
                }
            }
            if let callback {
                let elapsed = Self.now() - start
                let done = epoch * stepsPerEpoch, total = options.epochs * stepsPerEpoch
                let p = TrainingProgress(
                    epoch: epoch, epochs: options.epochs, step: done, totalSteps: total, stepInEpoch: stepsPerEpoch,
                    stepsPerEpoch: stepsPerEpoch, loss: history.trainLoss.last!, lastLoss: history.stepLoss.last ?? .nan,
                    tokensPerSecond: Double(tokens) / max(elapsed, 1e-9), elapsedSeconds: elapsed,
                    etaSeconds: elapsed / Double(done) * Double(total - done), validationLoss: validationLoss, endOfEpoch: true)
                if !callback(p) { history.interrupted = true }
            }
            if history.interrupted { break }
            if let patience = options.earlyStoppingPatience, validation != nil, sinceBest >= patience {
                history.stoppedEarly = true
                break
            }
        }
        if let w = bestWeights, history.stoppedEarly { model.arena.values = w }
        if options.checkpointEvery != nil, let path = options.checkpointPath { try checkpoint().save(to: path) }
        return history
    }

    /// Mean loss over a dataset (inference mode), weighted as the configured reduction defines it:
    /// by valid steps for `meanOverSteps`, by sequences for `meanOverBatch`, summed for `sum`.
    @_specialize(where S == Float)
    public func evaluate(_ data: SequenceDataset<S>) throws -> Double {
        var total = 0.0, weight = 0.0
        for start in stride(from: 0, to: data.count, by: options.batchSize) {
            let indices = Array(start ..< min(start + options.batchSize, data.count))
            let r = try model.evaluate(data.batch(indices))
            switch model.config.reduction {
            case .meanOverSteps: total += r.loss * Double(r.validSteps); weight += Double(r.validSteps)
            case .meanOverBatch: total += r.loss * Double(indices.count); weight += Double(indices.count)
            case .sum: total += r.loss; weight = 1
            }
        }
        return weight > 0 ? total / weight : 0
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
