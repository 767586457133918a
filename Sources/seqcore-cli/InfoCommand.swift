import ArgumentParser
import Foundation
import SeqCore

/// `seqcore info`: describe a model file.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe a saved model: architecture, sizes, parameters.")

    @Argument(help: ArgumentHelp("A model file.", valueName: "model")) var model: String

    mutating func run() throws {
        let saved = try ModelFile.load(model)
        let c = saved.model.config, r = c.rnn
        print("\(model)")
        print("  architecture   \(c.architecture.rawValue)\(saved.kind == .features ? "" : " (\(saved.kind.rawValue))")")
        print("  cell           \(r.cell.rawValue)\(r.cell == .gru ? " (\(r.gruVariant.rawValue))" : "")"
              + "\(r.peepholes ? ", peepholes" : "")\(r.projSize > 0 ? ", projection \(r.projSize)" : "")")
        print("  layers         \(r.numLayers), \(r.direction.rawValue)\(r.direction == .bidirectional ? " (\(r.merge.rawValue))" : "")")
        print("  sizes          input \(r.inputSize), hidden \(r.hiddenSize)"
              + (c.usesTokens ? ", vocabulary \(c.vocabularySize), embedding \(c.embeddingSize)" : "")
              + ", output \(c.outputSize) (\(c.output.rawValue))")
        if !saved.vocabulary.isEmpty {
            let shown = saved.vocabulary.prefix(60).map(Self.escape).joined()
            print("  vocabulary     \(shown)\(saved.vocabulary.count > 60 ? "…" : "")")
        }
        print("  parameters     \(saved.model.arena.count)")
        for p in saved.model.arena.table {
            print("    \(Format.padRight(p.name, 32)) \(p.shape)")
        }
        if !saved.notes.isEmpty {
            print("  training")
            for (k, v) in saved.notes.sorted(by: { $0.key < $1.key }) { print("    \(Format.padRight(k, 16)) \(v)") }
        }
    }

    /// A vocabulary entry as one visible cell: line breaks, tabs and other control characters
    /// escaped (printed raw, a "\r\n" entry would move the cursor and garble the line), a space as ␠.
    static func escape(_ entry: String) -> String {
        if entry == " " { return "␠" }
        return entry.unicodeScalars.map { u -> String in
            switch u {
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            default:
                return u.properties.generalCategory == .control || u.properties.isWhitespace && u != " "
                    ? "\\u{\(String(u.value, radix: 16))}" : String(u)
            }
        }.joined()
    }
}
