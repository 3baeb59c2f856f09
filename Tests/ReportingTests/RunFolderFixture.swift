import Foundation
import PipelineDSL
import XCTest

/// A test case with a fresh temporary folder `root`, removed afterwards.
class TemporaryFolderTestCase: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-reporting-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: root) }
}

/// Writes a synthetic run folder the way the executor does (run.json, metrics.json,
/// metrics.jsonl, recipe.yaml), so reports can be tested without training anything.
struct RunFolderFixture {
    let directory: URL

    /// A run over `classes` classes with counts 500 … 5 (a long tail), named `name`.
    init(in root: URL, name: String, classes: Int = 10, parameters: [String: ParamValue] = [:], overrides: [String] = [],
         evaluated: Bool = true, encoderEpochs: Int = 6, top1: Double = 61.25) throws {
        directory = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let counts = (0..<classes).map { Int(500 * pow(0.01, Double($0) / Double(max(classes - 1, 1)))) }
        var keys: [String: ParamValue] = ["name": .string("fixture"), "stages.loss.variant": .string("rank"), "stages.encoder.epochs": .int(encoderEpochs)]
        keys.merge(parameters) { $1 }
        let outcome = evaluated ? "ran" : "pending"
        let stages: [ParamValue] = [("data", "dataset", "cached"), ("encoder", "encoder", "ran"), ("classifier", "classifier", evaluated ? "ran" : "failed"),
                                    ("evaluation", "evaluation", outcome)].map { name, kind, outcome in
            var map: [String: ParamValue] = ["name": .string(name), "kind": .string(kind), "hash": .string(String(repeating: "ab", count: 32)),
                                             "outcome": .string(outcome), "seconds": .float(outcome == "pending" ? 0 : 2.5), "compute_seconds": .float(7)]
            if outcome == "failed" { map["failure"] = .string("stage 'classifier' (classifier) failed: killed") }
            return .map(map)
        }
        var info: [String: ParamValue] = ["recipe": .string("fixture"), "overrides": .list(overrides.map(ParamValue.string)),
                                          "parameters": .map(keys), "status": .string(evaluated ? "complete" : "failed"), "stages": .list(stages)]
        if !evaluated { info["failure"] = .string("stage 'classifier' (classifier) failed: killed") }
        try write("run.json", ParamValue.map(info).prettyJSON())
        try write("recipe.yaml", "name: fixture\nstages:\n  loss: {kind: contrastive_loss, variant: \(keys["stages.loss.variant"]!.stringValue ?? "?")}\n")
        var lines: [EpochRecord] = []
        for epoch in 1...encoderEpochs {
            if epoch >= 2, epoch % 2 == 0 {
                lines.append(EpochRecord(stage: "encoder", event: "recluster", epoch: epoch, time: 0, values: [
                    "subclasses": .list(counts.map { .int(max(1, $0 / max(counts.min()!, 10))) }),
                    "temperatures": .list((0..<classes).map { .float(0.08 + 0.004 * Double(($0 * 7 + epoch) % 10)) }),
                    "total_subclasses": .int(counts.map { max(1, $0 / 10) }.reduce(0, +))]))
            }
            lines.append(EpochRecord(stage: "encoder", event: "epoch", epoch: epoch, time: 0, values: [
                "loss": .float(9 - Double(epoch) * 0.5), "lr": .float(0.5 * (1 - Double(epoch) / Double(encoderEpochs + 1))),
                "images_per_s": .float(120), "seconds": .float(30), "phase": .string(epoch < 2 ? "supcon_warmup" : "main")]))
        }
        if evaluated {
            for epoch in 1...30 {
                lines.append(EpochRecord(stage: "classifier", event: "epoch", epoch: epoch, time: 0, values: [
                    "loss": .float(3 / Double(epoch)), "train_accuracy": .float(min(99, 40 + Double(epoch) * 2)), "lr": .float(0.1)]))
            }
        }
        try write("metrics.jsonl", lines.map { $0.jsonLine + "\n" }.joined())
        guard evaluated else { return }
        let accuracy = (0..<classes).map { 90 - 60 * Double($0) / Double(max(classes - 1, 1)) }
        let confusion = (0..<classes).map { row in (0..<classes).map { column in column == row ? 60 : (column == (row + 1) % classes ? 40 : 0) } }
        try write("metrics.json", ParamValue.map([
            "top1": .float(top1), "top5": .float(97.5), "many": .float(83.5), "medium": .float(47.75), "few": .float(21.0),
            "per_class": .list(accuracy.map { .float($0) }), "class_counts": .list(counts.map { .int($0) }),
            "confusion": .list(confusion.map { .list($0.map { .int($0) }) }),
            "class_names": .list((0..<classes).map { .string("name\($0)") }),
        ]).prettyJSON())
    }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name))
    }
}
