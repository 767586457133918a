import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How many threads seqcore's kernels may use (1 or 2; this library targets 2-core machines and
/// splits each product in two at most). Results are bit-identical for every setting: work is split
/// by output elements, each computed start to finish by one thread in the same order.
public enum Parallelism {
    static let configured = Atomic<Int>(min(2, max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))))

    /// Threads the kernels use, 1 or 2. Thread-safe.
    public static var threadCount: Int {
        get { configured.load(ordering: .relaxed) }
        set { configured.store(min(2, max(1, newValue)), ordering: .relaxed) }
    }
}

/// One persistent worker thread that shares the parts of a split kernel call with the caller.
///
/// Per-step products are small (tens of microseconds), so waking a thread per call would cost more
/// than it saves (DESIGN §5: dispatch queues lost most of the second core). The worker polls the
/// job word for 2 ms before sleeping on a condition variable (`spinNanoseconds`); the caller takes
/// the mutex and signals only when the worker has said it sleeps (`sleeping`), which took a sixth
/// off an empty hand-off (measured alternating; about 450 ns is left on the 2-core Xeon, most of
/// it the job word's cache line crossing between the cores).
///
/// Parts are claimed, not assigned: caller and worker take unclaimed parts from one atomic word
/// until none is left, so when the worker is late (asleep, or descheduled on a busy machine) the
/// caller runs the parts itself instead of waiting for it. Which thread runs a part never changes
/// what the part computes, so results stay bit-identical. The caller claims from the first part up
/// and the worker from the last part down, so with both awake each part runs on the same core at
/// every call and finds its operands in that core's caches: batch-1 steps at H = 1024, whose
/// weights (24–32 MiB) just about fit L3 and both L2s, were 3–6% faster than with the parts raced
/// for in order.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// generation << 32 | one bit per claimed part. A claim is a compare-exchange of the whole word,
    /// so a worker that woke up late can never claim a part of a job that has moved on.
    private let state = Atomic<Int>(0)
    /// Parts of the current job finished by the worker.
    private let workerDone = Atomic<Int>(0)
    /// Address of the current job's closure (in the caller's frame) and its part count, written
    /// before the job's generation is published.
    private let jobAddress = Atomic<Int>(0)
    private let jobParts = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// Whether the worker waits, or is about to wait, on `condition`.
    private let sleeping = Atomic<Bool>(false)
    private var generation = 0
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var thread: pthread_t?

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Runs body(0) and body(1), sharing them with the worker (see `run(parts:_:)`).
    func run(_ body: (Int) -> Void) { run(parts: 2, body) }

    /// Runs body(0) ..< body(parts), each exactly once, on the caller and the worker; returns when
    /// all are done. Everything runs on the caller when one thread is allowed or another caller
    /// holds the worker.
    func run(parts: Int, _ body: (Int) -> Void) {
        precondition(parts <= 32, "WorkerPool.run: at most 32 parts (one bit each in the job word)")
        guard parts > 1, Parallelism.threadCount > 1,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0 ..< parts { body(part) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escaping in
            var closure = escaping
            withUnsafeMutablePointer(to: &closure) { address in
                startIfNeeded()
                jobAddress.store(Int(bitPattern: address), ordering: .relaxed)
                jobParts.store(parts, ordering: .relaxed)
                workerDone.store(0, ordering: .relaxed)
                generation += 1
                let g = generation << 32
                // The lock and signal only when the worker is asleep (or about to be): it announces
                // that in `sleeping` before its last look at `state`, and the two sequentially
                // consistent pairs (its store then load, this store then load) cannot both miss.
                // Part 0 is the caller's from the start (bit 0 set as the job is published): one
                // compare-exchange fewer on the line both threads write.
                state.store(g | 1, ordering: .sequentiallyConsistent)
                if sleeping.load(ordering: .sequentiallyConsistent) {
                    pthread_mutex_lock(&mutex)
                    pthread_cond_signal(&condition)
                    pthread_mutex_unlock(&mutex)
                }
                address.pointee(0)
                var mine = 1
                while true {
                    let v = state.load(ordering: .acquiring)
                    // The lowest unclaimed part.
                    let part = (~v & 0xFFFF_FFFF).trailingZeroBitCount
                    if part >= parts { break }
                    if state.compareExchange(expected: v, desired: v | 1 << part, ordering: .acquiringAndReleasing).exchanged {
                        address.pointee(part)
                        mine += 1
                    }
                }
                // Only parts the worker has already claimed remain: wait for those.
                var spins = 0
                while mine + workerDone.load(ordering: .acquiring) < parts {
                    spins += 1
                    if spins > 1 << 12 { sched_yield() }
                }
            }
        }
    }

    private func startIfNeeded() {
        if thread != nil { return }
        var t = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        pthread_create(&t, nil, { raw in Unmanaged<WorkerPool>.fromOpaque(raw!).takeUnretainedValue().loop() }, context)
        thread = t
    }

    private func loop() -> Never {
        var seen = 0
        while true {
            // Spin for a while before sleeping: on a virtual machine a sleeping thread can take
            // hundreds of microseconds to run again once woken, longer than a whole small layer.
            let deadline = Self.now() + Self.spinNanoseconds
            var spins = 0
            while state.load(ordering: .acquiring) >> 32 == seen {
                spins += 1
                if spins & 255 == 0 && Self.now() > deadline { break }
            }
            if state.load(ordering: .acquiring) >> 32 == seen {
                pthread_mutex_lock(&mutex)
                sleeping.store(true, ordering: .sequentiallyConsistent)
                while state.load(ordering: .sequentiallyConsistent) >> 32 == seen { pthread_cond_wait(&condition, &mutex) }
                sleeping.store(false, ordering: .relaxed)
                pthread_mutex_unlock(&mutex)
            }
            seen = state.load(ordering: .acquiring) >> 32
            while true {
                let v = state.load(ordering: .acquiring)
                // The job's address and part count were stored before v's generation was published;
                // a successful claim below proves that job is still running (its caller waits for
                // this part), so the address is still valid when it is called.
                let address = jobAddress.load(ordering: .relaxed), parts = jobParts.load(ordering: .relaxed)
                // The highest unclaimed part (claims are bits 0 ..< parts).
                let unclaimed = ~v & (1 << parts - 1)
                if v >> 32 != seen || unclaimed == 0 { break }
                let part = Int.bitWidth - 1 - unclaimed.leadingZeroBitCount
                if state.compareExchange(expected: v, desired: v | 1 << part, ordering: .acquiringAndReleasing).exchanged {
                    Self.invoke(address, part)
                    workerDone.add(1, ordering: .releasing)
                }
            }
        }
    }

    /// How long the idle worker polls for the next job before it sleeps.
    static let spinNanoseconds = 2_000_000

    @inline(__always)
    private static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// Calls the job's closure; its copy is released on return, before the part is reported done
    /// (withoutActuallyEscaping in the caller checks that no copy outlives the call).
    @inline(never)
    private static func invoke(_ address: Int, _ part: Int) {
        UnsafeMutablePointer<(Int) -> Void>(bitPattern: address)!.pointee(part)
    }
}

extension Kernels {
    /// Runs `body` over the rows 0..<rows, split in two halves over the worker when the rows carry
    /// enough elements (`work` each) to pay for the hand-off. For per-row gate math only: rows must
    /// be independent (no shared accumulator), so the split never changes a result.
    @inline(__always)
    static func forEachRow(_ rows: Int, work: Int, _ body: (Range<Int>) -> Void) {
        if rows >= 2 && rows * work >= 1 << 16 && Parallelism.threadCount > 1 {
            let half = rows / 2
            WorkerPool.shared.run { part in body(part == 0 ? 0 ..< half : half ..< rows) }
        } else {
            body(0 ..< rows)
        }
    }
}

extension Kernels {
    /// Weights up to this size stay in the caches from one step to the next (two cores' L2 here).
    /// Below it a layer splits its batch over the threads for the whole time loop
    /// (`RecurrentLayer.batchSplit`), so a step runs on one thread.
    static let cachedWeightBytes = 2 << 20
}

extension Kernels {
    /// For seqcore-bench: `count` products C = A·B back to back from the operand's panels, A's `m`
    /// rows halved over the two threads, each thread running its own rows as one-thread products
    /// inside a single hand-off — what every step of a layer whose batch is split over the threads
    /// runs (`RecurrentLayer.batchSplit`: the step's input projection and recurrent product of
    /// each half, one hand-off for the whole time loop). The panels must be packed (`prepack`):
    /// both threads read them.
    @_spi(Benchmark)
    public static func gemmRowsPerThread(count: Int, m: Int, a: UnsafePointer<Float>, lda: Int, packed: PackedOperand<Float>,
                                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(packed.prepacked != nil, "Kernels.gemmRowsPerThread: the operand's panels must be packed first")
        let half = m / 2
        WorkerPool.shared.run { part in
            let rows = part == 0 ? 0 ..< half : half ..< m
            for _ in 0 ..< count {
                gemm(m: rows.count, a: a + rows.lowerBound * lda, lda: lda, packed: packed, beta: 0,
                     c: c + rows.lowerBound * ldc, ldc: ldc)
            }
        }
    }
}
