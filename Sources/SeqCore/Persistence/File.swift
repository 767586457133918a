#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Files through the C library only (no Foundation). Reads check the file's real size before
// allocating; writes are atomic: a temporary file in the same directory is written, fsync'ed and
// renamed over the target, then the directory is fsync'ed, so a reader (or a crash) sees either the
// old file or the complete new one, never a mix, and a failed save leaves the old file intact.

/// Reading and atomically writing whole files. Errors are `SeqError(.io, …)` naming the path and
/// the system's reason.
public enum SeqFile {
    /// The whole content of the regular file at `path`; files larger than `maxBytes` are refused
    /// with a `.resourceLimit` error before anything is read.
    public static func read(_ path: String, maxBytes: Int = 1 << 36) throws -> [UInt8] {
        let file = try ReadableFile(path)
        defer { file.close() }
        if file.size > maxBytes {
            throw SeqError(.resourceLimit, "'\(path)': \(file.size) bytes exceed the limit of \(maxBytes)")
        }
        return try file.read(count: file.size, at: 0)
    }

    /// Replaces the file at `path` with `bytes`, atomically (see the top of this file).
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try writeAtomically(path) { sink in
            try bytes.withUnsafeBytes { try sink.write($0) }
        }
    }

    /// Atomic replacement of `path` with whatever `produce` writes to the sink. When `produce`
    /// or any system call throws, the temporary file is removed and `path` is untouched.
    static func writeAtomically(_ path: String, _ produce: (FileSink) throws -> Void) throws {
        if path.isEmpty { throw SeqError.invalid("path", expected: "a file path", got: "an empty string") }
        let (directory, base) = split(path)
        if base.isEmpty || base == "." || base == ".." {
            throw SeqError.invalid("path", expected: "a path naming a file", got: "'\(path)'")
        }
        // Keep the mode of the file being replaced (new files get 0644 less the umask).
        var mode: mode_t = 0o644
        var old = stat()
        if stat(path, &old) == 0 {
            if (old.st_mode & S_IFMT) == S_IFDIR {
                throw SeqError(.io, "cannot save to '\(path)': it is a directory")
            }
            mode = old.st_mode & 0o7777
        }

        var fd: Int32 = -1
        var temporary = ""
        var rng = SeqRandom(seed: UInt64(UInt32(bitPattern: getpid())) << 32 ^ monotonicNanoseconds())
        for _ in 0 ..< 16 {
            temporary = directory + "/." + base + ".tmp-" + String(rng.next() % 1_000_000_000_000, radix: 36)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        if fd < 0 { throw ioError("cannot create a temporary file in '\(directory)' to save '\(path)'") }

        var done = false
        defer {
            if !done {
                if fd >= 0 { _ = closeDescriptor(fd) }
                _ = unlink(temporary)
            }
        }
        if mode != 0o644 { _ = fchmod(fd, mode) }
        try produce(FileSink(fd: fd, path: path))
        if fsync(fd) != 0 { throw ioError("cannot flush '\(path)' to disk") }
        let closed = closeDescriptor(fd)
        fd = -1
        if closed != 0 { throw ioError("cannot close the temporary file for '\(path)'") }
        if rename(temporary, path) != 0 { throw ioError("cannot rename the temporary file onto '\(path)'") }
        done = true

        // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL).
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            let status = fsync(dirfd)
            let error = errno
            _ = closeDescriptor(dirfd)
            if status != 0 && error != EINVAL && error != EBADF {
                errno = error
                throw ioError("'\(path)' was saved, but syncing its directory '\(directory)' failed")
            }
        }
    }

    /// (directory, last component) of a path; the directory of "model.st" is ".".
    static func split(_ path: String) -> (String, String) {
        let bytes = Array(path.utf8)
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return (".", path) }
        let directory = slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self)
        return (directory, String(decoding: bytes[(slash + 1)...], as: UTF8.self))
    }

    static func ioError(_ what: String) -> SeqError {
        let reason = String(cString: strerror(errno))
        return SeqError(.io, "\(what): \(reason)")
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

// The C functions, reachable from types that have methods of the same names.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
private func writeDescriptor(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

/// Where `SeqFile.writeAtomically` sends bytes: writes everything, retrying short writes and EINTR.
struct FileSink {
    let fd: Int32
    let path: String

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = writeDescriptor(fd, p, min(left, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw SeqFile.ioError("cannot write '\(path)'")
            }
            if n == 0 { throw SeqError(.io, "cannot write '\(path)': the system wrote nothing") }
            p += n
            left -= n
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// An open regular file for positioned reads.
struct ReadableFile {
    let fd: Int32
    let path: String
    let size: Int

    init(_ path: String) throws {
        if path.isEmpty { throw SeqError.invalid("path", expected: "a file path", got: "an empty string") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SeqFile.ioError("cannot open '\(path)'") }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let error = SeqFile.ioError("cannot inspect '\(path)'")
            _ = closeDescriptor(fd)
            throw error
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            _ = closeDescriptor(fd)
            throw SeqError(.io, "cannot read '\(path)': not a regular file")
        }
        self.fd = fd
        self.path = path
        self.size = Int(info.st_size)
    }

    func close() { _ = closeDescriptor(fd) }

    /// Exactly `count` bytes from `offset`; a file that shrank meanwhile is a `.format` error.
    func read(count: Int, at offset: Int) throws -> [UInt8] {
        if count == 0 { return [] }
        var result = [UInt8](repeating: 0, count: count)
        try result.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < count {
                let n = pread(fd, base + done, min(count - done, 1 << 30), off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SeqFile.ioError("cannot read '\(path)'")
                }
                if n == 0 {
                    throw SeqError(.format, "'\(path)' ended after \(offset + done) bytes, expected \(offset + count)")
                }
                done += n
            }
        }
        return result
    }
}
