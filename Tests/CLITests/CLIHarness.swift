import Foundation
import XCTest

/// The result of one `sbcl-run` invocation.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built `sbcl-run` in a temporary working folder.
final class CLIHarness {
    let folder: URL
    let cacheDirectory: URL
    let runLog: URL

    /// A harness working in `folder` (default: a fresh temporary folder).
    init(folder chosen: URL? = nil) throws {
        folder = chosen ?? FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-cli-\(UUID().uuidString)")
        cacheDirectory = folder.appendingPathComponent("cache")
        runLog = folder.appendingPathComponent("ran.txt")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// The `sbcl-run` next to the test bundle (same build configuration), else one under `.build`.
    static func binary(file: String = #filePath) throws -> URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sbcl-run")
        let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [beside] + ["debug", "release"].map { root.appendingPathComponent(".build/\($0)/sbcl-run") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw MissingBinary(message: "sbcl-run binary not found (looked at \(candidates.map(\.path))); build it with 'swift build' first")
        }
        return found
    }

    /// Writes a file into the working folder.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Starts `sbcl-run` with the test kinds enabled, the cache in the working folder, and output to files.
    func start(_ arguments: [String], testStages: Bool = true, tag: String = UUID().uuidString,
               environment extra: [String: String] = [:]) throws -> (Process, URL, URL) {
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments = arguments
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["SBCL_TEST_STAGES"] = testStages ? "1" : nil
        environment["SBCL_CACHE_DIR"] = cacheDirectory.path
        environment["SBCL_TEST_RUN_LOG"] = runLog.path
        environment["SBCL_TEST_HANG_AT_STEP"] = nil
        environment.merge(extra) { _, new in new }
        process.environment = environment
        return try launch(process, tag: tag)
    }

    /// The hash `plan RECIPE --json` gives the stage named `stage`.
    func stageHash(of stage: String, recipe: String) throws -> String {
        let plan = try run(["plan", recipe, "--json"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        return try XCTUnwrap(stages.first { $0["name"] as? String == stage }?["hash"] as? String)
    }

    /// Starts `process` with its standard output and error going to files named by `tag` in the
    /// working folder, and returns it with those files.
    func launch(_ process: Process, tag: String) throws -> (Process, URL, URL) {
        let out = folder.appendingPathComponent("stdout-\(tag).txt"), err = folder.appendingPathComponent("stderr-\(tag).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        return (process, out, err)
    }

    /// Runs `sbcl-run` to completion.
    func run(_ arguments: [String], testStages: Bool = true) throws -> CLIResult {
        let (process, out, err) = try start(arguments, testStages: testStages)
        process.waitUntilExit()
        return try collect(process, out, err)
    }

    func collect(_ process: Process, _ out: URL, _ err: URL) throws -> CLIResult {
        let result = CLIResult(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                               stderr: try String(contentsOf: err, encoding: .utf8))
        XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("Stack dump"), "trap: \(result.stderr)")
        return result
    }

    /// Lines of the shared "which stage actually ran" log.
    func ranLines() -> [String] {
        ((try? String(contentsOf: runLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// The CLI tests fail (not skip) when the binary is missing.
struct MissingBinary: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
