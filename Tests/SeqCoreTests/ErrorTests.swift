import XCTest
import SeqCore

/// Every caller mistake gives a SeqError naming the argument, what was expected and what came.
final class ErrorTests: XCTestCase {
    func expectError(_ kind: SeqError.Kind, mentioning words: [String], _ body: () throws -> Void,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected a \(kind) error mentioning \(words)", file: file, line: line)
        } catch let e as SeqError {
            XCTAssertEqual(e.kind, kind, e.message, file: file, line: line)
            for w in words { XCTAssertTrue(e.message.contains(w), "'\(e.message)' lacks '\(w)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testConfigErrors() {
        func make(_ c: RecurrentConfig) throws { _ = try RecurrentLayer<Float>(c) }
        expectError(.invalidArgument, mentioning: ["input_size", "positive", "0"]) { try make(.init(cell: .lstm, inputSize: 0, hiddenSize: 4)) }
        expectError(.invalidArgument, mentioning: ["hidden_size", "-3"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: -3)) }
        expectError(.invalidArgument, mentioning: ["num_layers"]) { try make(.init(cell: .gru, inputSize: 2, hiddenSize: 4, numLayers: 0)) }
        expectError(.invalidArgument, mentioning: ["proj_size", "LSTM only"]) { try make(.init(cell: .gru, inputSize: 2, hiddenSize: 4, projSize: 2)) }
        expectError(.invalidArgument, mentioning: ["proj_size", "less than hidden_size"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: 4, projSize: 4)) }
        expectError(.invalidArgument, mentioning: ["proj_size", "non-negative"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: 4, projSize: -1)) }
        expectError(.invalidArgument, mentioning: ["peepholes"]) { try make(.init(cell: .rnnTanh, inputSize: 2, hiddenSize: 4, peepholes: true)) }
        expectError(.invalidArgument, mentioning: ["dropout", "[0, 1)", "1.5"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: 4, dropout: 1.5)) }
        expectError(.invalidArgument, mentioning: ["dropout"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: 4, dropout: .nan)) }
        expectError(.resourceLimit, mentioning: ["hidden_size", "limit"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: 1 << 40)) }
        expectError(.resourceLimit, mentioning: ["num_layers", "1000000000"]) { try make(.init(cell: .gru, inputSize: 2, hiddenSize: 64, numLayers: 1_000_000_000)) }
        expectError(.resourceLimit, mentioning: ["num_layers"]) { try make(.init(cell: .lstm, inputSize: 2, hiddenSize: 4, numLayers: Int.max)) }
        expectError(.invalidArgument, mentioning: ["forget_bias"]) { _ = try RecurrentLayer<Float>(.init(cell: .gru, inputSize: 2, hiddenSize: 4), forgetBias: 1) }
    }

    func testForwardErrors() throws {
        let layer = try RecurrentLayer<Float>(.init(cell: .lstm, inputSize: 3, hiddenSize: 4, numLayers: 2))
        let x = try Tensor<Float>(shape: [5, 2, 3], data: [Float](repeating: 0.1, count: 30))
        expectError(.invalidArgument, mentioning: ["input", "[T, B, I]", "[30]"]) { _ = try layer.forward(try Tensor(shape: [30], data: x.data)) }
        expectError(.invalidArgument, mentioning: ["input", "3 features"]) { _ = try layer.forward(try Tensor(shape: [5, 3, 2], data: x.data)) }
        expectError(.invalidArgument, mentioning: ["T", "positive"]) { _ = try layer.forward(Tensor(zeros: [0, 2, 3])) }
        expectError(.invalidArgument, mentioning: ["B", "positive"]) { _ = try layer.forward(Tensor(zeros: [5, 0, 3])) }
        expectError(.invalidArgument, mentioning: ["lengths", "2 lengths", "3"]) { _ = try layer.forward(x, lengths: [5, 5, 5]) }
        expectError(.invalidArgument, mentioning: ["lengths", "1...5", "6 at index 1"]) { _ = try layer.forward(x, lengths: [5, 6]) }
        expectError(.invalidArgument, mentioning: ["lengths", "0 at index 0"]) { _ = try layer.forward(x, lengths: [0, 5]) }
        expectError(.invalidArgument, mentioning: ["h0", "[2, 2, 4]"]) { _ = try layer.forward(x, h0: Tensor(zeros: [1, 2, 4])) }
        expectError(.invalidArgument, mentioning: ["c0", "[2, 2, 4]"]) { _ = try layer.forward(x, c0: Tensor(zeros: [2, 2, 3])) }
        var bad = x; bad.data[7] = .nan
        expectError(.invalidArgument, mentioning: ["input", "finite", "index 7"]) { _ = try layer.forward(bad) }
        expectError(.invalidArgument, mentioning: ["h0", "finite"]) {
            var h0 = Tensor<Float>(zeros: [2, 2, 4]); h0.data[0] = .infinity
            _ = try layer.forward(x, h0: h0)
        }
        let gru = try RecurrentLayer<Float>(.init(cell: .gru, inputSize: 3, hiddenSize: 4))
        expectError(.invalidArgument, mentioning: ["c0", "only LSTMs"]) { _ = try gru.forward(x, c0: Tensor(zeros: [1, 2, 4])) }
        expectError(.invalidArgument, mentioning: ["data", "30 elements"]) { _ = try Tensor<Float>(shape: [5, 2, 3], data: [1, 2]) }
    }

    func testBackwardErrors() throws {
        let layer = try RecurrentLayer<Float>(.init(cell: .gru, inputSize: 3, hiddenSize: 4))
        let x = try Tensor<Float>(shape: [5, 2, 3], data: [Float](repeating: 0.1, count: 30))
        let out = try layer.forward(x, training: true)
        expectError(.invalidArgument, mentioning: ["grad_output", "[5, 2, 4]"]) { _ = try layer.backward(out.tape!, gradOutput: Tensor(zeros: [5, 2, 3])) }
        expectError(.invalidArgument, mentioning: ["grad_h_n", "[1, 2, 4]"]) { _ = try layer.backward(out.tape!, gradOutput: nil, gradHN: Tensor(zeros: [2, 2, 4])) }
        expectError(.invalidArgument, mentioning: ["grad_c_n"]) { _ = try layer.backward(out.tape!, gradOutput: nil, gradCN: Tensor(zeros: [1, 2, 4])) }
        let other = try RecurrentLayer<Float>(.init(cell: .gru, inputSize: 3, hiddenSize: 4, numLayers: 2))
        expectError(.state, mentioning: ["tape"]) { _ = try other.backward(out.tape!, gradOutput: nil) }
    }

    func testArenaErrors() throws {
        let layer = try RecurrentLayer<Float>(.init(cell: .rnnTanh, inputSize: 3, hiddenSize: 4))
        expectError(.notFound, mentioning: ["weight_ih_l1", "weight_ih_l0"]) { _ = try layer.arena.value("weight_ih_l1") }
        expectError(.invalidArgument, mentioning: ["weight_hh_l0", "16 elements"]) { try layer.arena.setValue("weight_hh_l0", [1]) }
    }

    /// A pass whose buffers would exceed the memory cap fails before allocating, naming the cap.
    func testMemoryCap() throws {
        let saved = Limits.memoryCapBytes
        defer { Limits.memoryCapBytes = saved }
        let layer = try RecurrentLayer<Float>(.init(cell: .lstm, inputSize: 4, hiddenSize: 256, numLayers: 2))
        let x = Tensor<Float>(zeros: [200, 16, 4])
        _ = try layer.forward(x, training: true)
        Limits.memoryCapBytes = 4 << 20
        expectError(.resourceLimit, mentioning: ["MiB", "memory cap", "T=200, B=16"]) { _ = try layer.forward(x, training: true) }
        XCTAssertEqual(Tensor<Float>(zeros: [-1, 3]).count, 0, "a negative shape gives an empty tensor, not a trap")
        XCTAssertEqual(Tensor<Float>(zeros: [1 << 40, 1 << 40]).count, 0)
    }

    /// A model's own buffers around its recurrent stack (embedded inputs, logits, their
    /// gradients) count too: a small stack with a large vocabulary is refused before the logits
    /// are allocated, not after (10^5 steps × 50,000 classes would be 20 GB of logits).
    func testMemoryCapCountsTheModelAroundTheStack() throws {
        let model = try SequenceModel<Float>(ModelConfig(architecture: .languageModel,
                                                         rnn: .init(cell: .gru, inputSize: 8, hiddenSize: 8),
                                                         vocabularySize: 50_000, embeddingSize: 8, outputSize: 50_000))
        let tokens = SequenceInput<Float>.tokens([Int](repeating: 1, count: 100_000), steps: 1000, batch: 100)
        _ = try model.rnn.forward(Tensor<Float>(zeros: [1000, 100, 8]))  // the stack alone is within the cap
        expectError(.resourceLimit, mentioning: ["memory cap", "T=1000, B=100"]) { _ = try model.predict(tokens) }
        let small = SequenceInput<Float>.tokens([Int](repeating: 1, count: 20), steps: 10, batch: 2)
        XCTAssertEqual(try model.predict(small).shape, [10, 2, 50_000])
    }
}
