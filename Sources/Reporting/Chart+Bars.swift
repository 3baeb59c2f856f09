import Foundation

extension Chart {
    /// One bar series of a grouped bar chart: a value (or nothing) per group.
    struct BarSeries {
        var name: String
        var values: [Double?]
        var color: String
    }

    /// Grouped vertical bars (e.g. many / medium / few, one bar per run), values printed on the bars.
    static func groupedBars(title: String, yLabel: String, groups: [String], series: [BarSeries],
                            yMax: Double? = nil, width: Double = 560, height: Double = 300) -> String {
        var canvas = SVGCanvas(width: width, height: height)
        canvas.frame(title: title, xLabel: "", yLabel: yLabel)
        let values = series.flatMap { $0.values.compactMap { $0 } }.filter(\.isFinite)
        let y = yMax.map { SVGScale(lower: 0, upper: $0, start: canvas.plotBottom, end: canvas.plotTop + 22) }
            ?? SVGScale(covering: values, to: canvas.plotBottom, canvas.plotTop + 22, includeZero: true)
        canvas.yAxis(y)
        let groupWidth = (canvas.plotRight - canvas.plotLeft) / Double(max(groups.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        for (g, group) in groups.enumerated() {
            let start = canvas.plotLeft + Double(g) * groupWidth + groupWidth * 0.1
            canvas.text(group, x: canvas.plotLeft + (Double(g) + 0.5) * groupWidth, y: canvas.plotBottom + 16, size: 11)
            for (s, line) in series.enumerated() {
                let x = start + Double(s) * barWidth
                guard let value = line.values[g], value.isFinite else {
                    // A NaN or infinite value is named, not drawn.
                    canvas.text(line.values[g].map { "\($0)" } ?? "n/a", x: x + barWidth / 2, y: canvas.plotBottom - 4, size: 9,
                                fill: line.values[g] == nil ? "#888" : "#b0413e")
                    continue
                }
                canvas.rect(x: x + 1, y: y(value), width: barWidth - 2, height: canvas.plotBottom - y(value), fill: line.color,
                            tooltip: "\(line.name) \(group): \(String(format: "%.2f", value))")
                if barWidth >= 18 {
                    canvas.text(String(format: "%.1f", value), x: x + barWidth / 2, y: y(value) - 3, size: barWidth >= 34 ? 10 : 8)
                }
            }
        }
        if series.count > 1 { canvas.legend(series.map { (name: $0.name, color: $0.color) }) }
        return canvas.svg
    }
}
