import Foundation
import XCTest
@testable import PipelineDSL

/// Checkpoints are verified like artifacts: a digest written with each, checked before resuming;
/// a damaged one is reported in one sentence and the previous one (or a start from scratch) is
/// used; links in the checkpoint folders are never followed; `cache verify` and `gc` see them.
final class CheckpointFileTests: XCTestCase {
    private var folder: TemporaryFolder!
    override func setUpWithError() throws { folder = try TemporaryFolder() }
    override func tearDown() { folder.remove() }

    /// Writes a checkpoint whose text holds `epoch` (as a metadata field would).
    private func writeCheckpoint(_ url: URL, epoch: Int) throws {
        try CheckpointFile.write(to: url) { partial in
            try Data("{\"metadata\":{\"epoch\":\"\(epoch)\"}}".utf8 + Data(repeating: UInt8(epoch), count: 1000)).write(to: partial)
        }
    }

    private func read(_ url: URL) throws -> String {
        String(decoding: try Data(contentsOf: url).prefix(30), as: UTF8.self)
    }

    func testAGoodCheckpointIsUsedAndThePreviousOneIsKept() throws {
        let url = folder.url.appendingPathComponent("c/ck.safetensors")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try writeCheckpoint(url, epoch: 1)
        try writeCheckpoint(url, epoch: 2)
        var notes: [String] = []
        XCTAssertEqual(CheckpointFile.resumable(url, log: { notes.append($0) }), url)
        XCTAssertEqual(notes, [])
        XCTAssertTrue(try read(url).contains("\"2\""))
        XCTAssertTrue(try read(CheckpointFile.previousURL(of: url)).contains("\"1\""))
        XCTAssertNil(CheckpointFile.problem(CheckpointFile.previousURL(of: url)))
        let names = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path).sorted()
        XCTAssertEqual(names, ["ck.safetensors", "ck.safetensors.previous", "ck.safetensors.previous.sha256", "ck.safetensors.sha256"],
                       "no temporary file is left")
    }

    func testATruncatedOrEditedCheckpointFallsBackToThePreviousOneSayingSo() throws {
        let url = folder.url.appendingPathComponent("ck.safetensors")
        for damage in ["truncate", "edit epoch", "no digest", "link"] {
            try? FileManager.default.removeItem(at: folder.url)
            try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
            try writeCheckpoint(url, epoch: 1)
            try writeCheckpoint(url, epoch: 2)
            switch damage {
            case "truncate":
                let handle = try FileHandle(forWritingTo: url)
                try handle.truncate(atOffset: 100)
                try handle.close()
            case "edit epoch":
                var bytes = try Data(contentsOf: url)
                let range = try XCTUnwrap(bytes.range(of: Data("\"2\"".utf8)))
                bytes.replaceSubrange(range, with: Data("\"9\"".utf8))
                try bytes.write(to: url)
            case "no digest":
                try FileManager.default.removeItem(at: CheckpointFile.digestURL(of: url))
            default:
                let outside = folder.url.appendingPathComponent("outside.bin")
                try FileManager.default.copyItem(at: url, to: outside)
                try FileManager.default.removeItem(at: url)
                try FileManager.default.createSymbolicLink(at: url, withDestinationURL: outside)
            }
            var notes: [String] = []
            let chosen = CheckpointFile.resumable(url, log: { notes.append($0) })
            XCTAssertEqual(chosen, CheckpointFile.previousURL(of: url), damage)
            XCTAssertEqual(notes.count, 1, damage)
            let note = notes.first ?? ""
            XCTAssertTrue(note.contains(url.path) && note.contains("resuming from the previous checkpoint"), "\(damage): \(note)")
            let expected = ["truncate": "truncated", "edit epoch": "does not match its digest", "no digest": "has no digest",
                            "link": "symbolic link"][damage]!
            XCTAssertTrue(note.contains(expected), "\(damage): \(note)")
            // The next checkpoint replaces the damaged one; the good previous one stays.
            try writeCheckpoint(url, epoch: 3)
            XCTAssertNil(CheckpointFile.problem(url), damage)
            XCTAssertTrue(try read(CheckpointFile.previousURL(of: url)).contains("\"1\""), damage)
        }
    }

    func testWithBothDamagedTheStageStartsFromScratchSayingSo() throws {
        let url = folder.url.appendingPathComponent("ck.safetensors")
        try writeCheckpoint(url, epoch: 1)
        try writeCheckpoint(url, epoch: 2)
        for file in [url, CheckpointFile.previousURL(of: url)] {
            let handle = try FileHandle(forWritingTo: file)
            try handle.truncate(atOffset: 10)
            try handle.close()
        }
        var notes: [String] = []
        XCTAssertNil(CheckpointFile.resumable(url, log: { notes.append($0) }))
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].hasSuffix("; starting from scratch"), notes[0])
        XCTAssertTrue(notes[0].contains("the previous one is 10 bytes"), notes[0])
        // Nothing at all: no sentence, scratch.
        notes = []
        XCTAssertNil(CheckpointFile.resumable(folder.url.appendingPathComponent("none.safetensors"), log: { notes.append($0) }))
        XCTAssertEqual(notes, [])
    }

    func testACheckpointFolderReplacedByALinkIsRemovedNotFollowed() throws {
        let outside = folder.url.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: outside.appendingPathComponent("keep.txt"))
        let cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
        let hash = String(repeating: "a", count: 64)
        let checkpoints = cache.checkpointDirectory(hash)
        try FileManager.default.createSymbolicLink(at: checkpoints, withDestinationURL: outside)

        // Writing through it is refused.
        XCTAssertThrowsError(try writeCheckpoint(checkpoints.appendingPathComponent("ck.safetensors"), epoch: 1)) { error in
            XCTAssertTrue("\(error)".contains("is a symbolic link"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), ["keep.txt"])
        // verify reports it; clearLinks (before a stage runs) removes the link only.
        XCTAssertEqual(cache.verifyCheckpoints().map(\.reason), ["checkpoint the folder is a symbolic link"])
        let notes = CheckpointFile.clearLinks(in: checkpoints)
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("was a symbolic link (to \(outside.path))"), notes[0])
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoints.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), ["keep.txt"], "the target is untouched")

        // A link inside a real checkpoint folder is removed too.
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: checkpoints.appendingPathComponent("history.jsonl"),
                                                   withDestinationURL: outside.appendingPathComponent("keep.txt"))
        XCTAssertEqual(CheckpointFile.clearLinks(in: checkpoints).count, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path), [])
        XCTAssertEqual(try String(contentsOf: outside.appendingPathComponent("keep.txt"), encoding: .utf8), "precious")
    }

    func testCacheVerifyReportsDamagedCheckpointsAndGCRemovesThoseWithNothingUsable() throws {
        let cache = try ArtifactCache(root: folder.url.appendingPathComponent("cache"))
        let good = String(repeating: "1", count: 64), halfGood = String(repeating: "2", count: 64)
        let bad = String(repeating: "3", count: 64), linked = String(repeating: "4", count: 64)
        for hash in [good, halfGood, bad] {
            try FileManager.default.createDirectory(at: cache.checkpointDirectory(hash), withIntermediateDirectories: true)
            let url = cache.checkpointDirectory(hash).appendingPathComponent("ck.safetensors")
            try writeCheckpoint(url, epoch: 1)
            try writeCheckpoint(url, epoch: 2)
        }
        // halfGood: the newest is truncated, the previous one is fine. bad: both are edited.
        let handle = try FileHandle(forWritingTo: cache.checkpointDirectory(halfGood).appendingPathComponent("ck.safetensors"))
        try handle.truncate(atOffset: 5)
        try handle.close()
        for name in ["ck.safetensors", "ck.safetensors.previous"] {
            let url = cache.checkpointDirectory(bad).appendingPathComponent(name)
            var bytes = try Data(contentsOf: url)
            bytes[bytes.count - 1] ^= 1
            try bytes.write(to: url)
        }
        let outside = folder.url.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: cache.checkpointDirectory(linked), withDestinationURL: outside)

        let problems = cache.verifyCheckpoints().map { "\($0.hash.prefix(1)) \($0.reason)" }
        XCTAssertEqual(problems, [
            "2 checkpoint ck.safetensors is 5 bytes, its digest says 1026 (truncated or damaged)",
            "3 checkpoint ck.safetensors does not match its digest (damaged or edited)",
            "3 checkpoint ck.safetensors.previous does not match its digest (damaged or edited)",
            "4 checkpoint the folder is a symbolic link",
        ])
        let report = try cache.collectGarbage()
        XCTAssertEqual(report.checkpoints, 2, "the folder with nothing usable and the link")
        let left = try FileManager.default.contentsOfDirectory(atPath: cache.root.appendingPathComponent("checkpoints").path).sorted()
        XCTAssertEqual(left, [good, halfGood])
        XCTAssertTrue(FileManager.default.fileExists(atPath: outside.path), "gc removes the link, not its target")
    }
}
