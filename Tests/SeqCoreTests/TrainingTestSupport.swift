import Foundation
import XCTest
import SeqCore

/// Helpers for the training and persistence tests: fixture loading and tolerant comparison that
/// reports the largest difference and where it is.
enum TrainingTestSupport {
    /// Tests/Fixtures, found from this file's path.
    static let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A JSON fixture as a dictionary; fails the test (and throws) when missing or malformed.
    static func loadFixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let url = fixturesDirectory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            XCTFail("fixture \(url.path) is missing: run Tests/Fixtures/make_optimizer_fixtures.py", file: file, line: line)
            throw SeqError(.io, "missing fixture \(name)")
        }
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            XCTFail("fixture \(name) is not a JSON object", file: file, line: line)
            throw SeqError(.format, "bad fixture \(name)")
        }
        return object
    }

    static func doubles(_ any: Any?) -> [Double] {
        (any as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue ?? .nan }
    }

    static func doubleRows(_ any: Any?) -> [[Double]] {
        (any as? [Any] ?? []).map { doubles($0) }
    }

    /// The largest |actual − expected| and its index, and whether every element satisfies
    /// |a − e| ≤ absolute + relative·|e| (NaN never does).
    struct Comparison {
        var maxDifference = 0.0
        var maxRelative = 0.0
        var worstIndex = -1
        var passed = true
        var countMismatch = false
    }

    static func compare(_ actual: [Double], _ expected: [Double], relative: Double, absolute: Double) -> Comparison {
        var c = Comparison()
        if actual.count != expected.count {
            c.passed = false
            c.countMismatch = true
            return c
        }
        for i in actual.indices {
            let d = abs(actual[i] - expected[i])
            if d.isNaN {
                (c.passed, c.maxDifference, c.worstIndex) = (false, .nan, i)
                break
            }
            if !(d <= absolute + relative * abs(expected[i])) { c.passed = false }
            if d > c.maxDifference || c.worstIndex < 0 { (c.maxDifference, c.worstIndex) = (d, i) }
            if expected[i] != 0 { c.maxRelative = max(c.maxRelative, d / abs(expected[i])) }
        }
        return c
    }

    /// Fails with the case's label, the largest difference, its index and both values.
    @discardableResult
    static func assertClose(_ actual: [Double], _ expected: [Double], relative: Double, absolute: Double,
                            _ label: String, file: StaticString = #filePath, line: UInt = #line) -> Double {
        let c = compare(actual, expected, relative: relative, absolute: absolute)
        if c.countMismatch {
            XCTFail("\(label): \(actual.count) values, expected \(expected.count)", file: file, line: line)
            return .infinity
        }
        if !c.passed {
            let i = c.worstIndex
            XCTFail("\(label): largest difference \(c.maxDifference) at index \(i) (got \(actual[i]), "
                    + "expected \(expected[i]); tolerance rel \(relative), abs \(absolute))", file: file, line: line)
        }
        return c.maxDifference
    }
}
