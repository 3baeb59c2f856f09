import Foundation

/// The reports' figures, each an inline `<svg>` string.
enum Chart {
    /// One line of a line chart.
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
    }

    /// Lines over a numeric x axis, with optional dashed vertical markers (e.g. re-clustering epochs).
    static func lines(title: String, xLabel: String, yLabel: String, series: [Series], markers: [Double] = [],
                      markerLabel: String? = nil, logY: Bool = false, width: Double = 560, height: Double = 300) -> String {
        var canvas = SVGCanvas(width: width, height: height)
        canvas.frame(title: title, xLabel: xLabel, yLabel: yLabel)
        // A NaN or infinite value cannot be drawn: it is left out, and the figure says so.
        let notFinite = series.flatMap { $0.points.filter { !$0.x.isFinite || !$0.y.isFinite } }
        let series = series.map { Series(name: $0.name, points: $0.points.filter { $0.x.isFinite && $0.y.isFinite }, color: $0.color) }
        let markers = markers.filter(\.isFinite)
        let xs = series.flatMap { $0.points.map(\.x) } + markers
        let ys = series.flatMap { $0.points.map(\.y) }
        let x = SVGScale(covering: xs, to: canvas.plotLeft + 6, canvas.plotRight - 6)
        let y = SVGScale(covering: ys, to: canvas.plotBottom, canvas.plotTop + 22, logarithmic: logY)
        canvas.yAxis(y)
        canvas.xAxis(x)
        for marker in markers { canvas.line(x(marker), canvas.plotTop + 20, x(marker), canvas.plotBottom, stroke: "#b0413e", dash: "4 3") }
        var legend = series.count > 1 ? series.map { (name: $0.name, color: $0.color) } : []
        if !markers.isEmpty, let markerLabel { legend.append((name: markerLabel, color: "#b0413e")) }
        for line in series {
            let dots = line.points.count <= 40
            canvas.polyline(line.points.filter { !logY || $0.y > 0 }.map { (x($0.x), y($0.y)) }, stroke: line.color, dots: dots)
        }
        canvas.legend(legend)
        if !notFinite.isEmpty {
            let values = Set(notFinite.map { $0.y.isFinite ? "\($0.x)" : "\($0.y)" }).sorted().joined(separator: ", ")
            let at = notFinite.filter { $0.x.isFinite }.prefix(3).map { SVGScale.label($0.x) }.joined(separator: ", ")
            canvas.text("\(notFinite.count) value\(notFinite.count == 1 ? "" : "s") not finite (\(values))\(at.isEmpty ? "" : " at \(xLabel) \(at)"), not drawn",
                        x: canvas.plotRight - 4, y: canvas.plotTop + 14, anchor: "end", size: 10, fill: "#b0413e")
        }
        return canvas.svg
    }
}
