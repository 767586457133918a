// The safetensors format (PyTorch/Hugging Face weights), read and written without Foundation.
//
//     [8 bytes]  N, unsigned 64-bit little-endian: the header length
//     [N bytes]  JSON header, UTF-8:
//                { "__metadata__": {string: string},                               (optional)
//                  "<name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ... }
//                padded with spaces so the data starts 8-byte aligned
//     [rest]     the tensors' bytes, little-endian, row-major; offsets are relative to the start of
//                this region, and the tensors cover it exactly: contiguous, non-overlapping, no
//                gaps, nothing after the last one.
//
// The reader trusts nothing: every length is checked against the bytes actually present before
// anything is allocated from it, and every violation is a `SeqError(.format, …)` that says what is
// wrong. The writer produces the same bytes as Python's `safetensors` for the same tensors and
// metadata (tensors ordered by descending dtype, then name; metadata keys sorted).

/// Element types of safetensors files, in the format's order (which the writer sorts by).
/// seqcore reads the floating-point ones into `Tensor` and the 32/64-bit signed integers into
/// `Int64`; the others are recognised so a file holding them still opens.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16", i32 = "I32", u32 = "U32"
    case f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

/// One tensor of a safetensors file: its name, dtype, shape and raw little-endian bytes.
public struct SafeTensorsEntry: Equatable, Sendable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// The tensor's bytes (shape.product × dtype.byteSize of them).
    public let bytes: ArraySlice<UInt8>

    public var elementCount: Int { bytes.count / dtype.byteSize }
}

/// A set of named tensors plus string metadata: the contents of one safetensors file.
///
/// ```swift
/// var file = SafeTensorsFile()
/// file.metadata["format"] = "pt"
/// try file.add("weight_ih_l0", try arena.value("weight_ih_l0"))
/// try file.save("model.safetensors")                       // atomic
/// let back = try SafeTensorsFile.load("model.safetensors")
/// let w: Tensor<Float> = try back.tensor("weight_ih_l0")
/// ```
public struct SafeTensorsFile: Equatable, Sendable {
    /// The `__metadata__` map (string to string).
    public var metadata: [String: String] = [:]
    /// The tensors, in file order when read (by offset), in insertion order when built.
    public private(set) var entries: [SafeTensorsEntry] = []
    private var index: [String: Int] = [:]

    /// A header longer than this is refused (the limit of the reference implementation).
    public static let maximumHeaderLength = 100_000_000
    /// `load` refuses files with more tensor data than this (64 GiB) before reading it.
    public static let maximumDataLength = 1 << 36

    public init() {}

    /// Same metadata and the same tensors (name, dtype, shape, bytes), in any order.
    public static func == (a: SafeTensorsFile, b: SafeTensorsFile) -> Bool {
        a.metadata == b.metadata && a.entries.count == b.entries.count
            && a.entries.allSatisfy { e in b.index[e.name].map { b.entries[$0] == e } ?? false }
    }

    /// The tensor names, in `entries` order.
    public var names: [String] { entries.map(\.name) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The entry named `name`, or a `.notFound` error.
    public func entry(_ name: String) throws -> SafeTensorsEntry {
        guard let i = index[name] else {
            let known = names.prefix(20).joined(separator: ", ") + (entries.count > 20 ? ", …" : "")
            throw SeqError(.notFound, "safetensors: no tensor named '\(name)'; the file has: \(known)")
        }
        return entries[i]
    }

    // MARK: Reading

    /// Parses and validates a whole file held in memory.
    public init(bytes: [UInt8]) throws {
        let n = try bytes.withUnsafeBufferPointer { try Self.headerLength(UnsafeBufferPointer(rebasing: $0.prefix(8)), total: $0.count) }
        let dataLength = bytes.count - 8 - n
        let layout = try bytes.withUnsafeBufferPointer {
            try Self.parseHeader(UnsafeBufferPointer(rebasing: $0[8 ..< 8 + n]), dataLength: dataLength)
        }
        try self.init(layout: layout, data: bytes[(8 + n)...])
    }

    /// Reads and validates the safetensors file at `path`. The header is read and checked first,
    /// so a file that claims sizes it does not have is refused before its data is read.
    public static func load(_ path: String) throws -> SafeTensorsFile {
        let file = try ReadableFile(path)
        defer { file.close() }
        do {
            let first = try file.read(count: min(8, file.size), at: 0)
            let n = try first.withUnsafeBufferPointer { try headerLength(UnsafeBufferPointer(rebasing: $0[...]), total: file.size) }
            let header = try file.read(count: n, at: 8)
            let dataLength = file.size - 8 - n
            if dataLength > maximumDataLength {
                throw SeqError(.resourceLimit, "'\(path)': \(dataLength) bytes of tensor data exceed the limit of \(maximumDataLength)")
            }
            let layout = try header.withUnsafeBufferPointer { try parseHeader($0, dataLength: dataLength) }
            let data = try file.read(count: dataLength, at: 8 + n)
            return try SafeTensorsFile(layout: layout, data: data[...])
        } catch let error as SeqError where error.kind == .format {
            throw SeqError(.format, "'\(path)': \(error.message)")
        }
    }

    /// One tensor's header entry, validated against the data length.
    struct Layout {
        var metadata: [String: String]
        var tensors: [(name: String, dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int)]
    }

    private init(layout: Layout, data: ArraySlice<UInt8>) throws {
        metadata = layout.metadata
        let base = data.startIndex
        for t in layout.tensors {
            index[t.name] = entries.count
            entries.append(SafeTensorsEntry(name: t.name, dtype: t.dtype, shape: t.shape,
                                            bytes: data[(base + t.begin) ..< (base + t.end)]))
        }
    }

    static func formatError(_ what: String) -> SeqError { SeqError(.format, "safetensors: \(what)") }

    /// N from the first 8 bytes, checked against the `total` size of the file.
    static func headerLength(_ first: UnsafeBufferPointer<UInt8>, total: Int) throws -> Int {
        if total < 8 {
            throw formatError("\(total) bytes is too short for the 8-byte header length: truncated or not a safetensors file")
        }
        var n: UInt64 = 0
        for i in (0 ..< 8).reversed() { n = n << 8 | UInt64(first[i]) }
        if n > UInt64(maximumHeaderLength) {
            throw formatError("header length \(n) exceeds the limit of \(maximumHeaderLength) bytes: "
                              + "corrupt or not a safetensors file" + kindHint(first))
        }
        if Int(n) > total - 8 {
            throw formatError("header length \(n) exceeds the \(total - 8) bytes after the length field: truncated file"
                              + kindHint(first))
        }
        if n < 2 { throw formatError("header length \(n) cannot hold a JSON object") }
        return Int(n)
    }

    /// A hint for files of another kind that are often confused with safetensors.
    static func kindHint(_ first: UnsafeBufferPointer<UInt8>) -> String {
        if first.count >= 4 && first[0] == 0x50 && first[1] == 0x4B && first[2] == 3 && first[3] == 4 {
            return " (it starts like a zip archive: a PyTorch .pt/.pth checkpoint?)"
        }
        if first.count >= 2 && first[0] == 0x80 && (2 ... 5).contains(first[1]) {
            return " (it starts like a Python pickle)"
        }
        return ""
    }

    /// Validates the JSON header against `dataLength` bytes of tensor data.
    static func parseHeader(_ header: UnsafeBufferPointer<UInt8>, dataLength: Int) throws -> Layout {
        let root: JSONValue
        do {
            root = try JSONValue.parse(header)
        } catch let error as SeqError {
            throw formatError("the header is not valid JSON: \(error.message)")
        }
        guard let object = root.object else {
            throw formatError("the header is \(root.kindDescription), expected a JSON object")
        }
        var layout = Layout(metadata: [:], tensors: [])
        for name in object.keys {
            let value = object[name] ?? .null
            if name == "__metadata__" {
                guard let map = value.object else {
                    throw formatError("'__metadata__' is \(value.kindDescription), expected an object of strings")
                }
                for key in map.keys {
                    guard let s = map[key]?.string else {
                        throw formatError("'__metadata__' entry '\(key)' is \(map[key]?.kindDescription ?? "missing"), expected a string")
                    }
                    layout.metadata[key] = s
                }
                continue
            }
            layout.tensors.append(try tensorInfo(name, value, dataLength: dataLength))
        }
        // The tensors must tile the data region exactly, in offset order.
        layout.tensors.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previous = ""
        for t in layout.tensors {
            if t.begin < covered {
                throw formatError("tensors '\(previous)' and '\(t.name)' overlap (data_offsets \(t.begin) < \(covered))")
            }
            if t.begin > covered {
                throw formatError("\(t.begin - covered) bytes of the data region before tensor '\(t.name)' belong to no tensor")
            }
            covered = t.end
            previous = t.name
        }
        if covered != dataLength {
            throw formatError("the tensors cover \(covered) bytes but \(dataLength) bytes of data follow the header")
        }
        return layout
    }

    static func tensorInfo(_ name: String, _ value: JSONValue, dataLength: Int) throws
        -> (name: String, dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int) {
        guard let info = value.object else {
            throw formatError("tensor '\(name)' is \(value.kindDescription), expected an object with dtype, shape and data_offsets")
        }
        guard let dtypeName = info["dtype"]?.string else {
            throw formatError("tensor '\(name)': 'dtype' is \(info["dtype"]?.kindDescription ?? "missing"), expected a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw formatError("tensor '\(name)': unknown dtype '\(dtypeName)' (known: \(known))")
        }
        guard let shapeItems = info["shape"]?.array else {
            throw formatError("tensor '\(name)': 'shape' is \(info["shape"]?.kindDescription ?? "missing"), expected an array")
        }
        var shape: [Int] = []
        var count = 1
        for item in shapeItems {
            guard let d = item.integer, d >= 0 else {
                throw formatError("tensor '\(name)': shape entries must be non-negative integers, got \(item.serialized())")
            }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw formatError("tensor '\(name)': shape \(shapeItems.map { $0.serialized() }) overflows") }
            count = p
            shape.append(d)
        }
        guard let offsets = info["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].integer, let end = offsets[1].integer, begin >= 0, end >= begin else {
            throw formatError("tensor '\(name)': 'data_offsets' must be [begin, end] with 0 ≤ begin ≤ end, got "
                              + (info["data_offsets"]?.serialized() ?? "nothing"))
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        if overflow || bytes != end - begin {
            throw formatError("tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs "
                              + (overflow ? "more bytes than addressable" : "\(bytes) bytes")
                              + ", but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        if end > dataLength {
            throw formatError("tensor '\(name)': data_offsets [\(begin), \(end)] reach past the \(dataLength) bytes "
                              + "of tensor data: truncated file")
        }
        return (name, dtype, shape, begin, end)
    }

    // MARK: Values

    /// A floating-point tensor (F16, BF16, F32 or F64 in the file) converted to `Scalar`.
    @_specialize(where Scalar == Float)
    public func tensor<Scalar: SeqScalar>(_ name: String, as: Scalar.Type = Scalar.self) throws -> Tensor<Scalar> {
        let e = try entry(name)
        switch e.dtype {
        case .f32, .f64, .f16, .bf16: break
        default:
            throw SeqError(.format, "safetensors: tensor '\(name)' has dtype \(e.dtype.rawValue); "
                           + "a floating-point tensor (F16, BF16, F32, F64) was expected")
        }
        let n = e.elementCount
        if n > Limits.maxElements {
            throw SeqError(.resourceLimit, "safetensors: tensor '\(name)' has \(n) elements, more than \(Limits.maxElements)")
        }
        let out = [Scalar](unsafeUninitializedCapacity: n) { out, initialized in
            e.bytes.withUnsafeBytes { raw in
                switch e.dtype {
                case .f32:
                    #if _endian(little)
                    // A model's tensors are F32 and so are its parameters: the bytes are the floats.
                    if Scalar.self == Float.self {
                        UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0 ..< 4 * n]))
                        return
                    }
                    #endif
                    for i in 0 ..< n { out[i] = Scalar(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
                case .f64:
                    for i in 0 ..< n { out[i] = Scalar(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                case .bf16:
                    for i in 0 ..< n {
                        let h = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        out[i] = Scalar(Float(bitPattern: UInt32(h) << 16))
                    }
                case .f16:
                    for i in 0 ..< n {
                        out[i] = Scalar(Self.halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    }
                default:
                    out.initialize(repeating: 0)  // unreachable: the dtype was checked above
                }
            }
            initialized = n
        }
        return Tensor(unchecked: e.shape, data: out)
    }

    /// An integer tensor (I32 or I64 in the file) as Int64, with its shape.
    public func integers(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let e = try entry(name)
        let n = e.elementCount
        switch e.dtype {
        case .i64:
            let v = e.bytes.withUnsafeBytes { raw in
                (0 ..< n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            }
            return (e.shape, v)
        case .i32:
            let v = e.bytes.withUnsafeBytes { raw in
                (0 ..< n).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            }
            return (e.shape, v)
        default:
            throw SeqError(.format, "safetensors: tensor '\(name)' has dtype \(e.dtype.rawValue); an integer tensor (I32, I64) was expected")
        }
    }

    /// IEEE binary16 → binary32 (exact; subnormals, infinities and NaN included).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int(h >> 10) & 0x1F
        let fraction = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | fraction << 13) }
        if exponent == 0 {
            let magnitude = Float(fraction) * 0x1p-24                // subnormal (or zero)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | fraction << 13)
    }

    // MARK: Building

    private mutating func append(_ entry: SafeTensorsEntry) throws {
        if entry.name.isEmpty || entry.name == "__metadata__" {
            throw SeqError.invalid("name", expected: "a non-empty tensor name other than '__metadata__'", got: "'\(entry.name)'")
        }
        if index[entry.name] != nil {
            throw SeqError.invalid("name", expected: "a name not yet in the file", got: "'\(entry.name)'")
        }
        index[entry.name] = entries.count
        entries.append(entry)
    }

    /// Adds a tensor, stored as `dtype` (F32 or F64; by default F32 for Float and F64 for Double).
    @_specialize(where Scalar == Float)
    public mutating func add<Scalar: SeqScalar>(_ name: String, _ tensor: Tensor<Scalar>,
                                                dtype: SafeTensorsDType? = nil) throws {
        let n = try Check.product(tensor.shape, "\(name).shape")
        try Check.count(tensor.data.count, n, name, shape: "shape \(tensor.shape)")
        let dtype = dtype ?? (MemoryLayout<Scalar>.size == 4 ? .f32 : .f64)
        var bytes = [UInt8](repeating: 0, count: n * dtype.byteSize)
        switch dtype {
        case .f32:
            bytes.withUnsafeMutableBytes { raw in
                for i in 0 ..< n { raw.storeBytes(of: Float(tensor.data[i]).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            }
        case .f64:
            bytes.withUnsafeMutableBytes { raw in
                for i in 0 ..< n { raw.storeBytes(of: Double(tensor.data[i]).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
            }
        default:
            throw SeqError.invalid("dtype", expected: "F32 or F64 for a floating-point tensor", got: dtype.rawValue)
        }
        try append(SafeTensorsEntry(name: name, dtype: dtype, shape: tensor.shape, bytes: bytes[...]))
    }

    /// Adds an I64 tensor (e.g. a step count, shape []).
    public mutating func add(_ name: String, shape: [Int], integers: [Int64]) throws {
        let n = try Check.product(shape, "\(name).shape")
        try Check.count(integers.count, n, name, shape: "shape \(shape)")
        var bytes = [UInt8](repeating: 0, count: 8 * n)
        bytes.withUnsafeMutableBytes { raw in
            for i in 0 ..< n { raw.storeBytes(of: integers[i].littleEndian, toByteOffset: 8 * i, as: Int64.self) }
        }
        try append(SafeTensorsEntry(name: name, dtype: .i64, shape: shape, bytes: bytes[...]))
    }

    /// Removes a tensor (no-op when absent).
    public mutating func remove(_ name: String) {
        guard let i = index[name] else { return }
        entries.remove(at: i)
        index = [:]
        for (j, e) in entries.enumerated() { index[e.name] = j }
    }

    // MARK: Writing

    /// The entries in the order the format's reference writer uses: descending dtype, then name
    /// (byte-wise).
    private var writeOrder: [SafeTensorsEntry] {
        entries.sorted { a, b in
            if a.dtype != b.dtype { return a.dtype.rank > b.dtype.rank }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The padded header for `ordered` entries.
    private func headerBytes(_ ordered: [SafeTensorsEntry]) throws -> [UInt8] {
        var root = JSONObject()
        if !metadata.isEmpty {
            var map = JSONObject()
            for key in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                map[key] = .string(metadata[key] ?? "")
            }
            root["__metadata__"] = .object(map)
        }
        var offset = 0
        for e in ordered {
            root[e.name] = .object(JSONObject([
                ("dtype", .string(e.dtype.rawValue)),
                ("shape", .array(e.shape.map { .number(String($0)) })),
                ("data_offsets", .array([.number(String(offset)), .number(String(offset + e.bytes.count))])),
            ]))
            offset += e.bytes.count
        }
        var header = Array(JSONValue.object(root).serialized().utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        if header.count > Self.maximumHeaderLength {
            throw SeqError(.resourceLimit, "safetensors: the header would be \(header.count) bytes, more than \(Self.maximumHeaderLength)")
        }
        return header
    }

    private static func lengthField(_ n: Int) -> [UInt8] {
        (0 ..< 8).map { UInt8(truncatingIfNeeded: UInt64(n) >> (8 * UInt64($0))) }
    }

    /// The complete file as bytes.
    public func encoded() throws -> [UInt8] {
        let ordered = writeOrder
        let header = try headerBytes(ordered)
        var out = Self.lengthField(header.count)
        out.reserveCapacity(8 + header.count + ordered.reduce(0) { $0 + $1.bytes.count })
        out += header
        for e in ordered { out += e.bytes }
        return out
    }

    /// Writes the file to `path` atomically: the previous file stays intact if anything fails.
    public func save(_ path: String) throws {
        let ordered = writeOrder
        let header = try headerBytes(ordered)
        try SeqFile.writeAtomically(path) { sink in
            try sink.write(Self.lengthField(header.count))
            try sink.write(header)
            for e in ordered { try e.bytes.withUnsafeBytes { try sink.write($0) } }
        }
    }
}
