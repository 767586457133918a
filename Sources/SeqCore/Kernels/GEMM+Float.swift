import CSeqSupport

/// The fast single-precision GEMM: BLIS-style packing of B with a register-blocked SIMD16 micro-kernel.
///
/// Loop nest (outer to inner): K in blocks of KC (B panel stays in L2/L3), M in blocks of MC, N in
/// NR-column slivers (one B sliver, KC × NR, in L1/L2 while the block's rows use it), then the
/// MR × NR micro-kernel whose accumulators never leave registers. A is read in place (its MR rows,
/// or MR adjacent columns when transposed, broadcast one k at a time); only a partial sliver at the
/// end of the rows is packed.
/// Every C element is summed over k in the same order whatever the thread count, so results are
/// deterministic.
///
/// The tile is sized to the register file the build targets (Package.swift defines SEQCORE_AVX512
/// when it does): 32 zmm registers hold an 8 × 32 tile (16 accumulators, enough independent FMA
/// chains to cover two FMA pipes of 4-cycle latency, and 10 loads per 16 FMAs); AVX2's 16 ymm
/// registers hold a 4 × 16 tile (8 accumulators, each SIMD16 being two ymm). A 6 × 16 tile, the
/// usual choice for 16 registers, needs 15 of them, and the compiler spilled an accumulator to the
/// stack: 78–84 GFLOP/s on a Zen 3 (peak about 200), against 161–178 for 5 × 16 and 168–190 for
/// 4 × 16 on the medium and large products.
@usableFromInline
enum FloatGEMM {
    #if SEQCORE_AVX512
    static let mr = 8
    static let nr = 32
    #else
    static let mr = 4
    static let nr = 16
    #endif
    /// C is loaded and stored once per K block. 512, not 256: for the input projections (K = 512:
    /// 52 MB of C at the large shape) one block instead of two was 4% faster, the large recurrent
    /// step (K = 1024) 3.5%, and no measured product slower. With AVX-512, 1024 rather than 512:
    /// the large recurrent step 1.03× as fast again (its sliver, 64 KiB at 512 rows, was already
    /// past L1 and read from L2); the large layers took 0.98–0.99× the time in inference and
    /// 0.985–1.0× in training, batch-1 steps 0.99–1.0× (each in its own process, alternating with
    /// the 512 build).
    /// AVX2's 16-wide sliver of 512 rows is 32 KiB, which L1 holds; it stays at 512 (not measured
    /// on an AVX2-only machine).
    #if SEQCORE_AVX512
    static let kcMax = 1024
    #else
    static let kcMax = 512
    #endif
    /// Rows of A per block (a whole number of MR slivers, so only a block at the end of the rows can
    /// end in a partial sliver).
    static let mcMax = 128 / mr * mr
    /// With AVX-512, a call whose share of a K block of B is at least this big (1 MiB) fetches each
    /// next sliver ahead in software (`NextSliver`); smaller shares stay in L2 from call to call.
    static let prefetchedShareBytes = 1 << 20

    /// op(B) (K × N) packed as KC-row blocks; inside a block, NR-wide slivers of KC rows, zero-padded
    /// past N so the micro-kernel never branches on the edge.
    @usableFromInline
    final class Packed {
        let k: Int
        let n: Int
        let nPadded: Int
        let data: UnsafeMutablePointer<Float>

        init(b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int) {
            self.k = k
            self.n = n
            nPadded = (n + FloatGEMM.nr - 1) / FloatGEMM.nr * FloatGEMM.nr
            let total = max(1, k * nPadded)
            data = BufferPool.shared.take(total * 4, hugePages: true).bindMemory(to: Float.self, capacity: total)
            let nr = FloatGEMM.nr, slivers = nPadded / nr, data = data
            // One sliver (all K blocks of NR columns) at a time; big operands (the recurrent and
            // input weights of a large layer, packed once per call) are split over both threads.
            func pack(_ js: Int) {
                let j0 = js * nr, cols = min(nr, n - j0)
                var p0 = 0
                while p0 < k {
                    let kc = min(FloatGEMM.kcMax, k - p0)
                    let sliver = data + p0 * nPadded + js * kc * nr
                    if cols < nr { sliver.update(repeating: 0, count: kc * nr) }  // the padding past N
                    if transB {
                        // B's rows are contiguous along k. 16 k at a time: the sliver's 16 rows
                        // (2 KiB) are written whole while in L1, each of B's rows read a line at a time.
                        var k0 = 0
                        while k0 < kc {
                            let k1 = min(k0 + 16, kc)
                            for j in 0 ..< cols {
                                let src = b + (j0 + j) * ldb + p0
                                for kk in k0 ..< k1 { sliver[kk * nr + j] = src[kk] }
                            }
                            k0 = k1
                        }
                    } else {
                        for kk in 0 ..< kc { (sliver + kk * nr).update(from: b + (p0 + kk) * ldb + j0, count: cols) }
                    }
                    p0 += kc
                }
            }
            if k * nPadded >= 1 << 18 && slivers >= 2 {
                let half = slivers / 2
                WorkerPool.shared.run { part in
                    for js in (part == 0 ? 0 ..< half : half ..< slivers) { pack(js) }
                }
            } else {
                for js in 0 ..< slivers { pack(js) }
            }
        }

        deinit { BufferPool.shared.give(UnsafeMutableRawPointer(data), max(1, k * nPadded) * 4) }
    }

    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>? = nil
    ) {
        if m <= smallM && !transA {
            gemmSmall(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            if let rowBias { Kernels.addRowVector(rowBias, to: c, rows: m, n: n, ldy: ldc) }
            return
        }
        if k <= streamedBlockRows || k * n < streamedPackingFloats {
            let packed = Packed(b: b, ldb: ldb, transB: transB, k: k, n: n)
            gemmPacked(m: m, a: a, lda: lda, transA: transA, packed: packed, alpha: alpha, beta: beta, c: c, ldc: ldc,
                       rowBias: rowBias)
            return
        }
        // A big B used once is packed one K block at a time, just before the block's products: the
        // same sums in the same order as packing it whole, but only one block's copy (≤ 512 rows)
        // exists at a time. The weight gradients' B is every step's h<t-1> (13 MB for a large
        // layer): its copy was 14% of a large RNN's training memory, 6–7% of a GRU's or LSTM's.
        var p0 = 0
        repeat {
            let kc = min(streamedBlockRows, k - p0)
            let block = Packed(b: transB ? b + p0 : b + p0 * ldb, ldb: ldb, transB: transB, k: kc, n: n)
            gemmPacked(m: m, a: transA ? a + p0 * lda : a + p0, lda: lda, transA: transA, packed: block, alpha: alpha,
                       beta: p0 == 0 ? beta : 1, c: c, ldc: ldc, rowBias: p0 == 0 ? rowBias : nil)
            p0 += kc
        } while p0 < k
    }

    /// op(B) of at least this many elements (4 MiB) is packed block by block when used once; below
    /// it, whole (a hand-off and a buffer per block cost the medium RNN's training 4%).
    static let streamedPackingFloats = 1 << 20
    /// Rows of B per block when it is packed block by block: 512 also where `kcMax` is 1024. With
    /// 1024-row copies (4 MiB for a large layer's h<t-1>) the buffer pool reached its cap during a
    /// large LSTM's training and let a 16 MiB buffer go at every call: fresh pages, 1.03× the time.
    static let streamedBlockRows = 512

    static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if beta == 1 { return }
        for i in 0 ..< m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else {
                for j in 0 ..< n { row[j] *= beta }
            }
        }
    }

    /// Products with at least this many multiply–adds are split over two threads.
    static let parallelThreshold = 1 << 20

    static func gemmPacked(
        m: Int, a: UnsafePointer<Float>, lda: Int, transA: Bool, packed: Packed,
        alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>? = nil
    ) {
        let n = packed.n, k = packed.k
        // β = 0 needs no pass over C: the first K block stores instead of adding.
        if beta != 0 || k == 0 { scale(m: m, n: n, beta: beta, c: c, ldc: ldc) }
        if m == 0 || n == 0 { return }
        if k == 0 {
            if let rowBias { Kernels.addRowVector(rowBias, to: c, rows: m, n: n, ldy: ldc) }
            return
        }
        // The bias rides on the first K block's store, padded to whole slivers so the tile adds it
        // without a branch. A copy only when N is not a whole number of slivers: the per-step
        // projections of a small layer made one (an allocation and a zero-fill) at every step.
        var biasBuffer: UnsafeMutablePointer<Float>? = nil
        if let rowBias, n < packed.nPadded {
            let b = UnsafeMutablePointer<Float>.allocate(capacity: packed.nPadded)
            b.initialize(repeating: 0, count: packed.nPadded)
            b.update(from: rowBias, count: n)
            biasBuffer = b
        }
        defer { biasBuffer?.deallocate() }
        let bias = biasBuffer.map { UnsafePointer($0) } ?? rowBias
        let overwrite = beta == 0
        let slivers = packed.nPadded / nr
        let packWholeA = packsWholeA(transA: transA, m: m, slivers: slivers)
        if m * n * k < parallelThreshold || Parallelism.threadCount < 2 {
            block(rows: 0 ..< m, slivers: 0 ..< slivers, a: a, lda: lda, transA: transA, packed: packed, alpha: alpha,
                  overwrite: overwrite, bias: bias, c: c, ldc: ldc, packWholeA: packWholeA)
            return
        }
        // Split by output columns when there are enough of them (the recurrent step: few rows, many
        // gate columns), else by rows in whole MR slivers (the input projection: many rows). An A
        // packed whole is split by rows too, so each thread packs only its own half of it.
        WorkerPool.shared.run { part in
            if slivers >= 2 && !packWholeA {
                let half = slivers / 2
                block(rows: 0 ..< m, slivers: part == 0 ? 0 ..< half : half ..< slivers, a: a, lda: lda, transA: transA,
                      packed: packed, alpha: alpha, overwrite: overwrite, bias: bias, c: c, ldc: ldc, packWholeA: false)
            } else {
                let half = min(m, (m / 2 + mr - 1) / mr * mr)
                block(rows: part == 0 ? 0 ..< half : half ..< m, slivers: 0 ..< slivers, a: a, lda: lda, transA: transA,
                      packed: packed, alpha: alpha, overwrite: overwrite, bias: bias, c: c, ldc: ldc, packWholeA: packWholeA)
            }
        }
    }

    /// C[rows, columns of `slivers`] += α · op(A)[rows, :] · B[:, columns of `slivers`]
    /// (`overwrite`: C ← instead of +=), plus `bias` (padded to whole slivers) on every row.
    static func block(rows: Range<Int>, slivers: Range<Int>, a: UnsafePointer<Float>, lda: Int, transA: Bool,
                      packed: Packed, alpha: Float, overwrite: Bool, bias: UnsafePointer<Float>?,
                      c: UnsafeMutablePointer<Float>, ldc: Int, packWholeA: Bool) {
        let k = packed.k
        if rows.isEmpty || slivers.isEmpty { return }
        if packWholeA {
            // The weight gradients (dGᵀ · X over all T·B rows) read in place find each k of a tile
            // in another row of A, on a new page at every k when the rows are long (16 KiB at the
            // large shape): those tiles ran 20% below the plain ones. Packed once per block, the
            // copy is reused by every sliver of B.
            let bytes = mcMax * min(k, kcMax) * 4
            let buffer = BufferPool.shared.take(bytes).bindMemory(to: Float.self, capacity: bytes / 4)
            defer { BufferPool.shared.give(UnsafeMutableRawPointer(buffer), bytes) }
            blockPacked(rows: rows, slivers: slivers, a: a, lda: lda, transA: transA, packed: packed, alpha: alpha,
                        overwrite: overwrite, bias: bias, c: c, ldc: ldc, aPack: buffer, packAll: true)
            return
        }
        // Otherwise A is read in place but for a last partial sliver, which gets its own small
        // buffer; none when the rows are whole slivers (every step of a batch split in halves of 8k
        // rows). Not the shared pool (a lock per product: 6% of a small step) nor a temporary
        // allocation (above 1 KiB Swift asks glibc for the stack's extent, which on the main thread
        // reads /proc/self/maps).
        let edge = rows.count % mr == 0 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: mr * min(k, kcMax))
        defer { edge?.deallocate() }
        blockPacked(rows: rows, slivers: slivers, a: a, lda: lda, transA: transA, packed: packed, alpha: alpha,
                    overwrite: overwrite, bias: bias, c: c, ldc: ldc, aPack: edge)
    }

    /// Whether a product with a transposed A packs A whole (and is split over the threads by rows,
    /// so each thread packs only its half): the weight gradients of the medium and large shapes.
    /// Below 8 slivers of B the copy is reused too little (AVX2, 256 × 32 × 3200: 128 GFLOP/s in
    /// place, 113 packed). From 8 on, AVX2 gains from 128 rows (256 × 256 × 3200: 135 → 161; the
    /// medium layers' training 5–14% faster); with AVX-512 (8-row slivers) the medium RNN's, at 256
    /// rows, were 3% slower packed, the large LSTM's training 4% faster.
    static func packsWholeA(transA: Bool, m: Int, slivers: Int) -> Bool {
        #if SEQCORE_AVX512
        return transA && slivers >= 8 && m >= 512
        #else
        return transA && slivers >= 8 && m >= 128
        #endif
    }

    /// `block` with a buffer for A's last partial sliver (nil when there is none), or for the whole
    /// of A's block (`packAll`).
    @inline(__always)
    static func blockPacked(rows: Range<Int>, slivers: Range<Int>, a: UnsafePointer<Float>, lda: Int, transA: Bool,
                            packed: Packed, alpha: Float, overwrite: Bool, bias: UnsafePointer<Float>?,
                            c: UnsafeMutablePointer<Float>, ldc: Int, aPack: UnsafeMutablePointer<Float>?,
                            packAll: Bool = false) {
        #if SEQCORE_AVX512
        if min(packed.k, kcMax) * slivers.count * nr * 4 >= prefetchedShareBytes {
            blockPacked(rows: rows, slivers: slivers, a: a, lda: lda, transA: transA, packed: packed, alpha: alpha,
                        overwrite: overwrite, bias: bias, c: c, ldc: ldc, aPack: aPack, packAll: packAll,
                        prefetching: NextSliver.self)
            return
        }
        #endif
        blockPacked(rows: rows, slivers: slivers, a: a, lda: lda, transA: transA, packed: packed, alpha: alpha,
                    overwrite: overwrite, bias: bias, c: c, ldc: ldc, aPack: aPack, packAll: packAll,
                    prefetching: NoPrefetch.self)
    }

    @inline(__always)
    static func blockPacked<P: SliverPrefetch>(rows: Range<Int>, slivers: Range<Int>, a: UnsafePointer<Float>, lda: Int,
                                               transA: Bool, packed: Packed, alpha: Float, overwrite: Bool,
                                               bias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int,
                                               aPack: UnsafeMutablePointer<Float>?, packAll: Bool, prefetching _: P.Type) {
        let n = packed.n, k = packed.k
        var p0 = 0
        while p0 < k {
            let kc = min(kcMax, k - p0)
            let bBlock = packed.data + p0 * packed.nPadded
            var i0 = rows.lowerBound
            while i0 < rows.upperBound {
                let mc = min(mcMax, rows.upperBound - i0)
                // A in place: the tile broadcasts from MR row pointers (or, transposed, from MR
                // adjacent values of each of A's rows) as cheaply as from a packed sliver, and packing
                // cost a store per element: a third of a 32-row backward step, and of the weight
                // gradients' products over all T·B rows. Only a last partial sliver, whose missing
                // rows must read as zero, is packed.
                let full = packAll ? 0 : mc / mr * mr
                if full < mc {
                    packA(a: a, lda: lda, transA: transA, i0: i0 + full, mc: mc - full, p0: p0, kc: kc, into: aPack!)
                }
                for js in slivers {
                    let bSliver = UnsafePointer(bBlock + js * kc * nr)
                    let j0 = js * nr
                    let cols = min(nr, n - j0)
                    let first = overwrite && p0 == 0, b0 = p0 == 0 ? bias.map { $0 + j0 } : nil
                    var ir = 0
                    // The next sliver of the panel, right after this one (fetched ahead by the
                    // tiles when P is NextSliver).
                    let next = UnsafeRawPointer(bSliver + kc * nr)
                    while ir < full {
                        let cTile = c + (i0 + ir) * ldc + j0
                        if transA {
                            microKernel(kc: kc, a: ColumnsA(p: a + p0 * lda + i0 + ir, lda: lda), b: bSliver,
                                        c: cTile, ldc: ldc, alpha: alpha, overwrite: first, bias: b0, rows: mr, cols: cols,
                                        prefetch: P(next, tile: ir / mr, kc: kc))
                        } else {
                            microKernel(kc: kc, a: RowsA(p: a + (i0 + ir) * lda + p0, lda: lda), b: bSliver,
                                        c: cTile, ldc: ldc, alpha: alpha, overwrite: first, bias: b0, rows: mr, cols: cols,
                                        prefetch: P(next, tile: ir / mr, kc: kc))
                        }
                        ir += mr
                    }
                    while ir < mc {
                        microKernel(kc: kc, a: PackedA(p: UnsafePointer(aPack! + (ir - full) * kc)), b: bSliver,
                                    c: c + (i0 + ir) * ldc + j0, ldc: ldc, alpha: alpha, overwrite: first,
                                    bias: b0, rows: min(mr, mc - ir), cols: cols,
                                    prefetch: P(next, tile: ir / mr, kc: kc))
                        ir += mr
                    }
                }
                i0 += mc
            }
            p0 += kc
        }
    }

    /// Where the micro-kernel reads A[r, k] of its tile: a packed sliver, or MR rows in place.
    protocol ATile {
        func at(_ r: Int) -> Float
        /// On to the next k.
        mutating func next()
    }

    struct PackedA: ATile {
        var p: UnsafePointer<Float>
        @inline(__always) func at(_ r: Int) -> Float { p[r] }
        @inline(__always) mutating func next() { p += FloatGEMM.mr }
    }

    struct RowsA: ATile {
        var p: UnsafePointer<Float>
        let lda: Int
        @inline(__always) func at(_ r: Int) -> Float { p[r * lda] }
        @inline(__always) mutating func next() { p += 1 }
    }

    /// op(A) = Aᵀ: the tile's MR values for one k are adjacent in A's row k.
    struct ColumnsA: ATile {
        var p: UnsafePointer<Float>
        let lda: Int
        @inline(__always) func at(_ r: Int) -> Float { p[r] }
        @inline(__always) mutating func next() { p += lda }
    }

    /// What the micro-kernel fetches ahead while it computes: nothing, or a part of the next B sliver.
    protocol SliverPrefetch {
        init(_ next: UnsafeRawPointer, tile: Int, kc: Int)
        /// One hint, every four k.
        mutating func next()
    }

    struct NoPrefetch: SliverPrefetch {
        init() {}
        @inline(__always) init(_ next: UnsafeRawPointer, tile: Int, kc: Int) {}
        @inline(__always) mutating func next() {}
    }

    /// The tiles of a sliver fetch the next one into L2 an eighth each (tile t the eighth t mod 8),
    /// a line every four k: 64 bytes per 4 k is KC·NR·4 / 8 bytes over KC steps with NR = 32.
    /// Without it, on a 2-core Xeon with AVX-512 (L2 2 MiB per core, a large, shared L3), each
    /// sliver's first tile waited for the sliver to come from L3: 64 KiB in the time of one tile,
    /// faster than one core's share of the L3's bandwidth there. Measured in one process, alternating
    /// with and without call by call: products of the large layers 0.93–0.98× the time (64×4096×1024
    /// from cached panels 0.95×, the input projection 3200×4096×512 0.97×, a weight gradient
    /// 4096×1024×3200 0.97–0.98×) in the machine's slow phases and 0.91–0.95× in its quiet ones;
    /// whole large layers 0.93–0.99× (slow phases 0.98–1.02×). Shares below 1 MiB (the medium step,
    /// 32×1024×256 on two threads) were 1% slower with it, and are left to the hardware.
    struct NextSliver: SliverPrefetch {
        var p: UnsafeRawPointer
        @inline(__always) init(_ next: UnsafeRawPointer, tile: Int, kc: Int) {
            p = next + tile % 8 * kc * nr * 4 / 8
        }
        @inline(__always) mutating func next() {
            seq_prefetch_l2(p)
            p += 64
        }
    }

    /// Up to this many rows, products skip packing and read B in place (batch-1 streaming: the
    /// weights are read once per step anyway, so copying them first would double the traffic).
    static let smallM = 3

    /// Batch-1 products are split over the threads from this many multiply–adds: below it the two
    /// hand-offs of a step cost more than half the product (RNN step at H = 256, 64 Ki: 5.5 µs on one
    /// thread, 9.2 µs on two; GRU at H = 256, 192 Ki: 20 µs on one, 11 µs on two). The same holds
    /// for products from cached panels (`gemvPacked`): a threshold twice as high kept the GRU step
    /// at H = 256 on one thread (16.5 µs against 9.7), four times as high the LSTM's (23.5 against
    /// 13.3), and a quarter of it made no step faster.
    static let smallParallelThreshold = 1 << 17

    /// C ← α·A·op(B) + β·C for M ≤ `smallM`: dot products against B's rows when B is stored N × K
    /// (transB), row updates c += a_p·B[p, :] otherwise. Split over two threads by columns.
    static func gemmSmall(transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        func columns(_ j0: Int, _ j1: Int) {
            for i in 0 ..< m {
                let ai = a + i * lda, ci = c + i * ldc
                if transB {
                    var j = j0
                    while j + 4 <= j1 {
                        let d = dot4(ai, b + j * ldb, ldb, k)
                        for q in 0 ..< 4 { ci[j + q] = alpha * d[q] + (beta == 0 ? 0 : beta * ci[j + q]) }
                        j += 4
                    }
                    while j < j1 {
                        let d = dot4(ai, b + j * ldb, 0, k)
                        ci[j] = alpha * d[0] + (beta == 0 ? 0 : beta * ci[j])
                        j += 1
                    }
                } else {
                    for j in j0 ..< j1 { ci[j] = beta == 0 ? 0 : beta * ci[j] }
                    for p in 0 ..< k { axpy(alpha * ai[p], b + p * ldb + j0, ci + j0, j1 - j0) }
                }
            }
        }
        if m * n * k >= smallParallelThreshold && n >= 64 && Parallelism.threadCount > 1 {
            let half = (n / 2 + 15) / 16 * 16
            WorkerPool.shared.run { part in part == 0 ? columns(0, half) : columns(half, n) }
        } else {
            columns(0, n)
        }
    }

    /// C ← A·B + β·C (+ rowBias) for M ≤ `smallM` with B already packed (a layer's cached panels):
    /// each row streams the panels once. Split over two threads by slivers from
    /// `smallParallelThreshold` multiply–adds, as `gemmSmall`. Each C element is summed over k in
    /// one accumulator, K block after K block, in order, whatever the split.
    ///
    /// A thread's slivers are read as four runs of consecutive slivers side by side. Within a K
    /// block consecutive slivers are adjacent in memory, so each run is one sequential stream of
    /// up to megabytes, which the hardware prefetchers follow without help. The earlier kernel read
    /// adjacent pairs (two streams restarting every 64 KiB) and prefetched 4 KiB ahead in software
    /// over panels of 12 MiB or more. Alternating the two builds process by process (10–12 pairs
    /// of 10 × 100 steps, median of the paired ratios), the runs take 0.85× the time of a GRU step
    /// at H = 1024 (24 MiB of weights), 0.78× of an LSTM's (32 MiB), 0.98× of an RNN's, 0.96–0.99×
    /// at H = 256, and at H = 64 1.00× (LSTM) and 1.04× (GRU, 0.2 µs); software prefetching on top
    /// of the runs made them no faster (1.01× and 1.08× the time without it, 2 KiB ahead; 4 KiB
    /// was slower still).
    static func gemvPacked(m: Int, a: UnsafePointer<Float>, lda: Int, packed: Packed, beta: Float,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>?) {
        let slivers = packed.nPadded / nr
        func part(_ range: Range<Int>) {
            gemvPacked(m: m, a: a, lda: lda, packed: packed, beta: beta, c: c, ldc: ldc, rowBias: rowBias,
                       slivers: SliverSet(range))
        }
        if m * packed.n * packed.k >= smallParallelThreshold && slivers >= 2 && Parallelism.threadCount > 1 {
            let half = slivers / 2
            WorkerPool.shared.run { $0 == 0 ? part(0 ..< half) : part(half ..< slivers) }
        } else {
            part(0 ..< slivers)
        }
    }

    /// Some of a panel's slivers: `groups` runs of `perGroup` consecutive slivers, run g starting at
    /// sliver first + g·groupStride — the columns of some units in every gate block of a layer's
    /// weights (`Kernels.gemvUnits`), or one range.
    struct SliverSet {
        let first: Int, perGroup: Int, groups: Int, groupStride: Int
        init(_ range: Range<Int>) {
            first = range.lowerBound
            perGroup = range.count
            groups = 1
            groupStride = 0
        }
        init(first: Int, perGroup: Int, groups: Int, groupStride: Int) {
            self.first = first
            self.perGroup = perGroup
            self.groups = groups
            self.groupStride = groupStride
        }
        var count: Int { perGroup * groups }
        /// The panel's index of the set's i-th sliver.
        @inline(__always) func sliver(_ i: Int) -> Int { first + (i / perGroup) * groupStride + i % perGroup }
    }

    /// The slivers `set` of C ← A · B + β · C (+ bias) on the calling thread: what one thread's part
    /// of `gemvPacked` runs.
    static func gemvPacked(m: Int, a: UnsafePointer<Float>, lda: Int, packed: Packed, beta: Float,
                           c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>?, slivers set: SliverSet) {
        let n = packed.n, k = packed.k
        /// C's columns of sliver `js` from its sums over one K block: the first block sets them
        /// (β·C + bias + sums), later ones add to them. Sixteen columns at a time, then one at a
        /// time, with the same operations in the same order either way: one at a time throughout,
        /// the stores were a third of a product with K = 64 (an LSTM step at H = 64).
        func store(_ ci: UnsafeMutablePointer<Float>, _ js: Int, _ sums: UnsafePointer<Float>, first: Bool) {
            typealias V = SIMD16<Float>
            let j0 = js * nr, cols = min(nr, n - j0), cj = ci + j0, bias = rowBias.map { $0 + j0 }
            var j = 0
            if !first {
                while j + 16 <= cols {
                    VectorMath.store(VectorMath.load(cj + j) + VectorMath.load(sums + j), cj + j)
                    j += 16
                }
                while j < cols { cj[j] += sums[j]; j += 1 }
                return
            }
            while j + 16 <= cols {
                var v = beta == 0 ? V() : beta * VectorMath.load(cj + j)
                if let bias { v += VectorMath.load(bias + j) }
                VectorMath.store(v + VectorMath.load(sums + j), cj + j)
                j += 16
            }
            while j < cols {
                let old: Float = beta == 0 ? 0 : beta * cj[j]
                cj[j] = (bias.map { old + $0[j] } ?? old) + sums[j]
                j += 1
            }
        }
        guard set.count > 0 else { return }
        // Run r holds the set's slivers r·length ..< (r + 1)·length (the last one may be shorter
        // or empty).
        let count = set.count, length = (count + 3) / 4
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * nr) { sums in
            let acc = sums.baseAddress!
            for i in 0 ..< m {
                let ai = a + i * lda, ci = c + i * ldc
                var p0 = 0
                while p0 < k {
                    let kc = min(kcMax, k - p0), bBlock = UnsafePointer(packed.data + p0 * packed.nPadded)
                    for step in 0 ..< length {
                        // A run that has ended reads the first run's sliver again (kept once).
                        func sliver(_ r: Int) -> UnsafePointer<Float> {
                            bBlock + set.sliver((r * length + step < count ? r * length : 0) + step) * kc * nr
                        }
                        gemvRuns(kc: kc, a: ai + p0, sliver(0), sliver(1), sliver(2), sliver(3), into: acc)
                        for r in 0 ..< 4 where r * length + step < count {
                            store(ci, set.sliver(r * length + step), acc + r * nr, first: p0 == 0)
                        }
                    }
                    p0 += kc
                }
            }
        }
    }

    /// acc[r·NR ..< (r + 1)·NR] ← a[0 ..< kc] · sliver r, for the four slivers b0 … b3 read side by
    /// side. Each column's sum runs over k in order in one accumulator (four slivers keep eight
    /// independent FMA chains in flight), so what a column gets never depends on which slivers
    /// share its call.
    @inline(__always)
    static func gemvRuns(kc: Int, a: UnsafePointer<Float>, _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
                         _ b2: UnsafePointer<Float>, _ b3: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        var s0 = UnsafeRawPointer(b0), s1 = UnsafeRawPointer(b1), s2 = UnsafeRawPointer(b2), s3 = UnsafeRawPointer(b3)
        let out = UnsafeMutableRawPointer(acc), row = nr * 4  // bytes per k in a sliver
        var x = a
        let end = a + kc
        #if SEQCORE_AVX512
        var c0 = V(), d0 = V(), c1 = V(), d1 = V(), c2 = V(), d2 = V(), c3 = V(), d3 = V()
        while x < end {
            let xv = V(repeating: x.pointee)
            c0 = VectorMath.fma(xv, s0.loadUnaligned(as: V.self), c0)
            d0 = VectorMath.fma(xv, s0.loadUnaligned(fromByteOffset: 64, as: V.self), d0)
            c1 = VectorMath.fma(xv, s1.loadUnaligned(as: V.self), c1)
            d1 = VectorMath.fma(xv, s1.loadUnaligned(fromByteOffset: 64, as: V.self), d1)
            c2 = VectorMath.fma(xv, s2.loadUnaligned(as: V.self), c2)
            d2 = VectorMath.fma(xv, s2.loadUnaligned(fromByteOffset: 64, as: V.self), d2)
            c3 = VectorMath.fma(xv, s3.loadUnaligned(as: V.self), c3)
            d3 = VectorMath.fma(xv, s3.loadUnaligned(fromByteOffset: 64, as: V.self), d3)
            s0 += row; s1 += row; s2 += row; s3 += row; x += 1
        }
        out.storeBytes(of: c0, toByteOffset: 0, as: V.self)
        out.storeBytes(of: d0, toByteOffset: 64, as: V.self)
        out.storeBytes(of: c1, toByteOffset: row, as: V.self)
        out.storeBytes(of: d1, toByteOffset: row + 64, as: V.self)
        out.storeBytes(of: c2, toByteOffset: 2 * row, as: V.self)
        out.storeBytes(of: d2, toByteOffset: 2 * row + 64, as: V.self)
        out.storeBytes(of: c3, toByteOffset: 3 * row, as: V.self)
        out.storeBytes(of: d3, toByteOffset: 3 * row + 64, as: V.self)
        #else
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        while x < end {
            let xv = V(repeating: x.pointee)
            c0 = VectorMath.fma(xv, s0.loadUnaligned(as: V.self), c0)
            c1 = VectorMath.fma(xv, s1.loadUnaligned(as: V.self), c1)
            c2 = VectorMath.fma(xv, s2.loadUnaligned(as: V.self), c2)
            c3 = VectorMath.fma(xv, s3.loadUnaligned(as: V.self), c3)
            s0 += row; s1 += row; s2 += row; s3 += row; x += 1
        }
        out.storeBytes(of: c0, toByteOffset: 0, as: V.self)
        out.storeBytes(of: c1, toByteOffset: row, as: V.self)
        out.storeBytes(of: c2, toByteOffset: 2 * row, as: V.self)
        out.storeBytes(of: c3, toByteOffset: 3 * row, as: V.self)
        #endif
    }

    /// Four dot products x · B[r] for rows r = 0…3 at stride ldb (ldb 0: the same row four times).
    @inline(__always)
    static func dot4(_ x: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, _ k: Int) -> SIMD4<Float> {
        typealias V = SIMD16<Float>
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        let rx = UnsafeRawPointer(x)
        let r0 = UnsafeRawPointer(b), r1 = UnsafeRawPointer(b + ldb), r2 = UnsafeRawPointer(b + 2 * ldb), r3 = UnsafeRawPointer(b + 3 * ldb)
        var p = 0
        while p + 16 <= k {
            let xv = rx.loadUnaligned(fromByteOffset: p * 4, as: V.self)
            s0 = s0.addingProduct(xv, r0.loadUnaligned(fromByteOffset: p * 4, as: V.self))
            s1 = s1.addingProduct(xv, r1.loadUnaligned(fromByteOffset: p * 4, as: V.self))
            s2 = s2.addingProduct(xv, r2.loadUnaligned(fromByteOffset: p * 4, as: V.self))
            s3 = s3.addingProduct(xv, r3.loadUnaligned(fromByteOffset: p * 4, as: V.self))
            p += 16
        }
        var d = SIMD4<Float>(s0.sum(), s1.sum(), s2.sum(), s3.sum())
        while p < k {
            let xv = x[p]
            d[0] += xv * b[p]; d[1] += xv * b[ldb + p]; d[2] += xv * b[2 * ldb + p]; d[3] += xv * b[3 * ldb + p]
            p += 1
        }
        return d
    }

    /// y[0..<n] += s · x[0..<n]
    @inline(__always)
    static func axpy(_ s: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        typealias V = SIMD16<Float>
        let sv = V(repeating: s), rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        var j = 0
        while j + 16 <= n {
            let v = ry.loadUnaligned(fromByteOffset: j * 4, as: V.self).addingProduct(sv, rx.loadUnaligned(fromByteOffset: j * 4, as: V.self))
            ry.storeBytes(of: v, toByteOffset: j * 4, as: V.self)
            j += 16
        }
        while j < n { y[j] += s * x[j]; j += 1 }
    }

    /// Packs rows i0 ..< i0+mc, columns p0 ..< p0+kc of op(A) as MR-row slivers: sliver s holds
    /// element (s·MR + r, kk) at s·MR·kc + kk·MR + r; rows past mc are zero. Used for a block's last
    /// partial sliver (whole slivers are read in place).
    @inline(__always)
    static func packA(a: UnsafePointer<Float>, lda: Int, transA: Bool, i0: Int, mc: Int, p0: Int, kc: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        var s = 0
        while s < mc {
            let rows = min(mr, mc - s)
            let out = dst + s * kc
            if rows < mr { out.update(repeating: 0, count: kc * mr) }
            if transA && rows == mr {
                // MR adjacent values of each of A's rows: one vector copy per k (not MR passes over
                // A's rows, one value each: with rows 2^n floats apart those lines fall into few L1
                // sets and were fetched MR times).
                let src = UnsafeRawPointer(a + p0 * lda + i0 + s), dst = UnsafeMutableRawPointer(out)
                func copy<V: SIMD>(_: V.Type) where V.Scalar == Float {
                    for kk in 0 ..< kc {
                        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: kk * lda * 4, as: V.self),
                                       toByteOffset: kk * mr * 4, as: V.self)
                    }
                }
                if mr == 8 { copy(SIMD8<Float>.self) } else { copy(SIMD4<Float>.self) }
                s += mr
                continue
            }
            for r in 0 ..< rows {
                let i = i0 + s + r
                if transA {
                    for kk in 0 ..< kc { out[kk * mr + r] = a[(p0 + kk) * lda + i] }
                } else {
                    let src = a + i * lda + p0
                    for kk in 0 ..< kc { out[kk * mr + r] = src[kk] }
                }
            }
            s += mr
        }
    }

    /// C[rows × cols] += α · (A sliver · B sliver): the MR × NR register tile.
    @inline(__always)
    static func microKernel<A: ATile>(kc: Int, a: A, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, overwrite: Bool,
                            bias: UnsafePointer<Float>?, rows: Int, cols: Int, prefetch: some SliverPrefetch = NoPrefetch()) {
        typealias V = SIMD16<Float>
        #if SEQCORE_AVX512
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var pa = a, pb = UnsafeRawPointer(b)
        @inline(__always) func step() {
            let b0 = pb.loadUnaligned(as: V.self)
            let b1 = pb.loadUnaligned(fromByteOffset: 64, as: V.self)
            var ak = V(repeating: pa.at(0))
            c00 = c00.addingProduct(ak, b0); c01 = c01.addingProduct(ak, b1)
            ak = V(repeating: pa.at(1))
            c10 = c10.addingProduct(ak, b0); c11 = c11.addingProduct(ak, b1)
            ak = V(repeating: pa.at(2))
            c20 = c20.addingProduct(ak, b0); c21 = c21.addingProduct(ak, b1)
            ak = V(repeating: pa.at(3))
            c30 = c30.addingProduct(ak, b0); c31 = c31.addingProduct(ak, b1)
            ak = V(repeating: pa.at(4))
            c40 = c40.addingProduct(ak, b0); c41 = c41.addingProduct(ak, b1)
            ak = V(repeating: pa.at(5))
            c50 = c50.addingProduct(ak, b0); c51 = c51.addingProduct(ak, b1)
            ak = V(repeating: pa.at(6))
            c60 = c60.addingProduct(ak, b0); c61 = c61.addingProduct(ak, b1)
            ak = V(repeating: pa.at(7))
            c70 = c70.addingProduct(ak, b0); c71 = c71.addingProduct(ak, b1)
            pa.next()
            pb += 128
        }
        var pf = prefetch, left = kc
        if pf is NoPrefetch {
            // The plain loop, as before there was a prefetch (the compiler unrolls it itself).
            for _ in 0 ..< kc { step() }
            left = 0
        }
        while left >= 4 {
            pf.next()
            step(); step(); step(); step()
            left -= 4
        }
        while left > 0 {
            step()
            left -= 1
        }
        if rows == mr && cols == nr && alpha == 1 {
            // A full tile, the common case: straight from the registers (the stack tile below cost
            // 32 more memory operations per tile, a tenth of a tile's time at K = 64). The same
            // sums as `store`: (C or 0, + bias) + tile.
            let raw = UnsafeMutableRawPointer(c), stride = ldc * 4
            let b0 = bias.map { UnsafeRawPointer($0).loadUnaligned(as: V.self) }
            let b1 = bias.map { UnsafeRawPointer($0).loadUnaligned(fromByteOffset: 64, as: V.self) }
            @inline(__always) func put(_ r: Int, _ v0: V, _ v1: V) {
                let o = r * stride
                var base0 = overwrite ? V() : raw.loadUnaligned(fromByteOffset: o, as: V.self)
                var base1 = overwrite ? V() : raw.loadUnaligned(fromByteOffset: o + 64, as: V.self)
                if let b0, let b1 { base0 += b0; base1 += b1 }
                raw.storeBytes(of: base0 + v0, toByteOffset: o, as: V.self)
                raw.storeBytes(of: base1 + v1, toByteOffset: o + 64, as: V.self)
            }
            put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31)
            put(4, c40, c41); put(5, c50, c51); put(6, c60, c61); put(7, c70, c71)
            return
        }
        // The accumulators go to a stack tile once, then into C row by row (full tiles) or the valid
        // part only (edge tiles).
        withUnsafeTemporaryAllocation(of: V.self, capacity: 16) { t in
            t[0] = c00; t[1] = c01; t[2] = c10; t[3] = c11; t[4] = c20; t[5] = c21; t[6] = c30; t[7] = c31
            t[8] = c40; t[9] = c41; t[10] = c50; t[11] = c51; t[12] = c60; t[13] = c61; t[14] = c70; t[15] = c71
            store(UnsafeRawPointer(t.baseAddress!), c: c, ldc: ldc, alpha: alpha, overwrite: overwrite, bias: bias, rows: rows, cols: cols)
        }
        #else
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        var pa = a, pb = UnsafeRawPointer(b)
        for _ in 0 ..< kc {
            let b0 = pb.loadUnaligned(as: V.self)
            c0 = c0.addingProduct(V(repeating: pa.at(0)), b0)
            c1 = c1.addingProduct(V(repeating: pa.at(1)), b0)
            c2 = c2.addingProduct(V(repeating: pa.at(2)), b0)
            c3 = c3.addingProduct(V(repeating: pa.at(3)), b0)
            pa.next()
            pb += 64
        }
        withUnsafeTemporaryAllocation(of: V.self, capacity: 4) { t in
            t[0] = c0; t[1] = c1; t[2] = c2; t[3] = c3
            store(UnsafeRawPointer(t.baseAddress!), c: c, ldc: ldc, alpha: alpha, overwrite: overwrite, bias: bias, rows: rows, cols: cols)
        }
        #endif
    }

    /// C[rows × cols] += α · tile (or ← with `overwrite`) + bias, the MR × NR tile stored row after row.
    @inline(__always)
    static func store(_ tile: UnsafeRawPointer, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, overwrite: Bool,
                      bias: UnsafePointer<Float>?, rows: Int, cols: Int) {
        let t = tile.assumingMemoryBound(to: Float.self)
        if rows == mr && cols == nr {
            if let bias {
                for r in 0 ..< mr { addRow(c + r * ldc, t + r * nr, alpha, overwrite, bias) }
            } else {
                for r in 0 ..< mr { addRow(c + r * ldc, t + r * nr, alpha, overwrite) }
            }
            return
        }
        // Edge tile: the valid part only.
        for r in 0 ..< rows {
            let row = c + r * ldc, tr = t + r * nr
            for j in 0 ..< cols {
                let old: Float = overwrite ? 0 : row[j]
                row[j] = (bias.map { old + $0[j] } ?? old) + alpha * tr[j]
            }
        }
    }

    /// c[0 ..< NR] += α · t[0 ..< NR] (or ← with `overwrite`), plus bias[0 ..< NR] when given.
    @inline(__always)
    static func addRow(_ c: UnsafeMutablePointer<Float>, _ t: UnsafePointer<Float>, _ alpha: Float, _ overwrite: Bool,
                       _ bias: UnsafePointer<Float>? = nil) {
        let raw = UnsafeMutableRawPointer(c), src = UnsafeRawPointer(t), av = SIMD16<Float>(repeating: alpha)
        var off = 0
        while off < nr * 4 {
            var o = overwrite ? SIMD16<Float>() : raw.loadUnaligned(fromByteOffset: off, as: SIMD16<Float>.self)
            if let bias { o += UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: off, as: SIMD16<Float>.self) }
            raw.storeBytes(of: o.addingProduct(av, src.loadUnaligned(fromByteOffset: off, as: SIMD16<Float>.self)),
                           toByteOffset: off, as: SIMD16<Float>.self)
            off += 64
        }
    }
}
