/// A dense row-major array with a shape: the currency of seqcore's Swift API.
///
/// Deliberately minimal — seqcore is not a tensor library. Shapes are stated per function in the
/// legend B (batch), T (time steps), I (input features), H (hidden units), L (layers),
/// D (directions), V (vocabulary).
public struct Tensor<Scalar: SeqScalar>: Equatable {
    public var shape: [Int]
    public var data: [Scalar]

    /// Wraps `data` (row-major) with `shape`; throws when the element counts differ.
    public init(shape: [Int], data: [Scalar], name: String = "data") throws {
        let n = try Check.product(shape, "\(name).shape")
        try Check.count(data.count, n, name, shape: "shape \(shape)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of zeros. A negative or overflowing shape gives an empty tensor (which every
    /// function taking tensors then rejects by its shape) rather than a trap.
    public init(zeros shape: [Int]) {
        self.shape = shape
        let n = (try? Check.product(shape, "shape")) ?? 0
        self.data = [Scalar](repeating: 0, count: n)
    }

    /// Internal unchecked initialiser for shapes already validated.
    @usableFromInline
    init(unchecked shape: [Int], data: [Scalar]) {
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }

    /// Converts between float types (e.g. Double results to Float).
    public func converted<Other: SeqScalar>(to: Other.Type = Other.self) -> Tensor<Other> {
        Tensor<Other>(unchecked: shape, data: data.map { Other($0) })
    }
}
