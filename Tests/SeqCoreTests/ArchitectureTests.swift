import Foundation
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

    // MARK: Classifier — many-to-one

    /// Does a sequence of ±1 values contain more +1s than −1s? Needs the whole sequence; lengths vary.
    func testClassifierCountsMajority() throws {
        var rng = SeqRandom(seed: 11)
        func batch(_ n: Int) throws -> SequenceBatch<Float> {
            let steps = 15
            var x = [Float](repeating: 0, count: steps * n), labels = [Int](), lengths = [Int]()
            for b in 0 ..< n {
                let len = 5 + 2 * Int(rng.nextUnit() * 6)  // odd lengths 5...15: no ties
                var sum = 0
                for t in 0 ..< len { let v = rng.nextUnit() < 0.5 ? 1 : -1; x[t * n + b] = Float(v); sum += v }
                labels.append(sum > 0 ? 1 : 0)
                lengths.append(len)
            }
            return SequenceBatch(input: .features(try Tensor(shape: [steps, n, 1], data: x)), lengths: lengths, target: .classes(labels))
        }
        let config = ModelConfig(architecture: .classifier, rnn: RecurrentConfig(cell: .gru, inputSize: 1, hiddenSize: 16),
                                 outputSize: 2, output: .classes)
        let model = try SequenceModel<Float>(config, seed: 2)
        let opt = try Optimizer<Float>(.adam(), learningRate: 0.01, for: model.arena)
        for _ in 0 ..< 300 { try step(model, opt, try batch(32)) }
        let test = try batch(500)
        let p = try model.predict(test.input, lengths: test.lengths)
        guard case .classes(let labels) = test.target! else { return XCTFail() }
        let correct = (0 ..< 500).filter { (p.data[$0 * 2 + 1] > 0.5 ? 1 : 0) == labels[$0] }.count
        print("classifier accuracy: \(Double(correct) / 500)")
        XCTAssertGreaterThanOrEqual(Double(correct) / 500, 0.95)
    }

    // MARK: Language model — one-to-many

    /// Text from a small grammar; the model's cross-entropy must fall far below the unigram
    /// entropy (the best a model ignoring context can do), and its samples are seeded.
    func testLanguageModelBeatsUnigramAndSamples() throws {
        let words = ["the cat sat", "a dog ran", "the bird sang", "a cat ran", "the dog sat"]
        var rng = SeqRandom(seed: 4)
        var text = ""
        while text.count < 6000 { text += words[Int(rng.nextUnit() * 5)] + ". " }
        let alphabet = Array(Set(text)).sorted()
        let ids = text.map { alphabet.firstIndex(of: $0)! }
        var counts = [Double](repeating: 0, count: alphabet.count)
        for i in ids { counts[i] += 1 }
        let unigram = -counts.map { $0 / Double(ids.count) }.reduce(0) { $0 + ($1 > 0 ? $1 * Foundation.log($1) : 0) }

        let config = ModelConfig(architecture: .languageModel, rnn: RecurrentConfig(cell: .lstm, inputSize: 16, hiddenSize: 64),
                                 vocabularySize: alphabet.count, embeddingSize: 16, outputSize: alphabet.count)
        let model = try SequenceModel<Float>(config, seed: 9)
        let opt = try Optimizer<Float>(.adam(), learningRate: 0.01, for: model.arena)
        func batch(_ n: Int, _ steps: Int) throws -> SequenceBatch<Float> {
            var x = [Int](repeating: 0, count: steps * n), y = x
            for b in 0 ..< n {
                let start = Int(rng.nextUnit() * Double(ids.count - steps - 1))
                for t in 0 ..< steps { x[t * n + b] = ids[start + t]; y[t * n + b] = ids[start + t + 1] }
            }
            return SequenceBatch(input: .tokens(x, steps: steps, batch: n), target: .classes(y))
        }
        for _ in 0 ..< 250 { try step(model, opt, try batch(32, 24)) }
        let loss = try model.evaluate(try batch(64, 24)).loss
        print("language model: loss \(loss) nats, unigram entropy \(unigram) nats")
        XCTAssertLessThan(loss, 0.5 * unigram)

        let prefix = "the ".map { alphabet.firstIndex(of: $0)! }
        let a = try model.generate(prefix: prefix, count: 30, sampling: Sampling(temperature: 0.8, topK: 5, seed: 1))
        let b = try model.generate(prefix: prefix, count: 30, sampling: Sampling(temperature: 0.8, topK: 5, seed: 1))
        let c = try model.generate(prefix: prefix, count: 30, sampling: Sampling(temperature: 0.8, topK: 5, seed: 2))
        XCTAssertEqual(a, b, "same seed, same sample")
        XCTAssertNotEqual(a, c, "another seed, another sample")
        let sample = String(a.map { alphabet[$0] })
        print("sample: the\(sample)")
        // Learned words appear: most sampled words belong to the grammar's vocabulary.
        let vocabulary = Set(words.joined(separator: " ").split(separator: " ").map(String.init))
        let sampled = sample.split(whereSeparator: { $0 == " " || $0 == "." }).map(String.init).dropLast()
        XCTAssertGreaterThanOrEqual(Double(sampled.filter(vocabulary.contains).count), 0.7 * Double(sampled.count), sample)
        let stop = alphabet.firstIndex(of: ".")!
        let stopped = try model.generate(prefix: prefix, count: 100, sampling: .greedy, stopToken: stop)
        XCTAssertEqual(stopped.last, stop, "generation ends at the stop token")
    }

    // MARK: Streaming

    /// Step by step, in uneven chunks, equals the whole sequence at once; reset starts over.
    func testStreamingEqualsWholeSequence() throws {
        for cell in CellType.allCases {
            let config = ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: cell, inputSize: 3, hiddenSize: 20, numLayers: 2),
                                     outputSize: 4, output: .classes)
            let model = try SequenceModel<Float>(config, seed: 1)
            let steps = 11, batch = 2
            let x = randomValues(steps * batch * 3, seed: 5).map(Float.init)
            let whole = try model.predict(.features(try Tensor(shape: [steps, batch, 3], data: x)))
            let session = try StreamingSession(model: model, batch: batch)
            for round in 0 ..< 2 {
                var streamed: [Float] = []
                var t = 0
                for chunk in [1, 3, 1, 4, 2] {
                    let part = Array(x[t * batch * 3 ..< (t + chunk) * batch * 3])
                    streamed += try session.feed(.features(try Tensor(shape: [chunk, batch, 3], data: part))).data
                    t += chunk
                }
                XCTAssertEqual(session.position, steps)
                assertClose(streamed, whole.data, rtol: 1e-6, atol: 1e-7, "\(cell) streaming round \(round)")
                session.reset()
            }
        }
        let bi = try SequenceModel<Float>(ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: .gru, inputSize: 3, hiddenSize: 4, direction: .bidirectional), outputSize: 2), seed: 1)
        XCTAssertThrowsError(try StreamingSession(model: bi))
        let reverse = try SequenceModel<Float>(ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: .lstm, inputSize: 3, hiddenSize: 4, direction: .reverse), outputSize: 2), seed: 1)
        XCTAssertThrowsError(try StreamingSession(model: reverse)) { e in XCTAssertTrue("\(e)".contains("reverse")) }
    }

    /// One-step feeds run through the session's step plan (made at the first step, made again when
    /// the weights change): bit for bit what `forward` gives for that step from the same state, for
    /// every cell and variant, stacked, with a projection, with peepholes, without biases, in Float
    /// and Double, at batch 1 and 3; steps large enough to be split by units over two threads (LSTM,
    /// GRU, RNN; H a multiple of the kernel's sliver, 5–8 slivers, so an uneven split too) and the
    /// same on one thread; at batch 32 (split by rows over the threads, so `forward` runs it).
    func testOneStepFeedsEqualForwardStepByStep() throws {
        var configs: [RecurrentConfig] = CellType.allCases.map { RecurrentConfig(cell: $0, inputSize: 5, hiddenSize: 7, numLayers: 2) }
        configs += GRUVariant.allCases.map { RecurrentConfig(cell: .gru, inputSize: 5, hiddenSize: 7, gruVariant: $0) }
        configs += [RecurrentConfig(cell: .lstm, inputSize: 5, hiddenSize: 7, numLayers: 2, projSize: 3),
                    RecurrentConfig(cell: .lstm, inputSize: 5, hiddenSize: 7, peepholes: true),
                    RecurrentConfig(cell: .gru, inputSize: 5, hiddenSize: 7, bias: false),
                    RecurrentConfig(cell: .lstm, inputSize: 200, hiddenSize: 192),
                    RecurrentConfig(cell: .lstm, inputSize: 100, hiddenSize: 160, numLayers: 2, peepholes: true),
                    RecurrentConfig(cell: .gru, inputSize: 192, hiddenSize: 256, numLayers: 2),
                    RecurrentConfig(cell: .gru, inputSize: 192, hiddenSize: 256, gruVariant: .classic),
                    RecurrentConfig(cell: .rnnTanh, inputSize: 256, hiddenSize: 256),
                    RecurrentConfig(cell: .rnnReLU, inputSize: 300, hiddenSize: 224)]
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        for threads in [2, 1] {
            Parallelism.threadCount = threads
            for config in configs {
                for batch in [1, 3] {
                    try checkOneStepFeeds(Float.self, config, batch: batch)
                    if threads == 2 { try checkOneStepFeeds(Double.self, config, batch: batch) }
                }
            }
        }
        Parallelism.threadCount = 2
        try checkOneStepFeeds(Float.self, RecurrentConfig(cell: .lstm, inputSize: 5, hiddenSize: 7), batch: 32)
    }

    /// Six one-step feeds, the weights scaled before the fourth; each against `forward` on that step.
    private func checkOneStepFeeds<S: SeqScalar>(_: S.Type, _ rnn: RecurrentConfig, batch: Int) throws {
        let model = try SequenceModel<S>(ModelConfig(architecture: .tagger, rnn: rnn, outputSize: 2, output: .regression), seed: 3)
        let session = try StreamingSession(model: model, batch: batch)
        let label = "\(S.self) \(rnn.cell) \(rnn.gruVariant) L=\(rnn.numLayers) P=\(rnn.projSize) H=\(rnn.hiddenSize) B=\(batch)"
        let inputs = rnn.inputSize, features = rnn.outputFeatures
        var h = session.h, c = session.c
        for t in 0 ..< 6 {
            if t == 3 { model.arena.updateValues { v in for j in v.indices { v[j] *= S(0.75) } } }
            let x = randomValues(batch * inputs, seed: UInt64(t + 1)).map { S($0) }
            let expected = try model.rnn.forward(Tensor(shape: [1, batch, inputs], data: x), h0: h, c0: c)
            var got = [S](repeating: .nan, count: batch * features)
            try x.withUnsafeBufferPointer { p in
                try got.withUnsafeMutableBufferPointer { try session.feedHidden(features: p.baseAddress!, steps: 1, into: $0) }
            }
            XCTAssertEqual(got, expected.output.data, "\(label): a<t> at step \(t)")
            XCTAssertEqual(session.h.data, expected.hN.data, "\(label): h after step \(t)")
            XCTAssertEqual(session.c?.data, expected.cN?.data, "\(label): c after step \(t)")
            XCTAssertEqual(session.position, t + 1)
            h = expected.hN
            c = expected.cN
        }
    }

    /// predict on the caller's memory gives, bit for bit, what the array predict gives: taggers
    /// (0 past each length) and classifiers, every cell, bidirectional and stacked, both layouts,
    /// with and without lengths; it refuses a wrong output size, non-finite features and lengths
    /// out of range.
    func testPredictOnTheCallersMemoryEqualsPredict() throws {
        for cell in CellType.allCases {
            for architecture in [Architecture.tagger, .classifier] {
                let config = ModelConfig(architecture: architecture,
                                         rnn: RecurrentConfig(cell: cell, inputSize: 3, hiddenSize: 10, numLayers: 2, direction: .bidirectional),
                                         outputSize: 4, output: architecture == .tagger ? .classes : .binary)
                let model = try SequenceModel<Float>(config, seed: 2)
                let steps = 6, batch = 3, k = 4
                let x = randomValues(steps * batch * 3, seed: 9).map(Float.init)
                for lengths in [nil, [6, 2, 4]] as [[Int]?] {
                    let expected = try model.predict(.features(try Tensor(shape: [steps, batch, 3], data: x)), lengths: lengths).data
                    var timeMajor = [Float](repeating: .nan, count: expected.count), batchFirst = timeMajor
                    var xb: [Float] = []
                    for b in 0 ..< batch { for t in 0 ..< steps { xb += x[(t * batch + b) * 3 ..< (t * batch + b + 1) * 3] } }
                    try x.withUnsafeBufferPointer { p in
                        try timeMajor.withUnsafeMutableBufferPointer {
                            try model.predict(features: p.baseAddress!, steps: steps, batch: batch, lengths: lengths, into: $0)
                        }
                    }
                    try xb.withUnsafeBufferPointer { p in
                        try batchFirst.withUnsafeMutableBufferPointer {
                            try model.predict(features: p.baseAddress!, steps: steps, batch: batch, lengths: lengths, batchFirst: true, into: $0)
                        }
                    }
                    let label = "\(cell) \(architecture) lengths \(lengths ?? [])"
                    XCTAssertTrue(timeMajor.map(\.bitPattern) == expected.map(\.bitPattern), "\(label): time-major")
                    var back: [Float] = batchFirst
                    if architecture == .tagger {
                        back = []
                        for t in 0 ..< steps { for b in 0 ..< batch { back += batchFirst[(b * steps + t) * k ..< (b * steps + t + 1) * k] } }
                    }
                    XCTAssertTrue(back.map(\.bitPattern) == expected.map(\.bitPattern), "\(label): batch-first")
                }
                var out = [Float](repeating: 0, count: architecture == .tagger ? steps * batch * k : batch * k)
                var small = [Float](repeating: 0, count: out.count - 1)
                var bad = x
                bad[7] = .nan
                XCTAssertThrowsError(try x.withUnsafeBufferPointer { p in
                    try small.withUnsafeMutableBufferPointer { try model.predict(features: p.baseAddress!, steps: steps, batch: batch, into: $0) }
                }) { XCTAssertTrue("\($0)".contains("output"), "\($0)") }
                XCTAssertThrowsError(try bad.withUnsafeBufferPointer { p in
                    try out.withUnsafeMutableBufferPointer { try model.predict(features: p.baseAddress!, steps: steps, batch: batch, into: $0) }
                }) { XCTAssertTrue("\($0)".contains("input"), "\($0)") }
                XCTAssertThrowsError(try x.withUnsafeBufferPointer { p in
                    try out.withUnsafeMutableBufferPointer {
                        try model.predict(features: p.baseAddress!, steps: steps, batch: batch, lengths: [6, 7, 1], into: $0)
                    }
                }) { XCTAssertTrue("\($0)".contains("lengths"), "\($0)") }
            }
        }
    }

    /// feedHidden returns the stack's output a<t> (what the head reads), chunk by chunk: from
    /// arrays and from the caller's memory alike, bit for bit the whole sequence's layer output,
    /// with the state advanced as feed advances it; a wrong output size or a non-finite value
    /// leaves the state alone.
    func testStreamingHiddenOutputEqualsTheLayers() throws {
        try checkStreamingOnTheCallersMemory(hidden: true)
    }

    /// `feed(features:steps:into:)` (the C API's seq_stream_feed on time-major features) against
    /// `feed(_:into:)`: bit-identical ŷ chunk by chunk, equal to predicting the whole sequence.
    func testStreamingOutputOnTheCallersMemoryEqualsFeed() throws {
        try checkStreamingOnTheCallersMemory(hidden: false)
    }

    /// Streams 11 steps in chunks through the array and the pointer form of one feed (the stack's
    /// a<t> when `hidden`, the head's ŷ otherwise), for every cell, and checks refusals: an output of
    /// the wrong size, a non-finite input, features for a token model — each leaving the state alone.
    private func checkStreamingOnTheCallersMemory(hidden: Bool) throws {
        for cell in CellType.allCases {
            let config = ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: cell, inputSize: 3, hiddenSize: 20, numLayers: 2),
                                     outputSize: 4, output: .classes)
            let model = try SequenceModel<Float>(config, seed: 1)
            let steps = 11, batch = 2, width = hidden ? 20 : 4
            let x = randomValues(steps * batch * 3, seed: 5).map(Float.init)
            let wholeInput = try Tensor(shape: [steps, batch, 3], data: x)
            let whole = try model.rnn.forward(wholeInput)
            let expected = hidden ? whole.output.data : try model.predict(.features(wholeInput)).data
            func feedArrays(_ session: StreamingSession<Float>, _ input: SequenceInput<Float>, _ y: UnsafeMutableBufferPointer<Float>) throws {
                if hidden { try session.feedHidden(input, into: y) } else { try session.feed(input, into: y) }
            }
            func feedPointers(_ session: StreamingSession<Float>, _ x: UnsafePointer<Float>, _ steps: Int, _ y: UnsafeMutableBufferPointer<Float>) throws {
                if hidden { try session.feedHidden(features: x, steps: steps, into: y) } else { try session.feed(features: x, steps: steps, into: y) }
            }
            let arrays = try StreamingSession(model: model, batch: batch), pointers = try StreamingSession(model: model, batch: batch)
            var fromArrays: [Float] = [], fromPointers: [Float] = []
            var t = 0
            for chunk in [1, 3, 1, 4, 2] {
                let part = Array(x[t * batch * 3 ..< (t + chunk) * batch * 3])
                var a = [Float](repeating: .nan, count: chunk * batch * width), b = a
                try a.withUnsafeMutableBufferPointer {
                    try feedArrays(arrays, .features(try Tensor(shape: [chunk, batch, 3], data: part)), $0)
                }
                try part.withUnsafeBufferPointer { p in
                    try b.withUnsafeMutableBufferPointer { try feedPointers(pointers, p.baseAddress!, chunk, $0) }
                }
                fromArrays += a
                fromPointers += b
                t += chunk
            }
            let label = "\(cell) \(hidden ? "hidden" : "ŷ")"
            XCTAssertTrue(fromArrays.map(\.bitPattern) == fromPointers.map(\.bitPattern), "\(label): arrays and pointers differ")
            assertClose(fromArrays, expected, rtol: 1e-6, atol: 1e-7, "\(label): streamed output")
            assertClose(pointers.h.data, whole.hN.data, rtol: 1e-6, atol: 1e-7, "\(label): state after streaming")
            XCTAssertEqual(pointers.position, steps)
            let before = pointers.h.data
            var small = [Float](repeating: 0, count: batch * width - 1)
            XCTAssertThrowsError(try x.withUnsafeBufferPointer { p in
                try small.withUnsafeMutableBufferPointer { try feedPointers(pointers, p.baseAddress!, 1, $0) }
            }) { XCTAssertTrue("\($0)".contains("output"), "\($0)") }
            var bad = Array(x[0 ..< batch * 3])
            bad[4] = .nan
            var out = [Float](repeating: 0, count: batch * width)
            XCTAssertThrowsError(try bad.withUnsafeBufferPointer { p in
                try out.withUnsafeMutableBufferPointer { try feedPointers(pointers, p.baseAddress!, 1, $0) }
            }) { XCTAssertTrue("\($0)".contains("input"), "\($0)") }
            XCTAssertEqual(pointers.h.data, before, "\(label): a refused call changed the state")
            XCTAssertEqual(pointers.position, steps)
        }
        let tokens = try SequenceModel<Float>(ModelConfig(architecture: .languageModel, rnn: RecurrentConfig(cell: .gru, inputSize: 4, hiddenSize: 5),
                                                          vocabularySize: 6, embeddingSize: 4, outputSize: 6), seed: 1)
        let session = try StreamingSession(model: tokens)
        var out = [Float](repeating: 0, count: hidden ? 5 : 6)
        let x: [Float] = [0, 0, 0, 0]
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { p in
            try out.withUnsafeMutableBufferPointer {
                if hidden { try session.feedHidden(features: p.baseAddress!, steps: 1, into: $0) } else { try session.feed(features: p.baseAddress!, steps: 1, into: $0) }
            }
        }) { XCTAssertTrue("\($0)".contains("token ids"), "\($0)") }
    }
}
