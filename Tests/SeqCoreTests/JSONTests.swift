import XCTest
import SeqCore

/// The small JSON reader/writer behind safetensors headers.
final class JSONTests: XCTestCase {
    func testParsesEveryKindOfValue() throws {
        let v = try JSONValue.parse(#" { "a": [1, -2.5e3, 0, true, false, null], "b": {"c": "d"}, "e": [] , "f": {} } "#)
        guard let o = v.object else { return XCTFail("not an object: \(v)") }
        XCTAssertEqual(o.keys, ["a", "b", "e", "f"], "key order is kept")
        XCTAssertEqual(o["a"], .array([.number("1"), .number("-2.5e3"), .number("0"), .bool(true), .bool(false), .null]))
        XCTAssertEqual(o["a"]?.array?[0].integer, 1)
        XCTAssertEqual(o["a"]?.array?[1].double, -2500)
        XCTAssertNil(o["a"]?.array?[1].integer, "-2.5e3 is not an integer")
        XCTAssertEqual(o["b"]?.object?["c"]?.string, "d")
        XCTAssertEqual(o["e"], .array([]))
        XCTAssertEqual(o["f"], .object(JSONObject()))
        XCTAssertEqual(try JSONValue.parse("9223372036854775807").integer, Int.max)
        XCTAssertNil(try JSONValue.parse("9223372036854775808").integer, "out of Int range")
    }

    func testStringEscapesAndUnicode() throws {
        let v = try JSONValue.parse(#""q\"b\\s\/n\nr\rt\tb\bf\f u\u00e9 \ud83d\ude00 é""#)
        XCTAssertEqual(v.string, "q\"b\\s/n\nr\rt\tb\u{8}f\u{C} u\u{E9} \u{1F600} é")
        XCTAssertEqual(try JSONValue.parse(#""\u0000""#).string, "\u{0}")
    }

    func testRejectsMalformedText() {
        let bad = [
            "", " ", "{", "}", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "01", "1.", ".5", "-",
            "1e", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
            "\"a\u{1}b\"", "{\"a\":1}x", "[1] [2]", "{\"a\":1,\"a\":2}", "NaN", "Infinity", "'a'",
        ]
        for text in bad {
            XCTAssertThrowsError(try JSONValue.parse(text), "accepted \(text.debugDescription)") { e in
                XCTAssertEqual((e as? SeqError)?.kind, .format, "\(text.debugDescription): \(e)")
                XCTAssertTrue("\(e)".contains("at byte"), "\(e)")
            }
        }
        // Invalid UTF-8 inside a string (a lone continuation byte, an overlong encoding).
        for bytes: [UInt8] in [[0x22, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            XCTAssertThrowsError(try JSONValue.parse(bytes), "accepted \(bytes)")
        }
    }

    func testDepthIsBounded() throws {
        let ok = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        XCTAssertNoThrow(try JSONValue.parse(ok))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONValue.parse(deep)) { e in XCTAssertTrue("\(e)".contains("nesting"), "\(e)") }
        let deepObject = String(repeating: "{\"a\":", count: 10_000)
        XCTAssertThrowsError(try JSONValue.parse(deepObject))
    }

    /// Escaping as serde_json does (and so Python's safetensors): short escapes, \u00XX for other
    /// control characters, everything else raw UTF-8 (DEL and U+2028 included).
    func testSerializationMatchesSerdeEscaping() throws {
        let s = JSONValue.string("\u{1}\u{1F}\u{7F} é \u{2028} \t/\"\\\n")
        XCTAssertEqual(s.serialized(), "\"\\u0001\\u001f\u{7F} é \u{2028} \\t/\\\"\\\\\\n\"")
        let o = JSONValue.object(JSONObject([("b", .number("1")), ("a", .array([.bool(true), .null]))]))
        XCTAssertEqual(o.serialized(), #"{"b":1,"a":[true,null]}"#)
        XCTAssertEqual(try JSONValue.parse(o.serialized()), o)
        XCTAssertEqual(try JSONValue.parse(s.serialized()), s)
    }

    func testRandomMutationsNeverCrash() {
        let base = Array(#"{"__metadata__":{"k":"v\u00e9"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"x":[1.5e-3,-0,true,null]}"#.utf8)
        var rng = SeqRandom(seed: 2024)
        var accepted = 0
        for _ in 0 ..< 3000 {
            var bytes = base
            for _ in 0 ..< 1 + Int(rng.next() % 4) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                default: let alphabet = Array("{}[]\",:\\u0".utf8); bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
                if bytes.isEmpty { break }
            }
            do {
                let v = try JSONValue.parse(bytes)
                accepted += 1
                XCTAssertEqual(try JSONValue.parse(v.serialized()), v, "re-parse of \(v.serialized())")
            } catch {
                XCTAssertEqual((error as? SeqError)?.kind, .format)
            }
        }
        XCTAssertGreaterThan(accepted, 0)
    }
}
