import Foundation
import XCTest
import SeqCore

/// Nothing lost: a child process that checkpoints every step is killed at random moments, mostly in
/// the middle of a save. Every time, the checkpoint left on disk loads, and resuming from it ends
/// with exactly the weights of a run that was never interrupted.
final class CheckpointKillTests: XCTestCase {
    /// The child: `seqcore-bench train-checkpointed`, built next to this test bundle.
    var child: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("seqcore-bench")
    }

    func run(_ path: String, steps: Int, killAfter: Double? = nil) throws -> Int32 {
        let p = Process()
        p.executableURL = child
        p.arguments = ["--threads", "1", "train-checkpointed", path, "\(steps)"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        if let killAfter {
            usleep(useconds_t(killAfter * 1e6))
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
        return p.terminationStatus
    }

    func testKilledDuringSavesAlwaysLeavesALoadableCheckpoint() throws {
        guard FileManager.default.isExecutableFile(atPath: child.path) else {
            return XCTFail("\(child.path) is missing: build all products (swift build -c release --build-tests)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seqcore-kill-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = 160

        let reference = dir.appendingPathComponent("reference.ckpt").path
        XCTAssertEqual(try run(reference, steps: steps), 0)
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference + ".final"))

        var rng = SeqRandom(seed: 99)
        var killedWithCheckpoint = 0, resumed = 0
        for trial in 0 ..< 100 {
            let path = dir.appendingPathComponent("trial\(trial).ckpt").path
            let status = try run(path, steps: steps, killAfter: 0.02 + rng.nextUnit() * 0.25)
            guard FileManager.default.fileExists(atPath: path) else { continue }  // killed before the first save
            if status != 0 { killedWithCheckpoint += 1 }
            let checkpoint: TrainingCheckpoint<Float>
            do {
                checkpoint = try TrainingCheckpoint<Float>.load(from: path)
            } catch {
                return XCTFail("trial \(trial): the checkpoint left after the kill does not load: \(error)")
            }
            XCTAssertGreaterThan(checkpoint.counters["step"] ?? 0, 0)
            // Resume a tenth of the trials to the end (each takes a moment) and compare bit for bit.
            if trial % 10 == 0 {
                XCTAssertEqual(try run(path, steps: steps), 0)
                let got = try Data(contentsOf: URL(fileURLWithPath: path + ".final"))
                XCTAssertEqual(got, expected, "trial \(trial): resumed run differs from the uninterrupted one")
                resumed += 1
            }
        }
        print("kill test: 100 trials, \(killedWithCheckpoint) killed with a checkpoint on disk, \(resumed) resumed")
        XCTAssertGreaterThanOrEqual(killedWithCheckpoint, 50, "most kills should land while training and saving")
        XCTAssertGreaterThanOrEqual(resumed, 5)
    }
}
