import XCTest
import PipelineDSL
@testable import Stages

/// The evaluation measures on a hand-made case whose every number is counted by hand.
final class EvaluationTests: XCTestCase {
    /// Four classes with 150, 100, 20 and 19 training images: many = {0}, medium = {1, 2}, few = {3}.
    /// Six test images; logits chosen so the predictions are 0, 0, 1, 2, 1, 3 and the true classes
    /// 0, 1, 1, 2, 3, 3.
    func testHandMadeCase() {
        let rows: [[Float]] = [
            [9, 1, 0, 5],  // true 0 → 0
            [3, 2, 1, 0],  // true 1 → 0, class 1 second: in top-5 (all 4 are)
            [0, 4, 1, 2],  // true 1 → 1
            [1, 0, 7, 3],  // true 2 → 2
            [2, 8, 1, 5],  // true 3 → 1
            [0, 1, 2, 6],  // true 3 → 3
        ]
        let labels: [Int32] = [0, 1, 1, 2, 3, 3]
        let m = EvaluationMetrics(logits: rows.flatMap { $0 }, labels: labels, classCounts: [150, 100, 20, 19])
        XCTAssertEqual(m.top1, 100 * 4 / 6, accuracy: 1e-9)
        XCTAssertEqual(m.top5, 100)  // top-min(5, 4): every class
        XCTAssertEqual(m.confusion, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 1]])
        XCTAssertEqual(m.perClass, [100, 50, 100, 50])
        XCTAssertEqual(m.testCounts, [1, 2, 1, 2])
        XCTAssertEqual(m.many, 100)
        XCTAssertEqual(m.medium, 75)  // 100 and 20 training images are both medium (20–100 inclusive)
        XCTAssertEqual(m.few, 50)
        let metrics = m.runMetrics
        XCTAssertEqual(metrics["top1"], .float(100 * 4 / 6))
        XCTAssertEqual(metrics["class_counts"], .list([.int(150), .int(100), .int(20), .int(19)]))
        XCTAssertEqual(metrics["confusion"]?.listValue?[3], .list([.int(0), .int(1), .int(0), .int(1)]))
        XCTAssertEqual(Set(metrics.keys), ["top1", "top5", "many", "medium", "few", "per_class", "class_counts", "test_counts", "confusion"])
    }

    /// Top-5 with more than five classes, ties broken towards the lower index like argmax, and an
    /// empty shot group left out of the metrics.
    func testTopFiveTiesAndEmptyGroups() {
        // 7 classes; the true class 6 ranks 6th (five strictly higher), class 3 ties class 6 and
        // wins by its lower index, so the second row's true class ranks 5th.
        let rows: [[Float]] = [
            [7, 6, 5, 4, 3, 2, 1],  // true 6: sixth → not in top 5
            [7, 6, 5, 1, 0, 0, 1],  // true 6: three higher, tied with class 3 (lower index ahead) → fifth
        ]
        let m = EvaluationMetrics(logits: rows.flatMap { $0 }, labels: [6, 6], classCounts: [500, 400, 300, 200, 150, 120, 101])
        XCTAssertEqual(m.top1, 0)
        XCTAssertEqual(m.top5, 50)
        XCTAssertEqual(m.many, 0)  // only class 6 has test images, and it is many-shot
        XCTAssertNil(m.medium)
        XCTAssertNil(m.few)
        XCTAssertNil(m.runMetrics["medium"])
        XCTAssertNil(m.runMetrics["few"])
    }
}
