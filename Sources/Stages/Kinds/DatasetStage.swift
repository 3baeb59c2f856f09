import Foundation
import PipelineDSL
import Datasets

/// The `dataset` stage kind: reads a data set's training and test splits from disk into a
/// `DataArtifact` (docs/method.md, "Data").
///
/// Its hash covers the digests of the source files (`DatasetCatalog.sourceDigest`), so editing a
/// file invalidates the cached artifact while touching one (a new modification time only) does not.
/// Per-file digests are remembered in the file the kind is registered with (`sbcl-run`:
/// `$SBCL_DIGEST_CACHE`, else `source-digests.json` in the cache folder).
///
/// Recipe: no inputs; parameters `source`, `root`, `download`, `train_split`, `test_split`,
/// `per_class_limit`, `test_per_class_limit`, `storage`, `decode`. It records the metric `class_counts` (images per
/// class of the training split); a later `imbalance` stage overrides it with the long-tailed counts.
public enum DatasetStage {
    /// The kind's name in recipes.
    public static let name = "dataset"

    /// The environment variable naming the per-file digest cache.
    public static let digestCacheVariable = "SBCL_DIGEST_CACHE"

    /// The stage kind to register.
    public static let kind = StageKind(
        name: name, version: 1,
        summary: "reads a data set (CIFAR, (Fashion-)MNIST, ImageNet-LT, image folder) into training and test images",
        settings: Settings.self,
        usesSeed: false,
        hashMaterial: { settings in try hashMaterial(settings) },
        // `auto` is what every data set did before `storage` existed, `reduced` every file data set
        // before `decode`: at those values they keep the recipes' hashes.
        inapplicableParameters: { s in
            var out: Set<String> = []
            if s.storage == .auto { out.insert("storage") }
            if s.decode == .reduced { out.insert("decode") }
            return out
        },
        // ImageNet-LT and image folders are not downloaded: without their split files the recipe
        // still plans (as the CIFAR recipes do with download: true), and a run says what to put where.
        availability: { settings in
            let spec = settings.spec
            return DatasetCatalog.missingSplit(spec).map { "\(explained($0, spec: spec))" }
        },
        run: { context in try run(context) })

    /// Where the images of a file data set are kept.
    public enum Storage: String, CaseIterable, Sendable {
        /// Files for imagenet_lt, memory otherwise.
        case auto
        /// Decoded once into the artifact.
        case memory
        /// Kept as files, decoded per step.
        case files
    }

    /// How the loader decodes the JPEGs of a file data set.
    public enum Decode: String, CaseIterable, Sendable {
        /// Reduced by M/8 in the DCT (libjpeg's `scale_num`) when the views need fewer pixels than
        /// the file holds: ImageNet's 500-pixel images decode 2–4× faster for 224-pixel views.
        case reduced
        /// Always at full size, then cropped and resized, as torchvision's PIL loader does.
        case full
    }

    /// The settings of a `dataset` stage, typed.
    public struct Settings: StageSettings, Equatable {
        /// Which data set (`source`).
        public var source = DatasetKind.fashionMNIST
        /// The data set's folder; nil: the source's default (`root`).
        public var root: String?
        /// CIFAR: fetch the archive when the files are missing (`download`).
        public var download = false
        /// ImageNet-LT: the training split file (`train_split`).
        public var trainSplit: String?
        /// ImageNet-LT: the test split file (`test_split`).
        public var testSplit: String?
        /// Training images kept per class, 0 = all (`per_class_limit`).
        public var perClassLimit = 0
        /// Test images kept per class, 0 = all (`test_per_class_limit`).
        public var testPerClassLimit = 0
        /// Where file images are kept (`storage`).
        public var storage = Storage.auto
        /// How file images' JPEGs are decoded (`decode`).
        public var decode = Decode.reduced

        public static let unset = Settings()

        public static let fields: [SettingsField<Settings>] = [
            .choice("source", \.source, default: .fashionMNIST,
                    doc: "which data set: cifar10, cifar100, fashion_mnist, mnist, imagenet_lt or image_folder"),
            .optionalString("root", \.root, doc: "the data set's folder; default /usr/share/datasets/fashion-mnist for fashion_mnist, ./data otherwise"),
            .bool("download", \.download, default: false, doc: "CIFAR only: fetch the official archive (MD5-checked) when the files are missing"),
            .optionalString("train_split", \.trainSplit, doc: "imagenet_lt only: the training split file (default root/ImageNet_LT_train.txt)"),
            .optionalString("test_split", \.testSplit, doc: "imagenet_lt only: the test split file (default root/ImageNet_LT_test.txt)"),
            .int("per_class_limit", \.perClassLimit, default: 0, range: RecipeLimits.upTo(RecipeLimits.perClass),
                 doc: "keep only the first n training images of each class in file order (0 = all), for quick checks"),
            .int("test_per_class_limit", \.testPerClassLimit, default: 0, range: RecipeLimits.upTo(RecipeLimits.perClass),
                 doc: "keep only the first n test images of each class in file order (0 = all)"),
            .choice("storage", \.storage, default: .auto,
                    doc: "memory: decode every image once into the artifact (they must share one size); files: keep imagenet_lt or image_folder images as files, decoded per step by the loader (any size; what torchvision ResNet encoders train on); auto: files for imagenet_lt, memory otherwise"),
            .choice("decode", \.decode, default: .reduced,
                    doc: "images kept as files, random training views (the encoder's, the re-clusterings', the linear stage's crops): reduced lets the loader decode a JPEG reduced by M/8 in the DCT when its crops need fewer pixels (faster; each view differs from torchvision's by about 1 level of 255 on average); full decodes every image at full size before the crop, as torchvision's PIL loader does. The evaluation and predict always decode at full size"),
        ]

        /// Whether the stage keeps its images as files (see `storage`).
        public var keepsFiles: Bool {
            switch storage {
            case .files: return true
            case .memory: return false
            case .auto: return source == .imagenetLT
            }
        }

        /// The `DatasetSpec` the settings describe.
        public var spec: DatasetSpec {
            DatasetSpec(kind: source, root: root, download: download, trainSplit: trainSplit, testSplit: testSplit)
        }
    }

    /// `path` when per-file digests can be remembered there (its folder is created); nil (compute
    /// without remembering) when its folder cannot be created or written.
    public static func digestCacheFile(path: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        let fm = FileManager.default
        guard (try? fm.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil,
              fm.isWritableFile(atPath: folder) else { return nil }
        return path
    }

    /// The extra hash material: the digest of the source files. With `download: true` and the
    /// CIFAR files not yet there, the official archive's MD5 stands in for it.
    ///
    /// - Throws: the data set's `DatasetError` (which names the missing path and what to put
    ///   there); the planner reports it as a diagnostic on the stage.
    public static func hashMaterial(_ settings: Settings, digestCache: String? = nil) throws -> String {
        let spec = settings.spec
        if settings.storage == .files, ![.imagenetLT, .imageFolder].contains(spec.kind) {
            throw RunError("storage: files keeps imagenet_lt or image_folder images as files; \(spec.kind.rawValue) is read into memory (use storage: auto)")
        }
        if settings.decode == .full, !settings.keepsFiles {
            throw RunError("decode: full applies to images kept as files (imagenet_lt, or image_folder with storage: files); "
                           + "the \(spec.kind.rawValue) images are decoded once at full size into memory already (remove decode)")
        }
        if spec.download, let variant = cifarVariant(spec.kind),
           CIFARReader.layout(root: spec.resolvedRoot, variant: variant) == nil {
            return "archive-md5 \(variant.archive.md5)"
        }
        do {
            // A file-backed artifact (a file list, classes trimmed to the labels) is another artifact
            // than the decoded one: its own material keeps the in-memory kinds' hashes unchanged.
            let form = settings.keepsFiles ? "file-list v1; " : ""
            let decode = settings.decode == .full ? "decode full; " : ""
            return form + decode + "source-digest " + (try DatasetCatalog.sourceDigest(spec, cacheFile: digestCache.flatMap(digestCacheFile(path:))))
        } catch let error as DatasetError {
            throw explained(error, spec: spec)
        }
    }

    /// The indices of the first `limit` images of each class, in their original order (all of
    /// them when `limit` is 0).
    public static func firstPerClass(labels: [Int32], limit: Int) -> [Int] {
        precondition(limit >= 0, "DatasetStage.firstPerClass: negative limit \(limit)")
        guard limit > 0 else { return Array(labels.indices) }
        var seen: [Int32: Int] = [:]
        var kept: [Int] = []
        for (index, label) in labels.enumerated() where seen[label, default: 0] < limit {
            seen[label, default: 0] += 1
            kept.append(index)
        }
        return kept
    }

    /// Reads both splits and writes the artifact.
    static func run(_ context: RunContext) throws {
        let settings = Settings(context.parameters)
        let spec = settings.spec
        let started = Date()
        let artifact: DataArtifact
        let files = settings.keepsFiles
        do {
            try DatasetCatalog.prepare(spec)
            var notes: [String] = []
            var train = try images(spec, train: true, limit: settings.perClassLimit, keepFiles: files, notes: &notes)
            var test = try images(spec, train: false, limit: settings.testPerClassLimit, keepFiles: files, notes: &notes)
            if settings.decode == .full { (train, test) = (fullDecode(train), fullDecode(test)) }
            notes.forEach(context.log)
            if spec.kind == .imagenetLT {
                let count = Int((train.labels + test.labels).max() ?? -1) + 1
                (train, test) = (trimmed(train, to: count), trimmed(test, to: count))
            }
            guard train.classNames == test.classNames else {
                throw DatasetError(.badFormat, path: spec.resolvedRoot,
                                   "the training split has \(train.classNames.count) classes and the test split \(test.classNames.count); they must list the same classes")
            }
            if case let .memory(train) = train, case let .memory(test) = test,
               train.height != test.height || train.width != test.width || train.channels != test.channels {
                throw DatasetError(.badFormat, path: spec.resolvedRoot,
                                   "training images are \(train.height)×\(train.width)×\(train.channels) but test images \(test.height)×\(test.width)×\(test.channels)")
            }
            artifact = DataArtifact(trainImages: train, testImages: test, source: spec.kind.rawValue)
        } catch let error as DatasetError {
            throw explained(error, spec: spec)
        }
        try artifact.write(to: context.outputDirectory)
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        let form: String
        switch artifact.trainImages {
        case let .memory(train): form = "\(train.height)×\(train.width)×\(train.channels)"
        case .files: form = "image files decoded per step"
        }
        context.log("\(spec.kind.rawValue): \(artifact.trainImages.labels.count) training and \(artifact.testImages.labels.count) test images, "
                    + "\(form), \(artifact.trainImages.classNames.count) classes (\(seconds) s)")
        context.recordMetrics(["class_counts": .list(artifact.classCounts.map { .int($0) })])
    }

    /// One split, cut to `limit` images per class: decoded into memory, or kept as files.
    static func images(_ spec: DatasetSpec, train: Bool, limit: Int, keepFiles: Bool, notes: inout [String]) throws -> LoadedImages {
        let loaded = try DatasetCatalog.load(spec, train: train)
        notes += loaded.notes
        let kept = limit > 0 ? loaded.subset(firstPerClass(labels: loaded.labels, limit: limit)) : loaded
        switch kept {
        case .memory:
            return kept
        case let .files(list):
            return keepFiles ? kept : .memory(try decodeAll(list))
        }
    }

    /// `images` with DCT-reduced decoding turned off (`decode: full`).
    static func fullDecode(_ images: LoadedImages) -> LoadedImages {
        guard case var .files(list) = images else { return images }
        list.dctScaling = false
        return .files(list)
    }

    /// ImageNet-LT's split files say no class count: labels may run up to 999, and the classes are
    /// 0 … the largest label of either split (1000 for ImageNet-LT; fewer for a smaller tree):
    /// `images` keeps the first `count` class names.
    static func trimmed(_ images: LoadedImages, to count: Int) -> LoadedImages {
        switch images {
        case var .files(list):
            list.classNames = Array(list.classNames.prefix(count))
            return .files(list)
        case var .memory(set):
            set.classNames = Array(set.classNames.prefix(count))
            return .memory(set)
        }
    }

    /// Decodes an image file list into one `ImageSet`; the images must share one size, since the
    /// artifact stores them as one array.
    static func decodeAll(_ list: ImageFileList) throws -> ImageSet {
        guard list.count > 0 else {
            return ImageSet(height: 0, width: 0, channels: 3, pixels: [], labels: [], classNames: list.classNames)
        }
        let first = try list.decode(at: 0)
        var pixels = [UInt8]()
        pixels.reserveCapacity(first.pixels.count * list.count)
        pixels += first.pixels
        for index in 1..<list.count {
            let image = try list.decode(at: index)
            guard image.height == first.height, image.width == first.width, image.channels == first.channels else {
                throw DatasetError(.badFormat, path: list.paths[index],
                                   "image is \(image.height)×\(image.width)×\(image.channels) but \(list.paths[0]) is \(first.height)×\(first.width)×\(first.channels); the dataset stage needs equally sized images (listed at \(list.origins[index]))")
            }
            pixels += image.pixels
        }
        return ImageSet(height: first.height, width: first.width, channels: first.channels, pixels: pixels,
                        labels: list.labels, classNames: list.classNames)
    }

    /// Adds the data set kind and, when the folder itself is missing, says so.
    static func explained(_ error: DatasetError, spec: DatasetSpec) -> DatasetError {
        var isDirectory: ObjCBool = false
        let rootExists = FileManager.default.fileExists(atPath: spec.resolvedRoot, isDirectory: &isDirectory) && isDirectory.boolValue
        var note = rootExists ? "" : " (the \(spec.kind.rawValue) folder \(spec.resolvedRoot) does not exist; set the stage's root)"
        if spec.kind == .imagenetLT, error.kind == .missingFile, error.line == nil {
            note += "; put the split files ImageNet_LT_train.txt and ImageNet_LT_test.txt (lines `train/n01440764/n01440764_10026.JPEG 0`) "
                + "and the JPEG tree they name in \(spec.resolvedRoot), or set the stage's root, train_split and test_split"
        }
        return DatasetError(error.kind, path: error.path, line: error.line, "\(spec.kind.rawValue): \(error.message)\(note)")
    }

    static func cifarVariant(_ kind: DatasetKind) -> CIFARReader.Variant? {
        switch kind {
        case .cifar10: return .cifar10
        case .cifar100: return .cifar100
        case .fashionMNIST, .mnist, .imagenetLT, .imageFolder: return nil
        }
    }
}
