import XCTest
import SeqCore

/// Truncated BPTT (`SequenceModel.truncatedBPTT`) against PyTorch's loop with detached states
/// (Tests/Fixtures/tbptt_training.json, made by make_tbptt_fixtures.py), and its windows against
/// batches cut by `SequenceDataset`.
final class TruncatedBPTTTests: XCTestCase {
    struct Case {
        let name: String
        let model: SequenceModel<Float>
        let optimizer: Optimizer<Float>
        let batch: SequenceBatch<Float>
        let window: Int
        let windowLosses: [Double]
        let final: [String: [Double]]
    }

    static func cases() throws -> [Case] {
        let fixture = try loadJSON("tbptt_training.json")
        return try XCTUnwrap(fixture["cases"] as? [[String: Any]]).map { c in
            let cell: CellType = c["cell"] as? String == "lstm" ? .lstm : .gru
            let lengths = c.ints("lengths")!, steps = lengths.max()!, batch = lengths.count
            let config = ModelConfig(architecture: .tagger,
                                     rnn: RecurrentConfig(cell: cell, inputSize: c.int("input_size")!, hiddenSize: c.int("hidden_size")!,
                                                          numLayers: c.int("num_layers")!),
                                     outputSize: c.int("classes")!, output: .classes)
            let model = try SequenceModel<Float>(config, seed: 1)
            let initial = try XCTUnwrap(c["initial"] as? [String: [String: Any]])
            for (name, p) in initial { try model.arena.setValue(name, p.doubles("values")!.map(Float.init)) }
            let optimizer = try Optimizer<Float>(.sgd(momentum: (c["momentum"] as! NSNumber).doubleValue),
                                                 learningRate: (c["learning_rate"] as! NSNumber).doubleValue, for: model.arena)
            let x = try Tensor<Float>(shape: [steps, batch, c.int("input_size")!], data: c.doubles("x")!.map(Float.init))
            let b = SequenceBatch(input: .features(x), lengths: lengths, target: .classes(c.ints("labels")!))
            let final = try XCTUnwrap(c["final"] as? [String: [String: Any]]).mapValues { $0.doubles("values")! }
            return Case(name: c["name"] as! String, model: model, optimizer: optimizer, batch: b, window: c.int("window")!,
                        windowLosses: c.doubles("window_losses")!, final: final)
        }
    }

    /// Every window's loss and the weights after the last window's SGD step agree with torch's
    /// detached-state loop (float32 against float64: rtol 1e-4, atol 1e-5).
    func testWindowsMatchTorchsDetachedLoop() throws {
        for c in try Self.cases() {
            var losses: [Double] = []
            try c.model.truncatedBPTT(c.batch, window: c.window) { w in
                losses.append(w.loss)
                try c.optimizer.step(c.model.arena)
            }
            assertClose(losses, c.windowLosses, rtol: 1e-5, atol: 1e-6, "\(c.name): window losses")
            for (name, expected) in c.final {
                assertClose(try c.model.arena.value(name).data, expected, rtol: 1e-4, atol: 1e-5, "\(c.name): \(name)")
            }
        }
    }

    /// Without carrying the state (each window from zeros) the losses differ from torch's: the
    /// comparison above can tell the carried state from none.
    func testWindowsFromZeroStatesDoNotMatch() throws {
        let c = try Self.cases()[0]
        var losses: [Double] = []
        var start = 0
        while start < c.batch.input.steps {
            let rows = (0 ..< c.batch.input.batch).filter { c.batch.lengths![$0] > start }
            let window = c.batch.window(rows: rows, steps: start ..< start + c.window)
            c.model.arena.zeroGradients()
            losses.append(try c.model.lossAndGradients(window).loss)
            try c.optimizer.step(c.model.arena)
            start += c.window
        }
        XCTAssertEqual(losses[0], c.windowLosses[0], accuracy: 1e-5, "the first window starts from zeros in both")
        XCTAssertGreaterThan(abs(losses[1] - c.windowLosses[1]), 1e-3)
    }

    /// `SequenceBatch.window` cuts what `SequenceDataset.batch(_:window:)` cuts from the examples,
    /// value for value, for tokens and per-step values, including rows that end inside the window.
    func testWindowCutsAsTheDatasetDoes() throws {
        var rng = SeqRandom(seed: 5)
        let lengths = [9, 4, 7, 1, 6]
        let tokens = lengths.map { n in (0 ..< n).map { _ in Int(rng.next() % 11) } }
        let values = lengths.map { n in (0 ..< n * 2).map { _ in Float(rng.uniform(-1, 1)) } }
        let byTokens = try SequenceDataset<Float>(inputs: .tokens(tokens), targets: .stepClasses(tokens.map { $0.map { ($0 + 1) % 11 } }))
        let byValues = try SequenceDataset<Float>(inputs: .features(values, width: 2), targets: .stepValues(values, width: 2))
        for data in [byTokens, byValues] {
            let all = Array(0 ..< lengths.count), whole = data.batch(all)
            for window in [0 ..< 3, 3 ..< 6, 6 ..< 9, 2 ..< 20] {
                let rows = all.filter { lengths[$0] > window.lowerBound }
                let cut = whole.window(rows: rows, steps: window), expected = data.batch(rows, window: window)
                XCTAssertEqual(cut.lengths, expected.lengths, "\(window)")
                XCTAssertEqual(cut.input.steps, expected.input.steps, "\(window)")
                switch (cut.input, expected.input, cut.target, expected.target) {
                case (.tokens(let a, _, _), .tokens(let b, _, _), .classes(let ya)?, .classes(let yb)?):
                    XCTAssertEqual(a, b, "tokens \(window)")
                    XCTAssertEqual(ya, yb, "classes \(window)")
                case (.features(let a), .features(let b), .values(let ya)?, .values(let yb)?):
                    XCTAssertEqual(a.shape, b.shape, "features \(window)")
                    XCTAssertEqual(a.data, b.data, "features \(window)")
                    XCTAssertEqual(ya.data, yb.data, "values \(window)")
                default:
                    XCTFail("different kinds of input or target")
                }
            }
        }
    }
}
