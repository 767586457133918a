#if canImport(Glibc)
import Glibc
#endif

/// A recurrent cell as the time-loop runner (`RecurrentLayer+Run.swift`) sees it: one step over a
/// batch, forward and backward. The runner owns time, masking, directions and the input projection;
/// a cell owns only its gate equations and its recurrent weights.
///
/// Legend: B rows (batch), H hidden units, Hout = P when an LSTM has a projection, else H;
/// G·H = `gateWidth`, the columns of the input projection x<t>·W_ihᵀ.
///
/// Buffers of one step:
/// - `xp`   [B, G·H]  the input projection x<t>·W_ihᵀ + b_ih (+ b_hh when `foldsRecurrentBias`);
///                    cells may overwrite it (it becomes the gate pre-activation).
/// - `hPrev`[B, Hout], `cPrev` [B, H]  the state entering the step.
/// - `tape` [B, tapeWidth]  what backward needs of this step, written by forward.
/// - backward gets `dh` = ∂L/∂h<t> [B, Hout] and `dc` = ∂L/∂c<t> [B, H] (both total: from the
///   output and from step t+1) and writes ∂L/∂(pre-activations) and ∂L/∂h<t-1>, ∂L/∂c<t-1>.
///   Parameter gradients are accumulated (`+=`), never overwritten.
protocol RecurrentCell {
    associatedtype Scalar: SeqScalar
    var hiddenSize: Int { get }
    var outputSize: Int { get }
    var gateWidth: Int { get }
    var tapeWidth: Int { get }
    var hasCellState: Bool { get }
    /// b_hh enters only additively, so the runner adds it to the input projection once for all steps.
    var foldsRecurrentBias: Bool { get }
    /// 0 when the gradient w.r.t. the recurrent pre-activation is the one w.r.t. the input
    /// projection; else the width of its last columns that differ (only PyTorch's GRU, where r
    /// multiplies W_hn h + b_hn: H columns, ∂L/∂(W_hn h + b_hn) = r ⊙ dn′). Only those are kept
    /// for every step, in a [T·B, width] buffer (`dGH`); the others are dGX's.
    var separateRecurrentGradientWidth: Int { get }
    /// `accumulateWeightGradients` reads ∂L/∂h<t> of every step (an LSTM with a projection, for
    /// dW_hr); the runner keeps them, [T·B, Hout], only then.
    var keepsOutputGradients: Bool { get }

    func forward(rows: Int, xp: UnsafeMutablePointer<Scalar>, hPrev: UnsafePointer<Scalar>,
                 cPrev: UnsafePointer<Scalar>?, tape: UnsafeMutablePointer<Scalar>,
                 hNew: UnsafeMutablePointer<Scalar>, cNew: UnsafeMutablePointer<Scalar>?)

    /// Whether a step's units can run in parts, each on its own thread (`forward(…units:)`): Float,
    /// and unit j's gates read only column j of each gate block and write only unit j — not an LSTM
    /// with a projection (a<t> mixes all units), nor the classic GRU (its candidate's product needs
    /// all of r ⊙ h<t-1> first).
    var splitsUnits: Bool { get }

    /// Inference `forward` of the units in `units` only (bounds multiples of `FloatGEMM.nr`; the
    /// recurrent weights' panels cached): their columns of the recurrent product, then their gates,
    /// with the same arithmetic per unit as `forward`. `xp` holds those units' columns of the input
    /// projection; no tape is written.
    func forward(rows: Int, xp: UnsafeMutablePointer<Scalar>, hPrev: UnsafePointer<Scalar>, cPrev: UnsafePointer<Scalar>?,
                 hNew: UnsafeMutablePointer<Scalar>, cNew: UnsafeMutablePointer<Scalar>?, units: Range<Int>)

    /// Writes dGX [B, G·H] = ∂L/∂xp, dGH = ∂L/∂(recurrent pre-activation) (dGX itself unless
    /// `separateRecurrentGradientWidth` > 0: then its differing columns, [B, width]), dhPrev,
    /// dcPrev; accumulates per-step parameter gradients (peepholes). Weight-matrix gradients are
    /// left to `accumulateWeightGradients`.
    func backward(rows: Int, tape: UnsafePointer<Scalar>, hPrev: UnsafePointer<Scalar>,
                  cPrev: UnsafePointer<Scalar>?, dh: UnsafePointer<Scalar>, dc: UnsafePointer<Scalar>?,
                  dGX: UnsafeMutablePointer<Scalar>, dGH: UnsafeMutablePointer<Scalar>,
                  dhPrev: UnsafeMutablePointer<Scalar>, dcPrev: UnsafeMutablePointer<Scalar>?)

    /// After the time loop: the recurrent weight gradients over all n = T·B rows at once, one GEMM
    /// instead of T small ones. `dh` holds ∂L/∂h<t> of every step (zero rows at padding) when
    /// `keepsOutputGradients`, else nil. `dGHSums`: Σ_rows dGH when the caller already has it (dGH
    /// is dGX, whose sums db_ih needs too), so db_hh adds it instead of summing the rows again.
    func accumulateWeightGradients(count n: Int, dGX: UnsafePointer<Scalar>, dGH: UnsafePointer<Scalar>,
                                   dGHSums: UnsafePointer<Scalar>?, hPrev: UnsafePointer<Scalar>,
                                   dh: UnsafePointer<Scalar>?, tape: UnsafePointer<Scalar>)
}

/// Pointers to one direction's parameters (or to their gradients) inside the arena.
/// Shapes: wih [G·H, In], whh [G·H, Hout], bih/bhh [G·H], whr [P, H], peephole [3, H] (rows i, f, o).
struct CellParameters<S: SeqScalar> {
    var wih: UnsafeMutablePointer<S>
    var whh: UnsafeMutablePointer<S>
    var bih: UnsafeMutablePointer<S>?
    var bhh: UnsafeMutablePointer<S>?
    var whr: UnsafeMutablePointer<S>?
    var peephole: UnsafeMutablePointer<S>?
    /// Inference: where the forward operands' packed panels are kept between calls.
    var cache: WeightCache? = nil
}

/// dW_hh += dGHᵀ · H_prev and db_hh += Σ_rows dGH: the recurrent-weight gradient shared by every
/// cell whose recurrent product is W_hh · h<t-1> (all but the classic GRU's candidate).
@inline(__always)
func accumulateRecurrentGradient<S: SeqScalar>(
    count n: Int, gateWidth gw: Int, outputSize hout: Int,
    dGH: UnsafePointer<S>, dGHSums: UnsafePointer<S>?, hPrev: UnsafePointer<S>, grads: CellParameters<S>
) {
    Kernels.gemm(transA: true, transB: false, m: gw, n: hout, k: n, alpha: 1, a: dGH, lda: gw,
                 b: hPrev, ldb: hout, beta: 1, c: grads.whh, ldc: hout)
    addBiasGradient(count: n, width: gw, dG: dGH, sums: dGHSums, into: grads.bhh)
}

/// db += Σ_rows dG (n rows of `width`): from `sums` when the caller has them.
@inline(__always)
func addBiasGradient<S: SeqScalar>(count n: Int, width: Int, dG: UnsafePointer<S>, sums: UnsafePointer<S>?,
                                   into db: UnsafeMutablePointer<S>?) {
    guard let db else { return }
    if let sums {
        Kernels.addColumnSums(sums, n: width, into: db)
    } else {
        Kernels.accumulateColumnSums(dG, rows: n, n: width, ldx: width, into: db)
    }
}

/// Zero-initialised memory for one forward/backward call, returned to `BufferPool` with its owner.
final class Buffer<S: SeqScalar> {
    let pointer: UnsafeMutablePointer<S>
    /// 0 for borrowed memory, which is not returned to the pool.
    private let bytes: Int

    convenience init(_ count: Int) {
        self.init(uninitialized: count)
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// For buffers the next operation overwrites whole (a product with β = 0): no zero-fill pass,
    /// which for the input projection of a large batch is megabytes.
    init(uninitialized count: Int) {
        let n = max(count, 1)
        bytes = n * MemoryLayout<S>.stride
        pointer = BufferPool.shared.take(bytes).bindMemory(to: S.self, capacity: n)
        #if DEBUG
        // Debug builds (the tests) fill it with NaN, so an element read before it is written shows
        // up in every result it reaches instead of reading a harmless zero.
        pointer.initialize(repeating: .nan, count: n)
        #endif
    }

    /// Memory the caller owns and keeps alive while the buffer is used (an array's storage inside
    /// its withUnsafe… closure).
    init(borrowing pointer: UnsafeMutablePointer<S>) {
        self.pointer = pointer
        bytes = 0
    }

    deinit { if bytes > 0 { BufferPool.shared.give(UnsafeMutableRawPointer(pointer), bytes) } }
}

/// Keeps freed buffers for reuse by size class (powers of two). Large fresh allocations come from
/// mmap and fault in page by page at every call — measured at 15–20% of a small training step —
/// so the same few sizes, needed again at every batch, are kept instead. Bounded: at most 8 buffers
/// per class and 256 MiB in all; beyond that memory goes back to the system. Thread-safe.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()
    // A plain pthread mutex over plain fields: a generic Mutex over a tuple made the runtime look
    // up tuple metadata at every take and give (measured: 2-3% of a step). Free lists indexed by
    // the class's power of two, not a dictionary: hashing showed up in every batch-1 step.
    private var mutex = pthread_mutex_t()
    private var free: [[UnsafeMutableRawPointer]] = Array(repeating: [], count: Int.bitWidth)
    private var kept = 0
    private let maxKept = 256 << 20
    private let perClass = 8

    private init() { pthread_mutex_init(&mutex, nil) }

    /// The size class of `bytes`: the next power of two, at least 64 bytes, as its exponent.
    private func sizeClass(_ bytes: Int) -> Int { max(6, Int.bitWidth - (max(bytes, 1) - 1).leadingZeroBitCount) }

    /// `hugePages`: memory read again and again in full (a layer's packed weights), which on Linux
    /// is asked to sit on 2 MiB pages from 2 MiB on: a batch-1 step streams 24–32 MiB of weights at
    /// H = 1024, one TLB miss per 4 KiB page otherwise (GRU and LSTM steps 2–3% faster). Not for
    /// every buffer: a huge page is resident whole once touched, so a buffer used in part would
    /// take more memory.
    func take(_ bytes: Int, hugePages: Bool = false) -> UnsafeMutableRawPointer {
        let c = sizeClass(bytes)
        pthread_mutex_lock(&mutex)
        let reused = free[c].popLast()
        if reused != nil { kept -= 1 << c }
        pthread_mutex_unlock(&mutex)
        let p = reused ?? allocate(1 << c)
        #if os(Linux)
        if hugePages && c >= Self.hugePageShift { _ = madvise(p, 1 << c, MADV_HUGEPAGE) }
        #endif
        return p
    }

    private static let hugePageShift = 21

    /// Aligned to 2 MiB from 2 MiB on, so such a buffer can sit on huge pages.
    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= 1 << Self.hugePageShift {
            var p: UnsafeMutableRawPointer?
            if posix_memalign(&p, 1 << Self.hugePageShift, bytes) == 0, let p { return p }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    func give(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
        let c = sizeClass(bytes)
        pthread_mutex_lock(&mutex)
        let keep = kept + (1 << c) <= maxKept && free[c].count < perClass
        if keep {
            free[c].append(p)
            kept += 1 << c
        }
        pthread_mutex_unlock(&mutex)
        if !keep { p.deallocate() }  // the runtime releases with free(), posix_memalign's memory too
    }
}

extension Buffer {
    convenience init(copying source: UnsafePointer<S>, count: Int) {
        self.init(count)
        pointer.update(from: source, count: count)
    }
    convenience init(_ array: [S]) {
        self.init(uninitialized: array.count)
        if array.isEmpty { pointer.initialize(to: 0) }
        array.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: array.count) } }
    }
    func array(_ count: Int) -> [S] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
