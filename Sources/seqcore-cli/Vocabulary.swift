/// Token strings ↔ ids. Id 0 is padding and id 1 stands for every word never seen (<unk>), so a
/// model runs on any text.
struct Vocabulary {
    static let pad = 0, unknown = 1
    private(set) var tokens = ["<pad>", "<unk>"]
    private var index = ["<pad>": 0, "<unk>": 1]

    init() {}

    init(tokens: [String]) {
        self.tokens = tokens
        index = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    }

    var count: Int { tokens.count }

    /// The id of `token`, adding it when new.
    mutating func add(_ token: String) -> Int {
        if let i = index[token] { return i }
        index[token] = tokens.count
        tokens.append(token)
        return tokens.count - 1
    }

    /// The id of `token`, or <unk>.
    func id(_ token: String) -> Int { index[token] ?? Self.unknown }

    func contains(_ token: String) -> Bool { index[token] != nil }
}
