/// A fully connected layer, PyTorch's `nn.Linear`: y = x W_yᵀ + b_y, W_y [K, F], b_y [K].
/// As the course's output layer ŷ<t> = g_y(W_ya a<t> + b_y), the activation g_y is left to the loss
/// (which works from logits) or to `OutputKind.activate`.
public final class Dense<S: SeqScalar> {
    public let inputSize: Int
    public let outputSize: Int
    public let arena: ParameterArena<S>
    let weightOffset: Int
    let biasOffset: Int

    /// Registers `<prefix>weight` [K, F] and `<prefix>bias` [K], initialised U(±1/√F) as PyTorch does.
    public convenience init(inputSize: Int, outputSize: Int, arena: ParameterArena<S>, prefix: String, seed: UInt64) throws {
        try self.init(inputSize: inputSize, outputSize: outputSize, arena: arena, prefix: prefix, drawnFrom: seed)
    }

    /// `drawnFrom: nil` leaves the parameters zero, for a layer whose parameters are loaded next.
    init(inputSize: Int, outputSize: Int, arena: ParameterArena<S>, prefix: String, drawnFrom seed: UInt64?) throws {
        try Check.positive(inputSize, "\(prefix)in_features")
        try Check.positive(outputSize, "\(prefix)out_features")
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.arena = arena
        weightOffset = try arena.register(prefix + "weight", shape: [outputSize, inputSize])
        biasOffset = try arena.register(prefix + "bias", shape: [outputSize])
        guard let seed else { return }
        var rng = SeqRandom(seed: seed)
        let bound = 1 / Double(inputSize).squareRoot()
        for i in 0 ..< outputSize * (inputSize + 1) { arena.values[weightOffset + i] = S(rng.uniform(-bound, bound)) }
    }

    /// y [N, K] = x [N, F] · Wᵀ + b, x rows with stride `ldx`.
    func forward(_ x: UnsafePointer<S>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<S>) {
        arena.values.withUnsafeBufferPointer { v in
            let w = v.baseAddress! + weightOffset, b = v.baseAddress! + biasOffset
            for r in 0 ..< rows { (y + r * outputSize).update(from: b, count: outputSize) }
            Kernels.gemm(transA: false, transB: true, m: rows, n: outputSize, k: inputSize, alpha: 1, a: x, lda: ldx,
                         b: w, ldb: inputSize, beta: 1, c: y, ldc: outputSize)
        }
    }

    /// dW += dyᵀ x;  db += Σ dy;  dx = dy · W (overwritten, stride `ldx`).
    func backward(_ x: UnsafePointer<S>, rows: Int, ldx: Int, dy: UnsafePointer<S>, dx: UnsafeMutablePointer<S>?) {
        arena.values.withUnsafeBufferPointer { v in
            arena.gradients.withUnsafeMutableBufferPointer { g in
                let w = v.baseAddress! + weightOffset
                Kernels.gemm(transA: true, transB: false, m: outputSize, n: inputSize, k: rows, alpha: 1, a: dy, lda: outputSize,
                             b: x, ldb: ldx, beta: 1, c: g.baseAddress! + weightOffset, ldc: inputSize)
                Kernels.accumulateColumnSums(dy, rows: rows, n: outputSize, ldx: outputSize, into: g.baseAddress! + biasOffset)
                if let dx {
                    Kernels.gemm(transA: false, transB: false, m: rows, n: inputSize, k: outputSize, alpha: 1, a: dy,
                                 lda: outputSize, b: w, ldb: inputSize, beta: 0, c: dx, ldc: ldx)
                }
            }
        }
    }
}

/// Token ids → vectors, PyTorch's `nn.Embedding`: `<prefix>weight` [V, E], row v is token v's vector.
/// The row of `paddingIndex` stays zero and receives no gradient, as in PyTorch.
public final class Embedding<S: SeqScalar> {
    public let vocabularySize: Int
    public let embeddingSize: Int
    public let paddingIndex: Int?
    public let arena: ParameterArena<S>
    let offset: Int

    /// Initialised N(0, 1) as PyTorch does.
    public convenience init(vocabularySize: Int, embeddingSize: Int, paddingIndex: Int?, arena: ParameterArena<S>,
                            prefix: String, seed: UInt64) throws {
        try self.init(vocabularySize: vocabularySize, embeddingSize: embeddingSize, paddingIndex: paddingIndex, arena: arena,
                      prefix: prefix, drawnFrom: seed)
    }

    /// `drawnFrom: nil` leaves the table zero, for an embedding whose parameters are loaded next.
    init(vocabularySize: Int, embeddingSize: Int, paddingIndex: Int?, arena: ParameterArena<S>,
         prefix: String, drawnFrom seed: UInt64?) throws {
        try Check.positive(vocabularySize, "vocab_size")
        try Check.positive(embeddingSize, "embedding_size")
        if let p = paddingIndex, p < 0 || p >= vocabularySize {
            throw SeqError.invalid("padding_index", expected: "a token id in 0..<\(vocabularySize)", got: p)
        }
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.paddingIndex = paddingIndex
        self.arena = arena
        offset = try arena.register(prefix + "weight", shape: [vocabularySize, embeddingSize])
        guard let seed else { return }
        var rng = SeqRandom(seed: seed)
        for v in 0 ..< vocabularySize {
            for e in 0 ..< embeddingSize {
                arena.values[offset + v * embeddingSize + e] = v == paddingIndex ? 0 : S(rng.normal())
            }
        }
    }

    /// Throws when any id is outside 0..<V, naming the first offender's position.
    func validate(_ tokens: [Int], _ name: String) throws {
        if let i = tokens.firstIndex(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw SeqError.invalid(name, expected: "token ids in 0..<\(vocabularySize)", got: "\(tokens[i]) at index \(i)")
        }
    }

    /// [N] ids → [N, E] vectors.
    func forward(_ tokens: [Int]) -> [S] {
        var out = [S](repeating: 0, count: tokens.count * embeddingSize)
        arena.values.withUnsafeBufferPointer { v in
            for (i, t) in tokens.enumerated() {
                for e in 0 ..< embeddingSize { out[i * embeddingSize + e] = v[offset + t * embeddingSize + e] }
            }
        }
        return out
    }

    /// dE[token] += dx row, except for the padding index.
    func backward(_ tokens: [Int], dx: [S]) {
        arena.gradients.withUnsafeMutableBufferPointer { g in
            for (i, t) in tokens.enumerated() where t != paddingIndex {
                for e in 0 ..< embeddingSize { g[offset + t * embeddingSize + e] += dx[i * embeddingSize + e] }
            }
        }
    }
}
