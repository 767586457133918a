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
        // A symbolic link is saved through: the file it names is replaced and the link stays (the
        // rename would otherwise put a regular file in the link's place).
        let target = try resolvingLinks(path)
        let (directory, base) = split(target)
        if base.isEmpty || base == "." || base == ".." {
            throw SeqError.invalid("path", expected: "a path naming a file", got: "'\(path)'")
        }
        // Keep the mode of the file being replaced (new files get 0644 less the umask).
        var mode: mode_t = 0o644
        var old = stat()
        if stat(target, &old) == 0 {
            switch old.st_mode & S_IFMT {
            case S_IFREG: mode = old.st_mode & 0o7777
            case S_IFDIR: throw SeqError(.io, "cannot save to '\(path)': it is a directory")
            // A device, FIFO or socket: renaming over it would replace it (/dev/null, as root).
            default: throw SeqError(.io, "cannot save to '\(path)': not a regular file")
            }
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
        if rename(temporary, target) != 0 { throw ioError("cannot rename the temporary file onto '\(path)'") }
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

    /// `path` with its symbolic links followed until it names something that is not a link (which
    /// may not exist yet: a dangling link is saved through too); relative links are read from the
    /// link's directory. More than 40 links in a row (a loop) is an error, as for the kernel.
    static func resolvingLinks(_ path: String) throws -> String {
        var current = path
        for _ in 0 ..< 40 {
            var info = stat()
            guard lstat(current, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, buffer.count - 1)
            if n < 0 { throw ioError("cannot read the link '\(current)'") }
            let link = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : split(current).0 + "/" + link
        }
        throw SeqError(.io, "cannot save to '\(path)': too many levels of symbolic links")
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
        // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one, before the
        // check below could refuse it; reads of a regular file ignore the flag.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
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
