import Foundation
import XCTest
import SeqCore

/// Optimizers, clipping and schedules against goldens written by torch.optim
/// (Tests/Fixtures/make_optimizer_fixtures.py), and checkpoint/resume of optimizer state.
final class OptimizerTests: XCTestCase {
    typealias Support = TrainingTestSupport

    // Double against float64 torch: the brief's tolerance. Float: what single precision allows.
    static let relative = 1e-5, absolute = 1e-7
    static let floatRelative = 1e-5, floatAbsolute = 2e-6

    static func algorithm(_ name: String, _ o: [String: Any]) throws -> OptimizerAlgorithm {
        func d(_ key: String, _ fallback: Double) -> Double { (o[key] as? NSNumber)?.doubleValue ?? fallback }
        func b(_ key: String) -> Bool { (o[key] as? Bool) ?? false }
        switch name {
        case "sgd":
            return .sgd(momentum: d("momentum", 0), dampening: d("dampening", 0), nesterov: b("nesterov"),
                        weightDecay: d("weight_decay", 0))
        case "adam":
            return .adam(beta1: d("beta1", 0.9), beta2: d("beta2", 0.999), epsilon: d("epsilon", 1e-8),
                         weightDecay: d("weight_decay", 0), amsgrad: b("amsgrad"))
        case "adamw":
            return .adamW(beta1: d("beta1", 0.9), beta2: d("beta2", 0.999), epsilon: d("epsilon", 1e-8),
                          weightDecay: d("weight_decay", 0.01), amsgrad: b("amsgrad"))
        case "rmsprop":
            return .rmsprop(alpha: d("alpha", 0.99), epsilon: d("epsilon", 1e-8), momentum: d("momentum", 0),
                            centered: b("centered"), weightDecay: d("weight_decay", 0))
        default:
            throw SeqError(.notFound, "unknown algorithm \(name)")
        }
    }

    /// An arena holding the fixture's two tensors, [3, 4] and [5], back to back.
    static func arena<S: SeqScalar>(_ values: [Double], _: S.Type) throws -> ParameterArena<S> {
        let arena = ParameterArena<S>()
        try arena.register("weight", shape: [3, 4])
        try arena.register("bias", shape: [5])
        arena.values = values.map { S($0) }
        return arena
    }

    /// Runs every case of one fixture file; returns the largest difference seen (Double run).
    @discardableResult
    func runGolden(_ file: String) throws -> Double {
        let fixture = try Support.loadFixture(file)
        let cases = fixture["cases"] as? [[String: Any]] ?? []
        XCTAssertFalse(cases.isEmpty, "\(file): no cases")
        var worst = 0.0
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let algorithm = try Self.algorithm(c["algorithm"] as? String ?? "", c["options"] as? [String: Any] ?? [:])
            let options = c["options"] as? [String: Any] ?? [:]
            let maximize = (options["maximize"] as? Bool) ?? false
            let lr = (c["lr"] as? NSNumber)?.doubleValue ?? .nan
            let grads = Support.doubleRows(c["grads"])
            let expected = Support.doubleRows(c["expected"])
            let state = c["state"] as? [String: Any] ?? [:]

            // Double
            let arena = try Self.arena(Support.doubles(c["params"]), Double.self)
            let opt = try Optimizer<Double>(algorithm, learningRate: lr, for: arena, maximize: maximize)
            for (k, g) in grads.enumerated() {
                arena.gradients = g
                try opt.step(arena)
                worst = max(worst, Support.assertClose(arena.values, expected[k], relative: Self.relative,
                                                       absolute: Self.absolute, "\(file) \(name) Double step \(k + 1)"))
            }
            let exported = opt.exportState()
            XCTAssertEqual(exported.step, (c["step"] as? Int) ?? -1, "\(name): step count")
            XCTAssertEqual(Set(exported.buffers.keys), Set(state.keys), "\(name): state buffer names vs torch")
            for (key, value) in state {
                worst = max(worst, Support.assertClose(exported.buffers[key] ?? [], Support.doubles(value),
                                                       relative: Self.relative, absolute: Self.absolute,
                                                       "\(file) \(name) state '\(key)'"))
            }

            // Float: the specialised path, against the same float64 golden.
            let farena = try Self.arena(Support.doubles(c["params"]), Float.self)
            let fopt = try Optimizer<Float>(algorithm, learningRate: lr, for: farena, maximize: maximize)
            for (k, g) in grads.enumerated() {
                farena.gradients = g.map { Float($0) }
                try fopt.step(farena)
                Support.assertClose(farena.values.map(Double.init), expected[k], relative: Self.floatRelative,
                                    absolute: Self.floatAbsolute, "\(file) \(name) Float step \(k + 1)")
            }
        }
        print("[OptimizerTests] \(file): \(cases.count) cases, largest |Δ| vs torch (Double) = \(worst)")
        return worst
    }

    func testSGDMatchesTorch() throws { try runGolden("optim_sgd.json") }
    func testAdamMatchesTorch() throws { try runGolden("optim_adam.json") }
    func testAdamWMatchesTorch() throws { try runGolden("optim_adamw.json") }
    func testRMSpropMatchesTorch() throws { try runGolden("optim_rmsprop.json") }

    func testClippingMatchesTorch() throws {
        let fixture = try Support.loadFixture("optim_clipping.json")
        let cases = fixture["cases"] as? [[String: Any]] ?? []
        XCTAssertEqual(cases.count, 6)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let limit = (c["limit"] as? NSNumber)?.doubleValue ?? .nan
            let expected = Support.doubles(c["expected"])
            for useFloat in [false, true] {
                let label = "optim_clipping.json \(name) \(useFloat ? "Float" : "Double")"
                let (rel, abs) = useFloat ? (Self.floatRelative, Self.floatAbsolute) : (Self.relative, Self.absolute)
                var total: Double? = nil
                let result: [Double]
                if useFloat {
                    let arena = try Self.arena([Double](repeating: 0, count: 17), Float.self)
                    arena.gradients = Support.doubles(c["grads"]).map { Float($0) }
                    total = try clip(arena, c, limit)
                    result = arena.gradients.map(Double.init)
                } else {
                    let arena = try Self.arena([Double](repeating: 0, count: 17), Double.self)
                    arena.gradients = Support.doubles(c["grads"])
                    total = try clip(arena, c, limit)
                    result = arena.gradients
                }
                Support.assertClose(result, expected, relative: rel, absolute: abs, "\(label) gradients")
                if let total, let want = (c["total_norm"] as? NSNumber)?.doubleValue {
                    Support.assertClose([total], [want], relative: rel, absolute: abs, "\(label) total norm")
                }
            }
        }
    }

    private func clip<S: SeqScalar>(_ arena: ParameterArena<S>, _ c: [String: Any], _ limit: Double) throws -> Double? {
        if (c["kind"] as? String) == "value" {
            try arena.clipGradientValues(maxValue: limit)
            return nil
        }
        let p: Double = (c["norm_type"] as? String) == "inf" ? .infinity : ((c["norm_type"] as? NSNumber)?.doubleValue ?? 2)
        return try arena.clipGradientNorm(maxNorm: limit, normType: p)
    }

    func testSchedulesMatchTorch() throws {
        let fixture = try Support.loadFixture("optim_schedules.json")
        let cases = fixture["cases"] as? [[String: Any]] ?? []
        XCTAssertEqual(cases.count, 5)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            func d(_ k: String) -> Double { (c[k] as? NSNumber)?.doubleValue ?? .nan }
            let decay: LearningRateSchedule.Decay
            switch c["decay"] as? String {
            case "step": decay = .step(stepSize: c["step_size"] as? Int ?? 0, gamma: d("gamma"))
            case "cosine": decay = .cosine(period: c["period"] as? Int ?? 0, minimum: d("minimum"))
            default: decay = .constant
            }
            let schedule = try LearningRateSchedule(
                baseRate: d("base_rate"), decay: decay, warmupSteps: c["warmup_steps"] as? Int ?? 0,
                warmupStartFactor: (c["warmup_start_factor"] as? NSNumber)?.doubleValue ?? 1.0 / 3.0)
            let expected = Support.doubles(c["rates"])
            let rates = (0 ..< expected.count).map { schedule.rate(at: $0) }
            Support.assertClose(rates, expected, relative: Self.relative, absolute: Self.absolute,
                                "optim_schedules.json \(name) rate by step")
        }
    }

    /// clip_grad_norm_ → AdamW step → StepLR step, six times, as a PyTorch user's loop does.
    func testTrainingLoopMatchesTorch() throws {
        let fixture = try Support.loadFixture("optim_training_loop.json")
        guard let c = (fixture["cases"] as? [[String: Any]])?.first else { return XCTFail("no case") }
        func d(_ k: String) -> Double { (c[k] as? NSNumber)?.doubleValue ?? .nan }
        let arena = try Self.arena(Support.doubles(c["params"]), Double.self)
        let schedule = try LearningRateSchedule(
            baseRate: d("lr"), decay: .step(stepSize: c["step_size"] as? Int ?? 0, gamma: d("gamma")))
        let opt = try Optimizer<Double>(.adamW(beta1: d("beta1"), beta2: d("beta2"), weightDecay: d("weight_decay")),
                                        learningRate: schedule.rate(at: 0), for: arena)
        let norms = Support.doubles(c["norms"])
        let expected = Support.doubleRows(c["expected"])
        for (k, g) in Support.doubleRows(c["grads"]).enumerated() {
            opt.learningRate = schedule.rate(at: k)
            arena.gradients = g
            let norm = try arena.clipGradientNorm(maxNorm: d("max_norm"))
            try opt.step(arena)
            Support.assertClose([norm], [norms[k]], relative: Self.relative, absolute: Self.absolute,
                                "training loop step \(k + 1) norm")
            Support.assertClose(arena.values, expected[k], relative: Self.relative, absolute: Self.absolute,
                                "training loop step \(k + 1) parameters")
        }
    }

    // MARK: Resume

    static let everyAlgorithm: [OptimizerAlgorithm] = [
        .sgd(), .sgd(momentum: 0.9, dampening: 0.1, weightDecay: 0.01), .sgd(momentum: 0.9, nesterov: true),
        .adam(), .adam(weightDecay: 0.1, amsgrad: true), .adamW(), .adamW(amsgrad: true),
        .rmsprop(), .rmsprop(momentum: 0.9, centered: true, weightDecay: 0.01),
    ]

    static func gradients(_ step: Int, _ count: Int) -> [Double] {
        var rng = SeqRandom(seed: UInt64(1000 + step))
        return (0 ..< count).map { _ in rng.normal() }
    }

    /// 3 steps, export, import into a new optimizer, 3 more steps == 6 steps without a break, bit for bit.
    func testExportImportResumesExactly() throws {
        for algorithm in Self.everyAlgorithm {
            var rng = SeqRandom(seed: 7)
            let initial = (0 ..< 17).map { _ in rng.normal() }
            let straight = try Self.arena(initial, Double.self)
            let a = try Optimizer<Double>(algorithm, learningRate: 0.01, for: straight)
            for k in 0 ..< 6 { straight.gradients = Self.gradients(k, 17); try a.step(straight) }

            let resumed = try Self.arena(initial, Double.self)
            let b = try Optimizer<Double>(algorithm, learningRate: 0.01, for: resumed)
            for k in 0 ..< 3 { resumed.gradients = Self.gradients(k, 17); try b.step(resumed) }
            let state = b.exportState()
            XCTAssertEqual(state.buffers.keys.sorted(), algorithm.bufferNames.sorted(), "\(algorithm)")
            let c = try Optimizer<Double>(algorithm, learningRate: 0.5, for: resumed)
            try c.importState(state)
            XCTAssertEqual(c.learningRate, 0.01)
            XCTAssertEqual(c.stepCount, 3)
            for k in 3 ..< 6 { resumed.gradients = Self.gradients(k, 17); try c.step(resumed) }
            XCTAssertEqual(resumed.values, straight.values, "\(algorithm): resumed run differs")
            XCTAssertEqual(c.exportState(), a.exportState(), "\(algorithm): resumed state differs")
        }
    }

    /// The buffers are made at the first step: before it and after `reset`, the exported state is
    /// still P zeros per buffer, and a step from it — direct, after a reset, or after importing a
    /// fresh state — is the first step of a new optimizer.
    func testResetForgetsState() throws {
        for algorithm in Self.everyAlgorithm {
            let arena = try Self.arena([Double](repeating: 1, count: 17), Double.self)
            let opt = try Optimizer<Double>(algorithm, learningRate: 0.1, for: arena)
            let fresh = opt.exportState()
            XCTAssertEqual(fresh.step, 0)
            XCTAssertEqual(fresh.buffers.keys.sorted(), algorithm.bufferNames.sorted(), "\(algorithm)")
            for (name, buffer) in fresh.buffers {
                XCTAssertEqual(buffer, [Double](repeating: 0, count: 17), "\(algorithm): \(name) before the first step")
            }
            arena.gradients = Self.gradients(0, 17)
            try opt.step(arena)
            let afterOne = arena.values, stateAfterOne = opt.exportState()
            XCTAssertNotEqual(afterOne, [Double](repeating: 1, count: 17), "\(algorithm): the step changed nothing")
            try opt.step(arena)
            opt.reset()
            XCTAssertEqual(opt.stepCount, 0)
            XCTAssertEqual(opt.exportState(), fresh, "\(algorithm): state after reset")
            arena.values = [Double](repeating: 1, count: 17)
            try opt.step(arena)
            XCTAssertEqual(arena.values, afterOne, "\(algorithm): first step after reset")
            XCTAssertEqual(opt.exportState(), stateAfterOne, "\(algorithm): state after reset and one step")

            let imported = try Optimizer<Double>(algorithm, learningRate: 0.1, for: arena)
            try imported.step(arena)        // state to be replaced by the fresh one
            try imported.importState(fresh)
            arena.values = [Double](repeating: 1, count: 17)
            try imported.step(arena)
            XCTAssertEqual(arena.values, afterOne, "\(algorithm): first step after importing a fresh state")
        }
    }

    // MARK: Validation

    func testInvalidHyperparametersNameTheArgument() {
        let bad: [(OptimizerAlgorithm, String)] = [
            (.sgd(momentum: -1), "momentum"),
            (.sgd(momentum: 0, nesterov: true), "nesterov"),
            (.sgd(momentum: 0.9, dampening: 0.5, nesterov: true), "nesterov"),
            (.sgd(weightDecay: .nan), "weightDecay"),
            (.adam(beta1: 1), "beta1"),
            (.adam(beta2: -0.1), "beta2"),
            (.adamW(epsilon: -1), "epsilon"),
            (.rmsprop(alpha: -0.5), "alpha"),
            (.rmsprop(momentum: .infinity), "momentum"),
        ]
        for (algorithm, argument) in bad {
            XCTAssertThrowsError(try Optimizer<Float>(algorithm, learningRate: 0.1, parameterCount: 4)) { e in
                let error = e as? SeqError
                XCTAssertEqual(error?.kind, .invalidArgument, "\(algorithm)")
                XCTAssertTrue(error?.message.contains("'\(argument)'") ?? false, "\(algorithm): \(e)")
            }
        }
        XCTAssertThrowsError(try Optimizer<Float>(.sgd(), learningRate: -1, parameterCount: 4))
        XCTAssertThrowsError(try Optimizer<Float>(.sgd(), learningRate: .nan, parameterCount: 4))
        XCTAssertThrowsError(try Optimizer<Float>(.sgd(), learningRate: 0.1, parameterCount: -1))
    }

    func testStepRejectsMismatchedBuffersAndBadLearningRate() throws {
        let arena = try Self.arena([Double](repeating: 0, count: 17), Double.self)
        let opt = try Optimizer<Double>(.adam(), learningRate: 0.1, parameterCount: 16)
        XCTAssertThrowsError(try opt.step(arena)) { XCTAssertEqual(($0 as? SeqError)?.kind, .invalidArgument) }
        let ok = try Optimizer<Double>(.adam(), learningRate: 0.1, for: arena)
        arena.gradients.removeLast()
        XCTAssertThrowsError(try ok.step(arena)) { e in
            XCTAssertTrue("\(e)".contains("arena.gradients"), "\(e)")
        }
        arena.gradients.append(0)
        ok.learningRate = -0.5
        XCTAssertThrowsError(try ok.step(arena)) { e in XCTAssertTrue("\(e)".contains("learningRate"), "\(e)") }
        XCTAssertEqual(ok.stepCount, 0, "a refused step must not count")
    }

    func testImportRejectsForeignState() throws {
        let adam = try Optimizer<Float>(.adam(), learningRate: 0.1, parameterCount: 4)
        let sgd = try Optimizer<Float>(.sgd(momentum: 0.9), learningRate: 0.1, parameterCount: 4)
        XCTAssertThrowsError(try adam.importState(sgd.exportState())) { e in
            XCTAssertTrue("\(e)".contains("state.algorithm"), "\(e)")
        }
        var state = adam.exportState()
        state.buffers["exp_avg"] = [1, 2, 3]
        XCTAssertThrowsError(try adam.importState(state)) { e in XCTAssertTrue("\(e)".contains("exp_avg"), "\(e)") }
        state = adam.exportState()
        state.buffers["exp_avg"] = [1, .nan, 3, 4]
        XCTAssertThrowsError(try adam.importState(state))
        state = adam.exportState()
        state.buffers["max_exp_avg_sq"] = [0, 0, 0, 0]   // AMSGrad's buffer, not this optimizer's
        XCTAssertThrowsError(try adam.importState(state))
        state = adam.exportState()
        state.step = -1
        XCTAssertThrowsError(try adam.importState(state))
        XCTAssertEqual(adam.exportState(), try Optimizer<Float>(.adam(), learningRate: 0.1, parameterCount: 4).exportState(),
                       "a refused import must change nothing")
    }

    func testClippingValidationAndNonFiniteNorms() throws {
        let arena = try Self.arena([Double](repeating: 0, count: 17), Double.self)
        XCTAssertThrowsError(try arena.clipGradientNorm(maxNorm: -1))
        XCTAssertThrowsError(try arena.clipGradientNorm(maxNorm: 1, normType: 0))
        XCTAssertThrowsError(try arena.clipGradientValues(maxValue: .nan))
        XCTAssertEqual(try arena.clipGradientNorm(maxNorm: 1), 0)          // zero gradients: norm 0, untouched
        XCTAssertEqual(arena.gradients, [Double](repeating: 0, count: 17))
        arena.gradients[3] = .infinity
        XCTAssertThrowsError(try arena.clipGradientNorm(maxNorm: 1, errorIfNonfinite: true)) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .numeric)
        }
        XCTAssertEqual(arena.gradients[3], .infinity, "a refused clip leaves gradients untouched")
        XCTAssertEqual(try arena.clipGradientNorm(maxNorm: 1), .infinity)
        XCTAssertTrue(arena.gradients[3].isNaN && arena.gradients[0] == 0, "torch: inf · 0 = NaN, others 0")
        arena.gradients = [Double](repeating: 0, count: 17)
        arena.gradients[0] = .nan
        arena.gradients[1] = 5
        try arena.clipGradientValues(maxValue: 1)
        XCTAssertTrue(arena.gradients[0].isNaN)
        XCTAssertEqual(arena.gradients[1], 1)
    }

    func testScheduleValidation() {
        XCTAssertThrowsError(try LearningRateSchedule(baseRate: -1))
        XCTAssertThrowsError(try LearningRateSchedule(baseRate: 1, decay: .step(stepSize: 0, gamma: 0.5)))
        XCTAssertThrowsError(try LearningRateSchedule(baseRate: 1, decay: .cosine(period: 0, minimum: 0)))
        XCTAssertThrowsError(try LearningRateSchedule(baseRate: 1, warmupSteps: -2))
        XCTAssertThrowsError(try LearningRateSchedule(baseRate: 1, warmupSteps: 3, warmupStartFactor: 0))
        XCTAssertEqual(try LearningRateSchedule(baseRate: 0.5).rate(at: 1000), 0.5)
    }
}
