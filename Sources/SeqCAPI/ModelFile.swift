// MARK: - Model files
//
// A model file is a safetensors file: an 8-byte little-endian header length, a JSON header, then
// the parameters as little-endian float32 under their PyTorch names, so
// `safetensors.torch.load_file` reads it and `load_state_dict` takes it. The header's
// "__metadata__" holds "seqcore.format_version" and every configuration key that was set, as
// "seqcore.config.<key>", from which the model is rebuilt.
//
// TODO(lead): a stand-in until SeqCore's persistence (SafeTensorsFile, SeqFile.writeAtomically)
// lands in main: the C functions stay, their bodies should then call the engine's reader and
// writer. The reader below accepts only what such a file needs (objects, arrays, strings,
// non-negative integers) and checks every offset, so no file can make it trap.

import Glibc
import SeqCore

/// The version of the model file format written by this library.
let modelFileFormatVersion = "1"
private let configPrefix = "seqcore.config."

extension ModelObject {
    /// The file's bytes (lock held by the caller).
    func encodedFile() throws -> [UInt8] {
        var metadata: [(String, String)] = [("seqcore.format_version", modelFileFormatVersion)]
        for key in configKeys {
            guard let value = currentConfig()[key.name] else { continue }
            let text: String
            switch value {
            case .int(let v): text = String(v)
            case .float(let v): text = "\(v)"
            case .string(let s): text = s
            }
            metadata.append((configPrefix + key.name, text))
        }
        var header = "{\"__metadata__\":{" + metadata.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
        var offset = 0
        for p in model.arena.table {
            header += ",\(jsonString(p.name)):{\"dtype\":\"F32\",\"shape\":[\(p.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + 4 * p.count)]}"
            offset += 4 * p.count
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }  // align the data, as safetensors does
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        let values = model.arena.values
        guard let last = model.arena.table.last, last.offset + last.count == values.count else {
            throw ABIError(status: .internal, message: "the parameter table does not cover the arena")
        }
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

// MARK: Files

private func errnoText() -> String { String(cString: strerror(errno)) }

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed over `path`
/// once complete and flushed: a crash or a full disk never leaves a half-written model.
private func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw SeqError(.io, "argument 'path': cannot create \"\(temporary)\": \(errnoText())") }
    var failure: String?
    bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot write \"\(temporary)\": \(errnoText())"
                return
            }
            done += n
        }
    }
    if failure == nil && fsync(fd) != 0 { failure = "cannot flush \"\(temporary)\": \(errnoText())" }
    if close(fd) != 0 && failure == nil { failure = "cannot close \"\(temporary)\": \(errnoText())" }
    if failure == nil && rename(temporary, path) != 0 { failure = "cannot rename \"\(temporary)\" to \"\(path)\": \(errnoText())" }
    if let failure {
        unlink(temporary)
        throw SeqError(.io, "argument 'path': \(failure)")
    }
}

/// The largest model file read: the parameter limit in float32, plus a generous header.
private let maximumFileSize = 4 * Limits.maxElements + 100_000_000

private func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SeqError(.io, "argument 'path': cannot open \"\(path)\": \(errnoText())") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw SeqError(.io, "argument 'path': cannot stat \"\(path)\": \(errnoText())") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw SeqError(.io, "argument 'path': \"\(path)\" is not a regular file") }
    let size = Int(info.st_size)
    guard size <= maximumFileSize else {
        throw SeqError(.resourceLimit, "argument 'path': \"\(path)\" has \(size) bytes, more than the limit of \(maximumFileSize)")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    try bytes.withUnsafeMutableBytes { raw in
        while done < size {
            let n = read(fd, raw.baseAddress! + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SeqError(.io, "argument 'path': cannot read \"\(path)\": \(n < 0 ? errnoText() : "unexpected end of file")") }
            done += n
        }
    }
    return bytes
}

// MARK: Reading the header

/// The JSON values a safetensors header uses.
private indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case integer(Int)
}

/// A strict reader of one JSON value; depth-limited, bounds-checked, never traps.
private struct JSONReader {
    let bytes: ArraySlice<UInt8>
    var i: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        i = bytes.startIndex
    }

    func fail(_ what: String) -> SeqError {
        SeqError(.format, "model file: invalid header at byte \(i - bytes.startIndex + 8): \(what)")
    }

    mutating func skipSpace() {
        while i < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func expect(_ c: UInt8) throws {
        skipSpace()
        guard i < bytes.endIndex, bytes[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    mutating func peek() -> UInt8? {
        skipSpace()
        return i < bytes.endIndex ? bytes[i] : nil
    }

    mutating func value(depth: Int = 0) throws -> JSON {
        guard depth < 4 else { throw fail("nested too deeply") }
        switch peek() {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSON)] = []
            if peek() == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                guard case .string(let key) = try value(depth: depth + 1) else { throw fail("expected a string key") }
                try expect(UInt8(ascii: ":"))
                members.append((key, try value(depth: depth + 1)))
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(members)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSON] = []
            if peek() == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(items)
            }
        case UInt8(ascii: "\""):
            i += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() throws {
                guard !raw.isEmpty else { return }
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("a string that is not UTF-8") }
                scalars.append(contentsOf: s.unicodeScalars)
                raw = []
            }
            while true {
                guard i < bytes.endIndex else { throw fail("an unterminated string") }
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { throw fail("a control character in a string") }
                if c != UInt8(ascii: "\\") { raw.append(c); continue }
                try flush()
                guard i < bytes.endIndex else { throw fail("an unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{C}")
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.endIndex, let v = UInt32(String(decoding: bytes[i ..< i + 4], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(v)
                    else { throw fail("an invalid \\u escape") }
                    i += 4
                    scalars.append(scalar)
                default: throw fail("an invalid escape")
                }
            }
            try flush()
            return .string(String(scalars))
        case let c? where c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"):
            var v = 0
            while i < bytes.endIndex, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw fail("an integer that overflows") }
                v = s
                i += 1
            }
            if i < bytes.endIndex, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[i]) {
                throw fail("a number that is not a non-negative integer")
            }
            return .integer(v)
        default:
            throw fail("expected an object, array, string or non-negative integer")
        }
    }
}

private struct TensorEntry {
    var name: String
    var dtype: String
    var shape: [Int]
    var begin: Int, end: Int
}

/// Rebuilds a model from a file's bytes, checking everything.
private func decodeModel(_ bytes: [UInt8], path: String) throws -> ModelObject {
    func bad(_ what: String) -> SeqError { SeqError(.format, "model file \"\(path)\": \(what)") }
    guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes, too short for a safetensors file") }
    var length: UInt64 = 0
    for k in 0 ..< 8 { length |= UInt64(bytes[k]) << (8 * UInt64(k)) }
    guard length <= UInt64(bytes.count - 8), length <= 100_000_000 else {
        throw bad("header length \(length) does not fit the file's \(bytes.count) bytes")
    }
    let headerEnd = 8 + Int(length)
    var reader = JSONReader(bytes[8 ..< headerEnd])
    let header = try reader.value()
    reader.skipSpace()
    guard reader.i == headerEnd else { throw reader.fail("data after the header's JSON object") }
    guard case .object(let members) = header else { throw bad("the header is not a JSON object") }

    var metadata: [String: String] = [:]
    var entries: [TensorEntry] = []
    let dataLength = bytes.count - headerEnd
    for (name, value) in members {
        guard case .object(let fields) = value else { throw bad("entry \"\(name)\" is not an object") }
        if name == "__metadata__" {
            for (k, v) in fields {
                guard case .string(let s) = v else { throw bad("metadata \"\(k)\" is not a string") }
                metadata[k] = s
            }
            continue
        }
        var dtype: String?, shape: [Int]?, offsets: [Int]?
        for (k, v) in fields {
            switch (k, v) {
            case ("dtype", .string(let s)): dtype = s
            case ("shape", .array(let a)):
                shape = try a.map { guard case .integer(let d) = $0 else { throw bad("tensor \"\(name)\": a dimension is not an integer") }; return d }
            case ("data_offsets", .array(let a)):
                offsets = try a.map { guard case .integer(let d) = $0 else { throw bad("tensor \"\(name)\": an offset is not an integer") }; return d }
            default: throw bad("tensor \"\(name)\": unexpected field \"\(k)\"")
            }
        }
        guard let dtype, let shape, let offsets, offsets.count == 2 else {
            throw bad("tensor \"\(name)\": needs dtype, shape and two data_offsets")
        }
        guard offsets[0] <= offsets[1], offsets[1] <= dataLength else {
            throw bad("tensor \"\(name)\": data_offsets \(offsets) outside the \(dataLength) bytes of data")
        }
        entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, begin: headerEnd + offsets[0], end: headerEnd + offsets[1]))
    }

    guard let version = metadata["seqcore.format_version"] else {
        throw bad("no \"seqcore.format_version\" in the metadata: not a seqcore model file")
    }
    guard version == modelFileFormatVersion else {
        throw bad("format version \(version); this library reads version \(modelFileFormatVersion)")
    }
    var explicit: [String: ConfigValue] = [:]
    for (k, text) in metadata where k.hasPrefix(configPrefix) {
        let name = String(k.dropFirst(configPrefix.count))
        guard let key = configKeys.first(where: { $0.name == name }) else {
            throw bad("unknown configuration key \"\(name)\" (a file from a newer seqcore?)")
        }
        let value: ConfigValue
        switch key.domain.type {
        case .int:
            guard let v = Int64(text) else { throw bad("configuration key \"\(name)\": \"\(text)\" is not an integer") }
            value = .int(v)
        case .float:
            guard let v = Double(text) else { throw bad("configuration key \"\(name)\": \"\(text)\" is not a number") }
            value = .float(v)
        case .string:
            value = .string(text)
        }
        do { try key.domain.check(value, key: name) } catch { throw bad("configuration key \"\(name)\": \(error)") }
        explicit[name] = value
    }
    let object: ModelObject
    do { object = try ModelObject(explicit) } catch let e as SeqError { throw bad("its configuration is invalid: \(e.message)") }

    // Parameters: every one present, with its shape; nothing else.
    let arena = object.model.arena
    var byName: [String: TensorEntry] = [:]
    for e in entries { byName[e.name] = e }
    if let extra = entries.first(where: { !arena.contains($0.name) }) {
        throw bad("tensor \"\(extra.name)\" is not a parameter of this model")
    }
    for p in arena.table {
        guard let e = byName[p.name] else { throw bad("parameter \"\(p.name)\" (shape \(p.shape)) is missing") }
        guard e.shape == p.shape else { throw bad("parameter \"\(p.name)\" has shape \(e.shape), the model expects \(p.shape)") }
        let size: Int
        switch e.dtype {
        case "F32": size = 4
        case "F64": size = 8
        default: throw bad("parameter \"\(p.name)\" has dtype \(e.dtype); F32 or F64 expected")
        }
        guard e.end - e.begin == size * p.count else {
            throw bad("parameter \"\(p.name)\": \(e.end - e.begin) bytes of data for \(p.count) \(e.dtype) values")
        }
        var values = [Float](repeating: 0, count: p.count)
        for j in 0 ..< p.count {
            var bits: UInt64 = 0
            for k in 0 ..< size { bits |= UInt64(bytes[e.begin + size * j + k]) << (8 * UInt64(k)) }
            let v = size == 4 ? Float(bitPattern: UInt32(truncatingIfNeeded: bits)) : Float(Double(bitPattern: bits))
            guard v.isFinite else { throw bad("parameter \"\(p.name)\": value \(v) at index \(j) is not finite") }
            values[j] = v
        }
        try arena.setValue(p.name, values)
    }
    return object
}

/// Saves a model (configuration and parameters, not the optimizer's state) to a file, atomically:
/// the file is written under a temporary name in the same directory and renamed over `path` once
/// complete, so a crash never leaves a half-written model. The file is a safetensors file that
/// PyTorch's `safetensors.torch.load_file` reads, with the parameters under their PyTorch names.
///
/// - Parameters:
///   - model: a live `seq_model`.
///   - path: NUL-terminated file path; an existing file is replaced.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_WRONG_HANDLE`; `SEQ_ERR_IO` (the
///   directory is not writable, the disk is full, ...; any existing file is left intact).
/// - Thread safety: safe to call from any thread (calls on one model are serialised), also from
///   a `seq_progress_callback` of the same model.
@c public func seq_model_save(_ model: SeqModelHandle?, _ path: UnsafePointer<CChar>?) -> SeqStatus {
    guarded {
        let m = try Handles.value(model, as: ModelObject.self, argument: "model")
        let path = try Arg.string(path, "path")
        guard !path.isEmpty else { throw SeqError.invalid("path", expected: "a file path", got: "\"\"") }
        let bytes = try m.locked { try m.encodedFile() }
        try writeAtomically(path, bytes)
    }
}

/// Loads a model saved by `seq_model_save`: the same configuration and parameters; the optimizer
/// starts afresh. The file is checked completely (format version, configuration, every
/// parameter's presence, shape and finiteness) before a model is made.
///
/// - Parameters:
///   - path: NUL-terminated file path.
///   - out: receives the new model; set to NULL on failure. Must not be NULL.
/// - Returns: `SEQ_OK`; `SEQ_ERR_NULL_POINTER`; `SEQ_ERR_IO` (cannot open or read);
///   `SEQ_ERR_FORMAT` (not a seqcore model file, a newer format version, a damaged or truncated
///   file); `SEQ_ERR_RESOURCE_LIMIT` (the file is too large).
/// - Ownership: the caller owns the model and frees it with `seq_model_free`.
/// - Thread safety: safe to call from any thread.
@c public func seq_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<SeqModelHandle?>?) -> SeqStatus {
    guarded {
        let out = try Handles.clearOut(out, argument: "out")
        let path = try Arg.string(path, "path")
        let bytes = try readFile(path)
        out.pointee = Handles.create(try decodeModel(bytes, path: path))
    }
}
