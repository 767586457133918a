import Foundation
import SeqCore

/// A trained model as the command line keeps it: the model, what its tokens mean, and how it was
/// trained. `train` writes one; `sample`, `eval` and `info` read it.
struct SavedModel {
    enum Kind: String {
        /// A character-level language model over a text; `vocabulary` lists the characters.
        case characters
        /// The same, trained on lines (`vocabulary[0]` = "\n" starts and ends each line).
        case lines
        /// A model over feature vectors (tagger, classifier, regressor) read from CSV or .npy.
        case features
    }

    var model: SequenceModel<Float>
    var kind: Kind
    var vocabulary: [String]
    /// Free-form facts about training, shown by `info`.
    var notes: [String: String]
}

/// The one place that knows the file format. For now it stores the weights with the CLI's own
/// `SafeTensorsLite` and the configuration as JSON in the safetensors metadata; when SeqCore's
/// save/load lands, only this file changes.
enum ModelFile {
    static func save(_ saved: SavedModel, to path: String) throws {
        let arena = saved.model.arena
        let entries = arena.table.map {
            SafeTensorsLite.Entry(name: $0.name, shape: $0.shape, values: Array(arena.values[$0.offset ..< $0.offset + $0.count]))
        }
        var metadata = saved.notes.mapValues { $0 }
        metadata["format"] = "pt"
        metadata["seqcore.cli.kind"] = saved.kind.rawValue
        metadata["seqcore.cli.config"] = try json(encode(saved.model.config))
        metadata["seqcore.cli.vocabulary"] = try json(saved.vocabulary)
        try SafeTensorsLite.write(entries, metadata: metadata, to: path)
    }

    static func load(_ path: String) throws -> SavedModel {
        let (entries, metadata) = try SafeTensorsLite.read(path)
        guard let kindText = metadata["seqcore.cli.kind"], let kind = SavedModel.Kind(rawValue: kindText),
              let configText = metadata["seqcore.cli.config"], let vocabularyText = metadata["seqcore.cli.vocabulary"],
              let configObject = try? JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any],
              let vocabulary = try? JSONSerialization.jsonObject(with: Data(vocabularyText.utf8)) as? [String]
        else { throw CLIError("\(path) is a safetensors file but not a seqcore model (no seqcore configuration in its metadata)") }
        let config = try decode(configObject, path)
        let model = try SequenceModel<Float>(config)
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for p in model.arena.table {
            guard let e = byName[p.name] else { throw CLIError("\(path): parameter '\(p.name)' is missing") }
            guard e.shape == p.shape else { throw CLIError("\(path): parameter '\(p.name)' has shape \(e.shape), expected \(p.shape)") }
            try model.arena.setValue(p.name, e.values)
        }
        let notes = metadata.filter { !$0.key.hasPrefix("seqcore.cli.") && $0.key != "format" }
        return SavedModel(model: model, kind: kind, vocabulary: vocabulary, notes: notes)
    }

    private static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    private static func encode(_ c: ModelConfig) -> [String: Any] {
        var d: [String: Any] = [
            "architecture": c.architecture.rawValue, "cell": c.rnn.cell.rawValue, "gru_variant": c.rnn.gruVariant.rawValue,
            "input_size": c.rnn.inputSize, "hidden_size": c.rnn.hiddenSize, "num_layers": c.rnn.numLayers,
            "direction": c.rnn.direction.rawValue, "merge": c.rnn.merge.rawValue, "proj_size": c.rnn.projSize,
            "peepholes": c.rnn.peepholes, "bias": c.rnn.bias, "dropout": c.rnn.dropout,
            "vocab_size": c.vocabularySize, "embedding_size": c.embeddingSize, "output_size": c.outputSize,
            "output": c.output.rawValue, "start_token": c.startToken, "stop_token": c.stopToken,
        ]
        if let p = c.paddingIndex { d["padding_index"] = p }
        if let i = c.ignoreIndex { d["ignore_index"] = i }
        return d
    }

    private static func decode(_ d: [String: Any], _ path: String) throws -> ModelConfig {
        func field<T>(_ key: String, _ type: T.Type) throws -> T {
            guard let v = d[key] as? T else { throw CLIError("\(path): configuration field '\(key)' is missing or malformed") }
            return v
        }
        func enumField<E: RawRepresentable>(_ key: String, _ type: E.Type) throws -> E where E.RawValue == String {
            guard let e = E(rawValue: try field(key, String.self)) else { throw CLIError("\(path): unknown \(key) '\(d[key]!)'") }
            return e
        }
        let rnn = RecurrentConfig(cell: try enumField("cell", CellType.self), inputSize: try field("input_size", Int.self),
                                  hiddenSize: try field("hidden_size", Int.self), numLayers: try field("num_layers", Int.self),
                                  direction: try enumField("direction", Direction.self), merge: try enumField("merge", MergeMode.self),
                                  gruVariant: try enumField("gru_variant", GRUVariant.self), projSize: try field("proj_size", Int.self),
                                  peepholes: try field("peepholes", Bool.self), bias: try field("bias", Bool.self),
                                  dropout: try field("dropout", Double.self))
        return ModelConfig(architecture: try enumField("architecture", Architecture.self), rnn: rnn,
                           vocabularySize: try field("vocab_size", Int.self), embeddingSize: try field("embedding_size", Int.self),
                           paddingIndex: d["padding_index"] as? Int, outputSize: try field("output_size", Int.self),
                           output: try enumField("output", OutputKind.self), ignoreIndex: d["ignore_index"] as? Int,
                           startToken: try field("start_token", Int.self), stopToken: try field("stop_token", Int.self))
    }
}
