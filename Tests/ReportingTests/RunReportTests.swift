import Foundation
import XCTest
@testable import Reporting

/// The per-run `report.html`: self-contained, every figure present, key numbers as text, and a
/// failed run rendered for what it has.
final class RunReportTests: TemporaryFolderTestCase {

    func testCompleteRunShowsEveryFigureAndTheNumbers() throws {
        let fixture = try RunFolderFixture(in: root, name: "run-a", classes: 10)
        let html = RunReportPage.html(RunRecord(directory: fixture.directory))
        for title in ["Per-class test accuracy against training images per class", "Shot groups and overall accuracy", "Confusion matrix",
                      "Contrastive loss per epoch", "Learning rate per epoch", "Subclasses per class at each re-clustering",
                      "Class temperatures at each re-clustering", "Classifier loss per epoch", "Classifier training accuracy per epoch",
                      "Resolved recipe", "training images (log scale)", "test accuracy (%)"] {
            XCTAssertTrue(html.contains(HTMLEscaped(title)), "missing: \(title)")
        }
        for number in ["61.25", "97.50", "83.50", "47.75", "21.00"] { XCTAssertTrue(html.contains(">\(number)<"), number) }
        XCTAssertTrue(html.contains(">name0<"), "class names label the long-tail figure")
        XCTAssertFalse(html.contains("Incomplete run"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 10)
        XCTAssertTrue(html.contains("from cache"), "the cached data stage says so")
        assertSelfContained(html)
    }

    /// 120 classes: the confusion matrix keeps one row per class but labels about 25 of them.
    func testHundredsOfClassesAreLabelledSparsely() throws {
        let fixture = try RunFolderFixture(in: root, name: "many", classes: 120)
        let svg = Chart.confusion(RunRecord(directory: fixture.directory).metrics["confusion"]!.listValue!.map { $0.listValue!.map { $0.intValue! } },
                                  counts: (0..<120).map { 500 - $0 }, names: (0..<120).map { "c\($0)" })
        let labels = svg.components(separatedBy: "</text>").filter { $0.range(of: #">c\d+$"#, options: .regularExpression) != nil }
        XCTAssertLessThanOrEqual(labels.count, 2 * 30, "row and column labels, about 25 each")
        XCTAssertGreaterThanOrEqual(labels.count, 2 * 20)
        XCTAssertEqual(svg.components(separatedBy: "<rect").count - 1 - 21, 240, "one cell per non-zero entry, plus the frame and key")
        // 1000 classes are averaged into blocks: the figure stays small.
        let big = Chart.confusion((0..<1000).map { row in (0..<1000).map { $0 == row ? 5 : 0 } }, counts: Array(repeating: 50, count: 1000),
                                  names: (0..<1000).map { "c\($0)" })
        XCTAssertLessThan(big.utf8.count, 2_000_000)
    }

    func testFailedRunRendersWhatExistsAndSaysWhatIsMissing() throws {
        let fixture = try RunFolderFixture(in: root, name: "failed", evaluated: false)
        let html = RunReportPage.html(RunRecord(directory: fixture.directory))
        XCTAssertTrue(html.contains("Incomplete run"))
        XCTAssertTrue(html.contains("stage &#39;classifier&#39; (classifier) failed"), "names the failed stage")
        XCTAssertTrue(html.contains("not run: &#39;evaluation&#39;"))
        XCTAssertTrue(html.contains("no test metrics"))
        XCTAssertTrue(html.contains("Contrastive loss per epoch"), "the encoder's curves still show")
        XCTAssertTrue(html.contains("No test metrics: the evaluation did not run."))
        assertSelfContained(html)
    }

    /// A folder with nothing but a log still gives a page, listing the missing files.
    func testEmptyFolder() throws {
        let html = RunReportPage.html(RunRecord(directory: root))
        XCTAssertTrue(html.contains("run.json is missing"))
        XCTAssertTrue(html.contains("recipe.yaml is missing"))
    }

    func assertSelfContained(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(html.contains("<script"), file: file, line: line)
        XCTAssertFalse(html.contains("<link"), file: file, line: line)
        let external = html.components(separatedBy: "http").dropFirst().filter { !$0.hasPrefix("://www.w3.org/2000/svg") }
        XCTAssertEqual(external.count, 0, "no network references", file: file, line: line)
        XCTAssertFalse(html.contains("nan") || html.contains("inf\""), file: file, line: line)
    }

    func HTMLEscaped(_ text: String) -> String { HTML.escape(text) }
}
