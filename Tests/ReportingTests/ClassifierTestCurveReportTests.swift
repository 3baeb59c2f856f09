import Foundation
import XCTest
import PipelineDSL
@testable import Reporting

/// The run report's classifier test curve (`test_curve: true`): drawn with the best epoch marked and
/// a line saying the reported figure is the last epoch's; absent when the epochs hold no test top-1.
final class ClassifierTestCurveReportTests: TemporaryFolderTestCase {

    func testTheCurveShowsTheBestEpochBesideTheReportedLastOne() throws {
        let fixture = try RunFolderFixture(in: root, name: "curve", top1: 61.25)
        // The classifier's epochs again, now with a test top-1 each (the later line of an epoch wins):
        // rising to 64.50 at epoch 22, then falling to 61.25 at epoch 30.
        let curve = (1...30).map { epoch -> EpochRecord in
            let top1 = epoch <= 22 ? 40 + Double(epoch) * 24.5 / 22 : 64.5 - Double(epoch - 22) * 3.25 / 8
            return EpochRecord(stage: "classifier", event: "epoch", epoch: epoch, time: 0, values: [
                "loss": .float(3 / Double(epoch)), "train_accuracy": .float(50), "lr": .float(0.1), "test_top1": .float(top1)])
        }
        let handle = try FileHandle(forWritingTo: fixture.directory.appendingPathComponent("metrics.jsonl"))
        try handle.seekToEnd()
        handle.write(Data(curve.map { $0.jsonLine + "\n" }.joined().utf8))
        try handle.close()

        let html = RunReportPage.html(RunRecord(directory: fixture.directory))
        XCTAssertTrue(html.contains("Classifier test top-1 per epoch"))
        XCTAssertTrue(html.contains("best: epoch 22, 64.50 %"), "the best epoch is marked on the chart")
        XCTAssertTrue(html.contains("Reported top-1: the last epoch&#39;s (epoch 30, 61.25 %)")
                      || html.contains("Reported top-1: the last epoch's (epoch 30, 61.25 %)"), "the reported figure is the last epoch's")
        XCTAssertTrue(html.contains("(epoch 22, 64.50 %)"))
        XCTAssertTrue(html.contains("Best Prec@1"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 11, "one more figure than a run without the curve")

        let plain = RunReportPage.html(RunRecord(directory: try RunFolderFixture(in: root, name: "plain").directory))
        XCTAssertFalse(plain.contains("Classifier test top-1 per epoch"))
        XCTAssertFalse(plain.contains("Best Prec@1"))
        XCTAssertEqual(plain.components(separatedBy: "<svg").count - 1, 10)
    }
}
