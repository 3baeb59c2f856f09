@testable import Datasets
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Broken and hostile data, generated at test time: headers that claim huge images, streams that
/// inflate without end, truncated and overflowing files. Each must be refused with a sentence that
/// names the file (and the limit), quickly, before anything large is allocated.
final class DecoderHostileInputTests: XCTestCase {
    // MARK: Decoders trust headers

    func testHugePNGHeaderIsRefusedBeforeAllocation() throws {
        let png = HostileFiles.png(width: 100_000, height: 100_000, idat: Gzip.deflate([0, 0, 0]))
        try assertWithin(seconds: 5) {
            assertDatasetError(.tooLarge, ["huge.png", "100000×100000", "89478485"]) { try PNGDecoder.decode(png, path: "huge.png") }
            assertDatasetError(.tooLarge, ["huge.png", "100000×100000", "89478485"]) { try PNGDecoder.header(png, path: "huge.png") }
        }
        // 0 × n is not an image either; 2³² − 1 on each side does not overflow the check.
        assertDatasetError(.decodeFailed, ["z.png", "0×5", "at least one pixel"]) { try PNGDecoder.decode(HostileFiles.png(width: 0, height: 5, idat: []), path: "z.png") }
        assertDatasetError(.tooLarge, ["4294967295×4294967295"]) {
            try PNGDecoder.decode(HostileFiles.png(width: 0xffff_ffff, height: 0xffff_ffff, idat: []), path: "max.png")
        }
    }

    func testHugeJPEGHeaderIsRefusedBeforeAllocation() throws {
        let jpeg = try HostileFiles.jpeg(width: 60000, height: 60000)
        try assertWithin(seconds: 5) {
            assertDatasetError(.tooLarge, ["huge.jpg", "60000×60000", "89478485"]) { try JPEGDecoder.decode(jpeg, path: "huge.jpg") }
            assertDatasetError(.tooLarge, ["huge.jpg", "60000×60000"]) { try JPEGDecoder.header(jpeg, path: "huge.jpg") }
            // Also at DCT scale 1/8, where the output would be small: the limit is on the file's size.
            assertDatasetError(.tooLarge, ["60000×60000"]) { try JPEGDecoder.decode(jpeg, path: "huge.jpg", scaleNumerator: 1) }
        }
    }

    /// The limit is a value the caller passes (executables read `SBCL_MAX_IMAGE_PIXELS`).
    func testPixelLimitIsConfigurable() throws {
        let image = DecodedImage(height: 16, width: 16, channels: 3, pixels: [UInt8](repeating: 7, count: 768))
        let png = PNGEncoder.encode(image), jpeg = try JPEGDecoder.encode(image)
        let small = ImageLimits(maxPixels: 255)
        assertDatasetError(.tooLarge, ["a.png", "16×16", "255"]) { try PNGDecoder.decode(png, path: "a.png", limits: small) }
        assertDatasetError(.tooLarge, ["a.jpg", "16×16", "255"]) { try JPEGDecoder.decode(jpeg, path: "a.jpg", limits: small) }
        XCTAssertEqual(try PNGDecoder.decode(png, path: "a.png", limits: ImageLimits(maxPixels: 256)).height, 16)
        XCTAssertEqual(try JPEGDecoder.decode(jpeg, path: "a.jpg", limits: ImageLimits(maxPixels: 256)).width, 16)
        XCTAssertEqual(try ImageLimits(environment: [ImageLimits.environmentVariable: "1000"]).maxPixels, 1000)
        XCTAssertEqual(try ImageLimits(environment: [:]).maxPixels, 89_478_485)
        assertDatasetError(.badParameter, ["SBCL_MAX_IMAGE_PIXELS=-3", "positive integer"]) {
            try ImageLimits(environment: [ImageLimits.environmentVariable: "-3"])
        }
    }

    func testInflateIsBoundedByTheLimit() throws {
        // 32 MiB of zeros deflate to ~32 KB: a small file that would inflate past a 1 MiB limit.
        let bomb = Gzip.deflate([UInt8](repeating: 0, count: 32 << 20))
        XCTAssertLessThan(bomb.count, 64 << 10)
        try assertWithin(seconds: 5) {
            assertDatasetError(.tooLarge, ["bomb.gz", "1048576"]) { try Gzip.inflate(bomb, path: "bomb.gz", maxOutput: 1 << 20) }
        }
        XCTAssertEqual(try Gzip.inflate(bomb, path: "b", maxOutput: 1 << 20, stopAtLimit: true).count, 1 << 20)
        // A PNG whose image data inflates far past what its 16×16 header needs: read only what it needs.
        let png = HostileFiles.png(width: 16, height: 16, colorType: 0, idat: bomb)
        let image = try PNGDecoder.decode(png, path: "bomb.png")
        XCTAssertEqual([image.height, image.width, image.pixels.count], [16, 16, 256])
    }

    func testGzippedIDXBombNamesTheFileAndLimit() throws {
        let dir = try temporaryFolder(self)
        let path = dir + "/train-images-idx3-ubyte.gz"
        var idx: [UInt8] = [0, 0, 8, 3, 0, 0, 0x10, 0, 0, 0, 0, 28, 0, 0, 0, 28]
        idx += [UInt8](repeating: 0, count: 4 << 20)
        try Data(Gzip.deflate(idx)).write(to: URL(fileURLWithPath: path))
        assertDatasetError(.tooLarge, [path, "1048576"]) { try IDXReader.read(path, limits: ImageLimits(maxFileBytes: 1 << 20)) }
        // The file itself over the limit is refused before it is read.
        assertDatasetError(.tooLarge, [path, "more than the limit of 100 bytes"]) { try IDXReader.read(path, limits: ImageLimits(maxFileBytes: 100)) }
    }

    /// Every prefix of a valid PNG, JPEG, IDX and pickle is refused with a sentence; none traps.
    func testTruncatedFilesAreRefusedAtEveryLength() throws {
        var pixels = [UInt8]()
        for k in 0..<(12 * 10 * 3) { pixels.append(UInt8(truncatingIfNeeded: k * 37)) }
        let image = DecodedImage(height: 12, width: 10, channels: 3, pixels: pixels)
        let png = PNGEncoder.encode(image), jpeg = try JPEGDecoder.encode(image)
        for n in 0..<png.count {
            XCTAssertThrowsError(try PNGDecoder.decode(Array(png.prefix(n)), path: "t.png"), "PNG cut at \(n)") { error in
                XCTAssertTrue("\(error)".hasPrefix("t.png: "), "\(error)")
            }
        }
        // libjpeg fills a cut scan with grey and warns; the warning is an error here.
        for n in stride(from: 0, to: jpeg.count - 2, by: 7) {
            XCTAssertThrowsError(try JPEGDecoder.decode(Array(jpeg.prefix(n)), path: "t.jpg"), "JPEG cut at \(n)")
        }
        let idx: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2] + [UInt8](repeating: 1, count: 8)
        for n in 0..<idx.count {
            XCTAssertThrowsError(try IDXReader.decode(Array(idx.prefix(n)), path: "t.idx"), "IDX cut at \(n)")
        }
        XCTAssertEqual(try IDXReader.decode(idx, path: "t.idx").dimensions, [2, 2, 2])
    }

    // MARK: Arithmetic on header fields

    func testOverflowingHeaderFieldsAreRefusedWithASentence() throws {
        // IDX: four dimensions of 2³² − 1 multiply past Int.max.
        let idx: [UInt8] = [0, 0, 8, 4] + [UInt8](repeating: 0xff, count: 16) + [1, 2, 3]
        assertDatasetError(.badFormat, ["big.idx", "overflow"]) { try IDXReader.decode(idx, path: "big.idx") }
        assertDatasetError(.badFormat, ["zero.idx", "zero dimension"]) {
            try IDXReader.decode([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28], path: "zero.idx")
        }
        // PNG: a chunk length of 2³² − 1.
        var png = HostileFiles.png(width: 4, height: 4, idat: Gzip.deflate([UInt8](repeating: 0, count: 20)))
        png.replaceSubrange(33..<37, with: [0xff, 0xff, 0xff, 0xff])
        assertDatasetError(.decodeFailed, ["len.png", "runs past the end"]) { try PNGDecoder.decode(png, path: "len.png") }
        // Pickle: BINBYTES8 announcing 2⁶³ − 1 bytes.
        let pickle: [UInt8] = [0x80, 0x04, 0x8e] + [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f] + [0x2e]
        assertDatasetError(.truncated, ["p.pkl"]) { try PickleReader.load(pickle, path: "p.pkl") }
        let bytes8: [UInt8] = [0x80, 0x04, 0x8e] + [UInt8](repeating: 0xff, count: 8) + [0x2e]
        assertDatasetError(.truncated, ["p.pkl"]) { try PickleReader.load(bytes8, path: "p.pkl") }
        // A numpy array pickled with a shape whose product overflows.
        let array = PickleValue.object(callable: .global(module: "numpy.core.multiarray", name: "_reconstruct"), arguments: [],
                                       state: .tuple([.int(1), .tuple([.int(Int.max / 2), .int(4)]),
                                                      .object(callable: .global(module: "numpy", name: "dtype"), arguments: [.string(Array("u1".utf8))], state: nil),
                                                      .bool(false), .string([1, 2, 3])]))
        assertDatasetError(.truncated, ["d.pkl"]) { try NumpyPickle.uint8Matrix(array, path: "d.pkl") }
        // A cached image set whose header claims 2⁶² images.
        let dir = try temporaryFolder(self)
        let header = Array(#"{"channels":3,"classNames":["a"],"count":4611686018427387904,"height":32,"width":32}"#.utf8)
        let archive = Array("SBCLIMG1".utf8) + (0..<4).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header
        try Data(archive).write(to: URL(fileURLWithPath: dir + "/set.bin"))
        assertDatasetError(.badFormat, ["set.bin", "overflow"]) { try ImageSet.read(from: dir + "/set.bin") }
    }

    func testProgressiveScanBombIsStopped() throws {
        // A progressive JPEG repeating one scan 1,200 times: each scan is a full pass over the image.
        let jpeg = try HostileFiles.progressiveJPEG(repeatingLastScan: 1200)
        try assertWithin(seconds: 10) {
            assertDatasetError(.decodeFailed, ["scan.jpg", "progressive scans"]) { try JPEGDecoder.decode(jpeg, path: "scan.jpg") }
        }
    }
}

/// Builders of broken files.
enum HostileFiles {
    /// A PNG with an IHDR of `width` × `height` (8-bit, `colorType` 2 = RGB), one IDAT and IEND.
    static func png(width: UInt32, height: UInt32, colorType: UInt8 = 2, idat: [UInt8]) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] { be(UInt32(body.count)) + Array(type.utf8) + body + [0, 0, 0, 0] }
        return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
            + chunk("IHDR", be(width) + be(height) + [8, colorType, 0, 0, 0]) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    /// A small baseline JPEG whose SOF0 header is rewritten to claim `width` × `height`.
    static func jpeg(width: Int, height: Int) throws -> [UInt8] {
        var bytes = try JPEGDecoder.encode(DecodedImage(height: 8, width: 8, channels: 3, pixels: [UInt8](repeating: 90, count: 192)))
        guard let sof = (0..<(bytes.count - 9)).first(where: { bytes[$0] == 0xff && bytes[$0 + 1] == 0xc0 }) else {
            throw DatasetError(.badFormat, path: "", "no SOF0 in the encoded JPEG")
        }
        bytes.replaceSubrange((sof + 5)..<(sof + 9), with: [UInt8(height >> 8), UInt8(height & 0xff), UInt8(width >> 8), UInt8(width & 0xff)])
        return bytes
    }

    /// A progressive JPEG of 64×64 whose DC scan is repeated `count` times after the first.
    static func progressiveJPEG(repeatingLastScan count: Int) throws -> [UInt8] {
        // A baseline gray JPEG's tables with SOF0 made SOF2, then DC-only first scans (Ss = Se = 0,
        // Ah = Al = 0) over zero entropy bytes, again and again: small, and slow without a limit.
        var bytes = try JPEGDecoder.encode(DecodedImage(height: 64, width: 64, channels: 1, pixels: [UInt8](repeating: 128, count: 4096)))
        guard let sof = (0..<(bytes.count - 1)).first(where: { bytes[$0] == 0xff && bytes[$0 + 1] == 0xc0 }),
              let sos = (0..<(bytes.count - 1)).first(where: { bytes[$0] == 0xff && bytes[$0 + 1] == 0xda }) else {
            throw DatasetError(.badFormat, path: "", "no SOF0/SOS in the encoded JPEG")
        }
        bytes[sof + 1] = 0xc2
        let header = Array(bytes[0..<sos])
        // One component, DC-only, first scan: FF DA, length 8, 1 component (id 1, tables 0/0), Ss 0, Se 0, AhAl 0.
        let scan: [UInt8] = [0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 0, 0x00] + [UInt8](repeating: 0, count: 16)
        var out = header
        for _ in 0...count { out += scan }
        return out + [0xff, 0xd9]
    }
}

/// Runs `body` on another thread and fails when it has not finished within `seconds` (a hang).
func assertWithin(seconds: Double, file: StaticString = #filePath, line: UInt = #line, _ body: @escaping () throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    final class Box: @unchecked Sendable { var error: Error? }  // written before the signal, read after the wait
    let box = Box()
    Thread.detachNewThread {
        do { try body() } catch { box.error = error }
        done.signal()
    }
    guard done.wait(timeout: .now() + seconds) == .success else {
        XCTFail("still running after \(seconds) s: a hang", file: file, line: line)
        return
    }
    if let error = box.error { throw error }
}
