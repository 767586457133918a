import XCTest
import SeqCore

final class TrainerTests: XCTestCase {
    /// Regression many-to-one: the mean of a sequence of numbers.
    func meanDataset(_ n: Int, seed: UInt64, maxLength: Int = 12) throws -> SequenceDataset<Float> {
        var rng = SeqRandom(seed: seed)
        var xs: [[Float]] = [], ys: [[Float]] = []
        for _ in 0 ..< n {
            let len = 2 + Int(rng.nextUnit() * Double(maxLength - 1))
            let x = (0 ..< len).map { _ in Float(rng.nextUnit()) }
            xs.append(x)
            ys.append([x.reduce(0, +) / Float(len)])
        }
        return try SequenceDataset(inputs: .features(xs, width: 1), targets: .sequenceValues(ys, width: 1))
    }

    func regressor(seed: UInt64 = 1) throws -> SequenceModel<Float> {
        try SequenceModel(ModelConfig(architecture: .classifier, rnn: RecurrentConfig(cell: .gru, inputSize: 1, hiddenSize: 8),
                                      outputSize: 1, output: .regression), seed: seed)
    }

    func testFitLearnsAndReportsProgress() throws {
        let model = try regressor()
        var options = TrainingOptions()
        options.epochs = 8
        options.batchSize = 16
        options.bucketByLength = true
        options.clipNorm = 1
        options.schedule = try LearningRateSchedule(baseRate: 0.02, decay: .cosine(period: 100, minimum: 0.002), warmupSteps: 5)
        let trainer = try Trainer(model: model, optimizer: try Optimizer(.adam(), learningRate: 0.02, for: model.arena), options: options)
        let train = try meanDataset(256, seed: 2), valid = try meanDataset(64, seed: 3)
        let before = try trainer.evaluate(valid)
        var calls = 0, epochEnds = 0, lastStep = 0
        let history = try trainer.fit(train, validation: valid) { p in
            calls += 1
            XCTAssertGreaterThan(p.step, lastStep - (p.endOfEpoch ? 1 : 0))
            lastStep = p.step
            XCTAssertTrue(p.tokensPerSecond > 0 && p.etaSeconds >= 0)
            if p.endOfEpoch { epochEnds += 1; XCTAssertNotNil(p.validationLoss) }
            return true
        }
        XCTAssertEqual(history.trainLoss.count, 8)
        XCTAssertEqual(history.validationLoss.count, 8)
        XCTAssertEqual(history.stepLoss.count, 8 * 16)
        XCTAssertEqual(epochEnds, 8)
        XCTAssertEqual(calls, 8 * 16 + 8)
        XCTAssertEqual(trainer.stepCount, 128)
        XCTAssertLessThan(history.validationLoss.last!, 0.2 * before, "validation loss should fall: \(history.validationLoss)")
    }

    func testCallbackStopsTraining() throws {
        let model = try regressor()
        let trainer = try Trainer(model: model, optimizer: try Optimizer(.sgd(), learningRate: 0.1, for: model.arena))
        let history = try trainer.fit(try meanDataset(100, seed: 2)) { p in p.step < 3 }
        XCTAssertTrue(history.interrupted)
        XCTAssertEqual(trainer.stepCount, 3)
    }

    func testEarlyStoppingRestoresBestWeights() throws {
        let model = try regressor()
        var options = TrainingOptions()
        options.epochs = 60
        options.batchSize = 8
        options.earlyStoppingPatience = 2
        // A learning rate far too high: validation loss will stop improving quickly.
        let trainer = try Trainer(model: model, optimizer: try Optimizer(.sgd(momentum: 0.9), learningRate: 0.5, for: model.arena), options: options)
        let valid = try meanDataset(32, seed: 5)
        let history = try trainer.fit(try meanDataset(64, seed: 4), validation: valid)
        XCTAssertTrue(history.stoppedEarly, "\(history.validationLoss)")
        XCTAssertLessThan(history.validationLoss.count, 60)
        let best = try XCTUnwrap(history.bestEpoch)
        XCTAssertEqual(history.validationLoss.count, best + 2, "stops `patience` epochs after the best")
        assertClose([try trainer.evaluate(valid)], [history.validationLoss[best - 1]], rtol: 1e-6, atol: 1e-9, "restored weights give the best loss")
    }

    func testSeededShufflingIsReproducible() throws {
        func run(_ seed: UInt64) throws -> [Float] {
            let model = try regressor()
            var options = TrainingOptions()
            options.epochs = 2
            options.seed = seed
            options.batchSize = 10
            let trainer = try Trainer(model: model, optimizer: try Optimizer(.adam(), learningRate: 0.01, for: model.arena), options: options)
            _ = try trainer.fit(try meanDataset(50, seed: 2))
            return model.arena.values
        }
        XCTAssertEqual(try run(1), try run(1))
        XCTAssertNotEqual(try run(1), try run(2))
    }

    /// A character stream: long sequences, truncated BPTT.
    func lmData(_ n: Int, length: Int) throws -> SequenceDataset<Float> {
        var rng = SeqRandom(seed: 8)
        let pattern = [0, 1, 2, 3, 2, 1]
        var xs: [[Int]] = [], ys: [[Int]] = []
        for _ in 0 ..< n {
            let offset = Int(rng.nextUnit() * 6)
            let s = (0 ... length).map { pattern[($0 + offset) % 6] }
            xs.append(Array(s.dropLast()))
            ys.append(Array(s.dropFirst()))
        }
        return try SequenceDataset(inputs: .tokens(xs), targets: .stepClasses(ys))
    }

    func lm() throws -> SequenceModel<Float> {
        try SequenceModel(ModelConfig(architecture: .languageModel, rnn: RecurrentConfig(cell: .lstm, inputSize: 8, hiddenSize: 16),
                                      vocabularySize: 4, embeddingSize: 8, outputSize: 4), seed: 3)
    }

    func testTruncatedBPTT() throws {
        let data = try lmData(16, length: 40)
        // A window covering the whole sequence is plain BPTT, bit for bit.
        var weights: [[Float]] = []
        for k in [nil, 40, 100] as [Int?] {
            let model = try lm()
            var options = TrainingOptions()
            options.epochs = 2
            options.batchSize = 8
            options.truncatedBPTT = k
            let trainer = try Trainer(model: model, optimizer: try Optimizer(.adam(), learningRate: 0.01, for: model.arena), options: options)
            _ = try trainer.fit(data)
            weights.append(model.arena.values)
        }
        XCTAssertEqual(weights[0], weights[1])
        XCTAssertEqual(weights[0], weights[2])
        // Short windows with the state carried still learn the pattern (which needs 2 steps of context).
        let model = try lm()
        var options = TrainingOptions()
        options.epochs = 30
        options.batchSize = 8
        options.truncatedBPTT = 7
        let trainer = try Trainer(model: model, optimizer: try Optimizer(.adam(), learningRate: 0.02, for: model.arena), options: options)
        _ = try trainer.fit(data)
        XCTAssertEqual(trainer.stepCount, 30 * 2 * 6, "6 windows of 7 steps per batch of 40")
        let loss = try trainer.evaluate(data)
        XCTAssertLessThan(loss, 0.1, "the pattern is deterministic given two steps of context")
        // Not for bidirectional or classifiers.
        options.epochs = 1
        XCTAssertThrowsError(try Trainer(model: try regressor(), optimizer: try Optimizer(.sgd(), learningRate: 0.1, for: try regressor().arena), options: options).fit(try meanDataset(8, seed: 1)))
    }

    /// A non-finite loss stops the step with an error (or skips it), leaving weights and optimizer as
    /// they were before the step.
    func testNonFiniteLossLeavesEverythingUntouched() throws {
        let model = try regressor()
        let optimizer = try Optimizer<Float>(.adam(), learningRate: 0.01, for: model.arena)
        let trainer = try Trainer(model: model, optimizer: optimizer)
        let good = try meanDataset(8, seed: 1).batch(Array(0 ..< 8))
        try trainer.trainStep(good)
        let weights = model.arena.values, state = optimizer.exportState()
        var poisoned = good
        poisoned.target = .values(try Tensor(shape: [8, 1], data: [Float](repeating: .greatestFiniteMagnitude, count: 8)))
        XCTAssertThrowsError(try trainer.trainStep(poisoned)) { e in XCTAssertEqual((e as? SeqError)?.kind, .numeric) }
        XCTAssertEqual(model.arena.values, weights)
        XCTAssertEqual(optimizer.exportState(), state)
        XCTAssertEqual(trainer.stepCount, 1)
        trainer.options.onNonFinite = .skip
        XCTAssertNil(try trainer.trainStep(poisoned))
        XCTAssertEqual(model.arena.values, weights)
        XCTAssertEqual(optimizer.exportState(), state)
        XCTAssertNotNil(try trainer.trainStep(good))
        XCTAssertNotEqual(model.arena.values, weights)
    }

    func testDatasetErrors() {
        XCTAssertThrowsError(try SequenceDataset<Float>(inputs: .tokens([[1, 2], []]), targets: .sequenceClasses([0, 1])))
        XCTAssertThrowsError(try SequenceDataset<Float>(inputs: .tokens([[1, 2]]), targets: .stepClasses([[1]])))
        XCTAssertThrowsError(try SequenceDataset<Float>(inputs: .features([[1, 2, 3]], width: 2), targets: .sequenceClasses([0])))
        XCTAssertThrowsError(try SequenceDataset<Float>(inputs: .tokens([[1]]), targets: .sequenceClasses([0, 1])))
        var options = TrainingOptions()
        options.batchSize = 0
        XCTAssertThrowsError(try Trainer(model: try regressor(), optimizer: try Optimizer(.sgd(), learningRate: 0.1, parameterCount: 1), options: TrainingOptions()))
        XCTAssertThrowsError(try Trainer(model: try regressor(), optimizer: try Optimizer(.sgd(), learningRate: 0.1, for: try regressor().arena), options: options))
    }
}
