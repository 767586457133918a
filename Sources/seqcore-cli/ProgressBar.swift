import Foundation

/// A progress bar on stderr for long steps.
///
/// On a terminal it redraws one line in place (at most ten times a second); otherwise (a pipe, a log
/// file, CI) it writes a few plain lines — the start, every quarter, the end — so logs stay short.
/// `quiet` silences it entirely. Results never go through here: they go to stdout.
final class ProgressBar {
    let label: String
    let total: Int
    private let quiet: Bool
    private let terminal: Bool
    private let clock = Stopwatch()
    private var lastDraw = -1.0
    private var lastQuarter = -1
    private var finished = false

    init(_ label: String, total: Int, quiet: Bool) {
        self.label = label
        self.total = max(1, total)
        self.quiet = quiet
        terminal = Console.stderrIsTerminal
        Console.flush()
        update(0)
    }

    /// Reports `done` of `total` units; `note` (e.g. the current loss) is shown after the bar.
    func update(_ done: Int, note: String = "") {
        guard !quiet, !finished else { return }
        let fraction = min(1, Double(done) / Double(total))
        let now = clock.elapsed
        if terminal {
            if done < total && now - lastDraw < 0.1 { return }
            lastDraw = now
            let width = 28, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            var eta = ""
            if done > 0 && done < total { eta = "  eta " + Format.duration(now / fraction - now) }
            let text = "\(Format.padRight(label, 26)) \(bar) \(Format.padLeft("\(Int(fraction * 100))", 3))%"
                + "  \(Format.duration(now))\(eta)\(note.isEmpty ? "" : "  " + note)"
            Console.error("\r\u{1B}[2K" + text)
        } else {
            let quarter = Int(fraction * 4)
            if quarter == lastQuarter { return }
            lastQuarter = quarter
            Console.error("\(label): \(done)/\(total) (\(quarter * 25)%) after \(Format.duration(now))"
                          + (note.isEmpty ? "" : ", " + note) + "\n")
        }
    }

    /// Marks the end: draws 100% and, on a terminal, clears the line so the report continues cleanly.
    func finish(note: String = "") {
        guard !quiet, !finished else { return }
        update(total, note: note)
        finished = true
        if terminal { Console.error("\r\u{1B}[2K") }
    }
}
