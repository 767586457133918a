// MARK: - ONNX import
//
// TODO(lead): ONNX-layout import is not in SeqCore yet. seq_model_set_onnx_tensor is the ABI it will
// have; until the engine's converter lands (gate orders of DESIGN section 2: ONNX LSTM i, o, f, c
// from PyTorch blocks 0, 3, 1, 2; GRU z, r, h from 1, 0, 2; B = [Wb | Rb]; P order i, o, f), it
// checks its arguments and returns SEQ_ERR_INTERNAL with "not yet implemented".

import SeqCore

/// NOT YET IMPLEMENTED: always fails with `SEQ_ERR_INTERNAL` ("not yet implemented") after
/// checking its arguments. Will set one layer's weights from an ONNX GRU or LSTM node's inputs,
/// in ONNX's layout (both directions in one tensor, ONNX gate order), converting them to the
/// model's PyTorch layout: "W" [D, G*H, I], "R" [D, G*H, H], "B" [D, 2*G*H], "P" [D, 3*H].
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - stack: "rnn" (the recurrent stack; a seq2seq model's encoder) or "decoder" (seq2seq).
///   - layer: the layer, 0...num_layers-1 (an ONNX node is one layer).
///   - tensor: the ONNX input name: "W", "R", "B" or "P".
///   - data: the tensor's values, all finite, row-major in ONNX's shape.
///   - count: the number of values.
/// - Returns: `SEQ_ERR_INTERNAL` with "not yet implemented" for valid arguments;
///   `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`.
/// - Thread safety: safe to call from any thread (calls on one model are serialised).
@c public func seq_model_set_onnx_tensor(_ model: SeqModelHandle?, _ stack: UnsafePointer<CChar>?, _ layer: Int64,
                                         _ tensor: UnsafePointer<CChar>?, _ data: UnsafePointer<Float>?, _ count: Int64) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let c = m.config
        let stackName = try Arg.string(stack, "stack")
        let stacks = c.architecture == .seq2seq ? ["rnn", "decoder"] : ["rnn"]
        guard stacks.contains(stackName) else {
            throw SeqError.invalid("stack", expected: "one of " + stacks.map { "\"\($0)\"" }.joined(separator: ", "), got: "\"\(stackName)\"")
        }
        guard layer >= 0 && layer < Int64(c.rnn.numLayers) else {
            throw SeqError.invalid("layer", expected: "a layer in 0...\(c.rnn.numLayers - 1)", got: layer)
        }
        let name = try Arg.string(tensor, "tensor")
        guard ["W", "R", "B", "P"].contains(name) else {
            throw SeqError.invalid("tensor", expected: "\"W\", \"R\", \"B\" or \"P\"", got: "\"\(name)\"")
        }
        let data = try Arg.pointer(data, "data")
        let n = try Arg.positive(count, "count")
        try Arg.finite(data, count: n, "data")
        throw ABIError(status: .internal, message: "not yet implemented: ONNX-layout import awaits the engine's converter")
    }
}
