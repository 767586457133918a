import ArgumentParser
import SeqCore

@main
struct SeqcoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqcore",
        abstract: "Recurrent neural networks (RNN, GRU, LSTM) that train by backpropagation through time.",
        subcommands: [Demo.self],
        defaultSubcommand: Demo.self)
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an LSTM on a toy sequence task and print its loss falling.")

    @Option(help: "Training steps.") var steps = 300
    @Option(help: "Random seed.") var seed: UInt64 = 1

    /// Many-to-one regression: read T numbers in [0, 1], output their mean at the last step.
    /// A linear head ŷ = W_ya a<T> + b_y on an LSTM, MSE loss, plain SGD with momentum.
    mutating func run() throws {
        let steps = 20, batch = 16, hidden = 16
        let layer = try RecurrentLayer<Float>(RecurrentConfig(cell: .lstm, inputSize: 1, hiddenSize: hidden), seed: seed)
        var rng = SeqRandom(seed: seed &+ 1)
        var wy = (0 ..< hidden).map { _ in Float(rng.uniform(-0.25, 0.25)) }, by: Float = 0
        var velocity = [Float](repeating: 0, count: layer.arena.count)
        let lr: Float = 0.2, momentum: Float = 0.9
        print("step   loss (MSE; always answering 0.5 scores \(1.0 / 12 / Double(steps)))")
        for step in 1 ... self.steps {
            var x = [Float](repeating: 0, count: steps * batch), target = [Float](repeating: 0, count: batch)
            for b in 0 ..< batch {
                for t in 0 ..< steps { x[t * batch + b] = Float(rng.nextUnit()); target[b] += x[t * batch + b] / Float(steps) }
            }
            let out = try layer.forward(try Tensor(shape: [steps, batch, 1], data: x), training: true)
            // ŷ from a<T> (the final state), L = mean_b (ŷ − y)²
            var loss: Float = 0
            var dh = [Float](repeating: 0, count: batch * hidden), dwy = [Float](repeating: 0, count: hidden), dby: Float = 0
            for b in 0 ..< batch {
                let a = out.hN.data[b * hidden ..< (b + 1) * hidden]
                let y = zip(a, wy).reduce(by) { $0 + $1.0 * $1.1 }
                let d = 2 * (y - target[b]) / Float(batch)
                loss += (y - target[b]) * (y - target[b]) / Float(batch)
                for j in 0 ..< hidden { dwy[j] += d * a[a.startIndex + j]; dh[b * hidden + j] = d * wy[j] }
                dby += d
            }
            layer.arena.zeroGradients()
            _ = try layer.backward(out.tape!, gradOutput: nil, gradHN: try Tensor(shape: [1, batch, hidden], data: dh))
            for i in 0 ..< layer.arena.count {
                velocity[i] = momentum * velocity[i] + layer.arena.gradients[i]
                layer.arena.values[i] -= lr * velocity[i]
            }
            for j in 0 ..< hidden { wy[j] -= lr * dwy[j] }
            by -= lr * dby
            if step == 1 || step % 25 == 0 { print(String(repeating: " ", count: max(0, 4 - "\(step)".count)) + "\(step)   \(loss)") }
        }
    }
}
