// MARK: - Inference
//
// Predictions on a whole batch, and generation: sampling from a language model and decoding with
// a seq2seq model.

import SeqCore

/// Runs a model on a batch and writes its predictions y-hat: probabilities for outputs "binary"
/// (sigmoid) and "classes" (softmax), values for "regression". Not for seq2seq models (use
/// `seq_model_decode`). No dropout; gradients and parameters are untouched.
///
/// Input, in `layout`: either `features` [T, B, I] (models without an embedding) or `tokens`
/// [T, B] (models with vocab_size > 0), the other NULL. Output, K = output_size: [T, B, K] in
/// `layout` for a tagger or language model, with zeros at steps t >= lengths[b]; [B, K] for a
/// classifier (from each sequence's final state).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - features: T * B * input_size floats, all finite; NULL when the model takes tokens.
///   - tokens: T * B token ids in [0, vocab_size); NULL when the model takes features.
///   - steps: T >= 1, the steps of the longest sequence.
///   - batch: B >= 1, the number of sequences.
///   - input_size: features per step, the model's input_size; 1 for tokens.
///   - lengths: B lengths, each in 1...T; NULL when every sequence has T steps. Steps past a
///     length are not used, but must hold valid values (e.g. zeros, or token 0).
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`, for input and output.
///   - output: receives the predictions; may be NULL only when `capacity` is 0.
///   - capacity: size of `output` in floats.
///   - count: if not NULL, receives the number of floats the output needs (T * B * K, or B * K),
///     also when `output` is too small. With `output` NULL and `capacity` 0 the call only sets
///     `count` (after checking every other argument) and returns `SEQ_OK`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (sizes, lengths, layout, NaN or infinite features, token ids out of range, features given to
///   a token model or the reverse, a seq2seq model); `SEQ_ERR_BUFFER_TOO_SMALL`;
///   `SEQ_ERR_RESOURCE_LIMIT` (T * B too large).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_predict(_ model: SeqModelHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                 _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ lengths: UnsafePointer<Int64>?,
                                 _ layout: SeqLayout, _ output: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                 _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        if m.config.architecture == .seq2seq {
            throw SeqError.invalid("model", expected: "a tagger, classifier or language model (decode a seq2seq model with seq_model_decode)",
                                   got: "a seq2seq model")
        }
        let arguments = InputArguments(features: features, tokens: tokens, steps: steps, batch: batch,
                                       inputSize: input_size, lengths: lengths, layout: layout)
        let v = try m.checkArguments(arguments)
        let k = m.config.outputSize, perStep = m.config.architecture != .classifier
        let needed = (perStep ? v.steps : 1) * v.batch * k
        guard let output = try Arg.output(output, capacity, count, needed: needed, name: "output") else { return }
        if let x = v.features {
            // Features are read where they are and ŷ written into the caller's buffer, in either
            // layout: no arrays per call.
            let y = UnsafeMutableBufferPointer(start: output, count: needed)
            try m.locked {
                try m.model.predict(features: x, steps: v.steps, batch: v.batch, lengths: v.lengths,
                                    batchFirst: v.layout == .batchFirst, into: y)
            }
            return
        }
        let input = try m.check(arguments)
        let y = try m.locked { try m.model.predict(input.input, lengths: input.lengths) }
        input.layout.store(y.data, steps: perStep ? input.steps : 1, batch: input.batch, width: k, into: output)
    }
}

/// Reads the sampling arguments shared by generation and decoding.
func sampling(temperature: Double, topK: Int64, seed: Int64, vocabulary: Int) throws -> Sampling {
    guard temperature.isFinite && temperature >= 0 else {
        throw SeqError.invalid("temperature", expected: "a finite number >= 0 (0 = greedy)", got: temperature)
    }
    guard topK >= 0 && topK <= Int64(vocabulary) else {
        throw SeqError.invalid("top_k", expected: "0 (all tokens) to \(vocabulary) (the vocabulary)", got: topK)
    }
    return Sampling(temperature: temperature, topK: Int(topK), seed: UInt64(bitPattern: seed))
}

/// Generates tokens with a language model (one-to-many): feeds `prefix`, then samples `count`
/// tokens, each fed back as the next input. The same arguments and seed give the same tokens.
///
/// - Parameters:
///   - model: a live `seq_model` with architecture "language_model".
///   - prefix: `prefix_length` token ids in [0, vocab_size) that start the text.
///   - prefix_length: >= 1.
///   - count: tokens to generate, >= 0.
///   - temperature: divides the logits before the softmax: below 1 sharper, above 1 flatter; 0
///     picks the most likely token (greedy). Finite, >= 0.
///   - top_k: sample among the k most likely tokens only; 0 for all. In 0...vocab_size.
///   - seed: seed of the sampling.
///   - stop_token: generation ends after this token is produced (it is included); -1 for none.
///   - output: receives the generated tokens (not the prefix). Must hold `count` ids.
///   - capacity: size of `output` in ids, >= `count`.
///   - generated: if not NULL, receives the number of tokens written (less than `count` when
///     `stop_token` came early).
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (not a language model, a token id out of range, a bad temperature or top_k);
///   `SEQ_ERR_BUFFER_TOO_SMALL`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_generate(_ model: SeqModelHandle?, _ prefix: UnsafePointer<Int32>?, _ prefix_length: Int64,
                                  _ count: Int64, _ temperature: Double, _ top_k: Int64, _ seed: Int64, _ stop_token: Int32,
                                  _ output: UnsafeMutablePointer<Int32>?, _ capacity: Int64,
                                  _ generated: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let c = m.config
        guard c.architecture == .languageModel else {
            throw SeqError.invalid("model", expected: "a language model", got: "a \(c.architecture.rawValue) model")
        }
        let prefix = try Arg.pointer(prefix, "prefix")
        let n = try Arg.positive(prefix_length, "prefix_length")
        let v = c.vocabularySize
        for i in 0 ..< n where prefix[i] < 0 || Int(prefix[i]) >= v {
            throw SeqError.invalid("prefix", expected: "token ids in [0, \(v)) (vocab_size)", got: "\(prefix[i]) at index \(i)")
        }
        let total = try Arg.nonNegative(count, "count")
        let pick = try sampling(temperature: temperature, topK: top_k, seed: seed, vocabulary: v)
        guard stop_token == -1 || (stop_token >= 0 && Int(stop_token) < v) else {
            throw SeqError.invalid("stop_token", expected: "-1 (none) or a token id in [0, \(v))", got: stop_token)
        }
        let output = try Arg.pointer(output, "output")
        try Arg.capacity(capacity, "capacity", needed: total, buffer: "output")
        let ids = Array(UnsafeBufferPointer(start: prefix, count: n)).map { Int($0) }
        let tokens = try m.locked {
            try m.model.generate(prefix: ids, count: total, sampling: pick, stopToken: stop_token < 0 ? nil : Int(stop_token))
        }
        for (i, t) in tokens.enumerated() { output[i] = Int32(t) }
        generated?.pointee = Int64(tokens.count)
    }
}

/// Decodes with a seq2seq model (many-to-many, Tx != Ty): runs the encoder on each source
/// sequence, then the decoder from start_token, one token at a time, until stop_token or
/// `max_length` tokens. Greedy when `temperature` is 0.
///
/// Output, in `layout`: token ids [max_length, B] (time-major) or [B, max_length] (batch-first),
/// without the stop token, padded with -1 after each sequence's end.
///
/// - Parameters:
///   - model: a live `seq_model` with architecture "seq2seq".
///   - features: source features [T, B, I], all finite; NULL when the model takes tokens.
///   - tokens: source token ids [T, B] in [0, vocab_size); NULL when the model takes features.
///   - steps: T >= 1, the steps of the longest source.
///   - batch: B >= 1.
///   - input_size: the model's input_size for features; 1 for tokens.
///   - lengths: B source lengths, each in 1...T; NULL when all have T steps.
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`, for source and output.
///   - max_length: the most tokens decoded per sequence, >= 1.
///   - temperature: 0 for greedy decoding, else the sampling temperature (finite, > 0).
///   - top_k: sample among the k most likely tokens; 0 for all. In 0...output_size.
///   - seed: seed of the sampling.
///   - output: receives max_length * B token ids.
///   - capacity: size of `output` in ids, >= max_length * B.
///   - output_lengths: if not NULL, receives B lengths (tokens before the stop token).
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (not a seq2seq model, and as `seq_model_predict`); `SEQ_ERR_BUFFER_TOO_SMALL`;
///   `SEQ_ERR_RESOURCE_LIMIT`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_decode(_ model: SeqModelHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ lengths: UnsafePointer<Int64>?,
                                _ layout: SeqLayout, _ max_length: Int64, _ temperature: Double, _ top_k: Int64, _ seed: Int64,
                                _ output: UnsafeMutablePointer<Int32>?, _ capacity: Int64,
                                _ output_lengths: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        guard m.config.architecture == .seq2seq else {
            throw SeqError.invalid("model", expected: "a seq2seq model", got: "a \(m.config.architecture.rawValue) model")
        }
        let input = try m.check(InputArguments(features: features, tokens: tokens, steps: steps, batch: batch,
                                               inputSize: input_size, lengths: lengths, layout: layout))
        let maxLength = try Arg.positive(max_length, "max_length")
        try m.checkWork(steps: maxLength, batch: input.batch, "max_length")
        let pick = try sampling(temperature: temperature, topK: top_k, seed: seed, vocabulary: m.config.outputSize)
        let output = try Arg.pointer(output, "output")
        try Arg.capacity(capacity, "capacity", needed: maxLength * input.batch, buffer: "output")
        let sequences = try m.locked {
            try m.model.decode(input.input, lengths: input.lengths, maxLength: maxLength, sampling: pick)
        }
        var padded = [Int32](repeating: -1, count: maxLength * input.batch)
        for (b, s) in sequences.enumerated() {
            for (t, token) in s.prefix(maxLength).enumerated() { padded[t * input.batch + b] = Int32(token) }
            output_lengths?[b] = Int64(min(s.count, maxLength))
        }
        input.layout.store(padded, steps: maxLength, batch: input.batch, width: 1, into: output)
    }
}
