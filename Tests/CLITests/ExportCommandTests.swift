import Foundation
import XCTest
import Datasets
import ModelExport

/// `sbcl-run export` as a user runs it: a trained run becomes one ONNX graph (opset 17, a free
/// batch dimension, every node's inputs defined) and one safetensors file that `predict --weights`
/// reads back to the run's own logits. ONNX Runtime's figures come from
/// scripts/goldens/check_onnx_export.py (docs/using-a-trained-model.md), not from CI.
final class ExportCommandTests: XCTestCase {
    var cli: CLIHarness!
    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private var smokeRecipe: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("recipes/smoke.yaml").path
    }

    func testExportsOneGraphAndAModelFileThatPredictsLikeTheRun() throws {
        let trained = try cli.run([smokeRecipe, "stages.encoder.epochs=1", "stages.clusters.warmup_epochs=0", "stages.classifier.epochs=3",
                                   "stages.classifier.milestones=[1,2]", "-q"], testStages: false)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let runs = cli.folder.appendingPathComponent("runs")
        let run = runs.appendingPathComponent(try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: runs.path).first { $0.hasPrefix("smoke") }))

        let onnx = cli.folder.appendingPathComponent("model.onnx"), weights = cli.folder.appendingPathComponent("model.safetensors")
        let exported = try cli.run(["export", run.path, "--onnx", onnx.path, "--safetensors", weights.path], testStages: false)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssert(exported.stdout.contains("ONNX opset 17") && exported.stdout.contains("tensors with PyTorch's names"), exported.stdout)

        let model = try Onnx_ModelProto(serializedBytes: Data(contentsOf: onnx))
        XCTAssertEqual(model.opsetImport.map(\.version), [17])
        let input = try XCTUnwrap(model.graph.input.first)
        XCTAssertEqual(input.name, "input")
        let dims = input.type.tensorType.shape.dim
        XCTAssertEqual(dims.count, 4)
        XCTAssertEqual(dims[0].dimParam, "batch")
        XCTAssertEqual(dims[1].dimValue, 1, "Fashion-MNIST is gray")
        XCTAssertEqual(model.graph.output.map(\.name), ["logits"])
        XCTAssertEqual(model.graph.output[0].type.tensorType.shape.dim.last?.dimValue, 10)
        var defined = Set(model.graph.initializer.map(\.name) + ["input"])
        for node in model.graph.node {
            for name in node.input where !name.isEmpty { XCTAssert(defined.contains(name), "\(node.opType) reads \(name) before it is made") }
            defined.formUnion(node.output)
        }
        XCTAssert(defined.contains("logits"))
        XCTAssert(model.graph.initializer.contains { $0.name == "encoder.layer3.2.conv2.weight" }, "initializers keep PyTorch's names")
        XCTAssertEqual(model.metadataProps.first { $0.key == "image_size" }?.value, String(dims[2].dimValue))

        // predict --weights on the exported file gives the run's own logits.
        let test = try IDXReader.readSplit(root: IDXReader.defaultFashionMNISTRoot, train: false, classNames: IDXReader.fashionMNISTClasses)
        let images = cli.folder.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for k in 0..<20 {
            let png = try test.withImage(at: k) { p, h, w, c in PNGEncoder.encode(DecodedImage(height: h, width: w, channels: c, pixels: Array(p))) }
            try Data(png).write(to: images.appendingPathComponent(String(format: "%02d.png", k)))
        }
        func logits(_ arguments: [String]) throws -> [[Double]] {
            let r = try cli.run(["predict"] + arguments + [images.path, "--json", "--logits"], testStages: false)
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap(json["predictions"] as? [[String: Any]]).map { try XCTUnwrap($0["logits"] as? [Double]) }
        }
        let fromRun = try logits([run.path]), fromFile = try logits(["--weights", weights.path])
        XCTAssertEqual(fromRun.count, 20)
        XCTAssertEqual(fromFile, fromRun)

        let help = try cli.run(["export", "--help"], testStages: false)
        XCTAssertEqual(help.status, 0, help.stderr)
        XCTAssert(help.stdout.contains("--onnx"), help.stdout)
        let usage = try cli.run(["export", run.path], testStages: false)
        XCTAssertEqual(usage.status, 2)
        XCTAssert(usage.stderr.contains("--onnx"), usage.stderr)
    }
}
