import XCTest
import SeqCore

/// BPTT against central finite differences in Double, over an exhaustive small grid:
/// cell × variant × direction × layers {1, 2} × T {1, 2, 5} × B {1, 3} × unequal lengths.
/// Every parameter, every input element and every initial-state element is checked.
final class GradientCheckTests: XCTestCase {
    struct CellCase {
        let label: String
        let cell: CellType
        var gru: GRUVariant = .linearBeforeReset
        var peepholes = false
        var proj = 0
    }

    static let cells: [CellCase] = [
        CellCase(label: "rnn_tanh", cell: .rnnTanh),
        CellCase(label: "rnn_relu", cell: .rnnReLU),
        CellCase(label: "gru_lbr", cell: .gru),
        CellCase(label: "gru_classic", cell: .gru, gru: .classic),
        CellCase(label: "gru_simplified", cell: .gru, gru: .simplified),
        CellCase(label: "lstm", cell: .lstm),
        CellCase(label: "lstm_peephole", cell: .lstm, peepholes: true),
        CellCase(label: "lstm_proj", cell: .lstm, proj: 2),
        CellCase(label: "lstm_peephole_proj", cell: .lstm, peepholes: true, proj: 2),
    ]

    /// L = Σ output ⊙ gO + Σ h_n ⊙ gH + Σ c_n ⊙ gC, with fixed random g's.
    struct Probe {
        let layer: RecurrentLayer<Double>
        var input: Tensor<Double>, h0: Tensor<Double>, c0: Tensor<Double>?
        let lengths: [Int]
        let gO: Tensor<Double>, gH: Tensor<Double>, gC: Tensor<Double>?
        let batchFirst: Bool
        let dropoutState: SeqRandom

        func loss() throws -> Double {
            layer.random = dropoutState  // the same dropout mask every evaluation
            let out = try layer.forward(input, lengths: lengths, h0: h0, c0: c0, batchFirst: batchFirst,
                                        training: layer.config.dropout > 0)
            var l = zip(out.output.data, gO.data).reduce(0) { $0 + $1.0 * $1.1 }
            l += zip(out.hN.data, gH.data).reduce(0) { $0 + $1.0 * $1.1 }
            if let cN = out.cN, let gC { l += zip(cN.data, gC.data).reduce(0) { $0 + $1.0 * $1.1 } }
            return l
        }
    }

    func check(_ cfg: RecurrentConfig, steps: Int, batch: Int, lengths: [Int], batchFirst: Bool = false,
               label: String, seed: UInt64) throws {
        let layer = try RecurrentLayer<Double>(cfg, seed: seed)
        let slots = cfg.numLayers * cfg.numDirections
        let inShape = batchFirst ? [batch, steps, cfg.inputSize] : [steps, batch, cfg.inputSize]
        let outShape = batchFirst ? [batch, steps, cfg.outputFeatures] : [steps, batch, cfg.outputFeatures]
        func rand(_ shape: [Int], _ s: UInt64) throws -> Tensor<Double> {
            try Tensor(shape: shape, data: randomValues(shape.reduce(1, *), seed: seed &* 31 &+ s))
        }
        var probe = Probe(
            layer: layer, input: try rand(inShape, 1), h0: try rand([slots, batch, cfg.outputSize], 2),
            c0: cfg.hasCellState ? try rand([slots, batch, cfg.hiddenSize], 3) : nil, lengths: lengths,
            gO: try rand(outShape, 4), gH: try rand([slots, batch, cfg.outputSize], 5),
            gC: cfg.hasCellState ? try rand([slots, batch, cfg.hiddenSize], 6) : nil,
            batchFirst: batchFirst, dropoutState: layer.random)

        layer.random = probe.dropoutState
        let out = try layer.forward(probe.input, lengths: lengths, h0: probe.h0, c0: probe.c0,
                                    batchFirst: batchFirst, training: true)
        let grads = try layer.backward(out.tape!, gradOutput: probe.gO, gradHN: probe.gH, gradCN: probe.gC)

        let eps = 1e-6
        func numeric(_ get: () -> Double, _ set: (Double) -> Void) throws -> Double {
            let x = get()
            set(x + eps); let lp = try probe.loss()
            set(x - eps); let lm = try probe.loss()
            set(x)
            return (lp - lm) / (2 * eps)
        }
        let rtol = 1e-5, atol = 1e-7
        var numericParams = [Double](repeating: 0, count: layer.arena.count)
        for i in 0 ..< layer.arena.count {
            numericParams[i] = try numeric({ layer.arena.values[i] }, { layer.arena.values[i] = $0 })
        }
        for p in layer.arena.table {
            assertClose(Array(layer.arena.gradients[p.offset ..< p.offset + p.count]),
                        Array(numericParams[p.offset ..< p.offset + p.count]), rtol: rtol, atol: atol, "\(label) d\(p.name)")
        }
        var numericInput = [Double](repeating: 0, count: probe.input.count)
        for i in numericInput.indices {
            numericInput[i] = try numeric({ probe.input.data[i] }, { probe.input.data[i] = $0 })
        }
        assertClose(grads.input.data, numericInput, rtol: rtol, atol: atol, "\(label) d_input")
        var numericH0 = [Double](repeating: 0, count: probe.h0.count)
        for i in numericH0.indices { numericH0[i] = try numeric({ probe.h0.data[i] }, { probe.h0.data[i] = $0 }) }
        assertClose(grads.h0.data, numericH0, rtol: rtol, atol: atol, "\(label) d_h0")
        if probe.c0 != nil {
            var numericC0 = [Double](repeating: 0, count: probe.c0!.count)
            for i in numericC0.indices { numericC0[i] = try numeric({ probe.c0!.data[i] }, { probe.c0!.data[i] = $0 }) }
            assertClose(grads.c0!.data, numericC0, rtol: rtol, atol: atol, "\(label) d_c0")
        }
    }

    func testExhaustiveGrid() throws {
        var cases = 0
        let directions: [(Direction, MergeMode, String)] = [
            (.forward, .concat, "forward"), (.reverse, .concat, "reverse"),
            (.bidirectional, .concat, "bidir_concat"), (.bidirectional, .sum, "bidir_sum"),
        ]
        for cc in Self.cells {
            for (direction, merge, dname) in directions {
                for layers in [1, 2] {
                    for steps in [1, 2, 5] {
                        for batch in [1, 3] {
                            let lengths = batch == 1 ? [steps] : [max(1, steps - 1), steps, 1]
                            let cfg = RecurrentConfig(cell: cc.cell, inputSize: 2, hiddenSize: 3, numLayers: layers,
                                                      direction: direction, merge: merge, gruVariant: cc.gru,
                                                      projSize: cc.proj, peepholes: cc.peepholes)
                            let label = "\(cc.label) \(dname) L=\(layers) T=\(steps) B=\(batch) lengths=\(lengths)"
                            try check(cfg, steps: steps, batch: batch, lengths: lengths, label: label, seed: UInt64(cases + 1))
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertEqual(cases, Self.cells.count * 4 * 2 * 3 * 2)
        print("gradient check: \(cases) combinations")
    }

    func testBatchFirstAndDropoutAndNoBias() throws {
        for cc in Self.cells {
            var cfg = RecurrentConfig(cell: cc.cell, inputSize: 3, hiddenSize: 4, numLayers: 3,
                                      direction: .bidirectional, gruVariant: cc.gru, projSize: cc.proj,
                                      peepholes: cc.peepholes, dropout: 0.4)
            try check(cfg, steps: 4, batch: 3, lengths: [4, 2, 3], batchFirst: true,
                      label: "\(cc.label) batch-first dropout 0.4", seed: 7)
            cfg.bias = false
            cfg.dropout = 0
            try check(cfg, steps: 3, batch: 2, lengths: [3, 1], label: "\(cc.label) no bias", seed: 8)
        }
    }
}
