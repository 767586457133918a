// MARK: - Models
//
// The seq_model handle: a SequenceModel<Float>, its optimizer and its training settings, built from
// a seq_config. Every call on a model runs under the model's own lock, so concurrent calls on one
// handle are serialised instead of racing; different handles share nothing and run in parallel.

import SeqCore
import Synchronization

/// A model: one of the four architectures (tagger, classifier, language model, seq2seq) over a
/// recurrent stack, with its parameters (PyTorch names), its gradients and its optimizer.
/// Create with `seq_model_create` (or `seq_model_load`), free with `seq_model_free`.
///
/// Calls on one model are serialised by a lock inside it: using one handle from several threads
/// is safe but not parallel, and a call that mutates the model (training, setting parameters)
/// changes what concurrent calls on other threads see. Different models are independent.
public typealias SeqModelHandle = OpaquePointer

/// The object behind a `seq_model *`.
final class ModelObject: HandleValue {
    static let handleKind = HandleKind.model

    let model: SequenceModel<Float>
    let optimizer: Optimizer<Float>
    /// The configuration keys that were set explicitly (defaults excluded), kept for
    /// `seq_model_get_config` and model files. `learning_rate` follows `seq_model_set_learning_rate`.
    private(set) var explicitConfig: [String: ConfigValue]
    /// Gradient clipping before each optimizer step; 0 = off.
    let clipNorm: Double
    let clipValue: Double
    /// seq_model_fit's window of truncated BPTT, in steps; 0 = whole sequences.
    let truncatedBPTT: Int
    /// The configuration's seed, for seq_model_fit's shuffling.
    let seed: UInt64
    /// ‖∂L/∂a<t>‖ of the last gradient computation, [L·D, T] (nil before the first).
    var lastGradientNorms: Tensor<Float>?
    /// What reached the recurrent stack's inputs and initial states in the last
    /// seq_model_compute_gradients, seq_model_train_step or seq_model_backward: ∂L/∂x time-major
    /// [T, B, width], ∂L/∂h0, ∂L/∂c0, with that call's layout (nil before the first, and after
    /// seq_model_fit).
    var lastStackGradients: (gradients: RecurrentGradients<Float>, layout: Layout)?
    /// The last seq_model_forward: its pass (with the tape when it trained), kept for
    /// seq_model_backward and seq_model_final_state.
    var lastForward: ForwardRecord?

    private let lock = Mutex<Void>(())

    /// A new model built from the configuration keys.
    convenience init(_ explicit: [String: ConfigValue]) throws {
        let built = try ModelBuilder(explicit)
        try self.init(explicit, built: built,
                      model: SequenceModel<Float>(built.modelConfig, seed: built.seed, initialization: built.initialization,
                                                  forgetBias: built.forgetBias))
    }

    /// The C model around `model` (e.g. one read from a file), whose configuration is
    /// `built.modelConfig` (the caller checks it).
    init(_ explicit: [String: ConfigValue], built: ModelBuilder, model: SequenceModel<Float>) throws {
        self.model = model
        schedule = try built.schedule(baseRate: built.learningRate)
        optimizer = try Optimizer<Float>(built.optimizer, learningRate: schedule.rate(at: 0), for: model.arena,
                                         maximize: built.maximize)
        explicitConfig = explicit
        clipNorm = built.clipNorm
        clipValue = built.clipValue
        truncatedBPTT = built.truncatedBPTT
        seed = built.seed
        widestRow = Self.widestRow(of: model.config)
    }

    var config: ModelConfig { model.config }

    /// Runs `body` holding the model's lock. Not reentrant: a body never calls back into C.
    func locked<R>(_ body: () throws -> R) throws -> R {
        try lock.withLock { _ in try body() }
    }

    /// The learning rate of every optimizer step, from the number of steps before it.
    private(set) var schedule: LearningRateSchedule

    /// Sets the base learning rate of later steps: the rate itself without a schedule (lock held
    /// by the caller).
    func setLearningRate(_ rate: Double) throws {
        schedule = try LearningRateSchedule(baseRate: rate, decay: schedule.decay, warmupSteps: schedule.warmupSteps,
                                            warmupStartFactor: schedule.warmupStartFactor)
        optimizer.learningRate = schedule.rate(at: optimizer.stepCount)
        explicitConfig["learning_rate"] = .float(rate)
    }

    /// The current configuration (lock held by the caller).
    func currentConfig() -> [String: ConfigValue] { explicitConfig }

    /// Values per (step, sequence) that a forward and backward pass keep at most, over all layers
    /// and directions (gate activations of the tape, states): steps * batch times this must stay
    /// within `Limits.maxElements`, so that no call allocates past the engine's limit.
    /// Stored: it is read at every call.
    let widestRow: Int

    private static func widestRow(of c: ModelConfig) -> Int {
        let r = c.rnn
        let slots = r.numLayers * r.numDirections
        return [slots * r.gateCount * r.hiddenSize, slots * r.hiddenSize, r.outputFeatures, r.inputSize,
                c.outputSize, c.embeddingSize].max() ?? 1
    }
}

/// Reads a configuration into the engine's types, checking the rules that relate keys. Messages
/// name the configuration key, as `seq_config_set_*` do.
struct ModelBuilder {
    var modelConfig: ModelConfig
    var seed: UInt64
    var initialization: Initialization
    var forgetBias: Double?
    var optimizer: OptimizerAlgorithm
    var maximize: Bool
    var learningRate: Double
    var clipNorm: Double
    var clipValue: Double
    var truncatedBPTT: Int
    var decayRule: LearningRateSchedule.Decay
    var warmupSteps: Int
    var warmupStartFactor: Double

    /// The configured schedule over `baseRate` (the "learning_rate" key, or a rate set later).
    func schedule(baseRate: Double) throws -> LearningRateSchedule {
        try LearningRateSchedule(baseRate: baseRate, decay: decayRule, warmupSteps: warmupSteps,
                                 warmupStartFactor: warmupStartFactor)
    }

    init(_ explicit: [String: ConfigValue]) throws {
        let all = resolvedConfig(explicit)
        func isSet(_ key: String) -> Bool { explicit[key] != nil }
        func required(_ key: String, _ setter: String) throws -> ConfigValue {
            guard let v = all[key] else {
                throw SeqError.invalid("config", expected: "key \"\(key)\" to be set (\(setter))", got: "no value")
            }
            return v
        }
        func string(_ key: String) throws -> String {
            guard case .string(let s) = try required(key, "seq_config_set_string") else { throw wrongType(key) }
            return s
        }
        func int(_ key: String) throws -> Int {
            guard case .int(let v) = try required(key, "seq_config_set_int") else { throw wrongType(key) }
            // Every integer key's domain bounds it far inside Int, except "seed" and
            // "ignore_index", read with `int64`.
            return Int(v)
        }
        func int64(_ key: String) throws -> Int64 {
            guard case .int(let v) = try required(key, "seq_config_set_int") else { throw wrongType(key) }
            return v
        }
        func float(_ key: String) throws -> Double {
            guard case .float(let v) = try required(key, "seq_config_set_float") else { throw wrongType(key) }
            return v
        }
        func wrongType(_ key: String) -> ABIError {
            ABIError(status: .internal, message: "configuration key \"\(key)\" holds a value of the wrong type")
        }
        func notApplicable(_ key: String, _ because: String) throws {
            if isSet(key) { throw SeqError.invalid(key, expected: "unset \(because)", got: "a value") }
        }

        // The recurrent stack.
        guard let cell = CellType(rawValue: try string("cell")) else { throw wrongType("cell") }
        if cell != .gru { try notApplicable("gru_variant", "for a \(cell.rawValue) cell (GRU only)") }
        guard let variant = GRUVariant(rawValue: try string("gru_variant")),
              let direction = Direction(rawValue: try string("direction")),
              let merge = MergeMode(rawValue: try string("merge")),
              let initialization = Initialization(rawValue: try string("initialization")),
              let architecture = Architecture(rawValue: try string("architecture")),
              let output = OutputKind(rawValue: try string("output"))
        else { throw wrongType("a choice key") }
        if direction != .bidirectional { try notApplicable("merge", "unless direction is \"bidirectional\"") }

        let vocabularySize = try int("vocab_size")
        let embeddingSize = try int("embedding_size")
        let inputSize: Int
        if vocabularySize > 0 {
            guard embeddingSize > 0 else {
                throw SeqError.invalid("embedding_size", expected: ">= 1 when vocab_size > 0 (tokens are embedded)", got: 0)
            }
            inputSize = isSet("input_size") ? try int("input_size") : embeddingSize
        } else {
            try notApplicable("padding_index", "when vocab_size is 0 (no embedding)")
            if embeddingSize > 0 && architecture != .seq2seq {
                throw SeqError.invalid("embedding_size", expected: "0 when vocab_size is 0 (no embedding)", got: embeddingSize)
            }
            inputSize = try int("input_size")
        }
        let rnn = RecurrentConfig(
            cell: cell, inputSize: inputSize, hiddenSize: try int("hidden_size"), numLayers: try int("num_layers"),
            direction: direction, merge: merge, gruVariant: variant, projSize: try int("proj_size"),
            peepholes: try int("peepholes") == 1, bias: try int("bias") == 1, dropout: try float("dropout"))

        // The model around it.
        let outputSize = architecture == .languageModel && !isSet("output_size") ? vocabularySize : try int("output_size")
        let reduction: LossReduction
        switch try string("reduction") {
        case "sum": reduction = .sum
        case "mean_over_batch": reduction = .meanOverBatch
        default: reduction = .meanOverSteps
        }
        if architecture != .seq2seq {
            try notApplicable("start_token", "unless architecture is \"seq2seq\"")
            try notApplicable("stop_token", "unless architecture is \"seq2seq\"")
        }
        let ignoreIndex = isSet("ignore_index") ? Int(try int64("ignore_index")) : nil
        modelConfig = ModelConfig(
            architecture: architecture, rnn: rnn, vocabularySize: vocabularySize, embeddingSize: embeddingSize,
            paddingIndex: isSet("padding_index") ? try int("padding_index") : nil, outputSize: outputSize,
            output: output, reduction: reduction, ignoreIndex: ignoreIndex,
            startToken: try int("start_token"), stopToken: try int("stop_token"))
        seed = UInt64(bitPattern: try int64("seed"))
        self.initialization = initialization
        if cell != .lstm { try notApplicable("forget_bias", "for a \(cell.rawValue) cell (LSTM only)") }
        forgetBias = isSet("forget_bias") ? try float("forget_bias") : nil

        // Training.
        let name = try string("optimizer")
        let momentum = try float("momentum"), epsilon = try float("epsilon")
        let beta1 = try float("beta1"), beta2 = try float("beta2")
        let weightDecay = isSet("weight_decay") ? try float("weight_decay") : nil
        let only: [String: [String]] = ["dampening": ["sgd"], "nesterov": ["sgd"], "momentum": ["sgd", "rmsprop"],
                                        "beta1": ["adam", "adamw"], "beta2": ["adam", "adamw"], "amsgrad": ["adam", "adamw"],
                                        "alpha": ["rmsprop"], "centered": ["rmsprop"], "epsilon": ["adam", "adamw", "rmsprop"]]
        for (key, optimizers) in only.sorted(by: { $0.key < $1.key }) where !optimizers.contains(name) {
            try notApplicable(key, "for optimizer \"\(name)\" (" + optimizers.map { "\"\($0)\"" }.joined(separator: ", ") + " only)")
        }
        switch name {
        case "sgd":
            optimizer = .sgd(momentum: momentum, dampening: try float("dampening"), nesterov: try int("nesterov") == 1,
                             weightDecay: weightDecay ?? 0)
        case "rmsprop":
            optimizer = .rmsprop(alpha: try float("alpha"), epsilon: epsilon, momentum: momentum,
                                 centered: try int("centered") == 1, weightDecay: weightDecay ?? 0)
        case "adamw":
            optimizer = .adamW(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay ?? 0.01,
                               amsgrad: try int("amsgrad") == 1)
        default:
            optimizer = .adam(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay ?? 0,
                              amsgrad: try int("amsgrad") == 1)
        }
        maximize = try int("maximize") == 1
        learningRate = try float("learning_rate")
        clipNorm = try float("clip_norm")
        clipValue = try float("clip_value")
        truncatedBPTT = try int("truncated_bptt")
        if truncatedBPTT > 0 {
            let c = modelConfig
            guard (c.architecture == .tagger || c.architecture == .languageModel) && c.rnn.direction == .forward else {
                throw SeqError.invalid("truncated_bptt", expected: "0 for a \(c.architecture.rawValue) with direction "
                    + "\"\(c.rnn.direction.rawValue)\" (windows need a tagger or language model with direction \"forward\")", got: truncatedBPTT)
            }
        }

        // The learning-rate schedule.
        let kind = try string("lr_schedule")
        if kind != "step" {
            for key in ["lr_step_size", "lr_gamma"] { try notApplicable(key, "unless lr_schedule is \"step\"") }
        }
        if kind != "cosine" {
            for key in ["lr_period", "lr_min"] { try notApplicable(key, "unless lr_schedule is \"cosine\"") }
        }
        let decay: LearningRateSchedule.Decay
        switch kind {
        case "step":
            decay = .step(stepSize: try int("lr_step_size"), gamma: try float("lr_gamma"))
        case "cosine":
            decay = .cosine(period: try int("lr_period"), minimum: try float("lr_min"))
        default:
            decay = .constant
        }
        let warmupSteps = try int("warmup_steps")
        if warmupSteps == 0 { try notApplicable("warmup_start_factor", "unless warmup_steps >= 1") }
        decayRule = decay
        self.warmupSteps = warmupSteps
        warmupStartFactor = try float("warmup_start_factor")
        // Checks the combination now, so that a model is never made with a schedule it cannot use.
        _ = try schedule(baseRate: learningRate)
    }
}

/// Creates a model from a configuration: its parameters initialised from the configuration's
/// seed, its optimizer ready for training.
///
/// - Parameters:
///   - config: a live `seq_config` holding at least "cell", "hidden_size", "output_size" (except
///     for a language model) and "input_size" (or "vocab_size" and "embedding_size"). It is read,
///     not kept: free it whenever convenient.
///   - out: receives the new model; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (a required key is unset, or keys contradict each other, e.g. "proj_size" with a GRU; the
///   message names the key); `SEQ_ERR_RESOURCE_LIMIT` (the model would exceed the size limit).
/// - Ownership: the caller owns the model and frees it with `seq_model_free`.
/// - Thread safety: safe to call from any thread.
@c public func seq_model_create(_ config: SeqConfigHandle?, _ out: UnsafeMutablePointer<SeqModelHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        let store = try Handles.value(config, as: ConfigStore.self, argument: "config")
        out.pointee = Handles.create(try ModelObject(store.explicitValues()))
    }
}

/// Frees a model. Streams made from it keep it alive until they are freed too.
///
/// - Parameter model: the model to free. NULL is a no-op. A pointer that is not a live `seq_model`
///   is left alone and the reason is stored for `seq_last_error()`.
/// - Thread safety: safe to call from any thread, but the handle must not be used after or while
///   it is freed.
@c public func seq_model_free(_ model: SeqModelHandle?) {
    Handles.release(model, as: ModelObject.self, argument: "model")
}

/// Gives a model's configuration back as a new `seq_config`, with the keys the model was created
/// with and the current learning rate; read it with `seq_config_get_*` (e.g. "output_size" to size
/// output buffers, "architecture" after `seq_model_load`).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - out: receives the new configuration; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Ownership: the caller owns the configuration and frees it with `seq_config_free`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_get_config(_ model: SeqModelHandle?, _ out: UnsafeMutablePointer<SeqConfigHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        let object = try Handles.value(model, as: ModelObject.self, argument: "model")
        let store = ConfigStore()
        store.replaceAll(try object.locked { object.currentConfig() })
        out.pointee = Handles.create(store)
    }
}
