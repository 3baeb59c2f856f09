import ArgumentParser
import Engine
import Datasets
import Foundation

/// `sbcl-bench loader [--batch 128] [--size 32] [--channels 3] [--steps 20] [--threads 2]
/// [--fashion-mnist] [--fashion-mnist-root DIR] [--json]`: augmented views per second of the first-stage loader (two
/// contrastive views per image), on synthetic 8-bit images or on the real Fashion-MNIST.
struct LoaderBenchOptions: ParsableArguments {
    @Option(help: "Images per batch.", transform: BenchValue.positive("--batch"))
    var batch = 128
    @Option(help: "Image height and width (synthetic images).", transform: BenchValue.positive("--size"))
    var size = 32
    @Option(help: "Image channels (synthetic images).", transform: BenchValue.positive("--channels"))
    var channels = 3
    @Option(help: "Timed batches.", transform: BenchValue.positive("--steps"))
    var steps = 20
    @Option(help: "Loader threads.", transform: BenchValue.positive("--threads"))
    var threads = 2
    @Flag(help: "One JSON line.")
    var json = false
    @Flag(name: .customLong("fashion-mnist"), help: "Real Fashion-MNIST images instead of synthetic ones.")
    var fashionMNIST = false
    @Option(name: .customLong("fashion-mnist-root"), help: ArgumentHelp("The Fashion-MNIST folder (implies --fashion-mnist).", valueName: "dir"))
    var fashionMNISTRoot: String?
}

func runLoaderBench(_ options: LoaderBenchOptions) throws {
    let (batch, size, steps, threads, json) = (options.batch, options.size, options.steps, options.threads, options.json)
    var channels = options.channels
    let fashionRoot = options.fashionMNISTRoot ?? (options.fashionMNIST ? IDXReader.defaultFashionMNISTRoot : nil)
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
