import Foundation
import XCTest

/// Threads do not change results: the smoke recipe (real Fashion-MNIST, both stages,
/// evaluation) run with `--threads 1` and `--threads 2` into two caches gives byte-identical
/// artifacts — every file of every entry, except the manifests and the epoch histories, which
/// record timings and the thread count.
final class ThreadDeterminismTests: XCTestCase {
    func testOneAndTwoThreadsGiveByteIdenticalArtifacts() throws {
        let recipe = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes/smoke.yaml").path
        var digests: [[String: Data]] = []
        for threads in [1, 2] {
            let cli = try CLIHarness()
            defer { cli.remove() }
            let run = try cli.run([recipe, "--threads", String(threads), "-q"], testStages: false)
            XCTAssertEqual(run.status, 0, run.stderr)
            var files: [String: Data] = [:]
            let objects = cli.cacheDirectory.appendingPathComponent("objects")
            for hash in try FileManager.default.contentsOfDirectory(atPath: objects.path) {
                let folder = objects.appendingPathComponent("\(hash)/files")
                for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name != "history.jsonl" {
                    files["\(hash)/\(name)"] = try Data(contentsOf: folder.appendingPathComponent(name))
                }
            }
            XCTAssert(files.keys.contains { $0.hasSuffix("encoder.safetensors") }, "\(files.keys.sorted())")
            XCTAssert(files.keys.contains { $0.hasSuffix("classifier.safetensors") }, "\(files.keys.sorted())")
            digests.append(files)
        }
        XCTAssertEqual(digests[0].keys.sorted(), digests[1].keys.sorted(), "the same entries under the same hashes")
        for key in digests[0].keys.sorted() {
            XCTAssert(digests[0][key] == digests[1][key], "\(key) differs between --threads 1 and --threads 2")
        }
    }
}
