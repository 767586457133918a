/// A set of ragged sequences and their targets, from which the training loop draws padded batches.
/// Legend: N examples, T_i the length of example i, I features, K outputs.
public final class SequenceDataset<S: SeqScalar> {
    public enum Inputs {
        /// Token ids, one list per example.
        case tokens([[Int]])
        /// Feature vectors: example i is T_i·I values, step-major.
        case features([[S]], width: Int)
    }

    public enum Targets {
        /// A class id per step (tagger, language model): T_i ids per example.
        case stepClasses([[Int]])
        /// Values per step (binary labels or regression): T_i·K values per example.
        case stepValues([[S]], width: Int)
        /// One class id per example (classifier).
        case sequenceClasses([Int])
        /// K values per example (classifier with binary or regression output).
        case sequenceValues([[S]], width: Int)
        /// A target token sequence per example (seq2seq), without start or stop tokens.
        case tokenSequences([[Int]])
    }

    public let inputs: Inputs
    public let targets: Targets
    public let lengths: [Int]

    public var count: Int { lengths.count }

    public init(inputs: Inputs, targets: Targets) throws {
        let lengths: [Int]
        switch inputs {
        case .tokens(let t):
            lengths = t.map(\.count)
        case .features(let f, let width):
            try Check.positive(width, "width")
            if let i = f.firstIndex(where: { $0.count % width != 0 }) {
                throw SeqError.invalid("inputs", expected: "a multiple of width \(width) values per example", got: "\(f[i].count) in example \(i)")
            }
            lengths = f.map { $0.count / width }
        }
        if lengths.isEmpty { throw SeqError.invalid("inputs", expected: "at least one example", got: 0) }
        if let i = lengths.firstIndex(of: 0) {
            throw SeqError.invalid("inputs", expected: "non-empty sequences", got: "an empty one at index \(i)")
        }
        let n = lengths.count
        func checkCount(_ c: Int) throws {
            if c != n { throw SeqError.invalid("targets", expected: "\(n) examples (as many as inputs)", got: c) }
        }
        switch targets {
        case .stepClasses(let y):
            try checkCount(y.count)
            if let i = y.indices.first(where: { y[$0].count != lengths[$0] }) {
                throw SeqError.invalid("targets", expected: "\(lengths[i]) labels for example \(i) (its length)", got: y[i].count)
            }
        case .stepValues(let y, let k):
            try checkCount(y.count)
            try Check.positive(k, "width")
            if let i = y.indices.first(where: { y[$0].count != lengths[$0] * k }) {
                throw SeqError.invalid("targets", expected: "\(lengths[i] * k) values for example \(i) (length × \(k))", got: y[i].count)
            }
        case .sequenceClasses(let y):
            try checkCount(y.count)
        case .sequenceValues(let y, let k):
            try checkCount(y.count)
            if let i = y.firstIndex(where: { $0.count != k }) {
                throw SeqError.invalid("targets", expected: "\(k) values per example", got: "\(y[i].count) in example \(i)")
            }
        case .tokenSequences(let y):
            try checkCount(y.count)
            if let i = y.firstIndex(where: { $0.isEmpty }) {
                throw SeqError.invalid("targets", expected: "non-empty target sequences", got: "an empty one at index \(i)")
            }
        }
        self.inputs = inputs
        self.targets = targets
        self.lengths = lengths
    }

    /// Padded, time-major batch of examples `indices`, restricted to time steps `window` of each
    /// (truncated BPTT); examples whose sequence does not reach the window must not be passed.
    public func batch(_ indices: [Int], window: Range<Int>? = nil) -> SequenceBatch<S> {
        let b = indices.count
        let start = window?.lowerBound ?? 0
        let lens = indices.map { i in min(lengths[i], window?.upperBound ?? Int.max) - start }
        let steps = lens.max()!
        let input: SequenceInput<S>
        switch inputs {
        case .tokens(let t):
            var ids = [Int](repeating: 0, count: steps * b)
            for (r, i) in indices.enumerated() { for s in 0 ..< lens[r] { ids[s * b + r] = t[i][start + s] } }
            input = .tokens(ids, steps: steps, batch: b)
        case .features(let f, let w):
            var x = [S](repeating: 0, count: steps * b * w)
            for (r, i) in indices.enumerated() {
                for s in 0 ..< lens[r] { for j in 0 ..< w { x[(s * b + r) * w + j] = f[i][(start + s) * w + j] } }
            }
            input = .features(Tensor(unchecked: [steps, b, w], data: x))
        }
        switch targets {
        case .stepClasses(let y):
            var labels = [Int](repeating: 0, count: steps * b)
            for (r, i) in indices.enumerated() { for s in 0 ..< lens[r] { labels[s * b + r] = y[i][start + s] } }
            return SequenceBatch(input: input, lengths: lens, target: .classes(labels))
        case .stepValues(let y, let k):
            var v = [S](repeating: 0, count: steps * b * k)
            for (r, i) in indices.enumerated() {
                for s in 0 ..< lens[r] { for j in 0 ..< k { v[(s * b + r) * k + j] = y[i][(start + s) * k + j] } }
            }
            return SequenceBatch(input: input, lengths: lens, target: .values(Tensor(unchecked: [steps, b, k], data: v)))
        case .sequenceClasses(let y):
            return SequenceBatch(input: input, lengths: lens, target: .classes(indices.map { y[$0] }))
        case .sequenceValues(let y, let k):
            return SequenceBatch(input: input, lengths: lens, target: .values(Tensor(unchecked: [b, k], data: indices.flatMap { y[$0] })))
        case .tokenSequences(let y):
            let ty = indices.map { y[$0].count }.max()!
            var ids = [Int](repeating: 0, count: ty * b)
            for (r, i) in indices.enumerated() { for (s, v) in y[i].enumerated() { ids[s * b + r] = v } }
            return SequenceBatch(source: input, sourceLengths: lens, targetTokens: ids, targetSteps: ty,
                                 targetLengths: indices.map { y[$0].count })
        }
    }
}
