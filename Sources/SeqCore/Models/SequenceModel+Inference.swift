extension OutputKind {
    /// ŷ = g_y(z) over rows of K: σ (binary), softmax (classes), identity (regression). In place.
    func activate<S: SeqScalar>(_ z: inout [S], width k: Int) {
        z.withUnsafeMutableBufferPointer { activate($0, width: k) }
    }

    /// The same on a buffer of whole rows of K.
    func activate<S: SeqScalar>(_ z: UnsafeMutableBufferPointer<S>, width k: Int) {
        switch self {
        case .regression:
            return
        case .binary:
            // The scalar σ: relative accuracy for the small probabilities a log-likelihood reads
            // (the vector σ of the gates is accurate in absolute terms only).
            for i in z.indices { z[i] = Kernels.sigmoid(z[i]) }
        case .classes:
            for r in 0 ..< z.count / k {
                var m = -S.infinity
                for j in 0 ..< k { m = max(m, z[r * k + j]) }
                var sum: S = 0
                for j in 0 ..< k { z[r * k + j] = S.exp(z[r * k + j] - m); sum += z[r * k + j] }
                for j in 0 ..< k { z[r * k + j] /= sum }
            }
        }
    }
}

extension SequenceModel {
    /// ŷ for a batch: probabilities (binary, classes) or values (regression), [T, B, K] per step
    /// (zero rows at padded steps) or [B, K] for a classifier. Not for seq2seq: use `decode`.
    @_specialize(where S == Float)
    public func predict(_ input: SequenceInput<S>, lengths: [Int]? = nil) throws -> Tensor<S> {
        if config.architecture == .seq2seq {
            throw SeqError(.state, "predict: a seq2seq model produces sequences; use decode")
        }
        let pass = try forward(SequenceBatch(input: input, lengths: lengths), training: false)
        var y = pass.logits.data
        let k = config.outputSize
        config.output.activate(&y, width: k)
        if let lengths = pass.lengths {
            let b = pass.logits.shape[1]
            for t in 0 ..< pass.logits.shape[0] {
                for r in 0 ..< b where t >= lengths[r] {
                    for j in 0 ..< k { y[(t * b + r) * k + j] = 0 }
                }
            }
        }
        return Tensor(unchecked: pass.logits.shape, data: y)
    }
}

extension SequenceModel {
    /// `predict` on memory the caller owns, for a tagger or classifier that takes features:
    /// `features` holds T·B·I values, [T, B, I] (or [B, T, I] when `batchFirst`), and ŷ goes to
    /// `output`: [T, B, K] (or [B, T, K]) for a tagger, 0 past each length, [B, K] for a
    /// classifier. The same numbers as `predict`; the arrays it allocates at every call came
    /// fresh from the system for large inputs (a page fault per 4 KiB, most of a small model's
    /// call from Python), while these buffers are reused.
    @_specialize(where S == Float)
    public func predict(features: UnsafePointer<S>, steps: Int, batch: Int, lengths: [Int]? = nil, batchFirst: Bool = false,
                        into output: UnsafeMutableBufferPointer<S>) throws {
        guard config.architecture == .tagger || config.architecture == .classifier else {
            throw SeqError(.state, "predict(features:): a tagger or a classifier (a \(config.architecture.rawValue) model takes another path)")
        }
        if embedding != nil {
            throw SeqError.invalid("input", expected: "token ids (the model has an embedding)", got: "feature vectors")
        }
        try Check.positive(steps, "steps")
        try Check.positive(batch, "batch")
        try checkMemory(steps: steps, batch: batch, training: false)
        let c = config.rnn, k = config.outputSize, f = c.outputFeatures, perStep = config.architecture == .tagger
        let needed = (perStep ? steps : 1) * batch * k
        if output.count != needed {
            throw SeqError.invalid("output", expected: "\(needed) values", got: output.count)
        }
        let slots = c.numLayers * c.numDirections, width = c.inputSize, transposes = batchFirst && steps > 1
        var x = features, xT: Buffer<S>? = nil
        if transposes {
            let t = Buffer<S>(uninitialized: steps * batch * width)
            Self.swapLeadingAxes(features, into: t.pointer, outer: batch, inner: steps, width: width)  // [B, T, I] → [T, B, I]
            x = UnsafePointer(t.pointer)
            xT = t
        }
        let a = Buffer<S>(uninitialized: steps * batch * f)
        let hN = Buffer<S>(uninitialized: slots * batch * c.outputSize)
        let cN: Buffer<S>? = c.hasCellState ? Buffer(uninitialized: slots * batch * c.hiddenSize) : nil
        try rnn.forward(timeMajor: x, steps: steps, batch: batch, lengths: lengths, h0: nil, c0: nil, output: a.pointer,
                        hN: hN.pointer, cN: cN?.pointer)
        withExtendedLifetime(xT) {}
        guard perStep else {
            let last = finalFeatures(Tensor(unchecked: [slots, batch, c.outputSize], data: hN.array(slots * batch * c.outputSize)), batch: batch)
            last.withUnsafeBufferPointer { head.forward($0.baseAddress!, rows: batch, ldx: head.inputSize, into: output.baseAddress!) }
            config.output.activate(output, width: k)
            return
        }
        // Time-major logits, then probabilities, then zeros past each length, as `predict` does.
        let z = transposes ? Buffer<S>(uninitialized: needed) : nil
        let zp = z?.pointer ?? output.baseAddress!
        head.forward(a.pointer, rows: steps * batch, ldx: f, into: zp)
        config.output.activate(UnsafeMutableBufferPointer(start: zp, count: needed), width: k)
        if let lengths {
            for t in 0 ..< steps {
                for r in 0 ..< batch where t >= lengths[r] { (zp + (t * batch + r) * k).update(repeating: 0, count: k) }
            }
        }
        if transposes { Self.swapLeadingAxes(zp, into: output.baseAddress!, outer: steps, inner: batch, width: k) }  // → [B, T, K]
    }

    /// dst[j, i, :] = src[i, j, :] for an [outer, inner, width] source.
    private static func swapLeadingAxes(_ src: UnsafePointer<S>, into dst: UnsafeMutablePointer<S>, outer: Int, inner: Int, width: Int) {
        for i in 0 ..< outer {
            for j in 0 ..< inner { (dst + (j * outer + i) * width).update(from: src + (i * inner + j) * width, count: width) }
        }
    }
}

/// How to pick a token from a distribution.
public struct Sampling: Equatable, Sendable {
    /// Divides the logits before softmax: < 1 sharper, > 1 flatter. 0 means greedy (argmax).
    public var temperature: Double
    /// Keep only the k most likely tokens (0: all).
    public var topK: Int
    public var seed: UInt64

    public init(temperature: Double = 1, topK: Int = 0, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.seed = seed
    }

    public static let greedy = Sampling(temperature: 0)

    func validate(vocabulary: Int) throws {
        if !(temperature >= 0) || !temperature.isFinite {
            throw SeqError.invalid("temperature", expected: "a finite value ≥ 0 (0 = greedy)", got: temperature)
        }
        if topK < 0 || topK > vocabulary {
            throw SeqError.invalid("top_k", expected: "0 (all) to \(vocabulary) (the vocabulary)", got: topK)
        }
    }

    /// Picks a token from one row of logits.
    func pick<S: SeqScalar>(_ logits: ArraySlice<S>, _ rng: inout SeqRandom) -> Int {
        let z = logits.map(Double.init)
        if temperature == 0 { return z.indices.max { z[$0] < z[$1] }! }
        var order = Array(z.indices)
        if topK > 0 && topK < z.count {
            order.sort { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }
            order = Array(order.prefix(topK))
        }
        let m = order.map { z[$0] }.max()!
        let weights = order.map { Glibc_exp((z[$0] - m) / temperature) }
        let total = weights.reduce(0, +)
        var u = rng.nextUnit() * total
        for (i, w) in zip(order, weights) {
            u -= w
            if u < 0 { return i }
        }
        return order.last!
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func Glibc_exp(_ x: Double) -> Double { Glibc.exp(x) }
#endif

/// Inference one step or one chunk at a time with the state kept inside: a keyword spotter or a
/// sensor monitor feeds samples as they arrive. Results equal those of running the whole sequence
/// at once. Forward models only (reverse and bidirectional layers need the future).
public final class StreamingSession<S: SeqScalar> {
    public let model: SequenceModel<S>
    public let batch: Int
    /// a<t> [L, B, Hout] and c<t> [L, B, H] after the last step fed.
    public private(set) var h: Tensor<S>
    public private(set) var c: Tensor<S>?
    /// Steps fed since the last reset.
    public private(set) var position = 0
    /// What a one-step chunk runs through (`step`); nil until the first.
    private var plan: StepPlan<S>?

    public init(model: SequenceModel<S>, batch: Int = 1) throws {
        let rc = model.config.rnn
        if rc.direction != .forward {
            throw SeqError.invalid("model", expected: "a forward model for streaming (a \(rc.direction.rawValue) layer needs the sequence's end first)",
                                   got: rc.direction.rawValue)
        }
        if model.config.architecture == .seq2seq {
            throw SeqError.invalid("model", expected: "a tagger, classifier or language model for streaming", got: "seq2seq")
        }
        try Check.positive(batch, "batch")
        self.model = model
        self.batch = batch
        h = Tensor(zeros: [rc.numLayers, batch, rc.outputSize])
        c = rc.hasCellState ? Tensor(zeros: [rc.numLayers, batch, rc.hiddenSize]) : nil
    }

    /// Forgets the state: the next step starts a new sequence.
    public func reset() {
        h = Tensor(zeros: h.shape)
        c = c.map { Tensor(zeros: $0.shape) }
        position = 0
    }

    /// Sets the state (e.g. an encoder's), [L, B, Hout] and [L, B, H].
    @_specialize(where S == Float)
    public func setState(h: Tensor<S>, c: Tensor<S>?) throws {
        if h.shape != self.h.shape { throw SeqError.invalid("h", expected: "shape \(self.h.shape)", got: h.shape) }
        if let c, c.shape != self.c?.shape ?? [] {
            throw SeqError.invalid("c", expected: self.c == nil ? "nil (no memory cell)" : "shape \(self.c!.shape)", got: c.shape)
        }
        try model.rnn.checkFinite(h.data, "h")
        self.h = h
        if let c { try model.rnn.checkFinite(c.data, "c"); self.c = c }
    }

    /// Feeds a chunk of T ≥ 1 steps ([T, B, I] features or [T, B] tokens) and returns the head's
    /// logits z [T, B, K] for each step (apply `activate` for probabilities).
    @_specialize(where S == Float)
    public func feedLogits(_ input: SequenceInput<S>) throws -> Tensor<S> {
        try checkBatch(input)
        let a = try advance(input)
        let steps = a.shape[0], k = model.config.outputSize
        var z = [S](repeating: 0, count: steps * batch * k)
        z.withUnsafeMutableBufferPointer { head(a, into: $0.baseAddress!) }
        return Tensor(unchecked: [steps, batch, k], data: z)
    }

    /// `feedLogits` followed by the output activation: ŷ [T, B, K].
    @_specialize(where S == Float)
    public func feed(_ input: SequenceInput<S>) throws -> Tensor<S> {
        var z = try feedLogits(input)
        model.config.output.activate(&z.data, width: model.config.outputSize)
        return z
    }

    /// `feed`, writing ŷ [T, B, K] (time-major) into `output`, which must hold exactly T·B·K values:
    /// the same numbers without the intermediate arrays, for callers that step often (the C API).
    /// On failure the state and `output` are unchanged.
    @_specialize(where S == Float)
    public func feed(_ input: SequenceInput<S>, into output: UnsafeMutableBufferPointer<S>) throws {
        try checkBatch(input)
        let k = model.config.outputSize, needed = input.steps * batch * k
        if output.count != needed {
            throw SeqError.invalid("output", expected: "\(needed) values ([T, B, K] = [\(input.steps), \(batch), \(k)])", got: output.count)
        }
        let a = try advance(input)
        head(a, into: output.baseAddress!)
        model.config.output.activate(output, width: k)
    }

    /// `feed(_:into:)` on features the caller owns: `features` holds T·B·I values, time-major, and
    /// `output` T·B·K. The input is read in place (the chunk's a<t> is the only intermediate).
    /// On failure the state and `output` are unchanged.
    @_specialize(where S == Float)
    public func feed(features: UnsafePointer<S>, steps: Int, into output: UnsafeMutableBufferPointer<S>) throws {
        try checkFeatures()
        try Check.positive(steps, "steps")
        let k = model.config.outputSize, f = model.rnn.config.outputFeatures, needed = steps * batch * k
        if output.count != needed {
            throw SeqError.invalid("output", expected: "\(needed) values ([T, B, K] = [\(steps), \(batch), \(k)])", got: output.count)
        }
        if steps == 1, let a = try step(features) {
            model.head.forward(a, rows: batch, ldx: f, into: output.baseAddress!)
            model.config.output.activate(output, width: k)
            return
        }
        var a = [S](repeating: 0, count: steps * batch * f)
        try a.withUnsafeMutableBufferPointer { a in
            try feedHidden(features: features, steps: steps, into: a)
            model.head.forward(a.baseAddress!, rows: steps * batch, ldx: f, into: output.baseAddress!)
        }
        model.config.output.activate(output, width: k)
    }

    /// Advances the state as `feed` does but writes the stack's output a<t> [T, B, F] (time-major;
    /// F = `rnn.config.outputFeatures`, what the head reads) into `output`, which must hold exactly
    /// T·B·F values, and skips the head: the recurrent layers alone, as an encoder or a
    /// `torch.nn.LSTM` returns them. On failure the state and `output` are unchanged.
    @_specialize(where S == Float)
    public func feedHidden(_ input: SequenceInput<S>, into output: UnsafeMutableBufferPointer<S>) throws {
        try checkBatch(input)
        let f = model.rnn.config.outputFeatures, needed = input.steps * batch * f
        if output.count != needed {
            throw SeqError.invalid("output", expected: "\(needed) values ([T, B, F] = [\(input.steps), \(batch), \(f)])", got: output.count)
        }
        let a = try advance(input)
        a.data.withUnsafeBufferPointer { output.baseAddress!.update(from: $0.baseAddress!, count: needed) }
    }

    /// `feedHidden` on memory the caller owns: `features` holds T·B·I values, time-major, and
    /// `output` T·B·F. Nothing is copied in or out (for a caller that feeds large chunks, the
    /// arrays' allocations were most of a small layer's call: fresh pages at every call).
    @_specialize(where S == Float)
    public func feedHidden(features: UnsafePointer<S>, steps: Int, into output: UnsafeMutableBufferPointer<S>) throws {
        try checkFeatures()
        try Check.positive(steps, "steps")
        let rnn = model.rnn, f = rnn.config.outputFeatures, needed = steps * batch * f
        if output.count != needed {
            throw SeqError.invalid("output", expected: "\(needed) values ([T, B, F] = [\(steps), \(batch), \(f)])", got: output.count)
        }
        if steps == 1, let a = try step(features) {
            output.baseAddress!.update(from: a, count: needed)
            return
        }
        // The new state goes to new arrays, kept only when the pass succeeds.
        var cNew: [S]? = c.map { [S](repeating: 0, count: $0.data.count) }
        let hData = try h.data.withUnsafeBufferPointer { h0 in
            try [S](unsafeUninitializedCapacity: h.data.count) { hN, initialized in
                try withOptionalPointer(c?.data) { c0 in
                    try withOptional(&cNew) { cN in
                        try rnn.forward(timeMajor: features, steps: steps, batch: batch, h0: h0.baseAddress, c0: c0,
                                        output: output.baseAddress!, hN: hN.baseAddress!, cN: cN)
                    }
                }
                initialized = hN.count
            }
        }
        h = Tensor(unchecked: h.shape, data: hData)
        if let cNew, let shape = c?.shape { c = Tensor(unchecked: shape, data: cNew) }
        position += steps
    }

    private func checkBatch(_ input: SequenceInput<S>) throws {
        if input.batch != batch {
            throw SeqError.invalid("input", expected: "batch \(batch) (the session's)", got: input.batch)
        }
    }

    private func checkFeatures() throws {
        if model.embedding != nil {
            throw SeqError.invalid("input", expected: "token ids (the model has an embedding)", got: "feature vectors")
        }
    }

    /// Advances the state by one step of x<t> [B, I] through the step plan (made, or made again
    /// when the parameters changed) and returns the stack's a<t> [B, F], which stays valid until
    /// the next step. nil when the stack runs a step through `forward` (see `StepPlan.init`).
    /// On failure the state is unchanged.
    private func step(_ x: UnsafePointer<S>) throws -> UnsafePointer<S>? {
        let rnn = model.rnn
        try rnn.checkFinite(UnsafeBufferPointer(start: x, count: batch * rnn.config.inputSize), "input")
        // The read access to the parameters lasts the whole step, as in `forward`.
        let top: UnsafePointer<S>? = try rnn.arena.values.withUnsafeBufferPointer { values in
            if plan.map({ !$0.isCurrent(rnn, values: values) }) ?? true { plan = try StepPlan(rnn, batch: batch, values: values) }
            guard let plan else { return nil }
            return h.data.withUnsafeBufferPointer { h in
                withOptionalPointer(c?.data) { c in plan.run(x: x, h: h.baseAddress!, c: c) }
            }
        }
        guard let top, let plan else { return nil }
        h.data.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: plan.hNew.pointer, count: $0.count) }
        if let cNew = plan.cNew { c!.data.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: cNew.pointer, count: $0.count) } }
        position += 1
        return top
    }

    /// Runs the stack on a chunk from the current state and keeps its final state: the stack's
    /// output a<t> [T, B, F] (F = Hout·D).
    private func advance(_ input: SequenceInput<S>) throws -> Tensor<S> {
        let (x, _) = try model.embed(input, model.embedding, "input")
        let rnn = model.rnn, f = rnn.config.outputFeatures
        if x.shape.count == 3 && x.shape[0] == 1 && x.shape[1] == batch && x.shape[2] == rnn.config.inputSize,
           let a = try x.data.withUnsafeBufferPointer({ try step($0.baseAddress!) }) {
            return Tensor(unchecked: [1, batch, f], data: Array(UnsafeBufferPointer(start: a, count: batch * f)))
        }
        let out = try model.rnn.forward(x, h0: h, c0: c)
        h = out.hN
        c = out.cN
        position += x.shape[0]
        return out.output
    }

    /// z = W_ya a<t> + b_y for every row of `a` [T, B, F], into T·B·K values.
    private func head(_ a: Tensor<S>, into z: UnsafeMutablePointer<S>) {
        a.data.withUnsafeBufferPointer { o in
            model.head.forward(o.baseAddress!, rows: a.shape[0] * batch, ldx: model.rnn.config.outputFeatures, into: z)
        }
    }
}

extension SequenceModel {
    /// One-to-many generation (lesson 3): primes the state with `prefix`, then samples `count` tokens,
    /// each fed back as the next input. Stops early after `stopToken`. Returns the sampled tokens.
    @_specialize(where S == Float)
    public func generate(prefix: [Int], count: Int, sampling: Sampling = Sampling(), stopToken: Int? = nil) throws -> [Int] {
        guard config.architecture == .languageModel else {
            throw SeqError(.state, "generate: needs a language model, this is a \(config.architecture.rawValue)")
        }
        try Check.nonNegative(count, "count")
        try sampling.validate(vocabulary: config.outputSize)
        if prefix.isEmpty { throw SeqError.invalid("prefix", expected: "at least one token to start from", got: "[]") }
        let session = try StreamingSession(model: self)
        var rng = SeqRandom(seed: sampling.seed)
        var z = try session.feedLogits(.tokens(prefix, steps: prefix.count, batch: 1))
        var out: [Int] = []
        let k = config.outputSize
        while out.count < count {
            let last = z.data[(z.shape[0] - 1) * k ..< z.shape[0] * k]
            let token = sampling.pick(last, &rng)
            out.append(token)
            if token == stopToken { break }
            z = try session.feedLogits(.tokens([token], steps: 1, batch: 1))
        }
        return out
    }

    /// Seq2seq decoding: runs the encoder on `source`, then the decoder from <start>, picking each
    /// token (greedy when `sampling.temperature` is 0) until <stop> or `maxLength` tokens.
    /// Returns one token list per sequence, without the stop token.
    @_specialize(where S == Float)
    public func decode(_ source: SequenceInput<S>, lengths: [Int]? = nil, maxLength: Int, sampling: Sampling = .greedy) throws -> [[Int]] {
        guard config.architecture == .seq2seq, let dec = decoder, let demb = decoderEmbedding else {
            throw SeqError(.state, "decode: needs a seq2seq model, this is a \(config.architecture.rawValue)")
        }
        try Check.positive(maxLength, "max_length")
        try sampling.validate(vocabulary: config.outputSize)
        let (x, _) = try embed(source, embedding, "source")
        let b = x.shape[1]
        let enc = try rnn.forward(x, lengths: lengths)
        var h = bridge(enc.hN, batch: b, width: config.rnn.outputSize)
        var c = enc.cN.map { bridge($0, batch: b, width: config.rnn.hiddenSize) }
        var rng = SeqRandom(seed: sampling.seed)
        var current = [Int](repeating: config.startToken, count: b)
        var results = [[Int]](repeating: [], count: b), done = [Bool](repeating: false, count: b)
        let k = config.outputSize, f = dec.config.outputFeatures
        for _ in 0 ..< maxLength where done.contains(false) {
            let out = try dec.forward(Tensor(unchecked: [1, b, demb.embeddingSize], data: demb.forward(current)), h0: h, c0: c)
            h = out.hN
            c = out.cN
            var z = [S](repeating: 0, count: b * k)
            out.output.data.withUnsafeBufferPointer { o in
                z.withUnsafeMutableBufferPointer { head.forward(o.baseAddress!, rows: b, ldx: f, into: $0.baseAddress!) }
            }
            for r in 0 ..< b where !done[r] {
                let token = sampling.pick(z[r * k ..< (r + 1) * k], &rng)
                if token == config.stopToken { done[r] = true } else { results[r].append(token) }
                current[r] = token
            }
        }
        return results
    }
}

@inline(__always)
private func withOptional<T, R>(_ array: inout [T]?, _ body: (UnsafeMutablePointer<T>?) throws -> R) rethrows -> R {
    guard array != nil else { return try body(nil) }
    return try array!.withUnsafeMutableBufferPointer { try body($0.baseAddress) }
}
