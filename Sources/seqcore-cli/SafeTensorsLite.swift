import Foundation

// TEMPORARY: a minimal safetensors reader/writer for the command line, until SeqCore's persistence
// (safetensors save/load) lands on main. Only `ModelFile.swift` calls it; delete this file and
// point `ModelFile` at the library then.
//
// Format: 8-byte little-endian header length N, then N bytes of JSON
//   {"__metadata__": {"key": "value", …}, "<name>": {"dtype": "F32", "shape": […], "data_offsets": [begin, end]}, …}
// then the tensor bytes, little-endian, offsets relative to the end of the header.
enum SafeTensorsLite {
    struct Entry {
        var name: String
        var shape: [Int]
        var values: [Float]
    }

    static func write(_ entries: [Entry], metadata: [String: String], to path: String) throws {
        try Files.checkWritable(path)
        var header: [String: Any] = ["__metadata__": metadata]
        var data = Data()
        for e in entries {
            let begin = data.count
            e.values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }   // x86-64 and arm64 are little-endian
            header[e.name] = ["dtype": "F32", "shape": e.shape, "data_offsets": [begin, data.count]] as [String: Any]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // pad with spaces, as the format allows
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(data)
        do {
            try file.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CLIError("cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func read(_ path: String) throws -> (entries: [Entry], metadata: [String: String]) {
        guard let file = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): \(FileManager.default.fileExists(atPath: path) ? "permission denied or not a file" : "no such file")")
        }
        let bad = CLIError("\(path) is not a safetensors model file")
        guard file.count >= 8 else { throw bad }
        let n = file.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(file.count - 8), n < 100_000_000 else { throw bad }
        let start = 8 + Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: file.subdata(in: 8 ..< start)) as? [String: Any] else { throw bad }
        let metadata = header["__metadata__"] as? [String: String] ?? [:]
        var entries: [Entry] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], start + offsets[1] <= file.count else { throw bad }
            guard dtype == "F32" else { throw CLIError("\(path): tensor '\(name)' is \(dtype); only F32 is supported") }
            let count = shape.reduce(1, *)
            guard count * 4 == offsets[1] - offsets[0] else { throw bad }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                file.copyBytes(to: dst.bindMemory(to: UInt8.self), from: (start + offsets[0]) ..< (start + offsets[1]))
            }
            entries.append(Entry(name: name, shape: shape, values: values))
        }
        return (entries, metadata)
    }
}
