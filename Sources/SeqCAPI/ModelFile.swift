// MARK: - Model files
//
// A model file is the engine's model file (SeqCore/Persistence/ModelFile.swift): safetensors with
// the parameters as little-endian float32 under their PyTorch names, so
// `safetensors.torch.load_file` reads it and `load_state_dict` takes it, and the model's
// configuration in "__metadata__". The C configuration keys that the engine's configuration does
// not hold (optimizer, learning rate, clipping, seed, initialisation) travel beside it as
// "capi.<key>" metadata, so a model loaded from C trains on as it was configured. A file written
// by the Swift API or the command-line program has no such keys and loads with their defaults.

import SeqCore

private let keyPrefix = "capi."

extension ModelObject {
    /// The configuration keys as "capi." metadata (lock held by the caller).
    private func configMetadata() -> [String: String] {
        var metadata: [String: String] = [:]
        for key in configKeys {
            guard let value = currentConfig()[key.name] else { continue }
            switch value {
            case .int(let v): metadata[keyPrefix + key.name] = String(v)
            case .float(let v): metadata[keyPrefix + key.name] = "\(v)"
            case .string(let s): metadata[keyPrefix + key.name] = s
            }
        }
        return metadata
    }

    /// The model as a file (lock held by the caller).
    func modelFile() throws -> SafeTensorsFile {
        try model.safeTensorsFile(metadata: configMetadata())
    }

    /// The model and its training state as an engine checkpoint file: parameters, the
    /// optimizer's step count and buffers, the dropout generators (lock held by the caller).
    /// seq_model_fit's shuffling needs nothing more: it is drawn from the seed and the step count.
    func checkpointFile() throws -> SafeTensorsFile {
        try TrainingCheckpoint(model: model, optimizer: optimizer, metadata: configMetadata()).safeTensorsFile()
    }
}

/// The C configuration of a model file: its "capi." keys, or else the engine configuration's
/// fields under their C key names.
private func explicitConfig(_ file: SafeTensorsFile, _ config: ModelConfig, path: String) throws -> [String: ConfigValue] {
    var explicit: [String: ConfigValue] = [:]
    for (name, text) in file.metadata where name.hasPrefix(keyPrefix) {
        let keyName = String(name.dropFirst(keyPrefix.count))
        guard let key = configKeys.first(where: { $0.name == keyName }) else {
            throw SeqError(.format, "model file \"\(path)\": unknown configuration key \"\(keyName)\" in its metadata")
        }
        switch key.domain.type {
        case .int:
            guard let v = Int64(text) else { throw SeqError(.format, "model file \"\(path)\": key \"\(keyName)\" holds \"\(text)\", not an integer") }
            explicit[keyName] = .int(v)
        case .float:
            guard let v = Double(text), v.isFinite else { throw SeqError(.format, "model file \"\(path)\": key \"\(keyName)\" holds \"\(text)\", not a number") }
            explicit[keyName] = .float(v)
        case .string:
            explicit[keyName] = .string(text)
        }
    }
    // The same checks as seq_config_set_*: a damaged or hand-edited file gets no further.
    for (name, value) in explicit {
        guard let key = configKeys.first(where: { $0.name == name }) else { continue }
        do {
            try key.domain.check(value, key: name)
        } catch {
            throw SeqError(.format, "model file \"\(path)\": configuration key \"\(name)\" is invalid: \(error)")
        }
    }
    if !explicit.isEmpty { return explicit }
    let r = config.rnn
    explicit = [
        "architecture": .string(config.architecture.rawValue), "cell": .string(r.cell.rawValue),
        "input_size": .int(Int64(r.inputSize)), "hidden_size": .int(Int64(r.hiddenSize)),
        "num_layers": .int(Int64(r.numLayers)), "direction": .string(r.direction.rawValue),
        "proj_size": .int(Int64(r.projSize)), "peepholes": .int(r.peepholes ? 1 : 0), "bias": .int(r.bias ? 1 : 0),
        "dropout": .float(r.dropout), "vocab_size": .int(Int64(config.vocabularySize)),
        "embedding_size": .int(Int64(config.embeddingSize)), "output_size": .int(Int64(config.outputSize)),
        "output": .string(config.output.rawValue), "reduction": .string(config.reduction.rawValue),
    ]
    if r.cell == .gru { explicit["gru_variant"] = .string(r.gruVariant.rawValue) }
    if r.direction == .bidirectional { explicit["merge"] = .string(r.merge.rawValue) }
    if let p = config.paddingIndex { explicit["padding_index"] = .int(Int64(p)) }
    if let i = config.ignoreIndex { explicit["ignore_index"] = .int(Int64(i)) }
    if config.architecture == .seq2seq {
        explicit["start_token"] = .int(Int64(config.startToken))
        explicit["stop_token"] = .int(Int64(config.stopToken))
    }
    return explicit
}

/// I/O failures of the file named by the argument `path` say so.
private func namingPath<R>(_ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let e as SeqError where e.kind == .io {
        throw SeqError(.io, "argument 'path': \(e.message)")
    }
}

/// Reads a model file completely (the engine's loader checks format, version, configuration and
/// every tensor's presence, shape, bounds and finiteness) and builds the C model around it.
private func loadModel(_ path: String) throws -> ModelObject {
    let file = try namingPath { try SafeTensorsFile.load(path) }
    let checkpoint = file.metadata[ModelFileFormat.kindKey] == ModelFileFormat.Kind.checkpoint.rawValue
        ? try TrainingCheckpoint<Float>(contentsOf: file) : nil
    let loaded = try checkpoint?.model ?? SequenceModel<Float>(contentsOf: file)
    let explicit: [String: ConfigValue], built: ModelBuilder
    do {
        explicit = try explicitConfig(file, loaded.config, path: path)
        built = try ModelBuilder(explicit)
        // The keys must describe the model the tensors hold.
        guard built.modelConfig == loaded.config else {
            throw SeqError(.format, "model file \"\(path)\": its configuration keys and its tensors describe different models")
        }
    } catch let e as SeqError where e.kind == .format {
        throw e
    } catch {
        // The keys were written by seq_model_save from a valid configuration: any error here
        // means the file was altered.
        throw SeqError(.format, "model file \"\(path)\": its configuration keys are damaged: \(error)")
    }
    // The loaded model itself becomes the C model: its weights are the file's, and its dropout
    // generators are those of any model loaded from a file (or the checkpoint's), whatever seed
    // the keys hold.
    let object = try ModelObject(explicit, built: built, model: loaded)
    if let checkpoint {
        guard let algorithm = checkpoint.optimizer, let state = checkpoint.optimizerState else {
            throw SeqError(.format, "checkpoint \"\(path)\": it holds no optimizer state")
        }
        guard algorithm == built.optimizer else {
            throw SeqError(.format, "checkpoint \"\(path)\": its optimizer state is of \(algorithm), its configuration "
                           + "keys say \(built.optimizer)")
        }
        do {
            try object.optimizer.importState(state)
        } catch {
            throw SeqError(.format, "checkpoint \"\(path)\": its optimizer state does not fit the model: \(error)")
        }
        // The rate of the next step is the schedule's at the restored step count.
        object.optimizer.learningRate = object.schedule.rate(at: object.optimizer.stepCount)
    }
    return object
}

/// Saves a model (configuration and parameters, not the optimizer's state) to a file, atomically:
/// the file is written under a temporary name in the same directory and renamed over `path` once
/// complete, so a crash never leaves a half-written model. The file is a safetensors file that
/// PyTorch's `safetensors.torch.load_file` reads, with the parameters under their PyTorch names.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - path: NUL-terminated file path; an existing file is replaced (through a symbolic link,
///     the file it names, and the link stays); a directory, device, FIFO or socket is refused.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_IO` (the
///   directory is not writable, the disk is full, ...; any existing file is left intact).
/// - Thread safety: safe to call from any thread (calls on one model are serialised), also from
///   a `seq_progress_callback` of the same model.
@c public func seq_model_save(_ model: SeqModelHandle?, _ path: UnsafePointer<CChar>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let path = try Arg.string(path, "path")
        guard !path.isEmpty else { throw SeqError.invalid("path", expected: "a file path", got: "\"\"") }
        let file = try m.locked { try m.modelFile() }
        try namingPath { try file.save(path) }
    }
}

/// Saves a model with its training state, atomically as `seq_model_save`: the configuration,
/// the parameters, and what training carries from one step to the next: the optimizer's step
/// count and buffers (moments, momentum) and the dropout generators. `seq_model_load` reads it
/// back into a model that trains on exactly as this one would: the same steps then give the same
/// parameters, bit for bit, and a learning-rate schedule goes on from the saved step. The file
/// is a seqcore checkpoint (safetensors; the parameters are named "model.<PyTorch name>"), larger
/// than a model file by the optimizer's buffers (two parameter copies for Adam).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - path: NUL-terminated file path, as `seq_model_save`.
/// - Returns: as `seq_model_save`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised), also from
///   a `seq_progress_callback` of the same model.
@c public func seq_model_save_checkpoint(_ model: SeqModelHandle?, _ path: UnsafePointer<CChar>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let path = try Arg.string(path, "path")
        guard !path.isEmpty else { throw SeqError.invalid("path", expected: "a file path", got: "\"\"") }
        let file = try m.locked { try m.checkpointFile() }
        try namingPath { try file.save(path) }
    }
}

/// Loads a model saved by `seq_model_save` (the same configuration and parameters; the optimizer
/// starts afresh) or by `seq_model_save_checkpoint` (the optimizer's state too, so training goes
/// on where it stopped). The file is checked completely (format version, configuration, every
/// parameter's presence, shape and finiteness, the optimizer state's fit) before a model is made.
///
/// - Parameters:
///   - path: NUL-terminated file path.
///   - out: receives the new model; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_IO` (cannot open or read);
///   `SEQ_ERR_FORMAT` (not a seqcore model file, a newer format version, a damaged or truncated
///   file); `SEQ_ERR_RESOURCE_LIMIT` (the file is too large).
/// - Ownership: the caller owns the model and frees it with `seq_model_free`.
/// - Thread safety: safe to call from any thread.
@c public func seq_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<SeqModelHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        let path = try Arg.string(path, "path")
        guard !path.isEmpty else { throw SeqError.invalid("path", expected: "a file path", got: "\"\"") }
        out.pointee = Handles.create(try loadModel(path))
    }
}
