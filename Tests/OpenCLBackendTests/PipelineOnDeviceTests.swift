import Engine
import Foundation
import OpenCLBackend
import PipelineDSL
import Stages
import TestSupport
import XCTest

/// The whole pipeline — data, imbalance, encoder training with re-clustering, the classifier on
/// the encoder's features, evaluation — with `device: opencl:cpu`, against the same recipe on
/// the CPU. A tiny version of `recipes/smoke.yaml`, so that PoCL on two cores runs it in about a
/// minute.
final class PipelineOnDeviceTests: XCTestCase {
    private let recipe = TinyRecipe.text(batchSize: 32)

    /// Runs the recipe on `device` in a fresh cache; returns the metrics and the run folder's
    /// encoder epoch losses and log.
    private func run(on device: String) throws -> (metrics: [String: ParamValue], losses: [Double], log: String) {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        let plan = try Planner.plan(try Planner.recipe(text: recipe, file: "tiny.yaml", registry: registry), registry: registry)
        let folder = try temporaryFolder(self).appendingPathComponent(device.replacingOccurrences(of: ":", with: "-"))
        let cache = try ArtifactCache(root: folder.appendingPathComponent("cache"))
        let options = ExecutorOptions(runsDirectory: folder.appendingPathComponent("runs"), device: device, threads: 2, echo: false)
        let summary = try Executor(registry: registry, cache: cache, options: options).run(plan)
        XCTAssertTrue(summary.outcomes.allSatisfy { $0.outcome == .ran }, "\(summary.outcomes)")
        let lines = try String(contentsOf: summary.runDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let losses = lines.split(separator: "\n").compactMap { line -> Double? in
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  json["stage"] as? String == "encoder", json["event"] as? String == "epoch" else { return nil }
            return json["loss"] as? Double
        }
        let log = try String(contentsOf: summary.runDirectory.appendingPathComponent("log.txt"), encoding: .utf8)
        return (summary.metrics, losses, log)
    }

    func testTheTinySmokeRecipeTrainsOnTheDeviceAsOnTheCPU() throws {
        #if DEBUG
        throw XCTSkip("trains a network: run with `swift test -c release -Xswiftc -enable-testing`")
        #else
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            throw XCTSkip("real Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
        }
        _ = try DeviceUnderTest.backend()
        OpenCLBackend.register()
        let cpu = try run(on: "cpu")
        let started = Date()
        let device = try run(on: "opencl:cpu")
        let seconds = Date().timeIntervalSince(started)
        XCTAssertTrue(device.log.contains("[encoder] on opencl (") && device.log.contains("[classifier] on opencl ("), device.log)
        XCTAssertEqual(device.losses.count, 2)
        // The first epoch is the same computation up to rounding; later ones follow re-clustering,
        // which amplifies rounding (so they are only expected to be close).
        XCTAssertEqual(device.losses[0], cpu.losses[0], accuracy: 1e-3 * abs(cpu.losses[0]), "epoch 1 loss")
        XCTAssertEqual(device.losses[1], cpu.losses[1], accuracy: 5e-2 * abs(cpu.losses[1]), "epoch 2 loss")
        let (top1, cpuTop1) = (device.metrics["top1"]?.doubleValue ?? -1, cpu.metrics["top1"]?.doubleValue ?? -1)
        // Two epochs on 140 images learn little; what matters here is that evaluation ran and wrote its metrics.
        XCTAssertTrue((0...100).contains(top1) && device.metrics["per_class"] != nil, "\(device.metrics.keys)")
        print(String(format: "tiny smoke on opencl:cpu: losses %@ vs %@, top-1 %.1f vs %.1f, %.1f s",
                     "\(device.losses)", "\(cpu.losses)", top1, cpuTop1, seconds))
        #endif
    }
}
