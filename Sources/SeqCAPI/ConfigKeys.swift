// The configuration keys: the one table that says which keys exist, what each accepts and its
// default. To add a key, add a line to `configKeys` and a line to the list in the doc comment of
// `SeqConfigHandle` (that comment becomes the header's documentation of seq_config).
//
// A setter checks only the value of its own key; rules that relate keys (proj_size < hidden_size,
// gru_variant only with cell "gru", …) belong to the function that builds a model from the config,
// because keys may be set in any order.

import SeqCore

/// A set of named options that describes a model before it is created; this is how C programs
/// configure a model (no struct crosses the ABI, so new options never break old programs).
/// Create with `seq_config_create`, set keys with `seq_config_set_int` / `_float` / `_string`,
/// pass it to `seq_model_create`, free it with `seq_config_free`. "Unset" below means the key has
/// no default: leave it unset for "none".
///
/// Keys of the recurrent stack (type, accepted values, default):
/// - "cell" (string: "rnn_tanh", "rnn_relu", "gru", "lstm"; required)
/// - "gru_variant" (string: "classic", "linear_before_reset", "simplified"; "linear_before_reset";
///   only with cell "gru")
/// - "input_size" (int >= 1; required for feature inputs, defaults to embedding_size for tokens):
///   I, features per time step
/// - "hidden_size" (int >= 1; required): H, hidden units per layer and direction
/// - "num_layers" (int >= 1; 1): L, stacked layers
/// - "direction" (string: "forward", "reverse", "bidirectional"; "forward")
/// - "merge" (string: "concat", "sum"; "concat"): how the two directions are combined
/// - "proj_size" (int >= 0; 0 = none): LSTM projection size, less than hidden_size
/// - "peepholes" (int 0 or 1; 0): LSTM peephole connections
/// - "bias" (int 0 or 1; 1): whether layers have bias vectors
/// - "dropout" (float in [0, 1); 0): dropout between layers, in training only
/// - "initialization" (string: "pytorch", "xavier", "orthogonal"; "pytorch")
/// - "forget_bias" (float, finite; unset): LSTM only, initial forget-gate bias
/// - "seed" (int, any; 0): seed of initialisation, dropout and the shuffling of seq_model_fit
///
/// Keys of the model around it:
/// - "architecture" (string: "tagger", "classifier", "language_model", "seq2seq"; "tagger"):
///   an output per step, one per sequence (from the final state), next-token prediction, or an
///   encoder-decoder
/// - "vocab_size" (int >= 0; 0): V > 0 makes the input token ids through an embedding
/// - "embedding_size" (int >= 0; 0): E, required (>= 1) when vocab_size > 0; for seq2seq also the
///   decoder's embedding (0: hidden_size)
/// - "padding_index" (int >= 0; unset): a token id whose embedding stays zero
/// - "output_size" (int >= 1; required, vocab_size for a language model): K, outputs per step,
///   classes, or the target vocabulary of seq2seq
/// - "output" (string: "binary", "classes", "regression"; "classes"): sigmoid with binary
///   cross-entropy, softmax with cross-entropy, or identity with mean squared error
/// - "reduction" (string: "mean_over_steps", "mean_over_batch", "sum"; "mean_over_steps"): how the
///   per-step losses are combined
/// - "ignore_index" (int, any; unset): a class label that contributes nothing to the loss (for
///   seq2seq a token id in 0..output_size-1: targets are also the decoder's inputs)
/// - "start_token", "stop_token" (int >= 0; 0 and 1; seq2seq only): decoder start and stop ids,
///   in 0..output_size-1
///
/// Keys of training:
/// - "optimizer" (string: "sgd", "adam", "adamw", "rmsprop"; "adam"): torch.optim's algorithms,
///   with their hyperparameters below under PyTorch's names and defaults
/// - "learning_rate" (float >= 0; 0.001): with a schedule, its base rate
/// - "momentum" (float >= 0; 0; sgd and rmsprop only)
/// - "dampening" (float >= 0; 0; sgd only)
/// - "nesterov" (int 0 or 1; 0; sgd only, with momentum > 0 and dampening 0)
/// - "weight_decay" (float >= 0; 0, or 0.01 for adamw)
/// - "beta1", "beta2" (float in [0, 1); 0.9 and 0.999; adam and adamw only)
/// - "amsgrad" (int 0 or 1; 0; adam and adamw only)
/// - "alpha" (float in [0, 1); 0.99; rmsprop only): the smoothing constant of the squared average
/// - "centered" (int 0 or 1; 0; rmsprop only): divide by the estimated variance of the gradient
/// - "epsilon" (float >= 0; 1e-8; adam, adamw and rmsprop only)
/// - "maximize" (int 0 or 1; 0): ascend the loss instead of descending it
/// - "clip_norm" (float >= 0; 0 = none): rescale the gradients to at most this global L2 norm
/// - "clip_value" (float >= 0; 0 = none): clamp every gradient to [-clip_value, clip_value]
/// - "truncated_bptt" (int >= 0; 0 = whole sequences; a tagger or language model with
///   direction "forward" only): seq_model_fit cuts each batch into windows of this many steps,
///   one optimizer step per window, carrying the state from window to window but not its gradient
///
/// Keys of the learning-rate schedule. The rate of each optimizer step is a function of n, the
/// optimizer steps taken before it (counted from 0, by seq_model_train_step,
/// seq_model_apply_gradients and seq_model_fit alike; a loaded model starts again at 0), and of
/// the base rate "learning_rate":
/// - "lr_schedule" (string: "constant", "step", "cosine"; "constant"): after the warm-up, the base
///   rate; the base rate times lr_gamma every lr_step_size steps (torch StepLR); or half a cosine
///   from the base rate down to lr_min over lr_period steps, rising again after it (torch
///   CosineAnnealingLR)
/// - "lr_step_size" (int >= 1; required with "step"; "step" only)
/// - "lr_gamma" (float >= 0; 0.1; "step" only)
/// - "lr_period" (int >= 1; required with "cosine"; "cosine" only): T_max
/// - "lr_min" (float >= 0; 0; "cosine" only): eta_min
/// - "warmup_steps" (int >= 0; 0): W steps of linear warm-up from warmup_start_factor times the
///   base rate up to it (torch LinearLR); the schedule above then starts at n = W
/// - "warmup_start_factor" (float in (0, 1]; 1/3; only with warmup_steps >= 1)
public typealias SeqConfigHandle = OpaquePointer

/// The three value types of configuration keys, each with its own C setter and getter.
enum ConfigValueType: Sendable {
    case int, float, string

    /// For messages: "an integer (seq_config_set_int)".
    var name: String {
        switch self {
        case .int: return "an integer"
        case .float: return "a float"
        case .string: return "a string"
        }
    }

    var cSuffix: String {
        switch self {
        case .int: return "int"
        case .float: return "float"
        case .string: return "string"
        }
    }
}

/// A value held by a configuration key. The C type of each case: int64_t, double, const char *.
enum ConfigValue: Equatable, Sendable {
    case int(Int64)
    case float(Double)
    case string(String)

    var type: ConfigValueType {
        switch self {
        case .int: return .int
        case .float: return .float
        case .string: return .string
        }
    }
}

/// What a key accepts.
enum ConfigDomain: Sendable {
    /// A string, one of the listed words.
    case choice([String])
    /// A size: an integer >= 1, at most `Limits.maxElements`.
    case positive
    /// A size that may be 0: an integer >= 0, at most `Limits.maxElements`.
    case nonNegative
    /// An integer, 0 (off) or 1 (on).
    case flag
    /// Any 64-bit integer.
    case anyInteger
    /// A float in [0, 1): a probability that may not be certain.
    case probability
    /// A finite float >= 0 (rates, decays, clipping thresholds).
    case nonNegativeFloat
    /// Any finite float.
    case finiteFloat
    /// A float in (0, 1]: a fraction that may not be zero.
    case positiveFraction

    var type: ConfigValueType {
        switch self {
        case .choice: return .string
        case .positive, .nonNegative, .flag, .anyInteger: return .int
        case .probability, .nonNegativeFloat, .finiteFloat, .positiveFraction: return .float
        }
    }

    /// Throws unless `value` is of this domain's type and range. `key` names the argument.
    func check(_ value: ConfigValue, key: String) throws {
        switch (self, value) {
        case (.choice(let words), .string(let s)):
            guard words.contains(s) else {
                throw SeqError.invalid(key, expected: "one of " + words.map { "\"\($0)\"" }.joined(separator: ", "),
                                       got: "\"\(s)\"")
            }
        case (.positive, .int(let v)):
            // Sizes: the same checks (and limit) as a size passed straight to a function.
            _ = try Arg.positive(v, key)
        case (.nonNegative, .int(let v)):
            _ = try Arg.nonNegative(v, key)
        case (.flag, .int(let v)):
            guard v == 0 || v == 1 else { throw SeqError.invalid(key, expected: "0 or 1", got: v) }
        case (.anyInteger, .int):
            return
        case (.probability, .float(let v)):
            // NaN fails both comparisons, so it is rejected here too.
            guard v >= 0 && v < 1 else { throw SeqError.invalid(key, expected: "a number in [0, 1)", got: v) }
        case (.nonNegativeFloat, .float(let v)):
            guard v >= 0 && v.isFinite else { throw SeqError.invalid(key, expected: "a finite number >= 0", got: v) }
        case (.finiteFloat, .float(let v)):
            try Arg.finite(v, key)
        case (.positiveFraction, .float(let v)):
            guard v > 0 && v <= 1 else { throw SeqError.invalid(key, expected: "a number in (0, 1]", got: v) }
        default:
            throw SeqError.invalid(key, expected: "\(type.name) (set with seq_config_set_\(type.cSuffix))",
                                   got: value.type.name)
        }
    }
}

/// One configuration key.
struct ConfigKey: Sendable {
    let name: String
    let domain: ConfigDomain
    /// nil: the key must be set before the config is used.
    let defaultValue: ConfigValue?
}

/// The keys, in the order of the documentation above.
let configKeys: [ConfigKey] = [
    // The recurrent stack.
    ConfigKey(name: "cell", domain: .choice(["rnn_tanh", "rnn_relu", "gru", "lstm"]), defaultValue: nil),
    ConfigKey(name: "gru_variant", domain: .choice(["classic", "linear_before_reset", "simplified"]),
              defaultValue: .string("linear_before_reset")),
    ConfigKey(name: "input_size", domain: .positive, defaultValue: nil),
    ConfigKey(name: "hidden_size", domain: .positive, defaultValue: nil),
    ConfigKey(name: "num_layers", domain: .positive, defaultValue: .int(1)),
    ConfigKey(name: "direction", domain: .choice(["forward", "reverse", "bidirectional"]),
              defaultValue: .string("forward")),
    ConfigKey(name: "merge", domain: .choice(["concat", "sum"]), defaultValue: .string("concat")),
    ConfigKey(name: "proj_size", domain: .nonNegative, defaultValue: .int(0)),
    ConfigKey(name: "peepholes", domain: .flag, defaultValue: .int(0)),
    ConfigKey(name: "bias", domain: .flag, defaultValue: .int(1)),
    ConfigKey(name: "dropout", domain: .probability, defaultValue: .float(0)),
    ConfigKey(name: "initialization", domain: .choice(["pytorch", "xavier", "orthogonal"]),
              defaultValue: .string("pytorch")),
    ConfigKey(name: "forget_bias", domain: .finiteFloat, defaultValue: nil),
    ConfigKey(name: "seed", domain: .anyInteger, defaultValue: .int(0)),
    // The model around it.
    ConfigKey(name: "architecture", domain: .choice(["tagger", "classifier", "language_model", "seq2seq"]),
              defaultValue: .string("tagger")),
    ConfigKey(name: "vocab_size", domain: .nonNegative, defaultValue: .int(0)),
    ConfigKey(name: "embedding_size", domain: .nonNegative, defaultValue: .int(0)),
    ConfigKey(name: "padding_index", domain: .nonNegative, defaultValue: nil),
    ConfigKey(name: "output_size", domain: .positive, defaultValue: nil),
    ConfigKey(name: "output", domain: .choice(["binary", "classes", "regression"]), defaultValue: .string("classes")),
    ConfigKey(name: "reduction", domain: .choice(["mean_over_steps", "mean_over_batch", "sum"]),
              defaultValue: .string("mean_over_steps")),
    ConfigKey(name: "ignore_index", domain: .anyInteger, defaultValue: nil),
    ConfigKey(name: "start_token", domain: .nonNegative, defaultValue: .int(0)),
    ConfigKey(name: "stop_token", domain: .nonNegative, defaultValue: .int(1)),
    // Training.
    ConfigKey(name: "optimizer", domain: .choice(["sgd", "adam", "adamw", "rmsprop"]), defaultValue: .string("adam")),
    ConfigKey(name: "learning_rate", domain: .nonNegativeFloat, defaultValue: .float(0.001)),
    ConfigKey(name: "momentum", domain: .nonNegativeFloat, defaultValue: .float(0)),
    ConfigKey(name: "dampening", domain: .nonNegativeFloat, defaultValue: .float(0)),
    ConfigKey(name: "nesterov", domain: .flag, defaultValue: .int(0)),
    ConfigKey(name: "weight_decay", domain: .nonNegativeFloat, defaultValue: nil),
    ConfigKey(name: "beta1", domain: .probability, defaultValue: .float(0.9)),
    ConfigKey(name: "beta2", domain: .probability, defaultValue: .float(0.999)),
    ConfigKey(name: "amsgrad", domain: .flag, defaultValue: .int(0)),
    ConfigKey(name: "alpha", domain: .probability, defaultValue: .float(0.99)),
    ConfigKey(name: "centered", domain: .flag, defaultValue: .int(0)),
    ConfigKey(name: "epsilon", domain: .nonNegativeFloat, defaultValue: .float(1e-8)),
    ConfigKey(name: "maximize", domain: .flag, defaultValue: .int(0)),
    ConfigKey(name: "clip_norm", domain: .nonNegativeFloat, defaultValue: .float(0)),
    ConfigKey(name: "clip_value", domain: .nonNegativeFloat, defaultValue: .float(0)),
    ConfigKey(name: "truncated_bptt", domain: .nonNegative, defaultValue: .int(0)),
    // The learning-rate schedule.
    ConfigKey(name: "lr_schedule", domain: .choice(["constant", "step", "cosine"]), defaultValue: .string("constant")),
    ConfigKey(name: "lr_step_size", domain: .positive, defaultValue: nil),
    ConfigKey(name: "lr_gamma", domain: .nonNegativeFloat, defaultValue: .float(0.1)),
    ConfigKey(name: "lr_period", domain: .positive, defaultValue: nil),
    ConfigKey(name: "lr_min", domain: .nonNegativeFloat, defaultValue: .float(0)),
    ConfigKey(name: "warmup_steps", domain: .nonNegative, defaultValue: .int(0)),
    ConfigKey(name: "warmup_start_factor", domain: .positiveFraction, defaultValue: .float(1.0 / 3.0)),
]

private let configKeysByName: [String: ConfigKey] =
    Dictionary(uniqueKeysWithValues: configKeys.map { ($0.name, $0) })

extension ConfigKey {
    /// The key named `name`, or `SEQ_ERR_NOT_FOUND` naming the known keys.
    static func named(_ name: String) throws -> ConfigKey {
        guard let key = configKeysByName[name] else {
            throw SeqError(.notFound, "argument 'key': unknown configuration key \"\(name)\"; known keys: "
                + configKeys.map(\.name).joined(separator: ", "))
        }
        return key
    }
}

/// Every key that is set in `explicit` or has a default: what a model is built from. Required keys
/// that were never set are absent.
func resolvedConfig(_ explicit: [String: ConfigValue]) -> [String: ConfigValue] {
    var all: [String: ConfigValue] = [:]
    for key in configKeys {
        if let value = explicit[key.name] ?? key.defaultValue { all[key.name] = value }
    }
    return all
}
