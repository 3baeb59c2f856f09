import Foundation

/// Small ImageNet-LT-layout and `image_folder` trees of real Fashion-MNIST images, written as
/// JPEG and PNG files of several sizes (some gray), for tests of the whole file-backed pipeline
/// and for trying the CLI without ImageNet.
public enum SampleImageTree {
    /// Where a written tree's split files lie.
    public struct Splits: Sendable, Equatable {
        /// The data root (split paths are relative to it).
        public var root: String
        /// `root/train.txt`: `train/<class>/<file> label` lines, long-tailed.
        public var train: String
        /// `root/test.txt`: balanced.
        public var test: String
        /// Training images per class, class 0 first.
        public var trainCounts: [Int]
    }

    /// The (height, width) sizes images cycle through (28 × 28 Fashion-MNIST upscaled bilinearly).
    public static let sizes = [(32, 40), (48, 64), (96, 96)]

    /// Writes `root/train/<class>/*`, `root/test/<class>/*`, `train.txt` and `test.txt`: `classes`
    /// classes of Fashion-MNIST (training images from the training file, test images from the
    /// test file), n_c = ⌊largest · (smallest / largest)^(c / (C − 1))⌋ training images of class c
    /// (60 … 6 by default) and `testPerClass` test images each. Every third image is a PNG, the
    /// rest quality-90 JPEGs; every fourth is gray (1 channel in the file); the others are
    /// colourised with a tint that cycles with the file (never with the class, so colour carries no label). Sizes cycle through `sizes`.
    ///
    /// - Throws: the `DatasetError` of reading Fashion-MNIST or `.io` for a file not written.
    @discardableResult
    public static func writeImageNetLT(to root: String, fashionMNIST: String = IDXReader.defaultFashionMNISTRoot, classes: Int = 10,
                                       largest: Int = 60, smallest: Int = 6, testPerClass: Int = 5) throws -> Splits {
        precondition(classes >= 1 && classes <= 10 && largest >= smallest && smallest >= 1, "SampleImageTree: bad counts")
        let counts = (0..<classes).map { c in
            classes == 1 ? largest : Int(Double(largest) * pow(Double(smallest) / Double(largest), Double(c) / Double(classes - 1)))
        }
        var lines: [String: [String]] = [:]
        for (split, perClass) in [("train", counts), ("test", [Int](repeating: testPerClass, count: classes))] {
            let set = try IDXReader.readSplit(root: fashionMNIST, train: split == "train", classNames: IDXReader.fashionMNISTClasses)
            var written = [Int](repeating: 0, count: classes), serial = 0
            for index in 0..<set.count {
                let c = Int(set.labels[index])
                guard c < classes, written[c] < perClass[c] else { continue }
                let folder = "\(split)/n\(String(format: "%08d", c))"
                try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
                let image = sample(set, index, serial: serial)
                let png = serial % 3 == 2
                let name = "\(folder)/\(split)_\(String(format: "%05d", serial)).\(png ? "png" : "JPEG")"
                let bytes = png ? PNGEncoder.encode(image) : try JPEGDecoder.encode(image, quality: 90)
                guard FileManager.default.createFile(atPath: root + "/" + name, contents: Data(bytes)) else {
                    throw DatasetError(.io, path: root + "/" + name, "cannot write the sample image")
                }
                lines[split, default: []].append("\(name) \(c)")
                written[c] += 1
                serial += 1
            }
        }
        let splits = Splits(root: root, train: root + "/train.txt", test: root + "/test.txt", trainCounts: counts)
        for (split, path) in [("train", splits.train), ("test", splits.test)] {
            try (lines[split, default: []].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        return splits
    }

    /// Writes the same images as an `image_folder` tree, `root/train/<class name>/*` and
    /// `root/test/<class name>/*` (class names `c0` … in sorted order), and returns the split roots.
    ///
    /// - Throws: as `writeImageNetLT`.
    @discardableResult
    public static func writeImageFolder(to root: String, fashionMNIST: String = IDXReader.defaultFashionMNISTRoot, classes: Int = 10,
                                        largest: Int = 60, smallest: Int = 6, testPerClass: Int = 5) throws -> (train: String, test: String) {
        let staging = root + "/.staging"
        let splits = try writeImageNetLT(to: staging, fashionMNIST: fashionMNIST, classes: classes, largest: largest,
                                         smallest: smallest, testPerClass: testPerClass)
        let fm = FileManager.default
        for split in ["train", "test"] {
            for c in 0..<classes {
                let from = "\(staging)/\(split)/n\(String(format: "%08d", c))", to = "\(root)/\(split)/c\(c)"
                try fm.createDirectory(atPath: "\(root)/\(split)", withIntermediateDirectories: true)
                try fm.moveItem(atPath: from, toPath: to)
            }
        }
        try fm.removeItem(atPath: staging)
        _ = splits
        return (root + "/train", root + "/test")
    }

    /// Image `index` upscaled bilinearly to the size of `serial`'s turn, gray every fourth image,
    /// else colourised: value v → v · tint + (255 − v) · background, per channel.
    static func sample(_ set: ImageSet, _ index: Int, serial: Int) -> DecodedImage {
        let (h, w) = sizes[serial % sizes.count]
        let source = Array(set.pixels[(index * set.imageSize)..<((index + 1) * set.imageSize)])
        var gray = [UInt8](repeating: 0, count: h * w)
        for y in 0..<h {
            for x in 0..<w {
                let sy = max(0, (Double(y) + 0.5) * Double(set.height) / Double(h) - 0.5)
                let sx = max(0, (Double(x) + 0.5) * Double(set.width) / Double(w) - 0.5)
                let y0 = min(Int(sy), set.height - 1), x0 = min(Int(sx), set.width - 1)
                let y1 = min(y0 + 1, set.height - 1), x1 = min(x0 + 1, set.width - 1)
                let fy = sy - Double(y0), fx = sx - Double(x0)
                func at(_ yy: Int, _ xx: Int) -> Double { Double(source[yy * set.width + xx]) }
                let v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1))
                gray[y * w + x] = UInt8(min(255, max(0, v.rounded())))
            }
        }
        if serial % 4 == 3 { return DecodedImage(height: h, width: w, channels: 1, pixels: gray) }
        // The colouring cycles with the file, not the class: colour must carry no label.
        let t = (serial * 7) % 10
        let tint = [0.3 + 0.07 * Double(t), 0.9 - 0.06 * Double(t), 0.5 + 0.04 * Double(t % 5)]
        let background = [0.2, 0.35 + 0.02 * Double(t), 0.6]
        var rgb = [UInt8](repeating: 0, count: h * w * 3)
        for p in 0..<(h * w) {
            let v = Double(gray[p])
            for ch in 0..<3 { rgb[3 * p + ch] = UInt8(min(255, (v * tint[ch] + (255 - v) * background[ch]).rounded())) }
        }
        return DecodedImage(height: h, width: w, channels: 3, pixels: rgb)
    }
}
