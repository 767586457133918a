import Foundation
import XCTest
import SeqCore
#if canImport(Glibc)
import Glibc
#endif

/// Model, layer and checkpoint files: save → load gives bit-identical outputs for every
/// architecture; PyTorch state_dicts (golden files from Tests/Fixtures/make_interop_fixtures.py)
/// load and reproduce torch's outputs; Python reads our files; truncated, corrupt and wrong-kind
/// files give `.format` errors that say what is wrong, never a crash.
final class ModelFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        var bytes = Array((NSTemporaryDirectory() + "seqcore-modelfile-XXXXXX").utf8CString)
        guard mkdtemp(&bytes) != nil else { throw SeqError(.io, "mkdtemp failed") }
        directory = String(cString: bytes)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    // MARK: Models of every architecture

    /// One configuration per architecture, covering every cell, GRU variant, direction, merge,
    /// output kind, reduction, projection, peepholes, bias and the optional indices.
    static let configs: [(String, ModelConfig)] = [
        ("tagger lstm bidir 2 layers, binary", ModelConfig(
            architecture: .tagger, rnn: RecurrentConfig(cell: .lstm, inputSize: 3, hiddenSize: 5, numLayers: 2,
                                                        direction: .bidirectional, dropout: 0.25),
            outputSize: 2, output: .binary)),
        ("classifier gru classic sum 2 layers, tokens", ModelConfig(
            architecture: .classifier, rnn: RecurrentConfig(cell: .gru, inputSize: 4, hiddenSize: 6, numLayers: 2,
                                                            direction: .bidirectional, merge: .sum, gruVariant: .classic),
            vocabularySize: 11, embeddingSize: 4, paddingIndex: 0, outputSize: 3, reduction: .meanOverBatch)),
        ("language model rnn relu", ModelConfig(
            architecture: .languageModel, rnn: RecurrentConfig(cell: .rnnReLU, inputSize: 5, hiddenSize: 7),
            vocabularySize: 9, embeddingSize: 5, outputSize: 9, ignoreIndex: 0)),
        ("seq2seq lstm peepholes projection bidir", ModelConfig(
            architecture: .seq2seq, rnn: RecurrentConfig(cell: .lstm, inputSize: 4, hiddenSize: 6, direction: .bidirectional,
                                                         projSize: 3, peepholes: true),
            vocabularySize: 8, embeddingSize: 4, outputSize: 7, startToken: 0, stopToken: 1)),
        ("tagger simplified gru reverse, regression", ModelConfig(
            architecture: .tagger, rnn: RecurrentConfig(cell: .gru, inputSize: 2, hiddenSize: 4, direction: .reverse,
                                                        gruVariant: .simplified),
            outputSize: 3, output: .regression, reduction: .sum)),
        ("classifier rnn tanh no bias, features", ModelConfig(
            architecture: .classifier, rnn: RecurrentConfig(cell: .rnnTanh, inputSize: 3, hiddenSize: 4, numLayers: 3, bias: false),
            outputSize: 2)),
    ]

    static let steps = 5, batch = 3, lengths = [5, 2, 4]

    /// A batch for `config` (targets for seq2seq only, which needs them to run).
    static func batch<S: SeqScalar>(_ config: ModelConfig, _: S.Type = S.self, seed: UInt64 = 9) throws -> SequenceBatch<S> {
        var rng = SeqRandom(seed: seed)
        let input: SequenceInput<S>
        if config.usesTokens {
            input = .tokens((0 ..< steps * batch).map { _ in Int(rng.next() % UInt64(config.vocabularySize)) }, steps: steps, batch: batch)
        } else {
            input = .features(try Tensor(shape: [steps, batch, config.rnn.inputSize],
                                         data: (0 ..< steps * batch * config.rnn.inputSize).map { _ in S(rng.normal()) }))
        }
        if config.architecture == .seq2seq {
            let ty = 3
            return SequenceBatch(source: input, sourceLengths: lengths,
                                 targetTokens: (0 ..< ty * batch).map { _ in 2 + Int(rng.next() % UInt64(config.outputSize - 2)) },
                                 targetSteps: ty, targetLengths: [3, 1, 2])
        }
        return SequenceBatch(input: input, lengths: lengths)
    }

    /// Everything a model computes on the test batch: logits, and greedy decoding for seq2seq.
    static func outputs<S: SeqScalar>(_ model: SequenceModel<S>) throws -> [S] {
        let b: SequenceBatch<S> = try batch(model.config)
        var out = try model.forward(b).logits.data
        if model.config.architecture == .seq2seq {
            out += try model.decode(b.input, lengths: b.lengths, maxLength: 4).flatMap { $0.map { S($0) } }
        } else {
            out += try model.predict(b.input, lengths: b.lengths).data
        }
        return out
    }

    func testSaveLoadIsBitIdenticalForEveryArchitecture() throws {
        for (label, config) in Self.configs {
            let model = try SequenceModel<Float>(config, seed: 42)
            XCTAssertEqual(config.parameterCount, model.arena.count, "\(label): parameterCount")
            try model.save(to: path("model.safetensors"), metadata: ["note": "test \(label)"])
            let back = try SequenceModel<Float>.load(from: path("model.safetensors"))
            XCTAssertEqual(back.config, config, label)
            XCTAssertEqual(back.arena.table, model.arena.table, label)
            XCTAssertEqual(back.arena.values.map(\.bitPattern), model.arena.values.map(\.bitPattern), label)
            XCTAssertEqual(try Self.outputs(back).map(\.bitPattern), try Self.outputs(model).map(\.bitPattern), "\(label): outputs")
            // The metadata: our keys plus the caller's.
            let file = try SafeTensorsFile.load(path("model.safetensors"))
            XCTAssertEqual(file.metadata["format"], "seqcore")
            XCTAssertEqual(file.metadata["seqcore.format_version"], "1")
            XCTAssertEqual(file.metadata["seqcore.kind"], "model")
            XCTAssertEqual(file.metadata["note"], "test \(label)")
            XCTAssertNotNil(try JSONValue.parse(XCTUnwrap(file.metadata["seqcore.config"])).object, label)
            XCTAssertTrue(file.entries.allSatisfy { $0.dtype == .f32 }, "\(label): F32 tensors")
            XCTAssertEqual(Set(file.names), Set(model.arena.table.map(\.name)), label)
        }
    }

    func testDoubleModelsAndCrossPrecision() throws {
        for (label, config) in Self.configs {
            let model = try SequenceModel<Double>(config, seed: 7)
            try model.save(to: path("double.safetensors"))
            XCTAssertTrue(try SafeTensorsFile.load(path("double.safetensors")).entries.allSatisfy { $0.dtype == .f64 }, label)
            let back = try SequenceModel<Double>.load(from: path("double.safetensors"))
            XCTAssertEqual(back.arena.values.map(\.bitPattern), model.arena.values.map(\.bitPattern), label)
            XCTAssertEqual(try Self.outputs(back).map(\.bitPattern), try Self.outputs(model).map(\.bitPattern), label)
            // A Float file read as Double: the same values, exactly.
            let f = try SequenceModel<Float>(config, seed: 7)
            try f.save(to: path("float.safetensors"))
            XCTAssertEqual(try SequenceModel<Double>.load(from: path("float.safetensors")).arena.values,
                           f.arena.values.map { Double($0) }, label)
        }
    }

    func testRecurrentLayerSaveLoad() throws {
        for (label, config) in Self.configs.map({ ($0.0, $0.1.rnn) }) {
            let layer = try RecurrentLayer<Float>(config, seed: 3)
            try layer.save(to: path("layer.safetensors"))
            let file = try SafeTensorsFile.load(path("layer.safetensors"))
            XCTAssertEqual(file.metadata["seqcore.kind"], "recurrent_layer")
            XCTAssertEqual(Set(file.names), Set(layer.parameterNames), label)
            let back = try RecurrentLayer<Float>.load(from: path("layer.safetensors"))
            XCTAssertEqual(back.config, config, label)
            XCTAssertEqual(back.arena.values.map(\.bitPattern), layer.arena.values.map(\.bitPattern), label)
            // Inference from names and shapes alone gets every field a state_dict can show.
            var plain = file
            plain.metadata = [:]
            let inferred = try RecurrentConfig(inferringFrom: plain, rnnCell: config.cell == .rnnReLU ? .rnnReLU : .rnnTanh)
            var expected = config
            expected.dropout = 0
            if config.cell == .gru && config.gruVariant == .classic { expected.gruVariant = .linearBeforeReset }
            if config.direction == .reverse { expected.direction = .forward }   // a state_dict cannot say
            XCTAssertEqual(inferred, expected, "\(label): inferred configuration")
        }
        // A model's recurrent stack saved alone has unprefixed names (nn.LSTM's state_dict).
        let model = try SequenceModel<Float>(Self.configs[0].1, seed: 1)
        try model.rnn.save(to: path("rnn.safetensors"))
        let rnn = try RecurrentLayer<Float>.load(from: path("rnn.safetensors"))
        XCTAssertEqual(rnn.parameterNames, model.rnn.parameterNames.map { String($0.dropFirst(4)) })
        // …and the stack can be taken out of a whole model's file by prefix.
        try model.save(to: path("whole.safetensors"))
        let part = try RecurrentLayer<Float>.load(from: path("whole.safetensors"), prefix: "rnn.")
        XCTAssertEqual(part.arena.values, rnn.arena.values)
    }

    // MARK: PyTorch golden files

    func testTorchStateDictsLoadAndReproduceTorch() throws {
        for name in ["lstm", "lstm_proj", "gru", "rnn_relu"] {
            let json = try loadJSON("interop_torch_\(name).json")
            let file = fixturesURL.appendingPathComponent("interop_torch_\(name).safetensors").path
            XCTAssertTrue(try SafeTensorsFile.load(file).metadata.isEmpty, "\(name): written by safetensors.torch without metadata")
            let rnnCell: CellType = name == "rnn_relu" ? .rnnReLU : .rnnTanh
            var worst = (single: 0.0, double: 0.0)
            for double in [false, true] {
                func run<S: SeqScalar>(_: S.Type, rtol: Double, atol: Double) throws -> Double {
                    let layer = try RecurrentLayer<S>.load(from: file, rnnCell: rnnCell)
                    let expectedConfig = try Self.recurrentConfig(json["config"] as! [String: Any])
                    XCTAssertEqual(layer.config, expectedConfig, "\(name): inferred configuration")
                    let c = layer.config, t = json.int("T")!, b = json.int("B")!
                    let x = try Tensor(shape: [t, b, c.inputSize], data: json.doubles("input")!.map { S($0) })
                    let out = try layer.forward(x, lengths: json.ints("lengths"))
                    var e = assertClose(out.output.data, json.doubles("output")!, rtol: rtol, atol: atol, "\(name) \(S.self) output")
                    e = max(e, assertClose(out.hN.data, json.doubles("h_n")!, rtol: rtol, atol: atol, "\(name) \(S.self) h_n"))
                    if let cn = json.doubles("c_n") {
                        e = max(e, assertClose(out.cN!.data, cn, rtol: rtol, atol: atol, "\(name) \(S.self) c_n"))
                    }
                    return e
                }
                if double { worst.double = try run(Double.self, rtol: 1e-10, atol: 1e-12) } else {
                    worst.single = try run(Float.self, rtol: 1e-4, atol: 1e-5)
                }
            }
            print(String(format: "[ModelFileTests] torch %@: largest relative error Float %.2e, Double %.2e", name, worst.single, worst.double))
        }
    }

    func testTorchTaggerStateDictLoadsIntoASequenceModel() throws {
        let json = try loadJSON("interop_torch_tagger.json")
        let file = fixturesURL.appendingPathComponent("interop_torch_tagger.safetensors").path
        let config = ModelConfig(architecture: .tagger,
                                 rnn: RecurrentConfig(cell: .gru, inputSize: 4, hiddenSize: 5, direction: .bidirectional),
                                 vocabularySize: 7, embeddingSize: 4, outputSize: 3)
        // Without a configuration, a plain state_dict is refused with the reason.
        XCTAssertThrowsError(try SequenceModel<Float>.load(from: file)) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .format)
            XCTAssertTrue("\(e)".contains("no seqcore metadata") && "\(e)".contains("config:"), "\(e)")
        }
        for double in [false, true] {
            func run<S: SeqScalar>(_: S.Type, rtol: Double, atol: Double) throws -> Double {
                let model = try SequenceModel<S>.load(from: file, config: config)
                let t = json.int("T")!, b = json.int("B")!
                let pass = try model.forward(SequenceBatch(input: .tokens(json.ints("tokens")!, steps: t, batch: b),
                                                           lengths: json.ints("lengths")))
                return assertClose(pass.logits.data, json.doubles("logits")!, rtol: rtol, atol: atol, "tagger \(S.self) logits")
            }
            let e = double ? try run(Double.self, rtol: 1e-10, atol: 1e-12) : try run(Float.self, rtol: 1e-4, atol: 1e-5)
            print(String(format: "[ModelFileTests] torch tagger %@: largest relative error %.2e", double ? "Double" : "Float", e))
        }
    }

    static func recurrentConfig(_ c: [String: Any]) throws -> RecurrentConfig {
        RecurrentConfig(cell: try XCTUnwrap(CellType(rawValue: c["cell"] as! String)), inputSize: c.int("input_size")!,
                        hiddenSize: c.int("hidden_size")!, numLayers: c.int("num_layers")!,
                        direction: try XCTUnwrap(Direction(rawValue: c["direction"] as! String)),
                        merge: try XCTUnwrap(MergeMode(rawValue: c["merge"] as! String)),
                        gruVariant: try XCTUnwrap(GRUVariant(rawValue: c["gru_variant"] as! String)),
                        projSize: c.int("proj_size")!, peepholes: c["peepholes"] as! Bool, bias: c["bias"] as! Bool)
    }

    // MARK: Python reads our files

    static let pythonReader = """
    import json, sys
    from safetensors import safe_open
    path, inputs = sys.argv[1], json.load(open(sys.argv[2]))
    with safe_open(path, "np") as f:
        meta, keys = f.metadata(), sorted(f.keys())
    report = {"metadata": meta, "keys": keys, "torch": False}
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError:
        torch = None
    if torch is not None:
        report["torch"] = True
        sd = load_file(path)
        report["dtypes"] = sorted({str(v.dtype) for v in sd.values()})
        cfg = json.loads(meta["seqcore.config"])
        if meta["seqcore.kind"] == "recurrent_layer":
            kw = dict(num_layers=cfg["num_layers"], bidirectional=cfg["direction"] == "bidirectional", bias=cfg["bias"])
            if cfg["cell"] == "lstm":
                cls = torch.nn.LSTM
                kw["proj_size"] = cfg["proj_size"]
            elif cfg["cell"] == "gru":
                cls = torch.nn.GRU
            else:
                cls = torch.nn.RNN
                kw["nonlinearity"] = cfg["cell"][4:]
            m = cls(cfg["input_size"], cfg["hidden_size"], **kw).double()
            m.load_state_dict({k: v.double() for k, v in sd.items()}, strict=True)
            x = torch.tensor(inputs["input"], dtype=torch.float64).reshape(inputs["T"], inputs["B"], cfg["input_size"])
            with torch.no_grad():
                out, state = m(x)
            h_n = state[0] if isinstance(state, tuple) else state
            report["output"] = out.reshape(-1).tolist()
            report["h_n"] = h_n.reshape(-1).tolist()
        else:
            report["shapes"] = {k: list(v.shape) for k, v in sd.items()}
    print(json.dumps(report))
    """

    func testPythonReadsOurFilesAndTorchRunsOurLayers() throws {
        guard let python = SafeTensorsTests.python else { throw XCTSkip("no Python with numpy and safetensors (set SEQCORE_PYTHON)") }
        let layers: [RecurrentConfig] = [
            RecurrentConfig(cell: .lstm, inputSize: 3, hiddenSize: 5, numLayers: 2, direction: .bidirectional, projSize: 2),
            RecurrentConfig(cell: .gru, inputSize: 4, hiddenSize: 3, numLayers: 2),
            RecurrentConfig(cell: .rnnReLU, inputSize: 2, hiddenSize: 4, direction: .bidirectional, bias: false),
        ]
        var torchRan = false
        for config in layers {
            let layer = try RecurrentLayer<Float>(config, seed: 11)
            try layer.save(to: path("layer.safetensors"), metadata: ["origin": "seqcore test"])
            let (t, b) = (4, 2)
            let x = randomValues(t * b * config.inputSize, seed: 5).map { Float($0) }
            try JSONSerialization.data(withJSONObject: ["T": t, "B": b, "input": x.map { Double($0) }])
                .write(to: URL(fileURLWithPath: path("input.json")))
            let (status, output) = try SafeTensorsTests.runPython(python, ["-c", Self.pythonReader, path("layer.safetensors"), path("input.json")])
            XCTAssertEqual(status, 0, output)
            let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
            XCTAssertEqual(report["keys"] as? [String], layer.parameterNames.sorted())
            let meta = try XCTUnwrap(report["metadata"] as? [String: String])
            XCTAssertEqual(meta["format"], "seqcore")
            XCTAssertEqual(meta["origin"], "seqcore test")
            guard report["torch"] as? Bool == true else { continue }
            torchRan = true
            XCTAssertEqual(report["dtypes"] as? [String], ["torch.float32"])
            let ours = try layer.forward(Tensor(shape: [t, b, config.inputSize], data: x))
            let e1 = TrainingTestSupport.assertClose(ours.output.data.map { Double($0) }, TrainingTestSupport.doubles(report["output"]),
                                                     relative: 1e-4, absolute: 1e-5, "\(config.cell) output: torch on our file")
            let e2 = TrainingTestSupport.assertClose(ours.hN.data.map { Double($0) }, TrainingTestSupport.doubles(report["h_n"]),
                                                     relative: 1e-4, absolute: 1e-5, "\(config.cell) h_n: torch on our file")
            print(String(format: "[ModelFileTests] torch runs our %@ file: max |diff| %.2e", config.cell.rawValue, max(e1, e2)))
        }
        // A whole model's file: torch reads every tensor with its shape.
        let model = try SequenceModel<Float>(Self.configs[3].1, seed: 2)
        try model.save(to: path("model.safetensors"))
        try Data("{\"T\":0,\"B\":0,\"input\":[]}".utf8).write(to: URL(fileURLWithPath: path("input.json")))
        let (status, output) = try SafeTensorsTests.runPython(python, ["-c", Self.pythonReader, path("model.safetensors"), path("input.json")])
        XCTAssertEqual(status, 0, output)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertEqual(report["keys"] as? [String], model.arena.table.map(\.name).sorted())
        if let shapes = report["shapes"] as? [String: [Int]] {
            for p in model.arena.table { XCTAssertEqual(shapes[p.name], p.shape, p.name) }
        }
        if !torchRan { print("[ModelFileTests] torch not installed: checked names and metadata only") }
    }

    // MARK: Wrong files

    /// Asserts a `.format` error whose message contains every one of `words`.
    func assertFormatError(_ words: [String], _ label: String, file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("\(label): loaded without an error", file: file, line: line)
        } catch let e as SeqError {
            XCTAssertEqual(e.kind, .format, "\(label): \(e)", file: file, line: line)
            for w in words where !e.message.contains(w) {
                XCTFail("\(label): the message does not say '\(w)': \(e.message)", file: file, line: line)
            }
        } catch {
            XCTFail("\(label): not a SeqError: \(error)", file: file, line: line)
        }
    }

    func testWrongFilesSayWhatIsWrong() throws {
        let config = Self.configs[0].1
        let model = try SequenceModel<Float>(config, seed: 4)
        let good = try model.safeTensorsFile()
        func load(_ f: SafeTensorsFile) throws { _ = try SequenceModel<Float>(contentsOf: f) }
        func edited(_ change: (inout SafeTensorsFile) throws -> Void) rethrows -> SafeTensorsFile {
            var f = good
            try change(&f)
            return f
        }
        // Not safetensors at all, from disk: the path and the reason.
        try Data("this is a text file, not a model".utf8).write(to: URL(fileURLWithPath: path("text.safetensors")))
        assertFormatError(["text.safetensors", "header length"], "text file") { _ = try SequenceModel<Float>.load(from: path("text.safetensors")) }
        try Data([0x50, 0x4B, 3, 4] + [UInt8](repeating: 0, count: 60)).write(to: URL(fileURLWithPath: path("model.pt")))
        assertFormatError(["zip"], "PyTorch zip checkpoint") { _ = try SequenceModel<Float>.load(from: path("model.pt")) }
        // A safetensors file of another program.
        var foreign = SafeTensorsFile()
        foreign.metadata["format"] = "pt"
        try foreign.add("encoder.layer.0.weight", Tensor<Float>(shape: [2, 2], data: [1, 2, 3, 4]))
        assertFormatError(["no seqcore metadata"], "foreign file") { try load(foreign) }
        assertFormatError(["weight_ih_l0", "not the state_dict"], "foreign file as a layer") { _ = try RecurrentLayer<Float>(contentsOf: foreign) }
        // Missing, wrong-shaped, extra, non-finite, wrongly typed tensors.
        assertFormatError(["rnn.weight_hh_l1_reverse", "missing"], "missing tensor") { try load(edited { $0.remove("rnn.weight_hh_l1_reverse") }) }
        assertFormatError(["head.bias", "[3]", "[2]"], "wrong shape") {
            try load(edited { $0.remove("head.bias"); try $0.add("head.bias", Tensor<Float>(shape: [3], data: [0, 0, 0])) })
        }
        assertFormatError(["head.extra"], "extra tensor") { try load(edited { try $0.add("head.extra", Tensor<Float>(shape: [1], data: [0])) }) }
        assertFormatError(["head.bias", "non-finite"], "NaN weight") {
            try load(edited { $0.remove("head.bias"); try $0.add("head.bias", Tensor<Float>(shape: [2], data: [0, .nan])) })
        }
        assertFormatError(["head.bias", "I64"], "integer tensor") {
            try load(edited { $0.remove("head.bias"); try $0.add("head.bias", shape: [2], integers: [0, 1]) })
        }
        // Metadata: version, kind, configuration.
        assertFormatError(["version 2", "newer"], "future version") { try load(edited { $0.metadata["seqcore.format_version"] = "2" }) }
        assertFormatError(["'x'", "positive integer"], "bad version") { try load(edited { $0.metadata["seqcore.format_version"] = "x" }) }
        assertFormatError(["seqcore.kind", "'weights'"], "unknown kind") { try load(edited { $0.metadata["seqcore.kind"] = "weights" }) }
        assertFormatError(["recurrent layer"], "layer file as model") { try load(try model.rnn.safeTensorsFile()) }
        assertFormatError(["seqcore model", "prefix: \"rnn.\""], "model file as layer") { _ = try RecurrentLayer<Float>(contentsOf: good) }
        assertFormatError(["seqcore.config", "not valid JSON"], "broken JSON") { try load(edited { $0.metadata["seqcore.config"] = "{\"architecture\":" }) }
        assertFormatError(["no 'seqcore.config'"], "no config") { try load(edited { $0.metadata["seqcore.config"] = nil }) }
        let json = good.metadata["seqcore.config"]!
        assertFormatError(["'cell'", "\"lstx\"", "rnn_tanh"], "unknown cell") {
            try load(edited { $0.metadata["seqcore.config"] = json.replacingOccurrences(of: "\"lstm\"", with: "\"lstx\"") })
        }
        assertFormatError(["unknown key 'colour'"], "unknown key") {
            try load(edited { $0.metadata["seqcore.config"] = json.replacingOccurrences(of: "{\"architecture\"", with: "{\"colour\":1,\"architecture\"") })
        }
        assertFormatError(["configuration is invalid", "hidden_size"], "invalid config") {
            try load(edited { $0.metadata["seqcore.config"] = json.replacingOccurrences(of: "\"hidden_size\":5", with: "\"hidden_size\":0") })
        }
        // A configuration claiming far more than the file holds is refused before allocating.
        assertFormatError(["needs", "holds only"], "huge config") {
            try load(edited { $0.metadata["seqcore.config"] = json.replacingOccurrences(of: "\"hidden_size\":5", with: "\"hidden_size\":5000") })
        }
        // Reserved metadata keys are the caller's mistake.
        XCTAssertThrowsError(try model.save(to: path("x.safetensors"), metadata: ["seqcore.kind": "mine"])) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .invalidArgument)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.safetensors")))
        // The good file still loads, and a given configuration must fit the tensors.
        XCTAssertNoThrow(try load(good))
        var other = config
        other.rnn.hiddenSize = 4
        assertFormatError(["shape"], "given config that does not fit") { _ = try SequenceModel<Float>(contentsOf: good, config: other) }
    }

    func testEveryTruncationIsAFormatError() throws {
        let bytes = try SequenceModel<Float>(Self.configs[3].1, seed: 5).safeTensorsFile().encoded()
        for cut in 0 ..< bytes.count {
            XCTAssertThrowsError(try SequenceModel<Float>(contentsOf: SafeTensorsFile(bytes: Array(bytes[..<cut]))), "cut \(cut)") { e in
                XCTAssertEqual((e as? SeqError)?.kind, .format, "cut \(cut): \(e)")
            }
        }
        XCTAssertNoThrow(try SequenceModel<Float>(contentsOf: SafeTensorsFile(bytes: bytes)))
        for cut in stride(from: 0, to: bytes.count, by: 97) {
            try Data(bytes[..<cut]).write(to: URL(fileURLWithPath: path("cut.safetensors")))
            assertFormatError(["cut.safetensors"], "cut \(cut) from disk") { _ = try SequenceModel<Float>.load(from: path("cut.safetensors")) }
            assertFormatError(["cut.safetensors"], "cut \(cut) as a layer") { _ = try RecurrentLayer<Float>.load(from: path("cut.safetensors")) }
            assertFormatError(["cut.safetensors"], "cut \(cut) as a checkpoint") { _ = try TrainingCheckpoint<Float>.load(from: path("cut.safetensors")) }
        }
    }

    /// Random byte changes (half of them in the header, where the structure is): every trial
    /// either throws a SeqError or loads a model that then runs; nothing crashes.
    func testRandomCorruptionThrowsOrLoadsNeverCrashes() throws {
        var rng = SeqRandom(seed: 2024)
        var (loaded, refused) = (0, 0)
        for (label, config) in Self.configs {
            let model = try SequenceModel<Float>(config, seed: 6)
            let optimizer = try Optimizer<Float>(.adam(), learningRate: 0.01, for: model.arena)
            let files = [try model.safeTensorsFile().encoded(),
                         try TrainingCheckpoint(model: model, optimizer: optimizer, generators: ["shuffle": SeqRandom(seed: 1)],
                                                counters: ["epoch": 2]).safeTensorsFile().encoded()]
            for (which, bytes) in files.enumerated() {
                let headerLength = 8 + bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
                for trial in 0 ..< 120 {
                    var b = bytes
                    for _ in 0 ..< 1 + Int(rng.next() % 4) {
                        let limit = rng.next() % 2 == 0 ? headerLength : b.count
                        b[Int(rng.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: rng.next())
                    }
                    do {
                        let file = try SafeTensorsFile(bytes: b)
                        // Loading must succeed or throw .format; running what loaded may refuse the
                        // test batch (a changed start token, say) but must not crash.
                        if which == 0 {
                            _ = try? Self.outputs(try SequenceModel<Float>(contentsOf: file))
                        } else {
                            let c = try TrainingCheckpoint<Float>(contentsOf: file)
                            _ = try? Self.outputs(c.model)
                            _ = try? c.makeOptimizer()
                        }
                        loaded += 1
                    } catch let e as SeqError {
                        XCTAssertTrue([.format, .resourceLimit].contains(e.kind), "\(label) trial \(trial): \(e)")
                        refused += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(refused, 0)
        print("[ModelFileTests] corruption: \(loaded) loaded, \(refused) refused")
    }

    // MARK: Checkpoint files

    func testCheckpointRoundTripAndErrors() throws {
        let config = Self.configs[3].1          // seq2seq: two dropout generators
        let model = try SequenceModel<Float>(config, seed: 8)
        model.rnn.random = SeqRandom(seed: 100)
        model.decoder!.random = SeqRandom(seed: 101)
        let optimizer = try Optimizer<Float>(.adamW(weightDecay: 0.05, amsgrad: true), learningRate: 0.003, for: model.arena)
        model.arena.zeroGradients()
        _ = try model.lossAndGradients(Self.batch(config))
        try optimizer.step(model.arena)
        let schedule = try LearningRateSchedule(baseRate: 0.003, decay: .cosine(period: 50, minimum: 1e-5), warmupSteps: 3)
        var shuffle = SeqRandom(seed: 5)
        _ = shuffle.next()
        let checkpoint = TrainingCheckpoint(model: model, optimizer: optimizer, generators: ["shuffle": shuffle, "noise": SeqRandom(seed: 6)],
                                            counters: ["epoch": 3, "step": 1234, "big": Int.max, "negative": -5],
                                            schedule: schedule, metadata: ["run": "unit test"])
        try checkpoint.save(to: path("run.ckpt"))
        let back = try TrainingCheckpoint<Float>.load(from: path("run.ckpt"))
        XCTAssertEqual(back.model.config, config)
        XCTAssertEqual(back.model.arena.values.map(\.bitPattern), model.arena.values.map(\.bitPattern))
        XCTAssertEqual(back.model.rnn.random, model.rnn.random)
        XCTAssertEqual(back.model.decoder!.random, model.decoder!.random)
        XCTAssertEqual(back.generators, ["shuffle": shuffle, "noise": SeqRandom(seed: 6)])
        XCTAssertEqual(back.counters, ["epoch": 3, "step": 1234, "big": Int.max, "negative": -5])
        XCTAssertEqual(back.schedule, schedule)
        XCTAssertEqual(back.metadata, ["run": "unit test"])
        XCTAssertEqual(back.optimizer, optimizer.algorithm)
        XCTAssertEqual(back.optimizerState, optimizer.exportState())
        let rebuilt = try back.makeOptimizer()
        XCTAssertEqual(rebuilt.algorithm, optimizer.algorithm)
        XCTAssertEqual(rebuilt.exportState(), optimizer.exportState())
        // The model part of a checkpoint loads as a model.
        XCTAssertEqual(try SequenceModel<Float>.load(from: path("run.ckpt")).arena.values, model.arena.values)
        // Every optimizer and schedule survives the JSON round trip.
        for algorithm: OptimizerAlgorithm in [.sgd(momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-4),
                                              .sgd(), .adam(beta1: 0.8, beta2: 0.99, epsilon: 1e-7, weightDecay: 0.1, amsgrad: false),
                                              .rmsprop(alpha: 0.9, epsilon: 1e-6, momentum: 0.5, centered: true, weightDecay: 0.01)] {
            for s in [nil, try LearningRateSchedule(baseRate: 0.1), try LearningRateSchedule(baseRate: 1e-3, decay: .step(stepSize: 7, gamma: 0.3))] {
                let o = try Optimizer<Float>(algorithm, learningRate: 0.5, for: model.arena)
                let c = try TrainingCheckpoint<Float>(contentsOf: TrainingCheckpoint(model: model, optimizer: o, schedule: s).safeTensorsFile())
                XCTAssertEqual(c.optimizer, algorithm)
                XCTAssertEqual(c.schedule, s)
                XCTAssertEqual(c.optimizerState, o.exportState())
            }
        }
        // Without an optimizer.
        let bare = try TrainingCheckpoint<Float>(contentsOf: TrainingCheckpoint(model: model).safeTensorsFile())
        XCTAssertNil(bare.optimizer)
        XCTAssertThrowsError(try bare.makeOptimizer()) { XCTAssertEqual(($0 as? SeqError)?.kind, .state) }

        // Errors.
        let good = try checkpoint.safeTensorsFile()
        func load(_ change: (inout SafeTensorsFile) throws -> Void) throws {
            var f = good
            try change(&f)
            _ = try TrainingCheckpoint<Float>(contentsOf: f)
        }
        assertFormatError(["not a checkpoint", "model"], "model file") { _ = try TrainingCheckpoint<Float>(contentsOf: model.safeTensorsFile()) }
        assertFormatError(["model_generator.decoder"], "missing generator") { try load { $0.remove("model_generator.decoder") } }
        assertFormatError(["generator.shuffle", "[4]"], "bad generator") {
            try load { $0.remove("generator.shuffle"); try $0.add("generator.shuffle", shape: [3], integers: [1, 2, 3]) }
        }
        assertFormatError(["all-zero"], "zero generator") {
            try load { $0.remove("generator.noise"); try $0.add("generator.noise", shape: [4], integers: [0, 0, 0, 0]) }
        }
        assertFormatError(["counter.epoch"], "bad counter") {
            try load { $0.remove("counter.epoch"); try $0.add("counter.epoch", shape: [2], integers: [1, 2]) }
        }
        assertFormatError(["exp_avg", "3 values"], "short optimizer buffer") {
            try load { $0.remove("optimizer.exp_avg"); try $0.add("optimizer.exp_avg", Tensor<Float>(shape: [3], data: [0, 0, 0])) }
        }
        assertFormatError(["buffers"], "missing optimizer buffer") { try load { $0.remove("optimizer.max_exp_avg_sq") } }
        assertFormatError(["seqcore.optimizer"], "no algorithm") { try load { $0.metadata["seqcore.optimizer"] = nil } }
        assertFormatError(["unknown optimizer 'lion'"], "unknown algorithm") {
            try load { $0.metadata["seqcore.optimizer"] = "{\"name\":\"lion\"}" }
        }
        assertFormatError(["beta1"], "invalid hyperparameter") {
            try load { $0.metadata["seqcore.optimizer"] = $0.metadata["seqcore.optimizer"]!.replacingOccurrences(of: "\"beta1\":0.9", with: "\"beta1\":1.5") }
        }
        assertFormatError(["seqcore.schedule", "decay"], "bad schedule") { try load { $0.metadata["seqcore.schedule"] = "{\"decay\":\"linear\"}" } }
        assertFormatError(["unexpected tensor 'stray'"], "stray tensor") { try load { try $0.add("stray", Tensor<Float>(shape: [1], data: [1])) } }
        XCTAssertThrowsError(try TrainingCheckpoint(model: model, metadata: ["optimizer.algorithm": "x"]).safeTensorsFile()) {
            XCTAssertEqual(($0 as? SeqError)?.kind, .invalidArgument)
        }
    }
}
