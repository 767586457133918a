import ArgumentParser
import Foundation
import SeqCore

/// `seqcore sample`: generate text from a saved character-level language model.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text from a saved language model (one-to-many: each sample is fed back as the next input).")

    @Argument(help: ArgumentHelp("A model saved by `seqcore train --text`.", valueName: "model")) var model: String
    @Option(help: "Samples to draw.") var count = 5
    @Option(help: "Most characters per sample.") var length = 200
    @Option(help: "Temperature: below 1 sharper, above 1 more varied, 0 greedy.") var temperature = 0.8
    @Option(name: .customLong("top-k"), help: "Sample among the k most likely characters only (0: all).") var topK = 0
    @Option(help: "Random seed; sample i uses seed + i.") var seed: UInt64 = 0
    @Option(help: "Text to start from (primes the state; printed before the sampled part).") var prefix = ""

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be positive (got \(count))") }
        if length < 1 { throw ValidationError("--length must be positive (got \(length))") }
        if !(temperature >= 0) || !temperature.isFinite { throw ValidationError("--temperature must be a finite number ≥ 0") }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0") }
    }

    mutating func run() throws {
        let saved = try ModelFile.load(model)
        guard saved.model.config.architecture == .languageModel, saved.kind != .features else {
            throw CLIError("\(model) is a \(saved.model.config.architecture.rawValue), not a language model: nothing to sample")
        }
        var corpus = try TextCorpus("", vocabulary: saved.vocabulary, kind: saved.kind)
        let prefixIDs = corpus.encode(prefix)
        if corpus.skipped > 0 { throw CLIError("--prefix holds characters the model never saw") }
        let boundary: Int? = saved.kind == .lines ? 0 : nil
        var start = prefixIDs
        if let boundary { start = [boundary] + start }
        if start.isEmpty { start = [saved.vocabulary.firstIndex(of: "\n") ?? 0] }
        for i in 0 ..< count {
            let ids = try saved.model.generate(prefix: start, count: length,
                                               sampling: Sampling(temperature: temperature, topK: topK, seed: seed &+ UInt64(i)),
                                               stopToken: boundary)
            let body = corpus.decode(ids.filter { $0 != boundary })
            print(prefix + body)
            if boundary == nil && i + 1 < count { print("---") }
        }
    }
}

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

/// `seqcore info`: describe a model file.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe a saved model: architecture, sizes, parameters.")

    @Argument(help: ArgumentHelp("A model file.", valueName: "model")) var model: String

    mutating func run() throws {
        let saved = try ModelFile.load(model)
        let c = saved.model.config, r = c.rnn
        print("\(model)")
        print("  architecture   \(c.architecture.rawValue)\(saved.kind == .features ? "" : " (\(saved.kind.rawValue))")")
        print("  cell           \(r.cell.rawValue)\(r.cell == .gru ? " (\(r.gruVariant.rawValue))" : "")"
              + "\(r.peepholes ? ", peepholes" : "")\(r.projSize > 0 ? ", projection \(r.projSize)" : "")")
        print("  layers         \(r.numLayers), \(r.direction.rawValue)\(r.direction == .bidirectional ? " (\(r.merge.rawValue))" : "")")
        print("  sizes          input \(r.inputSize), hidden \(r.hiddenSize)"
              + (c.usesTokens ? ", vocabulary \(c.vocabularySize), embedding \(c.embeddingSize)" : "")
              + ", output \(c.outputSize) (\(c.output.rawValue))")
        if !saved.vocabulary.isEmpty {
            let shown = saved.vocabulary.prefix(60).map { $0 == "\n" ? "\\n" : $0 == " " ? "␠" : $0 }.joined()
            print("  vocabulary     \(shown)\(saved.vocabulary.count > 60 ? "…" : "")")
        }
        print("  parameters     \(saved.model.arena.count)")
        for p in saved.model.arena.table {
            print("    \(Format.padRight(p.name, 32)) \(p.shape)")
        }
        if !saved.notes.isEmpty {
            print("  training")
            for (k, v) in saved.notes.sorted(by: { $0.key < $1.key }) { print("    \(Format.padRight(k, 16)) \(v)") }
        }
    }
}
