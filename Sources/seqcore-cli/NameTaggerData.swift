import Foundation
import SeqCore

/// Sentences in the spirit of the course's "Harry Potter and Hermione Granger invented a new spell",
/// each word labelled 1 when it is part of a person's name (lesson 1's y<t>).
///
/// Some names are kept out of training (`heldOutFirst`, `heldOutLast`): the test sentences use them,
/// they reach the model as <unk>, and the tagger must recognise them from context alone.
enum NameTaggerData {
    static let firstNames = [
        "Harry", "Hermione", "Ron", "Ginny", "Albus", "Minerva", "Severus", "Rubeus", "Sirius", "Remus",
        "Molly", "Arthur", "Fred", "George", "Percy", "Bill", "Charlie", "Cedric", "Cho", "Dean",
        "Seamus", "Lavender", "Parvati", "Padma", "Oliver", "Katie", "Angelina", "Dobby", "Fleur", "Viktor",
        // held out (test only)
        "Luna", "Neville", "Draco", "Nymphadora",
    ]
    static let lastNames = [
        "Potter", "Granger", "Weasley", "Dumbledore", "McGonagall", "Snape", "Hagrid", "Black", "Lupin",
        "Diggory", "Chang", "Thomas", "Finnigan", "Brown", "Patil", "Wood", "Bell", "Johnson", "Delacour",
        "Krum", "Flitwick", "Sprout", "Moody", "Slughorn",
        // held out (test only)
        "Lovegood", "Longbottom", "Malfoy", "Tonks",
    ]
    static let heldOut: Set<String> = ["Luna", "Neville", "Draco", "Nymphadora", "Lovegood", "Longbottom", "Malfoy", "Tonks"]

    static let verbs = ["invented", "found", "cast", "learned", "broke", "forgot", "taught", "brewed", "hid",
                        "stole", "mended", "borrowed", "described", "tested", "lost", "bought"]
    static let determiners = ["a", "an", "the", "one", "another", "their", "her", "his"]
    static let adjectives = ["new", "old", "strange", "secret", "dark", "simple", "powerful", "forbidden",
                             "useful", "ancient", "silly", "golden"]
    static let nouns = ["spell", "potion", "wand", "book", "charm", "map", "cloak", "broom", "letter", "key",
                        "mirror", "diary", "stone", "egg"]
    static let places = ["Hogwarts", "Hogsmeade", "London", "the library", "the forest", "the dungeon",
                         "the kitchen", "Diagon Alley", "the tower"]
    static let adverbs = ["yesterday", "quietly", "again", "at night", "before breakfast", "by accident", "twice"]

    /// A random sentence: words and their labels. `heldOut` chooses names from the held-out set only
    /// (test) or never (training).
    static func sentence(_ rng: inout SeqRandom, heldOutNames: Bool) -> [(word: String, label: Int)] {
        func pick(_ a: [String]) -> String { a[min(a.count - 1, Int(rng.nextUnit() * Double(a.count)))] }
        func pickName(_ list: [String]) -> String {
            let pool = list.filter { heldOut.contains($0) == heldOutNames }
            return pick(pool)
        }
        func phrase(_ text: String, _ label: Int) -> [(String, Int)] { text.split(separator: " ").map { (String($0), label) } }
        func person() -> [(String, Int)] {
            let u = rng.nextUnit()
            if u < 0.6 { return [(pickName(firstNames), 1), (pickName(lastNames), 1)] }
            if u < 0.8 { return [(pickName(firstNames), 1)] }
            return phrase(pick(["Professor", "Mr", "Mrs", "Madam"]), 0) + [(pickName(lastNames), 1)]
        }
        var words = person()
        if rng.nextUnit() < 0.5 { words += [("and", 0)] + person() }
        words += [(pick(verbs), 0)]
        words += [(pick(determiners), 0)]
        if rng.nextUnit() < 0.7 { words += [(pick(adjectives), 0)] }
        words += [(pick(nouns), 0)]
        let u = rng.nextUnit()
        if u < 0.25 { words += [("with", 0)] + person() }
        else if u < 0.45 { words += [("for", 0)] + person() }
        else if u < 0.7 { words += [("in", 0)] + phrase(pick(places), 0) }
        if rng.nextUnit() < 0.3 { words += phrase(pick(adverbs), 0) }
        return words
    }

    /// Splits text into words, dropping punctuation at either end of a word ("spell." → "spell").
    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).compactMap { raw in
            let w = raw.trimmingCharacters(in: .punctuationCharacters)
            return w.isEmpty ? nil : w
        }
    }
}
