// Parameter arenas and optimizer state in safetensors files: a model file is the arena's
// parameters under their PyTorch names (so `torch.load_state_dict(safetensors.torch.load_file(…))`
// takes it as it is), and a checkpoint adds the optimizer state under a prefix.

extension SafeTensorsFile {
    /// Adds every parameter of `arena` under `prefix + name`, in `dtype` (F32 or F64; by default
    /// the arena's own precision).
    public mutating func add<Scalar: SeqScalar>(_ arena: ParameterArena<Scalar>, prefix: String = "",
                                                dtype: SafeTensorsDType? = nil) throws {
        try arena.checkLayout()
        for p in arena.table {
            try add(prefix + p.name, try arena.value(p.name), dtype: dtype)
        }
    }

    /// Adds an optimizer's state: `prefix + "step"` (I64, shape []), `prefix + "learning_rate"`
    /// (F64, shape []), each buffer as `prefix + name` (shape [P]), and the algorithm's name in
    /// the metadata under `prefix + "algorithm"`.
    public mutating func add<Scalar: SeqScalar>(_ state: OptimizerState<Scalar>, prefix: String = "optimizer.",
                                                dtype: SafeTensorsDType? = nil) throws {
        try add(prefix + "step", shape: [], integers: [Int64(state.step)])
        try add(prefix + "learning_rate", try Tensor<Double>(shape: [], data: [state.learningRate]), dtype: .f64)
        for name in state.buffers.keys.sorted() {
            let b = state.buffers[name] ?? []
            try add(prefix + name, try Tensor(shape: [b.count], data: b), dtype: dtype)
        }
        metadata[prefix + "algorithm"] = state.algorithm
    }

    /// The optimizer state written by `add(_ state:prefix:)`: every tensor under `prefix` other
    /// than the step and learning rate is a buffer. Pass it to `Optimizer.importState`, which
    /// checks it against the optimizer.
    public func optimizerState<Scalar: SeqScalar>(prefix: String = "optimizer.",
                                                  as: Scalar.Type = Scalar.self) throws -> OptimizerState<Scalar> {
        guard let algorithm = metadata[prefix + "algorithm"] else {
            throw SeqError(.notFound, "safetensors: no optimizer state: metadata '\(prefix)algorithm' is missing")
        }
        let (stepShape, step) = try integers(prefix + "step")
        guard stepShape.reduce(1, *) == 1, let s = step.first, s >= 0, s <= Int64(Int.max) else {
            throw SeqError(.format, "safetensors: '\(prefix)step' must hold one non-negative integer")
        }
        let rate = try tensor(prefix + "learning_rate", as: Double.self)
        guard rate.data.count == 1 else {
            throw SeqError(.format, "safetensors: '\(prefix)learning_rate' must hold one number")
        }
        var buffers: [String: [Scalar]] = [:]
        for e in entries where e.name.hasPrefix(prefix) {
            let key = String(e.name.dropFirst(prefix.count))
            if key == "step" || key == "learning_rate" { continue }
            buffers[key] = try tensor(e.name, as: Scalar.self).data
        }
        return OptimizerState(algorithm: algorithm, step: Int(s), learningRate: rate.data[0], buffers: buffers)
    }
}

extension ParameterArena {
    /// Copies every parameter from `file`, where it is named `prefix + name`. Each must be present
    /// with the parameter's shape, a floating-point dtype and finite values. With `strict`, a
    /// tensor under `prefix` that the arena does not have is an error too (as PyTorch's
    /// `load_state_dict(strict=True)`). Nothing changes unless everything checks.
    @_specialize(where Scalar == Float)
    public func load(from file: SafeTensorsFile, prefix: String = "", strict: Bool = true) throws {
        try checkLayout()
        var loaded: [(ParameterInfo, [Scalar])] = []
        for p in table {
            let name = prefix + p.name
            guard file.contains(name) else {
                throw SeqError(.notFound, "parameter '\(name)' (shape \(p.shape)) is missing from the file")
            }
            let t = try file.tensor(name, as: Scalar.self)
            if t.shape != p.shape {
                throw SeqError(.format, "parameter '\(name)': the file has shape \(t.shape), the model expects \(p.shape)")
            }
            if let bad = t.data.firstIndex(where: { !$0.isFinite }) {
                throw SeqError(.format, "parameter '\(name)': non-finite value \(t.data[bad]) at index \(bad)")
            }
            loaded.append((p, t.data))
        }
        if strict {
            let unexpected = file.names.filter { $0.hasPrefix(prefix) && !contains(String($0.dropFirst(prefix.count))) }
            if !unexpected.isEmpty {
                throw SeqError(.format, "the file has tensors the model does not: \(unexpected.prefix(10).joined(separator: ", "))"
                               + (unexpected.count > 10 ? ", …" : ""))
            }
        }
        for (p, data) in loaded { values.replaceSubrange(p.offset ..< p.offset + p.count, with: data) }
    }

    /// `values` is public and mutable: refuse to index past it if a caller resized it.
    func checkLayout() throws {
        let total = table.last.map { $0.offset + $0.count } ?? 0
        if values.count != total {
            throw SeqError(.state, "parameter arena: values has \(values.count) scalars but the table describes \(total)")
        }
    }
}
