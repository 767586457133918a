import Foundation
import XCTest
import SeqCore

/// Forward outputs, final states and every gradient against PyTorch (float64) and, for the classic
/// GRU and peephole LSTM which PyTorch lacks, the ONNX reference operators (forward only).
/// Fixtures: Tests/Fixtures/make_fixtures.py.
final class GoldenTests: XCTestCase {
    func config(from c: [String: Any]) throws -> RecurrentConfig {
        let cell = try XCTUnwrap(CellType(rawValue: c["cell"] as! String))
        var cfg = RecurrentConfig(cell: cell, inputSize: c.int("input_size")!, hiddenSize: c.int("hidden_size")!,
                                  numLayers: c.int("num_layers")!,
                                  direction: (c["bidirectional"] as! Bool) ? .bidirectional : .forward,
                                  projSize: c.int("proj_size") ?? 0, peepholes: c["peepholes"] as? Bool ?? false,
                                  bias: c["bias"] as? Bool ?? true)
        if let v = c["gru_variant"] as? String { cfg.gruVariant = try XCTUnwrap(GRUVariant(rawValue: v)) }
        return cfg
    }

    /// Runs one fixture in scalar type S; returns the largest relative error seen over outputs and gradients.
    func run<S: SeqScalar>(_ file: String, _: S.Type, rtol: Double, atol: Double) throws -> (forward: Double, backward: Double) {
        let f = try loadJSON(file)
        let cfg = try config(from: f["config"] as! [String: Any])
        let steps = f.int("T")!, batch = f.int("B")!
        let layer = try RecurrentLayer<S>(cfg)
        let params = f["params"] as! [String: [NSNumber]]
        XCTAssertEqual(Set(params.keys), Set(layer.parameterNames), "\(file): parameter names")
        for (name, values) in params { try layer.arena.setValue(name, values.map { S($0.doubleValue) }) }
        func t(_ key: String, _ shape: [Int]) throws -> Tensor<S>? {
            guard let d = f.doubles(key) else { return nil }
            return try Tensor(shape: shape, data: d.map { S($0) })
        }
        let slots = cfg.numLayers * cfg.numDirections
        let input = try t("input", [steps, batch, cfg.inputSize])!
        let h0 = try t("h0", [slots, batch, cfg.outputSize])
        let c0 = try t("c0", [slots, batch, cfg.hiddenSize])
        let hasGrads = f["grads"] != nil
        let out = try layer.forward(input, lengths: f.ints("lengths"), h0: h0, c0: c0, training: hasGrads)
        var fwd = 0.0, bwd = 0.0
        fwd = max(fwd, assertClose(out.output.data, f.doubles("output")!, rtol: rtol, atol: atol, "\(file) output"))
        fwd = max(fwd, assertClose(out.hN.data, f.doubles("h_n")!, rtol: rtol, atol: atol, "\(file) h_n"))
        if let cn = f.doubles("c_n") {
            fwd = max(fwd, assertClose(out.cN!.data, cn, rtol: rtol, atol: atol, "\(file) c_n"))
        }
        guard hasGrads else { return (fwd, 0) }
        let g = try layer.backward(out.tape!, gradOutput: try t("grad_output", out.output.shape),
                                   gradHN: try t("grad_h_n", out.hN.shape), gradCN: try t("grad_c_n", [slots, batch, cfg.hiddenSize]))
        let grads = f["grads"] as! [String: [NSNumber]]
        for (name, expected) in grads {
            bwd = max(bwd, assertClose(try layer.arena.gradient(name).data, expected.map(\.doubleValue),
                                       rtol: rtol, atol: atol, "\(file) d\(name)"))
        }
        bwd = max(bwd, assertClose(g.input.data, f.doubles("grad_input")!, rtol: rtol, atol: atol, "\(file) grad_input"))
        bwd = max(bwd, assertClose(g.h0.data, f.doubles("grad_h0")!, rtol: rtol, atol: atol, "\(file) grad_h0"))
        if let gc0 = f.doubles("grad_c0") {
            bwd = max(bwd, assertClose(g.c0!.data, gc0, rtol: rtol, atol: atol, "\(file) grad_c0"))
        }
        return (fwd, bwd)
    }

    var fixtureFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixturesURL.path)) ?? [])
            .filter { $0.hasPrefix("engine_") && $0.hasSuffix(".json") }.sorted()
    }

    func testFixturesExist() {
        XCTAssertGreaterThanOrEqual(fixtureFiles.count, 18, "golden files missing from \(fixturesURL.path)")
    }

    /// float32 within rel 1e-4 / abs 1e-5 of the float64 oracle (the bar).
    func testFloatMatchesOracles() throws {
        var report: [String] = []
        for file in fixtureFiles {
            let (f, b) = try run(file, Float.self, rtol: 1e-4, atol: 1e-5)
            report.append(String(format: "%-48@ forward %.2e  backward %.2e", file as NSString, f, b))
        }
        print("Largest relative error, Float vs oracle:\n" + report.joined(separator: "\n"))
    }

    /// float64 agrees to ~1e-12: the equations are the same, not merely close.
    func testDoubleMatchesOraclesExactly() throws {
        for file in fixtureFiles { _ = try run(file, Double.self, rtol: 1e-10, atol: 1e-12) }
    }
}
