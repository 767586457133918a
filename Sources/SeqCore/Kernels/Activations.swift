/// Nonlinearities and the small vector operations the cells are built from.
/// One definition each; cells call these and never re-derive them.
extension Kernels {
    /// σ(x) = 1 / (1 + e^(−x)). Saturates cleanly: e^(−x) → ∞ gives 0, never NaN.
    @inline(__always) @inlinable
    public static func sigmoid<S: SeqScalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }

    @inline(__always) @inlinable
    public static func relu<S: SeqScalar>(_ x: S) -> S { x > 0 ? x : 0 }

    /// Each row of `rows` × `n` matrix `y` (row stride `ldy`) += `bias`.
    @inline(__always)
    static func addRowVector<S: SeqScalar>(_ bias: UnsafePointer<S>, to y: UnsafeMutablePointer<S>,
                                           rows: Int, n: Int, ldy: Int) {
        for r in 0 ..< rows {
            let row = y + r * ldy
            for j in 0 ..< n { row[j] += bias[j] }
        }
    }

    /// `sums` += Σ_rows x (column sums of a rows × n matrix with stride ldx): the bias gradient.
    @inline(__always)
    static func accumulateColumnSums<S: SeqScalar>(_ x: UnsafePointer<S>, rows: Int, n: Int, ldx: Int,
                                                   into sums: UnsafeMutablePointer<S>) {
        for r in 0 ..< rows {
            let row = x + r * ldx
            for j in 0 ..< n { sums[j] += row[j] }
        }
    }

    /// Σ x², the squared Euclidean norm.
    @inline(__always)
    static func sumOfSquares<S: SeqScalar>(_ x: UnsafePointer<S>, count: Int) -> S {
        var s: S = 0
        for i in 0 ..< count { s += x[i] * x[i] }
        return s
    }
}
