import ArgumentParser
import Foundation
import SeqCore

/// `seqcore eval`: the loss (and accuracy) of a saved model on data.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a saved model: loss, and accuracy for classes and tags.")

    @Argument(help: ArgumentHelp("A model saved by `seqcore train`.", valueName: "model")) var model: String
    @Option(help: ArgumentHelp("Text, for a language model.", valueName: "file")) var text: String?
    @Option(help: ArgumentHelp("Input sequences (.npy or CSV).", valueName: "file")) var inputs: String?
    @Option(help: ArgumentHelp("Targets (.npy or CSV).", valueName: "file")) var targets: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("With a CSV --inputs: features per step (I; default: what the model reads).", valueName: "I"))
    var features: Int?
    @Option(parsing: .unconditional, help: "Time steps per window for a language model (default 64).") var length: Int?

    func validate() throws {
        if (text == nil) == (inputs == nil) { throw ValidationError("give either --text FILE or --inputs FILE --targets FILE") }
        if inputs != nil && targets == nil { throw ValidationError("--inputs needs --targets FILE") }
        // Options that would be ignored are refused rather than silently doing nothing.
        if text != nil {
            for (name, given) in [("--targets", targets != nil), ("--features", features != nil)] where given {
                throw ValidationError("\(name) goes with --inputs, not --text")
            }
        } else if length != nil {
            throw ValidationError("--length goes with --text (a language model), not --inputs")
        }
        if let length { try Bounds.check("--length", length, 1 ... Int.max) }
        if let features { try Bounds.check("--features", features, 1 ... Bounds.maxSize) }
    }

    mutating func run() throws {
        let saved = try ModelFile.load(model)
        let m = saved.model, c = m.config
        let result: Evaluation.Result
        if let text {
            guard c.architecture == .languageModel else { throw CLIError("\(model) is \(ModelFile.describe(c)); --text needs a language model") }
            let corpus = try TextCorpus(try DataLoading.readText(text), vocabulary: saved.vocabulary, kind: saved.kind)
            if corpus.skipped > 0 { print("Skipped \(corpus.skipped) characters the model never saw.") }
            let window = length ?? 64
            let longest = min(window, saved.kind == .lines ? (corpus.lines.map(\.count).max() ?? 0) + 1 : max(1, corpus.ids.count - 1))
            try Bounds.checkPass(c, steps: longest, batch: saved.kind == .lines ? 32 : 1,
                                 "--length \(window) (windows of up to \(longest) characters)")
            let batches = try corpus.evaluationBatches(steps: window)
            // A loss over no predictions would print as 0 (perplexity 1): a perfect score for nothing.
            guard !batches.isEmpty else {
                throw CLIError("\(text) holds nothing to score: " + (saved.kind == .lines
                    ? "no non-empty line of characters the model knows"
                    : "fewer than 2 characters the model knows (each predicts the next)"))
            }
            result = try Evaluation.run(m, batches)
        } else {
            guard c.architecture == .tagger || c.architecture == .classifier, !c.usesTokens else {
                throw CLIError("\(model) is \(ModelFile.describe(c)); --inputs needs a tagger, classifier or regressor")
            }
            let task: SequenceData.Task = c.architecture == .tagger ? .tag : c.output == .regression ? .regress : .classify
            // A CSV is read with the model's features per step unless told otherwise; an .npy's shape says.
            let data = try SequenceData.load(inputs: inputs!, targets: targets!, task: task,
                                             features: features ?? (DataLoading.isNPY(inputs!) ? nil : c.rnn.inputSize))
            if data.features != c.rnn.inputSize {
                throw CLIError("\(inputs!) has \(data.features) features per step; the model reads \(c.rnn.inputSize)")
            }
            try Bounds.checkPass(c, steps: data.longest, batch: 64, "\(inputs!) (sequences of up to \(data.longest) steps)")
            let out = (c.outputSize, c.output)
            if task == .regress, data.targets[0].count != c.outputSize {
                throw CLIError("\(targets!) has \(data.targets[0].count) values per row; the model predicts \(c.outputSize)")
            }
            if task != .regress {
                // Labels are checked integers in 0…maxLabel by now, so the conversion cannot trap.
                let top = Int(data.targets.flatMap { $0 }.max() ?? 0)
                let known = c.output == .binary ? 2 : c.outputSize
                if top >= known {
                    throw CLIError("\(targets!) holds label \(top); the model knows \(known) classes (0…\(known - 1))")
                }
            }
            result = try Evaluation.run(m, stride(from: 0, to: data.count, by: 64).map {
                try data.batch(Array($0 ..< min($0 + 64, data.count)), output: out)
            })
        }
        print(result.summary(c))
    }
}
