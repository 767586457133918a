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
        let file = try SafeTensorsFile.load(path)
        let model = try SequenceModel<Float>(contentsOf: file)
        guard let kindText = file.metadata["cli.kind"], let kind = SavedModel.Kind(rawValue: kindText),
              let vocabularyText = file.metadata["cli.vocabulary"],
              let vocabulary = try? JSONSerialization.jsonObject(with: Data(vocabularyText.utf8)) as? [String]
        else {
            throw CLIError("\(path) is a seqcore model but was not written by `seqcore train` (no vocabulary in its metadata)")
        }
        var notes: [String: String] = [:]
        for (k, v) in file.metadata where k.hasPrefix("cli.note.") { notes[String(k.dropFirst("cli.note.".count))] = v }
        return SavedModel(model: model, kind: kind, vocabulary: vocabulary, notes: notes)
    }

    private static func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
