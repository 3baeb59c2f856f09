import Foundation
import XCTest

/// `sbcl-run` records what each cache entry was computed with: the kernel set, the CPU
/// model and the thread count in every manifest it writes, shown by `cache ls`.
final class ProvenanceTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    func testRunRecordsKernelSetCPUAndThreadsInEveryManifest() throws {
        try cli.write("r.yaml", "name: p\nstages:\n  a: {kind: test_source, value: 2}\n  total: {kind: test_sum, inputs: [a]}\n")
        let run = try cli.run(["r.yaml", "--threads", "3", "-q"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let objects = cli.cacheDirectory.appendingPathComponent("objects")
        let hashes = try FileManager.default.contentsOfDirectory(atPath: objects.path)
        XCTAssertEqual(hashes.count, 2)
        for hash in hashes {
            let data = try Data(contentsOf: objects.appendingPathComponent("\(hash)/manifest.json"))
            let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            let environment = try XCTUnwrap(manifest["environment"] as? [String: String], "\(manifest)")
            XCTAssert(["portable", "avx2", "avx512"].contains(environment["kernel_set"] ?? ""), "\(environment)")
            XCTAssert(["auto", "direct", "winograd"].contains(environment["conv_algorithm"] ?? ""), "\(environment)")
            XCTAssertFalse((environment["cpu"] ?? "").isEmpty, "\(environment)")
            XCTAssertEqual(environment["threads"], "3")
            #if os(Linux)
            XCTAssertNotEqual(environment["cpu"], "unknown", "Linux names its CPU in /proc/cpuinfo")
            #endif
        }

        let listing = try cli.run(["cache", "ls", "--json"])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.compactMap { ($0["environment"] as? [String: String])?["threads"] }, ["3", "3"])
        let table = try cli.run(["cache", "ls"])
        XCTAssertTrue(table.stdout.contains("computed with"), table.stdout)
        XCTAssertTrue(table.stdout.contains("kernel_set="), table.stdout)
    }
}
