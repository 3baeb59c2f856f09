import Foundation
import XCTest
import Datasets
import Stages

/// `sbcl-run predict` as a user runs it: a trained smoke run classifies the Fashion-MNIST test
/// images, written as PNG files, exactly as the run's own evaluation did; bad inputs give one line
/// naming the file.
final class PredictCommandTests: XCTestCase {
    var cli: CLIHarness!
    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private var smokeRecipe: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("recipes/smoke.yaml").path
    }

    /// Trains the smoke recipe and returns its run folder and metrics.
    private func trainSmoke() throws -> (run: URL, metrics: [String: Any]) {
        let r = try cli.run([smokeRecipe, "-q"], testStages: false)
        XCTAssertEqual(r.status, 0, r.stderr)
        let runs = cli.folder.appendingPathComponent("runs")
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: runs.path).first { $0.hasPrefix("smoke") })
        let run = runs.appendingPathComponent(name)
        let metrics = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("metrics.json"))) as? [String: Any])
        return (run, metrics)
    }

    /// The smoke recipe's test split (the first 100 test images of each class) as PNG files in
    /// `folder/images/<label>/<k>.png`, and a split file listing them with their labels.
    private func writeTestImages() throws -> (split: URL, folder: URL, count: Int) {
        let test = try IDXReader.readSplit(root: IDXReader.defaultFashionMNISTRoot, train: false, classNames: IDXReader.fashionMNISTClasses)
        let kept = test.subset(DatasetStage.firstPerClass(labels: test.labels, limit: 100))
        let images = cli.folder.appendingPathComponent("images")
        var lines = ""
        for k in 0..<kept.count {
            let label = Int(kept.labels[k])
            let relative = "images/\(label)/\(k).png"
            try FileManager.default.createDirectory(at: images.appendingPathComponent("\(label)"), withIntermediateDirectories: true)
            let png = try kept.withImage(at: k) { pixels, h, w, c in PNGEncoder.encode(DecodedImage(height: h, width: w, channels: c, pixels: Array(pixels))) }
            try Data(png).write(to: cli.folder.appendingPathComponent(relative))
            lines += "\(relative) \(label)\n"
        }
        return (try cli.write("test.txt", lines), images, kept.count)
    }

    func testPredictingTheTestImagesGivesTheRunsOwnAccuracy() throws {
        let (run, metrics) = try trainSmoke()
        let top1 = try XCTUnwrap(metrics["top1"] as? Double)
        let (split, folder, count) = try writeTestImages()
        XCTAssertEqual(count, 1000)

        let json = cli.folder.appendingPathComponent("predictions.json")
        let r = try cli.run(["predict", run.path, split.path, "--top", "3", "--json", "-o", json.path], testStages: false)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stderr.contains("predict: 1000/1000 images"), "progress on standard error: \(r.stderr)")
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        XCTAssertEqual(report["images"] as? Int, 1000)
        let predicted = try XCTUnwrap(report["top1"] as? Double)
        XCTAssertEqual(predicted, top1, accuracy: 1e-9, "predict's accuracy on the run's test images must be the evaluation's")
        let items = try XCTUnwrap(report["predictions"] as? [[String: Any]])
        let first = try XCTUnwrap(items.first?["top"] as? [[String: Any]])
        XCTAssertEqual(first.count, 3)
        let names = try XCTUnwrap(metrics["class_names"] as? [String])
        XCTAssert(names.contains(first[0]["class"] as? String ?? ""), "\(first)")
        let probabilities = first.compactMap { $0["probability"] as? Double }
        XCTAssertEqual(probabilities, probabilities.sorted(by: >))
        // The cosine classifier's logits are cosines: its probabilities are softmax(s · logits) with
        // the LDAM scale s = 30 it was trained with, not a near-uniform softmax of cosines.
        let topProbabilities = items.compactMap { ($0["top"] as? [[String: Any]])?.first?["probability"] as? Double }
        XCTAssertEqual(topProbabilities.count, 1000)
        XCTAssertGreaterThan(topProbabilities.reduce(0, +) / 1000, 0.3)
        let summary = try XCTUnwrap(report["summary"] as? [[String: Any]])
        XCTAssertEqual(summary.compactMap { $0["predicted"] as? Int }.reduce(0, +), 1000)
        XCTAssertEqual(summary.compactMap { $0["labelled"] as? Int }, [Int](repeating: 100, count: 10))

        // A folder (recursively), as text: one line per image, then the per-class table.
        let text = try cli.run(["predict", run.path, folder.appendingPathComponent("3").path, "--top", "1"], testStages: false)
        XCTAssertEqual(text.status, 0, text.stderr)
        let lines = text.stdout.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.contains(".png  ") }.count, 100)
        XCTAssert(text.stdout.contains("class") && text.stdout.contains("predicted") && text.stdout.contains(names[3]), text.stdout)

        // CSV with the same predictions as the JSON.
        let csv = try cli.run(["predict", run.path, split.path, "--csv", "--top", "2"], testStages: false)
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let rows = csv.stdout.split(separator: "\n")
        XCTAssertEqual(rows.first, "path,label,class_1,probability_1,class_2,probability_2")
        XCTAssertEqual(rows.count, 1001)

        // Bad inputs: one sentence naming the file, exit 1; bad usage exit 2.
        let broken = try cli.write("broken.png", "not an image")
        let bad = try cli.run(["predict", run.path, broken.path], testStages: false)
        XCTAssertEqual(bad.status, 1)
        XCTAssert(bad.stderr.contains("broken.png") && bad.stderr.split(separator: "\n").count == 1, bad.stderr)
        let missing = try cli.run(["predict", run.path, cli.folder.appendingPathComponent("nowhere.jpg").path], testStages: false)
        XCTAssertEqual(missing.status, 1)
        XCTAssert(missing.stderr.contains("nowhere.jpg") && missing.stderr.contains("no such file"), missing.stderr)
        let usage = try cli.run(["predict", run.path, split.path, "--top", "0"], testStages: false)
        XCTAssertEqual(usage.status, 2, usage.stderr)
        XCTAssert(usage.stderr.contains("--top"), usage.stderr)
        let help = try cli.run(["predict", "--help"], testStages: false)
        XCTAssertEqual(help.status, 0, help.stderr)
        XCTAssert(help.stdout.contains("--top") && help.stdout.contains("split files"), help.stdout)
        let notARun = try cli.run(["predict", cli.folder.path, split.path], testStages: false)
        XCTAssertEqual(notARun.status, 1)
        XCTAssert(notARun.stderr.contains("is not a run folder"), notARun.stderr)
    }
}
