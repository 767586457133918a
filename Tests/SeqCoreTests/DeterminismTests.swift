import Foundation
import XCTest
import SeqCore
#if canImport(Glibc)
import Glibc
#endif

/// Determinism: the same seed and data give bit-identical weights after training with dropout
/// and shuffling, whatever the thread count, run after run; and training N steps, checkpointing
/// to disk, loading and training M more gives bit for bit the weights of N + M uninterrupted steps.
final class DeterminismTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        var bytes = Array((NSTemporaryDirectory() + "seqcore-determinism-XXXXXX").utf8CString)
        guard mkdtemp(&bytes) != nil else { throw SeqError(.io, "mkdtemp failed") }
        directory = String(cString: bytes)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: A small training loop that can stop and resume anywhere

    /// A data set of `count` examples and a way to batch any subset of them.
    struct DataSet {
        var count: Int
        var batch: ([Int]) throws -> SequenceBatch<Float>
    }

    /// Tagging: x<t> ∈ R^I random, label<t> = whether the running sum of x<t>[0] is positive.
    static func taggingData(count: Int, inputSize: Int, maxLength: Int, seed: UInt64) -> DataSet {
        var rng = SeqRandom(seed: seed)
        var xs: [[Float]] = [], ys: [[Int]] = []
        for _ in 0 ..< count {
            let n = 2 + Int(rng.next() % UInt64(maxLength - 1))
            let x = (0 ..< n * inputSize).map { _ in Float(rng.normal()) }
            var sum: Float = 0
            xs.append(x)
            ys.append((0 ..< n).map { t in sum += x[t * inputSize]; return sum > 0 ? 1 : 0 })
        }
        return DataSet(count: count) { indices in
            let steps = indices.map { ys[$0].count }.max()!, b = indices.count
            var x = [Float](repeating: 0, count: steps * b * inputSize), y = [Int](repeating: 0, count: steps * b)
            for (r, i) in indices.enumerated() {
                for t in 0 ..< ys[i].count {
                    y[t * b + r] = ys[i][t]
                    for f in 0 ..< inputSize { x[(t * b + r) * inputSize + f] = xs[i][t * inputSize + f] }
                }
            }
            return SequenceBatch(input: .features(try Tensor(shape: [steps, b, inputSize], data: x)),
                                 lengths: indices.map { ys[$0].count }, target: .classes(y))
        }
    }

    /// Copying: the target is the source without its first token (tokens 2..<V; 0 and 1 are start/stop).
    static func copyData(count: Int, vocabulary: Int, maxLength: Int, seed: UInt64) -> DataSet {
        var rng = SeqRandom(seed: seed)
        let sequences = (0 ..< count).map { _ in
            (0 ..< 2 + Int(rng.next() % UInt64(maxLength - 1))).map { _ in 2 + Int(rng.next() % UInt64(vocabulary - 2)) }
        }
        return DataSet(count: count) { indices in
            let chosen = indices.map { sequences[$0] }
            let source = try SequenceBatch<Float>.padded(chosen)
            let target = try SequenceBatch<Float>.padded(chosen.map { Array($0.dropFirst()) })
            return SequenceBatch(source: .tokens(source.tokens, steps: source.steps, batch: indices.count), sourceLengths: source.lengths,
                                 targetTokens: target.tokens, targetSteps: target.steps, targetLengths: target.lengths)
        }
    }

    static func permutation(_ n: Int, _ rng: inout SeqRandom) -> [Int] {
        var p = Array(0 ..< n)
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return p
    }

    /// Where a run stands: the next step, and the shuffling generator as it was at the start of
    /// the epoch that step belongs to (so the epoch's order can be drawn again on resume).
    struct Position {
        var step: Int
        var epochShuffle: SeqRandom
    }

    static let batchSize = 8

    /// Trains from `position` up to step `end` (exclusive): per step, zero the gradients, forward
    /// and backward, clip, set the learning rate from the schedule, update. Returns the losses.
    @discardableResult
    static func train(_ model: SequenceModel<Float>, _ optimizer: Optimizer<Float>, _ schedule: LearningRateSchedule,
                      _ data: DataSet, from position: inout Position, to end: Int) throws -> [Double] {
        let perEpoch = data.count / batchSize
        var shuffle = position.epochShuffle
        var order = permutation(data.count, &shuffle)
        var losses: [Double] = []
        for step in position.step ..< end {
            if step % perEpoch == 0 && step != position.step {
                position.epochShuffle = shuffle
                order = permutation(data.count, &shuffle)
            }
            let k = step % perEpoch
            let batch = try data.batch(Array(order[k * batchSize ..< (k + 1) * batchSize]))
            model.arena.zeroGradients()
            losses.append(try model.lossAndGradients(batch).loss)
            try model.arena.clipGradientNorm(maxNorm: 5)
            optimizer.learningRate = schedule.rate(at: step)
            try optimizer.step(model.arena)
        }
        if end % perEpoch == 0 && end > position.step { position.epochShuffle = shuffle }
        position.step = end
        return losses
    }

    struct Setup {
        var label: String
        var config: ModelConfig
        var data: DataSet
        var algorithm: OptimizerAlgorithm
    }

    static let setups: [Setup] = [
        Setup(label: "tagger, LSTM 2 layers bidirectional, dropout 0.3",
              config: ModelConfig(architecture: .tagger,
                                  rnn: RecurrentConfig(cell: .lstm, inputSize: 24, hiddenSize: 80, numLayers: 2,
                                                       direction: .bidirectional, dropout: 0.3),
                                  outputSize: 2),
              data: taggingData(count: 48, inputSize: 24, maxLength: 14, seed: 1), algorithm: .adamW(amsgrad: true)),
        Setup(label: "seq2seq, classic GRU 2 layers, dropout 0.2",
              config: ModelConfig(architecture: .seq2seq,
                                  rnn: RecurrentConfig(cell: .gru, inputSize: 16, hiddenSize: 72, numLayers: 2,
                                                       gruVariant: .classic, dropout: 0.2),
                                  vocabularySize: 12, embeddingSize: 16, outputSize: 12),
              data: copyData(count: 48, vocabulary: 12, maxLength: 9, seed: 2), algorithm: .sgd(momentum: 0.9, nesterov: true)),
    ]

    static let schedule = try! LearningRateSchedule(baseRate: 0.01, decay: .step(stepSize: 5, gamma: 0.7), warmupSteps: 2)

    /// A fresh run: model from `seed`, optimizer, shuffling generator.
    static func start(_ s: Setup, seed: UInt64 = 31) throws -> (SequenceModel<Float>, Optimizer<Float>, Position) {
        let model = try SequenceModel<Float>(s.config, seed: seed)
        let optimizer = try Optimizer<Float>(s.algorithm, learningRate: schedule.rate(at: 0), for: model.arena)
        return (model, optimizer, Position(step: 0, epochShuffle: SeqRandom(seed: seed &+ 100)))
    }

    // MARK: Tests

    func testTrainingIsBitIdenticalAcrossThreadCountsAndRuns() throws {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        for s in Self.setups {
            var results: [(threads: Int, values: [UInt32], losses: [Double], seconds: Double)] = []
            for threads in [1, 2, 2, 1] {
                Parallelism.threadCount = threads
                let (model, optimizer, p) = try Self.start(s)
                var position = p
                let clock = Date()
                let losses = try Self.train(model, optimizer, Self.schedule, s.data, from: &position, to: 30)
                results.append((threads, model.arena.values.map(\.bitPattern), losses, Date().timeIntervalSince(clock)))
                XCTAssertTrue(model.arena.values.allSatisfy(\.isFinite), s.label)
            }
            let first = results[0]
            for r in results.dropFirst() {
                XCTAssertEqual(r.losses, first.losses, "\(s.label): losses with \(r.threads) thread(s)")
                let differing = zip(r.values, first.values).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "\(s.label): \(differing) of \(first.values.count) weights differ with \(r.threads) thread(s)")
            }
            let fresh = try SequenceModel<Float>(s.config, seed: 31).arena.values.map(\.bitPattern)
            XCTAssertNotEqual(first.values, fresh, "\(s.label): training changed nothing")
            XCTAssertLessThan(first.losses.suffix(6).reduce(0, +), first.losses.prefix(6).reduce(0, +), "\(s.label): the loss fell")
            print(String(format: "[DeterminismTests] %@: 30 steps, %d weights identical at 1 and 2 threads; "
                         + "loss %.4f → %.4f; %.2fs (1 thread) %.2fs (2 threads)", s.label, first.values.count,
                         first.losses.prefix(6).reduce(0, +) / 6, first.losses.suffix(6).reduce(0, +) / 6, results[0].seconds, results[1].seconds))
        }
    }

    func testResumeFromCheckpointEqualsUninterruptedTraining() throws {
        for s in Self.setups {
            for (n, m) in [(7, 9), (6, 6), (1, 4)] {
                // N + M steps straight.
                let (straight, o1, p1) = try Self.start(s)
                var position = p1
                try Self.train(straight, o1, Self.schedule, s.data, from: &position, to: n + m)

                // N steps, checkpoint to disk, everything rebuilt from the file, M steps.
                let (first, o2, p2) = try Self.start(s)
                var at = p2
                try Self.train(first, o2, Self.schedule, s.data, from: &at, to: n)
                let file = directory + "/checkpoint-\(n).safetensors"
                try TrainingCheckpoint(model: first, optimizer: o2, generators: ["shuffle": at.epochShuffle],
                                       counters: ["step": at.step], schedule: Self.schedule).save(to: file)
                let c = try TrainingCheckpoint<Float>.load(from: file)
                let resumed = c.model, optimizer = try c.makeOptimizer()
                XCTAssertEqual(optimizer.stepCount, n)
                var resumedAt = Position(step: try XCTUnwrap(c.counters["step"]), epochShuffle: try XCTUnwrap(c.generators["shuffle"]))
                try Self.train(resumed, optimizer, try XCTUnwrap(c.schedule), s.data, from: &resumedAt, to: n + m)
                let differing = zip(resumed.arena.values, straight.arena.values).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(s.label), \(n) + \(m): \(differing) weights differ from the uninterrupted run")
                XCTAssertEqual(optimizer.exportState(), o1.exportState(), "\(s.label), \(n) + \(m): optimizer state")
                XCTAssertEqual(resumed.rnn.random, straight.rnn.random)

                // The dropout generator matters: resuming without it gives other weights.
                let again = try TrainingCheckpoint<Float>.load(from: file)
                again.model.rnn.random = SeqRandom(seed: 12345)
                var againAt = Position(step: n, epochShuffle: again.generators["shuffle"]!)
                try Self.train(again.model, try again.makeOptimizer(), Self.schedule, s.data, from: &againAt, to: n + m)
                XCTAssertNotEqual(again.model.arena.values, straight.arena.values, "\(s.label): the dropout generator made no difference")
            }
        }
    }
}
