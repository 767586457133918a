/// The one matrix multiply of seqcore:  C ← α · op(A) · op(B) + β · C (+ a row vector added to
/// every row of C, `rowBias`: the bias folded into the product's last pass over C),  all row-major.
///
/// op(A) is M × K (A itself is K × M when `transA`), op(B) is K × N (N × K when `transB`).
/// The cells need three combinations: forward `X · Wᵀ` (transB), the input gradient `dY · W`
/// (plain) and the weight gradient `dYᵀ · X` (transA).
///
/// `Float` runs the packed SIMD kernel (`GEMM+Float.swift`); any other scalar runs `gemmReference`,
/// which is also the oracle the fast kernel is tested against.
public enum Kernels {}

extension Kernels {
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func gemm<S: SeqScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: S, a: UnsafePointer<S>, lda: Int,
        b: UnsafePointer<S>, ldb: Int,
        beta: S, c: UnsafeMutablePointer<S>, ldc: Int, rowBias: UnsafePointer<S>? = nil
    ) {
        if m == 0 || n == 0 { return }
        if S.self == Float.self {
            FloatGEMM.gemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha),
                a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda,
                b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb,
                beta: Float(beta), c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc,
                rowBias: rowBias.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) })
        } else {
            gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                          a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            if let rowBias { addRowVector(rowBias, to: c, rows: m, n: n, ldy: ldc) }
        }
    }

    /// Plain triple loop: the specification of `gemm`. Accumulates each C element over k in order.
    public static func gemmReference<S: SeqScalar>(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: S, a: UnsafePointer<S>, lda: Int,
        b: UnsafePointer<S>, ldb: Int,
        beta: S, c: UnsafeMutablePointer<S>, ldc: Int
    ) {
        for i in 0 ..< m {
            for j in 0 ..< n {
                var sum: S = 0
                for p in 0 ..< k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += av * bv
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * sum + old
            }
        }
    }
}

/// The right-hand operand op(B) (K × N) prepared once and reused for many products with different
/// left operands: the recurrent weights, multiplied by the state at every one of T steps. For `Float`
/// it packs the panels of the SIMD kernel on first use by a product with enough rows, so packing is
/// paid once per sequence, not per step — and never for batch-1 streaming, whose products read the
/// weights in place. The source must stay valid and unchanged while the operand is used. Not to be
/// shared between threads (the lazy packing is not synchronised): each thread's part of a layer
/// makes its own cells, and so its own operands.
public final class PackedOperand<S: SeqScalar> {
    public let k: Int
    public let n: Int
    let source: UnsafePointer<S>
    let ldb: Int
    let transB: Bool
    private var packedStorage: FloatGEMM.Packed?

    public init(b: UnsafePointer<S>, ldb: Int, transB: Bool, k: Int, n: Int) {
        self.k = k
        self.n = n
        source = b
        self.ldb = ldb
        self.transB = transB
    }

    var packed: FloatGEMM.Packed {
        if let p = packedStorage { return p }
        let p = FloatGEMM.Packed(b: UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), ldb: ldb, transB: transB, k: k, n: n)
        packedStorage = p
        return p
    }
}

extension Kernels {
    /// C ← A · B + β · C with B prepared in a `PackedOperand` (A is M × K, not transposed).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func gemm<S: SeqScalar>(
        m: Int, a: UnsafePointer<S>, lda: Int, packed: PackedOperand<S>,
        beta: S, c: UnsafeMutablePointer<S>, ldc: Int
    ) {
        if m == 0 || packed.n == 0 { return }
        if S.self == Float.self {
            let af = UnsafeRawPointer(a).assumingMemoryBound(to: Float.self)
            let cf = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
            if m <= FloatGEMM.smallM {
                FloatGEMM.gemmSmall(transB: packed.transB, m: m, n: packed.n, k: packed.k, alpha: 1, a: af, lda: lda,
                                    b: UnsafeRawPointer(packed.source).assumingMemoryBound(to: Float.self), ldb: packed.ldb,
                                    beta: Float(beta), c: cf, ldc: ldc)
            } else {
                FloatGEMM.gemmPacked(m: m, a: af, lda: lda, transA: false, packed: packed.packed, alpha: 1, beta: Float(beta), c: cf, ldc: ldc)
            }
        } else {
            gemmReference(transA: false, transB: packed.transB, m: m, n: packed.n, k: packed.k, alpha: 1,
                          a: a, lda: lda, b: packed.source, ldb: packed.ldb, beta: beta, c: c, ldc: ldc)
        }
    }
}
