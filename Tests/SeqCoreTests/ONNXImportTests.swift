import Foundation
import XCTest
import SeqCore

/// ONNX-layout weights (W, R, B, P) imported into recurrent layers reproduce `onnx.reference` for
/// both GRU variants, LSTMs with peepholes, RNNs and every direction; export is the exact inverse;
/// every wrong array is refused with a clear error and changes nothing.
/// Fixtures: Tests/Fixtures/make_interop_fixtures.py (interop_onnx_*.json).
final class ONNXImportTests: XCTestCase {
    static let cases = ["gru_classic_bidir", "gru_classic_reverse", "gru_lbr_bidir", "gru_lbr_forward_nobias",
                        "lstm_peephole_bidir", "lstm_peephole_reverse", "lstm_forward", "rnn_bidir"]

    struct Case<S: SeqScalar> {
        var json: [String: Any]
        var cell: CellType
        var direction: Direction
        var linearBeforeReset: Int
        var weights: ONNXRecurrentWeights<S>
        var d: Int, h: Int, i: Int, t: Int, b: Int
    }

    static func load<S: SeqScalar>(_ name: String, _: S.Type) throws -> Case<S> {
        let j = try loadJSON("interop_onnx_\(name).json")
        let cell: CellType = ["RNN": .rnnTanh, "GRU": .gru, "LSTM": .lstm][j["op"] as! String]!
        let direction = try XCTUnwrap(Direction(rawValue: j["direction"] as! String))
        let d = direction == .bidirectional ? 2 : 1, h = j.int("hidden_size")!, i = j.int("input_size")!
        let g = ["RNN": 1, "GRU": 3, "LSTM": 4][j["op"] as! String]!
        func t(_ key: String, _ shape: [Int]) throws -> Tensor<S>? {
            try j.doubles(key).map { try Tensor(shape: shape, data: $0.map { S($0) }) }
        }
        let w = ONNXRecurrentWeights(W: try t("W", [d, g * h, i])!, R: try t("R", [d, g * h, h])!,
                                     B: try t("B", [d, 2 * g * h]), P: try t("P", [d, 3 * h]))
        return Case(json: j, cell: cell, direction: direction, linearBeforeReset: j.int("linear_before_reset")!,
                    weights: w, d: d, h: h, i: i, t: j.int("T")!, b: j.int("batch")!)
    }

    /// ONNX Y [T, D, B, H] → ours [T, B, D·H].
    static func onnxToOurs(_ y: [Double], t: Int, d: Int, b: Int, h: Int) -> [Double] {
        var out = [Double](repeating: 0, count: y.count)
        for s in 0 ..< t { for k in 0 ..< d { for r in 0 ..< b { for j in 0 ..< h {
            out[((s * b + r) * d + k) * h + j] = y[((s * d + k) * b + r) * h + j]
        } } } }
        return out
    }

    func run<S: SeqScalar>(_ name: String, _: S.Type, rtol: Double, atol: Double) throws -> Double {
        let c = try Self.load(name, S.self)
        let layer = try RecurrentLayer<S>(onnx: c.weights, cell: c.cell, direction: c.direction, linearBeforeReset: c.linearBeforeReset)
        XCTAssertEqual(layer.config.gruVariant, c.cell == .gru && c.linearBeforeReset == 0 ? .classic : .linearBeforeReset, name)
        XCTAssertEqual(layer.config.peepholes, c.weights.P != nil, name)
        func tensor(_ key: String, _ shape: [Int]) throws -> Tensor<S>? {
            try c.json.doubles(key).map { try Tensor(shape: shape, data: $0.map { S($0) }) }
        }
        let out = try layer.forward(tensor("X", [c.t, c.b, c.i])!, h0: tensor("initial_h", [c.d, c.b, c.h]),
                                    c0: tensor("initial_c", [c.d, c.b, c.h]))
        let y = Self.onnxToOurs(c.json.doubles("Y")!, t: c.t, d: c.d, b: c.b, h: c.h)
        var e = assertClose(out.output.data, y, rtol: rtol, atol: atol, "\(name) \(S.self) Y")
        e = max(e, assertClose(out.hN.data, c.json.doubles("Y_h")!, rtol: rtol, atol: atol, "\(name) \(S.self) Y_h"))
        if let yc = c.json.doubles("Y_c") {
            e = max(e, assertClose(out.cN!.data, yc, rtol: rtol, atol: atol, "\(name) \(S.self) Y_c"))
        }
        return e
    }

    func testImportReproducesONNXReference() throws {
        var report: [String] = []
        for name in Self.cases {
            let f = try run(name, Float.self, rtol: 1e-4, atol: 1e-5)
            let d = try run(name, Double.self, rtol: 1e-10, atol: 1e-12)
            report.append(String(format: "%-24@ Float %.2e  Double %.2e", name as NSString, f, d))
        }
        print("[ONNXImportTests] largest relative error vs onnx.reference:\n" + report.joined(separator: "\n"))
    }

    /// Export gives back the fixture's arrays exactly (B as zeros when the node had none).
    func testExportIsTheExactInverse() throws {
        for name in Self.cases {
            let c = try Self.load(name, Double.self)
            let layer = try RecurrentLayer<Double>(onnx: c.weights, cell: c.cell, direction: c.direction,
                                                   linearBeforeReset: c.linearBeforeReset)
            let back = try layer.exportONNX()
            XCTAssertEqual(back.W, c.weights.W, name)
            XCTAssertEqual(back.R, c.weights.R, name)
            XCTAssertEqual(back.B, c.weights.B ?? Tensor(zeros: [c.d, 2 * c.weights.R.shape[1]]), name)
            XCTAssertEqual(back.P, c.weights.P, name)
        }
        // Random stacks of every exportable kind: export every layer, import into a fresh layer.
        let configs = [
            RecurrentConfig(cell: .gru, inputSize: 3, hiddenSize: 4, numLayers: 2, direction: .bidirectional, gruVariant: .classic),
            RecurrentConfig(cell: .gru, inputSize: 2, hiddenSize: 3, numLayers: 3, direction: .reverse),
            RecurrentConfig(cell: .lstm, inputSize: 3, hiddenSize: 5, numLayers: 2, direction: .bidirectional, merge: .sum, peepholes: true),
            RecurrentConfig(cell: .lstm, inputSize: 4, hiddenSize: 2, bias: false),
            RecurrentConfig(cell: .rnnReLU, inputSize: 3, hiddenSize: 4, numLayers: 2, direction: .bidirectional),
        ]
        for config in configs {
            let a = try RecurrentLayer<Float>(config, seed: 21), b = try RecurrentLayer<Float>(config, seed: 22)
            XCTAssertNotEqual(a.arena.values, b.arena.values)
            let lbr = config.cell == .gru && config.gruVariant == .linearBeforeReset ? 1 : 0
            for l in 0 ..< config.numLayers {
                try b.importONNX(try a.exportONNX(layer: l), layer: l, direction: config.direction, linearBeforeReset: lbr)
            }
            XCTAssertEqual(b.arena.values.map(\.bitPattern), a.arena.values.map(\.bitPattern), "\(config)")
        }
    }

    /// A stack of ONNX nodes (each node's Y [T, D, B, H] reshaped to [T, B, D·H] for the next) is
    /// one multi-layer layer: importing each node as a layer of the stack gives the same outputs as
    /// running single-layer imports one after another.
    func testStackedNodesImportAsLayers() throws {
        let first = try Self.load("gru_lbr_bidir", Float.self)
        let (h, i) = (first.h, first.i)
        var rng = SeqRandom(seed: 3)
        func random(_ shape: [Int]) throws -> Tensor<Float> {
            try Tensor(shape: shape, data: (0 ..< shape.reduce(1, *)).map { _ in Float(rng.uniform(-0.5, 0.5)) })
        }
        let second = ONNXRecurrentWeights(W: try random([2, 3 * h, 2 * h]), R: try random([2, 3 * h, h]), B: try random([2, 6 * h]))
        let stack = try RecurrentLayer<Float>(RecurrentConfig(cell: .gru, inputSize: i, hiddenSize: h, numLayers: 2, direction: .bidirectional))
        try stack.importONNX(first.weights, layer: 0, direction: .bidirectional, linearBeforeReset: 1)
        try stack.importONNX(second, layer: 1, direction: .bidirectional, linearBeforeReset: 1)
        let l0 = try RecurrentLayer<Float>(onnx: first.weights, cell: .gru, direction: .bidirectional, linearBeforeReset: 1)
        let l1 = try RecurrentLayer<Float>(onnx: second, cell: .gru, direction: .bidirectional, linearBeforeReset: 1)
        let x = try random([6, 3, i]), lengths = [6, 2, 4]
        let whole = try stack.forward(x, lengths: lengths)
        let o0 = try l0.forward(x, lengths: lengths)
        let o1 = try l1.forward(o0.output, lengths: lengths)
        XCTAssertEqual(whole.output.data, o1.output.data)
        XCTAssertEqual(whole.hN.data, o0.hN.data + o1.hN.data)
    }

    func testWrongArraysAreRefusedAndChangeNothing() throws {
        let c = try Self.load("lstm_peephole_bidir", Float.self)
        let layer = try RecurrentLayer<Float>(onnx: c.weights, cell: .lstm, direction: .bidirectional)
        let before = layer.arena.values
        func refuse(_ words: [String], _ label: String, _ w: ONNXRecurrentWeights<Float>, layer l: RecurrentLayer<Float>? = nil,
                    index: Int = 0, direction: Direction = .bidirectional, lbr: Int = 0) {
            let target = l ?? layer
            let values = target.arena.values
            XCTAssertThrowsError(try target.importONNX(w, layer: index, direction: direction, linearBeforeReset: lbr), label) { e in
                XCTAssertEqual((e as? SeqError)?.kind, .invalidArgument, "\(label): \(e)")
                for word in words where !"\(e)".contains(word) { XCTFail("\(label): the message does not say '\(word)': \(e)") }
            }
            XCTAssertEqual(target.arena.values, values, "\(label): parameters changed")
        }
        var w = c.weights
        w.W = try Tensor(shape: [2, 16, 4], data: [Float](repeating: 0, count: 128))
        refuse(["'W'", "[2, 16, 3]", "[2, 16, 4]"], "W with the wrong I", w)
        w = c.weights
        w.R = try Tensor(shape: [1, 16, 4], data: [Float](repeating: 0, count: 64))
        refuse(["'R'", "[2, 16, 4]", "[1, 16, 4]"], "R of one direction", w)
        w = c.weights
        w.B = try Tensor(shape: [2, 16], data: [Float](repeating: 0, count: 32))
        refuse(["'B'", "[2, 32]"], "B of G·H", w)
        w = c.weights
        w.P = try Tensor(shape: [2, 8], data: [Float](repeating: 0, count: 16))
        refuse(["'P'", "[2, 12]"], "P of 2H", w)
        w = c.weights
        w.R.data[37] = .nan
        refuse(["'R'", "finite", "37"], "NaN in R", w)
        w = c.weights
        w.B!.data[0] = .infinity
        refuse(["'B'", "finite"], "infinity in B", w)
        refuse(["direction", "'bidirectional'", "'forward'"], "direction", c.weights, direction: .forward)
        refuse(["linear_before_reset", "GRU"], "lbr for an LSTM", c.weights, lbr: 1)
        refuse(["layer", "0..<1"], "layer index", c.weights, index: 1)

        // GRU variants must match linear_before_reset.
        let g = try Self.load("gru_classic_bidir", Float.self)
        let classic = try RecurrentLayer<Float>(onnx: g.weights, cell: .gru, direction: .bidirectional, linearBeforeReset: 0)
        refuse(["linear_before_reset", "0 for this layer's GRU variant 'classic'"], "lbr 1 on classic", g.weights, layer: classic, lbr: 1)
        refuse(["linear_before_reset", "0 or 1"], "lbr 2", g.weights, layer: classic, lbr: 2)
        let pytorchGRU = try RecurrentLayer<Float>(RecurrentConfig(cell: .gru, inputSize: g.i, hiddenSize: g.h, direction: .bidirectional))
        refuse(["1 for this layer's GRU variant 'linear_before_reset'"], "lbr 0 on PyTorch's GRU", g.weights, layer: pytorchGRU, lbr: 0)
        let simplified = try RecurrentLayer<Float>(RecurrentConfig(cell: .gru, inputSize: g.i, hiddenSize: g.h, direction: .bidirectional,
                                                                   gruVariant: .simplified))
        refuse(["simplified"], "simplified GRU", g.weights, layer: simplified)
        var gp = g.weights
        gp.P = try Tensor(shape: [2, 3 * g.h], data: [Float](repeating: 0, count: 6 * g.h))
        refuse(["'P'", "LSTM only"], "P for a GRU", gp, layer: classic)
        XCTAssertThrowsError(try RecurrentLayer<Float>(onnx: g.weights, cell: .gru, direction: .bidirectional, linearBeforeReset: 3))

        // Layers without biases, peepholes, or with a projection.
        let plain = try RecurrentLayer<Float>(RecurrentConfig(cell: .lstm, inputSize: c.i, hiddenSize: c.h, direction: .bidirectional, bias: false))
        refuse(["'B'", "bias: false"], "B for a layer without bias", c.weights, layer: plain)
        var zeroB = c.weights
        zeroB.B = Tensor(zeros: c.weights.B!.shape)
        zeroB.P = nil
        XCTAssertNoThrow(try plain.importONNX(zeroB, direction: .bidirectional), "zero B is accepted without biases")
        var onlyP = zeroB
        onlyP.P = c.weights.P
        refuse(["'P'", "peepholes: false"], "P for an LSTM without peepholes", onlyP, layer: plain)
        let projected = try RecurrentLayer<Float>(RecurrentConfig(cell: .lstm, inputSize: c.i, hiddenSize: c.h, direction: .bidirectional, projSize: 2))
        refuse(["proj_size"], "projection", c.weights, layer: projected)
        XCTAssertThrowsError(try projected.exportONNX())
        XCTAssertThrowsError(try simplified.exportONNX())
        XCTAssertEqual(layer.arena.values, before)

        // A missing B or P means zeros (ONNX's defaults).
        var bare = c.weights
        (bare.B, bare.P) = (nil, nil)
        let peep = try RecurrentLayer<Float>(RecurrentConfig(cell: .lstm, inputSize: c.i, hiddenSize: c.h, direction: .bidirectional, peepholes: true), seed: 1)
        try peep.importONNX(bare, direction: .bidirectional)
        XCTAssertTrue(try peep.arena.value("bias_ih_l0").data.allSatisfy { $0 == 0 })
        XCTAssertTrue(try peep.arena.value("peephole_l0_reverse").data.allSatisfy { $0 == 0 })
    }
}
