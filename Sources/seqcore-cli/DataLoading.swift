import Foundation
import SeqCore

/// Reading the command line's inputs: text files, CSV tables, NumPy .npy arrays. Every failure is a
/// `CLIError` naming the file (and the line, for CSV).
enum DataLoading {
    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): \(FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CLIError("\(path) is not UTF-8 text") }
        return text
    }

    /// A numeric table: one row per line, values separated by commas (or spaces, tabs, semicolons).
    /// Empty lines and lines starting with # are skipped; a first line that is not numeric is a header.
    /// Rows may differ in length (ragged sequences).
    static func readCSV(_ path: String) throws -> [[Double]] {
        var rows: [[Double]] = []
        for (i, line) in try readText(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == ";" })
            let values = fields.map { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) }
            if values.contains(where: { $0 == nil }) {
                if rows.isEmpty && i == 0 { continue }   // header
                let bad = fields[values.firstIndex { $0 == nil }!]
                throw CLIError("\(path), line \(i + 1): '\(bad)' is not a number")
            }
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
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): \(FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")")
        }
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
        let shape = try shapeField[shapeField.index(after: open) ..< close].split(separator: ",").map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)), v >= 0 else { throw bad("shape \(shapeField)") }
            return v
        }
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
        guard bytes.count - start >= count * size else { throw bad("\(count) values of \(size) bytes announced, \(bytes.count - start) bytes present") }
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

    /// A table from a .npy (by extension) or CSV file, as rows: an .npy of shape [N, …] gives N rows
    /// of its flattened trailing dimensions.
    static func readRows(_ path: String) throws -> (rows: [[Double]], trailingShape: [Int]?) {
        if path.lowercased().hasSuffix(".npy") {
            let (shape, values) = try readNPY(path)
            guard let n = shape.first, n > 0 else { throw CLIError("\(path): expected an array of shape [N, …] with N > 0, got \(shape)") }
            let width = values.count / n
            return ((0 ..< n).map { Array(values[$0 * width ..< ($0 + 1) * width]) }, Array(shape.dropFirst()))
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

    /// Reads inputs and targets. Inputs: .npy [N, T] or [N, T, I], or CSV with one sequence per row
    /// (T·I values, I = `features`). Targets: .npy or CSV with one row per sequence.
    static func load(inputs: String, targets: String, task: Task, features: Int?) throws -> SequenceData {
        let (xRows, xShape) = try DataLoading.readRows(inputs)
        let (yRows, _) = try DataLoading.readRows(targets)
        let i = features ?? (xShape.map { $0.count >= 2 ? $0.last! : 1 } ?? 1)
        guard i >= 1 else { throw CLIError("--features must be positive") }
        guard xRows.count == yRows.count else {
            throw CLIError("\(inputs) holds \(xRows.count) sequences but \(targets) holds \(yRows.count) rows of targets")
        }
        var data = SequenceData(inputs: [], features: i, targets: yRows, task: task)
        for (n, row) in xRows.enumerated() {
            guard !row.isEmpty, row.count % i == 0 else {
                throw CLIError("\(inputs), sequence \(n + 1): \(row.count) values is not a whole number of steps of \(i) features")
            }
            data.inputs.append(row.map(Float.init))
            switch task {
            case .classify:
                guard yRows[n].count == 1, yRows[n][0] >= 0, yRows[n][0] == yRows[n][0].rounded() else {
                    throw CLIError("\(targets), row \(n + 1): expected one class id (an integer ≥ 0)")
                }
            case .tag:
                guard yRows[n].count >= row.count / i else {
                    throw CLIError("\(targets), row \(n + 1): \(yRows[n].count) labels for a sequence of \(row.count / i) steps")
                }
                data.targets[n] = Array(yRows[n].prefix(row.count / i))
                if data.targets[n].contains(where: { $0 < 0 || $0 != $0.rounded() }) {
                    throw CLIError("\(targets), row \(n + 1): tags must be integers ≥ 0")
                }
            case .regress:
                guard yRows[n].count == yRows[0].count else {
                    throw CLIError("\(targets), row \(n + 1): \(yRows[n].count) values, row 1 has \(yRows[0].count)")
                }
            }
        }
        return data
    }

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
