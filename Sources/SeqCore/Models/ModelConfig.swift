/// The four architectures of lesson 3.
public enum Architecture: String, Sendable, CaseIterable {
    /// Many-to-many, Tx = Ty: an output at every step (the name tagger).
    case tagger
    /// Many-to-one: one output per sequence, from the final state.
    case classifier
    /// One-to-many generation: a language model predicting token t+1 from tokens ≤ t; sampling
    /// feeds each sample back as the next input.
    case languageModel = "language_model"
    /// Many-to-many, Tx ≠ Ty: an encoder whose final state starts a decoder.
    case seq2seq
}

/// The output activation g_y and the loss it pairs with (lesson 2).
public enum OutputKind: String, Sendable, CaseIterable {
    /// ŷ = σ(z), binary cross-entropy: one or more independent yes/no labels per step.
    case binary
    /// ŷ = softmax(z), cross-entropy: one class of K.
    case classes
    /// ŷ = z, mean squared error.
    case regression
}

/// Everything that fixes a model's shapes. Legend: V vocabulary, E embedding size, K outputs.
public struct ModelConfig: Equatable, Sendable {
    public var architecture: Architecture
    /// The recurrent stack (the encoder's, for seq2seq). Its `inputSize` is E when the input is tokens.
    public var rnn: RecurrentConfig
    /// V > 0: inputs are token ids through an embedding of size E; 0: inputs are feature vectors.
    public var vocabularySize: Int
    public var embeddingSize: Int
    /// A token id whose embedding stays zero (PyTorch `padding_idx`), or nil.
    public var paddingIndex: Int?
    /// K: outputs per step (tagger, regression), classes, or the target vocabulary (language model, seq2seq).
    public var outputSize: Int
    public var output: OutputKind
    public var reduction: LossReduction
    /// Labels equal to this contribute nothing to a softmax loss (PyTorch `ignore_index`).
    public var ignoreIndex: Int?
    /// Seq2seq only: the decoder's start and stop tokens, ids in the target vocabulary (K).
    public var startToken: Int
    public var stopToken: Int

    public init(architecture: Architecture, rnn: RecurrentConfig, vocabularySize: Int = 0, embeddingSize: Int = 0,
                paddingIndex: Int? = nil, outputSize: Int, output: OutputKind = .classes,
                reduction: LossReduction = .meanOverSteps, ignoreIndex: Int? = nil, startToken: Int = 0, stopToken: Int = 1) {
        self.architecture = architecture
        self.rnn = rnn
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.paddingIndex = paddingIndex
        self.outputSize = outputSize
        self.output = output
        self.reduction = reduction
        self.ignoreIndex = ignoreIndex
        self.startToken = startToken
        self.stopToken = stopToken
    }

    public var usesTokens: Bool { vocabularySize > 0 }

    public func validate() throws {
        try Check.nonNegative(vocabularySize, "vocab_size")
        try Check.positive(outputSize, "output_size")
        if usesTokens {
            try Check.positive(embeddingSize, "embedding_size")
            if rnn.inputSize != embeddingSize {
                throw SeqError.invalid("input_size", expected: "embedding_size (\(embeddingSize)) when the input is tokens", got: rnn.inputSize)
            }
        }
        try rnn.validate()
        switch architecture {
        case .languageModel:
            if !usesTokens { throw SeqError.invalid("vocab_size", expected: "> 0 for a language model", got: vocabularySize) }
            if outputSize != vocabularySize {
                throw SeqError.invalid("output_size", expected: "vocab_size (\(vocabularySize)) for a language model", got: outputSize)
            }
            if output != .classes { throw SeqError.invalid("output", expected: "classes for a language model", got: output.rawValue) }
            if rnn.direction != .forward {
                throw SeqError.invalid("direction", expected: "forward for a language model (it predicts the future)", got: rnn.direction.rawValue)
            }
        case .seq2seq:
            if output != .classes { throw SeqError.invalid("output", expected: "classes for seq2seq", got: output.rawValue) }
            for (name, id) in [("start_token", startToken), ("stop_token", stopToken)] where id < 0 || id >= outputSize {
                throw SeqError.invalid(name, expected: "a token id in 0..<\(outputSize) (output_size)", got: id)
            }
            if rnn.direction == .reverse {
                throw SeqError.invalid("direction", expected: "forward or bidirectional for a seq2seq encoder", got: "reverse")
            }
            // Target tokens are also the decoder's inputs (teacher forcing): an ignored one must
            // still be a token the decoder can embed.
            if let ignoreIndex, !(0 ..< outputSize).contains(ignoreIndex) {
                throw SeqError.invalid("ignore_index", expected: "a token id in 0..<\(outputSize) (output_size) for seq2seq, "
                                       + "whose targets are fed to the decoder", got: ignoreIndex)
            }
        case .tagger, .classifier:
            break
        }
        if let ignoreIndex, output != .classes {
            throw SeqError.invalid("ignore_index", expected: "nil unless output is classes", got: ignoreIndex)
        }
    }

    /// The seq2seq decoder: one direction, the encoder's layers and sizes, input = its embedding.
    var decoderConfig: RecurrentConfig {
        var d = rnn
        d.direction = .forward
        d.inputSize = embeddingSize > 0 ? embeddingSize : rnn.hiddenSize
        return d
    }
}

/// A model's input for one batch, time-major.
public enum SequenceInput<S: SeqScalar> {
    /// Feature vectors [T, B, I].
    case features(Tensor<S>)
    /// Token ids [T, B], row-major (index t·B + b).
    case tokens([Int], steps: Int, batch: Int)

    /// T (0 for features that are not [T, B, I]).
    public var steps: Int {
        switch self {
        case .features(let t): return t.shape.count == 3 ? t.shape[0] : 0
        case .tokens(_, let s, _): return s
        }
    }

    /// B (0 for features that are not [T, B, I]).
    public var batch: Int {
        switch self {
        case .features(let t): return t.shape.count == 3 ? t.shape[1] : 0
        case .tokens(_, _, let b): return b
        }
    }
}

/// A model's targets for one batch.
public enum SequenceTarget<S: SeqScalar> {
    /// Class ids: [T, B] for per-step models, [B] for a classifier.
    case classes([Int])
    /// Values (binary labels in [0, 1] or regression targets): [T, B, K] per step, [B, K] per sequence.
    case values(Tensor<S>)
}

/// One batch: inputs, their lengths, targets; for seq2seq the target token sequences.
public struct SequenceBatch<S: SeqScalar> {
    public var input: SequenceInput<S>
    /// B lengths in 1...T (nil: all T).
    public var lengths: [Int]?
    public var target: SequenceTarget<S>?
    /// Seq2seq: target token ids [Ty, B] (without start or stop tokens) and their lengths.
    public var targetTokens: [Int]?
    public var targetSteps: Int
    public var targetLengths: [Int]?
    /// Initial states of the recurrent stack, [L·D, B, Hout] and [L·D, B, H] (nil: zeros). Truncated
    /// BPTT carries them from one chunk of a long sequence to the next.
    public var h0: Tensor<S>?
    public var c0: Tensor<S>?

    public init(input: SequenceInput<S>, lengths: [Int]? = nil, target: SequenceTarget<S>? = nil,
                h0: Tensor<S>? = nil, c0: Tensor<S>? = nil) {
        self.input = input
        self.lengths = lengths
        self.target = target
        self.h0 = h0
        self.c0 = c0
        targetSteps = 0
    }

    /// A seq2seq batch: sources [Tx, B] and targets [Ty, B] (token ids, time-major), each with lengths.
    public init(source: SequenceInput<S>, sourceLengths: [Int]?, targetTokens: [Int], targetSteps: Int, targetLengths: [Int]?) {
        input = source
        lengths = sourceLengths
        self.targetTokens = targetTokens
        self.targetSteps = targetSteps
        self.targetLengths = targetLengths
    }

    /// Pads ragged token sequences into a time-major batch; `pad` fills the steps past each length.
    public static func padded(_ sequences: [[Int]], pad: Int = 0) throws -> (tokens: [Int], steps: Int, lengths: [Int]) {
        guard !sequences.isEmpty else { throw SeqError.invalid("sequences", expected: "at least one sequence", got: 0) }
        if let i = sequences.firstIndex(where: { $0.isEmpty }) {
            throw SeqError.invalid("sequences", expected: "non-empty sequences", got: "an empty one at index \(i)")
        }
        let steps = sequences.map(\.count).max()!, batch = sequences.count
        var tokens = [Int](repeating: pad, count: steps * batch)
        for (b, s) in sequences.enumerated() { for (t, v) in s.enumerated() { tokens[t * batch + b] = v } }
        return (tokens, steps, sequences.map(\.count))
    }
}
