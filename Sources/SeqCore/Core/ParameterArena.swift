/// Where one named parameter lives in an arena.
public struct ParameterInfo: Equatable, Sendable {
    /// PyTorch `state_dict` name, e.g. `weight_ih_l0`, `rnn.weight_hh_l1_reverse`, `head.bias`.
    public let name: String
    public let shape: [Int]
    /// First element in `ParameterArena.values` (and `gradients`).
    public let offset: Int
    public let count: Int
}

/// All parameters of a model in one flat buffer, with named views, and a gradient buffer of the same
/// layout. The optimizer, clipping, checkpointing and the C ABI each see one loop over one buffer.
///
/// Layers register their parameters once, at construction, and keep offsets (never pointers), so the
/// arena may grow while a model is assembled.
public final class ParameterArena<Scalar: SeqScalar> {
    public private(set) var table: [ParameterInfo] = []
    /// Parameter values, every parameter back to back in registration order.
    /// Every change, through any path (assignment, subscript, `withUnsafeMutableBufferPointer`),
    /// advances `version`. Outside SeqCore, change it in place with `updateValues` (see there).
    public var values: [Scalar] = [] {
        // No `oldValue`: the observer then lets mutations happen in place, without a copy.
        didSet { version &+= 1 }
    }
    /// Changes whenever `values` may have: what caches derived from the weights (the layers'
    /// packed weight panels) compare against to know they are stale.
    public private(set) var version = 0
    /// ∂L/∂values, same layout. Backward passes accumulate (`+=`); `zeroGradients()` clears.
    public var gradients: [Scalar] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Total number of scalars.
    public var count: Int { values.count }

    /// Room for `count` more scalars in `values` and `gradients`, made before a layer or model
    /// registers its parameters one by one: otherwise both buffers regrow (fresh memory to fault in,
    /// the old contents copied) as each weight matrix arrives — most of loading a 64 MiB model.
    public func reserve(additional count: Int) {
        guard count > 0, count <= Limits.maxElements - values.count else { return }
        values.reserveCapacity(values.count + count)
        gradients.reserveCapacity(gradients.count + count)
    }

    /// Adds a zero-initialised parameter and returns its offset.
    @discardableResult
    @_specialize(where Scalar == Float)
    public func register(_ name: String, shape: [Int]) throws -> Int {
        if index[name] != nil {
            throw SeqError.invalid("name", expected: "a parameter name not yet registered", got: "'\(name)'")
        }
        let n = try Check.product(shape, name)
        let offset = values.count
        if offset + n > Limits.maxElements {
            throw SeqError(.resourceLimit, "parameters: more than \(Limits.maxElements) scalars in total")
        }
        index[name] = table.count
        table.append(ParameterInfo(name: name, shape: shape, offset: offset, count: n))
        // Zeros appended in place (this method is specialised for Float, so no generic loop): a
        // temporary zero-filled array per parameter was fresh memory to fault in, fill, copy and
        // unmap — a third of loading a 64 MiB model.
        values.append(contentsOf: repeatElement(0, count: n))
        gradients.append(contentsOf: repeatElement(0, count: n))
        return offset
    }

    /// The entry for `name`, or a `notFound` error listing what exists.
    public func info(_ name: String) throws -> ParameterInfo {
        guard let i = index[name] else {
            let known = table.map(\.name).joined(separator: ", ")
            throw SeqError(.notFound, "argument 'name': no parameter named '\(name)'; known: \(known)")
        }
        return table[i]
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// A copy of one parameter.
    @_specialize(where Scalar == Float)
    public func value(_ name: String) throws -> Tensor<Scalar> {
        let p = try info(name)
        return Tensor(unchecked: p.shape, data: Array(values[p.offset ..< p.offset + p.count]))
    }

    /// A copy of one parameter's gradient.
    @_specialize(where Scalar == Float)
    public func gradient(_ name: String) throws -> Tensor<Scalar> {
        let p = try info(name)
        return Tensor(unchecked: p.shape, data: Array(gradients[p.offset ..< p.offset + p.count]))
    }

    /// Overwrites one parameter; `data` must have exactly the parameter's element count.
    /// Non-finite values are refused: a NaN weight would silently poison every later result.
    @_specialize(where Scalar == Float)
    public func setValue(_ name: String, _ data: [Scalar]) throws {
        let p = try info(name)
        try Check.count(data.count, p.count, name, shape: "shape \(p.shape)")
        if let bad = data.firstIndex(where: { !$0.isFinite }) {
            throw SeqError.invalid(name, expected: "finite values", got: "\(data[bad]) at index \(bad)")
        }
        values.replaceSubrange(p.offset ..< p.offset + p.count, with: data)
    }

    /// Runs `body` on `values` in place, advancing `version` as any change does. From another
    /// module, mutating `values` itself (a subscript, `withUnsafeMutableBufferPointer`) goes through
    /// its observer's get and set, and the get's extra reference makes the array copy every
    /// parameter first: 55–65 ms for 64 MiB of them, at each call. This runs inside SeqCore, where
    /// the compiler modifies the storage directly (2 µs).
    @_specialize(where Scalar == Float)
    public func updateValues(_ body: (UnsafeMutableBufferPointer<Scalar>) throws -> Void) rethrows {
        try values.withUnsafeMutableBufferPointer { try body($0) }
    }

    @_specialize(where Scalar == Float)
    public func zeroGradients() {
        for i in gradients.indices { gradients[i] = 0 }
    }
}
