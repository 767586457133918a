import Foundation
import XCTest
import SeqCore
#if canImport(Glibc)
import Glibc
#endif

/// safetensors: round trips, byte-exact interoperability with Python's `safetensors`, hostile files
/// (truncated, corrupted, lying about sizes), atomic saves, arena and optimizer checkpoints.
final class SafeTensorsTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        let template = NSTemporaryDirectory() + "seqcore-safetensors-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard mkdtemp(&bytes) != nil else { throw SeqError(.io, "mkdtemp failed") }
        directory = String(cString: bytes)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// A small file with every kind of tensor seqcore writes.
    static func sample() throws -> SafeTensorsFile {
        var file = SafeTensorsFile()
        file.metadata["format"] = "pt"
        try file.add("weight_ih_l0", Tensor<Float>(shape: [4, 3], data: (0 ..< 12).map { Float($0) * 0.25 - 1 }))
        try file.add("bias_ih_l0", Tensor<Double>(shape: [4], data: [0.5, -2, 1e-300, .pi]))
        try file.add("optimizer.step", shape: [], integers: [42])
        try file.add("empty", Tensor<Float>(shape: [0, 3], data: []))
        try file.add("scalar", Tensor<Float>(shape: [], data: [7.5]))
        try file.add("é.unicode", Tensor<Float>(shape: [2], data: [.greatestFiniteMagnitude, -0.0]))
        return file
    }

    // MARK: Round trips and reference bytes

    func testRoundTripInMemoryAndOnDisk() throws {
        let file = try Self.sample()
        let bytes = try file.encoded()
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual(headerLength % 8, 0, "the header is padded so the data starts 8-byte aligned")
        XCTAssertEqual(bytes.count, 8 + headerLength + 100, "data: 4·12 + 8·4 + 8 + 0 + 4 + 8 = 100 bytes")
        let back = try SafeTensorsFile(bytes: bytes)
        XCTAssertEqual(back, file)
        XCTAssertEqual(back.metadata, ["format": "pt"])
        XCTAssertEqual(try back.tensor("weight_ih_l0", as: Float.self), try Tensor(shape: [4, 3], data: (0 ..< 12).map { Float($0) * 0.25 - 1 }))
        XCTAssertEqual(try back.tensor("bias_ih_l0", as: Double.self).data, [0.5, -2, 1e-300, .pi], "F64 is exact")
        XCTAssertEqual(try back.tensor("bias_ih_l0", as: Float.self).data, [0.5, -2, 0, Float(Double.pi)])
        XCTAssertEqual(try back.integers("optimizer.step").values, [42])
        XCTAssertEqual(try back.integers("optimizer.step").shape, [])
        XCTAssertEqual(try back.tensor("empty", as: Float.self).shape, [0, 3])
        XCTAssertEqual(try back.tensor("scalar", as: Float.self).data, [7.5])
        let u = try back.tensor("é.unicode", as: Float.self).data
        XCTAssertEqual(u[0], .greatestFiniteMagnitude)
        XCTAssertEqual(u[1].sign, .minus)
        // Writer order: I64, then F64, then F32 by byte-wise name.
        XCTAssertEqual(back.names, ["optimizer.step", "bias_ih_l0", "empty", "scalar", "weight_ih_l0", "é.unicode"])

        try file.save(path("model.safetensors"))
        let loaded = try SafeTensorsFile.load(path("model.safetensors"))
        XCTAssertEqual(loaded, file)
        XCTAssertEqual(try SeqFile.read(path("model.safetensors")), bytes, "save writes exactly encoded()")
        XCTAssertThrowsError(try back.entry("nope")) { XCTAssertEqual(($0 as? SeqError)?.kind, .notFound) }
        XCTAssertThrowsError(try back.tensor("optimizer.step", as: Float.self)) { e in
            XCTAssertTrue("\(e)".contains("I64"), "\(e)")
        }
        XCTAssertThrowsError(try back.integers("scalar"))
    }

    /// The format's reference serialisations (the Rust crate's own test vectors).
    func testReferenceByteVectors() throws {
        XCTAssertEqual(try SafeTensorsFile().encoded(), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        var framework = SafeTensorsFile()
        framework.metadata["framework"] = "pt"
        XCTAssertEqual(try framework.encoded(), [40, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{"framework":"pt"}}     "#.utf8))
        var one = SafeTensorsFile()
        try one.add("attn.0", Tensor<Float>(shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5]))
        let expected: [UInt8] = [64, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#.utf8)
            + [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]
        XCTAssertEqual(try one.encoded(), expected)
    }

    /// Written by Python: safetensors.numpy.save({'a': arange(6, f32).reshape(2,3)/4 − 0.5,
    /// 'b': f64 [−1.5, 2.25], 'n': i64 [7, −3], 'h': f16 [1, −0.5, 65504, 2^−24]}, metadata={'format': 'np'}).
    static let pythonWritten = "00010000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a226e70227d2c226e223a7b226474797065223a22493634222c227368617065223a5b325d2c22646174615f6f666673657473223a5b302c31365d7d2c2262223a7b226474797065223a22463634222c227368617065223a5b325d2c22646174615f6f666673657473223a5b31362c33325d7d2c2261223a7b226474797065223a22463332222c227368617065223a5b322c335d2c22646174615f6f666673657473223a5b33322c35365d7d2c2268223a7b226474797065223a22463136222c227368617065223a5b345d2c22646174615f6f666673657473223a5b35362c36345d7d7d2020200700000000000000fdffffffffffffff000000000000f8bf0000000000000240000000bf000080be000000000000803e0000003f0000403f003c00b8ff7b0100"

    static func hex(_ s: String) -> [UInt8] {
        let digits = Array(s.utf8).map { $0 <= 57 ? $0 - 48 : $0 - 87 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    func testReadsAFileWrittenByPythonAndReencodesItByteForByte() throws {
        let bytes = Self.hex(Self.pythonWritten)
        let file = try SafeTensorsFile(bytes: bytes)
        XCTAssertEqual(file.metadata, ["format": "np"])
        XCTAssertEqual(file.names, ["n", "b", "a", "h"])
        XCTAssertEqual(try file.tensor("a", as: Float.self), try Tensor(shape: [2, 3], data: [-0.5, -0.25, 0, 0.25, 0.5, 0.75]))
        XCTAssertEqual(try file.tensor("b", as: Double.self).data, [-1.5, 2.25])
        XCTAssertEqual(try file.integers("n").values, [7, -3])
        XCTAssertEqual(try file.tensor("h", as: Float.self).data, [1, -0.5, 65504, 0x1p-24], "F16, a subnormal included")
        XCTAssertEqual(try file.encoded(), bytes, "our writer reproduces Python's bytes")
    }

    func testHalfPrecisionConversions() throws {
        // F16: 1, −2, +inf, NaN, smallest normal, largest subnormal; BF16: 1, −2.5, 3.140625.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7C00, 0x7E00, 0x0400, 0x03FF]
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049]
        func file(_ dtype: String, _ words: [UInt16]) -> [UInt8] {
            var header = Array(#"{"x":{"dtype":"\#(dtype)","shape":[\#(words.count)],"data_offsets":[0,\#(2 * words.count)]}}"#.utf8)
            while header.count % 8 != 0 { header.append(32) }
            return (0 ..< 8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header
                + words.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        }
        let h = try SafeTensorsFile(bytes: file("F16", f16)).tensor("x", as: Float.self).data
        XCTAssertEqual(Array(h[0 ..< 3]), [1, -2, .infinity])
        XCTAssertTrue(h[3].isNaN)
        XCTAssertEqual(h[4], 0x1p-14)
        XCTAssertEqual(h[5], 0x1.ff8p-15)
        XCTAssertEqual(try SafeTensorsFile(bytes: file("BF16", bf16)).tensor("x", as: Double.self).data, [1, -2.5, 3.140625])
    }

    // MARK: Interoperability with Python's safetensors (skipped without it)

    /// A Python with numpy and safetensors: $SEQCORE_PYTHON when set (only it), else the reference
    /// venv or python3.
    static let python: String? = {
        var candidates = ["/root/venv-ref/bin/python", "/usr/bin/python3", "/usr/local/bin/python3"]
        if let env = ProcessInfo.processInfo.environment["SEQCORE_PYTHON"] { candidates = [env] }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? runPython(candidate, ["-c", "import numpy, safetensors.numpy"]))?.status == 0 { return candidate }
        }
        return nil
    }()

    static func runPython(_ python: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let pythonHelper = """
    import json, sys
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save, save_file
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        save_file({
            "weight": np.arange(12, dtype=np.float32).reshape(3, 4) * 0.25 - 1.0,
            "bias": np.array([0.5, -2.0, 1e-300, 3.0], dtype=np.float64),
            "half": np.array([1.0, -2.5, 0.0, 65504.0], dtype=np.float16),
            "count": np.array(42, dtype=np.int64),
            "labels": np.array([[1, -2], [3, 4]], dtype=np.int32),
            "nothing": np.zeros((0, 5), dtype=np.float32),
        }, path, metadata={"format": "np", "note": "written by safetensors"})
        print("written")
    else:
        data = open(path, "rb").read()
        out = {}
        with safe_open(path, framework="np") as f:
            meta = f.metadata()
            for k in f.keys():
                t = f.get_tensor(k)
                out[k] = {"dtype": str(t.dtype), "shape": list(t.shape), "values": [float(x) for x in t.reshape(-1)]}
        same = save(load_file(path), metadata=meta) == data
        print(json.dumps({"metadata": meta, "tensors": out, "byte_identical": same}))
    """

    func testPythonReadsOurFilesByteForByte() throws {
        guard let python = Self.python else { throw XCTSkip("no Python with numpy and safetensors") }
        let file = try Self.sample()
        try file.save(path("ours.safetensors"))
        let (status, output) = try Self.runPython(python, ["-c", Self.pythonHelper, "read", path("ours.safetensors")])
        XCTAssertEqual(status, 0, output)
        guard let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
              let tensors = report["tensors"] as? [String: [String: Any]] else {
            return XCTFail("unexpected Python output: \(output)")
        }
        XCTAssertEqual(report["byte_identical"] as? Bool, true, "Python's writer produces our bytes for the same tensors")
        XCTAssertEqual(report["metadata"] as? [String: String], ["format": "pt"])
        XCTAssertEqual(Set(tensors.keys), Set(file.names))
        let expectations: [(String, String, [Int], [Double])] = [
            ("weight_ih_l0", "float32", [4, 3], (0 ..< 12).map { Double($0) * 0.25 - 1 }),
            ("bias_ih_l0", "float64", [4], [0.5, -2, 1e-300, .pi]),
            ("optimizer.step", "int64", [], [42]),
            ("empty", "float32", [0, 3], []),
            ("scalar", "float32", [], [7.5]),
            ("é.unicode", "float32", [2], [Double(Float.greatestFiniteMagnitude), 0]),
        ]
        for (name, dtype, shape, values) in expectations {
            let t = tensors[name] ?? [:]
            XCTAssertEqual(t["dtype"] as? String, dtype, name)
            XCTAssertEqual(t["shape"] as? [Int], shape, name)
            // (Foundation's JSON parser may round the last digit of large values.)
            TrainingTestSupport.assertClose(TrainingTestSupport.doubles(t["values"]), values, relative: 1e-15,
                                            absolute: 0, "Python's view of '\(name)'")
        }
    }

    func testWeReadPythonWrittenFiles() throws {
        guard let python = Self.python else { throw XCTSkip("no Python with numpy and safetensors") }
        let (status, output) = try Self.runPython(python, ["-c", Self.pythonHelper, "write", path("py.safetensors")])
        XCTAssertEqual(status, 0, output)
        let file = try SafeTensorsFile.load(path("py.safetensors"))
        XCTAssertEqual(file.metadata, ["format": "np", "note": "written by safetensors"])
        XCTAssertEqual(try file.tensor("weight", as: Float.self), try Tensor(shape: [3, 4], data: (0 ..< 12).map { Float($0) * 0.25 - 1 }))
        XCTAssertEqual(try file.tensor("bias", as: Double.self).data, [0.5, -2.0, 1e-300, 3.0])
        XCTAssertEqual(try file.tensor("half", as: Float.self).data, [1, -2.5, 0, 65504])
        XCTAssertEqual(try file.integers("count").values, [42])
        XCTAssertEqual(try file.integers("labels").values, [1, -2, 3, 4])
        XCTAssertEqual(try file.integers("labels").shape, [2, 2])
        XCTAssertEqual(try file.tensor("nothing", as: Float.self).shape, [0, 5])
        // Python orders metadata keys at random; we sort them. Everything else is byte-identical.
        let original = try SeqFile.read(path("py.safetensors"))
        let ours = try file.encoded()
        let dataBytes = file.entries.reduce(0) { $0 + $1.bytes.count }
        XCTAssertEqual(ours.count, original.count, "same header length")
        XCTAssertEqual(Array(ours.suffix(dataBytes)), Array(original.suffix(dataBytes)), "same tensor bytes, same order")
        XCTAssertEqual(try SafeTensorsFile(bytes: ours), file)
    }

    // MARK: Hostile input

    func testEveryTruncationIsAFormatError() throws {
        let bytes = try Self.sample().encoded()
        for cut in 0 ..< bytes.count {
            XCTAssertThrowsError(try SafeTensorsFile(bytes: Array(bytes[..<cut])), "prefix of \(cut) bytes accepted") { e in
                XCTAssertEqual((e as? SeqError)?.kind, .format, "cut \(cut): \(e)")
            }
        }
        // And from disk, at a spread of cut points.
        for cut in stride(from: 0, to: bytes.count, by: 13) {
            try SeqFile.writeAtomically(path("cut.safetensors"), Array(bytes[..<cut]))
            XCTAssertThrowsError(try SafeTensorsFile.load(path("cut.safetensors"))) { e in
                XCTAssertEqual((e as? SeqError)?.kind, .format, "cut \(cut): \(e)")
                XCTAssertTrue("\(e)".contains("cut.safetensors"), "the message names the file: \(e)")
            }
        }
        // Extra bytes after the data are refused too.
        XCTAssertThrowsError(try SafeTensorsFile(bytes: bytes + [0])) { e in
            XCTAssertTrue("\(e)".contains("tensors cover"), "\(e)")
        }
    }

    func testRandomCorruptionThrowsOrLoadsNeverCrashes() throws {
        let bytes = try Self.sample().encoded()
        var rng = SeqRandom(seed: 77)
        var (loaded, refused) = (0, 0)
        for trial in 0 ..< 600 {
            var b = bytes
            let flips = 1 + Int(rng.next() % 6)
            for _ in 0 ..< flips {
                // Half the hits go to the first 8 bytes and the header, where the structure is.
                let limit = rng.next() % 2 == 0 ? min(b.count, 200) : b.count
                b[Int(rng.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: rng.next())
            }
            do {
                let f = try SafeTensorsFile(bytes: b)
                loaded += 1
                for e in f.entries {   // every entry must be readable or refuse cleanly
                    _ = try? f.tensor(e.name, as: Float.self)
                    _ = try? f.integers(e.name)
                }
            } catch let e as SeqError {
                XCTAssertEqual(e.kind, .format, "trial \(trial): \(e)")
                refused += 1
            }
        }
        // Random files of random sizes.
        for _ in 0 ..< 300 {
            let b = (0 ..< Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            XCTAssertThrowsError(try SafeTensorsFile(bytes: b))
        }
        XCTAssertGreaterThan(refused, 0)
        print("[SafeTensorsTests] corruption: \(loaded) loaded, \(refused) refused of 600")
    }

    /// Builds a file from a header text and `data` bytes (header padded to 8).
    static func raw(_ header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(32) }
        let n = lengthOverride ?? UInt64(h.count)
        return (0 ..< 8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    func testMalformedHeadersSayWhatIsWrong() {
        let cases: [(String, [UInt8])] = [
            ("not valid JSON", Self.raw("{\"a\":")),
            ("expected a JSON object", Self.raw("[1, 2]")),
            ("duplicate key", Self.raw(#"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
            ("unknown dtype 'F4'", Self.raw(#"{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"#, data: [0])),
            ("'dtype' is missing", Self.raw(#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("shape entries must be non-negative integers", Self.raw(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("shape entries must be non-negative integers", Self.raw(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("needs 8 bytes, but data_offsets [0, 4] span 4", Self.raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])),
            ("'data_offsets' must be [begin, end]", Self.raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0])),
            ("'data_offsets' must be [begin, end]", Self.raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, data: [0, 0, 0, 0])),
            ("overlap", Self.raw(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("belong to no tensor", Self.raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("tensors cover 4 bytes but 8", Self.raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("truncated file", Self.raw(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))),
            ("'__metadata__' entry 'k' is a number", Self.raw(#"{"__metadata__":{"k":1}}"#)),
            ("'__metadata__' is an array", Self.raw(#"{"__metadata__":[]}"#)),
            ("tensor 'a' is a string", Self.raw(#"{"a":"x"}"#)),
            ("not valid UTF-8", Self.raw("{\"a\u{FFFD}\":1}").enumerated().map { $0.offset == 11 ? 0xFF : $0.element }),
            ("nesting deeper", Self.raw(String(repeating: "[", count: 5000))),
            ("it starts like a zip archive", [0x50, 0x4B, 3, 4, 20, 0, 0, 0, 8, 0, 0, 0]),
            ("too short for the 8-byte header length", [1, 2, 3]),
            ("cannot hold a JSON object", Self.raw("", lengthOverride: 0)),
        ]
        for (expected, bytes) in cases {
            XCTAssertThrowsError(try SafeTensorsFile(bytes: bytes), "accepted a file that should fail with '\(expected)'") { e in
                XCTAssertEqual((e as? SeqError)?.kind, .format, "\(e)")
                XCTAssertTrue("\(e)".contains(expected), "expected '\(expected)' in: \(e)")
            }
        }
        // Unknown fields of a tensor entry are ignored, as the reference reader does.
        XCTAssertNoThrow(try SafeTensorsFile(bytes: Self.raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":[]}}"#, data: [0, 0, 0, 0])))
    }

    /// Headers and entries that claim absurd sizes fail fast, allocating nothing of that size.
    func testHugeClaimsAreRefusedWithoutAllocating() throws {
        let huge: [(String, [UInt8])] = [
            ("exceeds the limit", Self.raw("{}", lengthOverride: UInt64.max)),
            ("exceeds the limit", Self.raw("{}", lengthOverride: 100_000_001)),
            ("exceeds the 8 bytes after the length field", Self.raw("{}", lengthOverride: 99_999_999)),
            ("overflows", Self.raw(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#)),
            ("more bytes than addressable", Self.raw(#"{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}}"#)),
            ("reach past the 0 bytes", Self.raw(#"{"a":{"dtype":"U8","shape":[4611686018427387904],"data_offsets":[0,4611686018427387904]}}"#)),
            ("must be [begin, end]", Self.raw(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,99999999999999999999999]}}"#)),
        ]
        for (expected, bytes) in huge {
            XCTAssertThrowsError(try SafeTensorsFile(bytes: bytes)) { e in
                XCTAssertEqual((e as? SeqError)?.kind, .format, "\(e)")
                XCTAssertTrue("\(e)".contains(expected), "expected '\(expected)' in: \(e)")
            }
            try SeqFile.writeAtomically(path("huge.safetensors"), bytes)
            XCTAssertThrowsError(try SafeTensorsFile.load(path("huge.safetensors"))) { e in
                XCTAssertTrue("\(e)".contains(expected), "from disk, expected '\(expected)' in: \(e)")
            }
        }
    }

    func testWrongKindsOfFile() throws {
        XCTAssertThrowsError(try SafeTensorsFile.load(path("missing.safetensors"))) { XCTAssertEqual(($0 as? SeqError)?.kind, .io) }
        XCTAssertThrowsError(try SafeTensorsFile.load(directory)) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .io)
            XCTAssertTrue("\(e)".contains("not a regular file"), "\(e)")
        }
        try SeqFile.writeAtomically(path("text.json"), Array(#"{"hello": "world"}"#.utf8))
        XCTAssertThrowsError(try SafeTensorsFile.load(path("text.json"))) { XCTAssertEqual(($0 as? SeqError)?.kind, .format) }
    }

    // MARK: Writing

    func testWriterValidatesItsInput() throws {
        var f = SafeTensorsFile()
        try f.add("a", Tensor<Float>(shape: [1], data: [1]))
        XCTAssertThrowsError(try f.add("a", Tensor<Float>(shape: [1], data: [1]))) { XCTAssertTrue("\($0)".contains("'name'"), "\($0)") }
        XCTAssertThrowsError(try f.add("", Tensor<Float>(shape: [1], data: [1])))
        XCTAssertThrowsError(try f.add("__metadata__", Tensor<Float>(shape: [1], data: [1])))
        XCTAssertThrowsError(try f.add("b", Tensor<Float>(shape: [1], data: [1]), dtype: .i32)) { XCTAssertTrue("\($0)".contains("'dtype'"), "\($0)") }
        var broken = try Tensor<Float>(shape: [2], data: [1, 2])
        broken.data.append(3)
        XCTAssertThrowsError(try f.add("c", broken))
        XCTAssertThrowsError(try f.add("d", shape: [2], integers: [1]))
        f.remove("a")
        XCTAssertEqual(f.names, [])
        try f.add("a", Tensor<Double>(shape: [1], data: [1]), dtype: .f32)
        XCTAssertEqual(try f.entry("a").dtype, .f32)
    }

    func testSaveReplacesAtomicallyAndFailuresLeaveTheOldFile() throws {
        let target = path("model.safetensors")
        var small = SafeTensorsFile()
        try small.add("w", Tensor<Float>(shape: [2], data: [1, 2]))
        try small.save(target)
        chmod(target, 0o640)
        let before = try SeqFile.read(target)

        var big = SafeTensorsFile()
        try big.add("w", Tensor<Float>(zeros: [16_384]))

        // A write that fails midway (file size limit: EFBIG) must leave the old file and no temporary.
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = old
        limited.rlim_cur = 8192
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited), 0)
        XCTAssertThrowsError(try big.save(target)) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .io, "\(e)")
            XCTAssertTrue("\(e)".contains(target), "\(e)")
        }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, previousHandler)
        XCTAssertEqual(try SeqFile.read(target), before, "the previous file is intact")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["model.safetensors"], "no temporary left")

        // A successful save replaces it and keeps its permissions.
        try big.save(target)
        XCTAssertEqual(try SafeTensorsFile.load(target), big)
        var info = stat()
        stat(target, &info)
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["model.safetensors"])

        XCTAssertThrowsError(try big.save(path("no/such/dir/model.safetensors"))) { XCTAssertEqual(($0 as? SeqError)?.kind, .io) }
        XCTAssertThrowsError(try big.save(directory)) { XCTAssertEqual(($0 as? SeqError)?.kind, .io) }
        XCTAssertThrowsError(try big.save("")) { XCTAssertEqual(($0 as? SeqError)?.kind, .invalidArgument) }
    }

    func testSaveGoesThroughLinksAndRefusesSpecialFiles() throws {
        var f = SafeTensorsFile()
        try f.add("w", Tensor<Float>(shape: [2], data: [1, 2]))
        // A link (relative, then through a second link, then dangling) keeps being a link; the
        // file it names gets the model.
        try FileManager.default.createDirectory(atPath: path("real"), withIntermediateDirectories: true)
        try f.save(path("real/model.st"))
        XCTAssertEqual(symlink("real/model.st", path("link.st")), 0)
        XCTAssertEqual(symlink("link.st", path("link2.st")), 0)
        var g = SafeTensorsFile()
        try g.add("w", Tensor<Float>(shape: [3], data: [4, 5, 6]))
        try g.save(path("link2.st"))
        XCTAssertEqual(try SafeTensorsFile.load(path("real/model.st")), g)
        var info = stat()
        XCTAssertEqual(lstat(path("link2.st"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK, "the link is still a link")
        XCTAssertEqual(lstat(path("link.st"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("real")), ["model.st"], "no temporary left")
        XCTAssertEqual(symlink(path("real/new.st"), path("dangling.st")), 0)
        try f.save(path("dangling.st"))
        XCTAssertEqual(try SafeTensorsFile.load(path("real/new.st")), f)
        // A loop of links, and files that are not regular files, are refused and left alone.
        XCTAssertEqual(symlink("loop-b.st", path("loop-a.st")), 0)
        XCTAssertEqual(symlink("loop-a.st", path("loop-b.st")), 0)
        XCTAssertThrowsError(try f.save(path("loop-a.st"))) { XCTAssertTrue("\($0)".contains("symbolic links"), "\($0)") }
        XCTAssertEqual(mkfifo(path("fifo"), 0o600), 0)
        XCTAssertThrowsError(try f.save(path("fifo"))) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        XCTAssertEqual(lstat(path("fifo"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the FIFO is still a FIFO")
        // Reading a FIFO that has no writer is refused at once instead of waiting for one.
        XCTAssertThrowsError(try SafeTensorsFile.load(path("fifo"))) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        XCTAssertThrowsError(try f.save("/dev/null")) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR)
    }

    // MARK: Arenas and checkpoints

    static func arena<S: SeqScalar>(_: S.Type) throws -> ParameterArena<S> {
        let arena = ParameterArena<S>()
        try arena.register("rnn.weight_ih_l0", shape: [8, 3])
        try arena.register("rnn.bias_ih_l0", shape: [8])
        try arena.register("head.weight", shape: [2, 2])
        var rng = SeqRandom(seed: 5)
        arena.values = (0 ..< arena.count).map { _ in S(rng.normal()) }
        return arena
    }

    func testArenaRoundTripAndStrictLoading() throws {
        let arena = try Self.arena(Float.self)
        var file = SafeTensorsFile()
        try file.add(arena)
        XCTAssertEqual(Set(file.names), ["rnn.weight_ih_l0", "rnn.bias_ih_l0", "head.weight"], "PyTorch names, no prefix")
        try file.save(path("model.safetensors"))

        let other = try Self.arena(Float.self)
        other.values = [Float](repeating: 0, count: other.count)
        try other.load(from: SafeTensorsFile.load(path("model.safetensors")))
        XCTAssertEqual(other.values, arena.values)

        // A Double arena reads the F32 file; a Float arena reads F64.
        let wide = try Self.arena(Double.self)
        try wide.load(from: file)
        XCTAssertEqual(wide.values.map { Float($0) }, arena.values)
        var doubleFile = SafeTensorsFile()
        try doubleFile.add(wide, prefix: "model.")
        let narrow = try Self.arena(Float.self)
        try narrow.load(from: doubleFile, prefix: "model.")
        XCTAssertEqual(narrow.values, arena.values)

        // Missing, misshapen, extra and non-finite tensors are refused, leaving the arena unchanged.
        let untouched = other.values
        var missing = file
        missing.remove("head.weight")
        XCTAssertThrowsError(try other.load(from: missing)) { XCTAssertEqual(($0 as? SeqError)?.kind, .notFound) }
        var misshapen = missing
        try misshapen.add("head.weight", Tensor<Float>(zeros: [4]))
        XCTAssertThrowsError(try other.load(from: misshapen)) { XCTAssertTrue("\($0)".contains("[4]"), "\($0)") }
        var extra = file
        try extra.add("head.bias", Tensor<Float>(zeros: [2]))
        XCTAssertThrowsError(try other.load(from: extra)) { XCTAssertTrue("\($0)".contains("head.bias"), "\($0)") }
        XCTAssertNoThrow(try other.load(from: extra, strict: false))
        var nonFinite = missing
        try nonFinite.add("head.weight", Tensor<Float>(shape: [2, 2], data: [0, .nan, 0, 0]))
        XCTAssertThrowsError(try other.load(from: nonFinite))
        XCTAssertEqual(other.values, untouched)

        // An arena whose public buffer was resized behind its table is refused, not indexed past.
        other.values.removeLast()
        XCTAssertThrowsError(try other.load(from: file)) { XCTAssertEqual(($0 as? SeqError)?.kind, .state) }
        var sink = SafeTensorsFile()
        XCTAssertThrowsError(try sink.add(other)) { XCTAssertEqual(($0 as? SeqError)?.kind, .state) }
    }

    /// 3 steps, checkpoint (model + optimizer) to disk, fresh objects, 3 more steps ==
    /// 6 uninterrupted steps, bit for bit.
    func testCheckpointResumesTrainingExactly() throws {
        for algorithm: OptimizerAlgorithm in [.adamW(amsgrad: true), .sgd(momentum: 0.9, nesterov: true),
                                              .rmsprop(momentum: 0.5, centered: true)] {
            func gradients(_ k: Int, _ n: Int) -> [Float] {
                var rng = SeqRandom(seed: UInt64(k))
                return (0 ..< n).map { _ in Float(rng.normal()) }
            }
            let straight = try Self.arena(Float.self)
            let a = try Optimizer<Float>(algorithm, learningRate: 0.01, for: straight)
            for k in 0 ..< 6 { straight.gradients = gradients(k, straight.count); try a.step(straight) }

            let first = try Self.arena(Float.self)
            let b = try Optimizer<Float>(algorithm, learningRate: 0.01, for: first)
            for k in 0 ..< 3 { first.gradients = gradients(k, first.count); try b.step(first) }
            var checkpoint = SafeTensorsFile()
            checkpoint.metadata["seqcore.kind"] = "checkpoint"
            try checkpoint.add(first, prefix: "model.")
            try checkpoint.add(b.exportState())
            try checkpoint.save(path("checkpoint.safetensors"))

            let restored = try SafeTensorsFile.load(path("checkpoint.safetensors"))
            let second = ParameterArena<Float>()
            for p in first.table { try second.register(p.name, shape: p.shape) }
            try second.load(from: restored, prefix: "model.")
            let c = try Optimizer<Float>(algorithm, learningRate: 1, for: second)
            try c.importState(restored.optimizerState(as: Float.self))
            XCTAssertEqual(c.stepCount, 3)
            for k in 3 ..< 6 { second.gradients = gradients(k, second.count); try c.step(second) }
            XCTAssertEqual(second.values, straight.values, "\(algorithm): resumed run differs")

            // A checkpoint of another optimizer is refused by name.
            let wrong = try Optimizer<Float>(.adam(), learningRate: 1, for: second)
            XCTAssertThrowsError(try wrong.importState(restored.optimizerState(as: Float.self)))
        }
        XCTAssertThrowsError(try SafeTensorsFile().optimizerState(as: Float.self)) { XCTAssertEqual(($0 as? SeqError)?.kind, .notFound) }
    }
}
