import SeqCore

/// Version of the C ABI and library, as "MAJOR.MINOR.PATCH". The returned string is static: do not free it.
/// Thread-safe.
@c public func seq_version() -> UnsafePointer<CChar> {
    UnsafePointer(seqVersionString)
}

nonisolated(unsafe) let seqVersionString: UnsafeMutablePointer<CChar> = {
    let s = "0.1.0"
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: s.utf8.count + 1)
    for (i, b) in s.utf8.enumerated() { p[i] = CChar(bitPattern: b) }
    p[s.utf8.count] = 0
    return p
}()
