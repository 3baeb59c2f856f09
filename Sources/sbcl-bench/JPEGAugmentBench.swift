import ArgumentParser
import Datasets
import Engine
import Foundation

/// `sbcl-bench jpeg-augment [--images 64] [--batch 64] [--size 224] [--steps 6] [--threads 2]
/// [--full-decode] [--fashion-mnist ROOT] [--json]`: images per second of JPEG decoding + MoCo v2
/// augmentation (two views per image) through the real loader (`ImageFileList` +
/// `BatchLoader`, decoding on its worker threads, next batch prefetched), on 500 × 375
/// quality-90 JPEGs written first from real Fashion-MNIST items (a colourised mosaic of 28 × 28
/// items, ImageNet's typical size). `--full-decode` turns DCT-reduced decoding off.
struct JPEGAugmentBenchOptions: ParsableArguments {
    @Option(help: "JPEG files written and read.", transform: BenchValue.positive("--images"))
    var images = 64
    @Option(help: "Images per batch.", transform: BenchValue.positive("--batch"))
    var batch = 64
    @Option(help: "Crop size.", transform: BenchValue.positive("--size"))
    var size = 224
    @Option(help: "Timed batches.", transform: BenchValue.positive("--steps"))
    var steps = 6
    @Option(help: "Loader threads.", transform: BenchValue.positive("--threads"))
    var threads = 2
    @Flag(name: .customLong("full-decode"), help: "Turn DCT-reduced decoding off.")
    var fullDecode = false
    @Flag(help: "One JSON line.")
    var json = false
    @Option(name: .customLong("fashion-mnist"), help: ArgumentHelp("The Fashion-MNIST folder the images come from.", valueName: "dir"))
    var fashionRoot = IDXReader.defaultFashionMNISTRoot
}

func runJPEGAugmentBench(_ options: JPEGAugmentBenchOptions) throws {
    let (images, batch, size, steps, threads) = (options.images, options.batch, options.size, options.steps, options.threads)
    let (json, fullDecode, fashionRoot) = (options.json, options.fullDecode, options.fashionRoot)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-jpeg-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let items = try IDXReader.readSplit(root: fashionRoot, train: true, classNames: IDXReader.fashionMNISTClasses)
    var paths: [String] = [], bytes = 0
    for n in 0..<images {
        let jpeg = try JPEGDecoder.encode(mosaic(items, first: n * 240), quality: 90)
        bytes += jpeg.count
        let path = folder + "/\(n).jpg"
        FileManager.default.createFile(atPath: path, contents: Data(jpeg))
        paths.append(path)
    }
    var list = ImageFileList(paths: paths, labels: paths.indices.map { Int32($0 % 10) }, classNames: (0..<10).map { "c\($0)" },
                             origins: paths.indices.map { "bench:\($0 + 1)" })
    list.dctScaling = !fullDecode
    let pipeline = try AugmentationPipeline(steps: AugmentationStep.mocoV2Views(size: size), views: 2)
    let sampler = Sampler(kind: .instance, labels: list.labels, classCount: 10, seed: 0)
    let loader = try BatchLoader(source: list, pipeline: pipeline, sampler: sampler, batchSize: min(batch, images), dropLast: true,
                                 seed: 0, threads: threads)
    _ = try loader.next() // warm-up: buffers, the prefetch thread
    let start = DispatchTime.now().uptimeNanoseconds
    var done = 0
    for _ in 0..<steps { done += try loader.next().batchSize }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let rate = Double(done) / seconds
    if json {
        print("{\"bench\":\"jpeg_augment\",\"cpu\":\(JSONText.quoted(BenchMachine.cpu)),\"images_per_s\":\(String(format: "%.1f", rate)),\"views_per_image\":2,\"size\":\(size),\"threads\":\(threads),\"batch\":\(min(batch, images)),\"steps\":\(steps),\"dct_scaling\":\(!fullDecode),\"mean_jpeg_bytes\":\(bytes / images)}")
    } else {
        print(String(format: "jpeg-augment: %.1f images/s (= %.1f views/s) decoding 500×375 q90 JPEGs (mean %d bytes) + MoCo v2 at %d×%d, %d threads, batch %d, %d steps, DCT scaling %@; ",
                     rate, 2 * rate, bytes / images, size, size, threads, min(batch, images), steps, fullDecode ? "off" : "on") + BenchMachine.summary)
    }
}

/// A 375 × 500 RGB photo: an 18 × 14 mosaic of Fashion-MNIST items from `first` on (cropped),
/// each tinted by its class.
private func mosaic(_ items: ImageSet, first: Int) -> DecodedImage {
    let h = 375, w = 500
    var pixels = [UInt8](repeating: 0, count: h * w * 3)
    for y in 0..<h {
        for x in 0..<w {
            let item = (first + (y / 28) * 18 + x / 28) % items.count
            let v = Double(items.pixels[item * items.imageSize + (y % 28) * 28 + x % 28])
            let c = Double(items.labels[item])
            let tint = [0.35 + 0.06 * c, 0.9 - 0.05 * c, 0.55 + 0.03 * c], base = [0.15 + 0.01 * Double(x) / 10, 0.3, 0.5 - 0.0005 * Double(y)]
            for ch in 0..<3 { pixels[(y * w + x) * 3 + ch] = UInt8(max(0, min(255, (v * tint[ch] + (255 - v) * base[ch]).rounded()))) }
        }
    }
    return DecodedImage(height: h, width: w, channels: 3, pixels: pixels)
}
