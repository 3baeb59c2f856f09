import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Listing the file-backed data sets. Every listed entry is checked before anything is read: it
/// must resolve (links followed) to a regular file inside the data root, so a split line
/// `../../../etc/passwd 0`, a link out of the tree, a FIFO or `/dev/zero` is refused at plan time
/// with the file and line that named it. Names are kept as bytes (`POSIXName`).
extension ImageFileList {
    /// ImageNet-LT: a split file of `relative/path.JPEG label` lines over the image tree `root`
    /// (LF or CRLF line ends, an optional UTF-8 BOM; see `SplitFile`).
    ///
    /// - Throws: `.missingFile` for a missing split file or a line naming a missing image (with
    ///   the line number), `.badLabel` for a malformed line or a label outside `0..<classCount`,
    ///   `.outsideRoot` for a line whose image resolves outside `root`, `.notRegularFile` for a
    ///   line naming a FIFO, device or folder; the split file itself must be a regular file.
    public static func imageNetLT(root: String, splitFile: String, classCount: Int = 1000, checkFiles: Bool = true,
                                  limits: ImageLimits = .process) throws -> ImageFileList {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(splitFile, limits: limits)
        } catch let error as DatasetError where error.kind == .missingFile {
            throw DatasetError(.missingFile, path: splitFile, "split file not found (ImageNet_LT_train.txt and friends list `path label` per line)")
        }
        let lines = try SplitFile.parse(bytes, path: splitFile, classCount: classCount)
        var list = ImageFileList(paths: [], labels: [], classNames: (0..<classCount).map { "class \($0)" }, origins: [], limits: limits)
        let tree = checkFiles ? try DataRoot(root) : nil
        var firstLine: [String: Int] = [:]
        var duplicates: [String] = []
        for line in lines {
            let path = (root as NSString).appendingPathComponent(line.path)
            if let tree {
                try tree.check(path, listedIn: splitFile, line: line.number)
            }
            if let first = firstLine[path] {
                duplicates.append("line \(line.number) repeats line \(first)")
            } else {
                firstLine[path] = line.number
            }
            list.paths.append(path)
            list.labels.append(line.label)
            list.origins.append("\(splitFile):\(line.number)")
        }
        var perClass = [Int](repeating: 0, count: classCount)
        for label in list.labels { perClass[Int(label)] += 1 }
        let used = perClass.filter { $0 > 0 }
        list.notes.append("\(POSIXName.display(splitFile)): \(list.count) images in \(used.count) of \(classCount) classes"
                          + (used.isEmpty ? "" : " (\(used.min()!)–\(used.max()!) images per class)"))
        if !duplicates.isEmpty {
            list.notes.append("\(POSIXName.display(splitFile)): \(duplicates.count) lines name an image listed before, which is then read more than once (\(duplicates.prefix(3).joined(separator: ", "))\(duplicates.count > 3 ? ", …" : ""))")
        }
        return list
    }

    /// `image_folder`: `root/<class>/<image>` with classes in sorted order (torchvision's
    /// `ImageFolder`); files ending in .jpg, .jpeg or .png (any case). Folder and file names are
    /// read as bytes, so a name that is not UTF-8 is kept; every entry not read (another kind of
    /// file, a nested folder, a hidden folder) is counted in `notes`, with the images per class.
    ///
    /// - Parameter dataRoot: the folder no image may resolve outside of (default `root`).
    /// - Throws: `.missingFile` when `root` does not exist or holds no class folder with images;
    ///   `.outsideRoot` or `.notRegularFile` for an image entry that resolves outside
    ///   `dataRoot` or is a FIFO, device or folder.
    public static func imageFolder(root: String, dataRoot: String? = nil, limits: ImageLimits = .process) throws -> ImageFileList {
        guard case let .success(info) = FileBytes.status(root), info.st_mode & S_IFMT == S_IFDIR else {
            throw DatasetError(.missingFile, path: root, "image folder not found (expected root/<class>/<image>)")
        }
        let tree = try DataRoot(dataRoot ?? root)
        var notes: [String] = []
        var classes: [String] = [], stray: [String] = [], hidden: [String] = []
        for entry in try DataRoot.entries(of: root) {
            let path = root + "/" + entry.name
            if entry.name.hasPrefix(".") {
                if entry.isDirectory(at: path) { hidden.append(entry.name) }
                continue
            }
            if entry.isDirectory(at: path) { classes.append(entry.name) } else { stray.append(entry.name) }
        }
        classes.sort()
        if !stray.isEmpty {
            notes.append("\(POSIXName.display(root)): \(stray.count) entries are not class folders and are not read (\(listed(stray)))")
        }
        if !hidden.isEmpty {
            notes.append("\(POSIXName.display(root)): hidden folders are not classes and are not read (\(listed(hidden)))")
        }
        var list = ImageFileList(paths: [], labels: [], classNames: classes, origins: [], limits: limits)
        var perClass: [String] = []
        for (c, name) in classes.enumerated() {
            let folder = root + "/" + name
            try tree.checkFolder(folder)
            var images: [String] = [], skipped: [String] = [], nested: [String] = []
            for entry in try DataRoot.entries(of: folder) {
                let ext = (entry.name as NSString).pathExtension.lowercased()
                let path = folder + "/" + entry.name
                if ["jpg", "jpeg", "png"].contains(ext) {
                    images.append(entry.name)
                } else if entry.isDirectory(at: path) {
                    nested.append(entry.name)
                } else {
                    skipped.append(entry.name)
                }
            }
            images.sort()
            for file in images {
                let path = folder + "/" + file
                try tree.check(path, listedIn: nil, line: nil)
                list.paths.append(path)
                list.labels.append(Int32(c))
                list.origins.append(folder)
            }
            perClass.append("\(POSIXName.display(name)) \(images.count)")
            if images.isEmpty { notes.append("\(POSIXName.display(folder)): no .jpg/.jpeg/.png image; the class \(POSIXName.display(name)) has no image in this split") }
            if !skipped.isEmpty {
                notes.append("\(POSIXName.display(folder)): \(skipped.count) files are not .jpg/.jpeg/.png and are not read (\(listed(skipped)))")
            }
            if !nested.isEmpty {
                notes.append("\(POSIXName.display(folder)): nested folders are not read (\(listed(nested))); images belong directly in the class folder")
            }
        }
        guard !list.paths.isEmpty else {
            throw DatasetError(.missingFile, path: root, "no .jpg/.jpeg/.png images in any class folder of root/<class>/")
        }
        list.notes = ["\(POSIXName.display(root)): \(list.count) images in \(classes.count) classes (\(perClass.joined(separator: ", ")))"] + notes
        return list
    }

    private static func listed(_ names: [String]) -> String {
        names.sorted().prefix(5).map(POSIXName.display).joined(separator: ", ") + (names.count > 5 ? ", …" : "")
    }
}

/// A data set's root folder, resolved, and the checks every listed entry passes.
struct DataRoot {
    /// The root as given.
    let given: String
    /// Its canonical path (links resolved).
    let resolved: String

    init(_ root: String) throws {
        given = root
        do {
            resolved = try FileBytes.resolved(root)
        } catch let error as DatasetError {
            throw DatasetError(error.kind, path: root, "the data root cannot be resolved: \(error.message)")
        }
    }

    /// Throws unless `path` resolves to a regular file inside the root; errors name the split
    /// file and line when given, else the entry.
    func check(_ path: String, listedIn file: String?, line: Int?) throws {
        func fail(_ kind: DatasetError.Kind, _ message: String) -> DatasetError {
            if let file { return DatasetError(kind, path: file, line: line, message) }
            return DatasetError(kind, path: path, message)
        }
        let target: String
        do {
            target = try FileBytes.resolved(path)
        } catch let error as DatasetError {
            if error.kind == .missingFile { throw fail(.missingFile, file == nil ? "the image does not exist" : "the image \(path) does not exist") }
            throw fail(error.kind, "the image \(path): \(error.message)")
        }
        guard FileBytes.isInside(target, root: resolved) else {
            throw fail(.outsideRoot, "the image \(path) resolves to \(target), outside the data root \(given); every image must lie inside the root (a link may point only within it)")
        }
        switch FileBytes.status(target) {
        case let .failure(error): throw fail(error.kind, "the image \(path): \(error.message)")
        case let .success(info):
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw fail(.notRegularFile, "the image \(path) is \(FileBytes.kind(info.st_mode)), not a regular file; only regular files are read (a FIFO or a device would never end)")
            }
        }
    }

    /// Throws unless the folder `path` resolves inside the root.
    func checkFolder(_ path: String) throws {
        let target = try FileBytes.resolved(path)
        guard FileBytes.isInside(target, root: resolved) || target == resolved else {
            throw DatasetError(.outsideRoot, path: path, "the class folder resolves to \(target), outside the data root \(given); every image must lie inside the root (a link may point only within it)")
        }
    }

    /// One directory entry: its name as a `POSIXName` and its type as `readdir` gave it.
    struct Entry {
        var name: String
        var type: UInt8

        /// Whether it is a folder (links followed).
        func isDirectory(at path: String) -> Bool {
            if Int32(type) == Int32(DT_DIR) { return true }
            if Int32(type) == Int32(DT_REG) { return false }
            guard case let .success(info) = FileBytes.status(path) else { return false }
            return info.st_mode & S_IFMT == S_IFDIR
        }
    }

    /// The entries of the folder `path` (without `.` and `..`), names read as bytes.
    static func entries(of path: String) throws -> [Entry] {
        guard let dir = POSIXName.withCString(path, { opendir($0) }) else {
            throw FileBytes.openError(path, errno: errno)
        }
        defer { closedir(dir) }
        var out: [Entry] = []
        while let entry = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            out.append(Entry(name: POSIXName.string(name), type: entry.pointee.d_type))
        }
        return out
    }
}
