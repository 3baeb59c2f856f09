import Foundation

extension Chart {
    /// The confusion matrix as a heat map of row-normalised rates (each row: how one true class's
    /// test images were predicted), classes sorted by training count; above 120 classes, blocks of
    /// neighbouring classes are averaged so the figure stays readable and small.
    static func confusion(_ matrix: [[Int]], counts: [Int], names: [String], size: Double = 620) -> String {
        let order = ClassOrder.byCount(counts)
        let blockSize = max(1, Int((Double(order.count) / 120).rounded(.up)))
        let blocks = stride(from: 0, to: order.count, by: blockSize).map { Array(order[$0..<min(order.count, $0 + blockSize)]) }
        var canvas = SVGCanvas(width: size + 90, height: size + 60)
        canvas.left = 110; canvas.bottom = 96; canvas.right = 60; canvas.top = 34
        canvas.width = canvas.left + size * 0.82 + canvas.right
        canvas.height = canvas.top + size * 0.82 + canvas.bottom
        let side = size * 0.82, cell = side / Double(max(blocks.count, 1))
        canvas.text("Confusion matrix (rows: true class, columns: predicted; share of the row's test images)", x: canvas.width / 2, y: 18,
                    size: 13, weight: "600")
        canvas.text("predicted class (sorted by training images)", x: canvas.plotLeft + side / 2, y: canvas.height - 8)
        canvas.text("true class", x: 14, y: canvas.plotTop + side / 2, rotate: -90)
        let labelEvery = ClassOrder.labelStride(blocks.count)
        func name(_ block: [Int]) -> String { block.count == 1 ? names[block[0]] : "\(names[block[0]])…" }
        for (r, rows) in blocks.enumerated() {
            let total = rows.reduce(0) { $0 + matrix[$1].reduce(0, +) }
            for (k, columns) in blocks.enumerated() {
                let hits = rows.reduce(0) { sum, row in sum + columns.reduce(0) { $0 + matrix[row][$1] } }
                guard hits > 0, total > 0 else { continue }
                let share = Double(hits) / Double(total)
                canvas.rect(x: canvas.plotLeft + Double(k) * cell, y: canvas.plotTop + Double(r) * cell, width: cell + 0.05, height: cell + 0.05,
                            fill: color(share), tooltip: "true \(name(rows)) → predicted \(name(columns)): \(String(format: "%.1f", 100 * share))% (\(hits))")
                if blocks.count <= 12 {
                    canvas.text(String(format: "%.0f", 100 * share), x: canvas.plotLeft + (Double(k) + 0.5) * cell,
                                y: canvas.plotTop + (Double(r) + 0.5) * cell + 4, size: 10, fill: share > 0.5 ? "#fff" : "#222")
                }
            }
            if r % labelEvery == 0 {
                canvas.text(name(rows), x: canvas.plotLeft - 4, y: canvas.plotTop + (Double(r) + 0.5) * cell + 3, anchor: "end", size: 9)
                canvas.text(name(rows), x: canvas.plotLeft + (Double(r) + 0.5) * cell, y: canvas.plotTop + side + 6, anchor: "end",
                            size: 9, rotate: -50)
            }
        }
        canvas.add("<rect x=\"\(SVGCanvas.number(canvas.plotLeft))\" y=\"\(SVGCanvas.number(canvas.plotTop))\" width=\"\(SVGCanvas.number(side))\" height=\"\(SVGCanvas.number(side))\" fill=\"none\" stroke=\"#444\"/>")
        // The colour key: 0 … 100 % of the row.
        let keyX = canvas.plotLeft + side + 14
        for i in 0..<20 {
            canvas.rect(x: keyX, y: canvas.plotTop + side - Double(i + 1) * side / 20, width: 12, height: side / 20 + 0.5, fill: color(Double(i) / 19))
        }
        canvas.text("100%", x: keyX + 16, y: canvas.plotTop + 8, anchor: "start", size: 9)
        canvas.text("0%", x: keyX + 16, y: canvas.plotTop + side, anchor: "start", size: 9)
        return canvas.svg
    }

    /// White → dark blue; a square root so small confusions still show.
    static func color(_ share: Double) -> String {
        let t = sqrt(min(max(share, 0), 1))
        let (r, g, b) = (255 - t * (255 - 8), 255 - t * (255 - 48), 255 - t * (255 - 107))
        return String(format: "#%02x%02x%02x", Int(r), Int(g), Int(b))
    }
}
