import ArgumentParser
import Datasets
import Foundation
import PipelineDSL

/// `sbcl-run sample-data imagenet_lt|image_folder DIR [--fashion-mnist ROOT]`: writes a small
/// long-tailed tree of real Fashion-MNIST images as JPEG and PNG files of several sizes (some
/// gray) in the layout the data set kind reads — to try the ImageNet-LT recipes without ImageNet
/// (`recipes/imagenet_lt_smoke.yaml` reads `data/imagenet_lt_sample`).
struct SampleDataCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-data", abstract: "Write a small long-tailed tree of real images (JPEG/PNG) in a data set's layout.")

    @Argument(help: ArgumentHelp("imagenet_lt or image_folder.", valueName: "layout"))
    var layout: String?

    @Argument(help: ArgumentHelp("A new (or empty) folder.", valueName: "dir"))
    var root: String?

    @Option(name: .customLong("fashion-mnist"), help: ArgumentHelp("The Fashion-MNIST folder the images come from.", valueName: "dir"))
    var fashionMNIST = IDXReader.defaultFashionMNISTRoot

    func run(_ configuration: Configuration) throws -> Int32 {
        guard let layout, let root, ["imagenet_lt", "image_folder"].contains(layout) else {
            throw UsageError("sample-data: expected 'sbcl-run sample-data imagenet_lt|image_folder DIR'")
        }
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: root), !existing.isEmpty {
            throw UsageError("sample-data: \(root) exists and is not empty; give a new folder")
        }
        if layout == "imagenet_lt" {
            let splits = try SampleImageTree.writeImageNetLT(to: root, fashionMNIST: fashionMNIST)
            CLI.output("wrote \(splits.trainCounts.reduce(0, +)) training images (\(splits.trainCounts.map(String.init).joined(separator: ", ")) per class) "
                       + "and their test images under \(root); split files \(splits.train) and \(splits.test)\n")
        } else {
            let folders = try SampleImageTree.writeImageFolder(to: root, fashionMNIST: fashionMNIST)
            CLI.output("wrote an image_folder tree: training images in \(folders.train), test images in \(folders.test)\n")
        }
        return ExitStatus.success
    }
}
