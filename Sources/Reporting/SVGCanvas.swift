import Foundation

/// An SVG figure under construction: a plot area with margins, a title, axis labels and ticks.
/// Every figure of the reports is one of these; they are inline (no external resources).
struct SVGCanvas {
    var width: Double, height: Double
    var left = 64.0, right = 20.0, top = 34.0, bottom = 48.0
    private(set) var body = ""

    init(width: Double, height: Double) { self.width = width; self.height = height }

    /// The plot area's edges.
    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    mutating func add(_ element: String) { body += element + "\n" }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    mutating func text(_ content: String, x: Double, y: Double, anchor: String = "middle", size: Double = 11,
                       rotate: Double? = nil, weight: String? = nil, fill: String = "#222") {
        let rotation = rotate.map { " transform=\"rotate(\(Self.number($0)) \(Self.number(x)) \(Self.number(y)))\"" } ?? ""
        let bold = weight.map { " font-weight=\"\($0)\"" } ?? ""
        add("<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" text-anchor=\"\(anchor)\" font-size=\"\(Self.number(size))\" fill=\"\(fill)\"\(bold)\(rotation)>\(HTML.escape(content))</text>")
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String = "#999", width: Double = 1, dash: String? = nil) {
        let dashes = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        add("<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\"\(dashes)/>")
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, tooltip: String? = nil) {
        let title = tooltip.map { "<title>\(HTML.escape($0))</title>" } ?? ""
        add("<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(String(format: "%.2f", max(width, 0)))\" height=\"\(String(format: "%.2f", max(height, 0)))\" fill=\"\(fill)\">\(title)</rect>")
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.8, dots: Bool = false) {
        guard !points.isEmpty else { return }
        let text = points.map { "\(Self.number($0.0)),\(Self.number($0.1))" }.joined(separator: " ")
        add("<polyline points=\"\(text)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\"/>")
        if dots || points.count == 1 {
            for (x, y) in points { add("<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"2.5\" fill=\"\(stroke)\"/>") }
        }
    }

    /// The title above the plot and the axis labels (units in the label text).
    mutating func frame(title: String, xLabel: String, yLabel: String, rightLabel: String? = nil) {
        text(title, x: width / 2, y: 18, size: 13, weight: "600")
        text(xLabel, x: (plotLeft + plotRight) / 2, y: height - 8)
        text(yLabel, x: 14, y: (plotTop + plotBottom) / 2, rotate: -90)
        if let rightLabel { text(rightLabel, x: width - 10, y: (plotTop + plotBottom) / 2, rotate: 90) }
        line(plotLeft, plotBottom, plotRight, plotBottom, stroke: "#444")
        line(plotLeft, plotTop, plotLeft, plotBottom, stroke: "#444")
    }

    /// Ticks and light grid lines of a vertical axis on the left (or right) edge.
    mutating func yAxis(_ scale: SVGScale, onRight: Bool = false, grid: Bool = true, color: String = "#444") {
        for tick in scale.ticks() {
            let y = scale(tick)
            if grid && !onRight { line(plotLeft, y, plotRight, y, stroke: "#e6e6e6") }
            let x = onRight ? plotRight : plotLeft
            line(x, y, x + (onRight ? 4 : -4), y, stroke: color)
            text(SVGScale.label(tick), x: x + (onRight ? 7 : -7), y: y + 4, anchor: onRight ? "start" : "end", size: 10, fill: color)
        }
        if onRight { line(plotRight, plotTop, plotRight, plotBottom, stroke: color) }
    }

    /// Ticks of a numeric horizontal axis (whole numbers only for counts such as epochs).
    mutating func xAxis(_ scale: SVGScale, integers: Bool = true) {
        for tick in scale.ticks(8, integers: integers) {
            let x = scale(tick)
            line(x, plotBottom, x, plotBottom + 4, stroke: "#444")
            text(SVGScale.label(tick), x: x, y: plotBottom + 16, size: 10)
        }
    }

    /// A legend row at the top right of the plot area.
    mutating func legend(_ entries: [(name: String, color: String)]) {
        // Rows right-aligned in the plot area, in order; an entry that would run past its left edge
        // starts the next row below (one long row used to be clipped at the figure's left).
        let widths = entries.map { Double($0.name.count) * 6.2 + 22 }
        let room = plotRight - 8 - plotLeft
        var rows: [[Int]] = [[]], used = 0.0
        for (index, width) in widths.enumerated() {
            if !rows[rows.count - 1].isEmpty && used + width > room { rows.append([]); used = 0 }
            rows[rows.count - 1].append(index)
            used += width
        }
        for (row, members) in rows.enumerated() {
            var x = plotRight - 8 - members.reduce(0) { $0 + widths[$1] }
            let y = plotTop + 4 + Double(row) * 14
            for index in members {
                rect(x: x, y: y, width: 12, height: 10, fill: entries[index].color)
                text(entries[index].name, x: x + 16, y: y + 9, anchor: "start", size: 10)
                x += widths[index]
            }
        }
    }

    /// The finished `<svg>` element, sized by its viewBox so it scales with the page.
    var svg: String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" role=\"img\" font-family=\"system-ui, sans-serif\">\n\(body)</svg>"
    }
}
