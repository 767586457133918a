import Foundation
import SeqCore

/// Loss and accuracy over a list of batches.
enum Evaluation {
    struct Result {
        var loss: Double
        var steps: Int
        var correct: Int
        var counted: Int

        func summary(_ config: ModelConfig) -> String {
            var s = "loss \(Format.fixed(loss, 4))"
            switch config.output {
            case .regression: s += " (MSE)"
            case .classes where config.architecture == .languageModel:
                s += " nats per character (\(Format.fixed(loss / log(2), 3)) bits, perplexity \(Format.fixed(exp(loss), 2)))"
            default: break
            }
            if counted > 0 { s += ", accuracy \(Format.fixed(100 * Double(correct) / Double(counted), 2)) % over \(counted)" }
            return s
        }
    }

    static func run(_ model: SequenceModel<Float>, _ batches: [SequenceBatch<Float>]) throws -> Result {
        var total = 0.0, steps = 0, correct = 0, counted = 0
        let c = model.config
        for batch in batches {
            let r = try model.evaluate(batch)
            let n = c.reduction == .meanOverSteps ? r.validSteps : 1
            total += r.loss * Double(n)
            steps += n
            guard c.output != .regression, let target = batch.target else { continue }
            let y = try model.predict(batch.input, lengths: batch.lengths)
            let k = c.outputSize
            let b = batch.input.batchSize
            let perStep = c.architecture != .classifier
            let rows = perStep ? y.shape[0] * b : b
            for row in 0 ..< rows {
                if perStep, let lengths = batch.lengths, row / b >= lengths[row % b] { continue }
                let p = y.data[row * k ..< (row + 1) * k]
                switch target {
                case .classes(let labels):
                    let guess = p.indices.max { p[$0] < p[$1] }! - row * k
                    if guess == labels[row] { correct += 1 }
                case .values(let t):
                    if (p[row * k] > 0.5) == (t.data[row * k] > 0.5) { correct += 1 }
                }
                counted += 1
            }
        }
        return Result(loss: steps > 0 ? total / Double(steps) : 0, steps: steps, correct: correct, counted: counted)
    }
}

extension SequenceInput {
    var batchSize: Int {
        switch self {
        case .features(let t): return t.shape.count == 3 ? t.shape[1] : 0
        case .tokens(_, _, let b): return b
        }
    }
}
