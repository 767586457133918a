import Foundation
import SeqCore

/// Part (c) of the demo: a character-level language model (one-to-many generation, lesson 3)
/// trained on names, then sampled: each sampled letter is fed back as the next input.
struct NameGeneratorExperiment {
    var trainingSteps = 1500
    var batchSize = 64
    var hiddenSize = 128
    var learningRate = 0.003
    var seed: UInt64 = 21
    var sampleCount = 10
    var temperature = 0.8
    var source: NameGeneratorData.Source

    struct Result {
        var model: SequenceModel<Float>
        var samples: [String]
        /// Cross-entropy per character (nats) on held-out words, before and after training.
        var lossBefore: Double
        var lossAfter: Double
        var seconds: Double
        var lossCurve: [(Int, Double)]
        var trainingWords: Set<String>
    }

    /// Input "^word" and target "word$" (^ = $ = the boundary id), padded, time-major.
    static func batch(_ words: [String]) throws -> SequenceBatch<Float> {
        let inputs = words.map { [Letters.boundary] + Letters.encode($0) }
        let (tokens, steps, lengths) = try SequenceBatch<Float>.padded(inputs, pad: Letters.boundary)
        var targets = [Int](repeating: Letters.boundary, count: steps * words.count)
        for (b, w) in words.enumerated() {
            for (t, id) in (Letters.encode(w) + [Letters.boundary]).enumerated() { targets[t * words.count + b] = id }
        }
        return SequenceBatch(input: .tokens(tokens, steps: steps, batch: words.count), lengths: lengths,
                             target: .classes(targets))
    }

    func run(quiet: Bool) throws -> Result {
        var rng = SeqRandom(seed: seed)
        var words = source.words
        words.shuffle(using: &rng)
        let heldOut = Array(words.prefix(max(50, words.count / 20)))
        let training = Array(words.dropFirst(heldOut.count))
        let config = ModelConfig(architecture: .languageModel,
                                 rnn: RecurrentConfig(cell: .lstm, inputSize: 16, hiddenSize: hiddenSize),
                                 vocabularySize: Letters.count, embeddingSize: 16, outputSize: Letters.count)
        let model = try SequenceModel<Float>(config, seed: seed)
        let optimizer = try Optimizer<Float>(.adam(), learningRate: learningRate, for: model.arena)
        let test = try Self.batch(heldOut)
        let before = try model.evaluate(test).loss
        let clock = Stopwatch()
        let bar = ProgressBar("name generator", total: trainingSteps, quiet: quiet)
        var curve: [(Int, Double)] = []
        var smoothed = Double.nan
        for step in 1 ... trainingSteps {
            let picked = (0 ..< batchSize).map { _ in training[min(training.count - 1, Int(rng.nextUnit() * Double(training.count)))] }
            model.arena.zeroGradients()
            let r = try model.lossAndGradients(Self.batch(picked))
            try model.arena.clipGradientNorm(maxNorm: 5)
            try optimizer.step(model.arena)
            smoothed = smoothed.isNaN ? r.loss : 0.95 * smoothed + 0.05 * r.loss
            if step % 10 == 0 { curve.append((step, smoothed)) }
            bar.update(step, note: "loss \(Format.fixed(smoothed, 3))")
        }
        bar.finish()
        let seconds = clock.elapsed
        let after = try model.evaluate(test).loss
        var samples: [String] = []
        for i in 0 ..< sampleCount {
            let ids = try model.generate(prefix: [Letters.boundary], count: 16,
                                         sampling: Sampling(temperature: temperature, seed: seed &+ UInt64(i)),
                                         stopToken: Letters.boundary)
            samples.append(Letters.decode(ids))
        }
        return Result(model: model, samples: samples, lossBefore: before, lossAfter: after, seconds: seconds,
                      lossCurve: curve, trainingWords: Set(training))
    }

}
