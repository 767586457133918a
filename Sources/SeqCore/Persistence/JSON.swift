// A small, strict JSON (RFC 8259) reader and writer: what safetensors headers and model metadata
// need, without Foundation. The reader works on untrusted bytes: it never traps, bounds its
// nesting depth, validates UTF-8 and escapes, refuses duplicate keys, and reports the byte offset
// of the first problem as a `.format` error.

/// A JSON value. Numbers keep their literal text, so integers of any size stay exact until read
/// with `integer` (or `double`).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written, e.g. `-12`, `0.5`, `1e-3`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Nesting deeper than this is refused (a crafted header cannot exhaust the stack).
    public static let maximumDepth = 128

    /// Parses one JSON text (UTF-8); surrounding whitespace is allowed, anything else is not.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { try parse($0) }
    }

    public static func parse(_ text: String) throws -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses one JSON text from raw bytes.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        if parser.position != bytes.count {
            throw parser.failure("unexpected '\(parser.describeByte())' after the JSON value")
        }
        return value
    }

    /// The value as an exact integer: a number literal without fraction or exponent that fits Int.
    public var integer: Int? {
        guard case let .number(text) = self else { return nil }
        return Int(text, radix: 10)
    }

    public var double: Double? {
        guard case let .number(text) = self else { return nil }
        return Double(text)
    }

    public var string: String? {
        guard case let .string(s) = self else { return nil }
        return s
    }

    public var array: [JSONValue]? {
        guard case let .array(a) = self else { return nil }
        return a
    }

    public var object: JSONObject? {
        guard case let .object(o) = self else { return nil }
        return o
    }

    /// What kind of value this is, for error messages ("a string", "an array", ...).
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Compact JSON text (no spaces), strings escaped as serde_json (and so Python's `safetensors`)
    /// escapes them: `"`, `\`, and control characters; everything else is written as UTF-8.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += n
        case let .string(s): JSONValue.writeString(s, to: &out)
        case let .array(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case let .object(object):
            out += "{"
            for (i, key) in object.keys.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(key, to: &out)
                out += ":"
                object[key]?.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0 ..< 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// A JSON object that remembers the order of its keys (as written, or as inserted).
public struct JSONObject: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: JSONValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }

    /// Reads a member; setting a new key appends it, setting nil removes it.
    public subscript(key: String) -> JSONValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
}

/// Recursive-descent parser over a byte buffer; `position` is the next unread byte.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func failure(_ what: String) -> SeqError {
        SeqError(.format, "JSON: \(what) at byte \(position)")
    }

    func describeByte() -> String {
        guard position < bytes.count else { return "end of text" }
        let b = bytes[position]
        return b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard position < bytes.count else { throw failure("unexpected end of text, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return try number()
        default: throw failure("unexpected '\(describeByte())', expected a value")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        guard bytes.count - position >= n, (0 ..< n).allSatisfy({ bytes[position + $0] == w[$0] }) else {
            throw failure("invalid literal, expected '\(word)'")
        }
        position += n
    }

    mutating func object(depth: Int) throws -> JSONValue {
        if depth > JSONValue.maximumDepth { throw failure("nesting deeper than \(JSONValue.maximumDepth)") }
        position += 1                                   // {
        var object = JSONObject()
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw failure("expected a string key, found '\(describeByte())'")
            }
            let keyStart = position
            let key = try string()
            if object[key] != nil {
                position = keyStart
                throw failure("duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw failure("expected ':' after a key, found '\(describeByte())'")
            }
            position += 1
            skipWhitespace()
            object[key] = try value(depth: depth)
            skipWhitespace()
            guard position < bytes.count else { throw failure("unexpected end of text inside an object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(object) }
            throw failure("expected ',' or '}' in an object, found '\(describeByte())'")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        if depth > JSONValue.maximumDepth { throw failure("nesting deeper than \(JSONValue.maximumDepth)") }
        position += 1                                   // [
        var items: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw failure("unexpected end of text inside an array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            throw failure("expected ',' or ']' in an array, found '\(describeByte())'")
        }
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func number() throws -> JSONValue {
        let start = position
        func digits() -> Int {
            let s = position
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                position += 1
            }
            return position - s
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw failure("a number ends after '-'") }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if digits() == 0 {
            throw failure("invalid number")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            if digits() == 0 { throw failure("a number needs digits after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            if digits() == 0 { throw failure("a number needs digits in its exponent") }
        }
        if position - start > 512 { throw failure("a number literal longer than 512 characters") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start ..< position]), as: UTF8.self)
        return .number(text)
    }

    mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw failure("a \\u escape needs 4 hex digits") }
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            let b = bytes[position]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit in a \\u escape")
            }
            v = v << 4 | UInt32(d)
            position += 1
        }
        return v
    }

    /// A string literal; raw bytes must be valid UTF-8 without control characters.
    mutating func string() throws -> String {
        let open = position
        position += 1                                   // "
        var out: [UInt8] = []
        var runStart = position
        func flush(_ end: Int) { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart ..< end])) }
        while true {
            guard position < bytes.count else {
                position = open
                throw failure("unterminated string")
            }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                flush(position)
                position += 1
                break
            }
            if b < 0x20 { throw failure("unescaped control character 0x\(String(b, radix: 16)) in a string") }
            if b != UInt8(ascii: "\\") { position += 1; continue }
            flush(position)
            position += 1
            guard position < bytes.count else { throw failure("unterminated escape") }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xD800 && code < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else {
                        throw failure("a high surrogate \\u escape without its low surrogate")
                    }
                    position += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw failure("invalid low surrogate in a \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if code >= 0xDC00 && code < 0xE000 {
                    throw failure("a lone low surrogate \\u escape")
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("invalid \\u escape") }
                UTF8.encode(scalar) { out.append($0) }
            default:
                position -= 1
                throw failure("invalid escape '\\\(describeByte())'")
            }
            runStart = position
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            position = open
            throw failure("a string that is not valid UTF-8")
        }
        return s
    }
}
