import Foundation

/// Line charts as hand-written SVG: no dependencies, readable in any browser and on GitHub.
///
/// A chart is one or more panels side by side; each panel has its own axes (linear x; linear or
/// log10 y), curves, and dashed horizontal reference lines. Non-positive values on a log axis and
/// non-finite values break a curve (they are not invented).
enum SVGChart {
    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
        var dashed = false
    }

    struct Reference {
        var y: Double
        var label: String
    }

    struct Panel {
        var title: String
        var xLabel: String
        var yLabel: String
        var logY = false
        var series: [Series]
        var references: [Reference] = []
        /// Fixed y range (data units); nil: fitted to the data and references.
        var yRange: (Double, Double)? = nil
        /// Where the legend goes inside the plot area.
        var legendAtBottom = false
    }

    static let palette = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"]

    static func render(title: String, note: String? = nil, panels: [Panel], panelWidth: Double = 460,
                       panelHeight: Double = 320) -> String {
        let top = 44.0, bottom = note == nil ? 8.0 : 28.0
        let width = panelWidth * Double(panels.count), height = top + panelHeight + bottom
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" \
            viewBox="0 0 \(n(width)) \(n(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(n(width / 2))" y="24" text-anchor="middle" font-size="16" font-weight="bold">\(escape(title))</text>

            """
        for (i, panel) in panels.enumerated() {
            svg += "<g transform=\"translate(\(n(Double(i) * panelWidth)),\(n(top)))\">\n"
            svg += render(panel, width: panelWidth, height: panelHeight)
            svg += "</g>\n"
        }
        if let note {
            svg += "<text x=\"12\" y=\"\(n(height - 10))\" font-size=\"11\" fill=\"#555\">\(escape(note))</text>\n"
        }
        return svg + "</svg>\n"
    }

    private static func render(_ p: Panel, width: Double, height: Double) -> String {
        let left = 64.0, right = 16.0, top = 22.0, bottom = 44.0
        let plotW = width - left - right, plotH = height - top - bottom
        let usable: (Double) -> Bool = { $0.isFinite && (!p.logY || $0 > 0) }
        let xs = p.series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        let ys = p.series.flatMap { $0.points.map(\.y) }.filter(usable) + p.references.map(\.y).filter(usable)
        let x0 = xs.min() ?? 0, x1 = max(xs.max() ?? 1, x0 + 1e-12)
        var (y0, y1) = p.yRange ?? (ys.min() ?? 0, ys.max() ?? 1)
        if p.logY {
            y0 = pow(10, floor(log10(max(y0, 1e-300))))
            y1 = pow(10, ceil(log10(max(y1, y0 * 10))))
        } else if p.yRange == nil {
            let ticks = niceTicks(min(0, y0), y1)
            y0 = ticks.first!
            y1 = max(ticks.last!, y0 + 1e-12)
        }
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double {
            let f = p.logY ? (log10(y) - log10(y0)) / (log10(y1) - log10(y0)) : (y - y0) / (y1 - y0)
            return top + (1 - f) * plotH
        }
        var s = "<text x=\"\(n(left + plotW / 2))\" y=\"12\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(p.title))</text>\n"
        s += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"#999\"/>\n"
        // x ticks
        for t in niceTicks(x0, x1) where t >= x0 - 1e-9 && t <= x1 + 1e-9 {
            s += "<line x1=\"\(n(px(t)))\" y1=\"\(n(top))\" x2=\"\(n(px(t)))\" y2=\"\(n(top + plotH))\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(n(px(t)))\" y=\"\(n(top + plotH + 16))\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        // y ticks: decades on a log axis (thinned to at most ~8 labels)
        var yTicks: [Double]
        if p.logY {
            let d0 = Int(log10(y0).rounded()), d1 = Int(log10(y1).rounded())
            let stride = max(1, Int((Double(d1 - d0) / 8).rounded(.up)))
            yTicks = Swift.stride(from: d1, through: d0, by: -stride).map { pow(10, Double($0)) }
        } else {
            yTicks = niceTicks(y0, y1)
        }
        for t in yTicks where t >= y0 * (1 - 1e-9) && t <= y1 * (1 + 1e-9) {
            s += "<line x1=\"\(n(left))\" y1=\"\(n(py(t)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(py(t)))\" stroke=\"#eee\"/>\n"
            let text = p.logY ? "10<tspan dy=\"-5\" font-size=\"9\">\(Int(log10(t).rounded()))</tspan>" : label(t)
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(text)</text>\n"
        }
        s += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 8))\" text-anchor=\"middle\">\(escape(p.xLabel))</text>\n"
        s += "<text transform=\"translate(14,\(n(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(p.yLabel))</text>\n"
        for r in p.references where usable(r.y) && r.y >= y0 && r.y <= y1 {
            s += "<line x1=\"\(n(left))\" y1=\"\(n(py(r.y)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(py(r.y)))\" stroke=\"#666\" stroke-dasharray=\"5,4\"/>\n"
            s += "<text x=\"\(n(left + plotW - 4))\" y=\"\(n(py(r.y) - 4))\" text-anchor=\"end\" fill=\"#444\" font-size=\"11\">\(escape(r.label))</text>\n"
        }
        // curves, broken where a value cannot be drawn
        for series in p.series {
            var runs: [[String]] = [[]]
            for (x, y) in series.points {
                if x.isFinite && usable(y) {
                    runs[runs.count - 1].append("\(n(px(x))),\(n(py(min(max(y, y0), y1))))")
                } else if !runs[runs.count - 1].isEmpty {
                    runs.append([])
                }
            }
            for run in runs where !run.isEmpty {
                let dash = series.dashed ? " stroke-dasharray=\"6,3\"" : ""
                s += "<polyline fill=\"none\" stroke=\"\(series.color)\" stroke-width=\"2\"\(dash) points=\"\(run.joined(separator: " "))\"/>\n"
            }
        }
        // legend, top right
        for (i, series) in p.series.enumerated() {
            let y = p.legendAtBottom ? top + plotH - 8 - Double(p.series.count - 1 - i) * 16 : top + 14 + Double(i) * 16
            let x = left + plotW - 118
            let dash = series.dashed ? " stroke-dasharray=\"6,3\"" : ""
            if i == 0 {
                let boxTop = y - 14, boxHeight = Double(p.series.count) * 16 + 4
                s += "<rect x=\"\(n(x - 6))\" y=\"\(n(boxTop))\" width=\"120\" height=\"\(n(boxHeight))\" fill=\"white\" fill-opacity=\"0.85\"/>\n"
            }
            s += "<line x1=\"\(n(x))\" y1=\"\(n(y - 4))\" x2=\"\(n(x + 22))\" y2=\"\(n(y - 4))\" stroke=\"\(series.color)\" stroke-width=\"2\"\(dash)/>\n"
            s += "<text x=\"\(n(x + 28))\" y=\"\(n(y))\">\(escape(series.name))</text>\n"
        }
        return s
    }

    /// About five round tick values (1, 2 or 5 × 10^k apart) covering [a, b].
    static func niceTicks(_ a: Double, _ b: Double) -> [Double] {
        guard b > a else { return [a] }
        let raw = (b - a) / 5, magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var t = floor(a / step) * step, ticks: [Double] = []
        while ticks.last.map({ $0 < b - step * 1e-9 }) ?? true { ticks.append(t); t += step }
        return ticks
    }

    private static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e7 { return String(Int(v)) }
        return String(format: "%g", v)
    }

    private static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Writes `svg` to `directory/name`, creating the directory; returns the path.
    static func write(_ svg: String, to directory: String, name: String) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create the folder \(directory) for the charts")
        }
        let path = (directory as NSString).appendingPathComponent(name)
        do {
            try svg.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIError("cannot write \(path): \(error.localizedDescription)")
        }
        return path
    }
}
