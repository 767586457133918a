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
    @Option(help: ArgumentHelp("With a CSV --inputs: features per step (I).", valueName: "I")) var features: Int?
    @Option(help: "Time steps per window for a language model.") var length = 64

    func validate() throws {
        if (text == nil) == (inputs == nil) { throw ValidationError("give either --text FILE or --inputs FILE --targets FILE") }
        if inputs != nil && targets == nil { throw ValidationError("--inputs needs --targets FILE") }
        if length < 1 { throw ValidationError("--length must be positive") }
    }

    mutating func run() throws {
        let saved = try ModelFile.load(model)
        let m = saved.model, c = m.config
        let result: Evaluation.Result
        if let text {
            guard c.architecture == .languageModel else { throw CLIError("\(model) is a \(c.architecture.rawValue); --text needs a language model") }
            let corpus = try TextCorpus(try DataLoading.readText(text), vocabulary: saved.vocabulary, kind: saved.kind)
            if corpus.skipped > 0 { print("Skipped \(corpus.skipped) characters the model never saw.") }
            result = try Evaluation.run(m, try corpus.evaluationBatches(steps: length))
        } else {
            guard c.architecture == .tagger || c.architecture == .classifier, !c.usesTokens else {
                throw CLIError("\(model) is a \(c.architecture.rawValue); --inputs needs a tagger, classifier or regressor")
            }
            let task: SequenceData.Task = c.architecture == .tagger ? .tag : c.output == .regression ? .regress : .classify
            let data = try SequenceData.load(inputs: inputs!, targets: targets!, task: task, features: features ?? c.rnn.inputSize)
            if data.features != c.rnn.inputSize {
                throw CLIError("\(inputs!) has \(data.features) features per step; the model reads \(c.rnn.inputSize)")
            }
            let out = (c.outputSize, c.output)
            if task == .regress, data.targets[0].count != c.outputSize {
                throw CLIError("\(targets!) has \(data.targets[0].count) values per row; the model predicts \(c.outputSize)")
            }
            let top = Int(data.targets.flatMap { $0 }.max() ?? 0)
            let known = c.output == .binary ? 2 : c.outputSize
            if task != .regress, top >= known {
                throw CLIError("\(targets!) holds label \(top); the model knows \(known) classes (0…\(known - 1))")
            }
            result = try Evaluation.run(m, stride(from: 0, to: data.count, by: 64).map {
                try data.batch(Array($0 ..< min($0 + 64, data.count)), output: out)
            })
        }
        print(result.summary(c))
    }
}
