import XCTest
import SeqCore

/// `SequenceModel.lossAndStackGradients`: ∂L/∂x and ∂L/∂h0 of a whole model's loss (what the C
/// ABI's seq_model_input_gradient returns) against central differences in Double, through each
/// head: per step (tagger), from the final state (bidirectional classifier), and the encoder of a
/// seq2seq model (its decoder starts from the encoder's state).
final class ModelInputGradientTests: XCTestCase {
    func check(_ config: ModelConfig, target: SequenceTarget<Double>?, targetTokens: [Int]? = nil, label: String) throws {
        let model = try SequenceModel<Double>(config, seed: 9)
        let steps = 4, batch = 2, lengths = [4, 3], rnn = config.rnn
        let x = try Tensor<Double>(shape: [steps, batch, rnn.inputSize], data: randomValues(steps * batch * rnn.inputSize, seed: 1))
        let h0 = try Tensor<Double>(shape: [rnn.numLayers * rnn.numDirections, batch, rnn.outputSize],
                                    data: randomValues(rnn.numLayers * rnn.numDirections * batch * rnn.outputSize, seed: 2))
        func batchOf(_ x: Tensor<Double>, _ h0: Tensor<Double>) -> SequenceBatch<Double> {
            var b: SequenceBatch<Double>
            if let targetTokens {
                b = SequenceBatch(source: .features(x), sourceLengths: lengths, targetTokens: targetTokens, targetSteps: 2,
                                  targetLengths: [2, 1])
            } else {
                b = SequenceBatch(input: .features(x), lengths: lengths, target: target)
            }
            b.h0 = h0
            return b
        }
        let grads = try model.lossAndStackGradients(batchOf(x, h0)).stack
        let eps = 1e-6
        func numeric(_ i: Int, _ inInput: Bool) throws -> Double {
            func loss(_ delta: Double) throws -> Double {
                var (xx, hh) = (x, h0)
                if inInput { xx.data[i] += delta } else { hh.data[i] += delta }
                return try model.evaluate(batchOf(xx, hh)).loss
            }
            return (try loss(eps) - loss(-eps)) / (2 * eps)
        }
        assertClose(grads.input.data, try x.data.indices.map { try numeric($0, true) }, rtol: 1e-5, atol: 1e-8, "\(label) dL/dx")
        assertClose(grads.h0.data, try h0.data.indices.map { try numeric($0, false) }, rtol: 1e-5, atol: 1e-8, "\(label) dL/dh0")
        XCTAssertEqual(Array(grads.input.data[(3 * batch + 1) * rnn.inputSize ..< (3 * batch + 2) * rnn.inputSize]),
                       [Double](repeating: 0, count: rnn.inputSize), "\(label): past the length")
    }

    func testTaggerClassifierAndSeq2seq() throws {
        try check(ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: .gru, inputSize: 3, hiddenSize: 4),
                              outputSize: 3, output: .classes),
                  target: .classes([0, 1, 2, 0, 1, 2, 0, 1]), label: "tagger")
        try check(ModelConfig(architecture: .classifier,
                              rnn: RecurrentConfig(cell: .lstm, inputSize: 3, hiddenSize: 3, numLayers: 2, direction: .bidirectional),
                              outputSize: 2, output: .regression),
                  target: .values(try Tensor(shape: [2, 2], data: [0.5, -0.5, 1, 0])), label: "classifier")
        try check(ModelConfig(architecture: .seq2seq, rnn: RecurrentConfig(cell: .gru, inputSize: 3, hiddenSize: 4),
                              embeddingSize: 3, outputSize: 5),
                  target: nil, targetTokens: [2, 3, 4, 0], label: "seq2seq")
    }
}
