import XCTest
import SeqCore

/// Lengths, padding, directions and initialisation: properties that must hold for any weights.
final class LayerBehaviourTests: XCTestCase {
    /// Inference keeps packed weights between calls; a training pass does not. Every way of changing
    /// the parameters — `setValue`, a subscript, a mutable buffer, a new array, `updateValues` — is seen at the next
    /// call: the outputs then equal, bit for bit, those of a fresh layer given the changed weights,
    /// and differ from before the change. Batch 1 (the matrix–vector path) and batch 5 (the GEMM).
    func testInferenceWeightCacheFollowsParameterChanges() throws {
        for cell in [CellType.lstm, .gru, .rnnTanh] {
            for batch in [1, 5] {
                let cfg = RecurrentConfig(cell: cell, inputSize: 20, hiddenSize: 48, numLayers: 2, direction: .bidirectional)
                let layer = try RecurrentLayer<Float>(cfg, seed: 21)
                let x = try Tensor(shape: [6, batch, 20], data: randomValues(6 * batch * 20, seed: 22).map(Float.init))
                let label = "\(cell) B=\(batch)"
                func outputs(_ l: RecurrentLayer<Float>) throws -> [UInt32] {
                    let o = try l.forward(x)
                    return (o.output.data + o.hN.data + (o.cN?.data ?? [])).map(\.bitPattern)
                }
                XCTAssertEqual(layer.packedWeightBytes, 0, label)
                _ = try layer.forward(x, training: true)
                XCTAssertEqual(layer.packedWeightBytes, 0, "\(label): a training pass caches nothing")
                var before = try outputs(layer)
                // Both directions' input and recurrent weights of both layers (4 · 2 · 2 matrices).
                let weights = 2 * 2 * cfg.gateCount * 48 * (20 + 48) + 2 * cfg.gateCount * 48 * (2 * 48 - 20)
                XCTAssertGreaterThanOrEqual(layer.packedWeightBytes, weights * 4, "\(label): panels of every weight matrix")
                XCTAssertTrue(try outputs(layer) == before, "\(label): a cached call repeats the first")
                let hh = try layer.arena.info("weight_hh_l1_reverse"), ih = try layer.arena.info("weight_ih_l0")
                let changes: [(String, (ParameterArena<Float>) throws -> Void)] = [
                    ("setValue", { try $0.setValue("weight_hh_l0", try $0.value("weight_hh_l0").data.map { $0 * 0.5 }) }),
                    ("subscript", { $0.values[hh.offset + 7] += 0.75 }),
                    ("mutable buffer", { a in a.values.withUnsafeMutableBufferPointer { $0[ih.offset + 3] = -$0[ih.offset + 3] - 0.5 } }),
                    ("new array", { a in a.values = a.values.map { $0 * 0.9 } }),
                    ("updateValues", { a in a.updateValues { $0[hh.offset + 11] = -1.5 * $0[hh.offset + 11] - 0.25 } }),
                ]
                for (how, change) in changes {
                    try change(layer.arena)
                    let after = try outputs(layer)
                    let fresh = try RecurrentLayer<Float>(cfg, seed: 99)
                    fresh.arena.values = layer.arena.values
                    let expected = try outputs(fresh)
                    XCTAssertEqual(zip(after, expected).filter { $0 != $1 }.count, 0,
                                   "\(label): after a change by \(how), the cached layer differs from a fresh one")
                    XCTAssertTrue(after != before, "\(label): the change by \(how) had no effect")
                    before = after
                }
            }
        }
    }

    /// `updateValues` changes the parameters where they are, from another module too (this test's):
    /// the buffer keeps its address, where a subscript on `values` from outside SeqCore copies every
    /// parameter first (its observer's get and set).
    func testUpdateValuesChangesTheParametersInPlace() throws {
        let layer = try RecurrentLayer<Float>(RecurrentConfig(cell: .lstm, inputSize: 64, hiddenSize: 128), seed: 5)
        let arena = layer.arena, version = arena.version
        let address = arena.values.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let old = arena.values[100]
        arena.updateValues { $0[100] = 2 * $0[100] + 1 }
        XCTAssertEqual(arena.values.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, address,
                       "updateValues reallocated the parameters")
        XCTAssertEqual(arena.values[100], 2 * old + 1)
        XCTAssertNotEqual(arena.version, version, "updateValues must advance the version (packed weights go stale)")
    }

    /// A forward and backward pass read the weights and leave the arena's version alone: a
    /// version advanced by backpropagation would rebuild the packed weights at every step and make
    /// the C API refuse a seq_model_backward after a seq_model_compute_gradients.
    func testForwardAndBackwardLeaveTheVersion() throws {
        for cell in [CellType.lstm, .gru, .rnnTanh] {
            let layer = try RecurrentLayer<Float>(RecurrentConfig(cell: cell, inputSize: 3, hiddenSize: 4, numLayers: 2,
                                                                  direction: .bidirectional), seed: 2)
            let version = layer.arena.version
            let x = try Tensor<Float>(shape: [5, 2, 3], data: (0 ..< 30).map { Float($0 % 7) / 7 - 0.4 })
            let out = try layer.forward(x, lengths: [5, 3], training: true)
            let grads = try layer.backward(out.tape!, gradOutput: Tensor(shape: out.output.shape,
                                                                         data: out.output.data.map { $0 + 1 }))
            XCTAssertGreaterThan(grads.input.data.map(abs).max()!, 0, "\(cell): the backward ran")
            XCTAssertGreaterThan(layer.arena.gradients.map(abs).max()!, 0, "\(cell): the backward ran")
            XCTAssertEqual(layer.arena.version, version, "\(cell): forward and backward advanced the version")
        }
    }

    /// Inference on the caller's memory (`forward(timeMajor:…)`) gives, bit for bit, what the
    /// array forward gives from the same initial states, for every cell, stacked and bidirectional,
    /// batch 1 and batch 18 (split over the threads); it refuses non-finite input, h0 and c0 by
    /// name, and an LSTM without a buffer for its final memory cell.
    func testForwardOnTheCallersMemoryEqualsTheArrayForward() throws {
        for cell in [CellType.lstm, .gru, .rnnTanh] {
            for direction in [Direction.forward, .bidirectional] {
                for batch in [1, 18] {
                    let cfg = RecurrentConfig(cell: cell, inputSize: 7, hiddenSize: 24, numLayers: 2, direction: direction)
                    let layer = try RecurrentLayer<Float>(cfg, seed: 3)
                    let steps = 5, slots = 2 * cfg.numDirections, label = "\(cell) \(direction) B=\(batch)"
                    let x = randomValues(steps * batch * 7, seed: 4).map(Float.init)
                    let h0 = randomValues(slots * batch * 24, seed: 6).map { Float($0) * 0.5 }
                    let c0 = cfg.hasCellState ? randomValues(slots * batch * 24, seed: 7).map(Float.init) : nil
                    let expected = try layer.forward(try Tensor(shape: [steps, batch, 7], data: x),
                                                     h0: try Tensor(shape: [slots, batch, 24], data: h0),
                                                     c0: try c0.map { try Tensor(shape: [slots, batch, 24], data: $0) })
                    var output = [Float](repeating: .nan, count: expected.output.data.count)
                    var hN = [Float](repeating: .nan, count: h0.count), cN = c0.map { [Float](repeating: .nan, count: $0.count) }
                    func run(_ input: [Float], _ h: [Float], _ c: [Float]?, cNBuffer: Bool = true) throws {
                        try input.withUnsafeBufferPointer { xp in
                            try h.withUnsafeBufferPointer { hp in
                                try (c ?? [0]).withUnsafeBufferPointer { cp in
                                    try output.withUnsafeMutableBufferPointer { op in
                                        try hN.withUnsafeMutableBufferPointer { hn in
                                            var spare = cN ?? [0]
                                            try spare.withUnsafeMutableBufferPointer { cn in
                                                try layer.forward(timeMajor: xp.baseAddress!, steps: steps, batch: batch, h0: hp.baseAddress!,
                                                                  c0: c == nil ? nil : cp.baseAddress!, output: op.baseAddress!,
                                                                  hN: hn.baseAddress!, cN: cNBuffer && cN != nil ? cn.baseAddress! : nil)
                                            }
                                            if cN != nil { cN = spare }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    try run(x, h0, c0)
                    XCTAssertTrue(output.map(\.bitPattern) == expected.output.data.map(\.bitPattern), "\(label): output")
                    XCTAssertTrue(hN.map(\.bitPattern) == expected.hN.data.map(\.bitPattern), "\(label): h_n")
                    XCTAssertTrue((cN ?? []).map(\.bitPattern) == (expected.cN?.data ?? []).map(\.bitPattern), "\(label): c_n")
                    var bad = x
                    bad[5] = .infinity
                    XCTAssertThrowsError(try run(bad, h0, c0), label) { XCTAssertTrue("\($0)".contains("input"), "\($0)") }
                    var badH = h0
                    badH[1] = .nan
                    XCTAssertThrowsError(try run(x, badH, c0), label) { XCTAssertTrue("\($0)".contains("h0"), "\($0)") }
                    if var badC = c0 {
                        badC[0] = -.infinity
                        XCTAssertThrowsError(try run(x, h0, badC), label) { XCTAssertTrue("\($0)".contains("c0"), "\($0)") }
                        XCTAssertThrowsError(try run(x, h0, c0, cNBuffer: false), label) { XCTAssertTrue("\($0)".contains("cN"), "\($0)") }
                    }
                }
            }
        }
    }

    /// A sequence padded into a longer batch gives exactly what it gives alone, whatever the padding
    /// holds; its padded steps output zero and receive zero input gradient.
    func testPaddingIsInvisible() throws {
        for cell in CellType.allCases {
            for direction in Direction.allCases {
                let cfg = RecurrentConfig(cell: cell, inputSize: 3, hiddenSize: 5, numLayers: 2, direction: direction)
                let layer = try RecurrentLayer<Double>(cfg, seed: 3)
                let alone = try Tensor(shape: [2, 1, 3], data: randomValues(6, seed: 1))
                var padded = randomValues(6 * 2 * 3, seed: 2)  // T = 6, B = 2, garbage everywhere
                for t in 0 ..< 2 { for i in 0 ..< 3 { padded[(t * 2 + 1) * 3 + i] = alone.data[t * 3 + i] } }
                let a = try layer.forward(alone)
                let p = try layer.forward(try Tensor(shape: [6, 2, 3], data: padded), lengths: [6, 2], training: true)
                let f = cfg.outputFeatures
                var row: [Double] = []
                for t in 0 ..< 2 { row += p.output.data[(t * 2 + 1) * f ..< (t * 2 + 2) * f] }
                let label = "\(cell) \(direction)"
                assertClose(row, a.output.data, rtol: 1e-12, atol: 1e-14, "\(label) padded output")
                for t in 2 ..< 6 {
                    XCTAssertEqual(Array(p.output.data[(t * 2 + 1) * f ..< (t * 2 + 2) * f]), [Double](repeating: 0, count: f),
                                   "\(label) output at padded step \(t)")
                }
                let hout = cfg.outputSize
                for s in 0 ..< cfg.numLayers * cfg.numDirections {
                    assertClose(Array(p.hN.data[(s * 2 + 1) * hout ..< (s * 2 + 2) * hout]),
                                Array(a.hN.data[s * hout ..< (s + 1) * hout]), rtol: 1e-12, atol: 1e-14, "\(label) h_n slot \(s)")
                }
                let g = try layer.backward(p.tape!, gradOutput: try Tensor(shape: p.output.shape, data: randomValues(p.output.count, seed: 4)))
                for t in 2 ..< 6 {
                    XCTAssertEqual(Array(g.input.data[(t * 2 + 1) * 3 ..< (t * 2 + 2) * 3]), [0, 0, 0], "\(label) d_input at padded step \(t)")
                }
            }
        }
    }

    /// The tape keeps the training input by reference, not by copy: changing the caller's tensor
    /// between forward and backward must not change the weight gradients (copy-on-write), in
    /// both layouts.
    func testChangingTheInputAfterForwardLeavesBackwardAlone() throws {
        for batchFirst in [false, true] {
            let cfg = RecurrentConfig(cell: .lstm, inputSize: 3, hiddenSize: 4)
            let layer = try RecurrentLayer<Float>(cfg, seed: 5)
            let shape = batchFirst ? [2, 4, 3] : [4, 2, 3]
            let data = randomValues(24, seed: 6).map { Float($0) }
            let gy = try Tensor(shape: batchFirst ? [2, 4, 4] : [4, 2, 4], data: randomValues(32, seed: 7).map { Float($0) })
            func gradients(changingInput: Bool) throws -> [Float] {
                layer.arena.zeroGradients()
                var x = try Tensor(shape: shape, data: data)
                let out = try layer.forward(x, batchFirst: batchFirst, training: true)
                if changingInput { for i in x.data.indices { x.data[i] = 100 } }
                _ = try layer.backward(out.tape!, gradOutput: gy)
                return layer.arena.gradients
            }
            let clean = try gradients(changingInput: false)
            XCTAssertGreaterThan(clean.map(abs).max()!, 1e-3, "batchFirst \(batchFirst): some gradient")
            XCTAssertEqual(try gradients(changingInput: true), clean, "batchFirst \(batchFirst)")
        }
    }

    /// Reverse alone equals the backward half of a bidirectional layer with the same weights, and
    /// a bidirectional sum equals the two halves of concat added.
    func testDirectionsAndMerge() throws {
        let base = RecurrentConfig(cell: .gru, inputSize: 2, hiddenSize: 3, direction: .bidirectional)
        let bi = try RecurrentLayer<Double>(base, seed: 5)
        var sumCfg = base; sumCfg.merge = .sum
        let sum = try RecurrentLayer<Double>(sumCfg, seed: 5)
        var revCfg = base; revCfg.direction = .reverse
        let rev = try RecurrentLayer<Double>(revCfg, seed: 9)
        for n in rev.parameterNames { try rev.arena.setValue(n, bi.arena.value(n + "_reverse").data) }
        let x = try Tensor(shape: [4, 2, 2], data: randomValues(16, seed: 6))
        let lengths = [4, 2]
        let ob = try bi.forward(x, lengths: lengths), os = try sum.forward(x, lengths: lengths), orv = try rev.forward(x, lengths: lengths)
        var second: [Double] = [], added: [Double] = []
        for r in 0 ..< 8 {
            second += ob.output.data[r * 6 + 3 ..< r * 6 + 6]
            for j in 0 ..< 3 { added.append(ob.output.data[r * 6 + j] + ob.output.data[r * 6 + 3 + j]) }
        }
        assertClose(orv.output.data, second, rtol: 1e-12, atol: 1e-14, "reverse == backward half")
        assertClose(os.output.data, added, rtol: 1e-12, atol: 1e-14, "sum == concat halves added")
    }

    func testInitialisation() throws {
        let cfg = RecurrentConfig(cell: .lstm, inputSize: 5, hiddenSize: 16, numLayers: 2)
        let torchLike = try RecurrentLayer<Double>(cfg, seed: 1)
        let bound = 1 / 4.0
        XCTAssertTrue(torchLike.arena.values.allSatisfy { abs($0) <= bound }, "U(±1/√H)")
        XCTAssertGreaterThan(torchLike.arena.values.map(abs).max()!, 0.9 * bound)
        XCTAssertNotEqual(try RecurrentLayer<Double>(cfg, seed: 2).arena.values, torchLike.arena.values)
        XCTAssertEqual(try RecurrentLayer<Double>(cfg, seed: 1).arena.values, torchLike.arena.values, "seeded")

        let ortho = try RecurrentLayer<Double>(cfg, initialization: .orthogonal, seed: 3, forgetBias: 1)
        let w = try ortho.arena.value("weight_hh_l0").data  // 4 blocks of 16 × 16
        for block in 0 ..< 4 {
            for i in 0 ..< 16 {
                for j in 0 ..< 16 {
                    var dot = 0.0
                    for k in 0 ..< 16 { dot += w[block * 256 + i * 16 + k] * w[block * 256 + j * 16 + k] }
                    XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-9, "orthogonal block \(block) (\(i), \(j))")
                }
            }
        }
        let b = try ortho.arena.value("bias_ih_l0").data
        XCTAssertEqual(Array(b[16 ..< 32]), [Double](repeating: 1, count: 16), "forget bias")
        XCTAssertEqual(Array(b[0 ..< 16]), [Double](repeating: 0, count: 16))
        let xavier = try RecurrentLayer<Double>(cfg, initialization: .xavier, seed: 4)
        let xb = (6.0 / Double(16 + 5)).squareRoot()
        XCTAssertTrue(try xavier.arena.value("weight_ih_l0").data.allSatisfy { abs($0) <= xb })
    }

    /// The vanishing-gradient diagnostic: one norm per layer·direction and step, and for a vanilla
    /// tanh RNN with small weights the gradient reaching early steps is far smaller than at the end.
    func testStepGradientNormsShowVanishing() throws {
        let cfg = RecurrentConfig(cell: .rnnTanh, inputSize: 1, hiddenSize: 8)
        let layer = try RecurrentLayer<Double>(cfg, seed: 2)
        let steps = 30
        let out = try layer.forward(try Tensor(shape: [steps, 1, 1], data: randomValues(steps, seed: 3)), training: true)
        var gO = [Double](repeating: 0, count: out.output.count)
        for j in 0 ..< 8 { gO[(steps - 1) * 8 + j] = 1 }  // loss on the last step only
        let g = try layer.backward(out.tape!, gradOutput: try Tensor(shape: out.output.shape, data: gO))
        XCTAssertEqual(g.stepGradientNorms.shape, [1, steps])
        let n = g.stepGradientNorms.data
        XCTAssertEqual(n[steps - 1], 8.0.squareRoot(), accuracy: 1e-12)
        XCTAssertLessThan(n[0], 1e-3 * n[steps - 1], "gradient should vanish over 30 steps: \(n)")
    }
}
