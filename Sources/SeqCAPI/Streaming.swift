// MARK: - Streaming
//
// A stream runs a model one step (or one chunk) at a time and keeps the recurrent state between
// calls: a keyword spotter or a sensor monitor feeds samples as they arrive. Feeding a sequence in
// pieces gives the same outputs as seq_model_predict on the whole of it.

import SeqCore
import Synchronization

/// A streaming session over a model: the state a<t> (and c<t> for an LSTM) of B independent
/// sequences, advanced by `seq_stream_feed`. Create with `seq_stream_create`, free with
/// `seq_stream_free`. The stream keeps its model alive, and uses the model's current parameters
/// at every call.
public typealias SeqStreamHandle = OpaquePointer

/// The object behind a `seq_stream *`.
final class StreamObject: HandleValue {
    static let handleKind = HandleKind.stream

    let owner: ModelObject
    let session: StreamingSession<Float>
    /// Serialises calls on this stream; taken before the model's lock, never after.
    private let lock = Mutex<Void>(())

    init(owner: ModelObject, batch: Int) throws {
        self.owner = owner
        session = try StreamingSession(model: owner.model, batch: batch)
    }

    func locked<R>(_ body: () throws -> R) throws -> R {
        try lock.withLock { _ in try body() }
    }

    /// The live stream behind `handle`, checked to be fed `batch` sequences.
    static func feeding(_ handle: SeqStreamHandle?, batch: Int64) throws -> StreamObject {
        let s = try Handles.value(handle, as: StreamObject.self, argument: "stream")
        guard batch == Int64(s.session.batch) else {
            throw SeqError.invalid("batch", expected: "\(s.session.batch) (the stream's batch)", got: batch)
        }
        return s
    }

    /// The two feeds' common body: checks the arguments and `output` (steps·B·`width` values in
    /// the caller's layout), then advances the session through `inPlace` when the features are
    /// already in the engine's time-major order (read and written in place), or through `copied` on
    /// a checked copy otherwise (tokens; a batch-first chunk, written through a time-major buffer).
    func feed(_ arguments: InputArguments, width: Int, _ output: UnsafeMutablePointer<Float>?, _ capacity: Int64,
              _ count: UnsafeMutablePointer<Int64>?,
              inPlace: (UnsafePointer<Float>, Int, UnsafeMutableBufferPointer<Float>) throws -> Void,
              copied: (SequenceInput<Float>, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        let m = owner, v = try m.checkArguments(arguments)
        let needed = v.steps * v.batch * width
        guard let output = try Arg.output(output, capacity, count, needed: needed, name: "output") else { return }
        // One step is the same in both layouts.
        let timeMajor = v.layout == .timeMajor || v.steps == 1
        if let x = v.features, timeMajor {
            let y = UnsafeMutableBufferPointer(start: output, count: needed)
            try locked { try m.locked { try inPlace(x, v.steps, y) } }
            return
        }
        let input = try m.check(arguments)
        if timeMajor {
            let y = UnsafeMutableBufferPointer(start: output, count: needed)
            try locked { try m.locked { try copied(input.input, y) } }
        } else {
            var y = [Float](repeating: 0, count: needed)
            try y.withUnsafeMutableBufferPointer { buffer in try locked { try m.locked { try copied(input.input, buffer) } } }
            input.layout.store(y, steps: input.steps, batch: input.batch, width: width, into: output)
        }
    }
}

/// Creates a stream over a model, for B sequences at once, each starting from a zero state.
///
/// - Parameters:
///   - model: a live `seq_model`: a tagger, classifier or language model whose direction is
///     "forward" (a bidirectional or reverse model needs the whole sequence).
///   - batch: B >= 1, the number of independent sequences advanced together.
///   - out: receives the new stream; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (a seq2seq, bidirectional or reverse model; batch < 1); `SEQ_ERR_RESOURCE_LIMIT`.
/// - Ownership: the caller owns the stream and frees it with `seq_stream_free`.
/// - Thread safety: safe to call from any thread.
@c public func seq_stream_create(_ model: SeqModelHandle?, _ batch: Int64, _ out: UnsafeMutablePointer<SeqStreamHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let b = try Arg.positive(batch, "batch")
        let c = m.config
        guard c.architecture != .seq2seq else {
            throw SeqError.invalid("model", expected: "a tagger, classifier or language model for streaming", got: "a seq2seq model")
        }
        guard c.rnn.direction == .forward else {
            throw SeqError.invalid("model", expected: "direction \"forward\" for streaming (it needs the whole sequence otherwise)",
                                   got: "direction \"\(c.rnn.direction.rawValue)\"")
        }
        try m.checkWork(steps: 1, batch: b, "batch")
        out.pointee = Handles.create(try StreamObject(owner: m, batch: b))
    }
}

/// Frees a stream (and its reference to the model).
///
/// - Parameter stream: the stream to free. NULL is a no-op. A pointer that is not a live
///   `seq_stream` is left alone and the reason is stored for `seq_last_error()`.
/// - Thread safety: safe to call from any thread, but the handle must not be used after or while
///   it is freed.
@c public func seq_stream_free(_ stream: SeqStreamHandle?) {
    Handles.release(stream, as: StreamObject.self, argument: "stream")
}

/// Feeds the next `steps` steps of every sequence and writes the model's output y-hat at each of
/// them: [steps, B, K] in `layout` (probabilities for "binary" and "classes", values for
/// "regression"). For a classifier, the output at step t is the prediction for the sequence as if
/// it ended at t. For a language model, the distribution of the next token.
///
/// - Parameters:
///   - stream: a live `seq_stream`.
///   - features: steps * B * input_size floats, all finite; NULL when the model takes tokens.
///   - tokens: steps * B token ids in [0, vocab_size); NULL when the model takes features.
///   - steps: >= 1, the steps in this chunk.
///   - batch: the stream's B.
///   - input_size: the model's input_size for features; 1 for tokens.
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`, for input and output.
///   - output: receives steps * B * K floats; may be NULL only when `capacity` is 0.
///   - capacity: size of `output` in floats.
///   - count: if not NULL, receives steps * B * K, also when `output` is too small. `output` NULL
///     with `capacity` 0 only sets `count` and leaves the state alone.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`;
///   `SEQ_ERR_BUFFER_TOO_SMALL`; `SEQ_ERR_RESOURCE_LIMIT`. On failure the state is unchanged.
/// - Thread safety: safe to call from any thread (calls on one stream, and on its model, are
///   serialised).
@c public func seq_stream_feed(_ stream: SeqStreamHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                               _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ layout: SeqLayout,
                               _ output: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                               _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let s = try StreamObject.feeding(stream, batch: batch)
        try s.feed(InputArguments(features: features, tokens: tokens, steps: steps, batch: batch, inputSize: input_size,
                                  lengths: nil, layout: layout),
                   width: s.owner.config.outputSize, output, capacity, count,
                   inPlace: s.session.feed(features:steps:into:), copied: s.session.feed(_:into:))
    }
}

/// Feeds the next `steps` steps of every sequence, as `seq_stream_feed` does, but writes the top
/// recurrent layer's output a<t> at each of them instead of the head's y-hat: [steps, B, F] in
/// `layout`, F = the model's state size (hidden_size, or proj_size for an LSTM with a projection).
/// The head is not run: this is the recurrent stack alone, as an encoder (or `torch.nn.LSTM`)
/// returns it. The state advances exactly as with `seq_stream_feed`.
///
/// - Parameters:
///   - stream: a live `seq_stream`.
///   - features: steps * B * input_size floats, all finite; NULL when the model takes tokens.
///   - tokens: steps * B token ids in [0, vocab_size); NULL when the model takes features.
///   - steps: >= 1, the steps in this chunk.
///   - batch: the stream's B.
///   - input_size: the model's input_size for features; 1 for tokens.
///   - layout: `SEQ_LAYOUT_TIME_MAJOR` or `SEQ_LAYOUT_BATCH_FIRST`, for input and output.
///   - output: receives steps * B * F floats; may be NULL only when `capacity` is 0.
///   - capacity: size of `output` in floats.
///   - count: if not NULL, receives steps * B * F, also when `output` is too small. `output` NULL
///     with `capacity` 0 only sets `count` and leaves the state alone.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`;
///   `SEQ_ERR_BUFFER_TOO_SMALL`; `SEQ_ERR_RESOURCE_LIMIT`. On failure the state is unchanged.
/// - Thread safety: safe to call from any thread (calls on one stream, and on its model, are
///   serialised).
@c public func seq_stream_feed_hidden(_ stream: SeqStreamHandle?, _ features: UnsafePointer<Float>?, _ tokens: UnsafePointer<Int32>?,
                                      _ steps: Int64, _ batch: Int64, _ input_size: Int64, _ layout: SeqLayout,
                                      _ output: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                      _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let s = try StreamObject.feeding(stream, batch: batch)
        try s.feed(InputArguments(features: features, tokens: tokens, steps: steps, batch: batch, inputSize: input_size,
                                  lengths: nil, layout: layout),
                   width: s.owner.config.rnn.outputFeatures, output, capacity, count,
                   inPlace: s.session.feedHidden(features:steps:into:), copied: s.session.feedHidden(_:into:))
    }
}

/// Forgets the state of every sequence: the next step starts new sequences from a zero state.
///
/// - Parameter stream: a live `seq_stream`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Thread safety: safe to call from any thread (calls on one stream are serialised).
@c public func seq_stream_reset(_ stream: SeqStreamHandle?) -> SeqStatus {
    guarded {
        let s = try Handles.value(stream, as: StreamObject.self, argument: "stream")
        try s.locked { s.session.reset() }
    }
}

/// The number of steps fed since the stream was created or last reset.
///
/// - Parameters:
///   - stream: a live `seq_stream`.
///   - steps: receives the number of steps. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Thread safety: safe to call from any thread (calls on one stream are serialised).
@c public func seq_stream_position(_ stream: SeqStreamHandle?, _ steps: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let s = try Handles.value(stream, as: StreamObject.self, argument: "stream")
        let steps = try Arg.pointer(steps, "steps")
        steps.pointee = Int64(try s.locked { s.session.position })
    }
}

/// Copies the state: h = a<t> [L, B, Hout] (Hout = proj_size if set, else hidden_size) and, for
/// an LSTM, c = c<t> [L, B, H]. Each output follows the size convention of `seq_model_predict`:
/// NULL with capacity 0 only sets the count.
///
/// - Parameters:
///   - stream: a live `seq_stream`.
///   - h: receives L * B * Hout floats; may be NULL only when `h_capacity` is 0.
///   - h_capacity: size of `h` in floats.
///   - h_count: if not NULL, receives L * B * Hout.
///   - c: receives L * B * H floats for an LSTM; may be NULL only when `c_capacity` is 0.
///   - c_capacity: size of `c` in floats.
///   - c_count: if not NULL, receives L * B * H for an LSTM, 0 for other cells.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_BUFFER_TOO_SMALL`;
///   `SEQ_ERR_INVALID_ARGUMENT` (negative capacity).
/// - Thread safety: safe to call from any thread (calls on one stream are serialised).
@c public func seq_stream_get_state(_ stream: SeqStreamHandle?, _ h: UnsafeMutablePointer<Float>?, _ h_capacity: Int64,
                                    _ h_count: UnsafeMutablePointer<Int64>?, _ c: UnsafeMutablePointer<Float>?,
                                    _ c_capacity: Int64, _ c_count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let s = try Handles.value(stream, as: StreamObject.self, argument: "stream")
        let (hState, cState) = try s.locked { (s.session.h, s.session.c) }
        try writeState(hState, cState, into: h, h_capacity, h_count, c, c_capacity, c_count)
    }
}

/// Sets the state, e.g. one saved with `seq_stream_get_state`, or PyTorch's h0 and c0 of a
/// one-direction model. Shapes as `seq_stream_get_state`.
///
/// - Parameters:
///   - stream: a live `seq_stream`.
///   - h: L * B * Hout finite floats.
///   - h_count: L * B * Hout.
///   - c: for an LSTM, L * B * H finite floats (NULL for zeros); NULL for other cells.
///   - c_count: L * B * H for an LSTM with `c`, else 0.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (a count that does not match, NaN or infinite values, `c` for a cell without a memory cell).
///   On failure the state is unchanged.
/// - Thread safety: safe to call from any thread (calls on one stream are serialised).
@c public func seq_stream_set_state(_ stream: SeqStreamHandle?, _ h: UnsafePointer<Float>?, _ h_count: Int64,
                                    _ c: UnsafePointer<Float>?, _ c_count: Int64) -> SeqStatus {
    guarded {
        let s = try Handles.value(stream, as: StreamObject.self, argument: "stream")
        // From the configuration, not the session: its state may be replaced by a concurrent feed.
        let r = s.owner.config.rnn, batch = s.session.batch
        let hShape = [r.numLayers, batch, r.outputSize]
        let cShape = r.hasCellState ? [r.numLayers, batch, r.hiddenSize] : nil
        var state = try readState(h: h, hCount: h_count, c: c, cCount: c_count, hShape: hShape, cShape: cShape,
                                  hName: "h", cName: "c", directions: false, hRequired: true)
        if let cShape, state.c == nil { state.c = Tensor(zeros: cShape) }
        try s.locked { try s.session.setState(h: state.h!, c: state.c) }
    }
}
