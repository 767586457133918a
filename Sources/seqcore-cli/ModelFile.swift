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

/// The one place that knows the file format: SeqCore's model file (safetensors with PyTorch
/// names and the configuration in the metadata), plus the command line's own facts — the kind of
/// model, its vocabulary, training notes — as "cli." metadata.
enum ModelFile {
    static func save(_ saved: SavedModel, to path: String) throws {
        var metadata: [String: String] = [:]
        for (k, v) in saved.notes { metadata["cli.note." + k] = v }
        metadata["cli.kind"] = saved.kind.rawValue
        metadata["cli.vocabulary"] = try json(saved.vocabulary)
        try saved.model.save(to: path, metadata: metadata)
    }

    static func load(_ path: String) throws -> SavedModel {
        try Files.checkRegularFile(path)
        let file = try SafeTensorsFile.load(path)   // its errors name the file
        let expected = "expected a model saved by `seqcore train`"
        // The library's messages about the metadata do not name the file, and for a file that is
        // no model at all ("parameter 'model.embedding.weight' is missing") they mislead: say what
        // the file is first.
        if file.metadata["format"] == "seqcore", let kind = file.metadata["seqcore.kind"], kind != "model" {
            let what = kind == "checkpoint" ? "a seqcore training checkpoint" : kind == "recurrent_layer" ? "a seqcore recurrent layer"
                                                                                                   : "a seqcore file of kind '\(kind)'"
            throw CLIError("\(path) is \(what), not a model file; \(expected)")
        }
        guard file.metadata["format"] == "seqcore", file.metadata["seqcore.config"] != nil else {
            let what = file.metadata.isEmpty ? "no metadata: a plain safetensors file" : "no seqcore.config in its metadata"
            throw CLIError("\(path) is not a seqcore model file (\(what)); \(expected)")
        }
        let model: SequenceModel<Float>
        do {
            model = try SequenceModel<Float>(contentsOf: file)
        } catch let e as SeqError {
            throw CLIError("\(path) is not a valid seqcore model file: \(e.message)")
        }
        guard let kindText = file.metadata["cli.kind"], let vocabularyText = file.metadata["cli.vocabulary"] else {
            throw CLIError("\(path) is a seqcore model but was not written by `seqcore train` (no cli.kind and cli.vocabulary in its metadata)")
        }
        guard let kind = SavedModel.Kind(rawValue: kindText) else {
            throw CLIError("\(path): its metadata's cli.kind is '\(kindText)', expected characters, lines or features")
        }
        guard let vocabulary = try? JSONSerialization.jsonObject(with: Data(vocabularyText.utf8)) as? [String] else {
            throw CLIError("\(path): its metadata's cli.vocabulary is not a JSON list of strings")
        }
        // The vocabulary maps the model's token ids to characters: it must match the model, or
        // sampling would print the wrong characters (or none) without a word.
        let c = model.config
        if c.architecture == .languageModel {
            guard kind != .features else {
                throw CLIError("\(path): its metadata says cli.kind 'features', but the model is a language model")
            }
            guard vocabulary.count == c.vocabularySize else {
                throw CLIError("\(path): its vocabulary (cli.vocabulary) lists \(vocabulary.count) characters, "
                               + "but the model has \(c.vocabularySize) token ids")
            }
            if let k = vocabulary.firstIndex(where: { $0.count != 1 }) {
                throw CLIError("\(path): vocabulary entry \(k) (cli.vocabulary) is \(vocabulary[k].debugDescription), not one character")
            }
            if Set(vocabulary).count != vocabulary.count {
                throw CLIError("\(path): its vocabulary (cli.vocabulary) lists a character twice")
            }
            if kind == .lines && vocabulary.first != "\n" {
                throw CLIError("\(path): a lines model's vocabulary (cli.vocabulary) must start with \"\\n\" (the line boundary)")
            }
        } else if kind != .features || !vocabulary.isEmpty {
            throw CLIError("\(path): its metadata (cli.kind '\(kind.rawValue)', \(vocabulary.count) vocabulary entries) "
                           + "is for a language model, but the model is \(describe(c))")
        }
        var notes: [String: String] = [:]
        for (k, v) in file.metadata where k.hasPrefix("cli.note.") { notes[String(k.dropFirst("cli.note.".count))] = v }
        return SavedModel(model: model, kind: kind, vocabulary: vocabulary, notes: notes)
    }

    /// What a model is, in words: "a tagger", "a classifier", "a regressor", "a language model", ….
    static func describe(_ c: ModelConfig) -> String {
        switch c.architecture {
        case .languageModel: return "a language model"
        case .seq2seq: return "an encoder-decoder"
        case .tagger: return c.output == .regression ? "a tagger (regression per step)" : "a tagger"
        case .classifier: return c.output == .regression ? "a regressor" : "a classifier"
        }
    }

    private static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
