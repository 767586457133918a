import ArgumentParser
import Foundation
import SeqCore

/// `seqcore train`: a character-level language model from a text, or a tagger, classifier or
/// regressor from sequences in CSV or .npy files.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model and save it (safetensors).",
        discussion: """
            Text → character-level language model:
              seqcore train --text input.txt -o model.safetensors [--lines]
            Sequences → tagger, classifier or regressor:
              seqcore train --inputs X.npy --targets Y.npy --task classify -o model.safetensors
            Inputs: .npy of shape [N, T] or [N, T, I], or CSV with one sequence per row (T·I values; rows \
            may differ in length). Targets, one row per sequence: a class id (classify), K values \
            (regress), or one tag per step (tag; 0/1 tags give a binary tagger); class ids and tags \
            are integers 0…65535. --features applies to CSV inputs (an .npy's shape gives it).
            Held out and scored after training: a random 10% of the sequences (or, with --lines, of \
            the lines), or the last 10% of a text; nothing when the data is too small to spare any.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("A UTF-8 text to learn character by character.", valueName: "file")) var text: String?
    @Flag(help: "With --text: learn each line as a separate sequence (e.g. a list of names).") var lines = false
    @Flag(help: ArgumentHelp("With --text: read the text in order as --batch parallel streams, each window starting from "
        + "the state the stream's previous window ended in (truncated BPTT), instead of windows at random places."))
    var carryState = false
    @Option(help: ArgumentHelp("Input sequences (.npy or CSV).", valueName: "file")) var inputs: String?
    @Option(help: ArgumentHelp("Targets (.npy or CSV), one row per sequence.", valueName: "file")) var targets: String?
    @Option(help: ArgumentHelp("With --inputs: tag, classify or regress.", valueName: "task")) var task: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("With a CSV --inputs: features per step (I).", valueName: "I"))
    var features: Int?
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to save the model.", valueName: "file"))
    var output: String

    // Numbers are parsed `.unconditional`ly so that a negative value ("--hidden -1") reaches the
    // range checks below instead of being taken for an option ("Missing value").
    @Option(help: "Cell: rnn_tanh, rnn_relu, gru or lstm.") var cell = "lstm"
    @Option(parsing: .unconditional, help: "Hidden units H.") var hidden = 128
    @Option(parsing: .unconditional, help: "Stacked layers L.") var layers = 1
    @Flag(help: "Bidirectional (taggers and classifiers only).") var bidirectional = false
    @Option(parsing: .unconditional, help: "Embedding size E (language models; default 32).") var embedding: Int?
    @Option(parsing: .unconditional, help: "Training steps (batches).") var steps = 1000
    @Option(parsing: .unconditional, help: "Batch size B.") var batch = 32
    @Option(parsing: .unconditional, help: "Time steps per training window (language models: BPTT length; lines are cut there; default 64).")
    var length: Int?
    @Option(name: .customLong("lr"), parsing: .unconditional, help: "Adam learning rate.") var learningRate = 0.003
    @Option(name: .customLong("lr-schedule"), help: ArgumentHelp(
        "constant, or cosine: half a cosine from --lr down to 0 over the steps after the warm-up.", valueName: "schedule"))
    var lrSchedule = "constant"
    @Option(parsing: .unconditional, help: "Steps of linear warm-up from --lr/3 up to --lr (0: none).") var warmup = 0
    @Option(parsing: .unconditional, help: "Clip the global gradient norm at this value (0: no clipping).") var clip = 5.0
    @Option(parsing: .unconditional, help: "Random seed (initialisation and batches).") var seed: UInt64 = 0

    /// --length and --embedding only mean something for a language model; unset, these defaults.
    var window: Int { length ?? 64 }
    var embeddingSize: Int { embedding ?? 32 }

    func validate() throws {
        if (text == nil) == (inputs == nil) { throw ValidationError("give either --text FILE or --inputs FILE --targets FILE --task TASK") }
        if inputs != nil {
            if targets == nil { throw ValidationError("--inputs needs --targets FILE") }
            guard let task, SequenceData.Task(rawValue: task) != nil else { throw ValidationError("--inputs needs --task tag, classify or regress") }
        }
        // Options the chosen kind of model would ignore are refused: silently training something
        // other than what was asked is worse than an error.
        if text != nil {
            for (name, given) in [("--targets", targets != nil), ("--task", task != nil), ("--features", features != nil)] where given {
                throw ValidationError("\(name) goes with --inputs, not --text")
            }
        } else {
            for (name, given) in [("--length", length != nil), ("--embedding", embedding != nil)] where given {
                throw ValidationError("\(name) goes with --text (a language model), not --inputs")
            }
        }
        if lines && text == nil { throw ValidationError("--lines goes with --text") }
        if carryState && (text == nil || lines) { throw ValidationError("--carry-state goes with --text, without --lines") }
        if CellType(rawValue: cell) == nil { throw ValidationError("unknown --cell '\(cell)' (rnn_tanh, rnn_relu, gru or lstm)") }
        try Bounds.check("--hidden", hidden, 1 ... Bounds.maxSize)
        try Bounds.check("--embedding", embeddingSize, 1 ... Bounds.maxSize)
        try Bounds.check("--layers", layers, 1 ... Bounds.maxLayers)
        try Bounds.check("--batch", batch, 1 ... Bounds.maxBatch)
        try Bounds.check("--steps", steps, 1 ... Int.max)
        try Bounds.check("--length", window, 1 ... Int.max)
        if let features { try Bounds.check("--features", features, 1 ... Bounds.maxSize) }
        if bidirectional && text != nil { throw ValidationError("a language model cannot be bidirectional (it predicts the future)") }
        try Bounds.checkFinite("--lr", learningRate, "a finite number > 0") { $0 > 0 }
        try Bounds.checkFinite("--clip", clip, "a finite number ≥ 0") { $0 >= 0 }
        if !["constant", "cosine"].contains(lrSchedule) {
            throw ValidationError("--lr-schedule must be constant or cosine (got '\(lrSchedule)')")
        }
        try Bounds.check("--warmup", warmup, 0 ... steps - 1)
    }

    /// The size options, for messages about the model's size.
    var sizeOptions: String {
        "--hidden \(hidden), --layers \(layers)" + (text != nil ? ", --embedding \(embeddingSize)" : "") + ", --cell \(cell)"
    }

    mutating func run() throws {
        try common.apply()
        try Files.checkWritable(output)   // before training, not after
        var rng = SeqRandom(seed: seed &+ 17)
        let rnnCell = CellType(rawValue: cell)!
        let saved: SavedModel
        let clock = Stopwatch()
        if let text {
            let corpus = try TextCorpus(training: try DataLoading.readText(text), lines: lines)
            let (training, validation) = corpus.split(0.1, seed: seed)
            var streams = carryState ? try TextCorpus.Streams(training, lanes: batch) : nil
            let v = corpus.vocabulary.count
            let config = ModelConfig(architecture: .languageModel,
                                     rnn: RecurrentConfig(cell: rnnCell, inputSize: embeddingSize, hiddenSize: hidden, numLayers: layers),
                                     vocabularySize: v, embeddingSize: embeddingSize, outputSize: v)
            try Bounds.checkModel(config, options: sizeOptions + " (\(v) characters)", training: true)
            // A training batch holds B windows of at most --length ids (a line is cut there); the
            // held-out part is scored in batches of up to 32 lines, or one window of the text.
            let longest = min(window, lines ? corpus.lines.map(\.count).max()! + 1 : training.ids.count - 1)
            try Bounds.checkPass(config, steps: longest, batch: max(batch, lines ? 32 : 1),
                                 "--batch \(batch), --length \(window) (windows of up to \(longest) characters), \(sizeOptions)")
            let model = try SequenceModel<Float>(config, seed: seed)
            print("Training a character-level \(cell) language model on \(text): \(v) distinct characters, "
                  + (lines ? "\(training.lines.count) lines" : "\(training.ids.count) characters")
                  + (validation == nil ? " (too short to hold any out)" : " (+10% held out)"))
            if streams != nil {
                try fit(model) { carried in
                    var (next, continues) = streams!.next(steps: window)
                    if continues, let carried { (next.h0, next.c0) = carried }
                    return next
                }
            } else {
                try fit(model) { _ in try training.batch(batch, steps: window, &rng) }
            }
            // Too short to split: the loss on the training text itself, and said so.
            let scored = validation ?? training
            let loss = try Evaluation.run(model, try scored.evaluationBatches(steps: window))
            print("\(validation == nil ? "Cross-entropy on the training text (nothing held out)" : "Held-out cross-entropy"): "
                  + "\(Format.fixed(loss.loss, 3)) nats per character (\(Format.fixed(loss.loss / log(2), 3)) bits)")
            saved = SavedModel(model: model, kind: corpus.kind, vocabulary: corpus.vocabulary,
                               notes: notes(["data": text, "length": "\(window)", "carry_state": "\(carryState)",
                                             validation == nil ? "training_loss" : "held_out_loss": Format.fixed(loss.loss, 4)]))
        } else {
            let task = SequenceData.Task(rawValue: self.task!)!
            let data = try SequenceData.load(inputs: inputs!, targets: targets!, task: task, features: features)
            let out = data.output
            let config = ModelConfig(architecture: task == .tag ? .tagger : .classifier,
                                     rnn: RecurrentConfig(cell: rnnCell, inputSize: data.features, hiddenSize: hidden, numLayers: layers,
                                                          direction: bidirectional ? .bidirectional : .forward),
                                     outputSize: out.size, output: out.kind)
            try Bounds.checkModel(config, options: sizeOptions + " (\(data.features) features, \(out.size) outputs)", training: true)
            // Training batches hold B sequences; the held-out ones are scored 64 at a time.
            try Bounds.checkPass(config, steps: data.longest, batch: max(batch, 64),
                                 "--batch \(batch) (sequences of up to \(data.longest) steps), \(sizeOptions)")
            let model = try SequenceModel<Float>(config, seed: seed)
            var order = Array(0 ..< data.count)
            order.shuffle(using: &rng)
            let held = data.count >= 10 ? max(1, data.count / 10) : 0
            let validation = Array(order.prefix(held)), training = Array(order.dropFirst(held))
            let kind = task == .tag ? "tagger" : task == .classify ? "classifier" : "regressor"
            print("Training a \(cell) \(kind) on \(data.count) sequences of \(data.features) feature\(data.features == 1 ? "" : "s") per step "
                  + "(\(held > 0 ? "\(held) held out, at random" : "too few to hold any out")); output: \(out.size) × \(out.kind.rawValue)")
            try fit(model) { _ in
                try data.batch((0 ..< batch).map { _ in training[min(training.count - 1, Int(rng.nextUnit() * Double(training.count)))] }, output: out)
            }
            var extra = ["data": "\(inputs!) → \(targets!)", "task": task.rawValue]
            if !validation.isEmpty {
                let r = try Evaluation.run(model, stride(from: 0, to: validation.count, by: 64).map {
                    try data.batch(Array(validation[$0 ..< min($0 + 64, validation.count)]), output: out)
                })
                print("Held-out: " + r.summary(model.config))
                extra["held_out_loss"] = Format.fixed(r.loss, 4)
            }
            saved = SavedModel(model: model, kind: .features, vocabulary: [], notes: notes(extra))
        }
        try ModelFile.save(saved, to: output)
        print("Saved \(output) (\(saved.model.arena.count) parameters) after \(Format.duration(clock.elapsed)).")
    }

    func notes(_ extra: [String: String]) -> [String: String] {
        extra.merging(["steps": "\(steps)", "batch": "\(batch)", "lr": "\(learningRate)", "lr_schedule": lrSchedule,
                       "warmup": "\(warmup)", "clip": "\(clip)", "seed": "\(seed)", "optimizer": "adam"]) { a, _ in a }
    }

    /// Zero gradients → forward, loss, backward → clip → Adam step at the schedule's rate, `steps`
    /// times. `nextBatch` receives the state the previous batch ended in (nil before the first),
    /// which a batch that continues it takes as its initial state; its gradient is not carried.
    func fit(_ model: SequenceModel<Float>,
             _ nextBatch: (_ carried: (h: Tensor<Float>, c: Tensor<Float>?)?) throws -> SequenceBatch<Float>) throws {
        let optimizer = try Optimizer<Float>(.adam(), learningRate: learningRate, for: model.arena)
        let schedule = try LearningRateSchedule(
            baseRate: learningRate, decay: lrSchedule == "cosine" ? .cosine(period: steps - warmup, minimum: 0) : .constant,
            warmupSteps: warmup)
        let bar = ProgressBar("training", total: steps, quiet: common.quiet)
        var smoothed = Double.nan
        var carried: (h: Tensor<Float>, c: Tensor<Float>?)? = nil
        for step in 1 ... steps {
            optimizer.learningRate = schedule.rate(at: step - 1)
            model.arena.zeroGradients()
            let batch = try nextBatch(carried)
            let pass = try model.forward(batch, training: true)
            let r = try model.loss(pass, batch)
            try model.backward(pass, logitsGradient: r.gradient)
            carried = pass.finalState
            if !r.loss.isFinite { throw CLIError("the loss became \(r.loss) at step \(step); try a smaller --lr") }
            if clip > 0 { try model.arena.clipGradientNorm(maxNorm: clip) }
            try optimizer.step(model.arena)
            smoothed = smoothed.isNaN ? r.loss : 0.98 * smoothed + 0.02 * r.loss
            bar.update(step, note: "loss \(Format.fixed(smoothed, 4))")
        }
        bar.finish(note: "loss \(Format.fixed(smoothed, 4))")
        print("Final training loss (smoothed): \(Format.fixed(smoothed, 4))")
    }
}
