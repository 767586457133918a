// ONNX-layout weights: the inputs W, R, B, P of one ONNX RNN / GRU / LSTM node, converted to and
// from seqcore's PyTorch layout. A function over arrays: reading the .onnx protobuf is left to the
// caller (onnx.numpy_helper.to_array in Python gives exactly these arrays).
//
// Legend: D directions (1, or 2 for "bidirectional"), G gates, H hidden size, I input size.
//
//     ONNX                                     seqcore (PyTorch)
//     W [D, G·H, I]                            weight_ih_l{l}[_reverse] [G·H, I]
//     R [D, G·H, H]                            weight_hh_l{l}[_reverse] [G·H, H]
//     B [D, 2·G·H] = [Wb | Rb]                 bias_ih, bias_hh [G·H] each
//     P [D, 3H], rows i, o, f (LSTM only)      peephole [3, H], rows i, f, o
//
// Gate blocks of H rows: ONNX LSTM i, o, f, c  = PyTorch blocks 0, 3, 1, 2 (PyTorch order i, f, g, o);
//                        ONNX GRU  z, r, h     = PyTorch blocks 1, 0, 2    (PyTorch order r, z, n).
// ONNX's `linear_before_reset` picks the GRU equation: 1 is PyTorch's (`.linearBeforeReset`),
// 0 the classic GRU (`.classic`). ONNX's reverse and bidirectional directions run the backward
// direction from each sequence's last valid step, as seqcore does. Not representable here, and the
// caller's to refuse: custom `activations`, `clip`, `input_forget`, `layout = 1` (transpose X to
// time-major instead).

/// The weight inputs of one ONNX RNN, GRU or LSTM node, in ONNX's layout (see the table above).
public struct ONNXRecurrentWeights<S: SeqScalar>: Equatable {
    /// Input weights, [D, G·H, I].
    public var W: Tensor<S>
    /// Recurrent weights, [D, G·H, H].
    public var R: Tensor<S>
    /// Biases [D, 2·G·H] = [Wb | Rb]; nil means zeros (ONNX's default).
    public var B: Tensor<S>?
    /// LSTM peepholes [D, 3H] in the order i, o, f; nil means zeros (ONNX's default).
    public var P: Tensor<S>?

    public init(W: Tensor<S>, R: Tensor<S>, B: Tensor<S>? = nil, P: Tensor<S>? = nil) {
        self.W = W
        self.R = R
        self.B = B
        self.P = P
    }
}

extension CellType {
    /// ONNX gate block j holds PyTorch block `onnxOrder[j]`.
    var onnxOrder: [Int] {
        switch self {
        case .rnnTanh, .rnnReLU: return [0]
        case .gru: return [1, 0, 2]
        case .lstm: return [0, 3, 1, 2]
        }
    }

    /// The ONNX operator: "RNN", "GRU" or "LSTM".
    var onnxOperator: String {
        switch self {
        case .rnnTanh, .rnnReLU: return "RNN"
        case .gru: return "GRU"
        case .lstm: return "LSTM"
        }
    }
}

extension RecurrentLayer {
    /// Creates a one-layer recurrent layer from the weights of an ONNX node: H and I are read from
    /// R and W, peepholes are on when P is given, bias when B is given.
    ///
    /// ```swift
    /// // weights from onnx.numpy_helper.to_array of the node's initializers
    /// let gru = try RecurrentLayer<Float>(onnx: ONNXRecurrentWeights(W: w, R: r, B: b), cell: .gru,
    ///                                     direction: .bidirectional, linearBeforeReset: 0)
    /// ```
    ///
    /// - Parameters:
    ///   - cell: `.gru`, `.lstm`, `.rnnTanh` (ONNX RNN's default activation) or `.rnnReLU`.
    ///   - direction: the node's `direction` attribute.
    ///   - linearBeforeReset: the GRU node's `linear_before_reset` attribute, 0 (ONNX's default,
    ///     the classic GRU) or 1 (PyTorch's GRU). Must be 0 for RNN and LSTM.
    public convenience init(onnx weights: ONNXRecurrentWeights<S>, cell: CellType, direction: Direction = .forward,
                            linearBeforeReset: Int = 0) throws {
        guard weights.R.shape.count == 3, weights.W.shape.count == 3 else {
            throw SeqError.invalid("W, R", expected: "3-dimensional arrays [D, G·H, I] and [D, G·H, H]",
                                   got: "shapes \(weights.W.shape) and \(weights.R.shape)")
        }
        let hidden = weights.R.shape[2], input = weights.W.shape[2]
        var config = RecurrentConfig(cell: cell, inputSize: input, hiddenSize: hidden, direction: direction,
                                     peepholes: cell == .lstm && weights.P != nil, bias: weights.B != nil)
        if cell == .gru {
            guard linearBeforeReset == 0 || linearBeforeReset == 1 else {
                throw SeqError.invalid("linear_before_reset", expected: "0 or 1", got: linearBeforeReset)
            }
            config.gruVariant = linearBeforeReset == 1 ? .linearBeforeReset : .classic
        }
        try self.init(config)
        try importONNX(weights, layer: 0, direction: direction, linearBeforeReset: linearBeforeReset)
    }

    /// Overwrites layer `layer` (both directions when bidirectional) with the weights of an ONNX
    /// node. Everything is checked before anything changes: the node's `direction` and
    /// `linear_before_reset` must describe this layer (a GRU's variant: 1 = `.linearBeforeReset`,
    /// 0 = `.classic`; the simplified GRU and LSTM projections have no ONNX form), every array must
    /// have its shape and finite values. A missing B (or P, for a peephole LSTM) sets zeros; B or P
    /// for a layer without biases or peepholes must be zero. For layers above the first, I is this
    /// layer's input width (D·Hout when concatenated, as ONNX's Y [T, D, B, H] reshaped).
    public func importONNX(_ weights: ONNXRecurrentWeights<S>, layer: Int = 0, direction: Direction,
                           linearBeforeReset: Int = 0) throws {
        let c = config, h = c.hiddenSize, g = c.gateCount, gh = g * h, d = c.numDirections
        guard layer >= 0 && layer < c.numLayers else {
            throw SeqError.invalid("layer", expected: "a layer index in 0..<\(c.numLayers)", got: layer)
        }
        let input = c.layerInputSize(layer)
        try checkONNXCompatible(direction: direction, linearBeforeReset: linearBeforeReset)
        let legend = ["W": "[D, G·H, I]", "R": "[D, G·H, H]", "B": "[D, 2·G·H]", "P": "[D, 3H]"]
        func check(_ t: Tensor<S>?, _ name: String, _ shape: [Int]) throws {
            guard let t else { return }
            if t.shape != shape {
                throw SeqError.invalid(name, expected: "shape \(shape) (\(legend[name] ?? "") with D = \(d), G = \(g), H = \(h), "
                                       + "I = \(input))", got: t.shape)
            }
            try Check.count(t.data.count, shape.reduce(1, *), name, shape: "shape \(shape)")
            if let bad = t.data.firstIndex(where: { !$0.isFinite }) {
                throw SeqError.invalid(name, expected: "finite values", got: "\(t.data[bad]) at flat index \(bad)")
            }
        }
        try check(weights.W, "W", [d, gh, input])
        try check(weights.R, "R", [d, gh, h])
        try check(weights.B, "B", [d, 2 * gh])
        if weights.P != nil && c.cell != .lstm {
            throw SeqError.invalid("P", expected: "nil for a \(c.cell.onnxOperator) node (peepholes are LSTM only)", got: "an array")
        }
        try check(weights.P, "P", [d, 3 * h])
        if !c.bias, let b = weights.B, b.data.contains(where: { $0 != 0 }) {
            throw SeqError.invalid("B", expected: "zeros or nil for a layer without biases (bias: false)", got: "non-zero values")
        }
        if !c.peepholes, let p = weights.P, p.data.contains(where: { $0 != 0 }) {
            throw SeqError.invalid("P", expected: "zeros or nil for an LSTM without peepholes (peepholes: false)", got: "non-zero values")
        }
        // Everything checked: write.
        let order = c.cell.onnxOrder
        for dir in 0 ..< d {
            /// PyTorch-ordered rows [G·H, cols] from the ONNX rows of direction `dir` at `base`.
            func reorder(_ data: [S], base: Int, cols: Int) -> [S] {
                var out = [S](repeating: 0, count: gh * cols)
                for j in 0 ..< g {
                    let from = base + j * h * cols, to = order[j] * h * cols
                    for i in 0 ..< h * cols { out[to + i] = data[from + i] }
                }
                return out
            }
            try arena.setValue(name("weight_ih", layer, dir), reorder(weights.W.data, base: dir * gh * input, cols: input))
            try arena.setValue(name("weight_hh", layer, dir), reorder(weights.R.data, base: dir * gh * h, cols: h))
            if c.bias {
                let b = weights.B?.data ?? [S](repeating: 0, count: d * 2 * gh)
                try arena.setValue(name("bias_ih", layer, dir), reorder(b, base: dir * 2 * gh, cols: 1))
                try arena.setValue(name("bias_hh", layer, dir), reorder(b, base: dir * 2 * gh + gh, cols: 1))
            }
            if c.peepholes {
                // ONNX rows i, o, f → ours i, f, o.
                let p = weights.P?.data ?? [S](repeating: 0, count: d * 3 * h)
                let at = dir * 3 * h
                try arena.setValue(name("peephole", layer, dir),
                                   Array(p[at ..< at + h] + p[at + 2 * h ..< at + 3 * h] + p[at + h ..< at + 2 * h]))
            }
        }
    }

    /// Layer `layer`'s weights in ONNX layout, for an ONNX node with this layer's `direction` and
    /// (GRU) `linear_before_reset` = 1 for `.linearBeforeReset`, 0 for `.classic`. B is zeros without
    /// biases; P is nil without peepholes.
    public func exportONNX(layer: Int = 0) throws -> ONNXRecurrentWeights<S> {
        let c = config, h = c.hiddenSize, g = c.gateCount, gh = g * h, d = c.numDirections
        guard layer >= 0 && layer < c.numLayers else {
            throw SeqError.invalid("layer", expected: "a layer index in 0..<\(c.numLayers)", got: layer)
        }
        try checkONNXCompatible(direction: c.direction, linearBeforeReset: c.cell == .gru && c.gruVariant == .linearBeforeReset ? 1 : 0)
        let input = c.layerInputSize(layer), order = c.cell.onnxOrder
        var w: [S] = [], r: [S] = [], b: [S] = [], p: [S] = []
        for dir in 0 ..< d {
            /// ONNX-ordered rows from a PyTorch-ordered parameter [G·H, cols].
            func reorder(_ data: [S], cols: Int) -> [S] {
                var out: [S] = []
                for j in 0 ..< g { out += data[order[j] * h * cols ..< (order[j] + 1) * h * cols] }
                return out
            }
            w += reorder(try arena.value(name("weight_ih", layer, dir)).data, cols: input)
            r += reorder(try arena.value(name("weight_hh", layer, dir)).data, cols: h)
            if c.bias {
                b += reorder(try arena.value(name("bias_ih", layer, dir)).data, cols: 1)
                b += reorder(try arena.value(name("bias_hh", layer, dir)).data, cols: 1)
            } else {
                b += [S](repeating: 0, count: 2 * gh)
            }
            if c.peepholes {
                let q = try arena.value(name("peephole", layer, dir)).data   // i, f, o → i, o, f
                p += Array(q[0 ..< h] + q[2 * h ..< 3 * h] + q[h ..< 2 * h])
            }
        }
        return ONNXRecurrentWeights(W: Tensor(unchecked: [d, gh, input], data: w), R: Tensor(unchecked: [d, gh, h], data: r),
                                    B: Tensor(unchecked: [d, 2 * gh], data: b),
                                    P: c.peepholes ? Tensor(unchecked: [d, 3 * h], data: p) : nil)
    }

    /// Throws unless an ONNX node with `direction` and `linearBeforeReset` computes what this layer does.
    func checkONNXCompatible(direction: Direction, linearBeforeReset: Int) throws {
        let c = config
        if direction != c.direction {
            throw SeqError.invalid("direction", expected: "the layer's direction '\(c.direction.rawValue)'", got: "'\(direction.rawValue)'")
        }
        if c.projSize > 0 {
            throw SeqError.invalid("layer", expected: "an LSTM without projection (ONNX LSTM has no proj_size)", got: "proj_size \(c.projSize)")
        }
        guard linearBeforeReset == 0 || linearBeforeReset == 1 else {
            throw SeqError.invalid("linear_before_reset", expected: "0 or 1", got: linearBeforeReset)
        }
        guard c.cell == .gru else {
            if linearBeforeReset != 0 {
                throw SeqError.invalid("linear_before_reset", expected: "0 for an ONNX \(c.cell.onnxOperator) node (it is a GRU attribute)",
                                       got: linearBeforeReset)
            }
            return
        }
        switch (c.gruVariant, linearBeforeReset) {
        case (.linearBeforeReset, 1), (.classic, 0):
            return
        case (.simplified, _):
            throw SeqError.invalid("layer", expected: "a classic or linear-before-reset GRU (ONNX has no simplified GRU)", got: "gru_variant simplified")
        default:
            throw SeqError.invalid("linear_before_reset",
                                   expected: "\(c.gruVariant == .classic ? 0 : 1) for this layer's GRU variant '\(c.gruVariant.rawValue)' "
                                       + "(1 = linear_before_reset, 0 = classic)", got: linearBeforeReset)
        }
    }
}
