import Foundation
import XCTest
@testable import PipelineDSL

/// Epoch records: a stage's `recordEpoch` reaches the run's `metrics.jsonl` and the observer, is
/// kept in the cached artifact and replayed when the stage is cached; `run.json` says how each
/// stage was satisfied, also when one fails.
final class EpochRecordTests: XCTestCase {
    final class Seen: RunObserver, @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func recorded(_ record: EpochRecord, runDirectory: URL) { lock.lock(); items.append("\(record.stage) \(record.epoch)"); lock.unlock() }
        func runFinished(runDirectory: URL, failure: String?) { lock.lock(); items.append("finished \(failure ?? "ok")"); lock.unlock() }
        var lines: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }

    func testRecordsReachTheRunFolderAndAreReplayedFromTheCache() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var registry = testRegistry()
        registry.register(StageKind(name: "trainer", version: 1, summary: "records three epochs",
                                    parameters: [.int("epochs", default: 3, doc: "epochs")]) { context in
            for epoch in 1...context.int("epochs") {
                context.recordEpoch(epoch, values: ["loss": .float(1 / Double(epoch)), "bad": .float(.nan)])
            }
            context.recordEpoch(2, event: "recluster", values: ["subclasses": .list([.int(3), .int(1)])])
        })
        let text = "name: r\nstages:\n  t: {kind: trainer}\n  f: {kind: test_fail}\n"
        let cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
        func run(_ overrides: [String]) throws -> (URL, [String]) {
            let registry = registry
            let seen = Seen()
            let plan = try Planner.plan(Planner.recipe(text: text, file: "r.yaml", overrides: overrides.map(Override.parse), registry: registry),
                                        registry: registry)
            let runs = folder.url.appendingPathComponent("runs/\(UUID().uuidString)")
            let options = ExecutorOptions(runsDirectory: runs, runDirectory: runs, threads: 1, echo: false, overrides: overrides, observer: seen)
            XCTAssertThrowsError(try Executor(registry: registry, cache: cache, options: options).run(plan))
            return (runs, seen.lines)
        }
        let (first, seenFirst) = try run(["stages.f.message=boom"])
        XCTAssertEqual(seenFirst.first, "t 1")
        XCTAssertEqual(seenFirst.count, 5)
        XCTAssertTrue(seenFirst.last!.hasPrefix("finished stage 'f' (test_fail) failed"), seenFirst.last!)
        let lines = try String(contentsOf: first.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let records = EpochRecord.parseLines(lines)
        XCTAssertEqual(records.map(\.epoch), [1, 2, 3, 2])
        XCTAssertEqual(records[1].number("loss"), 0.5)
        XCTAssertNil(records[0].values["bad"], "NaN is left out")
        XCTAssertEqual(records[3].values["subclasses"], .list([.int(3), .int(1)]))
        let info = try XCTUnwrap(ParamValue.parseJSON(String(contentsOf: first.appendingPathComponent("run.json"), encoding: .utf8))?.mapValue)
        XCTAssertEqual(info["status"], .string("failed"))
        XCTAssertEqual(info["overrides"], .list([.string("stages.f.message=boom")]))
        XCTAssertEqual(info["parameters"]?.mapValue?["stages.t.epochs"], .int(3))
        XCTAssertEqual(info["stages"]?.listValue?.compactMap { $0.mapValue?["outcome"]?.stringValue }, ["ran", "failed"])

        // The trainer is cached now: its epochs come back from its artifact.
        let (second, seenSecond) = try run([])
        XCTAssertEqual(seenSecond.prefix(4), ["t 1", "t 2", "t 3", "t 2"])
        let replayed = EpochRecord.parseLines(try String(contentsOf: second.appendingPathComponent("metrics.jsonl"), encoding: .utf8))
        XCTAssertEqual(replayed, records)
        let outcomes = try XCTUnwrap(ParamValue.parseJSON(String(contentsOf: second.appendingPathComponent("run.json"), encoding: .utf8))?
            .mapValue?["stages"]?.listValue?.compactMap { $0.mapValue?["outcome"]?.stringValue })
        XCTAssertEqual(outcomes, ["cached", "failed"])
    }

    /// A repeated epoch (redone after a resume) keeps its last line, in the first one's place.
    func testParseLinesKeepsTheLastOfARepeatedEpoch() {
        let lines = [EpochRecord(stage: "e", event: "epoch", epoch: 1, time: 1, values: ["loss": .float(3)]),
                     EpochRecord(stage: "e", event: "epoch", epoch: 2, time: 2, values: ["loss": .float(2)]),
                     EpochRecord(stage: "e", event: "epoch", epoch: 2, time: 3, values: ["loss": .float(1.5)])]
        let parsed = EpochRecord.parseLines(lines.map(\.jsonLine).joined(separator: "\n") + "\nnot json\n")
        XCTAssertEqual(parsed.map(\.epoch), [1, 2])
        XCTAssertEqual(parsed[1].number("loss"), 1.5)
        XCTAssertEqual(EpochRecord(jsonLine: lines[0].jsonLine), lines[0])
    }
}
