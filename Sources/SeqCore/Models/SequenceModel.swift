/// A complete model for one of the four architectures of lesson 3: optional embedding → recurrent
/// stack → dense head (every step, or the final state) → loss from logits. Seq2seq adds a decoder
/// embedding and a decoder stack started from the encoder's final state.
///
/// All parameters live in one arena under PyTorch-style names: `embedding.weight` [V, E],
/// `rnn.weight_ih_l0` …, `head.weight` [K, F], `head.bias` [K]; seq2seq adds
/// `decoder_embedding.weight` and `decoder.weight_ih_l0` ….
public final class SequenceModel<S: SeqScalar> {
    public let config: ModelConfig
    public let arena = ParameterArena<S>()
    public let embedding: Embedding<S>?
    public let rnn: RecurrentLayer<S>
    public let decoderEmbedding: Embedding<S>?
    public let decoder: RecurrentLayer<S>?
    public let head: Dense<S>

    @_specialize(where S == Float)
    public convenience init(_ config: ModelConfig, seed: UInt64 = 0, initialization: Initialization = .pytorch,
                            forgetBias: Double? = nil) throws {
        try self.init(config, seed: seed, initializing: initialization, forgetBias: forgetBias)
    }

    /// `initializing: nil` leaves every parameter zero, for a model whose parameters are loaded next.
    @_specialize(where S == Float)
    init(_ config: ModelConfig, seed: UInt64, initializing initialization: Initialization?, forgetBias: Double?) throws {
        try config.validate()
        self.config = config
        arena.reserve(additional: config.parameterCount)
        let draws = initialization != nil
        embedding = config.usesTokens
            ? try Embedding(vocabularySize: config.vocabularySize, embeddingSize: config.embeddingSize,
                            paddingIndex: config.paddingIndex, arena: arena, prefix: "embedding.", drawnFrom: draws ? seed &+ 1 : nil)
            : nil
        rnn = try RecurrentLayer(config.rnn, arena: arena, prefix: "rnn.", initializing: initialization,
                                 seed: seed &+ 2, forgetBias: forgetBias)
        if config.architecture == .seq2seq {
            let e = max(config.embeddingSize, 1)
            let decoderConfig = config.decoderConfig
            decoderEmbedding = try Embedding(vocabularySize: config.outputSize, embeddingSize: config.embeddingSize > 0 ? e : config.rnn.hiddenSize,
                                             paddingIndex: nil, arena: arena, prefix: "decoder_embedding.", drawnFrom: draws ? seed &+ 3 : nil)
            decoder = try RecurrentLayer(decoderConfig, arena: arena, prefix: "decoder.", initializing: initialization,
                                         seed: seed &+ 4, forgetBias: forgetBias)
            head = try Dense(inputSize: decoderConfig.outputFeatures, outputSize: config.outputSize, arena: arena,
                             prefix: "head.", drawnFrom: draws ? seed &+ 5 : nil)
        } else {
            decoderEmbedding = nil
            decoder = nil
            head = try Dense(inputSize: config.rnn.outputFeatures, outputSize: config.outputSize, arena: arena,
                             prefix: "head.", drawnFrom: draws ? seed &+ 5 : nil)
        }
    }

    /// Steps of one sequence the head reads: every step, or one per sequence (classifier).
    var perStep: Bool { config.architecture != .classifier }

    // MARK: Forward

    /// What a forward pass keeps for the loss and for backward.
    public final class Pass {
        /// z, before the output activation: [T, B, K] per step (Ty + 1 steps for seq2seq), [B, K] for a classifier.
        public internal(set) var logits: Tensor<S>
        /// Lengths that mask `logits` (nil for a classifier).
        public internal(set) var lengths: [Int]?
        var tokens: [Int]?
        var rnnOutput: RecurrentOutput<S>
        var headInput: [S]
        // seq2seq
        var decoderTokens: [Int]?
        var decoderOutput: RecurrentOutput<S>?
        var decoderTargets: [Int]?

        /// The state the (encoder) recurrent stack ended in, at each sequence's last valid step:
        /// a<T> [L·D, B, Hout] and, for an LSTM, c<T> [L·D, B, H]. Truncated BPTT starts the next
        /// window from it.
        public var finalState: (h: Tensor<S>, c: Tensor<S>?) { (rnnOutput.hN, rnnOutput.cN) }

        init(logits: Tensor<S>, lengths: [Int]?, tokens: [Int]?, rnnOutput: RecurrentOutput<S>, headInput: [S]) {
            self.logits = logits
            self.lengths = lengths
            self.tokens = tokens
            self.rnnOutput = rnnOutput
            self.headInput = headInput
        }
    }

    /// Embeds or checks the input: returns x [T, B, I] and the token ids when there are any.
    func embed(_ input: SequenceInput<S>, _ emb: Embedding<S>?, _ name: String) throws -> (Tensor<S>, [Int]?) {
        switch input {
        case .features(let x):
            guard emb == nil else {
                throw SeqError.invalid(name, expected: "token ids (the model has an embedding)", got: "feature vectors")
            }
            return (x, nil)
        case .tokens(let ids, let steps, let batch):
            guard let emb else {
                throw SeqError.invalid(name, expected: "feature vectors [T, B, \(config.rnn.inputSize)] (the model has no embedding)", got: "token ids")
            }
            // The messages are built only on failure: this runs at every streaming step.
            if steps <= 0 { try Check.positive(steps, "\(name) steps (T)") }
            if batch <= 0 { try Check.positive(batch, "\(name) batch (B)") }
            if ids.count != steps * batch { try Check.count(ids.count, steps * batch, name, shape: "[T, B] = [\(steps), \(batch)]") }
            try emb.validate(ids, name)
            return (Tensor(unchecked: [steps, batch, emb.embeddingSize], data: emb.forward(ids)), ids)
        }
    }

    /// Runs the model on a batch; `training` keeps what backward needs and enables dropout.
    @_specialize(where S == Float)
    public func forward(_ batch: SequenceBatch<S>, training: Bool = false) throws -> Pass {
        try checkMemory(steps: batch.input.steps, batch: batch.input.batch, training: training)
        let (x, tokens) = try embed(batch.input, embedding, "input")
        let out = try rnn.forward(x, lengths: batch.lengths, h0: batch.h0, c0: batch.c0, training: training)
        let steps = x.shape[0], b = x.shape[1], k = config.outputSize
        switch config.architecture {
        case .tagger, .languageModel:
            let f = config.rnn.outputFeatures
            var logits = [S](repeating: 0, count: steps * b * k)
            out.output.data.withUnsafeBufferPointer { o in
                logits.withUnsafeMutableBufferPointer { head.forward(o.baseAddress!, rows: steps * b, ldx: f, into: $0.baseAddress!) }
            }
            return Pass(logits: Tensor(unchecked: [steps, b, k], data: logits), lengths: batch.lengths ?? Array(repeating: steps, count: b),
                        tokens: tokens, rnnOutput: out, headInput: [])
        case .classifier:
            let features = finalFeatures(out.hN, batch: b)
            var logits = [S](repeating: 0, count: b * k)
            features.withUnsafeBufferPointer { fp in
                logits.withUnsafeMutableBufferPointer { head.forward(fp.baseAddress!, rows: b, ldx: head.inputSize, into: $0.baseAddress!) }
            }
            return Pass(logits: Tensor(unchecked: [b, k], data: logits), lengths: nil, tokens: tokens, rnnOutput: out, headInput: features)
        case .seq2seq:
            return try seq2seqForward(batch, encoderOutput: out, tokens: tokens, batchSize: b, training: training)
        }
    }

    /// The recurrent stack's estimate (RecurrentLayer.checkMemory) plus what the model adds
    /// around it, which is allocated before the stack checks its own: the embedded input, the
    /// head's logits and probabilities, and for training their gradients and the head input's.
    /// A seq2seq decoder checks its own stack when it runs.
    func checkMemory(steps: Int, batch: Int, training: Bool) throws {
        let rows = try Check.product([steps, batch], "input.shape (T × B)", limit: Int.max)
        let perStep = config.architecture == .tagger || config.architecture == .languageModel
        let k = config.outputSize, e = embedding == nil ? 0 : config.embeddingSize
        let around = e + (perStep ? 2 * k : 0) + (training ? e + (perStep ? k + config.rnn.outputFeatures : 0) : 0)
        try Limits.checkMemory([try rnn.memoryEstimate(steps: steps, batch: batch, training: training),
                                try Check.product([rows, around], "memory", limit: Int.max)],
                               bytesPerScalar: MemoryLayout<S>.size, "forward on [T=\(steps), B=\(batch)]")
    }

    /// The classifier's input: the last layer's final a, [a→<T_b>, a←<1>] side by side (or summed).
    func finalFeatures(_ hN: Tensor<S>, batch b: Int) -> [S] {
        let c = config.rnn, hout = c.outputSize, d = c.numDirections, top = (c.numLayers - 1) * d
        let f = c.outputFeatures
        var features = [S](repeating: 0, count: b * f)
        for dir in 0 ..< d {
            for r in 0 ..< b {
                for j in 0 ..< hout {
                    let v = hN.data[((top + dir) * b + r) * hout + j]
                    if c.merge == .sum || d == 1 { features[r * f + j] += v } else { features[r * f + dir * hout + j] = v }
                }
            }
        }
        return features
    }

    /// The decoder's initial state from the encoder's final one: layer by layer, the two directions
    /// of a bidirectional encoder added.
    func bridge(_ state: Tensor<S>, batch b: Int, width: Int) -> Tensor<S> {
        let c = config.rnn, d = c.numDirections
        var out = [S](repeating: 0, count: c.numLayers * b * width)
        for l in 0 ..< c.numLayers {
            for dir in 0 ..< d {
                for i in 0 ..< b * width { out[l * b * width + i] += state.data[(l * d + dir) * b * width + i] }
            }
        }
        return Tensor(unchecked: [c.numLayers, b, width], data: out)
    }

    func seq2seqForward(_ batch: SequenceBatch<S>, encoderOutput out: RecurrentOutput<S>, tokens: [Int]?,
                        batchSize b: Int, training: Bool) throws -> Pass {
        guard let targets = batch.targetTokens else {
            throw SeqError.invalid("target_tokens", expected: "the target sequences of a seq2seq batch", got: "none")
        }
        let ty = batch.targetSteps
        try Check.positive(ty, "target steps (Ty)")
        try Check.count(targets.count, ty * b, "target_tokens", shape: "[Ty, B] = [\(ty), \(b)]")
        let targetLengths = try rnn.validateLengths(batch.targetLengths, steps: ty, batch: b)
        if let i = targets.firstIndex(where: { $0 < 0 || $0 >= config.outputSize }) {
            throw SeqError.invalid("target_tokens", expected: "token ids in 0..<\(config.outputSize)", got: "\(targets[i]) at index \(i)")
        }
        // Teacher forcing: the decoder reads <start> y1 … y_T and predicts y1 … y_T <stop>.
        let steps = ty + 1
        var decIn = [Int](repeating: config.stopToken, count: steps * b), decTarget = decIn
        for r in 0 ..< b {
            decIn[r] = config.startToken
            for t in 0 ..< targetLengths[r] {
                decIn[(t + 1) * b + r] = targets[t * b + r]
                decTarget[t * b + r] = targets[t * b + r]
            }
            decTarget[targetLengths[r] * b + r] = config.stopToken
        }
        let lengths = targetLengths.map { $0 + 1 }
        let dec = decoder!, demb = decoderEmbedding!
        let x = Tensor(unchecked: [steps, b, demb.embeddingSize], data: demb.forward(decIn))
        let h0 = bridge(out.hN, batch: b, width: config.rnn.outputSize)
        let c0 = out.cN.map { bridge($0, batch: b, width: config.rnn.hiddenSize) }
        let decOut = try dec.forward(x, lengths: lengths, h0: h0, c0: c0, training: training)
        let k = config.outputSize, f = dec.config.outputFeatures
        var logits = [S](repeating: 0, count: steps * b * k)
        decOut.output.data.withUnsafeBufferPointer { o in
            logits.withUnsafeMutableBufferPointer { head.forward(o.baseAddress!, rows: steps * b, ldx: f, into: $0.baseAddress!) }
        }
        let pass = Pass(logits: Tensor(unchecked: [steps, b, k], data: logits), lengths: lengths, tokens: tokens,
                        rnnOutput: out, headInput: [])
        pass.decoderTokens = decIn
        pass.decoderOutput = decOut
        pass.decoderTargets = decTarget
        return pass
    }

    // MARK: Loss and backward

    /// The loss of a pass against the batch's targets and ∂L/∂logits.
    @_specialize(where S == Float)
    public func loss(_ pass: Pass, _ batch: SequenceBatch<S>) throws -> (loss: Double, gradient: [S], validSteps: Int) {
        var gradient = [S](repeating: 0, count: pass.logits.count)
        let lengths = pass.lengths
        if config.architecture == .seq2seq {
            let r = try Loss.softmaxCrossEntropy(logits: pass.logits, labels: pass.decoderTargets!, lengths: lengths,
                                                 ignoreIndex: config.ignoreIndex, reduction: config.reduction, into: &gradient)
            return (Double(r.loss), gradient, r.validSteps)
        }
        guard let target = batch.target else {
            throw SeqError.invalid("target", expected: "targets for the loss", got: "none")
        }
        switch (config.output, target) {
        case (.classes, .classes(let labels)):
            if let i = labels.firstIndex(where: { ($0 < 0 || $0 >= config.outputSize) && $0 != config.ignoreIndex }) {
                throw SeqError.invalid("target", expected: "class ids in 0..<\(config.outputSize)", got: "\(labels[i]) at index \(i)")
            }
            let r = try Loss.softmaxCrossEntropy(logits: pass.logits, labels: labels, lengths: lengths,
                                                 ignoreIndex: config.ignoreIndex, reduction: config.reduction, into: &gradient)
            return (Double(r.loss), gradient, r.validSteps)
        case (.binary, .values(let y)):
            let r = try Loss.binaryCrossEntropy(logits: pass.logits, targets: y, lengths: lengths, reduction: config.reduction, into: &gradient)
            return (Double(r.loss), gradient, r.validSteps)
        case (.regression, .values(let y)):
            let r = try Loss.meanSquaredError(predictions: pass.logits, targets: y, lengths: lengths, reduction: config.reduction, into: &gradient)
            return (Double(r.loss), gradient, r.validSteps)
        case (.classes, .values):
            throw SeqError.invalid("target", expected: "class ids (output is classes)", got: "values")
        case (_, .classes):
            throw SeqError.invalid("target", expected: "values (output is \(config.output.rawValue))", got: "class ids")
        }
    }

    /// Backward from ∂L/∂logits: accumulates every parameter's gradient into `arena.gradients`.
    /// Returns the per-step gradient norms of the (encoder) recurrent stack, [L·D, T].
    @discardableResult
    @_specialize(where S == Float)
    public func backward(_ pass: Pass, logitsGradient dz: [S]) throws -> Tensor<S> {
        try stackBackward(pass, logitsGradient: dz).stepGradientNorms
    }

    /// `backward`, returning what reached the (encoder) recurrent stack's inputs as well: ∂L/∂x
    /// [T, B, I] (for token inputs, the gradient of the embedded vectors, I = E), ∂L/∂h0 and
    /// ∂L/∂c0 of its initial states, and the per-step gradient norms.
    @_specialize(where S == Float)
    public func stackBackward(_ pass: Pass, logitsGradient dz: [S]) throws -> RecurrentGradients<S> {
        guard let tape = pass.rnnOutput.tape else {
            throw SeqError(.state, "argument 'pass': not a training forward pass (call forward with training: true)")
        }
        try Check.count(dz.count, pass.logits.count, "logits_gradient", shape: "the logits' shape \(pass.logits.shape)")
        switch config.architecture {
        case .tagger, .languageModel:
            let g = try perStepHeadBackward(pass.rnnOutput.output, dz)
            let grads = try rnn.backward(tape, gradOutput: g)
            if let emb = embedding, let t = pass.tokens { emb.backward(t, dx: grads.input.data) }
            return grads
        case .classifier:
            let b = pass.logits.shape[0], c = config.rnn, hout = c.outputSize, d = c.numDirections
            var dFeatures = [S](repeating: 0, count: pass.headInput.count)
            pass.headInput.withUnsafeBufferPointer { x in
                dz.withUnsafeBufferPointer { dy in
                    dFeatures.withUnsafeMutableBufferPointer { dx in
                        head.backward(x.baseAddress!, rows: b, ldx: head.inputSize, dy: dy.baseAddress!, dx: dx.baseAddress!)
                    }
                }
            }
            var dhN = Tensor<S>(zeros: pass.rnnOutput.hN.shape)
            let top = (c.numLayers - 1) * d, f = c.outputFeatures
            for dir in 0 ..< d {
                for r in 0 ..< b {
                    for j in 0 ..< hout {
                        dhN.data[((top + dir) * b + r) * hout + j] = (c.merge == .sum || d == 1) ? dFeatures[r * f + j] : dFeatures[r * f + dir * hout + j]
                    }
                }
            }
            let grads = try rnn.backward(tape, gradOutput: nil, gradHN: dhN)
            if let emb = embedding, let t = pass.tokens { emb.backward(t, dx: grads.input.data) }
            return grads
        case .seq2seq:
            let decOut = pass.decoderOutput!, dec = decoder!
            let g = try perStepHeadBackward(decOut.output, dz)
            let dg = try dec.backward(decOut.tape!, gradOutput: g)
            decoderEmbedding!.backward(pass.decoderTokens!, dx: dg.input.data)
            // The bridge added the directions of each layer: each receives the whole gradient.
            let c = config.rnn, d = c.numDirections, b = pass.rnnOutput.hN.shape[1]
            func unbridge(_ g: Tensor<S>, width: Int) -> Tensor<S> {
                var out = [S](repeating: 0, count: c.numLayers * d * b * width)
                for l in 0 ..< c.numLayers {
                    for dir in 0 ..< d {
                        for i in 0 ..< b * width { out[(l * d + dir) * b * width + i] = g.data[l * b * width + i] }
                    }
                }
                return Tensor(unchecked: [c.numLayers * d, b, width], data: out)
            }
            let grads = try rnn.backward(tape, gradOutput: nil, gradHN: unbridge(dg.h0, width: c.outputSize),
                                         gradCN: dg.c0.map { unbridge($0, width: c.hiddenSize) })
            if let emb = embedding, let t = pass.tokens { emb.backward(t, dx: grads.input.data) }
            return grads
        }
    }

    /// Head backward at every step: returns ∂L/∂(stack output) [T, B, F].
    func perStepHeadBackward(_ output: Tensor<S>, _ dz: [S]) throws -> Tensor<S> {
        let rows = output.shape[0] * output.shape[1], f = output.shape[2]
        var dOut = [S](repeating: 0, count: output.count)
        output.data.withUnsafeBufferPointer { x in
            dz.withUnsafeBufferPointer { dy in
                dOut.withUnsafeMutableBufferPointer { dx in
                    head.backward(x.baseAddress!, rows: rows, ldx: f, dy: dy.baseAddress!, dx: dx.baseAddress!)
                }
            }
        }
        return Tensor(unchecked: output.shape, data: dOut)
    }

    /// Forward, loss and backward on one batch: gradients are accumulated into `arena.gradients`
    /// (zero them first for a fresh step). Returns the loss, the number of steps that counted and the
    /// per-step gradient norms of the recurrent stack.
    @_specialize(where S == Float)
    public func lossAndGradients(_ batch: SequenceBatch<S>) throws -> (loss: Double, validSteps: Int, stepGradientNorms: Tensor<S>) {
        let r = try lossAndStackGradients(batch)
        return (r.loss, r.validSteps, r.stack.stepGradientNorms)
    }

    /// `lossAndGradients`, also returning the gradients that reached the (encoder) stack's inputs
    /// and initial states (`stackBackward`).
    @_specialize(where S == Float)
    public func lossAndStackGradients(_ batch: SequenceBatch<S>) throws -> (loss: Double, validSteps: Int, stack: RecurrentGradients<S>) {
        let pass = try forward(batch, training: true)
        let (l, dz, n) = try loss(pass, batch)
        return (l, n, try stackBackward(pass, logitsGradient: dz))
    }

    /// The loss on a batch without touching gradients (inference mode: no dropout).
    @_specialize(where S == Float)
    public func evaluate(_ batch: SequenceBatch<S>) throws -> (loss: Double, validSteps: Int) {
        let pass = try forward(batch, training: false)
        let (l, _, n) = try loss(pass, batch)
        return (l, n)
    }
}
