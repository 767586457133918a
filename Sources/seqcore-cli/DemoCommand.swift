import ArgumentParser
import Foundation
import SeqCore

/// `seqcore demo`: the course's story in about two minutes on two cores.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Tell the course's story: vanishing gradients, a name tagger, a name generator.",
        discussion: """
            (a) A vanilla RNN, a GRU and an LSTM learn the adding problem (T = 100): the RNN's gradient \
            vanishes and it cannot. (b) A bidirectional tagger finds the names in "Harry Potter and \
            Hermione Granger invented a new spell." (c) A character-level language model invents new \
            names. Writes SVG charts of the loss curves and of the per-step gradient norms into --out. \
            Every seed is fixed: two runs print the same numbers (times aside).
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Folder for the SVG charts (created if missing).", valueName: "dir"))
    var out = "seqcore-demo-output"

    @Option(help: ArgumentHelp("Parts to run, e.g. 'a' or 'bc'.", valueName: "parts"))
    var only = "abc"

    @Option(parsing: .unconditional, help: ArgumentHelp("Sequence length T of the adding problem (4 to \(Self.maxLength)).", valueName: "T"))
    var length = 100

    /// Longest adding problem: 100 times the demo's, already minutes of training; beyond it the
    /// test set and the gradient norms outgrow memory (and T·100 overflows at the extreme).
    static let maxLength = 10_000

    @Option(help: ArgumentHelp("Word list for the name generator (default: /usr/share/dict/words if installed, else invented names).",
                               valueName: "file"))
    var words: String?

    // Tuning knobs for part (a); hidden: the defaults are the demo.
    @Option(help: .hidden) var addingHidden = 32
    @Option(help: .hidden) var addingBatch = 64
    @Option(help: .hidden) var addingSteps = 2000
    @Option(help: .hidden) var addingRate = 0.01
    @Option(help: .hidden) var addingSeed: UInt64 = 7
    @Option(help: .hidden) var cells: String?
    @Option(help: .hidden) var generatorHidden = 128
    @Option(help: .hidden) var generatorSteps = 1500
    @Option(help: .hidden) var generatorRate = 0.003
    @Option(help: .hidden) var temperature = 0.8

    func validate() throws {
        if only.isEmpty || !only.allSatisfy({ "abc".contains($0) }) {
            throw ValidationError("--only takes letters among a, b, c (got '\(only)')")
        }
        try Bounds.check("--length", length, 4 ... Self.maxLength)
        // The hidden tuning knobs: bounded too, so that no value traps (a loop 1...0, a product overflow).
        try Bounds.check("--adding-hidden", addingHidden, 1 ... 4096)
        try Bounds.check("--adding-batch", addingBatch, 1 ... 4096)
        try Bounds.check("--adding-steps", addingSteps, 1 ... 1_000_000)
        try Bounds.check("--generator-hidden", generatorHidden, 1 ... 4096)
        try Bounds.check("--generator-steps", generatorSteps, 1 ... 1_000_000)
        for (name, v) in [("--adding-rate", addingRate), ("--generator-rate", generatorRate)] {
            try Bounds.checkFinite(name, v, "a finite number > 0") { $0 > 0 }
        }
        try Bounds.checkFinite("--temperature", temperature, "a finite number ≥ 0") { $0 >= 0 }
        if let words {
            // A regular file only: reading a FIFO with no writer would block for ever.
            do { try Files.checkRegularFile(words) } catch { throw ValidationError("--words: \(error)") }
            if !FileManager.default.isReadableFile(atPath: words) { throw ValidationError("cannot read the word list '\(words)'") }
        }
    }

    mutating func run() throws {
        try common.apply()
        // The demo's models are small (H = 32 to 128): splitting their products over two threads cost
        // more than it saved when measured (LSTM, part (a): 4.2–4.7 s on one thread, 5.4–8.8 s on two,
        // with other work on the machine). One thread unless asked otherwise.
        if common.threads == nil { Parallelism.threadCount = 1 }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create the folder \(out) for the charts")
        }
        let clock = Stopwatch()
        let threads = Parallelism.threadCount == 1 ? "1 kernel thread" : "\(Parallelism.threadCount) kernel threads"
        print("seqcore demo: the story of the sequence-models course in three experiments (\(threads))")
        var charts: [String] = []
        if only.contains("a") { charts += try partA() }
        if only.contains("b") { charts += try partB() }
        if only.contains("c") { charts += try partC() }
        if !charts.isEmpty {
            print("\nCharts (SVG):")
            for c in charts { print("  \(c)") }
        }
        print("\nTotal run time: \(Format.duration(clock.elapsed))")
    }

    // MARK: (a) vanishing gradients

    func partA() throws -> [String] {
        var s = VanishingGradientsExperiment.Settings()
        s.steps = length
        s.hiddenSize = addingHidden
        s.batchSize = addingBatch
        s.trainingSteps = addingSteps
        s.learningRate = addingRate
        s.seed = addingSeed
        let t = s.steps
        print("""

            (a) Vanishing gradients (lesson 5): the adding problem, T = \(t)
                Each step carries a number in [0, 1] and a marker bit; two steps are marked, one in each half.
                The target, read after the last step, is the sum of the two marked numbers; always answering
                1 scores MSE \(Format.fixed(AddingProblem.baselineMSE, 3)). Each cell gets the same data and budget: hidden \(s.hiddenSize),
                \(s.trainingSteps) Adam steps (lr \(s.learningRate)) of \(s.batchSize) sequences, gradients clipped at norm \(s.clipNorm)\
            \(s.forgetBias.map { ", LSTM forget bias \($0)" } ?? "").

            """)
        Console.flush()
        let experiment = VanishingGradientsExperiment(settings: s)
        var results: [VanishingGradientsExperiment.Result] = []
        for (cell, _) in VanishingGradientsExperiment.cells {
            if let cells, !cells.split(separator: ",").contains(Substring(cell.rawValue)) { continue }
            results.append(try experiment.run(cell, quiet: common.quiet))
        }
        print(Format.table(["cell", "test MSE", "time"],
                           results.map { [VanishingGradientsExperiment.name($0.cell), Format.fixed($0.finalTestMSE, 4),
                                          Format.duration($0.seconds)] }, indent: "    "))

        // The gradient that reaches each step, before and after training: why the RNN cannot learn.
        // Six steps spread like 1, 10, 25, 50, 75, 100 of T = 100; for a short T several land on
        // the same step, which is shown once.
        var picks: [Int] = []
        for p in [1, 10, 25, 50, 75, 100].map({ min(t, max(1, ($0 * t + 50) / 100)) }) where !picks.contains(p) { picks.append(p) }
        func normCell(_ v: Double) -> String { v > 0 ? Format.sci(v) : "0" }
        print("""

                ‖∂L/∂a<t>‖, the gradient of the loss with respect to the hidden state a<t>, on the test set:

            """)
        var rows: [[String]] = []
        for r in results {
            let name = VanishingGradientsExperiment.name(r.cell)
            rows.append([name, "untrained"] + picks.map { normCell(r.normsBefore[$0 - 1]) })
            rows.append(["", "trained"] + picks.map { normCell(r.normsAfter[$0 - 1]) })
        }
        print(Format.table(["cell", "model"] + picks.map { "t = \($0)" }, rows, indent: "    "))
        // Sparklines: each row on its own log scale, from its largest value (█) down 12 decades (▁).
        let columns = min(t, 50)
        func sparkline(_ norms: [Double]) -> String {
            let sampled = (0 ..< columns).map { norms[($0 + 1) * t / columns - 1] }
            let high = sampled.max() ?? 1
            return Format.sparkline(sampled, low: high * 1e-12, high: high).map { $0 == " " ? "·" : $0 }.map(String.init).joined()
        }
        print("""

                The same over t = 1 … \(t) (\(columns) columns), each row on a log scale from its largest value (█)
                down twelve decades (▁); · = underflowed to 0 in Float:

            """)
        for r in results {
            let name = Format.padRight(VanishingGradientsExperiment.name(r.cell), 12)
            print("    \(name)untrained  \(sparkline(r.normsBefore))")
            print("    \(String(repeating: " ", count: 12))trained    \(sparkline(r.normsAfter))")
        }
        let ratios = results.map { r -> String in
            let first = r.normsAfter[0], last = r.normsAfter[t - 1]
            let ratio = first > 0 && last > 0 ? "10^\(Int(log10(first / last).rounded()))" : "0 (underflow)"
            return "\(ratio) for the \(VanishingGradientsExperiment.name(r.cell))"
        }
        let rnn = results.first { $0.cell == .rnnTanh }, gated = results.filter { $0.cell != .rnnTanh }
        let expected = rnn.map { $0.finalTestMSE > 0.1 } ?? false && !gated.isEmpty && gated.allSatisfy { $0.finalTestMSE < 0.01 }
        if expected {
            print("""

                    Untrained, every cell forgets: the gradient shrinks at each step back in time. Training
                    teaches the GRU's update gate and the LSTM's forget gate to keep the state, so the gradient
                    from the answer reaches the first marked step and the model learns to use it. The vanilla
                    RNN has no gate: its gradient still fades by orders of magnitude within a few tens of steps,
                    and the marked steps lie further back than that, so its error stays near \(Format.fixed(AddingProblem.baselineMSE, 3)), the
                    score of always answering 1 (using the second number alone would already give 1/12 ≈ 0.083).
                """)
        } else {
            print("\n    (These settings did not give the usual outcome — RNN near 0.167, GRU and LSTM below 0.01.)")
        }
        print("    After training, ‖∂L/∂a<1>‖ / ‖∂L/∂a<\(t)>‖ is \(ratios.joined(separator: ", ")).")

        // Charts
        let colors = Dictionary(uniqueKeysWithValues: zip([CellType.rnnTanh, .gru, .lstm], SVGChart.palette))
        let lossPanel = SVGChart.Panel(
            title: "Test MSE while training (T = \(t))", xLabel: "training step", yLabel: "test MSE (log scale)", logY: true,
            series: results.map { r in
                SVGChart.Series(name: VanishingGradientsExperiment.name(r.cell), color: colors[r.cell]!,
                                points: r.testCurve.map { (Double($0.0), $0.1) })
            },
            references: [SVGChart.Reference(y: AddingProblem.baselineMSE, label: "always answering 1: 0.167"),
                         SVGChart.Reference(y: 0.01, label: "0.01")])
        let lossChart = SVGChart.render(
            title: "The adding problem: a vanilla RNN cannot learn what GRU and LSTM learn",
            note: "Same data, same budget: hidden \(s.hiddenSize), batch \(s.batchSize), Adam lr \(s.learningRate). Generated by `seqcore demo`.",
            panels: [lossPanel], panelWidth: 720, panelHeight: 380)
        let allNorms = results.flatMap { $0.normsAfter + $0.normsBefore }.filter { $0 > 0 }
        let low = allNorms.min() ?? 1e-30, high = allNorms.max() ?? 1
        func normPanel(_ title: String, _ norms: (VanishingGradientsExperiment.Result) -> [Double]) -> SVGChart.Panel {
            SVGChart.Panel(title: title, xLabel: "step t", yLabel: "‖∂L/∂a<t>‖ (log scale)", logY: true,
                           series: results.map { r in
                               SVGChart.Series(name: VanishingGradientsExperiment.name(r.cell), color: colors[r.cell]!,
                                               points: norms(r).enumerated().map { (Double($0.offset + 1), $0.element) })
                           },
                           yRange: (low, high), legendAtBottom: true)
        }
        let normChart = SVGChart.render(
            title: "Gradient reaching each step of the adding problem (T = \(t)), ‖∂L/∂a<t>‖",
            note: "Test set; the loss reads only the last step. A curve stops where the gradient underflowed to 0 in Float.",
            panels: [normPanel("untrained", \.normsBefore), normPanel("after training", \.normsAfter)])
        return [try SVGChart.write(lossChart, to: out, name: "adding-problem-loss.svg"),
                try SVGChart.write(normChart, to: out, name: "gradient-norms.svg")]
    }

    // MARK: (b) the name tagger

    func partB() throws -> [String] {
        let experiment = NameTaggerExperiment()
        print("""

            (b) A name tagger (lessons 1 and 3): many-to-many with Tx = Ty, a bidirectional LSTM
                Generated sentences in the spirit of the course's; each word of a person's name is labelled 1.
                \(experiment.trainingSteps) Adam steps of \(experiment.batchSize) sentences; \(Int(experiment.wordDropout * 100))% of training words replaced by <unk>.

            """)
        Console.flush()
        let r = try experiment.run(quiet: common.quiet)
        print("""
                Trained in \(Format.duration(r.seconds)). Held-out sentences whose names never appeared in training
                (they reach the model as <unk>): token accuracy \(Format.fixed(100 * r.accuracy, 1)) % over \(r.testTokens) words,
                \(Format.fixed(100 * r.nameRecall, 1)) % of name words found.

            """)
        for sentence in ["Harry Potter and Hermione Granger invented a new spell.",
                         "Luna Lovegood and Neville found an old map in the library."] {
            let words = NameTaggerData.words(sentence)
            let y = try NameTaggerExperiment.tag(words, r.model, r.vocabulary)
            let unknown = words.filter { !r.vocabulary.contains($0) }
            print(NameTaggerExperiment.render(words, y))
            print("    y = " + y.map { $0 > 0.5 ? "1" : "0" }.joined(separator: " ")
                  + (unknown.isEmpty ? "" : "      (<unk>: \(unknown.joined(separator: ", ")))") + "\n")
        }
        let chart = SVGChart.render(
            title: "Name tagger: training loss",
            panels: [SVGChart.Panel(title: "bidirectional LSTM, binary cross-entropy per word", xLabel: "training step",
                                    yLabel: "loss (smoothed)", logY: true,
                                    series: [SVGChart.Series(name: "tagger", color: SVGChart.palette[3],
                                                             points: r.lossCurve.map { (Double($0.0), $0.1) })])],
            panelWidth: 560, panelHeight: 300)
        return [try SVGChart.write(chart, to: out, name: "name-tagger-loss.svg")]
    }

    // MARK: (c) the name generator

    func partC() throws -> [String] {
        let source: NameGeneratorData.Source
        if let words {
            guard let s = NameGeneratorData.dictionaryNames(words) else {
                throw CLIError("the word list '\(words)' holds fewer than 500 capitalised words of 3 to 9 letters")
            }
            source = s
        } else {
            source = NameGeneratorData.dictionaryNames() ?? NameGeneratorData.generatedNames()
        }
        var experiment = NameGeneratorExperiment(source: source)
        experiment.hiddenSize = generatorHidden
        experiment.trainingSteps = generatorSteps
        experiment.learningRate = generatorRate
        experiment.temperature = temperature
        print("""

            (c) A name generator (lesson 3, one-to-many): a character-level LSTM language model
                Trained on \(source.description),
                \(experiment.trainingSteps) Adam steps of \(experiment.batchSize) words; each sampled letter is fed back as the next input.

            """)
        Console.flush()
        let r = try experiment.run(quiet: common.quiet)
        print("""
                Trained in \(Format.duration(r.seconds)). Cross-entropy on held-out words: \(Format.fixed(r.lossBefore, 2)) → \
            \(Format.fixed(r.lossAfter, 2)) nats per letter (uniform guessing: \(Format.fixed(log(Double(Letters.count)), 2))).
                \(r.samples.count) samples at temperature \(experiment.temperature), seeds \(experiment.seed)…\(experiment.seed + UInt64(r.samples.count) - 1) \
            (* = already in the training list):

            """)
        let shown = r.samples.map { w -> String in
            let name = w.isEmpty ? "(empty)" : w.prefix(1).uppercased() + w.dropFirst()
            return name + (r.trainingWords.contains(w) ? "*" : "")
        }
        let width = (shown.map(\.count).max() ?? 0) + 2
        for row in stride(from: 0, to: shown.count, by: 5) {
            let line = "    " + shown[row ..< min(row + 5, shown.count)].map { Format.padRight($0, width) }.joined()
            print(line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
        }
        let chart = SVGChart.render(
            title: "Name generator: training loss",
            panels: [SVGChart.Panel(title: "character-level LSTM, cross-entropy per letter", xLabel: "training step",
                                    yLabel: "nats per letter (smoothed)",
                                    series: [SVGChart.Series(name: "training", color: SVGChart.palette[4],
                                                             points: r.lossCurve.map { (Double($0.0), $0.1) })],
                                    references: [SVGChart.Reference(y: log(Double(Letters.count)), label: "uniform guessing")])],
            panelWidth: 560, panelHeight: 300)
        return [try SVGChart.write(chart, to: out, name: "name-generator-loss.svg")]
    }
}
