import Foundation
import XCTest
import Engine
import Datasets
import TestSupport
@testable import Stages

/// The pieces behind `predict` and `export`: an exported model reads back to the same logits, the
/// authors' linear-stage checkpoint is a model too, inputs are gathered from files, folders and
/// split files, and an encoder starts from a PyTorch checkpoint.
final class PredictModelTests: XCTestCase {
    private func cifarModel(form: ClassifierHead.Form) -> PredictionModel {
        let model = SupConResNet(depth: 20, inputChannels: 1, seed: 7)
        let artifact = EncoderArtifact(depth: 20, inputChannels: 1, projectionDimension: 128, mean: [0.286], std: [0.353], imageSize: 28)
        let head = ClassifierHead(form: form, featureCount: 64, classCount: 4, seed: 3)
        return PredictionModel(encoder: .cifar(model), encoderArtifact: artifact, head: head, classNames: ["a", "b", "c", "d"], source: "test")
    }

    private func logits(_ model: PredictionModel, _ nhwc: Tensor) -> [Float] {
        withoutGradients { model.head.logits(model.encoder.features(nhwc)) }.scalars
    }

    func testAnExportedModelReadsBackToTheSameLogitsAndNames() throws {
        let folder = try temporaryFolder(self)
        let images = Tensor((0..<(2 * 28 * 28)).map { Float($0 % 17) / 8 - 1 }, shape: [2, 28, 28, 1])
        for form in [ClassifierHead.Form.cosine, .linear] {
            let model = cifarModel(form: form)
            let url = folder.appendingPathComponent("model-\(form).safetensors")
            try model.writeSafeTensors(to: url)
            let names = try SafeTensors.read(contentsOf: url).names
            XCTAssert(names.contains("encoder.conv1.weight") && names.contains("head.2.weight"), "\(names.prefix(4))")
            XCTAssert(names.contains(form == .cosine ? "classifier.weight" : "classifier.fc.bias"), "\(names.suffix(3))")
            let back = try PredictionModel.fromExport(url)
            XCTAssertEqual(back.classNames, ["a", "b", "c", "d"])
            XCTAssertEqual(back.encoderArtifact, model.encoderArtifact)
            XCTAssertEqual(back.head.form, form)
            XCTAssertEqual(logits(back, images), logits(model, images))
        }
    }

    func testTheAuthorsLinearCheckpointIsAModelWithImageNetViews() throws {
        let folder = try temporaryFolder(self)
        let resnet = ResNetImageNet(.resnet18, classCount: 6, seed: 2)
        let url = folder.appendingPathComponent("liner_checkpoint.pth.tar")
        let state = TorchObject.dict(resnet.stateArrays().map { (.string("module." + $0.name), .tensor($0.array)) })
        try TorchCheckpoint.write(.dict([(.string("epoch"), .int(90)), (.string("state_dict"), state), (.string("best_acc1"), .tensor(HostArray(floats: [41.5], shape: [])))]), to: url)
        let model = try PredictionModel.fromExport(url)
        XCTAssertEqual(model.encoderArtifact.architecture, "resnet18")
        XCTAssertEqual(model.encoderArtifact.imageSize, 224)
        XCTAssertEqual(model.head.form, .linear)
        XCTAssertEqual(model.classNames.count, 6)
        XCTAssertEqual(model.viewSteps.first, .resize(size: 256))
        let images = Tensor((0..<(1 * 64 * 64 * 3)).map { Float($0 % 13) / 6 - 1 }, shape: [1, 64, 64, 3])
        let expected = withoutGradients { resnet(images, training: false) }.scalars
        XCTAssertEqual(logits(model, images), expected)
    }

    func testInputsComeFromFilesFoldersAndSplitFilesAndBadOnesAreNamed() throws {
        let folder = try temporaryFolder(self)
        let png = PNGEncoder.encode(DecodedImage(height: 5, width: 7, channels: 3, pixels: (0..<105).map { UInt8($0 * 2) }))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("tree/deeper"), withIntermediateDirectories: true)
        for path in ["tree/b.png", "tree/deeper/a.png", "one.png"] { try Data(png).write(to: folder.appendingPathComponent(path)) }
        try Data("tree/b.png 2\none.png\n".utf8).write(to: folder.appendingPathComponent("split.txt"))

        var inputs = PredictionInputs(channels: 1, classCount: 3)
        try inputs.add(folder.appendingPathComponent("tree").path)
        try inputs.add(folder.appendingPathComponent("split.txt").path)
        XCTAssertEqual(inputs.files.paths.map { $0.replacingOccurrences(of: folder.path + "/", with: "") },
                       ["tree/b.png", "tree/deeper/a.png", "tree/b.png", "one.png"])
        XCTAssertEqual(inputs.labelled, [false, false, true, false])
        XCTAssertEqual(inputs.labels[2], 2)
        // Delivered with the encoder's one channel: PIL's luma of the RGB pixels.
        try inputs.withImage(at: 0) { pixels, h, w, c in
            XCTAssertEqual([h, w, c], [5, 7, 1])
            XCTAssertEqual(pixels[1], UInt8((Int(6) * 19595 + Int(8) * 38470 + Int(10) * 7471 + 0x8000) >> 16))
        }

        try Data("one.png 3\n".utf8).write(to: folder.appendingPathComponent("bad.txt"))
        XCTAssertThrowsError(try inputs.add(folder.appendingPathComponent("bad.txt").path)) { error in
            XCTAssert("\(error)".contains("bad.txt:1") && "\(error)".contains("0..<3"), "\(error)")
        }
        XCTAssertThrowsError(try inputs.add(folder.appendingPathComponent("missing.jpg").path)) { error in
            XCTAssert("\(error)".contains("missing.jpg") && "\(error)".contains("no such file"), "\(error)")
        }
        try Data("x".utf8).write(to: folder.appendingPathComponent("notes.md"))
        XCTAssertThrowsError(try inputs.add(folder.appendingPathComponent("notes.md").path)) { error in
            XCTAssert("\(error)".contains("notes.md") && "\(error)".contains("not an image"), "\(error)")
        }
    }

    func testProbabilitiesAreTheSoftmaxOfTheScaledLogitsWithTiesInIndexOrder() throws {
        var inputs = PredictionInputs(channels: 1, classCount: 3)
        let folder = try temporaryFolder(self)
        try Data(PNGEncoder.encode(DecodedImage(height: 2, width: 2, channels: 1, pixels: [0, 1, 2, 3]))).write(to: folder.appendingPathComponent("a.png"))
        try inputs.add(folder.appendingPathComponent("a.png").path)
        try inputs.add(folder.appendingPathComponent("a.png").path)
        let report = PredictionReport(logits: [0.5, -0.5, 0.5, 0.1, 0.2, 0.3], inputs: inputs, classNames: ["x", "y", "z"], top: 2,
                                      source: "test", logitScale: 30)
        XCTAssertEqual(report.items[0].top.map(\.index), [0, 2], "a tie keeps the lower class first")
        let expected = 1 / (2 + exp(-30.0))
        XCTAssertEqual(report.items[0].top[0].probability, expected, accuracy: 1e-12)
        XCTAssertEqual(report.items[1].top.map(\.index), [2, 1])
        XCTAssertEqual(report.summary.map(\.predicted), [1, 0, 1])
        XCTAssertNil(report.accuracy)
    }

    func testAMoCoEncoderStartsFromTheAuthorsCheckpointOrAReleasedBackbone() throws {
        let folder = try temporaryFolder(self)
        let trained = MoCo(.resnet18, queueSize: 8, seed: 11)
        let checkpoint = folder.appendingPathComponent("checkpoint_0199.pth.tar")
        // moco/main.py: {'epoch', 'arch', 'state_dict': module.encoder_q.*, module.encoder_k.*, module.queue*}.
        let state = TorchObject.dict(trained.checkpointArrays().map { (.string("module." + $0.name), .tensor($0.array)) })
        try TorchCheckpoint.write(.dict([(.string("epoch"), .int(200)), (.string("arch"), .string("resnet18")), (.string("state_dict"), state)]), to: checkpoint)
        let fresh = MoCo(.resnet18, queueSize: 8, seed: 12)
        let said = try EncoderInitialWeights.load(checkpoint, into: fresh)
        XCTAssert(said.contains("both MoCo encoders"), said)
        XCTAssertEqual(fresh.stateArrays().map(\.array), trained.stateArrays().map(\.array))

        // A released backbone (what linear_classify.py keeps): both encoders get it, heads stay.
        let backbone = folder.appendingPathComponent("resnet18.pth")
        let released = ResNetImageNet(.resnet18, classCount: 5, seed: 13)
        try TorchCheckpoint.write(stateDict: released.stateArrays(), to: backbone)
        let other = MoCo(.resnet18, queueSize: 8, seed: 14)
        let heads = other.stateArrays().filter { $0.name.contains(".fc.") }
        try EncoderInitialWeights.load(backbone, into: other)
        let loaded = Dictionary(uniqueKeysWithValues: other.stateArrays().map { ($0.name, $0.array) })
        for (name, array) in released.backboneArrays() {
            XCTAssertEqual(loaded["encoder_q." + name], array, name)
            XCTAssertEqual(loaded["encoder_k." + name], array, name)
        }
        for (name, array) in heads { XCTAssertEqual(loaded[name], array, "\(name) keeps its initial value") }

        let cifar = folder.appendingPathComponent("cifar.pth")
        try TorchCheckpoint.write(stateDict: SupConResNet(depth: 20, inputChannels: 3, seed: 1).stateArrays(), to: cifar)
        XCTAssertThrowsError(try EncoderInitialWeights.load(cifar, into: other)) { error in
            XCTAssert("\(error)".contains("cifar.pth: cannot start from these weights") && "\(error)".contains("neither a MoCo state dict"), "\(error)")
        }
    }

    func testAnEncoderStartsFromTheAuthorsSimCLRCheckpoint() throws {
        let folder = try temporaryFolder(self)
        let source = SupConResNet(depth: 20, inputChannels: 1, seed: 99)
        let url = folder.appendingPathComponent("last.pth")
        try TorchCheckpoint.write(stateDict: source.stateArrays().map { ("module." + $0.name, $0.array) }, to: url)
        let model = SupConResNet(depth: 20, inputChannels: 1, seed: 3)
        let said = try EncoderInitialWeights.load(url, into: model)
        XCTAssert(said.contains("'module.' prefix removed"), said)
        XCTAssertEqual(model.stateArrays().map(\.array), source.stateArrays().map(\.array))
        XCTAssertEqual(try EncoderInitialWeights.digest(of: url).count, 64)

        let other = SupConResNet(depth: 32, inputChannels: 1, seed: 1)
        let wrong = folder.appendingPathComponent("resnet32.pth")
        try TorchCheckpoint.write(stateDict: other.stateArrays(), to: wrong)
        XCTAssertThrowsError(try EncoderInitialWeights.load(wrong, into: model)) { error in
            XCTAssert("\(error)".contains("resnet32.pth: cannot start from these weights"), "\(error)")
        }
        XCTAssertEqual(model.stateArrays().map(\.array), source.stateArrays().map(\.array), "a refused file changes nothing")
    }
}
