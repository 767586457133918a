import XCTest
import SeqCore

/// Each architecture of lesson 3 learns a small task to a stated threshold within seconds.
final class ArchitectureTests: XCTestCase {
    /// Zero gradients, forward + loss + backward, clip, Adam step.
    @discardableResult
    func step(_ model: SequenceModel<Float>, _ opt: Optimizer<Float>, _ batch: SequenceBatch<Float>) throws -> Double {
        model.arena.zeroGradients()
        let r = try model.lossAndGradients(batch)
        try model.arena.clipGradientNorm(maxNorm: 5)
        try opt.step(model.arena)
        return r.loss
    }

    // MARK: Tagger — the course's name-tagging example

    static let firstNames = ["Harry", "Hermione", "Ron", "Ginny", "Albus", "Luna", "Neville", "Draco", "Minerva", "Severus"]
    static let lastNames = ["Potter", "Granger", "Weasley", "Dumbledore", "Lovegood", "Longbottom", "Malfoy", "McGonagall", "Snape"]
    static let verbs = ["invented", "found", "cast", "learned", "broke", "forgot", "taught"]
    static let adjectives = ["a new", "an old", "a strange", "a secret", "the dark", "a simple"]
    static let nouns = ["spell", "potion", "wand", "book", "charm", "map"]
    static let fillers = ["yesterday", "quietly", "again", "in the library", "at night"]

    /// A sentence and its labels: 1 for every word of a name, 0 otherwise.
    static func sentence(_ rng: inout SeqRandom) -> [(String, Int)] {
        func pick(_ a: [String]) -> String { a[Int(rng.nextUnit() * Double(a.count))] }
        func name() -> [(String, Int)] {
            rng.nextUnit() < 0.7 ? [(pick(firstNames), 1), (pick(lastNames), 1)] : [(pick(firstNames), 1)]
        }
        var words: [(String, Int)] = name()
        if rng.nextUnit() < 0.5 { words += [("and", 0)] + name() }
        words.append((pick(verbs), 0))
        words += pick(adjectives).split(separator: " ").map { (String($0), 0) }
        words.append((pick(nouns), 0))
        if rng.nextUnit() < 0.4 { words += pick(fillers).split(separator: " ").map { (String($0), 0) } }
        if rng.nextUnit() < 0.3 { words += [("with", 0)] + name() }
        words.append((".", 0))
        return words
    }

    func testTaggerLearnsNames() throws {
        var vocab: [String: Int] = ["<pad>": 0]
        func id(_ w: String) -> Int { if let i = vocab[w] { return i }; vocab[w] = vocab.count; return vocab.count - 1 }
        var rng = SeqRandom(seed: 1)
        func batch(_ n: Int) -> SequenceBatch<Float> {
            let sents = (0 ..< n).map { _ in Self.sentence(&rng) }
            let (tokens, steps, lengths) = try! SequenceBatch<Float>.padded(sents.map { $0.map { id($0.0) } })
            var labels = [Float](repeating: 0, count: steps * n)
            for (b, s) in sents.enumerated() { for (t, w) in s.enumerated() { labels[t * n + b] = Float(w.1) } }
            return SequenceBatch(input: .tokens(tokens, steps: steps, batch: n), lengths: lengths,
                                 target: .values(try! Tensor(shape: [steps, n, 1], data: labels)))
        }
        // Build the vocabulary first so the embedding covers every word.
        for _ in 0 ..< 200 { for (w, _) in Self.sentence(&rng) { _ = id(w) } }
        let config = ModelConfig(architecture: .tagger,
                                 rnn: RecurrentConfig(cell: .lstm, inputSize: 16, hiddenSize: 24, direction: .bidirectional),
                                 vocabularySize: vocab.count, embeddingSize: 16, paddingIndex: 0, outputSize: 1, output: .binary)
        let model = try SequenceModel<Float>(config, seed: 3)
        let opt = try Optimizer<Float>(.adam(), learningRate: 0.01, for: model.arena)
        for _ in 0 ..< 150 { try step(model, opt, batch(32)) }

        let test = batch(200)
        let y = try model.predict(test.input, lengths: test.lengths)
        guard case .values(let labels) = test.target! else { return XCTFail() }
        var correct = 0, total = 0
        let b = 200
        for t in 0 ..< y.shape[0] {
            for r in 0 ..< b where t < test.lengths![r] {
                total += 1
                if (y.data[t * b + r] > 0.5) == (labels.data[t * b + r] > 0.5) { correct += 1 }
            }
        }
        let accuracy = Double(correct) / Double(total)
        print("tagger token accuracy: \(accuracy) over \(total) tokens")
        XCTAssertGreaterThanOrEqual(accuracy, 0.99)
    }

    // MARK: Seq2seq — reversing short sequences

    func testSeq2SeqReverses() throws {
        // Target vocabulary: 0 = <start>, 1 = <stop>, 2...9 digits. Source uses the same ids.
        let config = ModelConfig(architecture: .seq2seq,
                                 rnn: RecurrentConfig(cell: .lstm, inputSize: 16, hiddenSize: 64),
                                 vocabularySize: 10, embeddingSize: 16, outputSize: 10, startToken: 0, stopToken: 1)
        let model = try SequenceModel<Float>(config, seed: 5)
        let opt = try Optimizer<Float>(.adam(), learningRate: 0.01, for: model.arena)
        var rng = SeqRandom(seed: 6)
        func sequences(_ n: Int) -> [[Int]] {
            (0 ..< n).map { _ in (0 ..< 3 + Int(rng.nextUnit() * 3)).map { _ in 2 + Int(rng.nextUnit() * 8) } }
        }
        func batch(_ s: [[Int]]) throws -> SequenceBatch<Float> {
            let src = try SequenceBatch<Float>.padded(s, pad: 1)
            let tgt = try SequenceBatch<Float>.padded(s.map { $0.reversed() }, pad: 1)
            return SequenceBatch(source: .tokens(src.tokens, steps: src.steps, batch: s.count), sourceLengths: src.lengths,
                                 targetTokens: tgt.tokens, targetSteps: tgt.steps, targetLengths: tgt.lengths)
        }
        for _ in 0 ..< 600 { try step(model, opt, try batch(sequences(32))) }
        let test = sequences(200)
        let src = try SequenceBatch<Float>.padded(test, pad: 1)
        let decoded = try model.decode(.tokens(src.tokens, steps: src.steps, batch: test.count), lengths: src.lengths, maxLength: 8)
        let exact = zip(decoded, test).filter { $0 == Array($1.reversed()) }.count
        print("seq2seq exact reversals: \(exact) / \(test.count)")
        XCTAssertGreaterThanOrEqual(Double(exact) / Double(test.count), 0.95)
    }
}
