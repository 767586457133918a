import Foundation

/// Output helpers shared by every subcommand. Results go to stdout; progress and errors go to
/// stderr, so `seqcore demo > report.txt` keeps a clean report.
enum Console {
    /// Writes `text` to stderr unbuffered (progress bars must appear at once).
    static func error(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Whether stderr is a terminal (progress bars redraw in place only there).
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Flushes stdout so report lines and stderr progress interleave in order on a terminal.
    static func flush() { fflush(stdout) }
}

/// A monotonic stopwatch.
struct Stopwatch {
    private let start = ContinuousClock.now

    /// Seconds since creation.
    var elapsed: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// Number formatting for reports, tables and charts.
enum Format {
    static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    /// Scientific notation with two significant decimals, e.g. `3.1e-05`.
    static func sci(_ x: Double) -> String { String(format: "%.1e", x) }

    /// A duration: `850 ms`, `12.3 s`, `2 min 05 s`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 100 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        return String(format: "%d min %02d s", s / 60, s % 60)
    }

    static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    static func padRight(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    /// A plain-text table: a header row, a rule, then the rows; columns after the first are
    /// right-aligned (they hold numbers).
    static func table(_ header: [String], _ rows: [[String]], indent: String = "  ") -> String {
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ cells: [String]) -> String {
            indent + cells.enumerated().map { c, s in c == 0 ? padRight(s, widths[c]) : padLeft(s, widths[c]) }
                .joined(separator: "   ")
        }
        let rule = indent + widths.map { String(repeating: "─", count: $0) }.joined(separator: "   ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// A one-line sparkline of `values` on a log scale between `low` and `high` (▁ … █).
    static func sparkline(_ values: [Double], low: Double, high: Double) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        let lo = log10(max(low, 1e-300)), hi = log10(max(high, 1e-300))
        return String(values.map { v -> Character in
            guard v > 0, v.isFinite else { return " " }
            let f = hi > lo ? (log10(v) - lo) / (hi - lo) : 1
            return bars[min(bars.count - 1, max(0, Int((f * Double(bars.count - 1)).rounded())))]
        })
    }
}

enum Files {
    /// Throws a one-line error unless `path` can be created or overwritten by a model file. Checked
    /// before training, so a bad -o costs nothing.
    static func checkWritable(_ path: String, option: String = "-o") throws {
        if path.isEmpty { throw CLIError("\(option): expected a file name, got an empty path") }
        if path.hasSuffix("/") { throw CLIError("\(option) \(path): expected a file name, got a folder path (it ends with /)") }
        var info = stat()
        if stat(path, &info) == 0 {
            // A folder cannot be replaced by a file; a device or FIFO must not be (saving replaces
            // the path with a new file, which would remove /dev/null for everyone).
            if info.st_mode & S_IFMT == S_IFDIR { throw CLIError("\(option) \(path): expected a file name, got a folder") }
            if info.st_mode & S_IFMT != S_IFREG { throw CLIError("\(option) \(path): expected a regular file, got \(kind(info.st_mode))") }
        }
        let folder = (path as NSString).deletingLastPathComponent
        let dir = folder.isEmpty ? "." : folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("cannot write \(path): the folder \(dir) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: dir) else { throw CLIError("cannot write \(path): the folder \(dir) is not writable") }
    }

    /// Throws unless `path` is a regular file (symbolic links followed). Checked before opening:
    /// opening a FIFO with no writer blocks for ever, and a folder or device holds no data.
    static func checkRegularFile(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw CLIError("cannot open \(path): \(reason)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CLIError("cannot open \(path): expected a regular file, got \(kind(info.st_mode))")
        }
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }
}

/// A failure the command line reports as one line (a file it cannot read, a bad value).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
