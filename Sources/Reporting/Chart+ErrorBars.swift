import Foundation

extension Chart {
    /// One setting's values over seeds, a summary (or nothing) per category.
    struct SpreadSeries {
        var name: String
        var summaries: [SeedStatistics.Summary?]
        var color: String
    }

    /// Grouped bars of the mean with an error bar of ± one sample sd and every seed as a dot
    /// (what a comparison over seeds shows: the spread, not only the mean).
    static func errorBars(title: String, yLabel: String, categories: [String], series: [SpreadSeries],
                          yMax: Double? = nil, width: Double = 560, height: Double = 300) -> String {
        var canvas = SVGCanvas(width: width, height: height)
        canvas.frame(title: title, xLabel: "", yLabel: yLabel)
        let values = series.flatMap { $0.summaries.compactMap { $0 }.flatMap { s in s.values + [s.mean + (s.sd ?? 0)] } }
        let y = yMax.map { SVGScale(lower: 0, upper: $0, start: canvas.plotBottom, end: canvas.plotTop + 22) }
            ?? SVGScale(covering: values, to: canvas.plotBottom, canvas.plotTop + 22, includeZero: true)
        canvas.yAxis(y)
        let groupWidth = (canvas.plotRight - canvas.plotLeft) / Double(max(categories.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        let labelEvery = max(1, Int((Double(categories.count) * 60 / (canvas.plotRight - canvas.plotLeft)).rounded(.up)))
        for (g, category) in categories.enumerated() {
            let start = canvas.plotLeft + Double(g) * groupWidth + groupWidth * 0.1
            if g % labelEvery == 0 {
                canvas.text(String(category.prefix(14)), x: canvas.plotLeft + (Double(g) + 0.5) * groupWidth, y: canvas.plotBottom + 16, size: 10)
            }
            for (s, line) in series.enumerated() {
                let x = start + Double(s) * barWidth, middle = start + (Double(s) + 0.5) * barWidth
                guard let summary = line.summaries[g] else {
                    canvas.text("n/a", x: middle, y: canvas.plotBottom - 4, size: 9, fill: "#888")
                    continue
                }
                let sdText = summary.sd.map { String(format: " ± %.2f", $0) } ?? ""
                canvas.rect(x: x + 1, y: y(summary.mean), width: barWidth - 2, height: canvas.plotBottom - y(summary.mean), fill: line.color,
                            tooltip: "\(line.name) \(category): \(String(format: "%.2f", summary.mean))\(sdText) over \(summary.n) seed\(summary.n == 1 ? "" : "s")")
                if let sd = summary.sd {
                    let top = y(min(summary.mean + sd, y.upper)), bottom = y(max(summary.mean - sd, y.lower)), cap = min(barWidth * 0.25, 6)
                    canvas.line(middle, top, middle, bottom, stroke: "#222", width: 1.4)
                    canvas.line(middle - cap, top, middle + cap, top, stroke: "#222", width: 1.4)
                    canvas.line(middle - cap, bottom, middle + cap, bottom, stroke: "#222", width: 1.4)
                }
                for (index, value) in summary.values.enumerated() {
                    // Spread the dots a little sideways so equal values stay visible.
                    let offset = summary.n > 1 ? (Double(index) / Double(summary.n - 1) - 0.5) * barWidth * 0.4 : 0
                    canvas.add("<circle cx=\"\(SVGCanvas.number(middle + offset))\" cy=\"\(SVGCanvas.number(y(value)))\" r=\"2.6\" "
                               + "fill=\"#fff\" stroke=\"#222\" stroke-width=\"1\"><title>\(HTML.escape("\(line.name) \(category): \(String(format: "%.2f", value))"))</title></circle>")
                }
                if barWidth >= 30 {
                    // The sd beside the mean only where a bar is wide enough for both (about 7 px a character).
                    let sdLabel = barWidth >= 56 ? summary.sd.map { String(format: "±%.1f", $0) } ?? "" : ""
                    canvas.text(String(format: "%.1f", summary.mean) + sdLabel,
                                x: middle, y: y(min(summary.mean + (summary.sd ?? 0), y.upper)) - 5, size: 9, fill: "#444")
                }
            }
        }
        if series.count > 1 { canvas.legend(series.map { (name: $0.name, color: $0.color) }) }
        return canvas.svg
    }
}
