import ArgumentParser
import Foundation
import SeqCore

/// `seqcore sample`: generate text from a saved character-level language model.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text from a saved language model (one-to-many: each sample is fed back as the next input).")

    @Argument(help: ArgumentHelp("A model saved by `seqcore train --text`.", valueName: "model")) var model: String
    // Numbers are parsed `.unconditional`ly so that a negative value ("--top-k -1") reaches the
    // range checks below instead of being taken for an option ("Missing value").
    @Option(parsing: .unconditional, help: "Samples to draw.") var count = 5
    @Option(parsing: .unconditional, help: "Most characters per sample.") var length = 200
    @Option(parsing: .unconditional, help: "Temperature: below 1 sharper, above 1 more varied, 0 greedy.") var temperature = 0.8
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Sample among the k most likely characters only (0: all).")
    var topK = 0
    @Option(parsing: .unconditional, help: "Random seed; sample i uses seed + i.") var seed: UInt64 = 0
    @Option(help: "Text to start from (primes the state; printed before the sampled part).") var prefix = ""

    func validate() throws {
        try Bounds.check("--count", count, 1 ... Int.max)
        try Bounds.check("--length", length, 1 ... Int.max)
        try Bounds.checkFinite("--temperature", temperature, "a finite number ≥ 0") { $0 >= 0 }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0 (got \(topK))") }
    }

    mutating func run() throws {
        let saved = try ModelFile.load(model)
        guard saved.model.config.architecture == .languageModel, saved.kind != .features else {
            throw CLIError("\(model) is \(ModelFile.describe(saved.model.config)), not a language model: nothing to sample")
        }
        let characters = saved.vocabulary.count
        if topK > characters {
            throw ValidationError("--top-k must be at most \(characters), the characters \(model) knows (got \(topK))")
        }
        var corpus = try TextCorpus("", vocabulary: saved.vocabulary, kind: saved.kind)
        let prefixIDs = corpus.encode(prefix)
        if corpus.skipped > 0 {
            var seen = Set<Character>()
            let unknown = prefix.filter { !saved.vocabulary.contains(String($0)) && seen.insert($0).inserted }
            throw CLIError("--prefix holds characters the model never saw: "
                           + unknown.map { InfoCommand.escape(String($0)) }.joined(separator: ", "))
        }
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
