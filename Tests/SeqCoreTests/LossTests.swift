import XCTest
import SeqCore

/// Losses from logits with length masks: PyTorch values, finite-difference gradients over a small
/// grid of sizes, masking, stability at extreme logits, and argument validation.
final class LossTests: XCTestCase {
    typealias Support = TrainingTestSupport

    // MARK: PyTorch values (torch 2.x, float64; the script is in each test's comment)

    /// torch: F.binary_cross_entropy_with_logits(z[mask], y[mask], reduction=...) and autograd,
    /// z, y of shape [T=3, B=2, K=2], lengths [3, 1].
    func testBinaryCrossEntropyMatchesTorch() throws {
        let z = try Tensor<Double>(shape: [3, 2, 2], data: [0.5, -1.2, 2.0, 0.3, -0.7, 3.1, 9.0, -9.0, 1.5, -0.2, 4.0, 4.0])
        let y = try Tensor<Double>(shape: [3, 2, 2], data: [1, 0, 0, 1, 0, 1, 0, 0, 1, 0.25, 1, 1])
        let torchSum = 4.715444871218013
        let torchSumGradient = [-0.3775406687981454, 0.23147521650098238, 0.8807970779778823, -0.42555748318834097,
                                0.3318122278318339, -0.04310725494108614, 0, 0, -0.18242552380635635,
                                0.20016600268752216, 0, 0]
        let sum = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [3, 1], reduction: .sum)
        Support.assertClose([sum.loss], [torchSum], relative: 1e-12, absolute: 1e-14, "BCE sum loss")
        Support.assertClose(sum.gradient.data, torchSumGradient, relative: 1e-12, absolute: 1e-14, "BCE sum gradient")
        XCTAssertEqual(sum.validSteps, 4)
        XCTAssertEqual(sum.gradient.shape, [3, 2, 2])

        // torch's 'mean' divides by the 8 valid elements; meanOverSteps by the 4 valid steps (K = 2).
        let torchMean = 0.5894306089022516
        let steps = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [3, 1], reduction: .meanOverSteps)
        Support.assertClose([steps.loss / 2], [torchMean], relative: 1e-12, absolute: 1e-14, "BCE meanOverSteps / K")
        Support.assertClose(steps.gradient.data.map { $0 / 2 }, torchSumGradient.map { $0 / 8 }, relative: 1e-12,
                            absolute: 1e-14, "BCE meanOverSteps gradient")
        let batch = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [3, 1], reduction: .meanOverBatch)
        Support.assertClose([batch.loss], [torchSum / 2], relative: 1e-12, absolute: 1e-14, "BCE meanOverBatch")
    }

    /// torch: F.cross_entropy(z[mask], labels[mask], ignore_index=-100, reduction=...), z [3, 2, 3],
    /// lengths [3, 2]; label −100 at (t 1, b 0); the label 5 at (t 2, b 1) is padding past length 2.
    func testSoftmaxCrossEntropyMatchesTorch() throws {
        let z = try Tensor<Double>(shape: [3, 2, 3], data: [0.1, 1.2, -0.3, 2.0, 0.0, -1.0, 0.5, 0.5, 0.5,
                                                             -3.0, 4.0, 1.0, 1.0, -2.0, 0.3, 7, 7, 7])
        let labels = [2, 0, -100, 1, 1, 5]
        let torchSum = 5.59733263723903
        let torchSumGradient = [0.21392726067185291, 0.6426730081063124, -0.8566002687781653, -0.15620526551866054,
                                0.11419519938459448, 0.04201006613406605, 0, 0, 0, 0.0008678812948896051,
                                -0.04825259444423169, 0.04738471314934218, 0.6466747712283893, -0.9678039589530794,
                                0.32112918772469, 0, 0, 0]
        let torchMean = 1.3993331593097575
        let sum = try Loss.softmaxCrossEntropy(logits: z, labels: labels, lengths: [3, 2], ignoreIndex: -100,
                                               reduction: .sum)
        Support.assertClose([sum.loss], [torchSum], relative: 1e-12, absolute: 1e-14, "CE sum loss")
        Support.assertClose(sum.gradient.data, torchSumGradient, relative: 1e-12, absolute: 1e-14, "CE sum gradient")
        XCTAssertEqual(sum.validSteps, 4)
        let mean = try Loss.softmaxCrossEntropy(logits: z, labels: labels, lengths: [3, 2], ignoreIndex: -100,
                                                reduction: .meanOverSteps)
        Support.assertClose([mean.loss], [torchMean], relative: 1e-12, absolute: 1e-14, "CE meanOverSteps loss")
        Support.assertClose(mean.gradient.data, torchSumGradient.map { $0 / 4 }, relative: 1e-12, absolute: 1e-14,
                            "CE meanOverSteps gradient")
        // Without the ignore index, −100 is an invalid label at a valid step.
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: z, labels: labels, lengths: [3, 2],
                                                          reduction: .sum)) { e in
            XCTAssertTrue("\(e)".contains("'labels'") && "\(e)".contains("-100 at [1, 0]"), "\(e)")
        }
    }

    /// torch: F.mse_loss(p, t, reduction='sum'), many-to-one p, t of shape [B=3, K=2].
    func testMeanSquaredErrorManyToOneMatchesTorch() throws {
        let p = try Tensor<Double>(shape: [3, 2], data: [0.5, -1.0, 2.0, 3.0, 0.0, 0.25])
        let t = try Tensor<Double>(shape: [3, 2], data: [1.0, -1.5, 2.5, 1.0, 0.5, 0.0])
        let sum = try Loss.meanSquaredError(predictions: p, targets: t, reduction: .sum)
        XCTAssertEqual(sum.loss, 5.0625)
        XCTAssertEqual(sum.gradient.data, [-1.0, 1.0, -1.0, 4.0, -1.0, 0.5])
        XCTAssertEqual(sum.gradient.shape, [3, 2])
        let batch = try Loss.meanSquaredError(predictions: p, targets: t, reduction: .meanOverBatch)
        XCTAssertEqual(batch.loss, 5.0625 / 3, accuracy: 1e-15)
        XCTAssertEqual(batch.validSteps, 3)
    }

    // MARK: Gradients by finite differences over a grid of sizes

    enum Kind: CaseIterable { case bce, softmax, mse }

    /// One evaluation of a loss on fixed random data, logits replaced by `z`.
    struct Problem {
        var kind: Kind, shape: [Int], lengths: [Int]?, targets: [Double], labels: [Int]
        var reduction: LossReduction

        func evaluate(_ z: [Double]) throws -> LossResult<Double> {
            let logits = try Tensor(shape: shape, data: z)
            switch kind {
            case .bce:
                return try Loss.binaryCrossEntropy(logits: logits, targets: Tensor(shape: shape, data: targets),
                                                   lengths: lengths, reduction: reduction)
            case .softmax:
                return try Loss.softmaxCrossEntropy(logits: logits, labels: labels, lengths: lengths, ignoreIndex: -1,
                                                    reduction: reduction)
            case .mse:
                return try Loss.meanSquaredError(predictions: logits, targets: Tensor(shape: shape, data: targets),
                                                 lengths: lengths, reduction: reduction)
            }
        }
    }

    func testGradientsMatchFiniteDifferencesOnEverySmallShape() throws {
        var rng = SeqRandom(seed: 11)
        var checked = 0
        for kind in Kind.allCases {
            for T in [1, 2, 3] {
                for B in [1, 2, 3] {
                    for K in [1, 2, 5] {
                        for reduction in [LossReduction.sum, .meanOverBatch, .meanOverSteps] {
                            for manyToOne in T == 1 ? [false, true] : [false] {
                                let shape = manyToOne ? [B, K] : [T, B, K]
                                let lengths: [Int]? = manyToOne ? nil : (0 ..< B).map { _ in 1 + Int(rng.next() % UInt64(T)) }
                                let count = shape.reduce(1, *)
                                let z = (0 ..< count).map { _ in 3 * rng.normal() }
                                let targets = (0 ..< count).map { _ in kind == .mse ? rng.normal() : rng.nextUnit() }
                                // About one label in five is ignored (−1).
                                let labels = (0 ..< count / K).map { _ in rng.next() % 5 == 0 ? -1 : Int(rng.next() % UInt64(K)) }
                                let problem = Problem(kind: kind, shape: shape, lengths: lengths, targets: targets,
                                                      labels: labels, reduction: reduction)
                                let label = "\(kind) shape \(shape) lengths \(lengths ?? []) \(reduction)"
                                let result = try problem.evaluate(z)
                                var numeric = [Double](repeating: 0, count: count)
                                let h = 1e-6
                                for i in 0 ..< count {
                                    var zp = z, zm = z
                                    zp[i] += h
                                    zm[i] -= h
                                    numeric[i] = (try problem.evaluate(zp).loss - problem.evaluate(zm).loss) / (2 * h)
                                }
                                Support.assertClose(result.gradient.data, numeric, relative: 1e-6, absolute: 1e-8,
                                                    "\(label): analytic vs numeric gradient")
                                // The Float path agrees with the Double one.
                                let f = try floatResult(problem, z)
                                Support.assertClose([Double(f.loss)], [result.loss], relative: 1e-5, absolute: 1e-5,
                                                    "\(label): Float loss")
                                Support.assertClose(f.gradient.data.map(Double.init), result.gradient.data,
                                                    relative: 1e-4, absolute: 1e-6, "\(label): Float gradient")
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(checked, 3 * (3 * 3 * 3 * 3 + 3 * 3 * 3))
    }

    private func floatResult(_ p: Problem, _ z: [Double]) throws -> LossResult<Float> {
        let logits = try Tensor(shape: p.shape, data: z.map { Float($0) })
        let targets = try Tensor(shape: p.shape, data: p.targets.map { Float($0) })
        switch p.kind {
        case .bce: return try Loss.binaryCrossEntropy(logits: logits, targets: targets, lengths: p.lengths, reduction: p.reduction)
        case .softmax: return try Loss.softmaxCrossEntropy(logits: logits, labels: p.labels, lengths: p.lengths,
                                                           ignoreIndex: -1, reduction: p.reduction)
        case .mse: return try Loss.meanSquaredError(predictions: logits, targets: targets, lengths: p.lengths,
                                                    reduction: p.reduction)
        }
    }

    // MARK: Masking and reductions

    func testPaddedStepsContributeNothing() throws {
        var rng = SeqRandom(seed: 3)
        let (T, B, K) = (5, 3, 4), lengths = [5, 2, 1]
        let z = (0 ..< T * B * K).map { _ in Float(rng.normal()) }
        let y = (0 ..< T * B * K).map { _ in Float(rng.nextUnit()) }
        let labels = (0 ..< T * B).map { _ in Int(rng.next() % 4) }
        func padded(_ a: [Float], _ junk: Float) -> [Float] {
            var a = a
            for t in 0 ..< T { for b in 0 ..< B where t >= lengths[b] { for k in 0 ..< K { a[(t * B + b) * K + k] = junk } } }
            return a
        }
        var paddedLabels = labels
        for t in 0 ..< T { for b in 0 ..< B where t >= lengths[b] { paddedLabels[t * B + b] = -7 } }
        for reduction in [LossReduction.sum, .meanOverBatch, .meanOverSteps] {
            let shape = [T, B, K]
            let a = try Loss.binaryCrossEntropy(logits: Tensor(shape: shape, data: z), targets: Tensor(shape: shape, data: y),
                                                lengths: lengths, reduction: reduction)
            let b = try Loss.binaryCrossEntropy(logits: Tensor(shape: shape, data: padded(z, .nan)),
                                                targets: Tensor(shape: shape, data: padded(y, 42)),
                                                lengths: lengths, reduction: reduction)
            XCTAssertEqual(a, b, "BCE \(reduction): padding must not be read")
            let c = try Loss.softmaxCrossEntropy(logits: Tensor(shape: shape, data: z), labels: labels, lengths: lengths,
                                                 reduction: reduction)
            let d = try Loss.softmaxCrossEntropy(logits: Tensor(shape: shape, data: padded(z, .infinity)),
                                                 labels: paddedLabels, lengths: lengths, reduction: reduction)
            XCTAssertEqual(c, d, "CE \(reduction): padding must not be read")
            let e = try Loss.meanSquaredError(predictions: Tensor(shape: shape, data: z), targets: Tensor(shape: shape, data: y),
                                              lengths: lengths, reduction: reduction)
            let f = try Loss.meanSquaredError(predictions: Tensor(shape: shape, data: padded(z, -.infinity)),
                                              targets: Tensor(shape: shape, data: padded(y, .nan)),
                                              lengths: lengths, reduction: reduction)
            XCTAssertEqual(e, f, "MSE \(reduction): padding must not be read")
            XCTAssertEqual(padded(a.gradient.data, 0), a.gradient.data, "BCE gradient is zero at padded steps")
            XCTAssertEqual(padded(c.gradient.data, 0), c.gradient.data, "CE gradient is zero at padded steps")
            XCTAssertEqual(a.validSteps, 8)
        }
        // The reductions differ only by their divisor: B = 3 sequences, N = 8 valid steps.
        let shape = [T, B, K]
        let s = try Loss.softmaxCrossEntropy(logits: Tensor(shape: shape, data: z), labels: labels, lengths: lengths, reduction: .sum)
        let mb = try Loss.softmaxCrossEntropy(logits: Tensor(shape: shape, data: z), labels: labels, lengths: lengths, reduction: .meanOverBatch)
        let ms = try Loss.softmaxCrossEntropy(logits: Tensor(shape: shape, data: z), labels: labels, lengths: lengths, reduction: .meanOverSteps)
        XCTAssertEqual(mb.loss, s.loss / 3, accuracy: 1e-5)
        XCTAssertEqual(ms.loss, s.loss / 8, accuracy: 1e-5)
    }

    func testAllLabelsIgnoredGivesZero() throws {
        let z = try Tensor<Float>(shape: [2, 1, 3], data: [1, 2, 3, 4, 5, 6])
        let r = try Loss.softmaxCrossEntropy(logits: z, labels: [-100, -100], ignoreIndex: -100, reduction: .meanOverSteps)
        XCTAssertEqual(r.loss, 0)
        XCTAssertEqual(r.validSteps, 0)
        XCTAssertEqual(r.gradient.data, [Float](repeating: 0, count: 6))
    }

    func testGradientIntoCallerBuffer() throws {
        let z = try Tensor<Float>(shape: [2, 2, 1], data: [0.5, -0.5, 2, 1])
        let y = try Tensor<Float>(shape: [2, 2, 1], data: [1, 0, 1, 1])
        var g = [Float](repeating: 99, count: 4)
        let (loss, n) = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [2, 1], reduction: .sum, into: &g)
        let r = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [2, 1], reduction: .sum)
        XCTAssertEqual(loss, r.loss)
        XCTAssertEqual(n, 3)
        XCTAssertEqual(g, r.gradient.data, "overwritten, not accumulated; padded entry zeroed")
        var short = [Float](repeating: 0, count: 3)
        XCTAssertThrowsError(try Loss.binaryCrossEntropy(logits: z, targets: y, reduction: .sum, into: &short)) { e in
            XCTAssertTrue("\(e)".contains("'gradient'"), "\(e)")
        }
    }

    // MARK: Stability

    func testExtremeLogitsStayFinite() throws {
        for scale in [Float(1e4), 1e30, 1e38] {
            let z = try Tensor<Float>(shape: [1, 4], data: [scale, -scale, scale, -scale])
            let bce = try Loss.binaryCrossEntropy(logits: z, targets: Tensor(shape: [1, 4], data: [0, 1, 1, 0]), reduction: .sum)
            XCTAssertTrue(bce.loss.isFinite, "BCE at ±\(scale)")
            XCTAssertEqual(bce.loss, 2 * scale, accuracy: 2 * scale * 1e-6, "BCE at ±\(scale): two confident mistakes")
            XCTAssertEqual(bce.gradient.data, [1, -1, 0, 0], "BCE gradient at ±\(scale)")
            let ce = try Loss.softmaxCrossEntropy(logits: z, labels: [1], reduction: .sum)
            XCTAssertTrue(ce.loss.isFinite && ce.gradient.data.allSatisfy(\.isFinite), "CE at ±\(scale): \(ce)")
            XCTAssertEqual(ce.gradient.data[1], -1)
            let right = try Loss.softmaxCrossEntropy(logits: z, labels: [0], reduction: .sum)
            XCTAssertEqual(right.loss, Float.log(2), accuracy: 1e-6, "two tied maxima")
        }
        let d = try Tensor<Double>(shape: [1, 1, 2], data: [800, -800])
        let bce = try Loss.binaryCrossEntropy(logits: d, targets: Tensor(shape: [1, 1, 2], data: [1, 0]), reduction: .sum)
        XCTAssertEqual(bce.loss, 0)
        XCTAssertEqual(bce.gradient.data, [0, 0])
    }

    func testNonFiniteInputsAreNumericErrors() throws {
        let z = try Tensor<Float>(shape: [2, 1, 2], data: [0, .nan, 1, 2])
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: z, labels: [0, 1], reduction: .sum)) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .numeric)
            XCTAssertTrue("\(e)".contains("[0, 0, 1]"), "\(e)")
        }
        XCTAssertThrowsError(try Loss.binaryCrossEntropy(logits: z, targets: Tensor(zeros: [2, 1, 2]), reduction: .sum)) {
            XCTAssertEqual(($0 as? SeqError)?.kind, .numeric)
        }
        let t = try Tensor<Float>(shape: [2, 1, 2], data: [0, 0, .infinity, 0])
        XCTAssertThrowsError(try Loss.meanSquaredError(predictions: Tensor(zeros: [2, 1, 2]), targets: t, reduction: .sum)) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .numeric)
            XCTAssertTrue("\(e)".contains("target"), "\(e)")
        }
    }

    // MARK: Validation

    func testInvalidArgumentsNameTheArgument() throws {
        let z = try Tensor<Float>(shape: [3, 2, 4], data: [Float](repeating: 0, count: 24))
        let y = Tensor<Float>(zeros: [3, 2, 4])
        let cases: [(String, () throws -> Void)] = [
            ("lengths", { _ = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [4, 1], reduction: .sum) }),
            ("lengths", { _ = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [0, 1], reduction: .sum) }),
            ("lengths", { _ = try Loss.binaryCrossEntropy(logits: z, targets: y, lengths: [1], reduction: .sum) }),
            ("targets", { _ = try Loss.binaryCrossEntropy(logits: z, targets: Tensor(zeros: [3, 2, 3]), reduction: .sum) }),
            ("targets", { _ = try Loss.binaryCrossEntropy(logits: z, targets: Tensor(shape: [3, 2, 4], data: [Float](repeating: 2, count: 24)), reduction: .sum) }),
            ("labels", { _ = try Loss.softmaxCrossEntropy(logits: z, labels: [0, 1, 2, 3, 4, 0], reduction: .sum) }),
            ("labels", { _ = try Loss.softmaxCrossEntropy(logits: z, labels: [0, 1], reduction: .sum) }),
            ("logits", { _ = try Loss.softmaxCrossEntropy(logits: Tensor<Float>(zeros: [24]), labels: [0], reduction: .sum) }),
            ("logits", { _ = try Loss.softmaxCrossEntropy(logits: Tensor<Float>(zeros: [3, 0, 4]), labels: [], reduction: .sum) }),
            ("lengths", { _ = try Loss.softmaxCrossEntropy(logits: Tensor<Float>(zeros: [2, 4]), labels: [0, 0], lengths: [1, 1], reduction: .sum) }),
            ("predictions", { _ = try Loss.meanSquaredError(predictions: Tensor<Float>(zeros: [1, 2, 3, 4]), targets: y, reduction: .sum) }),
        ]
        for (argument, call) in cases {
            XCTAssertThrowsError(try call(), "expected an error naming '\(argument)'") { e in
                XCTAssertEqual((e as? SeqError)?.kind, .invalidArgument, "\(e)")
                XCTAssertTrue("\(e)".contains("'\(argument)'"), "expected '\(argument)' in: \(e)")
            }
        }
        // A label out of range names its position [t, b].
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: z, labels: [0, 1, 2, 3, 0, 9], reduction: .sum)) { e in
            XCTAssertTrue("\(e)".contains("9 at [2, 1]"), "\(e)")
        }
        // A tensor whose data no longer matches its (public, mutable) shape is refused, not read past.
        var broken = z
        broken.data.removeLast()
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: broken, labels: [0, 0, 0, 0, 0, 0], reduction: .sum))
    }
}
