import Foundation

/// CIFAR-10 and CIFAR-100 in the two layouts torchvision users have: the binary one
/// (`cifar-10-batches-bin/`, `cifar-100-binary/`) and the python one (`cifar-10-batches-py/`,
/// `cifar-100-python/`, pickled dicts).
public enum CIFARReader {
    /// Which of the two data sets.
    public enum Variant: String, Sendable, CaseIterable {
        /// 10 classes, 5 training batches of 10000 images.
        case cifar10
        /// 100 fine classes, one training file of 50000 images.
        case cifar100

        /// The number of classes.
        public var classCount: Int { self == .cifar10 ? 10 : 100 }
        /// The folder of the binary layout.
        public var binaryFolder: String { self == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary" }
        /// The folder of the python layout.
        public var pythonFolder: String { self == .cifar10 ? "cifar-10-batches-py" : "cifar-100-python" }
        /// The official archive of the python layout and its published MD5 (torchvision's).
        public var archive: (url: String, md5: String) {
            self == .cifar10
                ? ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
                : ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")
        }
        /// The files of a split in the python layout.
        public func pythonFiles(train: Bool) -> [String] {
            switch self {
            case .cifar10: return train ? (1...5).map { "data_batch_\($0)" } : ["test_batch"]
            case .cifar100: return [train ? "train" : "test"]
            }
        }
        /// The files of a split in the binary layout.
        public func binaryFiles(train: Bool) -> [String] {
            switch self {
            case .cifar10: return train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
            case .cifar100: return [train ? "train.bin" : "test.bin"]
            }
        }
    }

    /// Which layout a root holds, if any: the python folder is preferred when both exist.
    public static func layout(root: String, variant: Variant) -> (folder: String, python: Bool)? {
        let fm = FileManager.default
        let py = (root as NSString).appendingPathComponent(variant.pythonFolder)
        if fm.fileExists(atPath: py) { return (py, true) }
        let bin = (root as NSString).appendingPathComponent(variant.binaryFolder)
        if fm.fileExists(atPath: bin) { return (bin, false) }
        return nil
    }

    /// Reads a split from `root`, in whichever layout is there.
    ///
    /// - Throws: `.missingFile` saying which folder or archive to put where when neither layout is
    ///   present; otherwise the errors of the layout's reader.
    public static func read(root: String, variant: Variant, train: Bool) throws -> ImageSet {
        guard let found = layout(root: root, variant: variant) else {
            let archive = (variant.archive.url as NSString).lastPathComponent
            throw DatasetError(.missingFile, path: (root as NSString).appendingPathComponent(variant.pythonFolder),
                               "\(variant.rawValue) not found: put \(variant.pythonFolder)/ or \(variant.binaryFolder)/ in \(root) (unpack \(archive) from \(variant.archive.url) there), or set download: true")
        }
        return found.python ? try readPython(folder: found.folder, variant: variant, train: train)
                            : try readBinary(folder: found.folder, variant: variant, train: train)
    }

    /// The binary layout: records of label byte(s) then 3072 bytes, R, G and B planes of 32×32.
    public static func readBinary(folder: String, variant: Variant, train: Bool) throws -> ImageSet {
        let labelBytes = variant == .cifar10 ? 1 : 2
        let record = labelBytes + 3072
        var pixels: [UInt8] = [], labels: [Int32] = []
        for name in variant.binaryFiles(train: train) {
            let path = (folder as NSString).appendingPathComponent(name)
            let bytes = try FileBytes.read(path)
            guard bytes.count % record == 0, !bytes.isEmpty else {
                throw DatasetError(.truncated, path: path, "\(bytes.count) bytes is not a whole number of \(record)-byte records")
            }
            let n = bytes.count / record
            pixels.reserveCapacity(pixels.count + n * 3072)
            for i in 0..<n {
                let base = i * record
                let label = Int32(bytes[base + labelBytes - 1]) // CIFAR-100: coarse, then fine
                guard label < variant.classCount else {
                    throw DatasetError(.badLabel, path: path, "record \(i) has label \(label), expected 0..<\(variant.classCount)")
                }
                labels.append(label)
                appendHWC(bytes[(base + labelBytes)..<(base + record)], to: &pixels)
            }
        }
        return ImageSet(height: 32, width: 32, channels: 3, pixels: pixels, labels: labels,
                        classNames: try binaryClassNames(folder: folder, variant: variant))
    }

    /// Planes R, G, B of 32×32 → 32×32×3 channels last.
    static func appendHWC(_ planes: ArraySlice<UInt8>, to pixels: inout [UInt8]) {
        let start = planes.startIndex
        for p in 0..<1024 {
            pixels.append(planes[start + p])
            pixels.append(planes[start + 1024 + p])
            pixels.append(planes[start + 2048 + p])
        }
    }

    private static func binaryClassNames(folder: String, variant: Variant) throws -> [String] {
        let file = variant == .cifar10 ? "batches.meta.txt" : "fine_label_names.txt"
        let path = (folder as NSString).appendingPathComponent(file)
        guard FileBytes.status(path).isSuccess else { return (0..<variant.classCount).map { "class \($0)" } }
        let text = String(decoding: try FileBytes.read(path), as: UTF8.self)
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == variant.classCount else {
            throw DatasetError(.badFormat, path: path, "\(names.count) class names, expected \(variant.classCount)")
        }
        return names
    }

    /// The python layout: each file a pickled dict with `data` (N×3072 uint8 numpy array) and
    /// `labels` (CIFAR-10) or `fine_labels` (CIFAR-100); class names from `batches.meta` / `meta`.
    public static func readPython(folder: String, variant: Variant, train: Bool) throws -> ImageSet {
        var pixels: [UInt8] = [], labels: [Int32] = []
        let labelKey = variant == .cifar10 ? "labels" : "fine_labels"
        for name in variant.pythonFiles(train: train) {
            let path = (folder as NSString).appendingPathComponent(name)
            let dict = try PickleReader.load(try FileBytes.read(path), path: path)
            guard let data = dict["data"] else { throw DatasetError(.badFormat, path: path, "the pickled dict has no 'data' entry") }
            let array = try NumpyPickle.uint8Matrix(data, path: path)
            guard array.columns == 3072 else {
                throw DatasetError(.badFormat, path: path, "'data' has \(array.columns) columns, expected 3072 (3×32×32)")
            }
            guard case let .list(items)? = dict[labelKey] else {
                throw DatasetError(.badFormat, path: path, "the pickled dict has no '\(labelKey)' list")
            }
            guard items.count == array.rows else {
                throw DatasetError(.badFormat, path: path, "\(items.count) labels for \(array.rows) images")
            }
            for (i, item) in items.enumerated() {
                guard case let .int(label) = item, (0..<variant.classCount).contains(label) else {
                    throw DatasetError(.badLabel, path: path, "label \(i) is \(item), expected an integer in 0..<\(variant.classCount)")
                }
                labels.append(Int32(label))
            }
            pixels.reserveCapacity(pixels.count + array.data.count)
            for r in 0..<array.rows { appendHWC(array.data[(r * 3072)..<((r + 1) * 3072)], to: &pixels) }
        }
        return ImageSet(height: 32, width: 32, channels: 3, pixels: pixels, labels: labels,
                        classNames: try pythonClassNames(folder: folder, variant: variant))
    }

    private static func pythonClassNames(folder: String, variant: Variant) throws -> [String] {
        let (file, key) = variant == .cifar10 ? ("batches.meta", "label_names") : ("meta", "fine_label_names")
        let path = (folder as NSString).appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: path) else { return (0..<variant.classCount).map { "class \($0)" } }
        let meta = try PickleReader.load(try FileBytes.read(path), path: path)
        guard case let .list(items)? = meta[key], items.count == variant.classCount else {
            throw DatasetError(.badFormat, path: path, "expected a list '\(key)' of \(variant.classCount) names")
        }
        return items.map { $0.text ?? "?" }
    }
}

/// numpy arrays as numpy pickles them (`_reconstruct` + `BUILD` state).
enum NumpyPickle {
    /// A 2-D C-ordered uint8 array from its pickled form.
    static func uint8Matrix(_ value: PickleValue, path: String) throws -> (rows: Int, columns: Int, data: [UInt8]) {
        func bad(_ why: String) -> DatasetError { DatasetError(.badFormat, path: path, "'data' is not a uint8 numpy array: \(why)") }
        guard case let .object(callable, _, state?) = value, case let .global(module, name) = callable,
              module.hasPrefix("numpy"), name == "_reconstruct" else { throw bad("not a numpy _reconstruct") }
        guard case let .tuple(fields) = state, fields.count == 5 else { throw bad("unexpected array state") }
        guard case let .tuple(shapeItems) = fields[1] else { throw bad("no shape") }
        let shape = try shapeItems.map { item -> Int in
            guard case let .int(v) = item else { throw bad("shape \(shapeItems)") }
            return v
        }
        guard case let .object(_, dtypeArgs, _) = fields[2], let descr = dtypeArgs.first?.text,
              descr == "u1" || descr == "|u1" || descr == "B" else { throw bad("dtype is not u1") }
        if case let .bool(fortran) = fields[3], fortran { throw bad("Fortran order is not supported") }
        if case let .int(fortran) = fields[3], fortran != 0 { throw bad("Fortran order is not supported") }
        guard case let .string(data) = fields[4] else { throw bad("raw data missing") }
        guard shape.count == 2 else { throw bad("rank \(shape.count), expected 2") }
        guard shape[0] > 0, shape[1] > 0 else { throw bad("shape \(shape[0])×\(shape[1]) holds no image") }
        let (count, overflow) = shape[0].multipliedReportingOverflow(by: shape[1])
        guard !overflow, data.count == count else {
            throw DatasetError(.truncated, path: path, "'data' holds \(data.count) bytes for a \(shape[0])×\(shape[1]) array")
        }
        return (shape[0], shape[1], data)
    }
}
