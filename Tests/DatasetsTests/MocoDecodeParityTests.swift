@testable import Datasets
import Foundation
import XCTest

/// Our decoders against Pillow's `Image.open(f).convert('RGB')` (Pillow 13.0 over its bundled
/// libjpeg-turbo) on the files of `scripts/fidelity/moco_augment_reference.py`: JPEG (baseline,
/// progressive, gray, Adobe CMYK) at full size and at DCT scales 1/2, 1/4, 1/8 (Pillow's
/// `draft`), PNG (RGB, gray, gray + alpha, palette, 16-bit, Adam7-interlaced).
///
/// Expected: every value equal for PNG (lossless) and for JPEG at every scale, both being
/// libjpeg-turbo's islow IDCT with fancy upsampling; the test allows 1/255 per value only in
/// case the system libjpeg-turbo's version differs from Pillow's bundled one, and prints the counts.
final class MocoDecodeParityTests: XCTestCase {
    func testDecodesMatchPillow() throws {
        let file = try MocoReference.ops.get()
        let decodes = try file.metadata("decodes", as: [MocoReference.Decode].self)
        XCTAssertGreaterThanOrEqual(decodes.count, 20)
        var all = Agreement()
        for d in decodes {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: MocoReference.path(d.file))))
            let ours = PNGDecoder.isPNG(bytes) ? try PNGDecoder.decode(bytes, path: d.file).rgb()
                : try JPEGDecoder.decode(bytes, path: d.file, scaleNumerator: d.scale).rgb()
            XCTAssertEqual([ours.height, ours.width, ours.channels], file.shape(d.output), "\(d.file) at \(d.scale)/8")
            guard [ours.height, ours.width, ours.channels] == file.shape(d.output) else { continue }
            var agreement = Agreement()
            agreement.add(ours.pixels, file.bytes(d.output))
            all.add(ours.pixels, file.bytes(d.output))
            XCTAssertLessThanOrEqual(agreement.maxDiff, 1, "\(d.file) at \(d.scale)/8: \(agreement)")
            print("decode parity \(d.file) at \(d.scale)/8: \(agreement)")
        }
        print("decode parity, all \(decodes.count) decodes: \(all)")
    }

    /// The header gives the full size without decoding, for JPEG and PNG, and agrees with the decode.
    func testHeaderSizeWithoutDecoding() throws {
        for name in ["photo_a.jpg", "photo_b_cmyk.jpg", "photo_b_gray.jpg", "photo_b.png", "patch_rgba16_interlaced.png"] {
            let path = MocoReference.path(name)
            let list = ImageFileList(paths: [path], labels: [0], classNames: ["a"], origins: ["test:1"])
            let size = try list.imageSize(at: 0)
            let image = try list.decode(at: 0)
            XCTAssertEqual([size.height, size.width], [image.height, image.width], name)
            XCTAssertEqual(image.channels, 3, name)
        }
        let size = try ImageFileList(paths: [MocoReference.path("photo_a.jpg")], labels: [0], classNames: ["a"], origins: ["t:1"]).imageSize(at: 0)
        XCTAssertEqual([size.height, size.width], [96, 128])
    }

    /// DCT scaling: each side becomes ceil(side · M / 8) for every M, not only Pillow's 1, 2, 4, 8.
    func testEveryScaleNumerator() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: MocoReference.path("photo_b.jpg"))))
        for m in 1...8 {
            let image = try JPEGDecoder.decode(bytes, path: "photo_b.jpg", scaleNumerator: m)
            XCTAssertEqual([image.height, image.width], [(72 * m + 7) / 8, (96 * m + 7) / 8], "scale \(m)/8")
        }
    }

    /// A truncated JPEG, a file that is neither format, and a missing file are typed errors that
    /// name the file, the cause and the line that listed it.
    func testCorruptFilesAreTypedErrors() throws {
        let truncated = MocoReference.path("truncated.jpg")
        let list = ImageFileList(paths: [truncated, Fixture.path("images/not_an_image.jpg"), "/nonexistent/x.jpg"],
                                 labels: [0, 0, 0], classNames: ["a"], origins: ["split.txt:3", "split.txt:4", "split.txt:5"])
        assertDatasetError(.decodeFailed, ["truncated.jpg", "JPEG", "split.txt:3"]) { try list.decode(at: 0) }
        assertDatasetError(.decodeFailed, ["not_an_image.jpg", "split.txt:4"]) { try list.decode(at: 1) }
        assertDatasetError(.missingFile, ["/nonexistent/x.jpg", "split.txt:5"]) { try list.decode(at: 2) }
        // A PNG cut inside its image data.
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: MocoReference.path("photo_b.png"))))
        assertDatasetError(.decodeFailed, ["cut.png", "PNG"]) { try PNGDecoder.decode(Array(png.prefix(png.count / 2)), path: "cut.png") }
    }

    /// Our JPEG and PNG writers round-trip through our decoders (PNG exactly, JPEG within JPEG loss).
    func testEncodersRoundTrip() throws {
        let file = try MocoReference.ops.get()
        XCTAssertEqual(try PNGDecoder.decode(PNGEncoder.encode(MocoReference.image(file, "photo_b")), path: "x.png"),
                       MocoReference.image(file, "photo_b"))
        let image = MocoReference.image(file, "photo_a")
        let jpeg = try JPEGDecoder.decode(JPEGDecoder.encode(image, quality: 95), path: "x.jpg")
        var agreement = Agreement()
        agreement.add(jpeg.pixels, image.pixels)
        XCTAssertLessThan(agreement.meanDiff, 2, "\(agreement)")
        let gray = DecodedImage(height: 5, width: 7, channels: 1, pixels: (0..<35).map { UInt8($0 * 7) })
        XCTAssertEqual(try PNGDecoder.decode(PNGEncoder.encode(gray), path: "g.png"), gray)
        XCTAssertEqual(try JPEGDecoder.decode(JPEGDecoder.encode(gray), path: "g.jpg").channels, 3)
    }
}
