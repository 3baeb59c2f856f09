@testable import Datasets
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Split files and image folders that name special files, leave the data root, use Windows line
/// ends or names that are not UTF-8 — built at test time with the system calls (mkfifo, symlink,
/// mkdir and open with raw bytes). Each is refused (or read) with a sentence naming the file and
/// line, in bounded time.
final class HostileFileSystemTests: XCTestCase {
    /// A tree `root/img/a.png` (8×6 RGB) and a split file naming it, under a fresh folder.
    private func tree() throws -> (root: String, split: String, image: [UInt8]) {
        let root = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: root + "/img", withIntermediateDirectories: true)
        let png = PNGEncoder.encode(DecodedImage(height: 6, width: 8, channels: 3, pixels: [UInt8](repeating: 50, count: 144)))
        try Data(png).write(to: URL(fileURLWithPath: root + "/img/a.png"))
        return (root, root + "/split.txt", png)
    }

    private func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    // MARK: Special files

    func testFIFONamedBySplitLineIsRefusedAtOnce() throws {
        let (root, split, _) = try tree()
        XCTAssertEqual(mkfifo(root + "/img/pipe.JPEG", 0o644), 0)
        try write("img/a.png 0\nimg/pipe.JPEG 1\n", to: split)
        try assertWithin(seconds: 5) {
            assertDatasetError(.notRegularFile, [split + ":2", "pipe.JPEG", "FIFO", "only regular files"]) {
                try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 2)
            }
            // The plan-time digest goes through the same listing.
            assertDatasetError(.notRegularFile, [split + ":2", "FIFO"]) {
                try DatasetCatalog.sourceDigest(DatasetSpec(kind: .imagenetLT, root: root, trainSplit: split, testSplit: split), cacheFile: nil)
            }
            // Reading it directly (a list built without checks) is refused too, not blocked.
            assertDatasetError(.notRegularFile, ["pipe.JPEG", "FIFO"]) { try FileBytes.read(root + "/img/pipe.JPEG") }
        }
    }

    func testFIFOAsSplitFileOrClassFolderEntryIsRefused() throws {
        let (root, _, png) = try tree()
        XCTAssertEqual(mkfifo(root + "/fifo.txt", 0o644), 0)
        try assertWithin(seconds: 5) {
            assertDatasetError(.notRegularFile, ["fifo.txt", "FIFO"]) { try ImageFileList.imageNetLT(root: root, splitFile: root + "/fifo.txt") }
        }
        let folder = root + "/folder/train/cat"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(png).write(to: URL(fileURLWithPath: folder + "/ok.png"))
        XCTAssertEqual(mkfifo(folder + "/stuck.jpg", 0o644), 0)
        try assertWithin(seconds: 5) {
            assertDatasetError(.notRegularFile, ["stuck.jpg", "FIFO"]) { try ImageFileList.imageFolder(root: root + "/folder/train") }
        }
    }

    func testDeviceFilesAreRefused() throws {
        let (_, split, _) = try tree()
        // A data root of /dev and a split naming zero: a character device, not a file.
        try write("zero 0\n", to: split)
        try assertWithin(seconds: 5) {
            assertDatasetError(.notRegularFile, [split + ":1", "/dev/zero", "character device"]) {
                try ImageFileList.imageNetLT(root: "/dev", splitFile: split, classCount: 1)
            }
            assertDatasetError(.notRegularFile, ["/dev/zero", "character device"]) { try FileBytes.read("/dev/zero") }
            assertDatasetError(.notRegularFile, ["/dev/zero"]) { try SourceDigest.fileMD5("/dev/zero") }
        }
    }

    // MARK: Paths that leave the data root

    func testSplitLinesLeavingTheRootAreRefusedAtPlanTime() throws {
        let (root, split, _) = try tree()
        try write("img/a.png 0\n../../../../../../../../etc/passwd 0\n", to: split)
        let expected = [split + ":2", "../../../../../../../../etc/passwd", "resolves to /etc/passwd", "outside the data root"]
        assertDatasetError(.outsideRoot, expected) { try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 1) }
        assertDatasetError(.outsideRoot, expected) {
            try DatasetCatalog.sourceDigest(DatasetSpec(kind: .imagenetLT, root: root, trainSplit: split, testSplit: split), cacheFile: nil)
        }
        // A link inside the root that points out of it, and one that stays inside.
        XCTAssertEqual(symlink("/etc/passwd", root + "/img/escape.png"), 0)
        XCTAssertEqual(symlink(root + "/img/a.png", root + "/img/inside.png"), 0)
        try write("img/inside.png 0\nimg/escape.png 0\n", to: split)
        assertDatasetError(.outsideRoot, [split + ":2", "escape.png", "outside the data root"]) {
            try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 1)
        }
        try write("img/inside.png 0\n", to: split)
        XCTAssertEqual(try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 1).decode(at: 0).width, 8)
        // A root that is itself a link is fine: containment is checked on resolved paths.
        let link = try temporaryFolder(self) + "/root-link"
        XCTAssertEqual(symlink(root, link), 0)
        try write("img/a.png 0\n", to: split)
        XCTAssertEqual(try ImageFileList.imageNetLT(root: link, splitFile: split, classCount: 1).count, 1)
    }

    func testImageFolderLinksLeavingTheRootAreRefused() throws {
        let (root, _, png) = try tree()
        let outside = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: outside + "/dog", withIntermediateDirectories: true)
        try Data(png).write(to: URL(fileURLWithPath: outside + "/dog/d.png"))
        let train = root + "/data/train"
        try FileManager.default.createDirectory(atPath: train + "/cat", withIntermediateDirectories: true)
        try Data(png).write(to: URL(fileURLWithPath: train + "/cat/c.png"))
        XCTAssertEqual(symlink(outside + "/dog/d.png", train + "/cat/linked.png"), 0)
        assertDatasetError(.outsideRoot, ["linked.png", "outside the data root"]) { try ImageFileList.imageFolder(root: train, dataRoot: root + "/data") }
        try FileManager.default.removeItem(atPath: train + "/cat/linked.png")
        XCTAssertEqual(symlink(outside + "/dog", train + "/dog"), 0)
        assertDatasetError(.outsideRoot, ["dog", "class folder", "outside the data root"]) { try ImageFileList.imageFolder(root: train, dataRoot: root + "/data") }
    }

    // MARK: Text and names

    func testCRLFSplitFileWithBOMIsRead() throws {
        let (root, split, _) = try tree()
        try Data([0xef, 0xbb, 0xbf] + Array("img/a.png 0\r\n\r\nimg/a.png 1\r\n".utf8)).write(to: URL(fileURLWithPath: split))
        let list = try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 2)
        XCTAssertEqual(list.labels, [0, 1])
        XCTAssertEqual(list.origins, [split + ":1", split + ":3"])
        XCTAssertEqual(list.paths, [root + "/img/a.png", root + "/img/a.png"])
        XCTAssertTrue(list.notes.contains { $0.contains("line 3 repeats line 1") }, "\(list.notes)")
        XCTAssertTrue(list.notes.contains { $0.contains("split.txt: 2 images in 2 of 2 classes (1–1 images per class)") }, "\(list.notes)")
        // A label with trailing CR and a path holding a space are read as written.
        try FileManager.default.copyItem(atPath: root + "/img/a.png", toPath: root + "/img/with space.png")
        try write("img/with space.png\t1\r\n", to: split)
        XCTAssertEqual(try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 2).paths, [root + "/img/with space.png"])
    }

    func testNamesThatAreNotUTF8AreKeptAsBytes() throws {
        let (root, split, png) = try tree()
        // root/train/c\xff/img\xe9.png, made with mkdir(2) and open(2) on raw bytes.
        let train = root + "/train"
        try FileManager.default.createDirectory(atPath: train + "/plain", withIntermediateDirectories: true)
        try Data(png).write(to: URL(fileURLWithPath: train + "/plain/p.png"))
        let classBytes = Array((train + "/c").utf8) + [0xff]
        let fileBytes = classBytes + Array("/img".utf8) + [0xe9] + Array(".png".utf8)
        XCTAssertEqual(cString(classBytes) { mkdir($0, 0o755) }, 0)
        let fd = cString(fileBytes) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(png.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, png.count)
        close(fd)

        let list = try ImageFileList.imageFolder(root: train)
        XCTAssertEqual(list.classCount, 2, "the class whose name is not UTF-8 is not dropped")
        XCTAssertEqual(list.count, 2)
        let raw = try XCTUnwrap(list.paths.first { POSIXName.hasRawBytes($0) })
        XCTAssertEqual(POSIXName.bytes(of: raw), fileBytes)
        XCTAssertEqual(try list.decode(at: list.paths.firstIndex(of: raw)!).height, 6)
        XCTAssertTrue(list.notes[0].contains("2 images in 2 classes") && list.notes[0].contains("c\\xff 1"), "\(list.notes)")

        // A split line naming that file by its bytes finds it; a missing one is named with \x escapes.
        try Data(Array("train/c".utf8) + [0xff] + Array("/img".utf8) + [0xe9] + Array(".png 0\ntrain/c".utf8) + [0xfe] + Array("/x.png 0\n".utf8))
            .write(to: URL(fileURLWithPath: split))
        assertDatasetError(.missingFile, [split + ":2", "train/c\\xfe/x.png", "does not exist"]) {
            try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 1)
        }
        try Data(Array("train/c".utf8) + [0xff] + Array("/img".utf8) + [0xe9] + Array(".png 0\n".utf8)).write(to: URL(fileURLWithPath: split))
        let fromSplit = try ImageFileList.imageNetLT(root: root, splitFile: split, classCount: 1)
        XCTAssertEqual(POSIXName.bytes(of: fromSplit.paths[0]), fileBytes)
        XCTAssertEqual(try fromSplit.decode(at: 0).width, 8)
        // The plan-time digest reads it too.
        _ = try SourceDigest.digest(files: fromSplit.paths, root: root, cacheFile: nil, images: [fromSplit.paths[0]: fromSplit.origins[0]])
    }

    func testEntriesNotReadAreReportedPerFolder() throws {
        let (root, _, png) = try tree()
        let train = root + "/train"
        for folder in ["cat", "dog", "empty", "cat/nested", ".hidden"] {
            try FileManager.default.createDirectory(atPath: train + "/" + folder, withIntermediateDirectories: true)
        }
        for file in ["cat/a.png", "cat/B.PNG", "dog/c.png", "cat/nested/deep.png", ".hidden/h.png"] {
            try Data(png).write(to: URL(fileURLWithPath: train + "/" + file))
        }
        for file in ["cat/notes.txt", "dog/d.webp", "stray.png"] { try write("x", to: train + "/" + file) }
        let list = try ImageFileList.imageFolder(root: train)
        XCTAssertEqual(list.classNames, ["cat", "dog", "empty"])
        let notes = list.notes.joined(separator: "\n")
        XCTAssertTrue(list.notes[0].contains("3 images in 3 classes (cat 2, dog 1, empty 0)"), notes)
        for fragment in ["1 entries are not class folders and are not read (stray.png)", "hidden folders are not classes and are not read (.hidden)",
                         "the class empty has no image", "1 files are not .jpg/.jpeg/.png and are not read (notes.txt)",
                         "(d.webp)", "nested folders are not read (nested)"] {
            XCTAssertTrue(notes.contains(fragment), "'\(fragment)' not in:\n\(notes)")
        }
        // The notes survive the per-class subset the stage takes.
        XCTAssertEqual(LoadedImages.files(list).subset([0]).notes, list.notes)
    }

    // MARK: Plan-time header checks

    func testPlanTimeDigestRefusesAnImageTooLargeNamingTheSplitLine() throws {
        let (root, split, _) = try tree()
        let huge = HostileFiles.png(width: 50_000, height: 50_000, idat: Gzip.deflate([0]))
        try Data(huge).write(to: URL(fileURLWithPath: root + "/img/huge.png"))
        try write("img/a.png 0\nimg/huge.png 0\n", to: split)
        let spec = DatasetSpec(kind: .imagenetLT, root: root, trainSplit: split, testSplit: split)
        let cache = root + "/digests.json"
        assertDatasetError(.tooLarge, ["huge.png", "50000×50000", "89478485", "listed at " + split + ":2"]) {
            try DatasetCatalog.sourceDigest(spec, cacheFile: cache)
        }
        // Once a file's digest is remembered, a lower limit still finds it too large.
        try write("img/a.png 0\n", to: split)
        _ = try DatasetCatalog.sourceDigest(spec, cacheFile: cache)
        assertDatasetError(.tooLarge, ["a.png", "8×6", "limit of 10", "listed at " + split + ":1"]) {
            try DatasetCatalog.sourceDigest(spec, cacheFile: cache, limits: ImageLimits(maxPixels: 10))
        }
        // A file that is no image at all is found at plan time too.
        try write("not an image", to: root + "/img/text.png")
        try write("img/text.png 0\n", to: split)
        assertDatasetError(.decodeFailed, ["text.png", "neither a JPEG nor a PNG", "listed at " + split + ":1"]) {
            try DatasetCatalog.sourceDigest(spec, cacheFile: nil)
        }
    }

    func testPOSIXNameRoundTripsEveryByte() {
        let samples: [[UInt8]] = [Array("plain/ascii.png".utf8), Array("café/ü.JPEG".utf8), [0xff, 0xfe, 0x2f, 0x80],
                                  [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x8f, 0xbf, 0xbf, 0x41], (0...255).map { UInt8($0) }.filter { $0 != 0 }]
        for bytes in samples {
            let name = POSIXName.string(bytes)
            XCTAssertEqual(POSIXName.bytes(of: name), bytes, "\(bytes)")
        }
        XCTAssertEqual(POSIXName.string(Array("café".utf8)), "café")
        XCTAssertEqual(POSIXName.display(POSIXName.string([0x61, 0xff])), "a\\xff")
    }

    private func cString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
