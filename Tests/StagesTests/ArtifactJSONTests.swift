import XCTest
import Foundation
import TestSupport
@testable import Stages

/// The artifact JSON files: what a user sees when one is missing or damaged (a hand-edited or
/// truncated cache entry), and that what is written reads back.
final class ArtifactJSONTests: XCTestCase {
    func testMissingAndDamagedMetadataNameTheFile() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent(EncoderArtifact.metadataFile)
        XCTAssertThrowsError(try EncoderArtifact.read(from: folder)) { error in
            XCTAssertEqual("\(error)", "\(url.path): the encoder artifact has no encoder.json")
        }
        try Data("{\"depth\": 32,".utf8).write(to: url)
        XCTAssertThrowsError(try EncoderArtifact.read(from: folder)) { error in
            XCTAssert("\(error)".hasPrefix("\(url.path): unreadable encoder metadata: "), "\(error)")
        }
        XCTAssertThrowsError(try ImbalanceStage.readClassCounts(from: folder)) { error in
            XCTAssert("\(error)".contains("the imbalance artifact has no \(ImbalanceStage.classCountsFile)"), "\(error)")
        }
    }

    func testWritesSortedPrettyJSONThatReadsBack() throws {
        struct Sample: Codable, Equatable { var zetaValue: Int; var alphaPath: String }
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("sample.json")
        let sample = Sample(zetaValue: 3, alphaPath: "a/b")
        try ArtifactJSON.write(sample, to: url)
        XCTAssertEqual(try ArtifactJSON.read(Sample.self, from: url, artifact: "test", contents: "sample"), sample)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertLessThan(try XCTUnwrap(text.range(of: "alphaPath")).lowerBound, try XCTUnwrap(text.range(of: "zetaValue")).lowerBound)
        XCTAssert(text.contains("a\\/b"), text)
        try ArtifactJSON.write(sample, to: url, escapingSlashes: false, snakeCaseKeys: true)
        let snake = try String(contentsOf: url, encoding: .utf8)
        XCTAssert(snake.contains("\"zeta_value\" : 3") && snake.contains("\"a/b\""), snake)
    }
}
