#if canImport(Glibc)
import Glibc
#endif

/// A stack of recurrent layers — RNN, GRU or LSTM; deep (lesson 4: a^[l]<t> takes a^[l-1]<t> as its
/// input); one direction or bidirectional — with its parameters in a `ParameterArena` under PyTorch's
/// names (`weight_ih_l0`, `weight_hh_l1_reverse`, `bias_ih_l0`, `weight_hr_l0`, …, plus
/// `peephole_l0` [3, H] for peephole LSTMs), so a PyTorch `state_dict` loads without reordering.
///
/// Forward and backward live in `RecurrentLayer+Run.swift`.
public final class RecurrentLayer<S: SeqScalar> {
    public let config: RecurrentConfig
    /// The arena holding this layer's parameters (possibly shared with a whole model).
    public let arena: ParameterArena<S>
    /// Prefix of this layer's parameter names in the arena, e.g. "rnn." (empty for a standalone layer).
    public let prefix: String
    /// Drives dropout masks; part of a checkpoint so a resumed run draws the same masks.
    public var random: SeqRandom

    struct Offsets {
        var wih = 0, whh = 0
        var bih: Int?, bhh: Int?, whr: Int?, peephole: Int?
    }
    /// offsets[layer][direction]
    var offsets: [[Offsets]] = []
    /// Packed weight panels kept between inference calls (Float only; see `PackCache`).
    let packCache = PackCache()

    /// Bytes of packed weights this layer keeps for inference (0 until the first inference call,
    /// then up to about the size of its weight matrices; rebuilt after the parameters change).
    public var packedWeightBytes: Int { packCache.bytes }

    /// Creates the layer and registers its parameters in `arena` (a new one when nil), initialised
    /// by `initialization` from `seed`. `forgetBias`, for LSTMs, sets the forget-gate part of
    /// bias_ih to that value and of bias_hh to 0 (Jozefowicz et al. recommend 1).
    @_specialize(where S == Float)
    public convenience init(_ config: RecurrentConfig, arena: ParameterArena<S>? = nil, prefix: String = "",
                            initialization: Initialization = .pytorch, seed: UInt64 = 0, forgetBias: Double? = nil) throws {
        try self.init(config, arena: arena, prefix: prefix, initializing: initialization, seed: seed, forgetBias: forgetBias)
    }

    /// `initializing: nil` leaves the parameters zero, for a layer whose parameters are loaded next.
    @_specialize(where S == Float)
    init(_ config: RecurrentConfig, arena: ParameterArena<S>?, prefix: String, initializing initialization: Initialization?,
         seed: UInt64, forgetBias: Double?) throws {
        try config.validate()
        if forgetBias != nil && config.cell != .lstm {
            throw SeqError.invalid("forget_bias", expected: "nil for a \(config.cell.rawValue) cell (LSTM only)", got: forgetBias!)
        }
        self.config = config
        self.arena = arena ?? ParameterArena<S>()
        self.arena.reserve(additional: config.parameterCount)
        self.prefix = prefix
        random = SeqRandom(seed: seed ^ 0xD20F_0A7)
        let gh = config.gateCount * config.hiddenSize, h = config.hiddenSize, hout = config.outputSize
        for l in 0 ..< config.numLayers {
            var perDirection: [Offsets] = []
            for d in 0 ..< config.numDirections {
                var o = Offsets()
                o.wih = try register("weight_ih", l, d, [gh, config.layerInputSize(l)])
                o.whh = try register("weight_hh", l, d, [gh, hout])
                if config.bias {
                    o.bih = try register("bias_ih", l, d, [gh])
                    o.bhh = try register("bias_hh", l, d, [gh])
                }
                if config.projSize > 0 { o.whr = try register("weight_hr", l, d, [config.projSize, h]) }
                if config.peepholes { o.peephole = try register("peephole", l, d, [3, h]) }
                perDirection.append(o)
            }
            offsets.append(perDirection)
        }
        if let initialization { initialize(initialization, seed: seed, forgetBias: forgetBias) }
    }

    /// PyTorch's parameter name: `<prefix><base>_l<layer>[_reverse]`.
    public func name(_ base: String, _ layer: Int, _ direction: Int) -> String {
        "\(prefix)\(base)_l\(layer)\(direction == 1 ? "_reverse" : "")"
    }

    /// Names of this layer's parameters, in PyTorch's `state_dict` order.
    public private(set) var parameterNames: [String] = []

    private func register(_ base: String, _ layer: Int, _ direction: Int, _ shape: [Int]) throws -> Int {
        let n = name(base, layer, direction)
        parameterNames.append(n)
        return try arena.register(n, shape: shape)
    }

    /// Re-initialises every parameter of this layer.
    public func initialize(_ scheme: Initialization, seed: UInt64, forgetBias: Double? = nil) {
        var rng = SeqRandom(seed: seed)
        let h = config.hiddenSize, g = config.gateCount, hout = config.outputSize
        let k = 1 / Double(h).squareRoot()
        arena.values.withUnsafeMutableBufferPointer { buf in
            let v = buf.baseAddress!
            func uniform(_ at: Int, _ count: Int, _ bound: Double) {
                for i in 0 ..< count { v[at + i] = S(rng.uniform(-bound, bound)) }
            }
            func zero(_ at: Int?, _ count: Int) { if let at { (v + at).update(repeating: 0, count: count) } }
            func xavier(_ at: Int, blocks: Int, rows: Int, cols: Int) {
                uniform(at, blocks * rows * cols, (6 / Double(rows + cols)).squareRoot())
            }
            for l in 0 ..< config.numLayers {
                let input = config.layerInputSize(l)
                for o in offsets[l] {
                    switch scheme {
                    case .pytorch:
                        uniform(o.wih, g * h * input, k)
                        uniform(o.whh, g * h * hout, k)
                        if let b = o.bih { uniform(b, g * h, k) }
                        if let b = o.bhh { uniform(b, g * h, k) }
                        if let w = o.whr { uniform(w, config.projSize * h, k) }
                        if let p = o.peephole { uniform(p, 3 * h, k) }
                    case .xavier, .orthogonal:
                        xavier(o.wih, blocks: g, rows: h, cols: input)
                        if scheme == .orthogonal {
                            for block in 0 ..< g { orthogonal(v + o.whh + block * h * hout, rows: h, cols: hout, &rng) }
                        } else {
                            xavier(o.whh, blocks: g, rows: h, cols: hout)
                        }
                        zero(o.bih, g * h)
                        zero(o.bhh, g * h)
                        if let w = o.whr { xavier(w, blocks: 1, rows: config.projSize, cols: h) }
                        zero(o.peephole, 3 * h)
                    }
                    if let fb = forgetBias, let bih = o.bih, let bhh = o.bhh {
                        // Rows h ..< 2h are Γ_f in PyTorch's i, f, g, o order.
                        (v + bih + h).update(repeating: S(fb), count: h)
                        (v + bhh + h).update(repeating: 0, count: h)
                    }
                }
            }
        }
    }

    /// Fills a rows × cols block with orthonormal rows (or columns, when rows > cols): modified
    /// Gram–Schmidt on a standard normal matrix.
    private func orthogonal(_ w: UnsafeMutablePointer<S>, rows: Int, cols: Int, _ rng: inout SeqRandom) {
        let transpose = rows > cols
        let (n, m) = transpose ? (cols, rows) : (rows, cols)  // orthonormalise n vectors of length m
        var q = [Double](repeating: 0, count: n * m)
        for i in q.indices { q[i] = rng.normal() }
        for i in 0 ..< n {
            for j in 0 ..< i {
                var dot = 0.0
                for t in 0 ..< m { dot += q[i * m + t] * q[j * m + t] }
                for t in 0 ..< m { q[i * m + t] -= dot * q[j * m + t] }
            }
            var norm = 0.0
            for t in 0 ..< m { norm += q[i * m + t] * q[i * m + t] }
            norm = norm.squareRoot()
            for t in 0 ..< m { q[i * m + t] /= max(norm, 1e-12) }
        }
        for r in 0 ..< rows {
            for c in 0 ..< cols { w[r * cols + c] = S(transpose ? q[c * m + r] : q[r * m + c]) }
        }
    }

    /// Pointers to the parameters (or gradients) of one layer and direction inside `base`.
    func cellParameters(_ base: UnsafeMutablePointer<S>, layer: Int, direction: Int,
                        cache: WeightCache? = nil) -> CellParameters<S> {
        let o = offsets[layer][direction]
        return CellParameters(wih: base + o.wih, whh: base + o.whh,
                              bih: o.bih.map { base + $0 }, bhh: o.bhh.map { base + $0 },
                              whr: o.whr.map { base + $0 }, peephole: o.peephole.map { base + $0 }, cache: cache)
    }
}
