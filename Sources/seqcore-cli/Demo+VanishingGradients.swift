import SeqCore

/// Part (a) of the demo: a vanilla RNN, a GRU and an LSTM on the adding problem.
struct VanishingGradientsExperiment {
    struct Settings {
        var steps = 100
        var hiddenSize = 32
        var batchSize = 32
        var trainingSteps = 1000
        var learningRate = 0.003
        var clipNorm = 1.0
        var testSize = 1000
        var evaluateEvery = 50
        var seed: UInt64 = 7
        var forgetBias: Double? = 1
    }

    struct Result {
        let cell: CellType
        /// (training step, test MSE) pairs, starting at step 0.
        var testCurve: [(Int, Double)] = []
        var finalTestMSE = 0.0
        var seconds = 0.0
        /// ‖∂L/∂a<t>‖ for t = 1 … T on the test set: at initialisation and after training.
        var normsBefore: [Double] = []
        var normsAfter: [Double] = []
    }

    let settings: Settings

    static let cells: [(CellType, String)] = [(.rnnTanh, "RNN (tanh)"), (.gru, "GRU"), (.lstm, "LSTM")]

    static func name(_ cell: CellType) -> String { cells.first { $0.0 == cell }!.1 }

    /// Per-step gradient norms on the test set, without changing the model (gradients are zeroed).
    func gradientNorms(_ model: SequenceModel<Float>, _ test: SequenceBatch<Float>) throws -> [Double] {
        model.arena.zeroGradients()
        let r = try model.lossAndGradients(test)
        model.arena.zeroGradients()
        return r.stepGradientNorms.data.map(Double.init)   // one layer, one direction: [1, T]
    }

    func run(_ cell: CellType, quiet: Bool) throws -> Result {
        let s = settings, task = AddingProblem(steps: s.steps)
        var result = Result(cell: cell)
        var testRNG = SeqRandom(seed: s.seed &+ 1000)
        let test = task.batch(s.testSize, &testRNG)
        // Every cell sees the same training batches in the same order.
        var rng = SeqRandom(seed: s.seed)
        let model = try AddingProblem.model(cell: cell, hiddenSize: s.hiddenSize, seed: s.seed, forgetBias: s.forgetBias)
        let optimizer = try Optimizer<Float>(.adam(), learningRate: s.learningRate, for: model.arena)
        result.normsBefore = try gradientNorms(model, test)
        let clock = Stopwatch()
        result.testCurve.append((0, try model.evaluate(test).loss))
        let bar = ProgressBar("\(Self.name(cell)), T = \(s.steps)", total: s.trainingSteps, quiet: quiet)
        var smoothed = Double.nan
        for step in 1 ... s.trainingSteps {
            model.arena.zeroGradients()
            let r = try model.lossAndGradients(task.batch(s.batchSize, &rng))
            try model.arena.clipGradientNorm(maxNorm: s.clipNorm)
            try optimizer.step(model.arena)
            smoothed = smoothed.isNaN ? r.loss : 0.95 * smoothed + 0.05 * r.loss
            if step % s.evaluateEvery == 0 || step == s.trainingSteps {
                result.testCurve.append((step, try model.evaluate(test).loss))
            }
            bar.update(step, note: "MSE \(Format.fixed(smoothed, 4))")
        }
        result.seconds = clock.elapsed
        bar.finish()
        result.finalTestMSE = result.testCurve.last!.1
        result.normsAfter = try gradientNorms(model, test)
        return result
    }
}
