import ArgumentParser
import Foundation
import SeqCore

/// `seqcore bench`: forward and forward+backward time per batch of one recurrent layer.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure forward and forward+backward time per batch for RNN, GRU and LSTM.",
        discussion: """
            Times one recurrent layer on random input, after one warm-up run, and prints the median of \
            --runs runs. GFLOP/s counts the matrix products only: 2·T·B·G·H·(I + H) for a forward pass \
            (G gates) and three times that for forward + backward.
            """)

    @OptionGroup var common: CommonOptions

    @Option(name: [.customShort("b"), .long], help: "Batch size B.") var batch = 32
    @Option(name: [.customShort("t"), .long], help: "Time steps T.") var steps = 100
    @Option(name: [.customShort("i"), .long], help: "Input features I.") var input = 128
    @Option(name: [.customLong("hidden")], help: "Hidden units H.") var hidden = 256
    @Option(help: "Timed runs per measurement (the median is reported).") var runs = 7
    @Option(help: ArgumentHelp("Cells to time, comma-separated: rnn_tanh, rnn_relu, gru, lstm.", valueName: "list"))
    var cells = "rnn_tanh,gru,lstm"

    func validate() throws {
        for (name, v) in [("--batch", batch), ("--steps", steps), ("--input", input), ("--hidden", hidden)] where v < 1 {
            throw ValidationError("\(name) must be positive (got \(v))")
        }
        if runs < 5 { throw ValidationError("--runs must be at least 5 (got \(runs))") }
        _ = try parsedCells()
    }

    func parsedCells() throws -> [CellType] {
        try cells.split(separator: ",").map { name in
            guard let c = CellType(rawValue: String(name)) else {
                throw ValidationError("unknown cell '\(name)' in --cells (expected rnn_tanh, rnn_relu, gru or lstm)")
            }
            return c
        }
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    mutating func run() throws {
        try common.apply()
        print("seqcore bench: B = \(batch), T = \(steps), I = \(input), H = \(hidden), one layer, Float, "
              + "\(Parallelism.threadCount) thread\(Parallelism.threadCount == 1 ? "" : "s"); median of \(runs) runs")
        var rows: [[String]] = []
        for cell in try parsedCells() {
            let layer = try RecurrentLayer<Float>(RecurrentConfig(cell: cell, inputSize: input, hiddenSize: hidden), seed: 1)
            var rng = SeqRandom(seed: 2)
            let x = try Tensor<Float>(shape: [steps, batch, input],
                                      data: (0 ..< steps * batch * input).map { _ in Float(rng.uniform(-1, 1)) })
            let gradOutput = try Tensor<Float>(shape: [steps, batch, hidden],
                                               data: (0 ..< steps * batch * hidden).map { _ in Float(rng.uniform(-1, 1)) })
            let bar = ProgressBar("bench \(cell.rawValue)", total: 2 * (runs + 1), quiet: common.quiet)
            var forward: [Double] = [], training: [Double] = []
            for i in 0 ... runs {
                let clock = Stopwatch()
                _ = try layer.forward(x)
                if i > 0 { forward.append(clock.elapsed) }
                bar.update(i + 1)
            }
            for i in 0 ... runs {
                layer.arena.zeroGradients()
                let clock = Stopwatch()
                let out = try layer.forward(x, training: true)
                _ = try layer.backward(out.tape!, gradOutput: gradOutput)
                if i > 0 { training.append(clock.elapsed) }
                bar.update(runs + 2 + i)
            }
            bar.finish()
            let gates = RecurrentConfig(cell: cell, inputSize: input, hiddenSize: hidden).gateCount
            let flops = 2.0 * Double(steps * batch * gates * hidden * (input + hidden))
            let f = Self.median(forward), fb = Self.median(training)
            rows.append([cell.rawValue,
                         Format.fixed(f * 1000, 2), Format.fixed(Double(batch) / f, 0), Format.fixed(flops / f / 1e9, 1),
                         Format.fixed(fb * 1000, 2), Format.fixed(Double(batch) / fb, 0), Format.fixed(3 * flops / fb / 1e9, 1)])
        }
        print(Format.table(["cell", "forward ms", "seq/s", "GFLOP/s", "fwd+bwd ms", "seq/s", "GFLOP/s"], rows))
    }
}
