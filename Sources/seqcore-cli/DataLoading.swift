import ArgumentParser
import Foundation
import SeqCore

/// Reading the command line's inputs: text files, CSV tables, NumPy .npy arrays. Every failure is a
/// `CLIError` naming the file (and the line, for CSV).
enum DataLoading {
    static func readText(_ path: String) throws -> String {
        try Files.checkRegularFile(path)
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path): permission denied") }
        guard let text = String(data: data, encoding: .utf8) else { throw CLIError("\(path) is not UTF-8 text") }
        return text
    }

    /// A numeric table: one row per line, values separated by a comma, semicolon or tab, or by
    /// spaces. Empty lines and lines starting with # are skipped; a first line that is not numeric
    /// is a header. Rows may differ in length (ragged sequences).
    static func readCSV(_ path: String) throws -> [[Double]] {
        var rows: [[Double]] = []
        var text = try readText(path)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }   // the byte-order mark some spreadsheets write
        // Lines end in \n, \r\n or \r. Swift reads "\r\n" as one Character, so splitting on "\n"
        // alone would see a Windows file as a single line.
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            // Between two commas (semicolons, tabs) an empty cell is a missing value: dropping it
            // would shift every later value into the wrong column. Spaces only pad.
            var cells: [String] = []
            for piece in trimmed.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == ";" || $0 == "\t" }) {
                let words = piece.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                cells += words.isEmpty ? [""] : words
            }
            let values = cells.map { Double($0) }
            if let k = cells.indices.first(where: { values[$0] == nil && !cells[$0].isEmpty }) {
                if rows.isEmpty && i == 0 { continue }   // header
                throw CLIError("\(path), line \(i + 1): value \(k + 1), '\(cells[k])', is not a number")
            }
            if let k = cells.firstIndex(where: \.isEmpty) { throw CLIError("\(path), line \(i + 1): value \(k + 1) is empty") }
            let numbers = values.map { $0! }
            if let j = numbers.firstIndex(where: { !$0.isFinite }) {
                throw CLIError("\(path), line \(i + 1): value \(j + 1) is not finite")
            }
            rows.append(numbers)
        }
        if rows.isEmpty { throw CLIError("\(path) holds no rows of numbers") }
        return rows
    }

    /// A NumPy .npy array (format versions 1–3, C order; float32/64, int8–64, uint8–64, bool) as Doubles.
    static func readNPY(_ path: String) throws -> (shape: [Int], values: [Double]) {
        try Files.checkRegularFile(path)
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path): permission denied") }
        let bytes = [UInt8](data)
        let bad = { (why: String) in CLIError("\(path) is not a valid .npy file: \(why)") }
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1 ..< 6]) == Array("NUMPY".utf8) else { throw bad("no NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated header") }
            headerLength = (0 ..< 4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }; headerStart = 12
        default: throw bad("format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw bad("truncated header") }
        let header = String(decoding: bytes[headerStart ..< headerStart + headerLength], as: UTF8.self)
        func value(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = value("descr"), let q1 = descrField.firstIndex(of: "'"),
              let q2 = descrField[descrField.index(after: q1)...].firstIndex(of: "'") else { throw bad("no dtype") }
        let descr = String(descrField[descrField.index(after: q1) ..< q2])
        if value("fortran_order")?.hasPrefix("True") == true { throw CLIError("\(path): Fortran-ordered arrays are not supported (save with np.ascontiguousarray)") }
        guard let shapeField = value("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else { throw bad("no shape") }
        let shapeText = String(shapeField[open ... close])
        let tooLarge = CLIError("\(path): shape \(shapeText) is too large (more than \(Limits.maxElements) values)")
        let shape = try shapeField[shapeField.index(after: open) ..< close].split(separator: ",").map { s -> Int in
            let digits = s.trimmingCharacters(in: .whitespaces)
            if let v = Int(digits), v >= 0 { return v }
            if !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) { throw tooLarge }
            throw bad("shape \(shapeText)")
        }
        // Overflow-checked, and over the non-zero sizes only: (huge, 0) holds no values, but its rows
        // would still be counted out one by one.
        guard Bounds.product(shape.filter { $0 > 0 }) != nil else { throw tooLarge }
        let count = shape.reduce(1, *)
        let little = descr.first != ">"
        let type = String(descr.dropFirst())
        let size: Int
        switch type {
        case "f4", "i4", "u4": size = 4
        case "f8", "i8", "u8": size = 8
        case "i2", "u2": size = 2
        case "i1", "u1", "b1": size = 1
        default: throw CLIError("\(path): dtype '\(descr)' is not supported (use float32, float64, integers or bool)")
        }
        let start = headerStart + headerLength
        // Before allocating: the shape must describe data the file holds.
        guard bytes.count - start >= count * size else {
            throw bad("shape \(shapeText) announces \(count) values of \(size) bytes, \(bytes.count - start) bytes present")
        }
        var values = [Double](repeating: 0, count: count)
        for i in 0 ..< count {
            var raw: UInt64 = 0
            for k in 0 ..< size {
                let byte = UInt64(bytes[start + i * size + (little ? k : size - 1 - k)])
                raw |= byte << (8 * UInt64(k))
            }
            switch type {
            case "f4": values[i] = Double(Float(bitPattern: UInt32(raw)))
            case "f8": values[i] = Double(bitPattern: raw)
            case "i1": values[i] = Double(Int8(truncatingIfNeeded: raw))
            case "i2": values[i] = Double(Int16(truncatingIfNeeded: raw))
            case "i4": values[i] = Double(Int32(truncatingIfNeeded: raw))
            case "i8": values[i] = Double(Int64(bitPattern: raw))
            default: values[i] = Double(raw)
            }
            if !values[i].isFinite { throw CLIError("\(path): value \(i) is not finite") }
        }
        return (shape, values)
    }

    static func isNPY(_ path: String) -> Bool { path.lowercased().hasSuffix(".npy") }

    /// A table from a .npy (by extension) or CSV file, as rows: an .npy of shape [N, …] gives N rows
    /// of its flattened trailing dimensions. `shape` is the .npy's shape (nil for CSV).
    static func readRows(_ path: String) throws -> (rows: [[Double]], shape: [Int]?) {
        if isNPY(path) {
            let (shape, values) = try readNPY(path)
            guard let n = shape.first, n > 0 else { throw CLIError("\(path): expected an array of shape [N, …] with N > 0, got \(shape)") }
            guard !values.isEmpty else { throw CLIError("\(path): an array of shape \(shape) holds no values") }
            let width = values.count / n
            return ((0 ..< n).map { Array(values[$0 * width ..< ($0 + 1) * width]) }, shape)
        }
        return (try readCSV(path), nil)
    }
}

/// Sequences of feature vectors and their targets, for taggers, classifiers and regressors.
struct SequenceData {
    enum Task: String, CaseIterable {
        case tag, classify, regress
    }

    /// Each sequence's steps × features values, row-major; lengths may differ.
    var inputs: [[Float]]
    var features: Int
    /// Per sequence: one class id (classify), K values (regress), or one label per step (tag).
    var targets: [[Double]]
    var task: Task

    var count: Int { inputs.count }
    func length(_ i: Int) -> Int { inputs[i].count / features }

    /// Most classes (or tags) a target file may call for: the model gets one output per class, and
    /// ids beyond this are typos or data in the wrong column, not a real task.
    static let maxLabel = (1 << 16) - 1

    /// Reads inputs and targets. Inputs: .npy [N, T] or [N, T, I], or CSV with one sequence per row
    /// (T·I values, I = `features`, default 1). Targets: .npy or CSV with one row per sequence.
    /// `features` is the --features option: with an .npy it may only repeat what the shape says.
    static func load(inputs: String, targets: String, task: Task, features: Int?) throws -> SequenceData {
        let (xRows, xShape) = try DataLoading.readRows(inputs)
        let (yRows, _) = try DataLoading.readRows(targets)
        var i = features ?? 1
        if let xShape {
            guard xShape.count == 2 || xShape.count == 3 else {
                throw CLIError("\(inputs): expected an array of shape [N, T] or [N, T, I], got \(xShape)")
            }
            let fromShape = xShape.count == 3 ? xShape[2] : 1
            if let features, features != fromShape {
                throw ValidationError("--features \(features) does not match \(inputs), whose shape \(xShape) gives \(fromShape) "
                                      + "feature\(fromShape == 1 ? "" : "s") per step (--features is for CSV inputs)")
            }
            i = fromShape
        }
        guard i >= 1 else { throw ValidationError("--features must be positive (got \(i))") }
        guard xRows.count == yRows.count else {
            throw CLIError("\(inputs) holds \(xRows.count) sequences but \(targets) holds \(yRows.count) rows of targets")
        }
        /// A class id or tag as the model needs it: an integer in 0…maxLabel (a Double that is not
        /// would trap when converted to Int, or ask for an absurdly large output layer).
        func checkLabel(_ v: Double, row: Int, _ what: String) throws {
            guard v >= 0, v == v.rounded() else {
                throw CLIError("\(targets), row \(row): \(what) \(Bounds.describe(v)) is not an integer ≥ 0")
            }
            guard v <= Double(maxLabel) else {
                throw CLIError("\(targets), row \(row): \(what) \(Bounds.describe(v)) is too large (at most \(maxLabel))")
            }
        }
        var data = SequenceData(inputs: [], features: i, targets: yRows, task: task)
        for (n, row) in xRows.enumerated() {
            guard !row.isEmpty, row.count % i == 0 else {
                throw CLIError("\(inputs), sequence \(n + 1): \(row.count) values is not a whole number of steps of \(i) features")
            }
            data.inputs.append(row.map(Float.init))
            switch task {
            case .classify:
                guard yRows[n].count == 1 else {
                    throw CLIError("\(targets), row \(n + 1): expected one class id (an integer ≥ 0), got \(yRows[n].count) values")
                }
                try checkLabel(yRows[n][0], row: n + 1, "class id")
            case .tag:
                guard yRows[n].count >= row.count / i else {
                    throw CLIError("\(targets), row \(n + 1): \(yRows[n].count) labels for a sequence of \(row.count / i) steps")
                }
                data.targets[n] = Array(yRows[n].prefix(row.count / i))
                for v in data.targets[n] { try checkLabel(v, row: n + 1, "tag") }
            case .regress:
                guard yRows[n].count == yRows[0].count else {
                    throw CLIError("\(targets), row \(n + 1): \(yRows[n].count) values, row 1 has \(yRows[0].count)")
                }
            }
        }
        return data
    }

    /// The most steps of any sequence.
    var longest: Int { inputs.map(\.count).max()! / features }

    /// Output size and kind the data calls for: binary tags (K = 1), classes (K = largest id + 1), or K values.
    var output: (size: Int, kind: OutputKind) {
        switch task {
        case .regress: return (targets[0].count, .regression)
        case .classify: return (Int(targets.map { $0[0] }.max()!) + 1, .classes)
        case .tag:
            let top = Int(targets.flatMap { $0 }.max() ?? 0)
            return top <= 1 ? (1, .binary) : (top + 1, .classes)
        }
    }

    /// A padded time-major batch of the sequences `indices`, for a model whose head is `output`.
    func batch(_ indices: [Int], output: (size: Int, kind: OutputKind)) throws -> SequenceBatch<Float> {
        let b = indices.count, steps = indices.map(length).max()!
        guard Bounds.product([steps, b, features]) != nil else {
            throw CLIError("a batch of \(b) sequences of up to \(steps) steps × \(features) features is more than \(Limits.maxElements) values")
        }
        var x = [Float](repeating: 0, count: steps * b * features)
        for (r, n) in indices.enumerated() {
            for t in 0 ..< length(n) {
                for f in 0 ..< features { x[(t * b + r) * features + f] = inputs[n][t * features + f] }
            }
        }
        let lengths = indices.map(length)
        let target: SequenceTarget<Float>
        switch (task, output.kind) {
        case (.classify, _):
            target = .classes(indices.map { Int(targets[$0][0]) })
        case (.regress, _):
            target = .values(try Tensor(shape: [b, output.size], data: indices.flatMap { targets[$0].map(Float.init) }))
        case (.tag, .binary):
            var y = [Float](repeating: 0, count: steps * b)
            for (r, n) in indices.enumerated() { for t in 0 ..< length(n) { y[t * b + r] = Float(targets[n][t]) } }
            target = .values(try Tensor(shape: [steps, b, 1], data: y))
        case (.tag, _):
            var y = [Int](repeating: 0, count: steps * b)
            for (r, n) in indices.enumerated() { for t in 0 ..< length(n) { y[t * b + r] = Int(targets[n][t]) } }
            target = .classes(y)
        }
        return SequenceBatch(input: .features(try Tensor(shape: [steps, b, features], data: x)), lengths: lengths, target: target)
    }
}
