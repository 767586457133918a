import SeqCore

/// A text as character ids, for character-level language models.
struct TextCorpus {
    /// Characters; in lines mode, vocabulary[0] is "\n", which starts and ends every line.
    var vocabulary: [String]
    var index: [String: Int]
    /// Characters mode: the whole text. Lines mode: empty.
    var ids: [Int] = []
    /// Lines mode: each non-empty line's ids (without the boundary).
    var lines: [[Int]] = []
    var kind: SavedModel.Kind

    /// Builds the vocabulary from `text`.
    init(training text: String, lines: Bool) throws {
        kind = lines ? .lines : .characters
        // In lines mode every line break (\n, \r\n, \r, …) only separates lines: none is a character.
        let characters = Set(text.filter { !lines || !$0.isNewline }.map(String.init))
        vocabulary = (lines ? ["\n"] : []) + characters.sorted()
        index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        try load(text)
        if lines ? self.lines.isEmpty : ids.count < 2 { throw CLIError("the text is too short to train on") }
    }

    /// Reads `text` with an existing vocabulary; characters outside it are skipped and counted.
    init(_ text: String, vocabulary: [String], kind: SavedModel.Kind) throws {
        self.vocabulary = vocabulary
        self.kind = kind
        index = Dictionary(vocabulary.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        try load(text)
    }

    private(set) var skipped = 0

    private mutating func load(_ text: String) throws {
        if kind == .lines {
            for line in text.split(whereSeparator: \.isNewline) where !line.isEmpty {
                lines.append(encode(String(line)))
            }
        } else {
            ids = encode(text)
        }
    }

    mutating func encode(_ s: String) -> [Int] {
        s.compactMap { c in
            if let i = index[String(c)] { return i }
            skipped += 1
            return nil
        }
    }

    func decode(_ ids: [Int]) -> String {
        ids.map { $0 >= 0 && $0 < vocabulary.count ? vocabulary[$0] : "" }.joined()
    }

    /// Splits off `fraction` for validation: the end of the text, or random lines (a word list is
    /// often sorted, and its last lines would not be typical). No validation part when the corpus
    /// is too small to spare one.
    func split(_ fraction: Double, seed: UInt64) -> (training: TextCorpus, validation: TextCorpus?) {
        var a = self, b = self
        if kind == .lines {
            let n = max(1, Int(Double(lines.count) * fraction))
            guard lines.count > n else { return (a, nil) }
            var rng = SeqRandom(seed: seed)
            let shuffled = lines.shuffled(using: &rng)
            a.lines = Array(shuffled.dropLast(n)); b.lines = Array(shuffled.suffix(n))
        } else {
            let n = max(2, Int(Double(ids.count) * fraction))
            guard ids.count > n + 2 else { return (a, nil) }
            a.ids = Array(ids.dropLast(n)); b.ids = Array(ids.suffix(n))
        }
        return (a, b)
    }

    /// A training batch. Characters: B random windows of `steps` + 1 ids (input the first `steps`,
    /// target shifted by one). Lines: B random lines, "\n" + line → line + "\n", cut at `steps`.
    func batch(_ size: Int, steps: Int, _ rng: inout SeqRandom) throws -> SequenceBatch<Float> {
        func random(_ n: Int) -> Int { min(n - 1, Int(rng.nextUnit() * Double(n))) }
        if kind == .lines {
            return try Self.lineBatch((0 ..< size).map { _ in lines[random(lines.count)] }, steps: steps)
        }
        let t = min(steps, ids.count - 1)
        var input = [Int](repeating: 0, count: t * size), target = input
        for b in 0 ..< size {
            let start = random(ids.count - t)
            for s in 0 ..< t { input[s * size + b] = ids[start + s]; target[s * size + b] = ids[start + s + 1] }
        }
        return SequenceBatch(input: .tokens(input, steps: t, batch: size), target: .classes(target))
    }

    /// The text as `lanes` parallel streams for `--carry-state`: lane b reads its own contiguous
    /// segment (characters b·S ..< (b+1)·S, S = (N − 1) / lanes), window after window, so that
    /// each window continues where the lane's previous one stopped. `continues` is false when the
    /// windows start over from the segments' beginnings (and the carried state must be dropped).
    struct Streams {
        let corpus: TextCorpus
        let lanes: Int
        let segment: Int
        var offset = 0

        init(_ corpus: TextCorpus, lanes: Int) throws {
            self.corpus = corpus
            self.lanes = lanes
            segment = (corpus.ids.count - 1) / lanes
            guard segment >= 2 else {
                throw CLIError("--carry-state: \(corpus.ids.count) characters are too few for --batch \(lanes) streams "
                    + "(at least \(2 * lanes + 1) needed)")
            }
        }

        mutating func next(steps: Int) -> (batch: SequenceBatch<Float>, continues: Bool) {
            let t = min(steps, segment)
            let continues = offset > 0 && offset + t <= segment
            if !continues { offset = 0 }
            var input = [Int](repeating: 0, count: t * lanes), target = input
            for b in 0 ..< lanes {
                let start = b * segment + offset
                for s in 0 ..< t { input[s * lanes + b] = corpus.ids[start + s]; target[s * lanes + b] = corpus.ids[start + s + 1] }
            }
            offset += t
            return (SequenceBatch(input: .tokens(input, steps: t, batch: lanes), target: .classes(target)), continues)
        }
    }

    static func lineBatch(_ lines: [[Int]], steps: Int) throws -> SequenceBatch<Float> {
        let inputs = lines.map { Array(([0] + $0).prefix(steps)) }
        let (tokens, t, lengths) = try SequenceBatch<Float>.padded(inputs, pad: 0)
        var target = [Int](repeating: 0, count: t * lines.count)
        for (b, line) in lines.enumerated() {
            for (s, id) in (line + [0]).prefix(lengths[b]).enumerated() { target[s * lines.count + b] = id }
        }
        return SequenceBatch(input: .tokens(tokens, steps: t, batch: lines.count), lengths: lengths, target: .classes(target))
    }

    /// Every id of the corpus exactly once, as evaluation batches.
    func evaluationBatches(steps: Int, batchSize: Int = 32) throws -> [SequenceBatch<Float>] {
        if kind == .lines {
            return try stride(from: 0, to: lines.count, by: batchSize).map {
                try Self.lineBatch(Array(lines[$0 ..< min($0 + batchSize, lines.count)]), steps: steps)
            }
        }
        var batches: [SequenceBatch<Float>] = []
        var start = 0
        while start + 1 < ids.count {
            let t = min(steps, ids.count - 1 - start)
            batches.append(SequenceBatch(input: .tokens(Array(ids[start ..< start + t]), steps: t, batch: 1),
                                         target: .classes(Array(ids[start + 1 ... start + t]))))
            start += t
        }
        return batches
    }
}
