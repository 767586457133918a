import ArgumentParser
import SeqCore

/// Ranges of the numeric options, checked before anything is allocated: an absurd value gets one
/// line naming the option, not an overflow trap or a failed allocation deep inside training.
enum Bounds {
    /// Largest --hidden, --embedding or --input. Sizes get multiplied (gates × H × (I + H) weights),
    /// and below 2^20 none of those products overflows; the parameter limit below then refuses
    /// the combinations that are still too large, with a message naming the options.
    static let maxSize = 1 << 20
    /// Largest --layers: the library walks the stack layer by layer, so a huge count would spin
    /// for minutes before its parameter limit fires.
    static let maxLayers = 1024
    /// Largest --batch: far more sequences per step than a CPU run wants, and small enough that
    /// the batch's index list and padded inputs are bounded before the library's own checks apply.
    static let maxBatch = 1 << 16

    /// Throws unless `range` holds `value`, naming `option` and the value that came.
    static func check(_ option: String, _ value: Int, _ range: ClosedRange<Int>) throws {
        if value < range.lowerBound {
            throw ValidationError(range.lowerBound == 1 ? "\(option) must be positive (got \(value))"
                                                        : "\(option) must be at least \(range.lowerBound) (got \(value))")
        }
        if value > range.upperBound { throw ValidationError("\(option) must be at most \(range.upperBound) (got \(value))") }
    }

    /// Throws unless `value` is finite and `valid`: inf and nan would pass a plain `> 0` test and
    /// fail only once training has started.
    static func checkFinite(_ option: String, _ value: Double, _ expected: String, _ valid: (Double) -> Bool) throws {
        guard value.isFinite, valid(value) else { throw ValidationError("\(option) must be \(expected) (got \(value))") }
    }

    /// The product of `sizes`, or nil when it overflows or exceeds `limit`.
    static func product(_ sizes: [Int], limit: Int = Limits.maxElements) -> Int? {
        var total = 1
        for s in sizes {
            let (p, overflow) = total.multipliedReportingOverflow(by: s)
            if s < 0 || overflow || p > limit { return nil }
            total = p
        }
        return total
    }

    /// Throws unless a model of `config` fits the library's parameter limit and, when it is to be
    /// trained, its parameters, gradients and Adam's two moments (4 Floats per parameter) fit the
    /// memory cap. `options` names the options that set the sizes. Checked here because the
    /// library's own message names its configuration keys (hidden_size), not the options.
    static func checkModel(_ config: ModelConfig, options: String, training: Bool) throws {
        let n = config.parameterCount   // saturating: Int.max when the true count overflows
        if n > Limits.maxElements {
            throw ValidationError("\(options): the model would have \(n == Int.max ? "over 9e18" : "\(n)") parameters, "
                                  + "more than the limit of \(Limits.maxElements)")
        }
        if training, n * 16 > Limits.memoryCapBytes {
            throw ValidationError("\(options): the model's \(n) parameters need \((n * 16) >> 20) MiB with their gradients and "
                                  + "Adam's moments, over the memory cap of \(Limits.memoryCapBytes >> 20) MiB")
        }
    }

    /// Throws unless one training pass (forward and backward) of `config` over `batch` sequences
    /// of `steps` steps fits the memory cap. The library checks its recurrent layers itself, but
    /// the embedding's output and the head's logits are allocated before that check (windows of
    /// 2,400 steps × 65,536 sequences took 24 GB there): this estimate covers them too. Per row of
    /// the batch (one step of one sequence): the input and its gradient, the recurrent stack's
    /// buffers (about 8 per layer and direction, as wide as its widest row, as the library
    /// counts them), and 4 copies of the outputs.
    static func checkPass(_ config: ModelConfig, steps: Int, batch: Int, _ what: @autoclosure () -> String) throws {
        let r = config.rnn, h = r.hiddenSize
        let tape = r.cell == .lstm ? 7 * h : r.cell == .gru ? 4 * h : h
        let wide = max(r.gateCount * h, tape, r.outputFeatures, r.inputSize, r.outputSize + h)
        let perStepOutputs = config.architecture == .classifier ? 0 : config.outputSize
        // Every term is at most a few times maxSize² (sizes are bounded first): no overflow.
        let perRow = 2 * r.inputSize + r.numLayers * r.numDirections * 8 * wide + 4 * perStepOutputs
        let floats = Limits.memoryCapBytes / MemoryLayout<Float>.size
        guard Bounds.product([steps, batch, perRow], limit: floats) != nil,
              Bounds.product([batch, 4 * config.outputSize], limit: floats) != nil else {
            throw ValidationError("\(what()): a pass over one batch would need more than the memory cap of \(Limits.memoryCapBytes >> 20) MiB")
        }
    }

    /// A number from a data file as people write it: an integer without ".0" when it is one.
    static func describe(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
}
