// Batches across the boundary: the layout flag, and the checks that turn a caller's buffers
// (features or token ids, lengths, targets) into the engine's time-major `SequenceBatch`, with
// messages that name the C arguments. Every function that takes a batch takes the same group of
// arguments in the same order:
//
//     features, tokens, steps, batch, input_size, lengths, layout
//     target_ids, target_values, target_steps, target_lengths          (training only)

import SeqCore

/// How a caller's buffer orders the elements of a batch of B sequences of T steps with F values
/// per step; one of the `SEQ_LAYOUT_*` values.
public typealias SeqLayout = Int32

/// The values of `seq_layout`. The layout of an output buffer is the layout of the input of the
/// same call.
enum Layout: SeqLayout {
    /// Time-major: element (t, b, f) at index (t * B + b) * F + f, every sequence's step 0 first
    /// (PyTorch's default, batch_first=False).
    case timeMajor = 0
    /// Batch-first: element (t, b, f) at index (b * T + t) * F + f, each sequence whole, one after
    /// another (PyTorch's batch_first=True).
    case batchFirst = 1

    init(checking raw: SeqLayout, _ name: String) throws {
        guard let layout = Layout(rawValue: raw) else {
            throw SeqError.invalid(name, expected: "SEQ_LAYOUT_TIME_MAJOR (0) or SEQ_LAYOUT_BATCH_FIRST (1)", got: raw)
        }
        self = layout
    }

    /// Index of element (t, b, f) of a [T, B, F] batch in this layout.
    @inline(__always)
    func index(_ t: Int, _ b: Int, _ f: Int, steps: Int, batch: Int, width: Int) -> Int {
        self == .timeMajor ? (t * batch + b) * width + f : (b * steps + t) * width + f
    }

    /// Copies a caller's buffer in this layout into a time-major buffer of steps * batch * width.
    func copyTimeMajor<T>(_ p: UnsafePointer<T>, steps: Int, batch: Int, width: Int, into out: UnsafeMutablePointer<T>) {
        if self == .timeMajor {
            out.update(from: p, count: steps * batch * width)
            return
        }
        for t in 0 ..< steps {
            for b in 0 ..< batch {
                (out + (t * batch + b) * width).update(from: p + (b * steps + t) * width, count: width)
            }
        }
    }

    /// Copies a caller's buffer in this layout into a time-major array, converting each element.
    func timeMajor<T, U>(_ p: UnsafePointer<T>, steps: Int, batch: Int, width: Int, _ convert: (T) -> U) -> [U] {
        if self == .timeMajor {
            return UnsafeBufferPointer(start: p, count: steps * batch * width).map(convert)
        }
        var out: [U] = []
        out.reserveCapacity(steps * batch * width)
        for t in 0 ..< steps {
            for b in 0 ..< batch {
                let row = (b * steps + t) * width
                for f in 0 ..< width { out.append(convert(p[row + f])) }
            }
        }
        return out
    }

    /// Writes a time-major [T, B, F] array into a caller's buffer in this layout.
    func store<T>(_ a: [T], steps: Int, batch: Int, width: Int, into p: UnsafeMutablePointer<T>) {
        a.withUnsafeBufferPointer { src in
            if self == .timeMajor {
                p.update(from: src.baseAddress!, count: src.count)
                return
            }
            for t in 0 ..< steps {
                for b in 0 ..< batch {
                    (p + (b * steps + t) * width).update(from: src.baseAddress! + (t * batch + b) * width, count: width)
                }
            }
        }
    }
}

/// A caller's input arguments, as passed.
struct InputArguments {
    var features: UnsafePointer<Float>?
    var tokens: UnsafePointer<Int32>?
    var steps: Int64
    var batch: Int64
    var inputSize: Int64
    var lengths: UnsafePointer<Int64>?
    var layout: SeqLayout
    /// The C name of the batch dimension ("batch", or "count" for a dataset).
    var batchName = "batch"
    /// Prefixed to every argument name in messages ("dataset." when checking a dataset).
    var prefix = ""
    /// The steps one pass runs at most, when fewer than `steps` (truncated BPTT's window): what
    /// the work-size check counts.
    var windowSteps: Int? = nil
    /// False for a whole dataset checked for its values only: seq_model_fit checks the work size
    /// of its batches instead.
    var checksWorkSize = true
}

/// An input checked against a model: time-major, lengths in range.
struct CheckedInput {
    var input: SequenceInput<Float>
    var steps: Int
    var batch: Int
    var lengths: [Int]?
    var layout: Layout
}

/// A caller's input arguments, checked but not copied: exactly one of `features` and `tokens`.
struct CheckedArguments {
    var steps: Int
    var batch: Int
    var width: Int
    var layout: Layout
    var lengths: [Int]?
    var features: UnsafePointer<Float>?
    var tokens: UnsafePointer<Int32>?
}

/// A caller's target arguments, as passed.
struct TargetArguments {
    var ids: UnsafePointer<Int32>?
    var values: UnsafePointer<Float>?
    var steps: Int64
    var lengths: UnsafePointer<Int64>?
    var prefix = ""
}

extension ModelObject {
    /// Refuses steps * batch past the per-buffer limit of the widest row a pass allocates, before
    /// anything is allocated.
    func checkWork(steps: Int, batch: Int, _ name: String) throws {
        let (rows, o1) = steps.multipliedReportingOverflow(by: batch)
        let (elements, o2) = rows.multipliedReportingOverflow(by: widestRow)
        if o1 || o2 || elements > Limits.maxElements {
            throw SeqError(.resourceLimit, "argument '\(name)': \(steps) steps * \(batch) sequences * \(widestRow) "
                + "values per row exceed the limit of \(Limits.maxElements) elements per buffer")
        }
    }

    /// Checks lengths: NULL, or `batch` values each in 1...steps.
    func checkLengths(_ p: UnsafePointer<Int64>?, steps: Int, batch: Int, _ name: String, stepsName: String) throws -> [Int]? {
        guard let p else { return nil }
        var lengths: [Int] = []
        lengths.reserveCapacity(batch)
        for b in 0 ..< batch {
            let l = p[b]
            guard l >= 1 && l <= Int64(steps) else {
                throw SeqError.invalid(name, expected: "every length in 1...\(steps) (\(stepsName))", got: "\(l) at index \(b)")
            }
            lengths.append(Int(l))
        }
        return lengths
    }

    /// Checks an input against this model and copies it time-major.
    func check(_ a: InputArguments) throws -> CheckedInput {
        let v = try checkArguments(a)
        let input: SequenceInput<Float>
        if let tokens = v.tokens {
            input = .tokens(v.layout.timeMajor(tokens, steps: v.steps, batch: v.batch, width: 1) { Int($0) },
                            steps: v.steps, batch: v.batch)
        } else {
            // Written once, straight from the caller's buffer: Tensor(zeros:) is generic code of
            // another module, which zero-filled element by element through the runtime (2% of a
            // large layer's call from Python) before the copy.
            let count = v.steps * v.batch * v.width, features = v.features!
            let data = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                v.layout.copyTimeMajor(features, steps: v.steps, batch: v.batch, width: v.width, into: buffer.baseAddress!)
                initialized = count
            }
            input = .features(try Tensor(shape: [v.steps, v.batch, v.width], data: data, name: a.prefix + "features"))
        }
        return CheckedInput(input: input, steps: v.steps, batch: v.batch, lengths: v.lengths, layout: v.layout)
    }

    /// The checks of `check` without the copy: every argument, the token ids' range, the features'
    /// finiteness, the lengths. For callers that read the features in place.
    func checkArguments(_ a: InputArguments) throws -> CheckedArguments {
        let p = a.prefix, c = config
        let layout = try Layout(checking: a.layout, p + "layout")
        let steps = try Arg.positive(a.steps, p + "steps")
        let batch = try Arg.positive(a.batch, p + a.batchName)
        let width = try Arg.positive(a.inputSize, p + "input_size")
        if a.checksWorkSize { try checkWork(steps: min(steps, a.windowSteps ?? steps), batch: batch, p + "steps") }
        var features: UnsafePointer<Float>? = nil, tokens: UnsafePointer<Int32>? = nil
        if c.usesTokens {
            if a.features != nil {
                throw SeqError.invalid(p + "features", expected: "NULL (this model takes token ids, in 'tokens')", got: "a pointer")
            }
            guard let ids = a.tokens else {
                throw ABIError(status: .nullPointer,
                               message: "argument '\(p)tokens': expected a non-NULL pointer (this model takes token ids), got NULL")
            }
            guard width == 1 else {
                throw SeqError.invalid(p + "input_size", expected: "1 (one token id per step)", got: width)
            }
            let count = try Arg.elementCount(of: p + "tokens", (p + "steps", a.steps), (p + a.batchName, a.batch))
            let v = c.vocabularySize
            for i in 0 ..< count where ids[i] < 0 || Int(ids[i]) >= v {
                throw SeqError.invalid(p + "tokens", expected: "token ids in [0, \(v)) (vocab_size)", got: "\(ids[i]) at index \(i)")
            }
            tokens = ids
        } else {
            if a.tokens != nil {
                throw SeqError.invalid(p + "tokens", expected: "NULL (this model takes feature vectors, in 'features')", got: "a pointer")
            }
            guard let values = a.features else {
                throw ABIError(status: .nullPointer,
                               message: "argument '\(p)features': expected a non-NULL pointer (this model takes feature vectors), got NULL")
            }
            guard width == c.rnn.inputSize else {
                throw SeqError.invalid(p + "input_size", expected: "\(c.rnn.inputSize) (the model's input_size)", got: width)
            }
            let count = try Arg.elementCount(of: p + "features", (p + "steps", a.steps), (p + a.batchName, a.batch),
                                             (p + "input_size", a.inputSize))
            try Arg.finite(values, count: count, p + "features")
            features = values
        }
        let lengths = try checkLengths(a.lengths, steps: steps, batch: batch, p + "lengths", stepsName: "steps")
        return CheckedArguments(steps: steps, batch: batch, width: width, layout: layout, lengths: lengths,
                                features: features, tokens: tokens)
    }

    /// Checks targets against this model and the checked input, and makes the engine's batch.
    ///
    /// Target shapes (in the input's layout): class ids [target_steps, B] for output "classes"
    /// (seq2seq: target token ids), values [target_steps, B, K] for "binary" and "regression";
    /// target_steps is the input's steps for a tagger or language model, 1 for a classifier, and
    /// Ty (the longest target) for seq2seq.
    func batch(_ input: CheckedInput, _ t: TargetArguments) throws -> SequenceBatch<Float> {
        let p = t.prefix, c = config, k = c.outputSize, b = input.batch
        let steps = try Arg.positive(t.steps, p + "target_steps")
        switch c.architecture {
        case .tagger, .languageModel:
            guard steps == input.steps else {
                throw SeqError.invalid(p + "target_steps", expected: "\(input.steps) (steps: one target per input step)", got: steps)
            }
        case .classifier:
            guard steps == 1 else {
                throw SeqError.invalid(p + "target_steps", expected: "1 (a classifier has one target per sequence)", got: steps)
            }
        case .seq2seq:
            try checkWork(steps: steps + 1, batch: b, p + "target_steps")
        }
        if c.architecture != .seq2seq && t.lengths != nil {
            throw SeqError.invalid(p + "target_lengths",
                                   expected: "NULL (only seq2seq targets have lengths of their own; the input's lengths apply)",
                                   got: "a pointer")
        }
        if c.output == .classes {
            if t.values != nil {
                throw SeqError.invalid(p + "target_values", expected: "NULL (output \"classes\" takes class ids, in 'target_ids')",
                                       got: "a pointer")
            }
            guard let ids = t.ids else { throw ABIError.nullPointer(p + "target_ids") }
            let count = try Arg.elementCount(of: p + "target_ids", (p + "target_steps", t.steps), (p + "batch", Int64(b)))
            let ignore = c.architecture == .seq2seq ? nil : c.ignoreIndex
            for i in 0 ..< count {
                let v = Int(ids[i])
                if (v < 0 || v >= k) && v != ignore {
                    let what = c.architecture == .seq2seq ? "target token ids" : "class ids"
                    throw SeqError.invalid(p + "target_ids",
                                           expected: "\(what) in [0, \(k)) (output_size)" + (ignore.map { " or \($0) (ignore_index)" } ?? ""),
                                           got: "\(v) at index \(i)")
                }
            }
            let labels = input.layout.timeMajor(ids, steps: steps, batch: b, width: 1) { Int($0) }
            if c.architecture == .seq2seq {
                let lengths = try checkLengths(t.lengths, steps: steps, batch: b, p + "target_lengths", stepsName: "target_steps")
                return SequenceBatch(source: input.input, sourceLengths: input.lengths, targetTokens: labels,
                                     targetSteps: steps, targetLengths: lengths)
            }
            return SequenceBatch(input: input.input, lengths: input.lengths, target: .classes(labels))
        }
        if t.ids != nil {
            throw SeqError.invalid(p + "target_ids", expected: "NULL (output \"\(c.output.rawValue)\" takes values, in 'target_values')",
                                   got: "a pointer")
        }
        guard let values = t.values else { throw ABIError.nullPointer(p + "target_values") }
        let count = try Arg.elementCount(of: p + "target_values", (p + "target_steps", t.steps), (p + "batch", Int64(b)),
                                         ("output_size", Int64(k)))
        try Arg.finite(values, count: count, p + "target_values")
        if c.output == .binary {
            for i in 0 ..< count where !(values[i] >= 0 && values[i] <= 1) {
                throw SeqError.invalid(p + "target_values", expected: "values in [0, 1] (output \"binary\")", got: "\(values[i]) at index \(i)")
            }
        }
        let y = input.layout.timeMajor(values, steps: steps, batch: b, width: k) { $0 }
        let shape = c.architecture == .classifier ? [b, k] : [steps, b, k]
        return SequenceBatch(input: input.input, lengths: input.lengths, target: .values(try Tensor(shape: shape, data: y)))
    }
}

extension Arg {
    /// The convention of every numeric output buffer: `count` (optional) receives the number of
    /// elements the result needs; `buffer` NULL with `capacity` 0 is a size query (returns nil, and
    /// the caller returns SEQ_OK); otherwise the buffer must be non-NULL and hold `needed` elements.
    static func output<T>(_ buffer: UnsafeMutablePointer<T>?, _ capacity: Int64, _ count: UnsafeMutablePointer<Int64>?,
                          needed: Int, name: String, capacityName: String = "capacity") throws -> UnsafeMutablePointer<T>? {
        guard capacity >= 0 else {
            throw SeqError.invalid(capacityName, expected: "a non-negative number of elements", got: capacity)
        }
        count?.pointee = Int64(needed)
        if buffer == nil && capacity == 0 { return nil }
        guard let buffer else { throw ABIError.nullPointer(name) }
        try Arg.capacity(capacity, capacityName, needed: needed, buffer: name)
        return buffer
    }
}
