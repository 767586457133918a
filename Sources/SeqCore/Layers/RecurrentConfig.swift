/// The recurrent cell of a layer.
public enum CellType: String, Sendable, CaseIterable {
    case rnnTanh = "rnn_tanh"
    case rnnReLU = "rnn_relu"
    case gru
    case lstm
}

/// The three exact GRU variants (DESIGN §2; equations in `Cells/GRUCell.swift`).
public enum GRUVariant: String, Sendable, CaseIterable {
    /// PyTorch, cuDNN, ONNX `linear_before_reset=1`: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).
    case linearBeforeReset = "linear_before_reset"
    /// The course's full GRU (Cho et al. 2014), ONNX `linear_before_reset=0`, Keras `reset_after=False`.
    case classic
    /// The course's first GRU: update gate only, no reset gate. Weights have 2H rows (z, n).
    case simplified
}

/// Which way time runs. `.reverse` alone is one direction processed from each sequence's last valid
/// step back to its first (ONNX `direction="reverse"`).
public enum Direction: String, Sendable, CaseIterable {
    case forward, reverse, bidirectional
}

/// How a bidirectional layer combines a→<t> and a←<t>: side by side (PyTorch) or added (Keras "sum").
public enum MergeMode: String, Sendable, CaseIterable {
    case concat, sum
}

/// Weight initialisation.
public enum Initialization: String, Sendable, CaseIterable {
    /// PyTorch's default: every parameter U(−1/√H, 1/√H).
    case pytorch
    /// Xavier/Glorot uniform per gate block, biases zero.
    case xavier
    /// Xavier for input weights, orthogonal gate blocks for recurrent weights, biases zero.
    case orthogonal
}

/// Everything that fixes a recurrent stack's shapes and equations.
///
/// Legend: I = `inputSize`, H = `hiddenSize`, P = `projSize` (LSTM only, 0 = none),
/// Hout = P if P > 0 else H, L = `numLayers`, D = 2 if bidirectional else 1.
public struct RecurrentConfig: Equatable, Sendable {
    public var cell: CellType
    public var gruVariant: GRUVariant
    public var inputSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var direction: Direction
    public var merge: MergeMode
    public var projSize: Int
    public var peepholes: Bool
    public var bias: Bool
    /// Dropout probability on the outputs of every layer but the last, in training only.
    public var dropout: Double

    public init(cell: CellType, inputSize: Int, hiddenSize: Int, numLayers: Int = 1,
                direction: Direction = .forward, merge: MergeMode = .concat,
                gruVariant: GRUVariant = .linearBeforeReset, projSize: Int = 0, peepholes: Bool = false,
                bias: Bool = true, dropout: Double = 0) {
        self.cell = cell
        self.gruVariant = gruVariant
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.direction = direction
        self.merge = merge
        self.projSize = projSize
        self.peepholes = peepholes
        self.bias = bias
        self.dropout = dropout
    }

    public var numDirections: Int { direction == .bidirectional ? 2 : 1 }
    /// Hout: the size of a<t> per direction.
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }
    /// Features per step of the stack's output: D·Hout (concat) or Hout (sum, or one direction).
    public var outputFeatures: Int { direction == .bidirectional && merge == .concat ? 2 * outputSize : outputSize }
    public var hasCellState: Bool { cell == .lstm }

    /// Gates per cell: the row blocks of weight_ih / weight_hh.
    public var gateCount: Int {
        switch cell {
        case .rnnTanh, .rnnReLU: return 1
        case .gru: return gruVariant == .simplified ? 2 : 3
        case .lstm: return 4
        }
    }

    /// Input features of layer `layer`.
    public func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : outputFeatures }

    public func validate() throws {
        try Check.positive(inputSize, "input_size")
        try Check.positive(hiddenSize, "hidden_size")
        try Check.positive(numLayers, "num_layers")
        try Check.nonNegative(projSize, "proj_size")
        if projSize > 0 && cell != .lstm {
            throw SeqError.invalid("proj_size", expected: "0 for a \(cell.rawValue) cell (projection is LSTM only)", got: projSize)
        }
        if projSize >= hiddenSize && projSize > 0 {
            throw SeqError.invalid("proj_size", expected: "less than hidden_size (\(hiddenSize))", got: projSize)
        }
        if peepholes && cell != .lstm {
            throw SeqError.invalid("peepholes", expected: "false for a \(cell.rawValue) cell (peepholes are LSTM only)", got: true)
        }
        if !(dropout >= 0 && dropout < 1) {
            throw SeqError.invalid("dropout", expected: "a probability in [0, 1)", got: dropout)
        }
        // Largest single buffer: weights of one gate block set; bounded before any allocation.
        _ = try Check.product([gateCount, hiddenSize, max(layerInputSize(1), inputSize) + outputSize], "hidden_size")
        // And all layers together (num_layers could be absurd while each layer is small).
        if parameterCount > Limits.maxElements {
            throw SeqError(.resourceLimit, "arguments 'num_layers' × layer sizes: the stack would have more than "
                           + "\(Limits.maxElements) parameters (num_layers \(numLayers), hidden_size \(hiddenSize))")
        }
    }
}
