import Foundation
import XCTest
@testable import Reporting

/// The report's figures take any finite value (1e38, ±1.8e308) and say when a value is not
/// finite, instead of trapping or drawing NaN coordinates.
final class PlotValueTests: XCTestCase {
    private func assertDrawable(_ svg: String, file: StaticString = #filePath, line: UInt = #line) {
        // A coordinate or size that is not a number: in an attribute, or in a polyline's points.
        for pattern in ["=\"-?(nan|inf)", "(nan|inf),[0-9-]", "[0-9],-?(nan|inf)"] {
            XCTAssertNil(svg.range(of: pattern, options: .regularExpression), "the SVG matches \(pattern)", file: file, line: line)
        }
    }

    func testHugeFiniteLossesAreDrawn() {
        let cases: [[Double]] = [[2.5, 1e38, 3], [1e300, -1e300], [-Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude],
                                 [1e20, 1e20 + 16384], [Double.leastNonzeroMagnitude, 1]]
        for values in cases {
            let points: [(x: Double, y: Double)] = values.enumerated().map { (x: Double($0.offset + 1), y: $0.element) }
            let series = [Chart.Series(name: "loss", points: points, color: "#000")]
            for logY in [false, true] {
                let svg = Chart.lines(title: "loss", xLabel: "epoch", yLabel: "loss", series: series, logY: logY)
                assertDrawable(svg)
                XCTAssertFalse(svg.contains("not finite"), "\(values)")
            }
        }
    }

    func testNonFiniteValuesAreLeftOutAndNamed() {
        let points: [(x: Double, y: Double)] = [(1, 2.5), (2, .nan), (3, .infinity), (4, 1.5), (.nan, 3)]
        let svg = Chart.lines(title: "loss", xLabel: "epoch", yLabel: "loss", series: [Chart.Series(name: "loss", points: points, color: "#000")],
                              markers: [.nan, 2])
        assertDrawable(svg)
        XCTAssertTrue(svg.contains("3 values not finite (inf, nan) at epoch 2, 3, not drawn"), svg)
        let empty = Chart.lines(title: "loss", xLabel: "epoch", yLabel: "loss",
                                series: [Chart.Series(name: "loss", points: [(1, .nan)], color: "#000")])
        assertDrawable(empty)
        XCTAssertTrue(empty.contains("1 value not finite (nan) at epoch 1, not drawn"), empty)
    }

    func testBarsNameANonFiniteValue() {
        let svg = Chart.groupedBars(title: "acc", yLabel: "%", groups: ["many", "few"],
                                    series: [Chart.BarSeries(name: "run", values: [.nan, 1e38], color: "#000")])
        assertDrawable(svg)
        XCTAssertTrue(svg.contains(">nan</text>"), svg)
    }

    func testScaleTicksAndLabelsEndForAnyFiniteSpan() {
        let started = Date()
        for (low, high) in [(1e20, 1e20 + 16384), (0, 1e38), (-1e300, 1e300), (5e-324, 1e-300), (1e15, 1e15 + 1)] {
            let scale = SVGScale(covering: [low, high], to: 0, 100)
            let ticks = scale.ticks()
            XCTAssertLessThanOrEqual(ticks.count, 100, "\(low)…\(high)")
            for tick in ticks { XCTAssertFalse(SVGScale.label(tick).isEmpty) }
            XCTAssertTrue(scale(high).isFinite && scale(low).isFinite)
        }
        for value in [1e38, -1e38, 9.3e18, Double.greatestFiniteMagnitude, .nan, .infinity, -.infinity] {
            XCTAssertFalse(SVGScale.label(value).isEmpty, "\(value)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testAReportWithAHugeLossAndANaNRenders() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let lines = (1...4).map { epoch in
            "{\"epoch\":\(epoch),\"event\":\"epoch\",\"loss\":\(epoch == 2 ? "1e38" : "\(Double(epoch))"),\"lr\":0.1,\"stage\":\"encoder\",\"time\":1.0}"
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.appendingPathComponent("metrics.jsonl"))
        try Data("""
            {"recipe": "r", "status": "complete", "stages": [{"name": "encoder", "kind": "encoder", "hash": "x", "outcome": "ran", "seconds": 1.0}]}
            """.utf8).write(to: folder.appendingPathComponent("run.json"))
        let html = RunReportPage.html(RunRecord(directory: folder))
        XCTAssertTrue(html.contains("Contrastive loss per epoch"))
        assertDrawable(html)
    }

    /// A legend wider than the plot wraps into rows inside it: every entry drawn, none left of the
    /// plot area (one right-aligned row used to push the first entries off the figure).
    func testALongLegendWrapsInsideThePlot() throws {
        var canvas = SVGCanvas(width: 420, height: 300)
        let names = (0..<5).flatMap { seed in ["\(seed),rank", "\(seed),supcon"] }
        canvas.legend(names.enumerated().map { (name: $1, color: SVGCanvas.palette[$0 % SVGCanvas.palette.count]) })
        let svg = canvas.svg
        for name in names { XCTAssertTrue(svg.contains(">\(name)</text>"), "legend entry \(name) missing") }
        let xs = svg.components(separatedBy: " x=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        XCTAssertEqual(xs.count, 2 * names.count)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(xs.min()), canvas.plotLeft, "an entry starts left of the plot area")
        XCTAssertLessThanOrEqual(try XCTUnwrap(xs.max()), canvas.plotRight)
        let ys = Set(svg.components(separatedBy: "<rect").dropFirst().compactMap { $0.components(separatedBy: " y=\"").dropFirst().first.flatMap { Double($0.prefix { $0 != "\"" }) } })
        XCTAssertGreaterThan(ys.count, 1, "ten entries do not fit one row of a 420-wide figure")
    }
}
