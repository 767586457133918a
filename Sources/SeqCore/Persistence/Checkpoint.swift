// Training checkpoints: everything a training run carries from one step to the next, so that
// training N steps, saving, loading and training M more gives bit for bit the parameters of N + M
// uninterrupted steps.
//
// A checkpoint is a seqcore file (see ModelFile.swift) of kind "checkpoint":
//
//     tensors   model.<name>                  every parameter, as in a model file but prefixed
//               optimizer.step                I64 []: steps taken
//               optimizer.learning_rate       F64 []: the rate at the time of the checkpoint
//               optimizer.<buffer>            [P]: exp_avg, exp_avg_sq, momentum_buffer, …
//               model_generator.rnn           I64 [4]: the dropout generator of the recurrent stack
//               model_generator.decoder       I64 [4]: the seq2seq decoder's (seq2seq only)
//               generator.<name>              I64 [4]: the training loop's own generators (shuffling, …)
//               counter.<name>                I64 []: epoch, step, schedule position, …
//     metadata  format, seqcore.format_version, seqcore.kind = "checkpoint", seqcore.config
//               optimizer.algorithm           "adam", … (with the optimizer state)
//               seqcore.optimizer             the algorithm and its hyperparameters, JSON
//               seqcore.schedule              the learning-rate schedule, JSON (when given)
//               anything else                 the caller's metadata
//
// A generator's four xoshiro256** state words are stored as I64 bit patterns (two's complement).

/// A snapshot of a training run: the model, the optimizer, the random generators, counters and
/// the learning-rate schedule.
///
/// ```swift
/// // save, every epoch
/// try TrainingCheckpoint(model: model, optimizer: optimizer, generators: ["shuffle": shuffler],
///                        counters: ["epoch": epoch, "step": step], schedule: schedule)
///     .save(to: "run.ckpt.safetensors")
/// // resume
/// let c = try TrainingCheckpoint<Float>.load(from: "run.ckpt.safetensors")
/// let model = c.model, optimizer = try c.makeOptimizer()
/// var shuffler = c.generators["shuffle"]!, epoch = c.counters["epoch"]!
/// ```
///
/// `model` is shared, not copied: `save` writes its parameters and the dropout generators of its
/// recurrent layers (`model.rnn.random`, `model.decoder?.random`) as they are when it runs, and
/// `load` restores them into the model it builds. The optimizer's state is copied when the
/// checkpoint is made.
public struct TrainingCheckpoint<S: SeqScalar> {
    public var model: SequenceModel<S>
    /// The optimizer's algorithm and hyperparameters, so `makeOptimizer` can rebuild it.
    public var optimizer: OptimizerAlgorithm?
    /// The optimizer's moments, step count and learning rate (`Optimizer.exportState`).
    public var optimizerState: OptimizerState<S>?
    /// The training loop's own generators by name (e.g. "shuffle"); not the model's dropout
    /// generators, which travel with the model.
    public var generators: [String: SeqRandom]
    /// Counters by name, e.g. "epoch", "step" and the schedule's position.
    public var counters: [String: Int]
    /// The learning-rate schedule; its position is whichever counter the loop passes to `rate(at:)`.
    public var schedule: LearningRateSchedule?
    /// The caller's own metadata (keys must not be "format" or start with "seqcore." or "optimizer.").
    public var metadata: [String: String]

    public init(model: SequenceModel<S>, optimizer: Optimizer<S>? = nil, generators: [String: SeqRandom] = [:],
                counters: [String: Int] = [:], schedule: LearningRateSchedule? = nil, metadata: [String: String] = [:]) {
        self.model = model
        self.optimizer = optimizer?.algorithm
        self.optimizerState = optimizer?.exportState()
        self.generators = generators
        self.counters = counters
        self.schedule = schedule
        self.metadata = metadata
    }

    static func isReserved(_ key: String) -> Bool {
        ModelFileFormat.isReserved(key) || key.hasPrefix(optimizerPrefix)
    }

    static var optimizerPrefix: String { "optimizer." }
    static var modelPrefix: String { "model." }
    static var generatorPrefix: String { "generator." }
    static var counterPrefix: String { "counter." }
    static var modelGeneratorPrefix: String { "model_generator." }
    static var optimizerKey: String { "seqcore.optimizer" }
    static var scheduleKey: String { "seqcore.schedule" }

    /// A new optimizer with the saved algorithm, hyperparameters and state, for `model.arena`.
    public func makeOptimizer() throws -> Optimizer<S> {
        guard let optimizer, let optimizerState else {
            throw SeqError(.state, "the checkpoint holds no optimizer")
        }
        let o = try Optimizer<S>(optimizer, learningRate: optimizerState.learningRate, for: model.arena)
        try o.importState(optimizerState)
        return o
    }

    // MARK: Writing

    /// The checkpoint as an in-memory safetensors file.
    public func safeTensorsFile() throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        try file.add(model.arena, prefix: Self.modelPrefix)
        func addGenerator(_ name: String, _ g: SeqRandom) throws {
            let s = g.state
            try file.add(name, shape: [4], integers: [s.0, s.1, s.2, s.3].map { Int64(bitPattern: $0) })
        }
        try addGenerator(Self.modelGeneratorPrefix + "rnn", model.rnn.random)
        if let decoder = model.decoder { try addGenerator(Self.modelGeneratorPrefix + "decoder", decoder.random) }
        for (name, g) in generators {
            if name.isEmpty { throw SeqError.invalid("generators", expected: "non-empty names", got: "''") }
            try addGenerator(Self.generatorPrefix + name, g)
        }
        for (name, n) in counters {
            if name.isEmpty { throw SeqError.invalid("counters", expected: "non-empty names", got: "''") }
            try file.add(Self.counterPrefix + name, shape: [], integers: [Int64(n)])
        }
        var extra = metadata
        if let optimizerState {
            guard let optimizer else {
                throw SeqError.invalid("optimizer", expected: "the algorithm that goes with optimizerState", got: "nil")
            }
            if optimizerState.algorithm != optimizer.name {
                throw SeqError.invalid("optimizerState", expected: "the state of a '\(optimizer.name)' optimizer",
                                       got: "'\(optimizerState.algorithm)'")
            }
            try file.add(optimizerState, prefix: Self.optimizerPrefix)
        }
        for key in metadata.keys where Self.isReserved(key) {
            throw SeqError.invalid("metadata", expected: "keys other than 'format', 'seqcore.*' and 'optimizer.*'", got: "'\(key)'")
        }
        extra.merge(file.metadata) { a, _ in a }
        var m = try ModelFileFormat.metadata(kind: .checkpoint, config: model.config.json, extra: extra) { _ in false }
        if let optimizer { m[Self.optimizerKey] = optimizer.json.serialized() }
        if let schedule { m[Self.scheduleKey] = schedule.json.serialized() }
        file.metadata = m
        return file
    }

    /// Saves the checkpoint to `path` atomically: a crash during the save leaves the previous
    /// checkpoint intact.
    public func save(to path: String) throws {
        try safeTensorsFile().save(path)
    }

    // MARK: Reading

    /// Loads a checkpoint written by `save`. Every problem with the file is a `.format` error that
    /// names the file and what is wrong.
    public static func load(from path: String) throws -> TrainingCheckpoint<S> {
        let file = try SafeTensorsFile.load(path)
        return try ModelFileFormat.reading(path) { try TrainingCheckpoint(contentsOf: file) }
    }

    /// The checkpoint held by `file`.
    public init(contentsOf file: SafeTensorsFile) throws {
        let kind = try ModelFileFormat.reading(nil) { try ModelFileFormat.kind(of: file) }
        guard kind == .checkpoint else {
            throw SeqError(.format, kind == nil
                ? "not a seqcore checkpoint: the file has no seqcore metadata"
                : "not a checkpoint: the file holds a seqcore \(kind == .recurrentLayer ? "recurrent layer" : "model")")
        }
        let model = try SequenceModel<S>(contentsOf: file)
        self.model = model
        metadata = file.metadata.filter { !Self.isReserved($0.key) }
        (generators, counters) = try ModelFileFormat.reading(nil) { try Self.readGeneratorsAndCounters(file, into: model) }
        (optimizer, optimizerState) = try ModelFileFormat.reading(nil) { try Self.readOptimizer(file, parameters: model.arena.count) }
        schedule = try ModelFileFormat.reading(nil) {
            try file.metadata[Self.scheduleKey].map { try LearningRateSchedule(ModelFileFormat.jsonObject($0, key: Self.scheduleKey)) }
        }
    }

    static func generator(_ file: SafeTensorsFile, _ name: String) throws -> SeqRandom {
        guard file.contains(name) else { throw ModelFileFormat.formatError("the checkpoint has no '\(name)'") }
        let (shape, v) = try file.integers(name)
        guard shape == [4], v.count == 4 else {
            throw ModelFileFormat.formatError("generator '\(name)' has shape \(shape), expected [4]")
        }
        let g = SeqRandom(state: (UInt64(bitPattern: v[0]), UInt64(bitPattern: v[1]),
                                  UInt64(bitPattern: v[2]), UInt64(bitPattern: v[3])))
        if g.state == (0, 0, 0, 0) {
            throw ModelFileFormat.formatError("generator '\(name)' has the all-zero state, which xoshiro256** never reaches")
        }
        return g
    }

    /// Restores the model's dropout generators; returns the loop's generators and the counters.
    /// Any tensor outside the checkpoint's namespaces is an error.
    static func readGeneratorsAndCounters(_ file: SafeTensorsFile, into model: SequenceModel<S>) throws
        -> ([String: SeqRandom], [String: Int]) {
        let rnnName = modelGeneratorPrefix + "rnn", decoderName = modelGeneratorPrefix + "decoder"
        model.rnn.random = try generator(file, rnnName)
        if let decoder = model.decoder { decoder.random = try generator(file, decoderName) }
        var generators: [String: SeqRandom] = [:], counters: [String: Int] = [:]
        for name in file.names {
            if name.hasPrefix(generatorPrefix) {
                generators[String(name.dropFirst(generatorPrefix.count))] = try generator(file, name)
            } else if name.hasPrefix(counterPrefix) {
                let (shape, v) = try file.integers(name)
                guard shape.isEmpty || shape == [1], v.count == 1 else {
                    throw ModelFileFormat.formatError("counter '\(name)' has shape \(shape), expected []")
                }
                counters[String(name.dropFirst(counterPrefix.count))] = Int(v[0])
            } else if name.hasPrefix(modelGeneratorPrefix) {
                if name != rnnName && !(name == decoderName && model.decoder != nil) {
                    throw ModelFileFormat.formatError("unexpected tensor '\(name)': the model has no such generator")
                }
            } else if !name.hasPrefix(modelPrefix) && !name.hasPrefix(optimizerPrefix) {
                throw ModelFileFormat.formatError("unexpected tensor '\(name)' (a checkpoint holds model.*, optimizer.*, "
                                                  + "model_generator.*, generator.* and counter.*)")
            }
        }
        return (generators, counters)
    }

    /// The optimizer's algorithm and state, checked against each other and the parameter count.
    static func readOptimizer(_ file: SafeTensorsFile, parameters: Int) throws -> (OptimizerAlgorithm?, OptimizerState<S>?) {
        guard file.metadata[optimizerPrefix + "algorithm"] != nil else {
            if let stray = file.names.first(where: { $0.hasPrefix(optimizerPrefix) }) {
                throw ModelFileFormat.formatError("optimizer tensor '\(stray)' without 'optimizer.algorithm' in the metadata")
            }
            return (nil, nil)
        }
        let state = try file.optimizerState(prefix: optimizerPrefix, as: S.self)
        for (name, b) in state.buffers where b.count != parameters {
            throw ModelFileFormat.formatError("optimizer buffer '\(name)' has \(b.count) values but the model has \(parameters) parameters")
        }
        if let bad = state.buffers.first(where: { $0.value.contains { !$0.isFinite } }) {
            throw ModelFileFormat.formatError("optimizer buffer '\(bad.key)' holds a non-finite value")
        }
        guard let text = file.metadata[optimizerKey] else {
            throw ModelFileFormat.formatError("the checkpoint has an optimizer state but no '\(optimizerKey)'")
        }
        let algorithm = try OptimizerAlgorithm(ModelFileFormat.jsonObject(text, key: optimizerKey))
        if algorithm.name != state.algorithm {
            throw ModelFileFormat.formatError("'\(optimizerKey)' is '\(algorithm.name)' but the optimizer state is '\(state.algorithm)'")
        }
        if Set(state.buffers.keys) != Set(algorithm.bufferNames) {
            throw ModelFileFormat.formatError("the optimizer state has buffers \(state.buffers.keys.sorted()), "
                                              + "a '\(algorithm.name)' optimizer with these options has \(algorithm.bufferNames)")
        }
        if !(state.learningRate >= 0 && state.learningRate.isFinite) {
            throw ModelFileFormat.formatError("'optimizer.learning_rate' is \(state.learningRate), expected a finite number ≥ 0")
        }
        return (algorithm, state)
    }
}

extension ModelFileFormat {
    /// A JSON object held as text in the metadata entry `key`.
    static func jsonObject(_ text: String, key: String) throws -> ConfigReader {
        do {
            return try ConfigReader(JSONValue.parse(text), "'\(key)'")
        } catch let e as SeqError where e.message.hasPrefix("JSON") {
            throw formatError("'\(key)' is not valid JSON: \(e.message)")
        }
    }
}

// MARK: Optimizers and schedules as JSON

extension OptimizerAlgorithm {
    /// {"name": "adam", "beta1": 0.9, …}: every hyperparameter, with the names used by torch.optim.
    var json: JSONValue {
        switch self {
        case let .sgd(momentum, dampening, nesterov, weightDecay):
            return .object(JSONObject([("name", .string(name)), ("momentum", jsonNumber(momentum)),
                                       ("dampening", jsonNumber(dampening)), ("nesterov", .bool(nesterov)),
                                       ("weight_decay", jsonNumber(weightDecay))]))
        case let .adam(beta1, beta2, epsilon, weightDecay, amsgrad), let .adamW(beta1, beta2, epsilon, weightDecay, amsgrad):
            return .object(JSONObject([("name", .string(name)), ("beta1", jsonNumber(beta1)), ("beta2", jsonNumber(beta2)),
                                       ("epsilon", jsonNumber(epsilon)), ("weight_decay", jsonNumber(weightDecay)),
                                       ("amsgrad", .bool(amsgrad))]))
        case let .rmsprop(alpha, epsilon, momentum, centered, weightDecay):
            return .object(JSONObject([("name", .string(name)), ("alpha", jsonNumber(alpha)), ("epsilon", jsonNumber(epsilon)),
                                       ("momentum", jsonNumber(momentum)), ("centered", .bool(centered)),
                                       ("weight_decay", jsonNumber(weightDecay))]))
        }
    }

    init(_ r: ConfigReader) throws {
        guard let name = r.object["name"]?.string else {
            throw ModelFileFormat.formatError("\(r.context): 'name' is missing or not a string")
        }
        switch name {
        case "sgd":
            try r.onlyKeys(["name", "momentum", "dampening", "nesterov", "weight_decay"])
            self = .sgd(momentum: try r.double("momentum"), dampening: try r.double("dampening"),
                        nesterov: try r.bool("nesterov"), weightDecay: try r.double("weight_decay"))
        case "adam", "adamw":
            try r.onlyKeys(["name", "beta1", "beta2", "epsilon", "weight_decay", "amsgrad"])
            let (b1, b2, e, wd, ams) = (try r.double("beta1"), try r.double("beta2"), try r.double("epsilon"),
                                        try r.double("weight_decay"), try r.bool("amsgrad"))
            self = name == "adam" ? .adam(beta1: b1, beta2: b2, epsilon: e, weightDecay: wd, amsgrad: ams)
                                  : .adamW(beta1: b1, beta2: b2, epsilon: e, weightDecay: wd, amsgrad: ams)
        case "rmsprop":
            try r.onlyKeys(["name", "alpha", "epsilon", "momentum", "centered", "weight_decay"])
            self = .rmsprop(alpha: try r.double("alpha"), epsilon: try r.double("epsilon"), momentum: try r.double("momentum"),
                            centered: try r.bool("centered"), weightDecay: try r.double("weight_decay"))
        default:
            throw ModelFileFormat.formatError("\(r.context): unknown optimizer '\(name)' (known: sgd, adam, adamw, rmsprop)")
        }
        do {
            try validate()
        } catch let e as SeqError {
            throw ModelFileFormat.formatError("\(r.context): \(e.message)")
        }
    }
}

extension LearningRateSchedule {
    var json: JSONValue {
        var o = JSONObject([("base_rate", jsonNumber(baseRate))])
        switch decay {
        case .constant:
            o["decay"] = .string("constant")
        case let .step(stepSize, gamma):
            o["decay"] = .string("step")
            o["step_size"] = jsonNumber(stepSize)
            o["gamma"] = jsonNumber(gamma)
        case let .cosine(period, minimum):
            o["decay"] = .string("cosine")
            o["period"] = jsonNumber(period)
            o["minimum"] = jsonNumber(minimum)
        }
        o["warmup_steps"] = jsonNumber(warmupSteps)
        o["warmup_start_factor"] = jsonNumber(warmupStartFactor)
        return .object(o)
    }

    init(_ r: ConfigReader) throws {
        let decay: Decay
        switch r.object["decay"]?.string {
        case "constant":
            try r.onlyKeys(["base_rate", "decay", "warmup_steps", "warmup_start_factor"])
            decay = .constant
        case "step":
            try r.onlyKeys(["base_rate", "decay", "step_size", "gamma", "warmup_steps", "warmup_start_factor"])
            decay = .step(stepSize: try r.int("step_size"), gamma: try r.double("gamma"))
        case "cosine":
            try r.onlyKeys(["base_rate", "decay", "period", "minimum", "warmup_steps", "warmup_start_factor"])
            decay = .cosine(period: try r.int("period"), minimum: try r.double("minimum"))
        default:
            throw ModelFileFormat.formatError("\(r.context): 'decay' is \(r.object["decay"]?.serialized() ?? "missing"), "
                                              + "expected \"constant\", \"step\" or \"cosine\"")
        }
        do {
            try self.init(baseRate: try r.double("base_rate"), decay: decay, warmupSteps: try r.int("warmup_steps"),
                          warmupStartFactor: try r.double("warmup_start_factor"))
        } catch let e as SeqError where e.kind == .invalidArgument {
            throw ModelFileFormat.formatError("\(r.context): \(e.message)")
        }
    }
}
