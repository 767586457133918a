// MARK: - Threads
//
// The number of threads the kernels use, for the whole process.

import SeqCore

/// Sets how many threads the kernels use, for every model of the process: 1 computes on the
/// calling thread only; 2 (the default on a machine with two or more cores) shares the work with
/// one persistent worker thread (a batch of 16 or more sequences is split in halves, large
/// products by columns). Results are bit-identical for every setting. After each shared call the
/// worker polls for the next one for 2 ms before it sleeps (a sleeping thread can take longer than
/// a whole small call to wake), so a process calling in bursts keeps a second core busy for up to
/// 2 ms after each burst; 1 avoids that.
///
/// - Parameter count: >= 1. Values above the library's maximum (2) use the maximum; read the
///   number in use with `seq_get_num_threads`.
/// - Returns: `SEQ_OK`; `SEQ_ERR_INVALID_ARGUMENT` (count < 1).
/// - Thread safety: safe to call from any thread; calls already running keep their setting.
@c public func seq_set_num_threads(_ count: Int32) -> SeqStatus {
    guarded {
        guard count >= 1 else { throw SeqError.invalid("count", expected: "a number of threads >= 1", got: count) }
        Parallelism.threadCount = Int(count)
    }
}

/// The number of threads the kernels use (1 or 2).
///
/// - Returns: the number of threads.
/// - Thread safety: safe to call from any thread.
@c public func seq_get_num_threads() -> Int32 {
    Int32(Parallelism.threadCount)
}
