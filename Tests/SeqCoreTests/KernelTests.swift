import Foundation
import XCTest
import SeqCore

/// The packed SIMD GEMM against the scalar reference on odd sizes and every transpose combination.
final class KernelTests: XCTestCase {
    static let sizes = [1, 3, 17, 31, 64, 100, 257]

    func testFastGEMMMatchesReference() {
        var checked = 0
        for m in Self.sizes {
            for n in Self.sizes {
                // K past FloatGEMM.kcMax (1024 with AVX-512, 512 without) runs several K blocks.
                for k in [1, 3, 31, 257, 300, 530, 1030] where m * n * k <= 4_000_000 {
                    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                        for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (1, -2)] {
                            checkGEMM(ta, tb, m, n, k, alpha, beta)
                            checked += 1
                        }
                        // The bias folded into the store, with C overwritten and accumulated.
                        checkGEMM(ta, tb, m, n, k, 1, 0, rowBias: true)
                        checkGEMM(ta, tb, m, n, k, 0.5, 1, rowBias: true)
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 500)
    }

    /// Weight-gradient shapes (Aᵀ · B with 512+ rows and 8+ slivers of B), where the transposed A is
    /// packed whole and the product split by rows: several M and K blocks, a partial last sliver of
    /// rows, against the reference and bit-identical for 1 and 2 threads.
    func testTransposedProductsThatPackAMatchReference() {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        for (m, n, k) in [(525, 260, 1030), (512, 256, 64), (1030, 300, 17)] {
            for tb in [false, true] {
                for (alpha, beta) in [(Float(1), Float(1)), (0.5, 0)] {
                    var results: [[Float]] = []
                    for threads in [1, 2] {
                        Parallelism.threadCount = threads
                        let before = results.count
                        checkGEMM(true, tb, m, n, k, alpha, beta) { results.append($0) }
                        XCTAssertEqual(results.count, before + 1)
                    }
                    XCTAssertTrue(results[0].map(\.bitPattern) == results[1].map(\.bitPattern),
                                  "m=\(m) n=\(n) k=\(k) tb=\(tb): 1 and 2 threads differ")
                }
            }
        }
    }

    /// Column sums (the bias gradients over all T·B rows): each column summed over the rows in
    /// order, so bit-identical to the plain loop and to itself on 1 and 2 threads, and within
    /// Float rounding of a Double sum; a row stride past N; N off the 64- and 16-column blocks.
    func testColumnSumsMatchTheRowOrderSum() {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        var checked = 0
        for rows in [1, 3, 100, 3200] {
            for n in [1, 17, 64, 100, 257] {
                let ldx = n + 3
                let x = (0 ..< rows * ldx).map { Float(($0 * 7919) % 1001) / 250 - 2 }
                var plain = [Float](repeating: 0, count: n), exact = [Double](repeating: 0, count: n)
                for r in 0 ..< rows {
                    for j in 0 ..< n {
                        plain[j] += x[r * ldx + j]
                        exact[j] += Double(x[r * ldx + j])
                    }
                }
                var scale = [Double](repeating: 0, count: n)  // Σ|x|: the bound's scale per column
                for r in 0 ..< rows { for j in 0 ..< n { scale[j] += abs(Double(x[r * ldx + j])) } }
                for threads in [1, 2] {
                    Parallelism.threadCount = threads
                    var out = [Float](repeating: .nan, count: n)
                    x.withUnsafeBufferPointer { xb in
                        out.withUnsafeMutableBufferPointer { Kernels.columnSums(xb.baseAddress!, rows: rows, n: n, ldx: ldx, into: $0.baseAddress!) }
                    }
                    XCTAssertTrue(out.map(\.bitPattern) == plain.map(\.bitPattern),
                                  "rows=\(rows) n=\(n) threads=\(threads): not the row-order sum")
                    for j in 0 ..< n {
                        XCTAssertEqual(Double(out[j]), exact[j], accuracy: 1e-6 + Double(rows) * 6e-8 * scale[j],
                                       "rows=\(rows) n=\(n) column \(j)")
                    }
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 40)
    }

    /// A B of 1 Mi elements or more, used once, is packed one K block at a time: every transpose,
    /// β = 0 and 1 (the first block overwrites or scales C, the next ones add), the bias on the
    /// first block only, and a K that ends in a partial block.
    func testLargeOperandsPackedBlockByBlockMatchReference() {
        for (m, n, k) in [(20, 2000, 600), (9, 1100, 1030)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                checkGEMM(ta, tb, m, n, k, 1, 0, rowBias: true)
                checkGEMM(ta, tb, m, n, k, 0.5, 1)
                checkGEMM(ta, tb, m, n, k, 1, 1, rowBias: true)
            }
        }
    }

    func checkGEMM(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ beta: Float, rowBias: Bool = false,
                   result: ([Float]) -> Void = { _ in }) {
        // Leading dimensions larger than the logical width, to exercise strides.
        let lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3
        let a = randomValues((ta ? k : m) * lda, seed: 1).map(Float.init)
        let b = randomValues((tb ? n : k) * ldb, seed: 2).map(Float.init)
        let c0 = randomValues(m * ldc, seed: 3).map(Float.init)
        var fast = c0
        var ref = c0.map(Double.init)
        let ad = a.map(Double.init), bd = b.map(Double.init)
        let bias = randomValues(n, seed: 6).map(Float.init)
        bias.withUnsafeBufferPointer { bp in
            Kernels.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                         beta: beta, c: &fast, ldc: ldc, rowBias: rowBias ? bp.baseAddress : nil)
        }
        Kernels.gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: Double(alpha), a: ad, lda: lda,
                              b: bd, ldb: ldb, beta: Double(beta), c: &ref, ldc: ldc)
        if rowBias { for i in 0 ..< m { for j in 0 ..< n { ref[i * ldc + j] += Double(bias[j]) } } }
        // Float accumulation over k terms of size ≤ 1: error grows like √k·ε.
        assertClose(fast, ref, rtol: 1e-4, atol: 2e-6 * Double(k), "gemm ta=\(ta) tb=\(tb) m=\(m) n=\(n) k=\(k) α=\(alpha) β=\(beta) bias=\(rowBias)")
        result(fast)
    }

    func testPackedOperandMatchesReference() {
        for m in Self.sizes {
            for (k, n) in [(1, 1), (17, 3), (64, 256), (100, 31), (257, 17), (600, 40)] {
                for tb in [false, true] {
                    let ldb = tb ? k : n
                    let a = randomValues(m * k, seed: 4).map(Float.init)
                    let b = randomValues((tb ? n : k) * ldb, seed: 5).map(Float.init)
                    let packed = b.withUnsafeBufferPointer {
                        PackedOperand(b: $0.baseAddress!, ldb: ldb, transB: tb, k: k, n: n)
                    }
                    var fast = [Float](repeating: 1, count: m * n)
                    Kernels.gemm(m: m, a: a, lda: k, packed: packed, beta: 1, c: &fast, ldc: n)
                    var ref = [Double](repeating: 1, count: m * n)
                    Kernels.gemmReference(transA: false, transB: tb, m: m, n: n, k: k, alpha: 1, a: a.map(Double.init),
                                          lda: k, b: b.map(Double.init), ldb: ldb, beta: 1, c: &ref, ldc: n)
                    assertClose(fast, ref, rtol: 1e-4, atol: 2e-6 * Double(k), "packed m=\(m) k=\(k) n=\(n) tb=\(tb)")
                }
            }
        }
    }

    /// Products of 1–3 rows with the panels already packed (a layer's cached weights at a batch-1
    /// step): the matrix–vector kernel that streams the panels, on every sliver count (one, a pair,
    /// a pair and a lone one), several K blocks, β = 0 / 1 / −0.5, with and without a row bias,
    /// split over two threads or not — against the reference, and bit-identical for 1 and 2 threads.
    func testPrepackedSmallProductsMatchReference() {
        var checked = 0
        for m in 1 ... 3 {
            for (k, n) in [(1, 1), (5, 17), (64, 32), (100, 70), (257, 100), (600, 40), (600, 300), (1030, 129)] {
                for tb in [false, true] {
                    for (beta, withBias) in [(Float(0), false), (0, true), (1, false), (-0.5, true)] {
                        checkPrepackedSmallProduct(m: m, k: k, n: n, transB: tb, beta: beta, withBias: withBias)
                        checked += 1
                    }
                }
            }
        }
        XCTAssertEqual(checked, 3 * 8 * 2 * 4)
    }

    /// Panels as large as a GRU's at H = 1024 (193 slivers: parts of 96 and 97, each read as four runs
    /// of 24–25 slivers, the last run shorter), over two K blocks (three without AVX-512): every
    /// column of every run against the reference, bit-identical on 1 and 2 threads.
    func testLargePanelsMatchReference() {
        let (k, n) = (1030, 3073)
        for m in [1, 3] {
            checkPrepackedSmallProduct(m: m, k: k, n: n, transB: true, beta: 1, withBias: true)
            checkPrepackedSmallProduct(m: m, k: k, n: n, transB: false, beta: 0, withBias: false)
        }
    }

    /// Products whose share of a K block of B is 1 MiB or more, where the AVX-512 build's tiles fetch
    /// the next sliver ahead (`FloatGEMM.NextSliver`): from cached panels (the recurrent step; 35
    /// slivers, 17 and 18 per thread, a partial last sliver, K blocks of 1024 and 1022, the second not a
    /// multiple of the kernel's four k per prefetch), with whole tiles only, a partial tile, and both
    /// (64, 13 and 20 rows); and a
    /// weight gradient (Aᵀ packed whole, split by rows; 17 slivers, K blocks of 1024 and 8). Against the reference,
    /// bit-identical on 1 and 2 threads. Other builds take the plain path for the same products.
    func testProductsThatFetchTheNextSliverMatchReference() {
        for m in [64, 13, 20] {
            checkPrepackedSmallProduct(m: m, k: 2046, n: 1104, transB: true, beta: 0, withBias: true)
        }
        checkPrepackedSmallProduct(m: 64, k: 2046, n: 1104, transB: false, beta: 1, withBias: false)
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        let (m, n, k) = (520, 544, 1032)
        let a = randomValues(k * m, seed: 21).map(Float.init), b = randomValues(k * n, seed: 22).map(Float.init)
        let c0 = randomValues(m * n, seed: 23).map(Float.init)
        var results: [[Float]] = []
        for threads in [1, 2] {
            Parallelism.threadCount = threads
            var c = c0
            Kernels.gemm(transA: true, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: m, b: b, ldb: n,
                         beta: 1, c: &c, ldc: n)
            results.append(c)
        }
        var ref = c0.map(Double.init)
        Kernels.gemmReference(transA: true, transB: false, m: m, n: n, k: k, alpha: 1, a: a.map(Double.init), lda: m,
                              b: b.map(Double.init), ldb: n, beta: 1, c: &ref, ldc: n)
        assertClose(results[0], ref, rtol: 1e-4, atol: 2e-6 * Double(k), "weight gradient \(m)×\(n)×\(k)")
        XCTAssertTrue(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "weight gradient: 1 and 2 threads differ")
    }

    /// One batch-1-sized product from cached panels against the reference, on 1 and 2 threads
    /// (bit-identical), with padded leading dimensions whose padding must stay untouched.
    private func checkPrepackedSmallProduct(m: Int, k: Int, n: Int, transB tb: Bool, beta: Float, withBias: Bool,
                                            file: StaticString = #filePath, line: UInt = #line) {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        let ldb = tb ? k + 1 : n + 2, lda = k + 3, ldc = n + 1
        let a = randomValues(m * lda, seed: 14).map(Float.init)
        let b = randomValues((tb ? n : k) * ldb, seed: 15).map(Float.init)
        let c0 = randomValues(m * ldc, seed: 16).map(Float.init)
        let bias = randomValues(n, seed: 17).map(Float.init)
        var results: [[Float]] = []
        for threads in [1, 2] {
            Parallelism.threadCount = threads
            let packed = b.withUnsafeBufferPointer {
                PackedOperand(b: $0.baseAddress!, ldb: ldb, transB: tb, k: k, n: n)
            }
            packed.prepack()
            var fast = c0
            bias.withUnsafeBufferPointer { bp in
                Kernels.gemm(m: m, a: a, lda: lda, packed: packed, beta: beta, c: &fast, ldc: ldc,
                             rowBias: withBias ? bp.baseAddress : nil)
            }
            results.append(fast)
        }
        var ref = c0.map(Double.init)
        Kernels.gemmReference(transA: false, transB: tb, m: m, n: n, k: k, alpha: 1, a: a.map(Double.init),
                              lda: lda, b: b.map(Double.init), ldb: ldb, beta: Double(beta), c: &ref, ldc: ldc)
        if withBias { for i in 0 ..< m { for j in 0 ..< n { ref[i * ldc + j] += Double(bias[j]) } } }
        let label = "prepacked m=\(m) k=\(k) n=\(n) tb=\(tb) β=\(beta) bias=\(withBias)"
        assertClose(results[0], ref, rtol: 1e-4, atol: 2e-6 * Double(k), label, file: file, line: line)
        XCTAssertTrue(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "\(label): 1 and 2 threads differ",
                      file: file, line: line)
        // Padding columns of C (past n in each row) are never written.
        for i in 0 ..< m { XCTAssertEqual(results[0][i * ldc + n], c0[i * ldc + n], "\(label): wrote past n", file: file, line: line) }
    }

    /// The Float engine against the Double engine on a larger layer than the fixtures, so the SIMD
    /// kernel's full tiles (not only its edges) carry a real recurrent computation.
    func testFloatEngineMatchesDoubleOnLargeShapes() throws {
        // H = 70 and 100: the step gradient norms' Float sums of squares in blocks of 64, then 16,
        // then one at a time.
        for (cell, hidden) in CellType.allCases.map({ ($0, 70) }) + [(.rnnTanh, 100)] {
            let cfg = RecurrentConfig(cell: cell, inputSize: 37, hiddenSize: hidden, numLayers: 2, direction: .bidirectional)
            let d = try RecurrentLayer<Double>(cfg, seed: 11)
            let f = try RecurrentLayer<Float>(cfg, seed: 11)
            XCTAssertEqual(f.arena.values, d.arena.values.map(Float.init))
            let x = try Tensor(shape: [9, 5, 37], data: randomValues(9 * 5 * 37, seed: 12))
            let lengths = [9, 3, 7, 1, 9]
            let od = try d.forward(x, lengths: lengths, training: true)
            let of = try f.forward(x.converted(to: Float.self), lengths: lengths, training: true)
            assertClose(of.output.data, od.output.data, rtol: 1e-4, atol: 1e-5, "\(cell) output")
            let gO = try Tensor(shape: od.output.shape, data: randomValues(od.output.count, seed: 13))
            let gd = try d.backward(od.tape!, gradOutput: gO)
            let gf = try f.backward(of.tape!, gradOutput: gO.converted(to: Float.self))
            assertClose(gf.input.data, gd.input.data, rtol: 1e-4, atol: 1e-5, "\(cell) d_input")
            assertClose(f.arena.gradients, d.arena.gradients, rtol: 1e-4, atol: 1e-4, "\(cell) parameter gradients")
            assertClose(gf.stepGradientNorms.data, gd.stepGradientNorms.data, rtol: 1e-5, atol: 1e-6, "\(cell) H=\(hidden) step gradient norms")
        }
    }

    /// Recurrent weights above 2 MiB (the size a layer keeps in the caches and splits its batch
    /// for) run each step on both threads: the products split by columns and the gates' rows
    /// (`Kernels.forEachRow`) in halves, forward and backward. For every GRU variant, the LSTM and
    /// the RNN (tanh and ReLU): output, ∂L/∂x and every parameter gradient bit-identical on 1 and 2
    /// threads, and equal to the Double engine.
    func testGateRowsSplitOverThreadsMatchOneThreadAndDouble() throws {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        // 24 rows × 8·520 per row: above forEachRow's split threshold. The RNN's weights pass
        // 2 MiB from H = 725, and its activation (4·H per row forward, 2·H backward) needs 48
        // rows of H = 768.
        let configs = GRUVariant.allCases.map { (RecurrentConfig(cell: .gru, inputSize: 8, hiddenSize: 520, gruVariant: $0), 24) }
            + [(RecurrentConfig(cell: .lstm, inputSize: 8, hiddenSize: 520), 24),
               (RecurrentConfig(cell: .rnnTanh, inputSize: 8, hiddenSize: 768), 48),
               (RecurrentConfig(cell: .rnnReLU, inputSize: 8, hiddenSize: 768), 48)]
        for (cfg, b) in configs {
            let t = 3
            let x = try Tensor(shape: [t, b, 8], data: randomValues(t * b * 8, seed: 21))
            let label = cfg.cell == .gru ? "\(cfg.cell) \(cfg.gruVariant)" : "\(cfg.cell)"
            var runs: [(output: [Float], dx: [Float], grads: [Float])] = []
            for threads in [1, 2] {
                Parallelism.threadCount = threads
                let f = try RecurrentLayer<Float>(cfg, seed: 22)
                let out = try f.forward(x.converted(to: Float.self), training: true)
                let gO = try Tensor(shape: out.output.shape, data: randomValues(out.output.count, seed: 23).map(Float.init))
                let dx = try f.backward(out.tape!, gradOutput: gO)
                runs.append((out.output.data, dx.input.data, f.arena.gradients))
            }
            XCTAssertTrue(runs[0].output.map(\.bitPattern) == runs[1].output.map(\.bitPattern), "\(label): output, 1 and 2 threads")
            XCTAssertTrue(runs[0].dx.map(\.bitPattern) == runs[1].dx.map(\.bitPattern), "\(label): ∂L/∂x, 1 and 2 threads")
            XCTAssertTrue(runs[0].grads.map(\.bitPattern) == runs[1].grads.map(\.bitPattern), "\(label): gradients, 1 and 2 threads")
            let d = try RecurrentLayer<Double>(cfg, seed: 22)
            let od = try d.forward(x, training: true)
            let gd = try d.backward(od.tape!, gradOutput: try Tensor(shape: od.output.shape, data: randomValues(od.output.count, seed: 23)))
            assertClose(runs[1].output, od.output.data, rtol: 1e-4, atol: 1e-5, "\(label) output")
            assertClose(runs[1].dx, gd.input.data, rtol: 1e-4, atol: 1e-5, "\(label) ∂L/∂x")
            assertClose(runs[1].grads, d.arena.gradients, rtol: 1e-3, atol: 1e-4, "\(label) parameter gradients")
        }
    }

    /// The SIMD activations against libm in Double, over a dense sweep and the extremes, at every
    /// tail length (count mod 16).
    func testVectorActivationsMatchScalar() {
        var xs: [Float] = stride(from: -20.0, through: 20.0, by: 0.001).map { Float($0) }
        // Around tanh's clamp (±8; σ's is ±16), where the rational approximation is least accurate
        // (|x| ≈ 6), and the extremes.
        xs += stride(from: 5.5, through: 6.5, by: 1e-5).map { Float($0) }
        xs += [0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 7.9999, 8, 8.0001, -8, 15.9999, 16, 16.0001, -16, 87, 88, 89,
               -87, -88, -89, 1e4, -1e4, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity]
        for count in [xs.count, 1, 5, 16, 17, 31] {
            let x = Array(xs.prefix(count))
            var s = x, t = x
            Kernels.sigmoid(&s, count: count)
            Kernels.tanh(&t, count: count)
            for i in 0 ..< count {
                let xd = Double(x[i])
                let sRef = 1 / (1 + Foundation.exp(-xd)), tRef = Foundation.tanh(xd)
                XCTAssertEqual(Double(s[i]), sRef, accuracy: 3e-7 * max(1, sRef), "sigmoid(\(x[i]))")
                // tanh: relative accuracy near zero (where it matters for small gradients), absolute elsewhere.
                XCTAssertEqual(Double(t[i]), tRef, accuracy: max(3e-7 * abs(tRef), 1e-38), "tanh(\(x[i])) count \(count)")
            }
        }
        var nan: [Float] = [.nan, 1, -.nan, 2]
        Kernels.tanh(&nan, count: 4)
        XCTAssertTrue(nan[0].isNaN && nan[2].isNaN && nan[1] == Float(Foundation.tanh(1.0)), "tanh keeps NaN: \(nan)")
        nan = [.nan, 1]
        Kernels.sigmoid(&nan, count: 2)
        XCTAssertTrue(nan[0].isNaN, "σ keeps NaN")
    }

    /// A binary model's probabilities keep their relative accuracy when small (the vector σ of the
    /// gates is accurate only in absolute terms): ŷ = σ(z) against the logits, for z down to −30.
    func testBinaryProbabilitiesAreRelativelyAccurate() throws {
        let config = ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: .gru, inputSize: 3, hiddenSize: 4),
                                 outputSize: 1, output: .binary)
        let model = try SequenceModel<Float>(config, seed: 1)
        let input = SequenceInput<Float>.features(try Tensor(shape: [40, 1, 3], data: randomValues(120, seed: 2).map { Float($0) }))
        let stream = try StreamingSession(model: model)
        for bias: Float in [-30, -17, -8, 0, 8] {
            try model.arena.setValue("head.bias", [bias])
            stream.reset()
            let z = try stream.feedLogits(input)
            stream.reset()
            let y = try stream.feed(input)
            for i in 0 ..< z.count {
                let ref = 1 / (1 + Foundation.exp(-Double(z.data[i])))
                XCTAssertEqual(Double(y.data[i]), ref, accuracy: 1e-6 * ref, "σ(\(z.data[i]))")
            }
        }
    }

    /// One thread or two: bit-identical outputs, final states and gradients (work is split by output
    /// elements or by batch rows, each computed start to finish by one thread in the same order).
    /// Every way the work is split is covered: the batch split over the whole time loop (W_hh cached,
    /// B ≥ 16: every cell and variant, padding, both directions, a projection, peepholes, whose
    /// backward keeps one part), a step split by columns (an LSTM of 384 units, past the cache
    /// budget), too few rows to split (B = 12), and batch-1 products (matrix–vector, split by columns,
    /// from the rows in training and from the cached panels in inference).
    func testThreadCountDoesNotChangeResults() throws {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        let cases: [(RecurrentConfig, batch: Int, steps: Int)] = [
            (RecurrentConfig(cell: .lstm, inputSize: 64, hiddenSize: 128, numLayers: 2), 16, 12),
            (RecurrentConfig(cell: .lstm, inputSize: 24, hiddenSize: 40, numLayers: 2, direction: .bidirectional), 21, 9),
            (RecurrentConfig(cell: .lstm, inputSize: 24, hiddenSize: 40, projSize: 24), 18, 7),
            (RecurrentConfig(cell: .lstm, inputSize: 24, hiddenSize: 40, peepholes: true), 18, 7),
            (RecurrentConfig(cell: .gru, inputSize: 64, hiddenSize: 128, numLayers: 1), 16, 12),
            (RecurrentConfig(cell: .gru, inputSize: 24, hiddenSize: 40, direction: .reverse, gruVariant: .classic), 19, 8),
            (RecurrentConfig(cell: .gru, inputSize: 24, hiddenSize: 40, gruVariant: .simplified), 17, 8),
            (RecurrentConfig(cell: .rnnReLU, inputSize: 24, hiddenSize: 40, direction: .bidirectional), 20, 8),
            (RecurrentConfig(cell: .rnnTanh, inputSize: 24, hiddenSize: 40), 12, 8),
            (RecurrentConfig(cell: .lstm, inputSize: 32, hiddenSize: 384, numLayers: 1), 16, 3),
            (RecurrentConfig(cell: .gru, inputSize: 256, hiddenSize: 256, numLayers: 1), 1, 3),
        ]
        for (config, batch, steps) in cases {
            // Uneven lengths (padding) whenever the batch is odd-sized.
            let lengths = batch % 2 == 1 ? (0 ..< batch).map { max(1, steps - $0 % 4) } : nil
            var runs: [([Float], [Float], [Float], [Float])] = []
            for threads in [1, 2] {
                Parallelism.threadCount = threads
                XCTAssertEqual(Parallelism.threadCount, threads)
                let layer = try RecurrentLayer<Float>(config, seed: 3)
                let x = try Tensor(shape: [steps, batch, config.inputSize],
                                   data: randomValues(steps * batch * config.inputSize, seed: 4).map(Float.init))
                let out = try layer.forward(x, lengths: lengths, training: true)
                let g = try layer.backward(out.tape!, gradOutput: out.output, gradHN: out.hN)
                // Inference too, twice: packing the weights into the layer's cache, then from it.
                let first = try layer.forward(x, lengths: lengths), cached = try layer.forward(x, lengths: lengths)
                // Batch 1 sums the products in another order when the weights are cached (the panels
                // streamed, against dot products of the rows): equal within rounding, not bitwise.
                assertClose(first.output.data, out.output.data.map(Double.init), rtol: 1e-5, atol: 1e-6, "inference vs training")
                runs.append((out.output.data + out.hN.data + (out.cN?.data ?? []) + first.output.data + first.hN.data
                                + cached.output.data + cached.hN.data + (cached.cN?.data ?? []),
                             g.input.data + g.h0.data, layer.arena.gradients, g.stepGradientNorms.data))
            }
            XCTAssertGreaterThan(runs[0].2.filter { $0 != 0 }.count, runs[0].2.count / 2, "the gradients are mostly nonzero")
            let label = "\(config.cell) \(config.direction) H=\(config.hiddenSize) P=\(config.projSize) peepholes=\(config.peepholes) B=\(batch)"
            // Bit patterns compared, and only the count of differing elements reported.
            func differing(_ a: [Float], _ b: [Float]) -> Int {
                a.count == b.count ? zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count : max(a.count, b.count)
            }
            XCTAssertEqual(differing(runs[0].0, runs[1].0), 0, "\(label): outputs and final states differ between 1 and 2 threads")
            XCTAssertEqual(differing(runs[0].1, runs[1].1), 0, "\(label): input gradients differ between 1 and 2 threads")
            XCTAssertEqual(differing(runs[0].2, runs[1].2), 0, "\(label): parameter gradients differ between 1 and 2 threads")
            XCTAssertEqual(differing(runs[0].3, runs[1].3), 0, "\(label): step gradient norms differ between 1 and 2 threads")
        }
    }
}
