import Foundation
import XCTest
import PipelineDSL
@testable import Reporting

/// `sbcl-run compare` and the comparison page: the differences against the first run, the four
/// formats, and runs that differ outside the compared keys flagged.
final class ComparisonTests: TemporaryFolderTestCase {

    func runs(extraDifference: Bool) throws -> [RunRecord] {
        let a = try RunFolderFixture(in: root, name: "0-rank", overrides: ["stages.loss.variant=rank"])
        let b = try RunFolderFixture(in: root, name: "1-supcon", parameters: ["stages.loss.variant": .string("supcon")],
                                     overrides: ["stages.loss.variant=supcon"], top1: 55.5)
        let c = try RunFolderFixture(in: root, name: "2-other", parameters: ["stages.loss.variant": .string("ccl")],
                                     overrides: ["stages.loss.variant=ccl"], encoderEpochs: extraDifference ? 8 : 6, top1: 58)
        return [a, b, c].map { RunRecord(directory: $0.directory) }
    }

    func testSweepLikeRunsAreNotFlagged() throws {
        let comparison = RunComparison(try runs(extraDifference: false))
        XCTAssertEqual(comparison.keys, ["stages.loss.variant"])
        XCTAssertFalse(comparison.hasFlags)
        let text = comparison.text
        XCTAssertTrue(text.contains("stages.loss.variant=supcon"), text)
        XCTAssertTrue(text.contains("55.50"), text)
        XCTAssertFalse(text.contains("warning"), text)
    }

    func testRunsDifferingOutsideTheComparisonAreFlagged() throws {
        let comparison = RunComparison(try runs(extraDifference: true))
        XCTAssertTrue(comparison.hasFlags)
        XCTAssertEqual(comparison.rows[2].flagged, ["stages.encoder.epochs"])
        XCTAssertEqual(comparison.warnings, ["2-other differs from 0-rank in keys outside the comparison: stages.encoder.epochs"])
        XCTAssertTrue(comparison.text.contains("warning: 2-other differs"))
        XCTAssertTrue(comparison.markdown.contains("> **warning:**"))
        let csv = comparison.csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "run,overrides,top1,top5,many,medium,few,seconds,status,flagged")
        XCTAssertTrue(csv[3].hasSuffix(",complete (flagged),stages.encoder.epochs"), csv[3])
        XCTAssertTrue(csv[3].contains("stages.encoder.epochs=8 stages.loss.variant=ccl"), csv[3])
        let json = comparison.json.mapValue!["runs"]!.listValue!
        XCTAssertEqual(json[2].mapValue!["flagged"], .list([.string("stages.encoder.epochs")]))
        XCTAssertEqual(json[1].mapValue!["metrics"]!.mapValue!["top1"], .float(55.5))
        let html = ComparisonPage.html(comparison)
        XCTAssertTrue(html.contains("Not like for like"))
        XCTAssertTrue(html.contains("<tr class=\"flag\">"))
    }

    func testMarkdownTable() throws {
        let lines = RunComparison(try runs(extraDifference: false)).markdown.split(separator: "\n")
        XCTAssertEqual(lines[0], "| run | overrides | top1 | top5 | many | medium | few | seconds | status |")
        XCTAssertEqual(lines[1], "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        XCTAssertTrue(lines[2].hasPrefix("| 0-rank | stages.loss.variant=rank | 61.25 | 97.50 | 83.50 | 47.75 | 21.00 |"), String(lines[2]))
    }

    func testComparisonPageHasGroupedBarsAndOverlaidCurves() throws {
        let html = ComparisonPage.html(RunComparison(try runs(extraDifference: false)))
        XCTAssertTrue(html.contains("Many / medium / few-shot and top-1 accuracy per run"))
        XCTAssertTrue(html.contains("First-stage loss per epoch"))
        XCTAssertEqual(html.components(separatedBy: "<polyline").count - 1, 3 * 3, "three runs × three curves")
        XCTAssertFalse(html.contains("<script"))
    }
}
