// MARK: - Parameters and gradients
//
// A model's parameters by name, with PyTorch's names and shapes, so a state_dict moves across
// without reordering: "embedding.weight" [V, E], "rnn.weight_ih_l0" [G*H, I], "rnn.weight_hh_l0"
// [G*H, Hout], "rnn.bias_ih_l0" and "rnn.bias_hh_l0" [G*H], "rnn.weight_hr_l0" [P, H] (projection),
// "rnn.peephole_l0" [3, H] (peepholes), "_reverse" for the second direction, "head.weight" [K, F],
// "head.bias" [K]; seq2seq adds "decoder_embedding.weight" and "decoder.*". Gate blocks in
// PyTorch order: GRU r, z, n; LSTM i, f, g, o.

import SeqCore

extension ModelObject {
    /// The entry of `name`, or `SEQ_ERR_NOT_FOUND` listing the names.
    func parameter(_ name: String) throws -> ParameterInfo {
        try model.arena.info(name)
    }
}

/// The number of named parameter tensors of a model (not of scalars).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - count: receives the number. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`.
/// - Thread safety: safe to call from any thread.
@c public func seq_model_parameter_count(_ model: SeqModelHandle?, _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let count = try Arg.pointer(count, "count")
        count.pointee = Int64(m.model.arena.table.count)
    }
}

/// The name of the parameter at `index`, in registration order (PyTorch's state_dict order within
/// each module), e.g. "rnn.weight_ih_l0". Strings follow the convention of
/// `seq_config_get_string`: `buffer` NULL and `capacity` 0 only set `length`.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - index: in 0...count-1, count from `seq_model_parameter_count`.
///   - buffer: receives the name and a terminating NUL; may be NULL only when `capacity` is 0.
///   - capacity: size of `buffer` in bytes, including the NUL.
///   - length: if not NULL, receives the name's length without the NUL, also when the buffer is
///     too small.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (index out of range, negative capacity); `SEQ_ERR_BUFFER_TOO_SMALL` (buffer untouched).
/// - Thread safety: safe to call from any thread.
@c public func seq_model_parameter_name(_ model: SeqModelHandle?, _ index: Int64, _ buffer: UnsafeMutablePointer<CChar>?,
                                        _ capacity: Int64, _ length: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let table = m.model.arena.table
        guard index >= 0 && index < Int64(table.count) else {
            throw SeqError.invalid("index", expected: "an index in 0...\(table.count - 1) (seq_model_parameter_count)", got: index)
        }
        try Arg.writeString(table[Int(index)].name, to: buffer, capacity: capacity, length: length, bufferName: "buffer")
    }
}

/// The shape of a parameter, e.g. [4 * H, I] for "rnn.weight_ih_l0" of an LSTM.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - name: NUL-terminated parameter name.
///   - dims: receives the `rank` dimensions; may be NULL only when `capacity` is 0.
///   - capacity: size of `dims` in elements.
///   - rank: if not NULL, receives the number of dimensions, also when `dims` is too small.
///   - count: if not NULL, receives the number of elements (the product of the dimensions).
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND` (no
///   such parameter; the message lists the names); `SEQ_ERR_BUFFER_TOO_SMALL`;
///   `SEQ_ERR_INVALID_ARGUMENT` (negative capacity).
/// - Thread safety: safe to call from any thread.
@c public func seq_model_parameter_shape(_ model: SeqModelHandle?, _ name: UnsafePointer<CChar>?,
                                         _ dims: UnsafeMutablePointer<Int64>?, _ capacity: Int64,
                                         _ rank: UnsafeMutablePointer<Int64>?, _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let info = try m.parameter(Arg.string(name, "name"))
        count?.pointee = Int64(info.count)
        guard let dims = try Arg.output(dims, capacity, rank, needed: info.shape.count, name: "dims") else { return }
        for (i, d) in info.shape.enumerated() { dims[i] = Int64(d) }
    }
}

/// Which buffer of the arena a copy reads or writes.
enum ArenaPart {
    case values, gradients
}

extension ModelObject {
    func copy(_ part: ArenaPart, _ name: UnsafePointer<CChar>?, to buffer: UnsafeMutablePointer<Float>?,
              capacity: Int64, count: UnsafeMutablePointer<Int64>?) throws {
        let info = try parameter(Arg.string(name, "name"))
        guard let buffer = try Arg.output(buffer, capacity, count, needed: info.count, name: "buffer") else { return }
        try locked {
            let arena = model.arena
            let source = part == .values ? arena.values : arena.gradients
            guard info.offset + info.count <= source.count else {
                throw ABIError(status: .internal, message: "parameter '\(info.name)' lies outside the arena")
            }
            source.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + info.offset, count: info.count) }
        }
    }

    func write(_ part: ArenaPart, _ name: UnsafePointer<CChar>?, from data: UnsafePointer<Float>?, count: Int64) throws {
        let info = try parameter(Arg.string(name, "name"))
        let data = try Arg.pointer(data, part == .values ? "values" : "gradients")
        guard count == Int64(info.count) else {
            throw SeqError.invalid("count", expected: "\(info.count) (the elements of '\(info.name)', shape \(info.shape))", got: count)
        }
        try Arg.finite(data, count: info.count, part == .values ? "values" : "gradients")
        try locked {
            let arena = model.arena
            guard info.offset + info.count <= arena.values.count, arena.gradients.count == arena.values.count else {
                throw ABIError(status: .internal, message: "parameter '\(info.name)' lies outside the arena")
            }
            let source = UnsafeBufferPointer(start: data, count: info.count)
            switch part {
            case .values:
                // Through SeqCore: `arena.values` mutated from this module would be copied whole first.
                arena.updateValues { _ = UnsafeMutableBufferPointer(rebasing: $0[info.offset ..< info.offset + info.count]).update(fromContentsOf: source) }
            case .gradients:
                arena.gradients.withUnsafeMutableBufferPointer { _ = UnsafeMutableBufferPointer(rebasing: $0[info.offset ..< info.offset + info.count]).update(fromContentsOf: source) }
            }
        }
    }
}

/// Copies a parameter's values into a caller's buffer, row-major in the parameter's shape.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - name: NUL-terminated parameter name, e.g. "rnn.weight_hh_l0".
///   - buffer: receives the values; may be NULL only when `capacity` is 0.
///   - capacity: size of `buffer` in floats.
///   - count: if not NULL, receives the parameter's element count, also when `buffer` is too
///     small. `buffer` NULL with `capacity` 0 only sets `count`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND`;
///   `SEQ_ERR_BUFFER_TOO_SMALL` (buffer untouched); `SEQ_ERR_INVALID_ARGUMENT` (negative capacity).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_get_parameter(_ model: SeqModelHandle?, _ name: UnsafePointer<CChar>?,
                                       _ buffer: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                       _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.copy(.values, name, to: buffer, capacity: capacity, count: count)
    }
}

/// Overwrites a parameter's values, row-major in the parameter's shape (e.g. weights exported
/// from PyTorch's state_dict under the same name).
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - name: NUL-terminated parameter name.
///   - values: the new values, all finite.
///   - count: the number of values: exactly the parameter's element count.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_NOT_FOUND`;
///   `SEQ_ERR_INVALID_ARGUMENT` (wrong count, NaN or infinite value; nothing is written).
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_set_parameter(_ model: SeqModelHandle?, _ name: UnsafePointer<CChar>?,
                                       _ values: UnsafePointer<Float>?, _ count: Int64) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.write(.values, name, from: values, count: count)
    }
}

/// Copies a parameter's gradient dL/dparameter (as left by the last training step or
/// `seq_model_compute_gradients`) into a caller's buffer, in the parameter's shape.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - name: NUL-terminated parameter name.
///   - buffer: receives the gradient; may be NULL only when `capacity` is 0.
///   - capacity: size of `buffer` in floats.
///   - count: if not NULL, receives the element count, also when `buffer` is too small.
/// - Returns: as `seq_model_get_parameter`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_get_gradient(_ model: SeqModelHandle?, _ name: UnsafePointer<CChar>?,
                                      _ buffer: UnsafeMutablePointer<Float>?, _ capacity: Int64,
                                      _ count: UnsafeMutablePointer<Int64>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.copy(.gradients, name, to: buffer, capacity: capacity, count: count)
    }
}

/// Overwrites a parameter's gradient, e.g. from a loss computed by the caller; then
/// `seq_model_apply_gradients` updates the parameters from it.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - name: NUL-terminated parameter name.
///   - gradients: the new gradient, all finite.
///   - count: exactly the parameter's element count.
/// - Returns: as `seq_model_set_parameter`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_set_gradient(_ model: SeqModelHandle?, _ name: UnsafePointer<CChar>?,
                                      _ gradients: UnsafePointer<Float>?, _ count: Int64) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        try m.write(.gradients, name, from: gradients, count: count)
    }
}
