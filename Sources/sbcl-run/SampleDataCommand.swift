import Foundation
import Datasets
import PipelineDSL

/// `sbcl-run sample-data imagenet_lt|image_folder DIR [--fashion-mnist ROOT]`: writes a small
/// long-tailed tree of real Fashion-MNIST images as JPEG and PNG files of several sizes (some
/// gray) in the layout the data set kind reads — to try the ImageNet-LT recipes without ImageNet
/// (`recipes/imagenet_lt_smoke.yaml` reads `data/imagenet_lt_sample`).
enum SampleDataCommand {
    static func run(_ arguments: [String]) throws -> Int32 {
        var positional: [String] = [], fashionMNIST = IDXReader.defaultFashionMNISTRoot
        var i = 0
        while i < arguments.count {
            if arguments[i] == "--fashion-mnist" {
                guard i + 1 < arguments.count else { throw UsageError("sample-data: --fashion-mnist needs a folder") }
                fashionMNIST = arguments[i + 1]
                i += 2
            } else {
                positional.append(arguments[i])
                i += 1
            }
        }
        guard positional.count == 2, ["imagenet_lt", "image_folder"].contains(positional[0]) else {
            throw UsageError("sample-data: expected 'sbcl-run sample-data imagenet_lt|image_folder DIR'")
        }
        let root = positional[1]
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: root), !existing.isEmpty {
            throw UsageError("sample-data: \(root) exists and is not empty; give a new folder")
        }
        if positional[0] == "imagenet_lt" {
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
