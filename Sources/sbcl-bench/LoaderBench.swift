import Engine
import Datasets
import Foundation

/// `sbcl-bench loader [--batch 128] [--size 32] [--channels 3] [--steps 20] [--threads 2]
/// [--fashion-mnist [ROOT]] [--json]`: augmented views per second of the first-stage loader (two
/// contrastive views per image), on synthetic 8-bit images or on the real Fashion-MNIST.
func runLoaderBench(_ arguments: [String]) throws {
    var batch = 128, size = 32, channels = 3, steps = 20, threads = 2
    var json = false
    var fashionRoot: String?
    var k = 0
    func value(_ name: String) throws -> Int {
        k += 1
        guard k < arguments.count, let v = Int(arguments[k]), v > 0 else {
            throw DatasetError(.badParameter, path: "", "\(name) needs a positive integer")
        }
        return v
    }
    while k < arguments.count {
        switch arguments[k] {
        case "--batch": batch = try value("--batch")
        case "--size": size = try value("--size")
        case "--channels": channels = try value("--channels")
        case "--steps": steps = try value("--steps")
        case "--threads": threads = try value("--threads")
        case "--json": json = true
        case "--fashion-mnist":
            fashionRoot = IDXReader.defaultFashionMNISTRoot
            if k + 1 < arguments.count, !arguments[k + 1].hasPrefix("--") { k += 1; fashionRoot = arguments[k] }
        default:
            throw DatasetError(.badParameter, path: "", "unknown option \(arguments[k]); options: --batch --size --channels --steps --threads --fashion-mnist [ROOT] --json")
        }
        k += 1
    }
    let source: ImageSet
    if let fashionRoot {
        source = try IDXReader.readSplit(root: fashionRoot, train: true, classNames: IDXReader.fashionMNISTClasses)
        channels = 1
    } else {
        var random = AugmentationRandom(keys: [2023])
        let count = 2048
        source = ImageSet(height: size, width: size, channels: channels,
                          pixels: (0..<(count * size * size * channels)).map { _ in UInt8(truncatingIfNeeded: random.next()) },
                          labels: (0..<count).map { Int32($0 % 10) }, classNames: (0..<10).map { "class \($0)" })
    }
    let mean = [Double](repeating: 0.5, count: channels), std = [Double](repeating: 0.25, count: channels)
    let pipeline = try AugmentationPipeline(steps: AugmentationStep.contrastiveViews(size: size, mean: mean, std: std), views: 2)
    let sampler = Sampler(kind: .instance, labels: source.labels, classCount: source.classCount, seed: 0)
    let loader = try BatchLoader(source: source, pipeline: pipeline, sampler: sampler, batchSize: batch, dropLast: true,
                                 seed: 0, threads: threads)
    _ = try loader.next() // warm-up: first epoch order, buffers, the prefetch thread
    let start = DispatchTime.now().uptimeNanoseconds
    var views = 0
    for _ in 0..<steps { views += try loader.next().shape[0] }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let rate = Double(views) / seconds
    if json {
        print("{\"bench\":\"loader\",\"kernel_set\":\"\(BenchMachine.kernelSet)\",\"cpu\":\(JSONText.quoted(BenchMachine.cpu)),\"views_per_s\":\(String(format: "%.1f", rate)),\"batch\":\(batch),\"size\":\(size),\"channels\":\(channels),\"threads\":\(threads),\"steps\":\(steps),\"source\":\"\(fashionRoot == nil ? "synthetic" : "fashion_mnist")\"}")
    } else {
        print(String(format: "loader: %.1f augmented views/s (batch %d × 2 views, %d×%d×%d, %d threads, %d steps; ",
                     rate, batch, size, size, channels, threads, steps) + BenchMachine.summary + ")")
    }
}
