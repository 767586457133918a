// seqcore-bench: timings of the Swift engine as JSON lines, for bench/compare.py, which runs the
// same shapes through PyTorch and ONNX Runtime in the same run. Timing only; no assertions.
//
//   seqcore-bench layer CELL B T I H MODE REPEATS   MODE: inference | train
//   seqcore-bench step CELL H REPEATS               batch-1 streaming latency per step
//   seqcore-bench gemm M N K REPEATS                GFLOP/s of the recurrent-step and projection products
//                                                   (packed per call; from prepacked panels; the rows halved
//                                                   over the threads, one-thread products as a split batch runs)
//   seqcore-bench gemm-ta M N K REPEATS             GFLOP/s of a weight-gradient product Aᵀ·B (A K × M, B K × N)
//   seqcore-bench peak                              the FMA peak of this CPU (register-only loop)
//   seqcore-bench train-checkpointed PATH STEPS      train a small model, checkpointing to PATH every
//                                                   step (resuming from PATH if it exists), then write
//                                                   the final weights to PATH.final — the child process
//                                                   of the kill test (Tests/SeqCoreTests/CheckpointKillTests)
//   seqcore-bench bandwidth MIB REPEATS [STREAMS [AHEAD]]
//                                                   read bandwidth (GB/s) over MIB mebibytes (may be fractional), all
//                                                   threads, each reading its share as STREAMS segments (default 1),
//                                                   prefetching AHEAD bytes ahead into L2 (default 0: none)
//   --threads N (default 2)
import CSeqSupport
@_spi(Benchmark) import SeqCore
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var args = Array(CommandLine.arguments.dropFirst())

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// A field of /proc/self/status in MiB (VmRSS, VmHWM), or nil where there is no procfs.
func procStatusMiB(_ field: String) -> Double? {
    guard let f = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(cString: line)
        if text.hasPrefix(field + ":") {
            let digits = text.dropFirst(field.count + 1).filter { $0.isNumber }
            return Double(String(digits)).map { $0 / 1024 }
        }
    }
    return nil
}

/// Resets VmHWM to the current RSS (Linux: "5" to /proc/self/clear_refs), so VmHWM afterwards is
/// the peak of the work in between. False where that is not possible.
func resetPeakRSS() -> Bool {
    guard let f = fopen("/proc/self/clear_refs", "w") else { return false }
    defer { fclose(f) }
    return fputs("5", f) >= 0
}

let usage = """
    usage: seqcore-bench [--threads N] layer CELL B T I H MODE REPEATS | step CELL H REPEATS | gemm M N K REPEATS
                         | gemm-ta M N K REPEATS | peak | bandwidth MIB REPEATS [STREAMS [AHEAD]] | train-checkpointed PATH STEPS
    """

/// A bad command line is the caller's mistake: one line saying which argument, what was expected and
/// what came, and exit 2 (no trap).
func usageError(_ message: String) -> Never {
    fputs("seqcore-bench: \(message) (run it without arguments for the usage)\n", stderr)
    exit(2)
}

/// Argument `i` of the command as an integer ≥ `min`.
func intArg(_ i: Int, _ name: String, min: Int = 1) -> Int {
    guard i < args.count else { usageError("\(name): missing (expected an integer ≥ \(min))") }
    guard let v = Int(args[i]), v >= min else { usageError("\(name): expected an integer ≥ \(min), got '\(args[i])'") }
    return v
}

/// Argument `i` of the command as a positive number.
func positiveArg(_ i: Int, _ name: String) -> Double {
    guard i < args.count else { usageError("\(name): missing (expected a positive number)") }
    guard let v = Double(args[i]), v > 0, v.isFinite else { usageError("\(name): expected a positive number, got '\(args[i])'") }
    return v
}

func cell(_ i: Int) -> CellType {
    guard i < args.count else { usageError("CELL: missing (expected rnn, gru or lstm)") }
    switch args[i] {
    case "rnn": return .rnnTanh
    case "gru": return .gru
    case "lstm": return .lstm
    default: usageError("CELL: expected rnn, gru or lstm, got '\(args[i])'")
    }
}

/// 12 independent FMA chains (two FMA pipes of 4-cycle latency need 8), all in registers: 12 zmm
/// of 32 with AVX-512. With AVX2's 16 ymm, twelve SIMD16 would be 24 ymm, and the spills through the
/// stack measured half the peak (86 GFLOP/s per core where the GEMM reached 89), so the AVX2 build
/// counts eight lanes per register.
@inline(never)
func fmaPeak(_ iterations: Int) -> (Double, Float) {
    #if SEQCORE_AVX512
    typealias V = SIMD16<Float>
    #else
    typealias V = SIMD8<Float>
    #endif
    var a0 = V(repeating: 0.1), a1 = V(repeating: 0.2), a2 = V(repeating: 0.3), a3 = V(repeating: 0.4)
    var a4 = V(repeating: 0.5), a5 = V(repeating: 0.6), a6 = V(repeating: 0.7), a7 = V(repeating: 0.8)
    var a8 = V(repeating: 0.9), a9 = V(repeating: 1.0), a10 = V(repeating: 1.1), a11 = V(repeating: 1.2)
    let m = V(repeating: 0.999_999), a = V(repeating: 1e-7)
    let t0 = now()
    for _ in 0 ..< iterations {
        a0 = a0.addingProduct(m, a); a1 = a1.addingProduct(m, a); a2 = a2.addingProduct(m, a)
        a3 = a3.addingProduct(m, a); a4 = a4.addingProduct(m, a); a5 = a5.addingProduct(m, a)
        a6 = a6.addingProduct(m, a); a7 = a7.addingProduct(m, a); a8 = a8.addingProduct(m, a)
        a9 = a9.addingProduct(m, a); a10 = a10.addingProduct(m, a); a11 = a11.addingProduct(m, a)
    }
    let dt = now() - t0
    let sum = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
    return (2.0 * Double(V.scalarCount) * 12 * Double(iterations) / dt / 1e9, sum)
}

/// Runs `body` for at least 100 ms (SEQCORE_BENCH_WARMUP seconds) before anything is timed, as
/// bench/compare.py does for every backend. On this VM a core that idled (the benchmark pauses
/// between measurements) runs slowly for some tens of milliseconds once work arrives: a 2-thread
/// product measured 365-400 GFLOP/s after a 30 ms warm-up following 2 s of idling, 500 after
/// 100 ms. A whole small measurement fits in that window and would time the wake-up.
let warmUpSeconds = getenv("SEQCORE_BENCH_WARMUP").flatMap { Double(String(cString: $0)) } ?? 0.1
func warmUp(_ body: () throws -> Void) rethrows {
    let start = now()
    repeat { try body() } while now() - start < warmUpSeconds
}

func emit(_ fields: [(String, String)]) {
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

if let i = args.firstIndex(of: "--threads") {
    guard i + 1 < args.count, let n = Int(args[i + 1]), n >= 1 else {
        usageError("--threads: expected an integer ≥ 1, got '\(i + 1 < args.count ? args[i + 1] : "")'")
    }
    Parallelism.threadCount = n
    args.removeSubrange(i ... i + 1)
}
guard let command = args.first else {
    fputs(usage + "\n", stderr)
    exit(2)
}

switch command {
case "layer":
    let c = cell(1), b = intArg(2, "B"), t = intArg(3, "T"), i = intArg(4, "I"), h = intArg(5, "H")
    guard args.count > 6, ["train", "inference"].contains(args[6]) else {
        usageError("MODE: expected train or inference, got '\(args.count > 6 ? args[6] : "")'")
    }
    let training = args[6] == "train", repeats = intArg(7, "REPEATS")
    let layer = try RecurrentLayer<Float>(RecurrentConfig(cell: c, inputSize: i, hiddenSize: h), seed: 1)
    var rng = SeqRandom(seed: 2)
    let x = try Tensor(shape: [t, b, i], data: (0 ..< t * b * i).map { _ in Float(rng.uniform(-1, 1)) })
    var times: [Double] = []
    // The RSS with the layer and input built, and the peak above it during the runs (as the
    // benchmark measures PyTorch's): the work's own memory, without the binary's and runtime's.
    let rssBefore = procStatusMiB("VmRSS")
    let peakReset = resetPeakRSS()
    func run() throws {
        if training {
            let out = try layer.forward(x, training: true)
            _ = try layer.backward(out.tape!, gradOutput: out.output)
        } else {
            _ = try layer.forward(x)
        }
    }
    try warmUp(run)  // caches, buffer pool and the worker thread
    for _ in 0 ..< repeats {
        let t0 = now()
        try run()
        times.append(now() - t0)
    }
    var fields = [("median_ms", "\(median(times) * 1000)"), ("min_ms", "\(times.min()! * 1000)"), ("peak_rss_mib", "\(peakRSSMiB())")]
    if let before = rssBefore, peakReset, let hwm = procStatusMiB("VmHWM") {
        fields += [("rss_before_mib", "\(before)"), ("work_peak_rss_mib", "\(hwm)")]
    }
    emit(fields)
case "step":
    let c = cell(1), h = intArg(2, "H"), repeats = intArg(3, "REPEATS")
    let model = try SequenceModel<Float>(ModelConfig(architecture: .tagger, rnn: RecurrentConfig(cell: c, inputSize: h, hiddenSize: h),
                                                     outputSize: 1, output: .regression), seed: 1)
    // A streaming session, one step per call, as the C API's seq_stream_feed and Python's
    // Stream.step run it (the same model: their difference is the binding's overhead).
    let session = try StreamingSession(model: model)
    let x = [Float](repeating: 0.1, count: h)
    var y = [Float](repeating: 0, count: 1)
    func step() throws { try y.withUnsafeMutableBufferPointer { try session.feed(features: x, steps: 1, into: $0) } }
    try warmUp { try step() }
    var times: [Double] = []
    for _ in 0 ..< repeats {
        let t0 = now()
        for _ in 0 ..< 100 { try step() }
        times.append((now() - t0) / 100)
    }
    emit([("median_us", "\(median(times) * 1e6)")])
case "gemm":
    let m = intArg(1, "M"), n = intArg(2, "N"), k = intArg(3, "K"), repeats = intArg(4, "REPEATS")
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    // The operand keeps a pointer into b (and packs lazily): b must outlive it.
    let bStorage = UnsafeMutablePointer<Float>.allocate(capacity: b.count)
    bStorage.initialize(from: b, count: b.count)
    defer { bStorage.deallocate() }
    let packed = PackedOperand(b: bStorage, ldb: k, transB: true, k: k, n: n)
    packed.prepack()  // as a layer's cached weights: batch-1 products then stream the panels too
    var times: [Double] = [], timesPacked: [Double] = []
    warmUp { Kernels.gemm(m: m, a: a, lda: k, packed: packed, beta: 0, c: &c, ldc: n) }
    for _ in 0 ..< repeats {
        let t0 = now()
        Kernels.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: &c, ldc: n)
        times.append(now() - t0)
    }
    // Back to back, as the time loop calls it (one product per step): the worker thread stays awake.
    for _ in 0 ..< repeats {
        let t0 = now()
        Kernels.gemm(m: m, a: a, lda: k, packed: packed, beta: 0, c: &c, ldc: n)
        timesPacked.append(now() - t0)
    }
    // Each thread its half of the rows, 100 one-thread products back to back in one hand-off: a
    // step of a layer whose batch is split over the threads.
    var timesRows: [Double] = []
    for _ in 0 ..< repeats {
        let t0 = now()
        Kernels.gemmRowsPerThread(count: 100, m: m, a: a, lda: k, packed: packed, c: &c, ldc: n)
        timesRows.append((now() - t0) / 100)
    }
    let flops = 2.0 * Double(m * n * k)
    emit([("gflops", "\(flops / median(times) / 1e9)"), ("gflops_prepacked", "\(flops / median(timesPacked) / 1e9)"),
          ("gflops_rows", "\(flops / median(timesRows) / 1e9)")])
case "gemm-ta":
    // The weight-gradient form C[M × N] = Aᵀ·B with A stored K × M and B K × N (dW = dGᵀ·X over all
    // T·B rows): M = G·H, N = I or H, K = T·B.
    let m = intArg(1, "M"), n = intArg(2, "N"), k = intArg(3, "K"), repeats = intArg(4, "REPEATS")
    let a = (0 ..< k * m).map { Float($0 % 7) * 0.125 }, b = (0 ..< k * n).map { Float($0 % 5) * 0.25 }
    var c = [Float](repeating: 0, count: m * n)
    func product() { Kernels.gemm(transA: true, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: m, b: b, ldb: n, beta: 1, c: &c, ldc: n) }
    warmUp { product() }
    var times: [Double] = []
    for _ in 0 ..< repeats {
        let t0 = now()
        product()
        times.append(now() - t0)
    }
    emit([("gflops", "\(2.0 * Double(m * n * k) / median(times) / 1e9)")])
case "peak":
    let threads = Parallelism.threadCount
    var results = [Double](repeating: 0, count: threads)
    var sink: Float = 0
    if threads == 1 {
        results[0] = fmaPeak(50_000_000).0
    } else {
        // One run per core at the same time.
        var thread = pthread_t()
        final class Box { var value = 0.0 }
        let box = Box()
        let ctx = Unmanaged.passRetained(box).toOpaque()
        pthread_create(&thread, nil, { raw in
            let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            b.value = fmaPeak(50_000_000).0
            return nil
        }, ctx)
        let r = fmaPeak(50_000_000)
        sink = r.1
        pthread_join(thread, nil)
        results = [r.0, box.value]
    }
    emit([("gflops", "\(results.reduce(0, +))"), ("threads", "\(threads)"), ("sink", "\(sink.isFinite ? 0 : 1)")])
case "bandwidth":
    // Read bandwidth over a working set of MIB mebibytes (the weights a batch-1 step streams), all
    // threads at once, each summing its own half: the bound of a matrix-vector product that big.
    let mib = positiveArg(1, "MIB"), repeats = intArg(2, "REPEATS"), streams = args.count > 3 ? intArg(3, "STREAMS") : 1
    // AHEAD > 0: each stream's lines are prefetched into L2 that many bytes ahead (software
    // prefetching, which the batch-1 products do without: the floor may use help they don't).
    let ahead = args.count > 4 ? intArg(4, "AHEAD", min: 0) : 0
    let threads = Parallelism.threadCount
    // Floats per thread, whole 64-float blocks (the loop's step).
    // STREAMS > 1 reads that many equal segments of each share side by side, as a matrix–vector
    // product reads several rows at once: the hardware prefetchers follow each stream.
    let block = 64 * streams
    let count = max(block, Int(mib * Double(1 << 18)) / threads / block * block)
    final class Job {
        let data: UnsafeMutablePointer<Float>, count: Int, repeats: Int, streams: Int, ahead: Int
        var seconds: [Double] = [], sink: Float = 0
        init(_ n: Int, _ repeats: Int, _ streams: Int, _ ahead: Int) {
            count = n
            self.repeats = repeats
            self.streams = streams
            self.ahead = ahead
            // On 2 MiB pages, as a layer's packed weights are (BufferPool), so the floor is not
            // lowered by TLB misses the layers don't have.
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 1 << 21, n * 4) == 0, let raw else { fatalError("bandwidth: out of memory") }
            _ = madvise(raw, n * 4, MADV_HUGEPAGE)
            data = raw.bindMemory(to: Float.self, capacity: n)
            data.initialize(repeating: 1, count: n)
        }
    }
    @inline(never) func stream(_ job: Job) {
        typealias V = SIMD16<Float>
        let raw = UnsafeRawPointer(job.data)
        // A small working set is read several times per timed sample (at least 1 MiB per thread),
        // so the clock's resolution does not decide the figure.
        let passes = max(1, (1 << 18) / job.count)
        for _ in 0 ..< job.repeats {
            let t0 = now()
            var s0 = V(), s1 = V(), s2 = V(), s3 = V()
            let streams = job.streams, segment = job.count / streams, ahead = job.ahead
            for _ in 0 ..< passes {
                var i = 0
                while i + 64 <= segment {
                    for q in 0 ..< streams {
                        let o = (q * segment + i) * 4
                        if ahead > 0 { for line in 0 ..< 4 { seq_prefetch_l2(raw + o + ahead + 64 * line) } }
                        s0 += raw.loadUnaligned(fromByteOffset: o, as: V.self)
                        s1 += raw.loadUnaligned(fromByteOffset: o + 64, as: V.self)
                        s2 += raw.loadUnaligned(fromByteOffset: o + 128, as: V.self)
                        s3 += raw.loadUnaligned(fromByteOffset: o + 192, as: V.self)
                    }
                    i += 64
                }
            }
            job.sink += (s0 + s1 + s2 + s3).sum()
            job.seconds.append((now() - t0) / Double(passes))
        }
    }
    let jobs = (0 ..< threads).map { _ in Job(count, repeats, streams, ahead) }
    var thread = pthread_t()
    if threads > 1 {
        let ctx = Unmanaged.passRetained(jobs[1]).toOpaque()
        pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            stream(job)
            return nil
        }, ctx)
    }
    stream(jobs[0])
    if threads > 1 { pthread_join(thread, nil) }
    let perThread = jobs.map { median($0.seconds) }
    let gbs = Double(count * 4 * threads) / perThread.max()! / 1e9
    emit([("gb_per_s", "\(gbs)"), ("mib", "\(mib)"), ("threads", "\(threads)"), ("sink", "\(jobs.allSatisfy { $0.sink.isFinite } ? 0 : 1)")])
case "train-checkpointed":
    guard args.count > 1 else { usageError("PATH: missing") }
    let path = args[1], steps = intArg(2, "STEPS")
    let config = ModelConfig(architecture: .languageModel, rnn: RecurrentConfig(cell: .lstm, inputSize: 8, hiddenSize: 32, numLayers: 2, dropout: 0.2),
                             vocabularySize: 12, embeddingSize: 8, outputSize: 12)
    var rng = SeqRandom(seed: 7)
    let sequences = (0 ..< 64).map { _ in (0 ..< 16).map { _ in Int(rng.nextUnit() * 12) } }
    let data = try SequenceDataset<Float>(inputs: .tokens(sequences.map { Array($0.dropLast()) }),
                                          targets: .stepClasses(sequences.map { Array($0.dropFirst()) }))
    var options = TrainingOptions()
    options.batchSize = 8
    options.epochs = steps / 8
    options.seed = 3
    options.checkpointEvery = 1
    options.checkpointPath = path
    let trainer: Trainer<Float>
    if access(path, F_OK) == 0 {
        trainer = try Trainer(resumingFrom: try TrainingCheckpoint<Float>.load(from: path), options: options)
    } else {
        let model = try SequenceModel<Float>(config, seed: 1)
        trainer = try Trainer(model: model, optimizer: try Optimizer(.adam(), learningRate: 0.01, for: model.arena), options: options)
    }
    _ = try trainer.fit(data)
    try trainer.model.save(to: path + ".final")
    emit([("steps", "\(trainer.stepCount)")])
default:
    usageError("unknown command '\(command)'")
}
