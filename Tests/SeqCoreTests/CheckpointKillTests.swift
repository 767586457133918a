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

    func start(_ path: String, steps: Int) throws -> Process {
        let p = Process()
        p.executableURL = child
        p.arguments = ["--threads", "1", "train-checkpointed", path, "\(steps)"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func run(_ path: String, steps: Int) throws -> Int32 {
        let p = try start(path, steps: steps)
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Polls until the child's first checkpoint is on disk (saves are atomic renames, so existence
    /// means complete) or the child has ended.
    func waitForFirstCheckpoint(_ path: String, of p: Process) {
        while p.isRunning && !FileManager.default.fileExists(atPath: path) { usleep(200) }
    }

    func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    func testKilledDuringSavesAlwaysLeavesALoadableCheckpoint() throws {
        guard FileManager.default.isExecutableFile(atPath: child.path) else {
            return XCTFail("\(child.path) is missing: build all products (swift build -c release --build-tests)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seqcore-kill-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = 160

        // The kill moments are scaled to this machine's speed: timed from the first checkpoint's
        // appearance, over the span the uninterrupted run spent training after it. Fixed delays
        // made most kills land after a fast machine had already finished.
        let reference = dir.appendingPathComponent("reference.ckpt").path
        let started = now()
        let referenceRun = try start(reference, steps: steps)
        waitForFirstCheckpoint(reference, of: referenceRun)
        let firstSave = now()
        referenceRun.waitUntilExit()
        XCTAssertEqual(referenceRun.terminationStatus, 0)
        var trainingSpan = max(now() - firstSave, 0.01)
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference + ".final"))
        print("kill test: first checkpoint after \(firstSave - started) s, training after it \(trainingSpan) s")

        var rng = SeqRandom(seed: 99)
        var trials = 0, killedWithCheckpoint = 0, resumed = 0
        // Until 60 kills have landed mid-training (on a quiet machine that takes about 65 trials);
        // the cap only guards against a machine so erratic that the kills keep missing.
        while killedWithCheckpoint < 60 && trials < 300 {
            let trial = trials
            trials += 1
            let path = dir.appendingPathComponent("trial\(trial).ckpt").path
            let p = try start(path, steps: steps)
            waitForFirstCheckpoint(path, of: p)
            let saved = now()
            usleep(useconds_t(rng.nextUnit() * 0.9 * trainingSpan * 1e6))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let status = p.terminationStatus
            // Finished before the kill: the reference run was slowed by other load. Aim within this
            // run's span from now on.
            if status == 0 { trainingSpan = max(0.7 * min(trainingSpan, now() - saved), 0.01) }
            guard FileManager.default.fileExists(atPath: path) else {
                return XCTFail("trial \(trial): the child ended (status \(status)) without leaving a checkpoint")
            }
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
        print("kill test: \(trials) trials, \(killedWithCheckpoint) killed with a checkpoint on disk, \(resumed) resumed")
        XCTAssertGreaterThanOrEqual(killedWithCheckpoint, 60, "kills should land while training and saving")
        XCTAssertGreaterThanOrEqual(resumed, 5)
    }
}
