import Foundation
import PipelineDSL
import XCTest

final class ProgressTests: XCTestCase {
    func testPlainProgressLinesGoToTheLog() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appendingPathComponent("log.txt")
        let log = RunLog(fileURL: url, echo: false, isTerminal: false)
        let progress = ProgressReporter(stage: "encoder", log: log)
        progress.plainInterval = 3600
        for step in 1...100 {
            progress.update(step: step, total: 100, message: "loss 1.5")
            Thread.sleep(forTimeInterval: 0.001)
        }
        log.write("[encoder] finished")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1)[1] }
        XCTAssertEqual(lines.count, 12, "a line at the first step, every 10 % after it, the last step, and the log line: \(lines)")
        XCTAssertEqual(lines.first, "encoder: step 1/100  loss 1.5")
        let last = String(lines[10])
        XCTAssertTrue(last.hasPrefix("encoder: step 100/100  ") && last.contains(" steps/s  ETA 0:00  loss 1.5"), last)
        XCTAssertEqual(lines.last, "[encoder] finished")
    }
}
