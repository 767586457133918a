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

    // Numbers are parsed `.unconditional`ly so that a negative value ("-b -1") reaches the range
    // checks below instead of being taken for an option ("Missing value").
    @Option(name: [.customShort("b"), .long], parsing: .unconditional, help: "Batch size B.") var batch = 32
    @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Time steps T.") var steps = 100
    @Option(name: [.customShort("i"), .long], parsing: .unconditional, help: "Input features I.") var input = 128
    @Option(name: [.customLong("hidden")], parsing: .unconditional, help: "Hidden units H.") var hidden = 256
    @Option(parsing: .unconditional, help: "Timed runs per measurement (the median is reported).") var runs = 7
    @Option(help: ArgumentHelp("Cells to time, comma-separated: rnn_tanh, rnn_relu, gru, lstm.", valueName: "list"))
    var cells = "rnn_tanh,gru,lstm"

    /// Most timed runs: enough for any median, and the progress bar's 2·(runs + 1) cannot overflow.
    static let maxRuns = 10_000

    func validate() throws {
        try Bounds.check("--batch", batch, 1 ... Bounds.maxBatch)
        try Bounds.check("--steps", steps, 1 ... Int.max)
        try Bounds.check("--input", input, 1 ... Bounds.maxSize)
        try Bounds.check("--hidden", hidden, 1 ... Bounds.maxSize)
        try Bounds.check("--runs", runs, 5 ... Self.maxRuns)
        for cell in try parsedCells() {
            let config = ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: cell, inputSize: input, hiddenSize: hidden),
                                     outputSize: 1)
            try Bounds.checkModel(config, options: "--input \(input), --hidden \(hidden) (\(cell.rawValue))", training: false)
        }
        // The random input [T, B, I] and output gradient [T, B, H] are made here, before the
        // library's own memory check of the timed pass: bound them, together with a rough copy of
        // that check (forward + backward keep about 8 buffers of T × B × the widest row, the LSTM's
        // tape being 7·H wide), so that a run the library would refuse allocates nothing first.
        // Overflow-checked throughout: T × B alone may overflow.
        let wide = max(7 * hidden, input, 2 * hidden)
        let floats = Limits.memoryCapBytes / MemoryLayout<Float>.size
        guard Bounds.product([steps, batch, input + hidden + 8 * wide], limit: floats) != nil else {
            throw ValidationError("-t \(steps) × -b \(batch) with -i \(input), --hidden \(hidden): the timed pass would need more than "
                                  + "the memory cap of \(Limits.memoryCapBytes >> 20) MiB")
        }
    }

    func parsedCells() throws -> [CellType] {
        let names = cells.split(separator: ",", omittingEmptySubsequences: false)
        // "" or "gru," would time nothing (or one cell less than asked) and still succeed.
        if let empty = names.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError(cells.isEmpty ? "--cells is empty (expected rnn_tanh, rnn_relu, gru or lstm, comma-separated)"
                                                : "--cells '\(cells)': name \(empty + 1) is empty")
        }
        return try names.map { name in
            guard let c = CellType(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
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
            let flops = 2.0 * Double(steps) * Double(batch) * Double(gates * hidden) * Double(input + hidden)   // Double: no overflow
            let f = Self.median(forward), fb = Self.median(training)
            rows.append([cell.rawValue,
                         Format.fixed(f * 1000, 2), Format.fixed(Double(batch) / f, 0), Format.fixed(flops / f / 1e9, 1),
                         Format.fixed(fb * 1000, 2), Format.fixed(Double(batch) / fb, 0), Format.fixed(3 * flops / fb / 1e9, 1)])
        }
        print(Format.table(["cell", "forward ms", "seq/s", "GFLOP/s", "fwd+bwd ms", "seq/s", "GFLOP/s"], rows))
    }
}
