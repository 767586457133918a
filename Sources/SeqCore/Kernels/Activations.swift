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

    /// y[j] += a[j] · b[j] for `count` values (Float: 16 at a time; the same arithmetic either way).
    @inline(__always)
    static func addProduct<S: SeqScalar>(_ a: UnsafePointer<S>, _ b: UnsafePointer<S>, into y: UnsafeMutablePointer<S>,
                                         count: Int) {
        var j = 0
        if S.self == Float.self {
            let af = a.float, bf = b.float, yf = y.float
            while j + 16 <= count {
                VectorMath.store(VectorMath.load(yf + j) + VectorMath.load(af + j) * VectorMath.load(bf + j), yf + j)
                j += 16
            }
        }
        while j < count { y[j] += a[j] * b[j]; j += 1 }
    }

    /// `sums` += Σ_rows x (column sums of a rows × n matrix with stride ldx): the bias gradient.
    /// The rows' sum is formed first (`columnSums`), then added, as a gradient is accumulated.
    static func accumulateColumnSums<S: SeqScalar>(_ x: UnsafePointer<S>, rows: Int, n: Int, ldx: Int,
                                                   into sums: UnsafeMutablePointer<S>) {
        let total = Buffer<S>(uninitialized: n)
        columnSums(x, rows: rows, n: n, ldx: ldx, into: total.pointer)
        addColumnSums(UnsafePointer(total.pointer), n: n, into: sums)
    }

    /// `sums` += `total` (n values): a bias gradient from column sums computed once for two biases.
    static func addColumnSums<S: SeqScalar>(_ total: UnsafePointer<S>, n: Int, into sums: UnsafeMutablePointer<S>) {
        for j in 0 ..< n { sums[j] += total[j] }
    }

    /// out[j] ← Σ_r x[r, j], each column summed over the rows in order (whatever the thread count).
    /// Float: 64 columns at a time in registers, so each element is read once and nothing is stored
    /// per row; the columns split over the threads when there are many rows (the bias gradients
    /// over all T·B rows ran on one thread while the other waited).
    public static func columnSums<S: SeqScalar>(_ x: UnsafePointer<S>, rows: Int, n: Int, ldx: Int,
                                                into out: UnsafeMutablePointer<S>) {
        guard S.self == Float.self else {
            for j in 0 ..< n { out[j] = 0 }
            for r in 0 ..< rows {
                let row = x + r * ldx
                for j in 0 ..< n { out[j] += row[j] }
            }
            return
        }
        let xf = x.float, of = out.float
        if rows * n >= 1 << 16 && n >= 32 && Parallelism.threadCount > 1 {
            let half = (n / 2 + 15) / 16 * 16
            WorkerPool.shared.run { part in
                floatColumnSums(xf, rows: rows, columns: part == 0 ? 0 ..< half : half ..< n, ldx: ldx, into: of)
            }
        } else {
            floatColumnSums(xf, rows: rows, columns: 0 ..< n, ldx: ldx, into: of)
        }
    }

    private static func floatColumnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Range<Int>, ldx: Int,
                                        into out: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        let raw = UnsafeRawPointer(x), stride = ldx * 4
        var j = columns.lowerBound
        while j + 64 <= columns.upperBound {
            var s0 = V(), s1 = V(), s2 = V(), s3 = V()
            var p = raw + j * 4
            for _ in 0 ..< rows {
                s0 += p.loadUnaligned(as: V.self)
                s1 += p.loadUnaligned(fromByteOffset: 64, as: V.self)
                s2 += p.loadUnaligned(fromByteOffset: 128, as: V.self)
                s3 += p.loadUnaligned(fromByteOffset: 192, as: V.self)
                p += stride
            }
            VectorMath.store(s0, out + j); VectorMath.store(s1, out + j + 16)
            VectorMath.store(s2, out + j + 32); VectorMath.store(s3, out + j + 48)
            j += 64
        }
        while j + 16 <= columns.upperBound {
            var s = V(), p = raw + j * 4
            for _ in 0 ..< rows {
                s += p.loadUnaligned(as: V.self)
                p += stride
            }
            VectorMath.store(s, out + j)
            j += 16
        }
        while j < columns.upperBound {
            var s: Float = 0
            for r in 0 ..< rows { s += x[r * ldx + j] }
            out[j] = s
            j += 1
        }
    }

    /// Σ x², the squared Euclidean norm. Float: 64 partial sums (four SIMD16 accumulators, then
    /// their lanes in a fixed order), since one running sum waits an addition's latency per
    /// element: 0.1 ms per step of a large layer's backward on the caller, the worker idle.
    @inline(__always)
    static func sumOfSquares<S: SeqScalar>(_ x: UnsafePointer<S>, count: Int) -> S {
        var s: S = 0, i = 0
        if S.self == Float.self {
            typealias V = VectorMath.V
            let p = x.float
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            while i + 64 <= count {
                let v0 = VectorMath.load(p + i), v1 = VectorMath.load(p + i + 16)
                let v2 = VectorMath.load(p + i + 32), v3 = VectorMath.load(p + i + 48)
                a0 += v0 * v0; a1 += v1 * v1; a2 += v2 * v2; a3 += v3 * v3
                i += 64
            }
            while i + 16 <= count {
                let v = VectorMath.load(p + i)
                a0 += v * v
                i += 16
            }
            s = S(((a0 + a1) + (a2 + a3)).sum())
        }
        while i < count { s += x[i] * x[i]; i += 1 }
        return s
    }
}
