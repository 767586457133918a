// Model files: a safetensors file whose tensors are the model's parameters under PyTorch's
// `state_dict` names, and whose `__metadata__` says what the model is.
//
//     __metadata__:
//       "format":                 "seqcore"
//       "seqcore.format_version": "1"
//       "seqcore.kind":           "model" | "recurrent_layer" | "checkpoint"
//       "seqcore.config":         the configuration as one JSON object (keys as in the C ABI's
//                                 seq_config: "cell", "hidden_size", …; a model nests its recurrent
//                                 stack under "rnn")
//       anything else:            the caller's own metadata (keys not starting with "seqcore.")
//     tensors:                    F32 for a Float model (F64 for Double), named as in PyTorch:
//                                 `embedding.weight`, `rnn.weight_ih_l0`, …, `head.weight`, `head.bias`
//                                 for a model; `weight_ih_l0`, … (no prefix) for a recurrent layer
//
// So `safetensors.torch.load_file` reads our files, and `nn.LSTM(...).load_state_dict(...)` takes a
// layer file as it is. In the other direction, a PyTorch `state_dict` saved with
// `safetensors.torch.save_file` (no metadata) loads into a `RecurrentLayer`, its configuration
// inferred from the tensor names and shapes (or given).
//
// Loading trusts nothing: the safetensors reader bounds-checks the file, the configuration is
// checked against the tensors before a model is built from it (so a corrupt size cannot make us
// allocate more than the file holds), every parameter must be present with its shape and finite,
// and nothing else may be there. Every failure is a `SeqError(.format, …)` naming the file and what
// is wrong.

/// The metadata keys and version of seqcore's model, layer and checkpoint files.
public enum ModelFileFormat {
    /// `__metadata__["format"]` of every file seqcore writes.
    public static let name = "seqcore"
    /// The version written; files with a larger version are refused.
    public static let version = 1

    public static let formatKey = "format"
    public static let versionKey = "seqcore.format_version"
    public static let kindKey = "seqcore.kind"
    public static let configKey = "seqcore.config"

    /// What a seqcore file holds.
    public enum Kind: String, Sendable, CaseIterable {
        case model
        case recurrentLayer = "recurrent_layer"
        case checkpoint
    }

    /// Metadata keys seqcore writes itself; the caller's own keys may not use them.
    static func isReserved(_ key: String) -> Bool {
        key == formatKey || key.hasPrefix("seqcore.")
    }

    static func formatError(_ message: String) -> SeqError { SeqError(.format, message) }

    /// The metadata of a new file of `kind` with `config`, plus the caller's `extra` keys.
    static func metadata(kind: Kind, config: JSONValue, extra: [String: String],
                         reserved: (String) -> Bool = isReserved) throws -> [String: String] {
        var m: [String: String] = [:]
        for (key, value) in extra {
            if reserved(key) {
                throw SeqError.invalid("metadata", expected: "keys other than 'format' and 'seqcore.*' (seqcore writes those)",
                                       got: "'\(key)'")
            }
            m[key] = value
        }
        m[formatKey] = name
        m[versionKey] = String(version)
        m[kindKey] = kind.rawValue
        m[configKey] = config.serialized()
        return m
    }

    /// The kind of a seqcore file, or nil for a file without seqcore metadata (e.g. a PyTorch
    /// `state_dict`). Throws for a seqcore file of an unknown version or kind.
    static func kind(of file: SafeTensorsFile) throws -> Kind? {
        guard let format = file.metadata[formatKey] else { return nil }
        guard format == name else { return nil }
        guard let text = file.metadata[versionKey] else {
            throw formatError("the metadata says format 'seqcore' but has no '\(versionKey)'")
        }
        guard let v = Int(text), v >= 1 else {
            throw formatError("'\(versionKey)' is '\(text)', expected a positive integer")
        }
        if v > version {
            throw formatError("format version \(v) was written by a newer seqcore; this one reads version \(version) and older")
        }
        guard let k = file.metadata[kindKey] else { throw formatError("the metadata has no '\(kindKey)'") }
        guard let kind = Kind(rawValue: k) else {
            throw formatError("'\(kindKey)' is '\(k)', expected one of "
                              + Kind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))
        }
        return kind
    }

    /// The parsed `seqcore.config` object.
    static func config(of file: SafeTensorsFile) throws -> ConfigReader {
        guard let text = file.metadata[configKey] else { throw formatError("the metadata has no '\(configKey)'") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch let e as SeqError {
            throw formatError("'\(configKey)' is not valid JSON: \(e.message)")
        }
        return try ConfigReader(value, "'\(configKey)'")
    }

    /// Runs `body`, turning every error about the file's content into a `.format` error, prefixed
    /// with the file's path when there is one.
    static func reading<T>(_ path: String?, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as SeqError {
            switch e.kind {
            case .format, .notFound, .invalidArgument:
                let prefix = path.map { "'\($0)': " } ?? ""
                throw SeqError(.format, e.message.hasPrefix(prefix) ? e.message : prefix + e.message)
            default:
                throw e
            }
        }
    }
}

// MARK: Configurations as JSON

/// Reads the fields of one JSON configuration object, with errors that name the field.
struct ConfigReader {
    let object: JSONObject
    let context: String

    init(_ value: JSONValue, _ context: String) throws {
        guard let object = value.object else {
            throw ModelFileFormat.formatError("\(context) is \(value.kindDescription), expected a JSON object")
        }
        self.object = object
        self.context = context
    }

    /// Refuses keys outside `known`: a key this version does not know may change the meaning.
    func onlyKeys(_ known: [String]) throws {
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw ModelFileFormat.formatError("\(context) has an unknown key '\(unknown)'; known: "
                                              + known.joined(separator: ", "))
        }
    }

    private func fail(_ key: String, _ expected: String) -> SeqError {
        ModelFileFormat.formatError("\(context): '\(key)' is \(object[key].map { $0.serialized() } ?? "missing"), expected \(expected)")
    }

    func has(_ key: String) -> Bool { object[key] != nil }

    func int(_ key: String, default value: Int? = nil) throws -> Int {
        guard let v = object[key] else {
            if let value { return value }
            throw fail(key, "an integer")
        }
        guard let i = v.integer else { throw fail(key, "an integer") }
        return i
    }

    /// An integer or null (absent = null).
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = object[key], v != .null else { return nil }
        guard let i = v.integer else { throw fail(key, "an integer or null") }
        return i
    }

    func double(_ key: String, default value: Double? = nil) throws -> Double {
        guard let v = object[key] else {
            if let value { return value }
            throw fail(key, "a number")
        }
        guard let d = v.double, d.isFinite else { throw fail(key, "a finite number") }
        return d
    }

    func bool(_ key: String, default value: Bool? = nil) throws -> Bool {
        guard let v = object[key] else {
            if let value { return value }
            throw fail(key, "true or false")
        }
        guard case let .bool(b) = v else { throw fail(key, "true or false") }
        return b
    }

    func choice<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type, default value: E? = nil) throws -> E
        where E.RawValue == String {
        let words = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard let v = object[key] else {
            if let value { return value }
            throw fail(key, "one of \(words)")
        }
        guard let s = v.string, let e = E(rawValue: s) else { throw fail(key, "one of \(words)") }
        return e
    }

    func nested(_ key: String) throws -> ConfigReader {
        guard let v = object[key] else { throw fail(key, "a JSON object") }
        return try ConfigReader(v, "\(context).\(key)")
    }
}

/// JSON numbers for doubles: Swift's shortest round-trip text, which is valid JSON for finite values.
func jsonNumber(_ x: Double) -> JSONValue { .number(x.description) }
func jsonNumber(_ x: Int) -> JSONValue { .number(String(x)) }

extension RecurrentConfig {
    static let jsonKeys = ["cell", "gru_variant", "input_size", "hidden_size", "num_layers", "direction", "merge",
                           "proj_size", "peepholes", "bias", "dropout"]

    /// The configuration as JSON, with the C ABI's key names (every field, always).
    var json: JSONValue {
        .object(JSONObject([
            ("cell", .string(cell.rawValue)), ("gru_variant", .string(gruVariant.rawValue)),
            ("input_size", jsonNumber(inputSize)), ("hidden_size", jsonNumber(hiddenSize)),
            ("num_layers", jsonNumber(numLayers)), ("direction", .string(direction.rawValue)),
            ("merge", .string(merge.rawValue)), ("proj_size", jsonNumber(projSize)),
            ("peepholes", .bool(peepholes)), ("bias", .bool(bias)), ("dropout", jsonNumber(dropout)),
        ]))
    }

    /// Reads `json`; "cell", "input_size" and "hidden_size" are required, the rest default as in `init`.
    init(_ r: ConfigReader) throws {
        try r.onlyKeys(Self.jsonKeys)
        self.init(cell: try r.choice("cell", CellType.self), inputSize: try r.int("input_size"),
                  hiddenSize: try r.int("hidden_size"), numLayers: try r.int("num_layers", default: 1),
                  direction: try r.choice("direction", Direction.self, default: .forward),
                  merge: try r.choice("merge", MergeMode.self, default: .concat),
                  gruVariant: try r.choice("gru_variant", GRUVariant.self, default: .linearBeforeReset),
                  projSize: try r.int("proj_size", default: 0), peepholes: try r.bool("peepholes", default: false),
                  bias: try r.bool("bias", default: true), dropout: try r.double("dropout", default: 0))
    }

    /// P: the number of scalars of a `RecurrentLayer` with this configuration (Int.max on overflow).
    public var parameterCount: Int {
        // Closed form (no loop over layers: a file may claim a billion of them): layer 0 reads I
        // features, every later layer the F features of the one below.
        let gh = Saturating(gateCount) * hiddenSize
        var extras = Saturating(0)
        if bias { extras = extras + gh * 2 }
        if projSize > 0 { extras = extras + Saturating(projSize) * hiddenSize }
        if peepholes { extras = extras + Saturating(3) * hiddenSize }
        let first: Saturating = gh * inputSize + gh * outputSize + extras
        let oneLater: Saturating = gh * outputFeatures + gh * outputSize + extras
        let later: Saturating = oneLater * max(0, numLayers - 1)
        return ((first + later) * numDirections).value
    }
}

/// Non-negative integer arithmetic that sticks at Int.max instead of overflowing.
struct Saturating {
    var value: Int
    init(_ v: Int) { value = v }
    static func + (a: Saturating, b: Saturating) -> Saturating {
        let (s, o) = a.value.addingReportingOverflow(b.value)
        return Saturating(o ? .max : s)
    }
    static func * (a: Saturating, b: Int) -> Saturating {
        let (p, o) = a.value.multipliedReportingOverflow(by: b)
        return Saturating(o ? .max : p)
    }
}

extension ModelConfig {
    static let jsonKeys = ["architecture", "rnn", "vocab_size", "embedding_size", "padding_index", "output_size",
                           "output", "reduction", "ignore_index", "start_token", "stop_token"]

    var json: JSONValue {
        .object(JSONObject([
            ("architecture", .string(architecture.rawValue)), ("rnn", rnn.json),
            ("vocab_size", jsonNumber(vocabularySize)), ("embedding_size", jsonNumber(embeddingSize)),
            ("padding_index", paddingIndex.map(jsonNumber) ?? .null), ("output_size", jsonNumber(outputSize)),
            ("output", .string(output.rawValue)), ("reduction", .string(reduction.rawValue)),
            ("ignore_index", ignoreIndex.map(jsonNumber) ?? .null),
            ("start_token", jsonNumber(startToken)), ("stop_token", jsonNumber(stopToken)),
        ]))
    }

    init(_ r: ConfigReader) throws {
        try r.onlyKeys(Self.jsonKeys)
        var reduction = LossReduction.meanOverSteps
        if r.has("reduction") {
            guard let s = r.object["reduction"]?.string, let match = LossReduction.allCases.first(where: { $0.rawValue == s }) else {
                throw ModelFileFormat.formatError("\(r.context): 'reduction' is \(r.object["reduction"]?.serialized() ?? "missing"), expected one of "
                                                  + LossReduction.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
            }
            reduction = match
        }
        self.init(architecture: try r.choice("architecture", Architecture.self), rnn: try RecurrentConfig(r.nested("rnn")),
                  vocabularySize: try r.int("vocab_size", default: 0), embeddingSize: try r.int("embedding_size", default: 0),
                  paddingIndex: try r.optionalInt("padding_index"), outputSize: try r.int("output_size"),
                  output: try r.choice("output", OutputKind.self, default: .classes), reduction: reduction,
                  ignoreIndex: try r.optionalInt("ignore_index"), startToken: try r.int("start_token", default: 0),
                  stopToken: try r.int("stop_token", default: 1))
    }

    /// P: the number of scalars of a `SequenceModel` with this configuration (Int.max on overflow).
    public var parameterCount: Int {
        var total = Saturating(rnn.parameterCount)
        if usesTokens { total = total + Saturating(vocabularySize) * embeddingSize }
        var features = rnn.outputFeatures
        if architecture == .seq2seq {
            let d = decoderConfig
            total = total + Saturating(outputSize) * d.inputSize + Saturating(d.parameterCount)
            features = d.outputFeatures
        }
        return (total + Saturating(outputSize) * (features + 1)).value
    }

    /// Checks that a model with this configuration is no larger than the `scalars` a file holds
    /// (with room for a few missing tensors, which the strict load then names), before anything
    /// is allocated for it.
    func checkPlausible(against scalars: Int) throws {
        let needed = parameterCount
        if needed > scalars && needed - scalars > 1 << 24 {
            throw ModelFileFormat.formatError("the configuration in the metadata needs \(needed) parameters but the file "
                                              + "holds only \(scalars) scalars: corrupt metadata or a truncated file")
        }
    }
}

extension SafeTensorsFile {
    /// Scalars of the floating-point tensors whose names start with `prefix`.
    func floatScalars(prefix: String = "") -> Int {
        entries.reduce(0) { n, e in
            switch e.dtype {
            case .f16, .bf16, .f32, .f64: return e.name.hasPrefix(prefix) ? n + e.elementCount : n
            default: return n
            }
        }
    }
}

// MARK: Models

extension SequenceModel {
    /// The model as an in-memory safetensors file: every parameter under its PyTorch name in the
    /// model's precision (F32 for Float), the configuration in the metadata, plus `extra` keys.
    public func safeTensorsFile(metadata extra: [String: String] = [:]) throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        try file.add(arena)
        file.metadata = try ModelFileFormat.metadata(kind: .model, config: config.json, extra: extra)
        return file
    }

    /// Saves the model to `path` atomically (a reader sees the old file or the new one, never a mix).
    /// `extra` metadata keys must not be "format" or start with "seqcore.".
    ///
    /// ```swift
    /// try model.save(to: "tagger.safetensors", metadata: ["dataset": "names-v2"])
    /// let back = try SequenceModel<Float>.load(from: "tagger.safetensors")
    /// ```
    public func save(to path: String, metadata extra: [String: String] = [:]) throws {
        try safeTensorsFile(metadata: extra).save(path)
    }

    /// Loads a model saved by `save` (or the model part of a training checkpoint). With `config`,
    /// the file may also be a plain PyTorch `state_dict` with the model's names (`embedding.weight`,
    /// `rnn.weight_ih_l0`, …, `head.weight`, `head.bias`); a given `config` takes precedence over the
    /// file's. Every problem with the file is a `.format` error naming the file and what is wrong.
    public static func load(from path: String, config: ModelConfig? = nil) throws -> SequenceModel<S> {
        let file = try SafeTensorsFile.load(path)
        return try ModelFileFormat.reading(path) { try SequenceModel(contentsOf: file, config: config) }
    }

    /// The model held by `file` (see `load(from:config:)`).
    public convenience init(contentsOf file: SafeTensorsFile, config given: ModelConfig? = nil) throws {
        let (config, prefix) = try ModelFileFormat.reading(nil) { () throws -> (ModelConfig, String) in
            let kind = try ModelFileFormat.kind(of: file)
            let prefix = kind == .checkpoint ? "model." : ""
            if kind == .recurrentLayer {
                throw ModelFileFormat.formatError("the file holds a recurrent layer, not a model: load it with RecurrentLayer.load")
            }
            let config: ModelConfig
            if let given {
                config = given
            } else if kind != nil {
                config = try ModelConfig(ModelFileFormat.config(of: file))
            } else {
                throw ModelFileFormat.formatError(
                    "the file has no seqcore metadata (metadata: \(file.metadata.isEmpty ? "none" : file.metadata.keys.sorted().joined(separator: ", "))): "
                    + "for a plain PyTorch state_dict pass the model's configuration (config:)")
            }
            do {
                try config.validate()
            } catch let e as SeqError {
                throw ModelFileFormat.formatError("the configuration is invalid: \(e.message)")
            }
            try config.checkPlausible(against: file.floatScalars(prefix: prefix))
            return (config, prefix)
        }
        // No random draws: every parameter is read from the file next (strict).
        try self.init(config, seed: 0, initializing: nil, forgetBias: nil)
        try ModelFileFormat.reading(nil) { try arena.load(from: file, prefix: prefix, strict: true) }
    }
}

// MARK: Recurrent layers

extension RecurrentLayer {
    /// The layer as an in-memory safetensors file: its parameters under PyTorch's names *without*
    /// the layer's prefix (`weight_ih_l0`, …: what `nn.LSTM.state_dict()` holds), the configuration
    /// in the metadata, plus `extra` keys.
    public func safeTensorsFile(metadata extra: [String: String] = [:]) throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        for name in parameterNames {
            try file.add(String(name.dropFirst(prefix.count)), try arena.value(name))
        }
        file.metadata = try ModelFileFormat.metadata(kind: .recurrentLayer, config: config.json, extra: extra)
        return file
    }

    /// Saves the layer to `path` atomically. `nn.LSTM(...).load_state_dict(safetensors.torch.load_file(path))`
    /// takes the file as it is (peephole LSTMs and the classic and simplified GRUs have no PyTorch
    /// counterpart).
    public func save(to path: String, metadata extra: [String: String] = [:]) throws {
        try safeTensorsFile(metadata: extra).save(path)
    }

    /// Loads a layer from a file saved by `save`, or from a PyTorch `nn.RNN`/`nn.GRU`/`nn.LSTM`
    /// `state_dict` saved with `safetensors.torch.save_file`.
    ///
    /// - Parameters:
    ///   - config: the layer's configuration; nil takes it from seqcore's metadata or, for a plain
    ///     `state_dict`, infers it from the tensor names and shapes (see
    ///     `RecurrentConfig.init(inferringFrom:prefix:rnnCell:)`).
    ///   - prefix: the prefix of the layer's names in the file, e.g. "rnn." for the recurrent part
    ///     of a whole model's `state_dict`. Tensors without it are ignored; with it, every tensor
    ///     must be one of the layer's.
    ///   - rnnCell: for an inferred single-gate layer, `.rnnTanh` or `.rnnReLU` (a `state_dict`
    ///     does not say which nonlinearity `nn.RNN` used).
    public static func load(from path: String, config: RecurrentConfig? = nil, prefix: String = "",
                            rnnCell: CellType = .rnnTanh) throws -> RecurrentLayer<S> {
        let file = try SafeTensorsFile.load(path)
        return try ModelFileFormat.reading(path) {
            try RecurrentLayer(contentsOf: file, config: config, prefix: prefix, rnnCell: rnnCell)
        }
    }

    /// The layer held by `file` (see `load(from:config:prefix:rnnCell:)`); a standalone layer with
    /// its own arena and unprefixed names.
    public convenience init(contentsOf file: SafeTensorsFile, config given: RecurrentConfig? = nil, prefix: String = "",
                            rnnCell: CellType = .rnnTanh) throws {
        let config = try ModelFileFormat.reading(nil) { () throws -> RecurrentConfig in
            let kind = try ModelFileFormat.kind(of: file)
            let config: RecurrentConfig
            if let given {
                config = given
            } else if kind == .recurrentLayer && prefix.isEmpty {
                config = try RecurrentConfig(ModelFileFormat.config(of: file))
            } else if let kind, kind != .recurrentLayer, prefix.isEmpty {
                let stack = kind == .model ? "rnn." : "model.rnn."
                throw ModelFileFormat.formatError("the file holds a seqcore \(kind.rawValue), not a recurrent layer: pass "
                                                  + "prefix: \"\(stack)\" for its recurrent stack")
            } else {
                config = try RecurrentConfig(inferringFrom: file, prefix: prefix, rnnCell: rnnCell)
            }
            do {
                try config.validate()
            } catch let e as SeqError {
                throw ModelFileFormat.formatError("the configuration is invalid: \(e.message)")
            }
            let needed = config.parameterCount, held = file.floatScalars(prefix: prefix)
            if needed > held && needed - held > 1 << 24 {
                throw ModelFileFormat.formatError("the configuration needs \(needed) parameters but the file holds only \(held) scalars")
            }
            return config
        }
        try self.init(config, arena: nil, prefix: "", initializing: nil, seed: 0, forgetBias: nil)
        try ModelFileFormat.reading(nil) { try arena.load(from: file, prefix: prefix, strict: true) }
    }
}

extension RecurrentConfig {
    /// The configuration of the recurrent layer whose PyTorch `state_dict` is in `file` under
    /// `prefix`, from the names and shapes of its tensors:
    ///
    /// - L from `weight_ih_l0 … weight_ih_l{L-1}`, D = 2 when `weight_ih_l0_reverse` exists;
    /// - I from `weight_ih_l0` [G·H, I]; Hout from `weight_hh_l0` [G·H, Hout];
    /// - P and H from `weight_hr_l0` [P, H] when present (LSTM projection), else H = Hout;
    /// - the cell from G = rows / H: 1 RNN (`rnnCell`, tanh unless told), 2 simplified GRU,
    ///   3 GRU (PyTorch's linear-before-reset form), 4 LSTM;
    /// - bias from `bias_ih_l0`, peepholes from `peephole_l0`; for a deep bidirectional stack, the
    ///   merge from the width of `weight_ih_l1` (D·Hout concat, Hout sum).
    ///
    /// What a `state_dict` cannot say — dropout, the classic GRU variant, a reverse-only direction
    /// (its names are those of a forward one), the merge of a one-layer bidirectional stack — takes
    /// the default; pass a full configuration when it differs.
    public init(inferringFrom file: SafeTensorsFile, prefix: String = "", rnnCell: CellType = .rnnTanh) throws {
        func fail(_ what: String) -> SeqError {
            let names = file.names.prefix(12).joined(separator: ", ") + (file.entries.count > 12 ? ", …" : "")
            return ModelFileFormat.formatError("cannot infer a recurrent layer's configuration\(prefix.isEmpty ? "" : " under '\(prefix)'"): "
                                               + "\(what) (the file has: \(names.isEmpty ? "no tensors" : names))")
        }
        func shape(_ name: String) throws -> [Int] {
            guard file.contains(prefix + name) else {
                throw fail("no tensor '\(prefix)\(name)', so it is not the state_dict of a PyTorch RNN, GRU or LSTM")
            }
            let s = try file.entry(prefix + name).shape
            guard s.count == 2, s[0] > 0, s[1] > 0 else { throw fail("'\(prefix)\(name)' has shape \(s), expected 2 positive dimensions") }
            return s
        }
        let wih = try shape("weight_ih_l0"), whh = try shape("weight_hh_l0")
        if whh[0] != wih[0] {
            throw fail("'\(prefix)weight_hh_l0' has \(whh[0]) rows but '\(prefix)weight_ih_l0' has \(wih[0])")
        }
        var layers = 1
        while file.contains(prefix + "weight_ih_l\(layers)") { layers += 1 }
        let reversed = file.contains(prefix + "weight_ih_l0_reverse")
        var hidden = whh[1], projection = 0
        if file.contains(prefix + "weight_hr_l0") {
            let whr = try shape("weight_hr_l0")
            if whr[0] != whh[1] {
                throw fail("'\(prefix)weight_hr_l0' has \(whr[0]) rows but '\(prefix)weight_hh_l0' has \(whh[1]) columns")
            }
            (hidden, projection) = (whr[1], whr[0])
        }
        guard wih[0] % hidden == 0, (1 ... 4).contains(wih[0] / hidden) else {
            throw fail("'\(prefix)weight_ih_l0' has \(wih[0]) rows, not 1, 2, 3 or 4 times the hidden size \(hidden)")
        }
        let cell: CellType, variant: GRUVariant
        switch wih[0] / hidden {
        case 1:
            guard rnnCell == .rnnTanh || rnnCell == .rnnReLU else {
                throw SeqError.invalid("rnnCell", expected: "rnn_tanh or rnn_relu", got: rnnCell.rawValue)
            }
            (cell, variant) = (rnnCell, .linearBeforeReset)
        case 2: (cell, variant) = (.gru, .simplified)
        case 3: (cell, variant) = (.gru, .linearBeforeReset)
        default: (cell, variant) = (.lstm, .linearBeforeReset)
        }
        var merge = MergeMode.concat
        if reversed && layers > 1, let wih1 = try? shape("weight_ih_l1"), wih1[1] == (projection > 0 ? projection : hidden) {
            merge = .sum
        }
        self.init(cell: cell, inputSize: wih[1], hiddenSize: hidden, numLayers: layers,
                  direction: reversed ? .bidirectional : .forward, merge: merge, gruVariant: variant,
                  projSize: projection, peepholes: file.contains(prefix + "peephole_l0"),
                  bias: file.contains(prefix + "bias_ih_l0"))
    }
}
