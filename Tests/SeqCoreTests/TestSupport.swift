import Foundation
import XCTest
import SeqCore

/// numpy.allclose semantics: |actual − expected| ≤ atol + rtol·|expected|, reporting the worst
/// element (index, both values) and the failing label.
@discardableResult
func assertClose<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [E], rtol: Double, atol: Double, _ label: String,
    file: StaticString = #filePath, line: UInt = #line
) -> Double {
    guard actual.count == expected.count else {
        XCTFail("\(label): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return .infinity
    }
    var worstExcess = 0.0, worstIndex = -1, maxRel = 0.0
    for i in actual.indices {
        let a = Double(actual[i]), e = Double(expected[i])
        let diff = abs(a - e)
        if !a.isFinite { worstIndex = i; worstExcess = .infinity; break }
        let excess = diff - (atol + rtol * abs(e))
        if excess > worstExcess { worstExcess = excess; worstIndex = i }
        maxRel = max(maxRel, diff / max(abs(e), atol / rtol))
    }
    if worstIndex >= 0 {
        XCTFail("\(label): element \(worstIndex) is \(actual[worstIndex]), expected \(expected[worstIndex]) "
                + "(rtol \(rtol), atol \(atol))", file: file, line: line)
    }
    return maxRel
}

/// The test fixtures folder (Tests/Fixtures), found from this file's path.
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

func loadJSON(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: fixturesURL.appendingPathComponent(name))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

extension Dictionary where Key == String, Value == Any {
    func doubles(_ key: String) -> [Double]? { (self[key] as? [NSNumber])?.map(\.doubleValue) }
    func ints(_ key: String) -> [Int]? { (self[key] as? [NSNumber])?.map(\.intValue) }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
}

/// Deterministic pseudo-random values for tests.
func randomValues(_ count: Int, seed: UInt64, scale: Double = 1) -> [Double] {
    var rng = SeqRandom(seed: seed)
    return (0 ..< count).map { _ in rng.uniform(-scale, scale) }
}
