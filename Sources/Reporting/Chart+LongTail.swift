import Foundation

extension Chart {
    /// The long-tail figure: per-class test accuracy as bars over the classes sorted by training
    /// count (largest first), the count as a line on a log axis at the right.
    static func longTail(accuracy: [Double], counts: [Int], names: [String], width: Double = 1100, height: Double = 340) -> String {
        var canvas = SVGCanvas(width: width, height: height)
        canvas.right = 64
        canvas.bottom = names.count <= 40 ? 92 : 48
        canvas.frame(title: "Per-class test accuracy against training images per class",
                     xLabel: names.count <= 40 ? "" : "classes, sorted by training images (largest first)",
                     yLabel: "test accuracy (%)", rightLabel: "training images (log scale)")
        let order = ClassOrder.byCount(counts)
        let y = SVGScale(lower: 0, upper: 100, start: canvas.plotBottom, end: canvas.plotTop + 22)
        let counted = SVGScale(covering: counts.map(Double.init), to: canvas.plotBottom, canvas.plotTop + 22, logarithmic: true)
        canvas.yAxis(y)
        canvas.yAxis(counted, onRight: true, grid: false, color: "#b0413e")
        let step = (canvas.plotRight - canvas.plotLeft) / Double(max(order.count, 1))
        let labelEvery = ClassOrder.labelStride(order.count)
        var line: [(Double, Double)] = []
        for (rank, c) in order.enumerated() {
            let x = canvas.plotLeft + Double(rank) * step
            let value = c < accuracy.count ? accuracy[c] : 0
            canvas.rect(x: x + step * 0.1, y: y(value), width: step * 0.8, height: canvas.plotBottom - y(value), fill: "#4c78a8",
                        tooltip: "\(names[c]): \(String(format: "%.1f", value))% accuracy, \(counts[c]) training images")
            line.append((x + step / 2, counted(Double(max(counts[c], 1)))))
            if order.count <= 40 {
                canvas.text(names[c], x: x + step / 2, y: canvas.plotBottom + 10, anchor: "end", size: 10, rotate: -40)
            } else if rank % labelEvery == 0 {
                canvas.line(x + step / 2, canvas.plotBottom, x + step / 2, canvas.plotBottom + 4, stroke: "#444")
                canvas.text(names[c], x: x + step / 2, y: canvas.plotBottom + 16, size: 9)
            }
        }
        canvas.polyline(line, stroke: "#b0413e", width: 1.6, dots: order.count <= 40)
        canvas.legend([(name: "accuracy", color: "#4c78a8"), (name: "training images", color: "#b0413e")])
        return canvas.svg
    }
}

/// How the figures order and label classes.
enum ClassOrder {
    /// Class indices by training count, largest first (ties by index).
    static func byCount(_ counts: [Int]) -> [Int] {
        counts.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
    }

    /// Label every n-th class so about 25 labels show.
    static func labelStride(_ count: Int) -> Int { max(1, Int((Double(count) / 25).rounded(.up))) }
}
