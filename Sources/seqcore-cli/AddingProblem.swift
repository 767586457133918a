import SeqCore

/// The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015): the long-memory
/// benchmark behind lesson 5's story.
///
/// Each of the T steps carries two features: a number in [0, 1] and a marker bit. Exactly two steps
/// are marked, one in the first half and one in the second; the target, read at the end, is the sum
/// of the two marked numbers. Always answering 1 (the mean of the sum) scores the variance of a sum
/// of two U(0, 1), 2/12 ≈ 0.167: a model below that has learned to remember the first marked number
/// across up to T steps.
struct AddingProblem {
    let steps: Int

    /// MSE of the constant answer 1.
    static let baselineMSE = 1.0 / 6.0

    /// A batch of B sequences: inputs [T, B, 2] (time-major), targets [B, 1].
    func batch(_ size: Int, _ rng: inout SeqRandom) -> SequenceBatch<Float> {
        let t = steps, half = steps / 2
        var x = [Float](repeating: 0, count: t * size * 2), y = [Float](repeating: 0, count: size)
        for b in 0 ..< size {
            for s in 0 ..< t { x[(s * size + b) * 2] = Float(rng.nextUnit()) }
            let first = Int(rng.nextUnit() * Double(half))
            let second = half + Int(rng.nextUnit() * Double(t - half))
            for s in [first, second] {
                x[(s * size + b) * 2 + 1] = 1
                y[b] += x[(s * size + b) * 2]
            }
        }
        return SequenceBatch(input: .features(try! Tensor(shape: [t, size, 2], data: x)),
                             target: .values(try! Tensor(shape: [size, 1], data: y)))
    }

    /// A many-to-one regressor: the recurrent stack's final state through a linear head.
    /// An LSTM starts with its forget-gate bias at `forgetBias` (Jozefowicz et al. 2015; Keras's
    /// `unit_forget_bias`), so Γ_f ≈ σ(1) ≈ 0.73 keeps c<t> longer from the first step.
    static func model(cell: CellType, hiddenSize: Int, seed: UInt64, forgetBias: Double?) throws -> SequenceModel<Float> {
        let config = ModelConfig(architecture: .classifier,
                                 rnn: RecurrentConfig(cell: cell, inputSize: 2, hiddenSize: hiddenSize),
                                 outputSize: 1, output: .regression)
        return try SequenceModel<Float>(config, seed: seed, forgetBias: cell == .lstm ? forgetBias : nil)
    }
}
