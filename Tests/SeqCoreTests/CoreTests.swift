import XCTest
import SeqCore

final class CoreTests: XCTestCase {
    func testArenaRegistersAndRejectsDuplicates() throws {
        let arena = ParameterArena<Float>()
        let o1 = try arena.register("weight_ih_l0", shape: [8, 3])
        let o2 = try arena.register("bias_ih_l0", shape: [8])
        XCTAssertEqual(o1, 0)
        XCTAssertEqual(o2, 24)
        XCTAssertEqual(arena.count, 32)
        XCTAssertThrowsError(try arena.register("bias_ih_l0", shape: [8]))
        XCTAssertThrowsError(try arena.info("nope")) { e in
            XCTAssertEqual((e as? SeqError)?.kind, .notFound)
        }
        XCTAssertThrowsError(try arena.setValue("bias_ih_l0", [1, 2, 3]))
        XCTAssertThrowsError(try arena.setValue("bias_ih_l0", [Float](repeating: .nan, count: 8)))
    }

    func testRandomIsSeededAndUniform() {
        var a = SeqRandom(seed: 42), b = SeqRandom(seed: 42), c = SeqRandom(seed: 43)
        let xa = (0..<1000).map { _ in a.nextUnit() }
        let xb = (0..<1000).map { _ in b.nextUnit() }
        let xc = (0..<1000).map { _ in c.nextUnit() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
        let mean = xa.reduce(0, +) / 1000
        XCTAssertEqual(mean, 0.5, accuracy: 0.05)
        XCTAssertTrue(xa.allSatisfy { $0 >= 0 && $0 < 1 })
    }
}
