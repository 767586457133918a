#if canImport(Glibc)
import Glibc
#endif

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

    /// An operand whose panels come from a layer's cache of packed weights (inference), packed
    /// there at most once per version of the parameters.
    convenience init(b: UnsafePointer<S>, ldb: Int, transB: Bool, k: Int, n: Int, cache: WeightCache?) {
        self.init(b: b, ldb: ldb, transB: transB, k: k, n: n)
        if let cache, S.self == Float.self {
            packedStorage = cache.store.packed(b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb,
                                               transB: transB, k: k, n: n, version: cache.version)
        }
    }

    /// The panels if they exist already (from the cache, or packed by an earlier product).
    var prepacked: FloatGEMM.Packed? { packedStorage }

    /// Packs now (Float), so that every later product uses the panels, batch-1 ones included: for
    /// an operand reused over many calls, as a layer's cache of weights is.
    public func prepack() {
        if S.self == Float.self { _ = packed }
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
        beta: S, c: UnsafeMutablePointer<S>, ldc: Int, rowBias: UnsafePointer<S>? = nil
    ) {
        if m == 0 || packed.n == 0 { return }
        if S.self == Float.self {
            let af = UnsafeRawPointer(a).assumingMemoryBound(to: Float.self)
            let cf = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
            let bias = rowBias.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }
            if m <= FloatGEMM.smallM, let panels = packed.prepacked {
                // Batch-1 steps with cached panels: one sequential stream through the weights.
                FloatGEMM.gemvPacked(m: m, a: af, lda: lda, packed: panels, beta: Float(beta), c: cf, ldc: ldc, rowBias: bias)
            } else if m <= FloatGEMM.smallM {
                FloatGEMM.gemmSmall(transB: packed.transB, m: m, n: packed.n, k: packed.k, alpha: 1, a: af, lda: lda,
                                    b: UnsafeRawPointer(packed.source).assumingMemoryBound(to: Float.self), ldb: packed.ldb,
                                    beta: Float(beta), c: cf, ldc: ldc)
                if let bias { addRowVector(bias, to: cf, rows: m, n: packed.n, ldy: ldc) }
            } else {
                FloatGEMM.gemmPacked(m: m, a: af, lda: lda, transA: false, packed: packed.packed, alpha: 1, beta: Float(beta),
                                     c: cf, ldc: ldc, rowBias: bias)
            }
        } else {
            gemmReference(transA: false, transB: packed.transB, m: m, n: packed.n, k: packed.k, alpha: 1,
                          a: a, lda: lda, b: packed.source, ldb: packed.ldb, beta: beta, c: c, ldc: ldc)
            if let rowBias { addRowVector(rowBias, to: c, rows: m, n: packed.n, ldy: ldc) }
        }
    }
}

extension Kernels {
    /// C ← A · B + β · C (+ bias) in the columns of units `units` of each of `gates` blocks of
    /// `hidden` columns, from the operand's packed panels, on the calling thread: one thread's part
    /// of a step split by units (`StepPlan`). Float only; `hidden` and the units' bounds must be
    /// multiples of `FloatGEMM.nr` (whole slivers), M at most `FloatGEMM.smallM`, and the panels
    /// packed (`prepack`, or a layer's cache).
    static func gemvUnits<S: SeqScalar>(m: Int, a: UnsafePointer<S>, lda: Int, packed: PackedOperand<S>, beta: S,
                                        c: UnsafeMutablePointer<S>, ldc: Int, rowBias: UnsafePointer<S>?, units: Range<Int>,
                                        hidden: Int, gates: Int) {
        let nr = FloatGEMM.nr
        guard S.self == Float.self, let panels = packed.prepacked, m <= FloatGEMM.smallM,
              hidden % nr == 0, units.lowerBound % nr == 0, units.upperBound % nr == 0 else {
            preconditionFailure("Kernels.gemvUnits: Float, packed panels, M ≤ \(FloatGEMM.smallM) and whole slivers only")
        }
        FloatGEMM.gemvPacked(m: m, a: a.float, lda: lda, packed: panels, beta: Float(beta), c: c.float, ldc: ldc,
                             rowBias: rowBias?.float,
                             slivers: .init(first: units.lowerBound / nr, perGroup: units.count / nr, groups: gates, groupStride: hidden / nr))
    }
}

/// A layer's packed weight panels, kept from one inference call to the next: packing the input and
/// recurrent weights cost 3% of a large LSTM's inference and a whole extra pass over the weights
/// of every batch-1 step (which then read them in place, as four row streams: 1.5× slower from
/// L3 than one panel stream). Entries are dropped as soon as the parameters' version changes, so a
/// training step, `setValue` or a loaded checkpoint is seen at the next call. Thread-safe:
/// concurrent inference calls on one layer share the panels (read-only once built).
final class PackCache: @unchecked Sendable {
    private struct Key: Hashable {
        let address: Int, ldb: Int, k: Int, n: Int, transB: Bool
    }
    private var mutex = pthread_mutex_t()
    private var version = Int.min
    private var entries: [Key: FloatGEMM.Packed] = [:]

    init() { pthread_mutex_init(&mutex, nil) }

    /// The panels of op(B) for the parameters at `version` (packed now if they are not cached).
    func packed(b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int, version: Int) -> FloatGEMM.Packed {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if version != self.version {
            entries.removeAll()
            self.version = version
        }
        let key = Key(address: Int(bitPattern: b), ldb: ldb, k: k, n: n, transB: transB)
        if let p = entries[key] { return p }
        let p = FloatGEMM.Packed(b: b, ldb: ldb, transB: transB, k: k, n: n)
        entries[key] = p
        return p
    }

    /// Bytes held by the cached panels.
    var bytes: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return entries.values.reduce(0) { $0 + $1.k * $1.nPadded * 4 }
    }
}

/// A layer's cache with the parameters' version a call runs at (see `PackCache`).
struct WeightCache {
    let store: PackCache
    let version: Int
}
