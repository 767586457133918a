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
/// free with `seq_config_free`.
///
/// Keys (type, accepted values, default):
/// - "cell" (string: "rnn_tanh", "rnn_relu", "gru", "lstm"; required)
/// - "gru_variant" (string: "classic", "linear_before_reset", "simplified"; "linear_before_reset")
/// - "input_size" (int >= 1; required): I, features per time step
/// - "hidden_size" (int >= 1; required): H, hidden units per layer and direction
/// - "num_layers" (int >= 1; 1): L, stacked layers
/// - "direction" (string: "forward", "reverse", "bidirectional"; "forward")
/// - "merge" (string: "concat", "sum"; "concat"): how the two directions are combined
/// - "proj_size" (int >= 0; 0 = none): LSTM projection size
/// - "peepholes" (int 0 or 1; 0): LSTM peephole connections
/// - "bias" (int 0 or 1; 1): whether layers have bias vectors
/// - "dropout" (float in [0, 1); 0): dropout between layers, in training only
/// - "seed" (int, any; 0): seed of initialisation and dropout
/// - "batch_first" (int 0 or 1; 0): tensors are (B, T, features) instead of (T, B, features)
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

    var type: ConfigValueType {
        switch self {
        case .choice: return .string
        case .positive, .nonNegative, .flag, .anyInteger: return .int
        case .probability: return .float
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
    ConfigKey(name: "seed", domain: .anyInteger, defaultValue: .int(0)),
    ConfigKey(name: "batch_first", domain: .flag, defaultValue: .int(0)),
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
