// MARK: - ONNX import
//
// One ONNX tensor at a time, so a C program can copy the initialisers of an ONNX GRU/LSTM/RNN node
// as it finds them: the layer's current weights are exported to ONNX layout, the one tensor is
// replaced, and the set is imported back through the engine's converter (gate orders of DESIGN
// section 2: ONNX LSTM i, o, f, c from PyTorch blocks 0, 3, 1, 2; GRU z, r, h from 1, 0, 2;
// B = [Wb | Rb]; P order i, o, f).

import SeqCore

/// Sets one layer's weights from one input of an ONNX RNN, GRU or LSTM node, in ONNX's layout
/// (both directions in one tensor, ONNX gate order), converting them to the model's PyTorch
/// layout: "W" [D, G*H, I], "R" [D, G*H, H], "B" [D, 2*G*H], "P" [D, 3*H]. A GRU must be the
/// "linear_before_reset" variant (ONNX linear_before_reset=1) or "classic" (=0); the model's
/// direction is the node's. Nothing changes when the call fails.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - stack: "rnn" (the recurrent stack; a seq2seq model's encoder) or "decoder" (seq2seq).
///   - layer: the layer, 0...num_layers-1 (an ONNX node is one layer).
///   - tensor: the ONNX input name: "W", "R", "B" or "P".
///   - data: the tensor's values, all finite, row-major in ONNX's shape.
///   - count: the number of values.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_INVALID_ARGUMENT`
///   (unknown stack, layer or tensor; a count that is not the tensor's size; "B" for a model
///   without biases, "P" without peepholes; a model ONNX cannot express, e.g. a projection or the
///   simplified GRU).
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
        let values = Array(UnsafeBufferPointer(start: data, count: n))
        try m.locked {
            let target = stackName == "rnn" ? m.model.rnn : m.model.decoder!
            let rc = target.config
            var weights = try target.exportONNX(layer: Int(layer))
            let current: Tensor<Float>?
            switch name {
            case "W": current = weights.W
            case "R": current = weights.R
            case "B": current = weights.B
            default: current = weights.P
            }
            guard let shape = current?.shape, name != "B" || rc.bias else {
                throw SeqError.invalid("tensor", expected: name == "B" ? "a model with biases (bias = 1) for \"B\"" : "a peephole LSTM for \"P\"",
                                       got: "\"\(name)\"")
            }
            let t = try Tensor(shape: shape, data: values, name: "data (count)")
            switch name {
            case "W": weights.W = t
            case "R": weights.R = t
            case "B": weights.B = t
            default: weights.P = t
            }
            let lbr = rc.cell == .gru && rc.gruVariant == .linearBeforeReset ? 1 : 0
            try target.importONNX(weights, layer: Int(layer), direction: rc.direction, linearBeforeReset: lbr)
        }
    }
}
