import Foundation
import SeqCore

/// Part (b) of the demo: the name tagger of lessons 1 and 3, many-to-many with Tx = Ty, bidirectional.
struct NameTaggerExperiment {
    var trainingSteps = 300
    var batchSize = 32
    var learningRate = 0.01
    /// Probability that a training word is replaced by <unk>, so the model learns to tag words it has
    /// never seen from their context.
    var wordDropout = 0.1
    var seed: UInt64 = 11
    var testSentences = 500

    struct Result {
        var model: SequenceModel<Float>
        var vocabulary: Vocabulary
        var accuracy: Double
        var testTokens: Int
        var nameRecall: Double
        var seconds: Double
        var lossCurve: [(Int, Double)]
    }

    func batch(_ sentences: [[(word: String, label: Int)]], _ vocabulary: Vocabulary, dropout: Double,
               _ rng: inout SeqRandom) throws -> SequenceBatch<Float> {
        let ids = sentences.map { s in
            s.map { w in dropout > 0 && rng.nextUnit() < dropout ? Vocabulary.unknown : vocabulary.id(w.word) }
        }
        let (tokens, steps, lengths) = try SequenceBatch<Float>.padded(ids, pad: Vocabulary.pad)
        let n = sentences.count
        var labels = [Float](repeating: 0, count: steps * n)
        for (b, s) in sentences.enumerated() { for (t, w) in s.enumerated() { labels[t * n + b] = Float(w.label) } }
        return SequenceBatch(input: .tokens(tokens, steps: steps, batch: n), lengths: lengths,
                             target: .values(try Tensor(shape: [steps, n, 1], data: labels)))
    }

    /// ŷ<t> = P(word t is part of a name) for each word of one sentence.
    static func tag(_ words: [String], _ model: SequenceModel<Float>, _ vocabulary: Vocabulary) throws -> [Double] {
        let ids = words.map(vocabulary.id)
        let y = try model.predict(.tokens(ids, steps: ids.count, batch: 1))
        return y.data.map(Double.init)
    }

    func run(quiet: Bool) throws -> Result {
        var rng = SeqRandom(seed: seed)
        var vocabulary = Vocabulary()
        // The vocabulary is what training can see: every word of a large sample of training sentences.
        for _ in 0 ..< 2000 {
            for w in NameTaggerData.sentence(&rng, heldOutNames: false) { _ = vocabulary.add(w.word) }
        }
        let config = ModelConfig(architecture: .tagger,
                                 rnn: RecurrentConfig(cell: .lstm, inputSize: 16, hiddenSize: 32, direction: .bidirectional),
                                 vocabularySize: vocabulary.count, embeddingSize: 16, paddingIndex: Vocabulary.pad,
                                 outputSize: 1, output: .binary)
        let model = try SequenceModel<Float>(config, seed: seed)
        let optimizer = try Optimizer<Float>(.adam(), learningRate: learningRate, for: model.arena)
        let clock = Stopwatch()
        let bar = ProgressBar("name tagger", total: trainingSteps, quiet: quiet)
        var curve: [(Int, Double)] = []
        var smoothed = Double.nan
        for step in 1 ... trainingSteps {
            let sentences = (0 ..< batchSize).map { _ in NameTaggerData.sentence(&rng, heldOutNames: false) }
            model.arena.zeroGradients()
            let r = try model.lossAndGradients(batch(sentences, vocabulary, dropout: wordDropout, &rng))
            try model.arena.clipGradientNorm(maxNorm: 5)
            try optimizer.step(model.arena)
            smoothed = smoothed.isNaN ? r.loss : 0.9 * smoothed + 0.1 * r.loss
            if step % 5 == 0 { curve.append((step, smoothed)) }
            bar.update(step, note: "loss \(Format.fixed(smoothed, 3))")
        }
        bar.finish()
        let seconds = clock.elapsed

        // Held-out sentences: their names were never in training, so they reach the model as <unk>.
        var testRNG = SeqRandom(seed: seed &+ 99)
        let test = (0 ..< testSentences).map { _ in NameTaggerData.sentence(&testRNG, heldOutNames: true) }
        let tb = try batch(test, vocabulary, dropout: 0, &testRNG)
        let y = try model.predict(tb.input, lengths: tb.lengths)
        var correct = 0, total = 0, names = 0, namesFound = 0
        let n = test.count
        for (b, s) in test.enumerated() {
            for (t, w) in s.enumerated() {
                let predicted = y.data[t * n + b] > 0.5 ? 1 : 0
                total += 1
                if predicted == w.label { correct += 1 }
                if w.label == 1 { names += 1; if predicted == 1 { namesFound += 1 } }
            }
        }
        return Result(model: model, vocabulary: vocabulary, accuracy: Double(correct) / Double(total), testTokens: total,
                      nameRecall: Double(namesFound) / Double(max(1, names)), seconds: seconds, lossCurve: curve)
    }

    /// The words of a sentence with the predicted labels under them, column-aligned:
    ///
    ///     Harry Potter and Hermione Granger invented a new spell
    ///         1      1   0        1       1        0 0   0     0
    static func render(_ words: [String], _ probabilities: [Double], indent: String = "    ") -> String {
        let labels = probabilities.map { $0 > 0.5 ? "1" : "0" }
        let widths = words.map(\.count)
        let top = indent + words.joined(separator: " ")
        var bottom = indent + zip(labels, widths).map { Format.padRight($0, $1) }.joined(separator: " ")
        while bottom.last == " " { bottom.removeLast() }
        return top + "\n" + bottom
    }
}
