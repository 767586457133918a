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

/// One persistent worker thread that takes the second half of a split kernel call.
///
/// Per-step products are small (tens of microseconds), so waking a thread per call would cost more
/// than it saves (DESIGN §5: dispatch queues lost most of the second core). The worker spins briefly
/// on an atomic generation counter before sleeping on a condition variable; the caller publishes
/// work by bumping the counter under the mutex, so a sleeping worker cannot miss it.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    private let generation = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var thread: pthread_t?

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Runs body(0) and body(1), the second on the worker when it is free and 2 threads are allowed;
    /// otherwise both on the calling thread (another caller holding the worker, or one thread set).
    func run(_ body: (Int) -> Void) {
        guard Parallelism.threadCount > 1,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            body(0)
            body(1)
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escaping in
            startIfNeeded()
            pthread_mutex_lock(&mutex)
            job = escaping
            let g = generation.load(ordering: .relaxed) + 1
            generation.store(g, ordering: .releasing)
            pthread_cond_signal(&condition)
            pthread_mutex_unlock(&mutex)
            escaping(0)
            var spins = 0
            while finished.load(ordering: .acquiring) != g {
                spins += 1
                if spins > 1 << 12 { sched_yield() }
            }
            job = nil
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
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 20_000 { spins += 1 }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&condition, &mutex) }
                pthread_mutex_unlock(&mutex)
            }
            seen = generation.load(ordering: .acquiring)
            job?(1)
            finished.store(seen, ordering: .releasing)
        }
    }
}

extension Kernels {
    /// Runs `body` over the rows 0..<rows, split in two halves over the worker when the rows carry
    /// enough elements (`work` each) to pay for the hand-off. For per-row gate math only: rows must
    /// be independent (no shared accumulator), so the split never changes a result.
    @inline(__always)
    static func forEachRow(_ rows: Int, work: Int, _ body: (Range<Int>) -> Void) {
        if rows >= 2 && rows * work >= 1 << 14 && Parallelism.threadCount > 1 {
            let half = rows / 2
            WorkerPool.shared.run { part in body(part == 0 ? 0 ..< half : half ..< rows) }
        } else {
            body(0 ..< rows)
        }
    }
}
