import Foundation
import SeqCore

/// Training words for the character-level generator of part (c).
enum NameGeneratorData {
    /// Debian's word list (package wamerican), when installed.
    static let dictionaryPath = "/usr/share/dict/words"

    struct Source {
        /// Lower-case words of letters a–z only.
        var words: [String]
        /// One line saying where they came from.
        var description: String
    }

    /// The capitalised words (names of people and places) of `path`, 3 to 9 letters, lower-cased;
    /// nil when the file is missing or holds too few of them.
    static func dictionaryNames(_ path: String = dictionaryPath) -> Source? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var seen = Set<String>(), words: [String] = []
        // \n, \r\n or \r: Swift reads "\r\n" as one Character, so splitting on "\n" alone would
        // see a Windows word list as one line.
        for line in text.split(whereSeparator: \.isNewline) {
            let w = line.trimmingCharacters(in: .whitespaces)
            guard (3 ... 9).contains(w.count), let first = w.unicodeScalars.first, ("A" ... "Z").contains(first),
                  w.unicodeScalars.dropFirst().allSatisfy({ ("a" ... "z").contains($0) }) else { continue }
            let lower = w.lowercased()
            if seen.insert(lower).inserted { words.append(lower) }
        }
        guard words.count >= 500 else { return nil }
        return Source(words: words, description: "\(words.count) capitalised words (names of people and places) of \(path)")
    }

    /// A list of invented names from a small syllable grammar: the fallback when no word list is
    /// installed. The model has to discover the grammar from the examples alone.
    static func generatedNames(count: Int = 20000, seed: UInt64 = 5) -> Source {
        let onsets = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r", "s",
                      "sh", "st", "t", "th", "tr", "v", "w", "z", ""]
        let vowels = ["a", "e", "i", "o", "u", "a", "e", "ae", "ia", "ou", "ei"]
        let codas = ["", "", "", "", "n", "r", "l", "s", "m", "nd", "rt", "st"]
        let endings = ["a", "ia", "on", "en", "us", "el", "ine", "ard", "wyn", "ith", "ora", "an", "ella", "ric", "o"]
        var rng = SeqRandom(seed: seed)
        func pick(_ a: [String]) -> String { a[min(a.count - 1, Int(rng.nextUnit() * Double(a.count)))] }
        var seen = Set<String>(), words: [String] = []
        while words.count < count {
            var name = ""
            for _ in 0 ..< (rng.nextUnit() < 0.6 ? 1 : 2) { name += pick(onsets) + pick(vowels) + pick(codas) }
            name += pick(["", "l", "n", "r", "v", "d", "th"]) + pick(endings)
            if (3 ... 10).contains(name.count), seen.insert(name).inserted { words.append(name) }
        }
        return Source(words: words, description: "\(count) invented names from a syllable grammar (no \(dictionaryPath))")
    }
}

/// Character ids for the generator: 0 marks both the start and the end of a word (the model reads
/// it first and learns to emit it when the word is done), 1…26 are a…z.
enum Letters {
    static let boundary = 0
    static let count = 27

    static func encode(_ word: String) -> [Int] {
        word.unicodeScalars.map { Int($0.value) - 96 }
    }

    static func decode(_ ids: [Int]) -> String {
        String(String.UnicodeScalarView(ids.filter { (1 ... 26).contains($0) }.map { Unicode.Scalar(UInt8($0 + 96)) }))
    }
}
