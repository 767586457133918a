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
