import Foundation
import XCTest

/// The command line as ArgumentParser reads it: help anywhere, completion scripts, one sentence
/// and exit status 2 for every mistake, the override forms, and messages that name their file.
final class CommandLineTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private let recipe = """
        name: cl
        stages:
          a: {kind: test_source, value: 2}
          b: {kind: test_source, value: 5}
          total: {kind: test_sum, inputs: [a, b]}
        """

    func testHelpWorksForEveryCommand() throws {
        let top = try cli.run(["--help"])
        XCTAssertEqual(top.status, 0, top.stderr)
        for command in ["plan", "cache", "schema", "sweep", "compare", "report", "embed", "sample-data"] {
            XCTAssertTrue(top.stdout.contains(command), "'\(command)' missing from the help: \(top.stdout)")
        }
        for arguments in [["plan", "--help"], ["cache", "gc", "--help"], ["embed", "-h"], ["help", "plan"], ["run", "--help"]] {
            let help = try cli.run(arguments)
            XCTAssertEqual(help.status, 0, "\(arguments): \(help.stderr)")
            XCTAssertTrue(help.stdout.contains("USAGE: sbcl-run"), "\(arguments): \(help.stdout)")
            XCTAssertEqual(help.stderr, "", "\(arguments)")
        }
        XCTAssertTrue(try cli.run(["plan", "--help"]).stdout.contains("--ranks"))
        XCTAssertTrue(try cli.run(["cache", "gc", "--help"]).stdout.contains("--older-than"))
    }

    func testCompletionScripts() throws {
        for (shell, marker) in [("bash", "complete"), ("zsh", "#compdef sbcl-run"), ("fish", "complete -c 'sbcl-run'")] {
            let script = try cli.run(["--generate-completion-script", shell])
            XCTAssertEqual(script.status, 0, "\(shell): \(script.stderr)")
            XCTAssertTrue(script.stdout.contains(marker), "\(shell): \(script.stdout.prefix(300))")
            XCTAssertTrue(script.stdout.contains("sample-data"), "\(shell) completes the subcommands")
        }
        XCTAssertEqual(try cli.run(["--generate-completion-script", "tcsh"]).status, 2)
    }

    /// Every mistake on the command line: exit status 2 and one sentence naming what is wrong.
    func testMistakesAreOneSentenceAndStatusTwo() throws {
        try cli.write("r.yaml", recipe)
        let cases: [([String], String)] = [
            (["r.yaml", "--threads", "0"], "error: --threads 0: expected a whole number from 1 to 1024"),
            (["r.yaml", "--threads", "many"], "error: --threads many: expected a whole number from 1 to 1024"),
            (["plan", "r.yaml", "--ranks", "0"], "error: --ranks 0: expected a whole number of ranks, at least 1"),
            (["r.yaml", "--device", "tpu"], "error: --device tpu: expected one of"),
            (["cache", "gc", "--older-than", "soon"], "error: --older-than soon: expected a number of days"),
            (["--bogus"], "error: unknown option '--bogus'"),
            (["r.yaml", "--threads"], "error: missing value for '--threads <n>'"),
            (["cache", "frobnicate"], "error: unexpected argument 'frobnicate'"),
            (["embed", "--weights", "w.safetensors"], "error: missing expected argument '--input <file>'"),
        ]
        for (arguments, message) in cases {
            let result = try cli.run(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 2, "one sentence and the hint: \(result.stderr)")
            XCTAssertTrue(result.stderr.hasSuffix("run 'sbcl-run --help' for usage\n"), result.stderr)
        }
    }

    /// `+KEY=VALUE` adds a key, `~KEY` removes one, `--` ends the options; all reach the recipe.
    func testOverrideFormsReachTheRecipe() throws {
        try cli.write("r.yaml", recipe)
        let added = try cli.run(["plan", "r.yaml", "+stages.c={kind: test_source, value: 1}", "~stages.total", "--json"])
        XCTAssertEqual(added.status, 0, added.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any])
        let names = (json["stages"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertEqual(Set(names), ["a", "b", "c"])
        let run = try cli.run(["-q", "r.yaml", "stages.b.value=6", "--", "stages.a.value=3"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("top1 9.0000"), run.stdout)
        let planned = try cli.run(["plan", "r.yaml", "--threads", "1", "--runs-dir", "elsewhere", "-q"])
        XCTAssertEqual(planned.status, 0, "a run's command line can be planned as it is: \(planned.stderr)")
        let explicit = try cli.run(["run", "r.yaml", "-q", "--json"])
        XCTAssertEqual(explicit.status, 0, explicit.stderr)
        XCTAssertTrue(explicit.stdout.contains("\"top1\": 7"), explicit.stdout)
    }

    /// Foundation's error codes never reach the user: a file that cannot be written is named, with the cause.
    func testFileErrorsNameTheFileAndTheCause() throws {
        let schema = try cli.run(["schema", "-o", "no/such/folder/schema.json"])
        XCTAssertEqual(schema.status, 1)
        XCTAssertTrue(schema.stderr.hasPrefix("error: cannot write no/such/folder/schema.json: "), schema.stderr)
        try cli.write("r.yaml", recipe)
        XCTAssertEqual(try cli.run(["r.yaml", "-q"]).status, 0)
        let folder = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cli.folder.appendingPathComponent("runs").path).first)
        let report = try cli.run(["report", "runs/\(folder)", "-o", "missing-folder/report.html"])
        XCTAssertEqual(report.status, 1)
        XCTAssertTrue(report.stderr.contains("missing-folder/report.html"), report.stderr)
        for result in [schema, report] {
            XCTAssertFalse(result.stderr.contains("Domain") || result.stderr.contains("error 512") || result.stderr.contains("Code=")
                           || result.stderr.contains("The operation could"), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
    }

    /// An unusable environment value ends the command with status 2 and names the variable.
    func testEnvironmentIsReadOnceAndChecked() throws {
        try cli.write("r.yaml", recipe)
        for (variable, value, message) in [("SBCL_KERNELS", "wide", "SBCL_KERNELS=wide is not a kernel set"),
                                           ("SBCL_CONV", "fft", "SBCL_CONV=fft is not a convolution algorithm"),
                                           ("SBCL_MEMORY_LIMIT", "lots", "SBCL_MEMORY_LIMIT=lots is not a size")] {
            let (process, out, err) = try cli.start(["plan", "r.yaml"], environment: [variable: value])
            process.waitUntilExit()
            let result = try cli.collect(process, out, err)
            XCTAssertEqual(result.status, 2, "\(variable): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
        }
    }

    /// With a cache folder, per-file source digests are remembered in it, never under the home folder.
    func testNothingIsWrittenUnderHome() throws {
        let fashion = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: fashion) else { throw XCTSkip("dataset-fashion-mnist is not installed") }
        let home = cli.folder.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let cache = cli.folder.appendingPathComponent("my-cache")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try cli.write("d.yaml", "name: d\nstages:\n  data: {kind: dataset, source: fashion_mnist, per_class_limit: 2}\n")
        let (process, out, err) = try cli.start(["plan", "d.yaml", "--cache-dir", cache.path],
                                                environment: ["HOME": home.path, "SBCL_CACHE_DIR": "", "XDG_CACHE_HOME": ""])
        process.waitUntilExit()
        let result = try cli.collect(process, out, err)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: home.path), [], "nothing under $HOME")
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.appendingPathComponent("source-digests.json").path),
                      "the digests are remembered in the cache folder")
        let (run, runOut, runErr) = try cli.start(["d.yaml", "--cache-dir", cache.path, "-q"],
                                                  environment: ["HOME": home.path, "SBCL_CACHE_DIR": "", "XDG_CACHE_HOME": ""])
        run.waitUntilExit()
        XCTAssertEqual(try cli.collect(run, runOut, runErr).status, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: home.path), [], "nothing under $HOME after a run")
    }
}
